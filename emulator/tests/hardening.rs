//! The emulator bounds what a client can make it hold: bodies it reads, the request log, and
//! the threads of idle or slow connections.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use storyblok_assets_emulator::*;

mod common;
use common::*;

fn connect(emulator: &Emulator) -> TcpStream {
    let socket = TcpStream::connect(host(emulator)).expect("connects");
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    socket
}

/// Whether the server closed the connection: reading ends (EOF or reset) quickly.
fn closed(socket: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    match socket.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) => {
            e.kind() != std::io::ErrorKind::WouldBlock && e.kind() != std::io::ErrorKind::TimedOut
        }
    }
}

#[test]
fn a_request_without_a_valid_token_is_refused_from_its_head() {
    let emulator = unlimited();
    let path = format!("/v1/spaces/{}/assets/", emulator.space_id());
    for auth in ["", "Authorization: wrong-token\r\n"] {
        // A gigabyte is declared, and none of it sent: the answer comes anyway, at once.
        let started = Instant::now();
        let mut socket = connect(&emulator);
        write!(
            socket,
            "POST {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: 1073741824\r\nExpect: 100-continue\r\n\r\n"
        )
        .expect("head");
        let reply = read_reply(&mut socket).expect("an answer");
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (401, r#"{"error":"Unauthorized"}"#)
        );
        assert_eq!(reply.header("connection"), Some("close"));
        // Answered from the head: not after reading (or waiting for) the 1 GiB body.
        assert!(started.elapsed() < Duration::from_secs(5));
        let _ = socket.shutdown(std::net::Shutdown::Write);
        assert!(closed(&mut socket));
    }
    let recorded = emulator.requests();
    assert_eq!(recorded.len(), 2);
    assert!(recorded.iter().all(|r| r.status == 401 && r.body_len == 0));
    assert!(emulator.assets().is_empty());

    // Without a body, a 401 leaves the connection open for the next request.
    let mut socket = connect(&emulator);
    write!(
        socket,
        "GET /v1/spaces/606/assets/1 HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /v1/spaces/606/assets/1 HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\r\n",
        emulator.token()
    )
    .expect("two requests");
    assert_eq!(read_reply(&mut socket).map(|r| r.status), Some(401));
    assert_eq!(read_reply(&mut socket).map(|r| r.status), Some(404));
}

#[test]
fn management_api_bodies_are_capped_at_one_mebibyte() {
    let emulator = unlimited();
    let token = emulator.token().to_string();
    let path = format!("/v1/spaces/{}/assets/", emulator.space_id());

    // Declared too long: 413 before reading any of it.
    let mut socket = connect(&emulator);
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        MAX_MAPI_BODY + 1
    )
    .expect("head");
    let reply = read_reply(&mut socket).expect("an answer");
    assert_eq!(reply.status, 413);
    assert_eq!(
        reply.json()["error"],
        "Request body too large: at most 1048576 bytes are accepted"
    );
    assert_eq!(reply.header("connection"), Some("close"));

    // Chunked: refused as soon as it grows past the cap.
    let mut socket = connect(&emulator);
    write!(
        socket,
        "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .expect("head");
    let chunk = vec![b' '; 256 * 1024];
    for _ in 0..5 {
        write!(socket, "{:x}\r\n", chunk.len()).expect("chunk size");
        socket.write_all(&chunk).expect("chunk");
        socket.write_all(b"\r\n").expect("chunk end");
    }
    let reply = read_reply(&mut socket).expect("an answer");
    assert_eq!(reply.status, 413);

    // Exactly at the cap: read and handled, but too large to keep in the log.
    let mut body = br#"{"filename":"big.png","meta_data":{"pad":""#.to_vec();
    let tail = br#""}}"#;
    body.resize(MAX_MAPI_BODY as usize - tail.len(), b'x');
    body.extend_from_slice(tail);
    assert_eq!(body.len() as u64, MAX_MAPI_BODY);
    let reply = send(
        &emulator,
        "POST",
        &path,
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
        &body,
    )
    .expect("an answer");
    assert_eq!(
        reply.status,
        200,
        "{}",
        &reply.body[..100.min(reply.body.len())]
    );

    let signs = emulator.requests_for(Endpoint::Sign);
    let statuses: Vec<(u16, u64)> = signs.iter().map(|r| (r.status, r.body_len)).collect();
    assert_eq!(statuses, [(413, 0), (413, 0), (200, MAX_MAPI_BODY)]);
    let big = &signs[2];
    assert!(big.body.is_empty() && big.json.is_none());
}

#[test]
fn uploads_are_capped_by_max_body_before_any_byte_is_read() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .max_body(2_000)
        .start()
        .expect("starts");
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"a.png"}"#));
    let pairs = pairs(&fields);
    let small = multipart(&pairs, Some(b"1"), &[]);
    assert!(small.len() < 2_000, "{}", small.len());
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");

    // Declared over the cap (here 100 GiB): refused from the head.
    for declared in [2_001u64, 100 << 30] {
        let mut socket = connect(&emulator);
        write!(
            socket,
            "POST /a.storyblok.com HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\n\
             Content-Length: {declared}\r\n\r\n"
        )
        .expect("head");
        let reply = read_reply(&mut socket).expect("an answer");
        assert_eq!(s3_error(&reply).0, 413);
        assert_eq!(s3_error(&reply).1, "MaxMessageLengthExceeded");
        assert_eq!(reply.header("content-type"), Some("application/xml"));
        assert_eq!(reply.header("connection"), Some("close"));
    }
    // Within it: stored.
    let reply = send(
        &emulator,
        "POST",
        "/a.storyblok.com",
        &[("Content-Type", &ct)],
        &small,
    )
    .expect("an answer");
    assert_eq!(reply.status, 204);
    let uploads: Vec<(u16, u64)> = emulator
        .requests_for(Endpoint::Upload)
        .iter()
        .map(|r| (r.status, r.body_len))
        .collect();
    assert_eq!(uploads, [(413, 0), (413, 0), (204, small.len() as u64)]);

    // A chunked upload is refused with 411 from its head, unread.
    let mut socket = connect(&emulator);
    write!(
        socket,
        "POST /a.storyblok.com HTTP/1.1\r\nHost: x\r\nContent-Type: {ct}\r\n\
         Transfer-Encoding: chunked\r\n\r\n"
    )
    .expect("head");
    assert_eq!(read_reply(&mut socket).map(|r| r.status), Some(411));
}

#[test]
fn idle_connections_are_closed_after_the_idle_timeout() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .idle_timeout(Duration::from_millis(300))
        .start()
        .expect("starts");
    let started = Instant::now();
    // A connection that never sends a byte.
    let mut silent = connect(&emulator);
    // One that sends a request, then stays idle.
    let mut idle = connect(&emulator);
    write!(
        idle,
        "GET /v1/spaces/606/assets/1 HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
        emulator.token()
    )
    .expect("request");
    assert_eq!(read_reply(&mut idle).map(|r| r.status), Some(404));
    assert!(closed(&mut silent));
    assert!(closed(&mut idle));
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");

    // A busy connection is not cut: requests 100 ms apart go on past the timeout.
    let mut busy = connect(&emulator);
    for _ in 0..6 {
        write!(
            busy,
            "GET /v1/spaces/606/assets/1 HTTP/1.1\r\nAuthorization: {}\r\n\r\n",
            emulator.token()
        )
        .expect("request");
        assert_eq!(read_reply(&mut busy).map(|r| r.status), Some(404));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_request_log_keeps_only_small_bodies() {
    let emulator = unlimited();
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"a.bin"}"#));
    let key = fields[0].1.clone();
    let big: Vec<u8> = (0..RECORDED_BODY_LIMIT + 1)
        .map(|i| (i % 251) as u8)
        .collect();
    assert_eq!(upload(&emulator, &fields, &big).status, 204);
    // The object keeps every byte; the log keeps the part's length only.
    assert_eq!(emulator.object(&key).map(|o| o.bytes), Some(big.clone()));
    let recorded = emulator.requests_for(Endpoint::Upload).remove(0);
    let form = recorded.form.expect("a parsed form");
    let file = form.file().expect("file part");
    assert!(file.value.is_empty());
    assert_eq!(file.length, big.len() as u64);
    assert!(recorded.body_len > big.len() as u64);
    assert!(recorded.body.is_empty());
    // The small parts are kept.
    assert_eq!(form.fields(), fields);

    // A file at the limit is kept.
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"b.bin"}"#));
    let fits = &big[..RECORDED_BODY_LIMIT];
    assert_eq!(upload(&emulator, &fields, fits).status, 204);
    let recorded = emulator.requests_for(Endpoint::Upload).remove(1);
    let file = recorded.form.expect("form").parts.pop().expect("file");
    assert_eq!(
        (file.value.as_slice(), file.length),
        (fits, fits.len() as u64)
    );

    // Management API bodies: kept up to the limit, then length only.
    let small = r#"{"filename":"c.png"}"#;
    assert_eq!(sign(&emulator, small).status, 200);
    let pad = "x".repeat(RECORDED_BODY_LIMIT);
    let large = format!(r#"{{"filename":"d.png","alt":"{pad}"}}"#);
    assert_eq!(sign(&emulator, &large).status, 200);
    let signs = emulator.requests_for(Endpoint::Sign);
    let kept = &signs[2];
    assert_eq!(
        (kept.body.as_slice(), kept.body_len),
        (small.as_bytes(), small.len() as u64)
    );
    assert_eq!(
        kept.json.as_ref().map(|j| j["filename"].clone()),
        Some("c.png".into())
    );
    let dropped = &signs[3];
    assert!(dropped.body.is_empty() && dropped.json.is_none());
    assert_eq!(dropped.body_len, large.len() as u64);
    // The asset itself got the whole text.
    assert_eq!(emulator.asset(100_004).and_then(|a| a.alt), Some(pad));
}

#[test]
fn the_request_log_can_keep_only_the_latest_requests() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .max_recorded_requests(2)
        .start()
        .expect("starts");
    // The fourth sign is counted for its fault even though the first ones left the log.
    emulator.inject(Fault::respond(
        Endpoint::Sign,
        4,
        503,
        r#"{"error":"later"}"#,
    ));
    for name in ["a", "b", "c", "d"] {
        sign(&emulator, &format!(r#"{{"filename":"{name}.png"}}"#));
    }
    let kept: Vec<(String, u16)> = emulator
        .requests()
        .into_iter()
        .map(|r| {
            let name = r
                .json
                .as_ref()
                .and_then(|j| j["filename"].as_str().map(str::to_string));
            (name.unwrap_or_default(), r.status)
        })
        .collect();
    assert_eq!(kept, [("c.png".into(), 200), ("d.png".into(), 503)]);
    assert_eq!(emulator.assets().len(), 3);

    // 0 records nothing, and faults still count.
    let emulator = Emulator::builder()
        .rate_limit(None)
        .max_recorded_requests(0)
        .start()
        .expect("starts");
    emulator.inject(Fault::respond(
        Endpoint::Sign,
        2,
        503,
        r#"{"error":"later"}"#,
    ));
    assert_eq!(sign(&emulator, r#"{"filename":"a.png"}"#).status, 200);
    assert_eq!(sign(&emulator, r#"{"filename":"b.png"}"#).status, 503);
    assert!(emulator.requests().is_empty());
}

#[test]
fn a_malformed_body_is_logged_with_the_status_it_got() {
    let emulator = unlimited();
    let raw = format!(
        "POST /v1/spaces/606/assets/ HTTP/1.1\r\nAuthorization: {}\r\n\
         Transfer-Encoding: chunked\r\n\r\nnot-hex\r\n",
        emulator.token()
    );
    let reply = send_raw(&emulator, raw.as_bytes()).expect("an answer");
    assert_eq!(reply.status, 400);
    let logged = emulator.requests_for(Endpoint::Sign);
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].status, 400);
}
