//! Helpers shared by the socket-level tests: a raw std HTTP client, a multipart writer and
//! shorthands for the Management API and S3 calls.

#![allow(dead_code)] // each test file uses its own part of this module

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use storyblok_assets_emulator::*;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as text (lossy).
    pub body: String,
    /// The body's exact bytes.
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub fn host(emulator: &Emulator) -> std::net::SocketAddr {
    emulator.addr()
}

pub fn send_raw(emulator: &Emulator, raw: &[u8]) -> Option<Reply> {
    let mut socket = TcpStream::connect(host(emulator)).expect("connects");
    socket.write_all(raw).expect("writes");
    let mut out = Vec::new();
    let _ = socket.read_to_end(&mut out);
    parse_reply(&out)
}

/// Parses one response (the last, after any `100 Continue`) from raw bytes.
pub fn parse_reply(out: &[u8]) -> Option<Reply> {
    let mut out = out;
    while out.starts_with(b"HTTP/1.1 100 ") {
        let end = find(out, b"\r\n\r\n")?;
        out = &out[end + 4..];
    }
    if out.is_empty() {
        return None;
    }
    let end = find(out, b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let bytes = out[end + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status = lines.next().expect("status line")[9..12]
        .parse()
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    Some(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        bytes,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads exactly one response from a socket that may stay open: the head, then
/// `Content-Length` bytes of body (none for a 204). Skips `100 Continue`. `None` if the
/// connection closes first.
pub fn read_reply(socket: &mut TcpStream) -> Option<Reply> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        while find(&buf, b"\r\n\r\n").is_none() {
            match socket.read(&mut byte) {
                Ok(1) => buf.push(byte[0]),
                _ => return None,
            }
        }
        if buf.starts_with(b"HTTP/1.1 100 ") {
            buf.clear();
            continue;
        }
        break;
    }
    let mut reply = parse_reply(&buf)?;
    let length: usize = reply
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; if reply.status == 204 { 0 } else { length }];
    socket.read_exact(&mut body).ok()?;
    reply.body = String::from_utf8_lossy(&body).into_owned();
    reply.bytes = body;
    Some(reply)
}

pub fn send(
    emulator: &Emulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<Reply> {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (n, v) in headers {
        raw.push_str(&format!("{n}: {v}\r\n"));
    }
    raw.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    send_raw(emulator, &raw)
}

pub fn mapi(emulator: &Emulator, method: &str, path: &str, body: &str) -> Reply {
    mapi_in(emulator, emulator.space_id(), method, path, body)
}

/// A Management API request with the token, for `space`.
pub fn mapi_in(emulator: &Emulator, space: u64, method: &str, path: &str, body: &str) -> Reply {
    let token = emulator.token().to_string();
    send(
        emulator,
        method,
        &format!("/v1/spaces/{space}{path}"),
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
    .expect("an answer")
}

pub fn sign(emulator: &Emulator, body: &str) -> Reply {
    mapi(emulator, "POST", "/assets/", body)
}

pub const BOUNDARY: &str = "----emulator-test-boundary";

pub fn multipart(fields: &[(&str, &str)], file: Option<&[u8]>, after: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    let field = |out: &mut Vec<u8>, n: &str, v: &str| {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{n}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    };
    for (n, v) in fields {
        field(&mut out, n, v);
    }
    if let Some(bytes) = file {
        out.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"x.png\"\r\nContent-Type: image/png\r\n\r\n"
            )
            .as_bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend_from_slice(b"\r\n");
    }
    for (n, v) in after {
        field(&mut out, n, v);
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

pub fn signed_fields(reply: &Reply) -> Vec<(String, String)> {
    // Read the fields in wire order (serde_json's Map would sort them).
    let start = reply.body.find("\"fields\":{").expect("fields") + "\"fields\":".len();
    let end = start + reply.body[start..].find('}').expect("end of fields") + 1;
    let mut out = Vec::new();
    let mut de = serde_json::Deserializer::from_str(&reply.body[start..end]).into_iter::<Value>();
    let Some(Ok(Value::Object(map))) = de.next() else {
        panic!("fields is an object");
    };
    // Recover the order by position in the raw text.
    let raw = &reply.body[start..end];
    let mut named: Vec<(usize, String, String)> = map
        .into_iter()
        .map(|(k, v)| {
            let pos = raw.find(&format!("\"{k}\":")).unwrap_or(usize::MAX);
            (pos, k, v.as_str().unwrap_or_default().to_string())
        })
        .collect();
    named.sort();
    out.extend(named.into_iter().map(|(_, k, v)| (k, v)));
    out
}

/// Owned (name, value) pairs, such as [`signed_fields`], as the borrowed pairs
/// [`multipart`] takes.
pub fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

pub fn upload(emulator: &Emulator, fields: &[(String, String)], file: &[u8]) -> Reply {
    let body = multipart(&pairs(fields), Some(file), &[]);
    let path = "/a.storyblok.com";
    send(
        emulator,
        "POST",
        path,
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        &body,
    )
    .expect("an answer")
}

pub fn unlimited() -> Emulator {
    Emulator::builder()
        .rate_limit(None)
        .start()
        .expect("starts")
}

pub fn s3_error(reply: &Reply) -> (u16, String, String) {
    let between = |open: &str, close: &str| {
        let start = reply.body.find(open).map_or(0, |i| i + open.len());
        let end = reply.body.find(close).unwrap_or(start);
        reply.body[start..end].to_string()
    };
    (
        reply.status,
        between("<Code>", "</Code>"),
        between("<Message>", "</Message>"),
    )
}

/// Sends a head declaring a 1,000,000-byte body, then writes the body in chunks until the
/// server cuts the connection. Returns what the client read back.
pub fn send_cut_short(
    emulator: &Emulator,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Vec<u8> {
    let mut socket = TcpStream::connect(host(emulator)).expect("connects");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Content-Length: 1000000\r\n\r\n");
    socket.write_all(head.as_bytes()).expect("writes the head");
    let chunk = [b'x'; 16 * 1024];
    let mut written = 0;
    let mut write_failed = false;
    while written < 1_000_000 {
        let n = chunk.len().min(1_000_000 - written);
        if socket.write_all(&chunk[..n]).is_err() {
            write_failed = true;
            break;
        }
        written += n;
    }
    let mut out = Vec::new();
    let read = socket.read_to_end(&mut out);
    // Either the upload broke (broken pipe / reset) or the server closed without a word.
    assert!(write_failed || read.is_err() || out.is_empty());
    out
}
