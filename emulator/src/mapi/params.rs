//! Request parameters: a query string, a JSON or form-encoded body, and typed reads of them.

use serde_json::{Map, Value};

use super::error;
use crate::http::{Request, Response};
use crate::route::percent_decode;

/// The sign parameters: the query string's, overlaid with the body's (form-encoded or a JSON
/// object).
pub(crate) fn params(request: &Request) -> Result<Map<String, Value>, Response> {
    let mut params = query(request);
    let form = request
        .header("content-type")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded");
    if form && !blank(&request.body) {
        params.extend(form_urlencoded(&String::from_utf8_lossy(&request.body)));
    } else {
        params.extend(body_object(request)?);
    }
    Ok(params)
}

/// The query string's parameters, percent-decoded (later duplicates win).
pub(crate) fn query(request: &Request) -> Map<String, Value> {
    request
        .target
        .split_once('?')
        .map(|(_, query)| form_urlencoded(query).into_iter().collect())
        .unwrap_or_default()
}

/// A query parameter as text, trimmed.
pub(crate) fn query_text<'a>(query: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    query.get(name).and_then(Value::as_str).map(str::trim)
}

/// The body's object, unwrapped from `{"<wrapper>": {...}}` when it comes that way (a bare
/// object is accepted too). An empty body is an empty object.
pub(crate) fn wrapped_body(
    request: &Request,
    wrapper: &str,
) -> Result<Map<String, Value>, Response> {
    let mut body = body_object(request)?;
    match body.remove(wrapper) {
        Some(Value::Object(inner)) => Ok(inner),
        Some(_) => Err(error(422, &format!("{wrapper} must be an object"))),
        None => Ok(body),
    }
}

/// The body as a JSON object; an empty (or blank) body is an empty object, anything else a
/// 400.
fn body_object(request: &Request) -> Result<Map<String, Value>, Response> {
    if blank(&request.body) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&request.body) {
        Ok(Value::Object(body)) => Ok(body),
        _ => Err(error(400, "The request body is not a valid JSON object")),
    }
}

fn blank(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
}

/// A positive number from the query, such as `page`: `None` when absent, not a number or 0.
pub(crate) fn query_number(params: &Map<String, Value>, name: &str) -> Option<u64> {
    match params.get(name)? {
        Value::String(s) => s.trim().parse().ok().filter(|n| *n > 0),
        Value::Number(n) => n.as_u64().filter(|n| *n > 0),
        _ => None,
    }
}

/// The page a paginated list shows: (items to skip, items to show, `per_page`). `page` counts
/// from 1; `per_page` is 25 unless asked, and at most 100.
pub(crate) fn page_window(query: &Map<String, Value>) -> (usize, usize, u64) {
    let per_page = query_number(query, "per_page").unwrap_or(25).min(100);
    let page = query_number(query, "page").unwrap_or(1);
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    (skip, usize::try_from(per_page).unwrap_or(100), per_page)
}

/// Adds the `Total` and `Per-Page` headers of a paginated list.
pub(crate) fn paginated(mut response: Response, total: usize, per_page: u64) -> Response {
    response.headers.push(("Total".into(), total.to_string()));
    response
        .headers
        .push(("Per-Page".into(), per_page.to_string()));
    response
}

/// A list of ids: a JSON array of numbers or strings of digits, or a comma-separated string
/// (`"1,2"`); null or `""` is the empty list. `Err` for anything else.
pub(crate) fn param_ids(params: &Map<String, Value>, name: &str) -> Option<Result<Vec<u64>, ()>> {
    let one = |value: &Value| match value {
        Value::Number(n) => n.as_u64().ok_or(()),
        Value::String(s) => s.trim().parse().map_err(|_| ()),
        _ => Err(()),
    };
    Some(match params.get(name)? {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items.iter().map(one).collect(),
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::String(s) => s
            .split(',')
            .map(|p| p.trim().parse().map_err(|_| ()))
            .collect(),
        Value::Number(_) => one(&params[name]).map(|id| vec![id]),
        _ => Err(()),
    })
}

/// `a=1&b=x+y` as string values (percent-decoded, `+` as space). Bracketed names such as
/// `meta_data[k]` are kept verbatim.
pub(crate) fn form_urlencoded(query: &str) -> Vec<(String, Value)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(name, true),
                Value::String(percent_decode(value, true)),
            )
        })
        .collect()
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
    fn bodies_overlay_the_query() {
        let request = |content_type: &str, body: &str| Request {
            target: "/x?filename=q.png&size=1x2&filename=r.png".into(),
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
            too_large: false,
        };
        let json = params(&request("application/json", r#"{"filename":"b.png"}"#)).expect("json");
        assert_eq!(
            (&json["filename"], &json["size"]),
            (&"b.png".into(), &"1x2".into())
        );
        let form = "application/x-www-form-urlencoded";
        let sent = params(&request(form, "filename=f+x.png")).expect("form");
        assert_eq!(sent["filename"], "f x.png");
        let blank = params(&request(form, " \n")).expect("blank");
        assert_eq!((blank.len(), &blank["filename"]), (2, &"r.png".into()));
        let status = |r: Result<Map<String, Value>, Response>| r.err().map(|r| r.status);
        assert_eq!(
            status(params(&request("application/json", "[1]"))),
            Some(400)
        );
        let wrapped = request("application/json", r#"{"tag":{"name":"a"},"x":1}"#);
        assert_eq!(wrapped_body(&wrapped, "tag").expect("object")["name"], "a");
        assert_eq!(wrapped_body(&wrapped, "asset").expect("bare").len(), 2);
        assert_eq!(
            status(wrapped_body(&request("", "{\"x\":1}"), "x")),
            Some(422)
        );
        assert!(
            wrapped_body(&request("", " "), "x")
                .expect("blank")
                .is_empty()
        );
        let query = query(&request("", ""));
        assert_eq!(query_text(&query, "size"), Some("1x2"));
        assert_eq!(query_text(&query, "none"), None);
    }

    #[test]
    fn id_lists() {
        let params: Map<String, Value> = serde_json::from_str(
            r#"{"a":[1,"2"],"b":"3, 4","c":null,"d":"","e":5,"f":[1.5],"g":{},"h":"x"}"#,
        )
        .expect("json");
        assert_eq!(param_ids(&params, "a"), Some(Ok(vec![1, 2])));
        assert_eq!(param_ids(&params, "b"), Some(Ok(vec![3, 4])));
        assert_eq!(param_ids(&params, "c"), Some(Ok(vec![])));
        assert_eq!(param_ids(&params, "d"), Some(Ok(vec![])));
        assert_eq!(param_ids(&params, "e"), Some(Ok(vec![5])));
        assert_eq!(param_ids(&params, "f"), Some(Err(())));
        assert_eq!(param_ids(&params, "g"), Some(Err(())));
        assert_eq!(param_ids(&params, "h"), Some(Err(())));
        assert_eq!(param_ids(&params, "absent"), None);
    }

    #[test]
    fn pages() {
        let q = |json: &str| -> Map<String, Value> { serde_json::from_str(json).expect("json") };
        assert_eq!(page_window(&q("{}")), (0, 25, 25));
        assert_eq!(
            page_window(&q(r#"{"page":"3","per_page":"10"}"#)),
            (20, 10, 10)
        );
        assert_eq!(page_window(&q(r#"{"per_page":"500"}"#)), (0, 100, 100));
        assert_eq!(
            page_window(&q(r#"{"page":"0","per_page":"0"}"#)),
            (0, 25, 25)
        );
        let far = page_window(&q(r#"{"page":"18446744073709551615","per_page":"100"}"#));
        assert_eq!(far.0, usize::MAX);
    }

    #[test]
    fn numbers_from_the_query() {
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"a":"3","b":"0","c":"x","d":7,"e":"-1"}"#).expect("json");
        assert_eq!(query_number(&params, "a"), Some(3));
        assert_eq!(query_number(&params, "b"), None);
        assert_eq!(query_number(&params, "c"), None);
        assert_eq!(query_number(&params, "d"), Some(7));
        assert_eq!(query_number(&params, "e"), None);
        assert_eq!(query_number(&params, "f"), None);
    }

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
    }
}
