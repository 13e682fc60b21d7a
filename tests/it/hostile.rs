//! Hostile or slow servers and odd sources: every answer is untrusted, every wait bounded,
//! and no record is lost track of.

use crate::common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{RATE_LIMIT_BODY, builder_for, client_without_retries, png, setup, setup_with};
use storyblok_assets::{AssetParams, ErrorKind, Source, Step};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// A sign answer in Storyblok's shape, for asset `id`, posting to `post_url`.
fn sign_answer(id: u64, post_url: &str, extra: &str) -> String {
    format!(
        r#"{{"id": {id}, "pretty_url": "//a.storyblok.com/f/606/abc/a.png",
        "public_url": "https://s3.amazonaws.com/a.storyblok.com/f/606/abc/a.png",
        "post_url": "{post_url}",
        "fields": {{"key": "f/606/abc/a.png", "acl": "public-read"}}{extra}}}"#
    )
}

/// A one-connection HTTP server on loopback: reads one request whole, then lets `answer`
/// write whatever it likes to the socket.
fn serve_once(answer: impl FnOnce(&mut TcpStream) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        answer(&mut stream);
    });
    format!("http://{addr}/bucket")
}

#[test]
fn a_sign_answer_too_large_to_read_still_names_its_record() {
    let s = setup();
    // 9 MiB of metadata after the id: more than the SDK reads of an answer.
    let padding = format!(r#", "meta_data": {{"junk": "{}"}}"#, "x".repeat(9 << 20));
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        1,
        200,
        format!(r#"{{"id": 424242{padding}, "post_url": "https://x", "fields": {{}}}}"#),
    ));
    let client = builder_for(&s.emulator)
        .delete_on_failure(true)
        .build()
        .expect("client");
    let err = common::put(&client, s.space, "a.txt", b"a").expect_err("unreadable answer");
    assert_eq!(err.asset_id(), Some(424242), "{err:?}");
    assert_eq!(err.step(), Some(Step::Sign));
    // delete_on_failure acts on the record the answer named.
    let deletes = s.emulator.requests_for(Endpoint::Delete);
    assert_eq!(deletes.len(), 1, "{err:?}");
    assert!(
        deletes[0].path.ends_with("/assets/424242"),
        "{}",
        deletes[0].path
    );
}

#[test]
fn a_dripping_s3_error_body_is_bounded_by_the_call_timeout() {
    let s = setup();
    let post_url = serve_once(|stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: 40\r\n\r\n<",
        );
        for _ in 0..39 {
            std::thread::sleep(Duration::from_millis(250));
            if stream.write_all(b"x").is_err() {
                return;
            }
        }
    });
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        1,
        200,
        sign_answer(7, &post_url, ""),
    ));
    let client = builder_for(&s.emulator)
        .max_retries(0)
        .timeout_call(Duration::from_secs(1))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = common::put(&client, s.space, "a.png", b"abc").expect_err("refused");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}: {err}");
    assert_eq!(err.step(), Some(Step::Upload), "{err:?}");
    assert_eq!(err.asset_id(), Some(7));
}

#[test]
fn a_retry_after_beyond_the_call_budget_fails_at_once_with_the_wait() {
    let s = setup();
    s.emulator.inject(
        Fault::respond(Endpoint::Sign, 1, 429, RATE_LIMIT_BODY)
            .with_header("Retry-After", "999999"),
    );
    let started = Instant::now();
    let err = common::put(&s.client, s.space, "a.txt", b"a").expect_err("rate limited");
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    match err.kind() {
        ErrorKind::RateLimited {
            attempts: 1,
            retry_after,
            ..
        } => assert_eq!(*retry_after, Some(Duration::from_secs(999_999))),
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(err.to_string().contains("999999"), "{err}");

    // A far date is the same: the wait it asks for is reported, not waited out.
    let far = "Fri, 01 Jan 2100 00:00:00 GMT";
    s.emulator.inject(
        Fault::respond(Endpoint::Sign, 2, 429, RATE_LIMIT_BODY).with_header("Retry-After", far),
    );
    let started = Instant::now();
    let err = common::put(&s.client, s.space, "b.txt", b"b").expect_err("rate limited");
    assert!(started.elapsed() < Duration::from_secs(2), "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::RateLimited { retry_after: Some(wait), .. } if *wait > Duration::from_secs(86_400)),
        "{err:?}"
    );
}

#[test]
fn waits_between_retries_stay_within_the_call_budget() {
    let s = setup();
    // Each answer asks for 1 s; the budget holds two such waits, not six.
    for nth in 1..=10 {
        s.emulator.inject(
            Fault::respond(Endpoint::Sign, nth, 429, RATE_LIMIT_BODY)
                .with_header("Retry-After", "1"),
        );
    }
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_millis(2500))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = common::put(&client, s.space, "a.txt", b"a").expect_err("rate limited");
    let took = started.elapsed();
    // Six waits of 1 s would take past 6 s; the budget ends it at 2.5 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    assert!(
        matches!(err.kind(), ErrorKind::RateLimited { .. }),
        "{err:?}"
    );
    let signs = s.emulator.requests_for(Endpoint::Sign).len();
    assert!(signs <= 3);
    // It did wait and try again (each wait 1 to 1.25 s, the budget 2.5 s): giving up at
    // the first 429 would pass the bounds above.
    assert!((2..=3).contains(&signs), "{signs} signs: {err:?}");
    assert!(took >= Duration::from_secs(1), "took {took:?}");
    // (An attempt begun with a sliver of budget left may time out before the emulator
    // records it, so the count can be one above the signs seen.)
    assert!(
        matches!(
            err.kind(),
            ErrorKind::RateLimited {
                attempts: 2..=3,
                ..
            }
        ),
        "{signs} signs: {err:?}"
    );
}

#[test]
fn a_backoff_checked_against_the_budget_is_the_backoff_slept() {
    // Every finish is answered 500. A retry's wait is drawn between 1 and 2 s, and a
    // budget of 1.5 s fits only some draws: a wait found to fit and then drawn again for
    // the sleep overran the budget by more than 200 ms in about one call in seven. (200
    // ms is a margin 48 threads on a busy 2-core machine keep.) The calls run side by
    // side, each on its own client, so that the pacer adds no wait.
    const CALLS: usize = 48;
    let budget = Duration::from_millis(1500);
    let s = setup();
    for nth in 1..=CALLS * 8 {
        s.emulator.inject(Fault::respond(
            Endpoint::Finish,
            nth,
            500,
            r#"{"error":"down"}"#,
        ));
    }
    let uploaded: Vec<_> = (0..CALLS)
        .map(|i| {
            let client = builder_for(&s.emulator)
                .timeout_call(budget)
                .backoff(Duration::from_secs(2), Duration::from_secs(2))
                .build()
                .expect("client");
            client
                .sign(s.space, AssetParams::new().filename(format!("{i}.txt")))
                .expect("signed")
                .upload(Source::bytes(b"a"))
                .expect("uploaded")
        })
        .collect();
    let took: Vec<Duration> = std::thread::scope(|scope| {
        let calls: Vec<_> = uploaded
            .into_iter()
            .map(|uploaded| {
                scope.spawn(move || {
                    let started = Instant::now();
                    let err = uploaded.finish().expect_err("every finish is refused");
                    assert_eq!(err.step(), Some(Step::Finish), "{err:?}");
                    started.elapsed()
                })
            })
            .collect();
        calls
            .into_iter()
            .map(|call| call.join().expect("no panic"))
            .collect()
    });
    let slowest = took.iter().max().copied().unwrap_or_default();
    assert!(
        slowest < budget + Duration::from_millis(200),
        "a finish took {slowest:?} on a budget of {budget:?}"
    );
    // Retries happened: the budget, not the first answer, ended the calls.
    assert!(s.emulator.requests_for(Endpoint::Finish).len() > CALLS);
}

#[test]
fn a_post_url_with_user_info_is_refused() {
    let s = setup();
    for post_url in [
        "https://user:pass@s3.amazonaws.com/a.storyblok.com",
        "https://user@s3.amazonaws.com/a.storyblok.com",
    ] {
        s.emulator.clear_requests();
        s.emulator.inject(Fault::respond(
            Endpoint::Sign,
            1,
            200,
            sign_answer(9, post_url, ""),
        ));
        let err = common::put(
            &client_without_retries(&s.emulator),
            s.space,
            "a.png",
            b"abc",
        )
        .expect_err("refused");
        assert!(
            matches!(err.kind(), ErrorKind::InsecureUrl { .. }),
            "{post_url}: {err:?}"
        );
        assert_eq!(err.asset_id(), Some(9));
        assert!(s.emulator.requests_for(Endpoint::Upload).is_empty());
    }
    // The same for a base URL.
    let err = storyblok_assets::Client::builder(storyblok_assets::Token::personal("t"))
        .base_url("https://me:secret@mapi.storyblok.com/v1")
        .build()
        .expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::InsecureUrl { .. }),
        "{err:?}"
    );
}

#[test]
fn a_finish_answer_for_another_asset_is_an_error() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Finish,
        1,
        200,
        r#"{"id": 1, "filename": "https://s3.amazonaws.com/a.storyblok.com/f/606/x/other.png"}"#,
    ));
    let err = common::put(
        &client_without_retries(&s.emulator),
        s.space,
        "a.png",
        b"abc",
    )
    .expect_err("another asset");
    assert!(
        matches!(err.kind(), ErrorKind::UnexpectedResponse { message, .. } if message.contains("asset 1")),
        "{err:?}"
    );
    assert_eq!(err.step(), Some(Step::Finish));
    assert_ne!(err.asset_id(), Some(1));
    // The error names the record that was signed, not the one the answer claimed.
    let signed = s.emulator.assets();
    assert_eq!(signed.len(), 1, "{signed:?}");
    assert_ne!(signed[0].id, 1, "the test needs the signed id to differ");
    assert_eq!(err.asset_id(), Some(signed[0].id), "{err:?}");
}

#[test]
fn an_unusable_finish_filename_falls_back_to_the_signed_url() {
    let s = setup();
    for filename in [
        "javascript:alert(1)",
        "http://evil.example/f/1.png",
        "not a url",
        "",
        // https, but not where the sign said the file goes nor a Storyblok asset host.
        "https://evil.example/x.png",
        "//evil.example/x.png",
        // The signed S3 host, another bucket: its CDN form is another site.
        "https://s3.amazonaws.com/evil.example/x.png",
    ] {
        s.emulator.clear_requests();
        let id = s.emulator.assets().len() as u64 + 100_001;
        s.emulator.inject(Fault::respond(
            Endpoint::Finish,
            1,
            200,
            format!(
                r#"{{"id": {id}, "filename": {}}}"#,
                serde_json::json!(filename)
            ),
        ));
        let asset = common::put(&s.client, s.space, "a.png", &png(2, 1)).expect("uploaded");
        assert_eq!(asset.id, id);
        let stored = s.emulator.asset(asset.id).expect("record");
        assert_eq!(
            asset.filename,
            format!("https://a.storyblok.com/{}", stored.key),
            "{filename:?}"
        );
        assert_eq!(s.emulator.requests_for(Endpoint::Finish).len(), 1);
    }
    // One of Storyblok's asset hosts is used, though the sign named another.
    let id = s.emulator.assets().len() as u64 + 100_001;
    let elsewhere = "https://a2.storyblok.com/f/606/abc/a.png";
    s.emulator.inject(Fault::respond(
        Endpoint::Finish,
        2,
        200,
        format!(r#"{{"id": {id}, "filename": "{elsewhere}"}}"#),
    ));
    let asset = common::put(&s.client, s.space, "a.png", &png(2, 1)).expect("uploaded");
    assert_eq!(asset.filename, elsewhere);
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_before_it_is_opened() {
    let s = setup();
    let dir = common::temp_dir("hostile-fifo");
    let fifo = dir.join("pipe.png");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let signed = s
        .client
        .sign(s.space, AssetParams::new().filename("pipe.png"))
        .expect("signed");
    // Opening a FIFO blocks until a writer comes: run it aside so a regression fails here
    // instead of hanging the suite.
    let (done, result) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = done.send(signed.upload(Source::path(&path)).map(|_| ()));
    });
    let err = result
        .recv_timeout(Duration::from_secs(5))
        .expect("the upload did not block on the FIFO")
        .expect_err("not a file");
    assert!(matches!(err.kind(), ErrorKind::Source { .. }), "{err:?}");
    assert!(err.to_string().contains("pipe.png"), "{err}");
    // Client::upload refuses it before signing: aside too, for the same reason.
    let (done, result) = std::sync::mpsc::channel();
    let client = s.client.clone();
    let space = s.space;
    std::thread::spawn(move || {
        let _ = done.send(client.upload(space, AssetParams::new(), Source::path(&fifo)));
    });
    let err = result
        .recv_timeout(Duration::from_secs(5))
        .expect("Client::upload did not block on the FIFO")
        .expect_err("not a file");
    assert_eq!(err.asset_id(), None, "{err:?}");
    assert!(matches!(err.kind(), ErrorKind::Source { .. }), "{err:?}");
    assert_eq!(err.step(), None, "refused before any call: {err:?}");
    assert!(err.to_string().contains("pipe.png"), "{err}");
    assert_eq!(
        s.emulator.requests_for(Endpoint::Sign).len(),
        1,
        "only the first part's sign"
    );
}

#[test]
fn a_reader_is_not_read_past_its_declared_length() {
    /// A pipe whose writer stays open: after its bytes, a read would block; here it fails
    /// the test instead.
    struct OpenPipe {
        data: Vec<u8>,
        at: usize,
    }
    impl Read for OpenPipe {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            assert!(self.at < self.data.len(), "read past the declared length");
            let n = buf.len().min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }
    let s = setup_with(Emulator::builder());
    let pipe = OpenPipe {
        data: b"streamed bytes".to_vec(),
        at: 0,
    };
    let asset = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("pipe.txt"),
            Source::reader(pipe, 14),
        )
        .expect("uploaded");
    let key = s.emulator.asset(asset.id).expect("record").key;
    assert_eq!(
        s.emulator.object(&key).expect("object").bytes,
        b"streamed bytes"
    );
}

#[test]
fn a_finish_answer_that_drips_past_the_budget_is_an_error_not_a_success() {
    let s = setup();
    // The finish is done and answered 200, but its body would take a byte every 5 s: the
    // call's budget ends with none of it. An empty body read as a success would give an
    // asset made up from the sign answer.
    s.emulator
        .inject(Fault::drip(Endpoint::Finish, 1, Duration::from_secs(5)));
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_secs(1))
        .build()
        .expect("client");
    let err = common::put(&client, s.space, "a.png", &png(2, 1)).expect_err("no whole answer");
    assert_eq!(err.step(), Some(Step::Finish), "{err:?}");
    assert!(
        matches!(err.kind(), ErrorKind::UnexpectedResponse { status: 200, message, .. }
            if message.contains("broke off after 0 bytes")),
        "{err:?}"
    );
    assert_eq!(err.body(), Some(""));
    let cause = std::error::Error::source(&err).expect("the read's error");
    assert!(cause.to_string().contains("timeout"), "{cause}");
    let record = s.emulator.assets();
    assert_eq!(err.asset_id(), Some(record[0].id));
    // Answered once: a spent budget is not tried again.
    assert_eq!(common::statuses(&s.emulator, Endpoint::Finish), [200]);
}

#[test]
fn a_success_whose_body_stalls_is_tried_again_when_the_call_may_be() {
    let s = setup();
    // A finish and a folder listing whose bodies stall for longer than the idle timeout:
    // asked again, they arrive whole.
    s.emulator
        .inject(Fault::drip(Endpoint::Finish, 1, Duration::from_secs(4)));
    s.emulator.inject(Fault::drip(
        Endpoint::ListFolders,
        1,
        Duration::from_secs(4),
    ));
    let folder = s.emulator.create_folder("icons", None);
    let client = builder_for(&s.emulator)
        .timeout_idle(Duration::from_millis(500))
        .build()
        .expect("client");
    let asset = common::put(&client, s.space, "a.png", &png(2, 1)).expect("finished");
    let stored = s.emulator.asset(asset.id).expect("record");
    assert!(stored.finished);
    assert_eq!(common::statuses(&s.emulator, Endpoint::Finish), [200, 200]);
    // The listing read whole finds the folder: none is created.
    assert_eq!(client.folder_path(s.space, "icons").expect("found"), folder);
    assert_eq!(
        common::statuses(&s.emulator, Endpoint::ListFolders),
        [200, 200]
    );
    assert!(s.emulator.requests_for(Endpoint::CreateFolder).is_empty());
}

#[test]
fn a_sign_answer_that_breaks_off_names_the_record_it_created() {
    let s = setup();
    // The record is created and its id is in the first bytes; the rest drips past the
    // budget. The sign is not repeated (that would create a second record), and the
    // error names the one that exists, which delete_on_failure removes.
    s.emulator
        .inject(Fault::drip(Endpoint::Sign, 1, Duration::from_millis(20)));
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_secs(1))
        .delete_on_failure(true)
        .build()
        .expect("client");
    let err = common::put(&client, s.space, "a.png", &png(2, 1)).expect_err("broke off");
    assert_eq!(err.step(), Some(Step::Sign), "{err:?}");
    assert_eq!(err.kind(), &ErrorKind::RecordDeleted, "{err:?}");
    let id = err.asset_id().expect("the record is named");
    assert_eq!(common::statuses(&s.emulator, Endpoint::Sign), [200]);
    // The record named was the one created, and it is gone.
    let deletes = s.emulator.requests_for(Endpoint::Delete);
    assert_eq!(deletes.len(), 1, "{err:?}");
    assert!(deletes[0].path.ends_with(&format!("/assets/{id}")));
    assert!((200..300).contains(&deletes[0].status), "{deletes:?}");
    assert!(s.emulator.assets().is_empty());
}

/// A reader that gives `head`, then blocks until its `release` sender is dropped (the test
/// holds it, so that a thread left blocked in it ends with the test).
struct StallsAfter {
    head: Vec<u8>,
    at: usize,
    release: std::sync::mpsc::Receiver<()>,
}

impl Read for StallsAfter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at < self.head.len() {
            let n = buf.len().min(self.head.len() - self.at);
            buf[..n].copy_from_slice(&self.head[self.at..self.at + n]);
            self.at += n;
            return Ok(n);
        }
        let _ = self.release.recv();
        Err(std::io::Error::other("released"))
    }
}

/// Uploads a reader of 100 declared bytes that stalls after 10, on a thread of its own;
/// the upload's result, or `None` when it has not come within 20 s.
fn upload_stalling(
    client: storyblok_assets::Client,
    space: u64,
) -> (
    Option<Result<storyblok_assets::Asset, storyblok_assets::Error>>,
    std::sync::mpsc::Sender<()>,
) {
    let (hold, release) = std::sync::mpsc::channel();
    let reader = StallsAfter {
        head: common::pattern(10),
        at: 0,
        release,
    };
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let params = AssetParams::new().filename("stalls.bin");
        let _ = done.send(client.upload(space, params, Source::reader(reader, 100)));
    });
    (result.recv_timeout(Duration::from_secs(20)).ok(), hold)
}

#[test]
fn a_reader_that_stalls_fails_within_the_idle_timeout() {
    let s = setup();
    let client = builder_for(&s.emulator)
        .timeout_idle(Duration::from_millis(500))
        .build()
        .expect("client");
    let (result, _hold) = upload_stalling(client, s.space);
    let err = result
        .expect("the upload did not wait for the reader for ever")
        .expect_err("stalled");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Source {
                path: None,
                io: std::io::ErrorKind::TimedOut
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.step(), Some(Step::Upload));
    let cause = std::error::Error::source(&err).expect("the read's error");
    assert!(cause.to_string().contains("idle timeout"), "{cause}");
    assert!(err.to_string().contains("timeout_idle"), "{err}");
    // One attempt, cut off mid-body (recorded without a status), and nothing stored.
    assert_eq!(common::statuses(&s.emulator, Endpoint::Upload), [0]);
    let record = s
        .emulator
        .asset(err.asset_id().expect("signed"))
        .expect("record");
    assert!(s.emulator.object(&record.key).is_none());
}

#[test]
fn a_reader_that_stalls_is_bounded_by_the_upload_budget() {
    let s = setup();
    // The idle timeout would wait 30 s; the upload's budget is half a second.
    let client = builder_for(&s.emulator)
        .timeout_upload(Duration::from_millis(500))
        .build()
        .expect("client");
    let (result, _hold) = upload_stalling(client, s.space);
    let err = result
        .expect("the upload did not outlast its budget")
        .expect_err("stalled");
    assert!(
        matches!(
            err.kind(),
            ErrorKind::Source {
                io: std::io::ErrorKind::TimedOut,
                ..
            }
        ),
        "{err:?}"
    );
    let cause = std::error::Error::source(&err).expect("the read's error");
    assert!(cause.to_string().contains("timeout_upload"), "{cause}");
    assert_eq!(common::statuses(&s.emulator, Endpoint::Upload), [0]);
}

#[test]
fn a_slow_but_steady_reader_still_uploads() {
    /// A byte every 20 ms: 0.8 s in all, longer than the idle timeout, but never idle.
    struct Trickle {
        data: Vec<u8>,
        at: usize,
    }
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.at == self.data.len() || buf.is_empty() {
                return Ok(0);
            }
            std::thread::sleep(Duration::from_millis(20));
            buf[0] = self.data[self.at];
            self.at += 1;
            Ok(1)
        }
    }
    let s = setup();
    let client = builder_for(&s.emulator)
        .timeout_idle(Duration::from_millis(500))
        .build()
        .expect("client");
    let data = common::pattern(40);
    let reader = Trickle {
        data: data.clone(),
        at: 0,
    };
    let asset = client
        .upload(
            s.space,
            AssetParams::new().filename("trickle.bin"),
            Source::reader(reader, 40),
        )
        .expect("uploaded");
    let key = s.emulator.asset(asset.id).expect("record").key;
    assert_eq!(s.emulator.object(&key).expect("object").bytes, data);
}
