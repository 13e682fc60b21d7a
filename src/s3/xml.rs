//! S3's XML error documents.
//!
//! S3 answers a refused POST with
//! `<Error><Code>…</Code><Message>…</Message><RequestId>…</RequestId><HostId>…</HostId></Error>`.
//! Only these leaf elements are read, so a small scanner does; anything that is not such a
//! document (an HTML page from a proxy, an empty body) keeps its raw text instead.

/// The parts of an S3 error document the SDK reports.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct S3ErrorBody {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
    pub(crate) request_id: Option<String>,
}

/// Reads the S3 error elements out of `body`; absent ones are `None`.
pub(crate) fn parse_error(body: &str) -> S3ErrorBody {
    S3ErrorBody {
        code: element(body, "Code"),
        message: element(body, "Message"),
        request_id: element(body, "RequestId"),
    }
}

/// The unescaped, trimmed text of the first `<name>…</name>` in `xml`.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let text = unescape(xml[start..end].trim());
    (!text.is_empty()).then_some(text)
}

/// Replaces XML's five named entities and numeric character references; leaves anything
/// it does not recognise as it is.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 12).and_then(|end| {
            let entity = &rest[1..end];
            let ch = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32),
            };
            ch.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_an_aws_error_document() {
        let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
            <Message>Invalid according to Policy: Policy expired.</Message>\
            <RequestId>4442587FB7D0A2F9</RequestId><HostId>abc=</HostId></Error>";
        assert_eq!(
            parse_error(body),
            S3ErrorBody {
                code: Some("AccessDenied".into()),
                message: Some("Invalid according to Policy: Policy expired.".into()),
                request_id: Some("4442587FB7D0A2F9".into()),
            }
        );
    }

    #[test]
    fn unescapes_entities() {
        let body = "<Error><Code>AccessDenied</Code><Message>Policy Condition failed: \
            [&quot;eq&quot;, &quot;$key&quot;, &quot;a&amp;b&#x27;&#39;&lt;&gt;&quot;]</Message></Error>";
        assert_eq!(
            parse_error(body).message.as_deref(),
            Some("Policy Condition failed: [\"eq\", \"$key\", \"a&b''<>\"]")
        );
        assert_eq!(
            unescape("a & b &bogus; &#xFFFFFFFF; &"),
            "a & b &bogus; &#xFFFFFFFF; &"
        );
    }

    #[test]
    fn tolerates_non_xml() {
        assert_eq!(parse_error(""), S3ErrorBody::default());
        assert_eq!(
            parse_error("<html><body>Bad Gateway</body></html>"),
            S3ErrorBody::default()
        );
        assert_eq!(parse_error("<Error><Code>Oops"), S3ErrorBody::default());
        assert_eq!(parse_error("<Code></Code>").code, None);
    }
}
