//! A strict `multipart/form-data` parser (RFC 7578 over RFC 2046 framing), for the S3 POST.
//!
//! The whole body is in memory. Parts keep their order and point into the body instead of
//! copying it: each knows the byte range of its content, so the S3 handler can measure the
//! bytes that precede the file and keep the file's bytes without a copy.

/// One part of a parsed form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Part {
    /// The `name` parameter of `Content-Disposition`.
    pub(crate) name: String,
    /// The `filename` parameter, when present.
    pub(crate) filename: Option<String>,
    /// The part's own `Content-Type` header, when present.
    pub(crate) content_type: Option<String>,
    /// Where the content lies within the body.
    pub(crate) range: std::ops::Range<usize>,
}

impl Part {
    /// The content, out of the body the part was parsed from.
    pub(crate) fn value<'a>(&self, body: &'a [u8]) -> &'a [u8] {
        body.get(self.range.clone()).unwrap_or_default()
    }
}

/// Why a body is not well-formed multipart (the S3 handler answers them all alike).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The body does not start with the boundary delimiter.
    NoOpeningDelimiter,
    /// A delimiter is followed by neither CRLF nor `--`.
    BadDelimiterLine,
    /// A part's header block never ends.
    UnterminatedHeaders,
    /// A header line has no colon or is not UTF-8.
    BadHeader,
    /// A part lacks `Content-Disposition: form-data; name=".."`.
    NoName,
    /// The closing delimiter (`--boundary--`) is missing.
    NoClosingDelimiter,
}

/// The boundary of a `multipart/form-data` media type, or `None` for any other media type or
/// a missing / invalid boundary (RFC 2046: 1 to 70 characters).
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut pieces = split_params(content_type);
    let media = pieces.next()?;
    if !media.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    for piece in pieces {
        let (name, value) = piece.split_once('=')?;
        if name.trim().eq_ignore_ascii_case("boundary") {
            let value = unquote(value.trim());
            if value.is_empty() || value.len() > 70 {
                return None;
            }
            return Some(value);
        }
    }
    None
}

/// Parses `body` framed by `boundary`. A preamble before the first delimiter and an epilogue
/// after the closing one are ignored, as RFC 2046 says; everything else must be well-formed.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Result<Vec<Part>, Malformed> {
    let dash_boundary = format!("--{boundary}");
    let delimiter = format!("\r\n--{boundary}");
    // The first delimiter: at the very start, or after a preamble ending in CRLF.
    let mut pos = if body.starts_with(dash_boundary.as_bytes()) {
        dash_boundary.len()
    } else {
        find(body, delimiter.as_bytes(), 0).ok_or(Malformed::NoOpeningDelimiter)? + delimiter.len()
    };
    let mut parts = Vec::new();
    loop {
        // After a delimiter: `--` closes the body, otherwise optional whitespace then CRLF.
        if body[pos..].starts_with(b"--") {
            return Ok(parts);
        }
        while matches!(body.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(if pos >= body.len() {
                Malformed::NoClosingDelimiter
            } else {
                Malformed::BadDelimiterLine
            });
        }
        pos += 2;
        let (headers, content_start) = if body[pos..].starts_with(b"\r\n") {
            (&body[pos..pos], pos + 2) // a part with no headers at all
        } else {
            let end = find(body, b"\r\n\r\n", pos).ok_or(Malformed::UnterminatedHeaders)?;
            (&body[pos..end], end + 4)
        };
        let mut part = part_headers(headers)?;
        let content_end =
            find(body, delimiter.as_bytes(), content_start).ok_or(Malformed::NoClosingDelimiter)?;
        part.range = content_start..content_end;
        parts.push(part);
        pos = content_end + delimiter.len();
    }
}

/// Reads a part's header block (without the final blank line).
fn part_headers(block: &[u8]) -> Result<Part, Malformed> {
    let text = std::str::from_utf8(block).map_err(|_| Malformed::BadHeader)?;
    let mut name = None;
    let mut filename = None;
    let mut content_type = None;
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        let (header, value) = line.split_once(':').ok_or(Malformed::BadHeader)?;
        let header = header.trim();
        if header.eq_ignore_ascii_case("content-disposition") {
            let mut pieces = split_params(value);
            let kind = pieces.next().unwrap_or_default();
            if !kind.trim().eq_ignore_ascii_case("form-data") {
                return Err(Malformed::NoName);
            }
            for piece in pieces {
                let Some((key, v)) = piece.split_once('=') else {
                    continue;
                };
                match key.trim().to_ascii_lowercase().as_str() {
                    "name" => name = Some(unquote(v.trim())),
                    "filename" => filename = Some(unquote(v.trim())),
                    _ => {}
                }
            }
        } else if header.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_string());
        }
    }
    Ok(Part {
        name: name.ok_or(Malformed::NoName)?,
        filename,
        content_type,
        range: 0..0,
    })
}

/// Splits a header value at the `;` that are not inside a quoted string.
fn split_params(value: &str) -> impl Iterator<Item = &str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                pieces.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    pieces.push(&value[start..]);
    pieces.into_iter().filter(|p| !p.trim().is_empty())
}

/// Removes surrounding double quotes and backslash escapes; a bare token is returned as is.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The first index at or after `from` where `needle` occurs in `hay`.
pub(crate) fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let first = *needle.first()?;
    let last_start = hay.len().checked_sub(needle.len())?;
    let mut i = from;
    while i <= last_start {
        let offset = hay[i..=last_start].iter().position(|&b| b == first)?;
        i += offset;
        if &hay[i..i + needle.len()] == needle {
            return Some(i);
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(parts: &[(&str, Option<&str>, &[u8])], boundary: &str) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, filename, value) in parts {
            out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
            match filename {
                Some(f) => out.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                         Content-Type: image/png\r\n\r\n"
                    )
                    .as_bytes(),
                ),
                None => out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                ),
            }
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
        out
    }

    #[test]
    fn boundary_from_content_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=abc").as_deref(),
            Some("abc")
        );
        assert_eq!(
            boundary("Multipart/Form-Data;BOUNDARY=\"a b;c\"").as_deref(),
            Some("a b;c")
        );
        assert_eq!(boundary("multipart/form-data"), None);
        assert_eq!(boundary("multipart/form-data; boundary="), None);
        assert_eq!(boundary("multipart/mixed; boundary=abc"), None);
        assert_eq!(boundary("application/json"), None);
        let long = "x".repeat(71);
        assert_eq!(
            boundary(&format!("multipart/form-data; boundary={long}")),
            None
        );
    }

    #[test]
    fn parses_fields_and_file_in_order() {
        let b = body(
            &[
                ("key", None, b"f/1/a.png"),
                ("file", Some("a.png"), b"\x89PNG\r\n--not-a-boundary\r\n"),
            ],
            "XyZ",
        );
        let parts = parse(&b, "XyZ").expect("well-formed");
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].name, "key");
        assert_eq!(parts[0].value(&b), b"f/1/a.png");
        assert_eq!(parts[0].filename, None);
        assert_eq!(parts[1].name, "file");
        assert_eq!(parts[1].filename.as_deref(), Some("a.png"));
        assert_eq!(parts[1].content_type.as_deref(), Some("image/png"));
        assert_eq!(parts[1].value(&b), b"\x89PNG\r\n--not-a-boundary\r\n");
        assert_eq!(
            &b[parts[1].range.start..parts[1].range.start + 4],
            b"\x89PNG"
        );
    }

    #[test]
    fn empty_values_and_empty_file() {
        let b = body(&[("a", None, b""), ("file", Some("e"), b"")], "b");
        let parts = parse(&b, "b").expect("well-formed");
        assert_eq!(parts[0].value(&b), b"");
        assert_eq!(parts[1].value(&b), b"");
    }

    #[test]
    fn preamble_epilogue_and_padding_are_tolerated() {
        let b = b"preamble\r\n--b  \r\nContent-Disposition: form-data; name=x\r\n\r\n1\r\n--b--\r\nepilogue";
        let parts = parse(b, "b").expect("well-formed");
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].name, "x");
        assert_eq!(parts[0].value(b), b"1");
    }

    #[test]
    fn quoted_names_with_escapes_and_semicolons() {
        let b = b"--b\r\ncontent-disposition: form-data; name=\"a;\\\"b\\\"\"; filename=\"x;y.png\"\r\n\r\nv\r\n--b--";
        let parts = parse(b, "b").expect("well-formed");
        assert_eq!(parts[0].name, "a;\"b\"");
        assert_eq!(parts[0].filename.as_deref(), Some("x;y.png"));
    }

    #[test]
    fn zero_parts() {
        assert_eq!(parse(b"--b--\r\n", "b"), Ok(Vec::new()));
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(parse(b"", "b"), Err(Malformed::NoOpeningDelimiter));
        assert_eq!(
            parse(b"hello world", "b"),
            Err(Malformed::NoOpeningDelimiter)
        );
        // No closing delimiter.
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nvalue",
                "b"
            ),
            Err(Malformed::NoClosingDelimiter)
        );
        // Truncated right after a delimiter.
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\nv\r\n--b",
                "b"
            ),
            Err(Malformed::NoClosingDelimiter)
        );
        // Garbage after a delimiter.
        assert_eq!(parse(b"--bXYZ\r\n", "b"), Err(Malformed::BadDelimiterLine));
        // Headers never end.
        assert_eq!(
            parse(b"--b\r\nContent-Disposition: form-data; name=x\r\n", "b"),
            Err(Malformed::UnterminatedHeaders)
        );
        // A header without a colon.
        assert_eq!(
            parse(b"--b\r\nnonsense\r\n\r\nv\r\n--b--", "b"),
            Err(Malformed::BadHeader)
        );
        // No name.
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: form-data\r\n\r\nv\r\n--b--",
                "b"
            ),
            Err(Malformed::NoName)
        );
        assert_eq!(
            parse(
                b"--b\r\nContent-Disposition: attachment; name=x\r\n\r\nv\r\n--b--",
                "b"
            ),
            Err(Malformed::NoName)
        );
        // A different boundary.
        let b = body(&[("a", None, b"1")], "one");
        assert_eq!(parse(&b, "two"), Err(Malformed::NoOpeningDelimiter));
    }

    #[test]
    fn find_edges() {
        assert_eq!(find(b"abcabc", b"abc", 0), Some(0));
        assert_eq!(find(b"abcabc", b"abc", 1), Some(3));
        assert_eq!(find(b"abcabc", b"abc", 4), None);
        assert_eq!(find(b"ab", b"abc", 0), None);
        assert_eq!(find(b"aab", b"ab", 0), Some(1));
        assert_eq!(find(b"abc", b"", 0), None);
    }
}
