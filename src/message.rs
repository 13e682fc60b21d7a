//! A server's own words from an error body: Storyblok's JSON error shapes flattened to one
//! line, anything else kept as text, and either shortened for `Display`.

use serde_json::Value;

/// The most characters of a server's words an error's message keeps; the whole body stays
/// in the error ([`Error::body`](crate::Error::body)).
pub(crate) const MESSAGE_LIMIT: usize = 500;

/// Storyblok's own words from an error body, whatever its shape (the shapes its
/// Management API and official clients are seen to give):
/// `{"error": "…"}`, `{"error": ["…"]}`, `{"error": {"field": ["…"]}}`,
/// `{"errors": {"field": ["…"]}}`, `{"field": ["…"]}`, `["…"]`. Anything else gives the
/// raw text, or the status's reason phrase for an empty body. Either is shortened to
/// [`MESSAGE_LIMIT`] characters.
pub(crate) fn message(status: u16, body: &str) -> String {
    let from_json = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|value| match value {
            Value::Object(mut map) => match map.remove("error").or_else(|| map.remove("errors")) {
                Some(inner) => describe(&inner, None),
                None => describe(&Value::Object(map), None),
            },
            other => describe(&other, None),
        })
        .filter(|m| !m.trim().is_empty());
    if let Some(message) = from_json {
        return shorten(&message, MESSAGE_LIMIT);
    }
    let text = body.trim();
    if text.is_empty() {
        return reason(status).to_owned();
    }
    shorten(text, MESSAGE_LIMIT)
}

/// Flattens a JSON error value to one line: strings as they are, arrays joined with `; `,
/// objects as `field message` (`base` messages stand alone).
fn describe(value: &Value, field: Option<&str>) -> Option<String> {
    let prefixed = |text: &str| match field {
        Some(field) if field != "base" && field != "error" => format!("{field} {text}"),
        _ => text.to_owned(),
    };
    match value {
        Value::String(s) => Some(prefixed(s)),
        Value::Number(n) => Some(prefixed(&n.to_string())),
        Value::Bool(b) => Some(prefixed(&b.to_string())),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(|v| describe(v, field)).collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .filter_map(|(key, v)| describe(v, Some(key)))
                .collect();
            (!parts.is_empty()).then(|| parts.join("; "))
        }
        Value::Null => None,
    }
}

/// `text` cut to at most `max` characters, marked when cut.
pub(crate) fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// The status's reason phrase, such as `Unauthorized`.
fn reason(status: u16) -> &'static str {
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .unwrap_or("no message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_shape() {
        let cases = [
            (r#"{"error":"Unauthorized"}"#, "Unauthorized"),
            (
                r#"{"error":"Rate limit of 6 request per second has been reached. Retry later."}"#,
                "Rate limit of 6 request per second has been reached. Retry later.",
            ),
            (
                r#"["This record could not be found"]"#,
                "This record could not be found",
            ),
            (r#"{"error":["a","b"]}"#, "a; b"),
            (
                r#"{"error":{"base":["This asset folder is not valid"]}}"#,
                "This asset folder is not valid",
            ),
            (
                r#"{"errors":{"filename":["can't be blank"]}}"#,
                "filename can't be blank",
            ),
            (
                r#"{"filename":["can't be blank"],"size":["is invalid"]}"#,
                "filename can't be blank; size is invalid",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(message(422, body), expected, "{body}");
        }
    }

    #[test]
    fn falls_back_to_text_or_reason() {
        assert_eq!(
            message(502, "<html>Bad gateway</html>"),
            "<html>Bad gateway</html>"
        );
        assert_eq!(message(401, ""), "Unauthorized");
        assert_eq!(message(418, "  "), "I'm a teapot");
        assert_eq!(message(599, ""), "no message");
        assert_eq!(message(500, "{}"), "{}");
        assert_eq!(message(500, r#"{"error":null}"#), r#"{"error":null}"#);
        let long = "x".repeat(600);
        assert_eq!(message(500, &long).chars().count(), 501);
    }

    #[test]
    fn messages_from_json_are_shortened_too() {
        let said = "é".repeat(100_000);
        let shortened = message(422, &format!(r#"{{"error":{{"filename":["{said}"]}}}}"#));
        assert!(shortened.starts_with("filename éé"), "{shortened}");
        assert!(shortened.ends_with('…'));
        assert_eq!(shortened.chars().count(), MESSAGE_LIMIT + 1);
    }
}
