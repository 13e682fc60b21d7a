//! End-to-end tests of the emulator over real sockets, with a raw std HTTP client.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use storyblok_assets_emulator::*;

mod common;
use common::*;

#[test]
fn full_flow_sign_upload_finish_delete() {
    let emulator = unlimited();
    let reply = sign(
        &emulator,
        r#"{"filename":"Mars Photo.v2.JPG","size":"640X480","alt":"red","meta_data":{"k":"v"}}"#,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let json = reply.json();
    assert_eq!(json["id"], 100_001);
    let key = json["fields"]["key"].as_str().expect("key").to_string();
    assert!(key.starts_with("f/606/640x480/"), "{key}");
    assert!(key.ends_with("/mars-photo_v2.jpg"), "{key}");
    assert_eq!(key.split('/').nth(3).map(str::len), Some(10));
    assert_eq!(json["pretty_url"], format!("//a.storyblok.com/{key}"));
    assert_eq!(
        json["public_url"],
        format!("https://s3.amazonaws.com/a.storyblok.com/{key}")
    );
    assert_eq!(json["post_url"], emulator.s3_url());
    assert_eq!(json["locked"], false);
    assert_eq!(json["meta_data"]["k"], "v");
    let fields = signed_fields(&reply);
    let names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "key",
            "acl",
            "Expires",
            "Cache-Control",
            "Content-Type",
            "policy",
            "x-amz-credential",
            "x-amz-algorithm",
            "x-amz-date",
            "x-amz-signature"
        ]
    );
    assert_eq!(fields[4].1, "image/jpeg");
    assert!(reply.body.find("\"id\"") < reply.body.find("\"pretty_url\""));

    // Finish before the upload fails.
    let early = mapi(&emulator, "GET", "/assets/100001/finish_upload", "");
    assert_eq!(early.status, 422);

    let up = upload(&emulator, &fields, b"\x89PNG...");
    assert_eq!(up.status, 204, "{}", up.body);
    assert!(up.header("etag").is_some());
    assert!(up.body.is_empty());
    let object = emulator.object(&key).expect("stored");
    assert_eq!(object.bytes, b"\x89PNG...");
    assert_eq!(object.content_type, "image/jpeg");
    assert_eq!(object.acl, "public-read");
    assert_eq!(object.cache_control, "public, max-age=31536000");

    let finish = mapi(&emulator, "GET", "/assets/100001/finish_upload", "");
    assert_eq!(finish.status, 200, "{}", finish.body);
    assert_eq!(
        finish.body,
        format!(
            "{{\"id\":100001,\"filename\":\"https://s3.amazonaws.com/a.storyblok.com/{key}\",\
             \"alt\":\"red\",\"copyright\":null,\"title\":null,\"focus\":null,\"is_private\":false}}"
        )
    );
    let asset = emulator.asset(100_001).expect("record");
    assert!(asset.finished);
    assert_eq!(asset.size.as_deref(), Some("640x480"));
    assert_eq!(asset.filename, "mars-photo_v2.jpg");

    let get = mapi(&emulator, "GET", "/assets/100001", "");
    assert_eq!(get.status, 200);
    assert_eq!(get.json()["content_length"], 7);

    let delete = mapi(&emulator, "DELETE", "/assets/100001", "");
    assert_eq!(delete.status, 200);
    assert_eq!(delete.json()["id"], 100_001);
    assert!(emulator.asset(100_001).is_none());
    assert!(emulator.object(&key).is_none());
    assert_eq!(mapi(&emulator, "DELETE", "/assets/100001", "").status, 404);

    let endpoints: Vec<(Endpoint, u16)> = emulator
        .requests()
        .iter()
        .map(|r| (r.endpoint, r.status))
        .collect();
    assert_eq!(
        endpoints,
        [
            (Endpoint::Sign, 200),
            (Endpoint::Finish, 422),
            (Endpoint::Upload, 204),
            (Endpoint::Finish, 200),
            (Endpoint::Other, 200),
            (Endpoint::Delete, 200),
            (Endpoint::Delete, 404),
        ]
    );
    let recorded = &emulator.requests_for(Endpoint::Upload)[0];
    assert!(recorded.body.is_empty());
    let form = recorded.form.as_ref().expect("form");
    assert!(form.file_is_last());
    assert_eq!(form.fields().len(), 10);
    let sign_request = &emulator.requests_for(Endpoint::Sign)[0];
    assert_eq!(sign_request.header("AUTHORIZATION"), Some(emulator.token()));
    assert_eq!(
        sign_request.json.as_ref().expect("json")["filename"],
        "Mars Photo.v2.JPG"
    );
}

#[test]
fn wrapped_finish_private_and_query_params() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .finish_shape(FinishShape::Wrapped)
        .oauth_token("oauth")
        .start()
        .expect("starts");
    let reply = send(
        &emulator,
        "POST",
        "/v1/spaces/606/assets?filename=doc.pdf&is_private=true&validate_upload=1",
        &[("Authorization", "Bearer oauth")],
        b"",
    )
    .expect("answer");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let fields = signed_fields(&reply);
    assert_eq!(fields[1], ("acl".into(), "private".into()));
    assert_eq!(fields[4], ("Content-Type".into(), "application/pdf".into()));
    let asset = emulator.asset(100_001).expect("record");
    assert!(asset.is_private && asset.validate_upload);
    assert!(asset.key.starts_with("f/606/") && asset.key.ends_with("/doc.pdf"));
    assert_eq!(asset.key.split('/').count(), 4);
    assert_eq!(upload(&emulator, &fields, b"%PDF").status, 204);
    let finish = send(
        &emulator,
        "GET",
        "/v1/spaces/606/assets/100001/finish_upload",
        &[("Authorization", "Bearer oauth")],
        b"",
    )
    .expect("answer");
    assert_eq!(finish.status, 200);
    assert_eq!(finish.json()["asset"]["is_private"], true);
}

#[test]
fn sign_validation() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .folder(7)
        .start()
        .expect("starts");
    let no_auth = send(&emulator, "POST", "/v1/spaces/606/assets/", &[], b"{}").expect("answer");
    assert_eq!(
        (no_auth.status, no_auth.body.as_str()),
        (401, r#"{"error":"Unauthorized"}"#)
    );
    let bad_bearer = send(
        &emulator,
        "POST",
        "/v1/spaces/606/assets/",
        &[("Authorization", "Bearer emulator-personal-token")],
        b"{}",
    )
    .expect("answer");
    assert_eq!(bad_bearer.status, 401);
    let other_space = send(
        &emulator,
        "POST",
        "/v1/spaces/607/assets/",
        &[("Authorization", emulator.token())],
        b"{\"filename\":\"a.png\"}",
    )
    .expect("answer");
    assert_eq!(
        (other_space.status, other_space.body.as_str()),
        (404, r#"["This record could not be found"]"#)
    );
    let blank = sign(&emulator, r#"{"filename":""}"#);
    assert_eq!(
        (blank.status, blank.body.as_str()),
        (422, r#"{"error":"Filename can't be blank"}"#)
    );
    let size = sign(&emulator, r#"{"filename":"a.png","size":"abc"}"#);
    assert_eq!(
        (size.status, size.body.as_str()),
        (422, r#"{"error":"Size is invalid"}"#)
    );
    let folder = sign(&emulator, r#"{"filename":"a.png","asset_folder_id":8}"#);
    assert_eq!(
        (folder.status, folder.body.as_str()),
        (
            422,
            r#"{"error":{"base":["This asset folder is not valid"]}}"#
        )
    );
    let ok = sign(&emulator, r#"{"filename":"a.png","asset_folder_id":7}"#);
    assert_eq!(ok.status, 200);
    emulator.add_folder(8);
    assert_eq!(folder_status(&emulator, 8), 200);
    let unknown = sign(&emulator, r#"{"filename":"a.png","id":5}"#);
    assert_eq!(unknown.status, 404);
    assert_eq!(emulator.assets().len(), 2);
    assert_eq!(mapi(&emulator, "GET", "/nothing", "").status, 404);
}

fn folder_status(emulator: &Emulator, folder: u64) -> u16 {
    sign(
        emulator,
        &format!(r#"{{"filename":"a.png","asset_folder_id":{folder}}}"#),
    )
    .status
}

#[test]
fn replace_reuses_record_and_key() {
    let emulator = unlimited();
    let first = sign(&emulator, r#"{"filename":"a.png","title":"one"}"#);
    let fields = signed_fields(&first);
    assert_eq!(upload(&emulator, &fields, b"1").status, 204);
    assert_eq!(
        mapi(&emulator, "GET", "/assets/100001/finish_upload", "").status,
        200
    );
    let again = sign(&emulator, r#"{"filename":"b.png","id":100001,"alt":"x"}"#);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["id"], 100_001);
    assert_eq!(again.json()["fields"]["key"], first.json()["fields"]["key"]);
    let asset = emulator.asset(100_001).expect("record");
    assert_eq!((asset.sign_count, asset.finished), (2, false));
    assert_eq!(asset.title.as_deref(), Some("one"));
    assert_eq!(asset.alt.as_deref(), Some("x"));
    // The old object does not count as the replacement's upload.
    assert_eq!(
        mapi(&emulator, "GET", "/assets/100001/finish_upload", "").status,
        422
    );
    assert_eq!(upload(&emulator, &signed_fields(&again), b"2").status, 204);
    assert_eq!(
        mapi(&emulator, "GET", "/assets/100001/finish_upload", "").status,
        200
    );
    assert_eq!(emulator.assets().len(), 1);
    // A new sign gets the next id.
    assert_eq!(
        sign(&emulator, r#"{"filename":"c.png"}"#).json()["id"],
        100_002
    );
}

#[test]
fn s3_checks() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .max_file_size(4)
        .start()
        .expect("starts");
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"a.png"}"#));
    let pairs = pairs(&fields);
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    let path = "/a.storyblok.com";
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        send(&emulator, "POST", path, headers, body).expect("answer")
    };

    let r = post(
        &[("Content-Type", &ct), ("Authorization", "x")],
        &multipart(&pairs, Some(b"1"), &[]),
    );
    assert_eq!(s3_error(&r).1, "InvalidArgument");
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(
        r.body
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>")
    );

    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nContent-Type: {ct}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    let body = multipart(&pairs, Some(b"1"), &[]);
    raw.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
    raw.extend_from_slice(&body);
    raw.extend_from_slice(b"\r\n0\r\n\r\n");
    let r = send_raw(&emulator, &raw).expect("answer");
    assert_eq!(
        s3_error(&r),
        (
            411,
            "MissingContentLength".into(),
            "You must provide the Content-Length HTTP header.".into()
        )
    );

    let r = post(&[("Content-Type", "text/plain")], b"x");
    assert_eq!(s3_error(&r).1, "MalformedPOSTRequest");
    let r = post(&[("Content-Type", &ct)], b"garbage");
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "MalformedPOSTRequest")
    );

    let big = "x".repeat(21 * 1024);
    let mut with_big: Vec<(&str, &str)> = pairs.clone();
    with_big.push(("x-ignore-padding", &big));
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&with_big, Some(b"1"), &[]),
    );
    assert_eq!(s3_error(&r).1, "MaxPostPreDataLengthExceeded");

    let r = post(&[("Content-Type", &ct)], &multipart(&pairs, None, &[]));
    assert_eq!(
        s3_error(&r).2,
        "POST requires exactly one file upload per request."
    );
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&pairs, Some(b"1"), &[("success_action_status", "201")]),
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "InvalidArgument")
    );

    let without_policy: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(n, _)| *n != "policy")
        .collect();
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&without_policy, Some(b"1"), &[]),
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "InvalidPolicyDocument")
    );

    let tampered: Vec<(&str, &str)> = pairs
        .iter()
        .map(|&(n, v)| {
            if n == "x-amz-signature" {
                (n, "0000")
            } else {
                (n, v)
            }
        })
        .collect();
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&tampered, Some(b"1"), &[]),
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (403, "SignatureDoesNotMatch")
    );

    let changed: Vec<(&str, &str)> = pairs
        .iter()
        .map(|&(n, v)| {
            if n == "Content-Type" {
                (n, "text/plain")
            } else {
                (n, v)
            }
        })
        .collect();
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&changed, Some(b"1"), &[]),
    );
    assert_eq!(
        s3_error(&r),
        (
            403,
            "AccessDenied".into(),
            "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$Content-Type\", \"image/png\"]"
                .into()
        )
    );

    let mut extra = pairs.clone();
    extra.insert(1, ("success_action_status", "201"));
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&extra, Some(b"1"), &[]),
    );
    assert_eq!(
        s3_error(&r),
        (
            403,
            "AccessDenied".into(),
            "Invalid according to Policy: Extra input fields: success_action_status".into()
        )
    );

    let mut dup = pairs.clone();
    dup.insert(0, ("acl", "public-read"));
    let r = post(&[("Content-Type", &ct)], &multipart(&dup, Some(b"1"), &[]));
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "InvalidArgument")
    );

    let r = post(&[("Content-Type", &ct)], &multipart(&pairs, Some(b""), &[]));
    assert_eq!((r.status, s3_error(&r).1.as_str()), (400, "EntityTooSmall"));
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&pairs, Some(b"12345"), &[]),
    );
    assert_eq!((r.status, s3_error(&r).1.as_str()), (400, "EntityTooLarge"));
    let r = post(
        &[("Content-Type", &ct)],
        &multipart(&pairs, Some(b"1234"), &[]),
    );
    assert_eq!(r.status, 204);

    // Every attempt was recorded; the parsed ones carry their form.
    let uploads = emulator.requests_for(Endpoint::Upload);
    assert_eq!(uploads.len(), 15);
    assert!(uploads[0].form.is_none() && uploads[1].form.is_none());
    assert!(
        uploads[14]
            .form
            .as_ref()
            .is_some_and(RecordedForm::file_is_last)
    );
}

#[test]
fn expired_policy() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .policy_ttl(Duration::ZERO)
        .start()
        .expect("starts");
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"a.png"}"#));
    let r = upload(&emulator, &fields, b"1");
    assert_eq!(
        s3_error(&r),
        (
            403,
            "AccessDenied".into(),
            "Invalid according to Policy: Policy expired.".into()
        )
    );
}

#[test]
fn a_huge_policy_ttl_signs_a_policy_for_the_year_9999() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .policy_ttl(Duration::MAX)
        .start()
        .expect("starts");
    let signed = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(signed.status, 200);
    let fields = signed_fields(&signed);
    let expires = fields
        .iter()
        .find(|(n, _)| n == "Expires")
        .map(|(_, v)| v.as_str());
    assert_eq!(expires, Some("Fri, 31 Dec 9999 23:59:59 GMT"));
    assert_eq!(upload(&emulator, &fields, b"1").status, 204);
}

#[test]
fn faults() {
    let emulator = unlimited();
    emulator.inject(Fault::respond(
        Endpoint::Sign,
        2,
        503,
        "{\"error\":\"busy\"}",
    ));
    emulator.inject(Fault::drop_connection(Endpoint::Upload, 1));
    emulator.inject(Fault::delay(Endpoint::Finish, 1, Duration::from_millis(50)));
    let first = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(first.status, 200);
    let second = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(
        (second.status, second.body.as_str()),
        (503, "{\"error\":\"busy\"}")
    );
    assert_eq!(
        emulator.assets().len(),
        1,
        "a fault response has no side effect"
    );
    let fields = signed_fields(&first);
    let pairs = pairs(&fields);
    let dropped = send(
        &emulator,
        "POST",
        "/a.storyblok.com",
        &[(
            "Content-Type",
            &format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        &multipart(&pairs, Some(b"1"), &[]),
    );
    assert!(dropped.is_none());
    assert_eq!(upload(&emulator, &fields, b"1").status, 204);
    let started = std::time::Instant::now();
    assert_eq!(
        mapi(&emulator, "GET", "/assets/100001/finish_upload", "").status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(50));
    let statuses: Vec<u16> = emulator.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 503, 0, 204, 200]);

    // Counting restarts after clear_requests.
    emulator.clear_requests();
    emulator.inject(Fault::respond(Endpoint::Sign, 1, 500, "<Error/>"));
    let r = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(r.status, 500);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert_eq!(emulator.requests().len(), 1);
}

#[test]
fn rate_limit_and_in_flight() {
    let emulator = Emulator::builder()
        .rate_limit(Some(3))
        .start()
        .expect("starts");
    // Start at the beginning of a second so all requests fall into one window.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    std::thread::sleep(Duration::from_nanos(u64::from(
        1_000_000_000 - now.subsec_nanos(),
    )));
    let statuses: Vec<u16> = (0..5)
        .map(|_| mapi(&emulator, "GET", "/assets/1", "").status)
        .collect();
    assert_eq!(statuses, [404, 404, 404, 429, 429]);
    let limited = emulator.requests().pop().expect("recorded");
    assert_eq!(limited.status, 429);
    let r = mapi(&emulator, "GET", "/assets/1", "");
    assert_eq!(
        r.body,
        r#"{"error":"Rate limit of 3 request per second has been reached. Retry later."}"#
    );
    assert!(r.header("retry-after").is_none());
    // S3 is not rate-limited.
    let fields = vec![("key".to_string(), "k".to_string())];
    assert_ne!(upload(&emulator, &fields, b"1").status, 429);

    // In flight: one slow request holds the only slot.
    let emulator = Emulator::builder()
        .rate_limit(None)
        .max_in_flight(1)
        .start()
        .expect("starts");
    emulator.inject(Fault::delay(Endpoint::Other, 1, Duration::from_millis(300)));
    std::thread::scope(|scope| {
        let slow = scope.spawn(|| mapi(&emulator, "GET", "/assets/1", "").status);
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(mapi(&emulator, "GET", "/assets/1", "").status, 429);
        assert_eq!(slow.join().ok(), Some(404));
    });
    assert_eq!(mapi(&emulator, "GET", "/assets/1", "").status, 404);
}

#[test]
fn keep_alive_and_expect_continue() {
    let emulator = unlimited();
    let body = r#"{"filename":"a.png"}"#;
    let token = emulator.token().to_string();
    let one = format!(
        "POST /v1/spaces/606/assets/ HTTP/1.1\r\nAuthorization: {token}\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n{body}",
        body.len()
    );
    let two = format!(
        "GET /v1/spaces/606/assets/100001 HTTP/1.1\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
    );
    let mut socket = TcpStream::connect(host(&emulator)).expect("connects");
    socket
        .write_all(format!("{one}{two}").as_bytes())
        .expect("writes");
    let mut out = String::new();
    socket.read_to_string(&mut out).expect("reads");
    assert!(out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2);
    assert_eq!(emulator.requests().len(), 2);
}

#[test]
fn reset_mid_body_cuts_the_upload_off() {
    let emulator = unlimited();
    emulator.inject(Fault::reset_mid_body(Endpoint::Upload, 1));
    let signed = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(signed.status, 200);
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let out = send_cut_short(
        &emulator,
        "POST",
        "/a.storyblok.com",
        &[("Content-Type", &content_type)],
    );
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));

    let uploads = emulator.requests_for(Endpoint::Upload);
    assert_eq!(uploads.len(), 1);
    let cut = &uploads[0];
    assert_eq!(
        (cut.status, cut.method.as_str(), cut.path.as_str()),
        (0, "POST", "/a.storyblok.com")
    );
    assert_eq!(cut.header("content-length"), Some("1000000"));
    assert_eq!(cut.header("content-type"), Some(content_type.as_str()));
    assert!(cut.body.is_empty() && cut.json.is_none() && cut.form.is_none());
    let key = signed_fields(&signed)
        .into_iter()
        .find(|(name, _)| name == "key")
        .map(|(_, key)| key)
        .expect("a signed key");
    assert!(emulator.object(&key).is_none() && emulator.asset(100_001).is_some());

    // The next upload, on a new connection, is handled normally.
    let fields = signed_fields(&signed);
    assert_eq!(upload(&emulator, &fields, b"1").status, 204);
    let statuses: Vec<u16> = emulator
        .requests_for(Endpoint::Upload)
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [0, 204]);
}

#[test]
fn reset_mid_body_counts_once_towards_nth() {
    let emulator = unlimited();
    emulator.inject(Fault::reset_mid_body(Endpoint::Sign, 1));
    emulator.inject(Fault::respond(
        Endpoint::Sign,
        2,
        503,
        r#"{"error":"busy"}"#,
    ));
    // Without a body, only the head is read before the connection is closed.
    emulator.inject(Fault::reset_mid_body(Endpoint::Other, 1));

    let token = emulator.token().to_string();
    let out = send_cut_short(
        &emulator,
        "POST",
        &format!("/v1/spaces/{}/assets/", emulator.space_id()),
        &[
            ("Authorization", &token),
            ("Content-Type", "application/json"),
        ],
    );
    assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    let second = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(
        (second.status, second.body.as_str()),
        (503, r#"{"error":"busy"}"#)
    );
    assert_eq!(sign(&emulator, r#"{"filename":"a.png"}"#).status, 200);
    assert_eq!(
        emulator.assets().len(),
        1,
        "the cut request had no side effect"
    );

    let path = format!("/v1/spaces/{}/assets/100001", emulator.space_id());
    assert!(send(&emulator, "GET", &path, &[("Authorization", &token)], b"").is_none());
    assert_eq!(mapi(&emulator, "GET", "/assets/100001", "").status, 200);

    let seen: Vec<(Endpoint, u16)> = emulator
        .requests()
        .iter()
        .map(|r| (r.endpoint, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (Endpoint::Sign, 0),
            (Endpoint::Sign, 503),
            (Endpoint::Sign, 200),
            (Endpoint::Other, 0),
            (Endpoint::Other, 200),
        ]
    );
    let cut = &emulator.requests()[0];
    assert!(cut.body.is_empty() && cut.json.is_none());
}

#[test]
fn urls_come_from_the_public_origin() {
    // By default, the bound address.
    let emulator = unlimited();
    let addr = emulator.addr();
    assert!(addr.ip().is_loopback() && addr.port() != 0);
    assert_eq!(emulator.public_origin(), format!("http://{addr}"));
    assert_eq!(emulator.api_url(), format!("http://{addr}/v1"));
    assert_eq!(emulator.s3_url(), format!("http://{addr}/a.storyblok.com"));
    assert_eq!(
        sign(&emulator, r#"{"filename":"a.png"}"#).json()["post_url"],
        format!("http://{addr}/a.storyblok.com")
    );

    // Behind a TLS-terminating proxy: handed-out URLs name the proxy, the socket stays local.
    let emulator = Emulator::builder()
        .rate_limit(None)
        .public_origin("https://localhost:4443/")
        .start()
        .expect("starts");
    assert_eq!(emulator.public_origin(), "https://localhost:4443");
    assert_eq!(emulator.api_url(), "https://localhost:4443/v1");
    assert_eq!(emulator.s3_url(), "https://localhost:4443/a.storyblok.com");
    let reply = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(
        reply.json()["post_url"],
        "https://localhost:4443/a.storyblok.com"
    );
    // Uploads still reach it through the forwarded socket.
    assert_eq!(upload(&emulator, &signed_fields(&reply), b"1").status, 204);
    assert!(emulator.addr().ip().is_loopback());
}

#[test]
fn a_cut_answer_sends_its_head_and_half_its_body_then_closes() {
    let emulator = unlimited();
    let stored = emulator.seed_asset("a.txt", b"0123456789".to_vec(), None);
    let path = format!("/a.storyblok.com/{}", stored.key);
    emulator.inject(Fault::cut_answer(Endpoint::Download, 1));
    let mut socket = std::net::TcpStream::connect(host(&emulator)).expect("connects");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(socket, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
    let mut out = Vec::new();
    // The connection closes (keep-alive was asked for) after half the body.
    socket.read_to_end(&mut out).expect("closed, not timed out");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("Content-Length: 10\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\n01234"), "{text}");
    assert_eq!(emulator.requests_for(Endpoint::Download)[0].status, 200);
    // The next one is whole.
    let reply = send(&emulator, "GET", &path, &[], b"").expect("a reply");
    assert_eq!(reply.bytes, b"0123456789");
}

#[test]
fn drip_sends_the_body_a_byte_at_a_time_and_hold_waits_for_another_endpoint() {
    let emulator = unlimited();
    let stored = emulator.seed_asset("a.txt", b"dripped".to_vec(), None);
    let path = format!("/a.storyblok.com/{}", stored.key);
    emulator.inject(Fault::drip(
        Endpoint::Download,
        1,
        Duration::from_millis(20),
    ));
    let started = std::time::Instant::now();
    let reply = send(&emulator, "GET", &path, &[], b"").expect("a reply");
    assert_eq!(
        (reply.status, reply.bytes.as_slice()),
        (200, &b"dripped"[..])
    );
    assert!(started.elapsed() >= Duration::from_millis(7 * 20));

    // Held until the Management API sees a request: not answered before it.
    emulator.inject(Fault::hold(
        Endpoint::Download,
        2,
        Endpoint::Other,
        1,
        Duration::from_secs(30),
    ));
    let (done, answered) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let reply = send(&emulator, "GET", &path, &[], b"");
            let _ = done.send(reply.map(|r| (r.status, r.bytes)));
        });
        assert!(answered.recv_timeout(Duration::from_millis(300)).is_err());
        assert_eq!(mapi(&emulator, "GET", "/assets/1", "").status, 404);
        assert_eq!(
            answered.recv_timeout(Duration::from_secs(20)).ok(),
            Some(Some((200, b"dripped".to_vec())))
        );
    });
}
