//! Request parameters: a query string, a JSON or form-encoded body, and typed reads of them.

use serde_json::{Map, Value};

use super::error;
use crate::http::{Request, Response};

/// The sign parameters: the query string's, overlaid with the body's.
pub(crate) fn params(request: &Request) -> Result<Map<String, Value>, Response> {
    let mut params = Map::new();
    if let Some((_, query)) = request.target.split_once('?') {
        params.extend(form_urlencoded(query));
    }
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(params);
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        params.extend(form_urlencoded(&String::from_utf8_lossy(&request.body)));
        return Ok(params);
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => {
            params.extend(body);
            Ok(params)
        }
        _ => Err(error(400, "The request body is not a valid JSON object")),
    }
}

/// `a=1&b=x+y` as string values (percent-decoded, `+` as space). Bracketed names such as
/// `meta_data[k]` are kept verbatim.
pub(crate) fn form_urlencoded(query: &str) -> Vec<(String, Value)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), Value::String(percent_decode(value)))
        })
        .collect()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An optional id: absent, null or `""` is `None`; a number or a string of digits is the id;
/// anything else is an error.
pub(crate) fn param_id(params: &Map<String, Value>, name: &str) -> Result<Option<u64>, ()> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| ()),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(()),
        Some(_) => Err(()),
    }
}

/// An optional boolean: `true`/`false`, `1`/`0`, as JSON or as a string.
pub(crate) fn param_bool(params: &Map<String, Value>, name: &str) -> Option<bool> {
    match params.get(name)? {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_f64().is_some_and(|n| n != 0.0)),
        Value::String(s) => Some(matches!(s.trim(), "1" | "true" | "TRUE" | "True")),
        Value::Null => Some(false),
        _ => None,
    }
}

/// An optional text: `Some(None)` when sent as null (which clears it on replace).
pub(crate) fn param_text(params: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    match params.get(name)? {
        Value::Null => Some(None),
        Value::String(s) => Some(Some(s.clone())),
        other => Some(Some(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params() {
        let params = form_urlencoded("filename=My+File%2Epng&size=10x20&empty=&flag");
        assert_eq!(
            params,
            [
                ("filename".to_string(), Value::from("My File.png")),
                ("size".to_string(), Value::from("10x20")),
                ("empty".to_string(), Value::from("")),
                ("flag".to_string(), Value::from("")),
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }
}
