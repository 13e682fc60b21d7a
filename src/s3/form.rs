//! The `multipart/form-data` body of the S3 POST, framed by hand (RFC 7578).
//!
//! The body is the signed fields, verbatim and in Storyblok's order, then the file part,
//! last. Everything but the file is built once, in memory (S3 caps it at 20 KB); the file
//! streams through [`FormBody`], which also holds a reader source to its declared length,
//! so the `Content-Length` sent is exact: a short source stops the upload, and so does a
//! long one whose end can be probed (a path, bytes, a seekable reader).
//!
//! Not the `multipart` crate: it is unmaintained (RUSTSEC-2023-0050), its lazy client
//! miscounts the length, writes file parts in reverse order and escapes no names.

use std::io::{self, Read};

use crate::error::LengthMismatch;

/// The fields and file part framing of one upload.
pub(crate) struct Form {
    boundary: String,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Form {
    /// Frames `fields` and a file part named `file` with `filename` and `content_type`.
    pub(crate) fn new(fields: &[(String, String)], filename: &str, content_type: &str) -> Form {
        let mut boundary = new_boundary();
        // A boundary must not occur in any part; a field value could hold one by chance.
        while fields
            .iter()
            .any(|(n, v)| n.contains(&boundary) || v.contains(&boundary))
        {
            boundary = new_boundary();
        }
        let mut head = Vec::with_capacity(1024);
        for (name, value) in fields {
            head.extend_from_slice(b"--");
            head.extend_from_slice(boundary.as_bytes());
            head.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"");
            head.extend_from_slice(escape(name).as_bytes());
            head.extend_from_slice(b"\"\r\n\r\n");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"--");
        head.extend_from_slice(boundary.as_bytes());
        head.extend_from_slice(b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"");
        head.extend_from_slice(escape(filename).as_bytes());
        head.extend_from_slice(b"\"\r\nContent-Type: ");
        head.extend_from_slice(header_safe(content_type).as_bytes());
        head.extend_from_slice(b"\r\n\r\n");
        let tail = format!("\r\n--{boundary}--\r\n").into_bytes();
        Form {
            boundary,
            head,
            tail,
        }
    }

    /// The request's `Content-Type` header.
    pub(crate) fn content_type(&self) -> String {
        format!("multipart/form-data; boundary={}", self.boundary)
    }

    /// The exact body length for a file of `file_len` bytes.
    pub(crate) fn content_length(&self, file_len: u64) -> u64 {
        self.head.len() as u64 + file_len + self.tail.len() as u64
    }

    /// The body, streaming `file`, which must give exactly `file_len` bytes. With
    /// `probe_end`, the file is read once more after them to check that it ends there.
    pub(crate) fn body<R: Read>(&self, file: R, file_len: u64, probe_end: bool) -> FormBody<'_, R> {
        FormBody {
            head: &self.head,
            file,
            declared: file_len,
            remaining: file_len,
            probe_end,
            tail: &self.tail,
            failure: None,
        }
    }
}

/// Why a [`FormBody`] stopped early.
#[derive(Debug)]
pub(crate) enum BodyFailure {
    /// The source gave fewer or more bytes than declared.
    Length(LengthMismatch),
    /// Reading the source failed.
    Read(io::Error),
}

/// The streaming body: head, then exactly the declared file bytes, then the tail.
pub(crate) struct FormBody<'f, R> {
    head: &'f [u8],
    file: R,
    declared: u64,
    remaining: u64,
    probe_end: bool,
    tail: &'f [u8],
    failure: Option<BodyFailure>,
}

impl<R> FormBody<'_, R> {
    /// Why the body stopped, if the source was at fault.
    pub(crate) fn take_failure(&mut self) -> Option<BodyFailure> {
        self.failure.take()
    }

    fn fail(&mut self, failure: BodyFailure) -> io::Error {
        let error = io::Error::other(match &failure {
            BodyFailure::Length(_) => "the source's length differs from the declared one",
            BodyFailure::Read(_) => "reading the source failed",
        });
        self.failure = Some(failure);
        error
    }
}

impl<R: Read> Read for FormBody<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.failure.is_some() {
            return Err(io::Error::other("the upload body already failed"));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        if !self.head.is_empty() {
            let n = self.head.len().min(buf.len());
            buf[..n].copy_from_slice(&self.head[..n]);
            self.head = &self.head[n..];
            return Ok(n);
        }
        if self.remaining > 0 {
            let want = usize::try_from(self.remaining).map_or(buf.len(), |r| r.min(buf.len()));
            let n = loop {
                match self.file.read(&mut buf[..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.fail(BodyFailure::Read(e))),
                }
            };
            if n == 0 {
                let mismatch = LengthMismatch::Short {
                    declared: self.declared,
                    sent: self.declared - self.remaining,
                };
                return Err(self.fail(BodyFailure::Length(mismatch)));
            }
            self.remaining -= n as u64;
            if self.remaining == 0 && self.probe_end {
                self.check_exhausted()?;
            }
            return Ok(n);
        }
        let n = self.tail.len().min(buf.len());
        buf[..n].copy_from_slice(&self.tail[..n]);
        self.tail = &self.tail[n..];
        Ok(n)
    }
}

impl<R: Read> FormBody<'_, R> {
    /// After the declared bytes, the source must be at its end.
    fn check_exhausted(&mut self) -> io::Result<()> {
        let mut probe = [0u8; 1];
        loop {
            match self.file.read(&mut probe) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    let mismatch = LengthMismatch::Long {
                        declared: self.declared,
                    };
                    return Err(self.fail(BodyFailure::Length(mismatch)));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.fail(BodyFailure::Read(e))),
            }
        }
    }
}

/// A quoted-string parameter as browsers write it (WHATWG): `"`, CR and LF
/// percent-encoded, so no filename can end the header or the quotes early.
fn escape(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A header value with CR and LF dropped.
fn header_safe(text: &str) -> String {
    text.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// `storyblok-assets-` and 32 random hex digits.
fn new_boundary() -> String {
    format!(
        "storyblok-assets-{:016x}{:016x}",
        crate::codec::random::next_u64(),
        crate::codec::random::next_u64()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> Vec<(String, String)> {
        vec![
            ("key".into(), "f/1/abc/a.png".into()),
            ("acl".into(), "public-read".into()),
            ("policy".into(), "eyJ9".into()),
        ]
    }

    fn read_all(mut body: impl Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        body.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn frames_fields_in_order_then_the_file() {
        let form = Form::new(&fields(), "a.png", "image/png");
        let b = &form.boundary;
        let body = read_all(form.body(&b"PNGDATA"[..], 7, true)).expect("body");
        let expected = format!(
            "--{b}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nf/1/abc/a.png\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"acl\"\r\n\r\npublic-read\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\neyJ9\r\n\
             --{b}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.png\"\r\n\
             Content-Type: image/png\r\n\r\nPNGDATA\r\n--{b}--\r\n"
        );
        assert_eq!(String::from_utf8(body.clone()).expect("utf8"), expected);
        assert_eq!(form.content_length(7), body.len() as u64);
        assert_eq!(
            form.content_type(),
            format!("multipart/form-data; boundary={b}")
        );
    }

    #[test]
    fn filenames_cannot_break_the_header() {
        let form = Form::new(&[], "evil\".png\r\nX-Injected: 1\n", "image/png\r\nX: y");
        let head = String::from_utf8(form.head.clone()).expect("utf8");
        assert!(head.contains("filename=\"evil%22.png%0D%0AX-Injected: 1%0A\""));
        assert!(head.contains("Content-Type: image/pngX: y\r\n\r\n"));
        assert_eq!(head.matches("\r\n").count(), 4);
    }

    #[test]
    fn unicode_names_are_kept() {
        let form = Form::new(&[], "Größe 北京 'x'.png", "image/png");
        let head = String::from_utf8(form.head.clone()).expect("utf8");
        assert!(head.contains("filename=\"Größe 北京 'x'.png\""));
    }

    #[test]
    fn boundaries_differ_and_avoid_field_values() {
        let a = Form::new(&fields(), "a", "b").boundary;
        let b = Form::new(&fields(), "a", "b").boundary;
        assert_ne!(a, b);
        assert_eq!(a.len(), "storyblok-assets-".len() + 32);
    }

    #[test]
    fn short_source_fails_at_once() {
        let form = Form::new(&fields(), "a", "b");
        let mut body = form.body(&b"abc"[..], 10, true);
        let err = read_all(&mut body).expect_err("short");
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(matches!(
            body.take_failure(),
            Some(BodyFailure::Length(LengthMismatch::Short {
                declared: 10,
                sent: 3
            }))
        ));
    }

    #[test]
    fn long_source_fails() {
        let form = Form::new(&fields(), "a", "b");
        let mut body = form.body(&b"abcdef"[..], 4, true);
        assert!(read_all(&mut body).is_err());
        assert!(matches!(
            body.take_failure(),
            Some(BodyFailure::Length(LengthMismatch::Long { declared: 4 }))
        ));
    }

    #[test]
    fn without_probing_the_end_extra_bytes_are_left_unread() {
        let form = Form::new(&fields(), "a", "b");
        let mut source = &b"abcdef"[..];
        let body = read_all(form.body(&mut source, 4, false)).expect("body");
        assert_eq!(body.len() as u64, form.content_length(4));
        assert_eq!(source, b"ef", "the reader was not read past its length");
    }

    #[test]
    fn read_errors_are_kept() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::PermissionDenied, "nope"))
            }
        }
        let form = Form::new(&fields(), "a", "b");
        let mut body = form.body(Broken, 4, true);
        assert!(read_all(&mut body).is_err());
        match body.take_failure() {
            Some(BodyFailure::Read(e)) => assert_eq!(e.kind(), io::ErrorKind::PermissionDenied),
            other => panic!("expected a read failure, got {other:?}"),
        }
    }

    #[test]
    fn tiny_buffers_give_the_same_bytes() {
        let form = Form::new(&fields(), "a.bin", "application/octet-stream");
        let data: Vec<u8> = (0..=255).cycle().take(5000).collect();
        let whole = read_all(form.body(&data[..], 5000, true)).expect("body");
        let mut body = form.body(&data[..], 5000, true);
        let mut pieces = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = body.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            pieces.extend_from_slice(&buf[..n]);
        }
        assert_eq!(pieces, whole);
        assert_eq!(whole.len() as u64, form.content_length(5000));
    }
}
