//! Retries, pacing, signing again and clean failure, against the emulator's faults.
//! Every test asserts on the emulator's request log: what was sent, how often, and that
//! no record was created twice.

use crate::common;

use std::time::{Duration, Instant};

use common::{RATE_LIMIT_BODY, pattern, put, setup, setup_with, statuses, temp_dir};
use storyblok_assets::{AssetParams, Client, Error, ErrorKind, Source, Step, Token};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// A client with a quick backoff, so retries cost milliseconds.
fn builder_for(emulator: &Emulator) -> storyblok_assets::ClientBuilder {
    common::builder_for(emulator).backoff(Duration::from_millis(10), Duration::from_millis(50))
}

fn s3_error(code: &str, message: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>R</RequestId><HostId>H</HostId></Error>"
    )
}

/// The asset's stored bytes.
fn stored_bytes(emulator: &Emulator, asset_id: u64) -> Vec<u8> {
    let asset = emulator.asset(asset_id).expect("record");
    emulator.object(&asset.key).expect("object").bytes
}

#[test]
fn bursts_of_429_on_sign_and_finish_give_one_record_each() {
    let s = setup();
    for nth in 1..=3 {
        s.emulator
            .inject(Fault::respond(Endpoint::Sign, nth, 429, RATE_LIMIT_BODY));
        s.emulator
            .inject(Fault::respond(Endpoint::Finish, nth, 429, RATE_LIMIT_BODY));
    }
    let client = builder_for(&s.emulator).build().expect("client");
    let data = pattern(5000);
    let asset = put(&client, s.space, "a.bin", &data[..]).expect("upload despite the 429s");
    let second = put(&client, s.space, "b.bin", &data[..]).expect("second upload");

    assert_eq!(s.emulator.assets().len(), 2, "one record per asset");
    assert_eq!(stored_bytes(&s.emulator, asset.id), data);
    assert_eq!(stored_bytes(&s.emulator, second.id), data);
    assert_eq!(
        statuses(&s.emulator, Endpoint::Sign),
        [429, 429, 429, 200, 200]
    );
    assert_eq!(
        statuses(&s.emulator, Endpoint::Finish),
        [429, 429, 429, 200, 200]
    );
}

#[test]
fn retry_after_is_honoured() {
    let s = setup();
    s.emulator.inject(
        Fault::respond(Endpoint::Sign, 1, 429, RATE_LIMIT_BODY).with_header("Retry-After", "1"),
    );
    let client = builder_for(&s.emulator).build().expect("client");
    let started = Instant::now();
    put(&client, s.space, "a.txt", &b"a"[..]).expect("upload");
    // The backoff alone is at most 50 ms here; the header asked for a full second.
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(statuses(&s.emulator, Endpoint::Sign), [429, 200]);
}

#[test]
fn a_429_that_never_ends_is_a_distinct_error_once_the_budget_is_spent() {
    let s = setup();
    for nth in 1..=200 {
        s.emulator
            .inject(Fault::respond(Endpoint::Sign, nth, 429, RATE_LIMIT_BODY));
    }
    // A 429 was not processed: it is retried while the call's budget lasts, however
    // many times (max_retries bounds the other retries), then reported.
    let client = builder_for(&s.emulator)
        .max_retries(2)
        .timeout_call(Duration::from_millis(1500))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = put(&client, s.space, "a.txt", &b"a"[..]).expect_err("rate limited");
    let took = started.elapsed();
    // Past the budget (1.5 s) by no more than a loaded machine's delay; retrying until the
    // 200 answers run out would take minutes and then succeed.
    assert!(took < Duration::from_secs(6), "took {took:?}");
    assert_eq!(err.step(), Some(Step::Sign));
    match err.kind() {
        ErrorKind::RateLimited {
            attempts, message, ..
        } => {
            assert!(*attempts > 3, "retried past max_retries: {attempts}");
            assert!(message.starts_with("Rate limit of 1000"));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(s.emulator.assets().len(), 0);

    // max_retries(0) still means one attempt.
    let s = setup();
    s.emulator
        .inject(Fault::respond(Endpoint::Sign, 1, 429, RATE_LIMIT_BODY));
    let once = builder_for(&s.emulator)
        .max_retries(0)
        .build()
        .expect("client");
    let err = put(&once, s.space, "b.txt", &b"b"[..]).expect_err("rate limited");
    assert!(
        matches!(err.kind(), ErrorKind::RateLimited { attempts: 1, .. }),
        "{err:?}"
    );
}

#[test]
fn retries_after_429s_leave_the_other_retries_intact() {
    let s = setup();
    for nth in 1..=3 {
        s.emulator
            .inject(Fault::respond(Endpoint::Finish, nth, 429, RATE_LIMIT_BODY));
    }
    s.emulator
        .inject(Fault::respond(Endpoint::Finish, 4, 502, "bad gateway"));
    // Two retries for 5xx and lost connections; the three 429s do not use them up.
    let client = builder_for(&s.emulator)
        .max_retries(2)
        .build()
        .expect("client");
    put(&client, s.space, "a.txt", &b"a"[..]).expect("finished after the 429s and a 502");
    assert_eq!(
        statuses(&s.emulator, Endpoint::Finish),
        [429, 429, 429, 502, 200]
    );
}

#[test]
fn s3_503_500_timeout_and_a_reset_midway_are_retried_byte_exact() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        1,
        503,
        s3_error("SlowDown", "Please reduce your request rate."),
    ));
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        2,
        500,
        s3_error("InternalError", "We encountered an internal error."),
    ));
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        3,
        400,
        s3_error(
            "RequestTimeout",
            "Your socket connection to the server was not read from.",
        ),
    ));
    s.emulator
        .inject(Fault::reset_mid_body(Endpoint::Upload, 4));
    let path = temp_dir("s3_retries").join("big.bin");
    let data = pattern(3 * 1024 * 1024 + 5);
    std::fs::write(&path, &data).expect("write");
    let client = builder_for(&s.emulator).build().expect("client");
    let asset = client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect("upload after four failures");

    assert_eq!(
        statuses(&s.emulator, Endpoint::Upload),
        [503, 500, 400, 0, 204]
    );
    assert_eq!(stored_bytes(&s.emulator, asset.id), data);
    assert_eq!(s.emulator.assets().len(), 1);
    assert_eq!(
        s.emulator.requests_for(Endpoint::Sign).len(),
        1,
        "S3 retries sign nothing"
    );
}

#[test]
fn bytes_and_seekable_readers_are_replayed_plain_readers_are_not() {
    let s = setup();
    let client = builder_for(&s.emulator).build().expect("client");
    let data = pattern(256 * 1024);

    s.emulator
        .inject(Fault::reset_mid_body(Endpoint::Upload, 1));
    let from_bytes = put(&client, s.space, "a.bin", &data[..]).expect("bytes are replayed");
    assert_eq!(stored_bytes(&s.emulator, from_bytes.id), data);

    s.emulator
        .inject(Fault::reset_mid_body(Endpoint::Upload, 3));
    let mut cursor = std::io::Cursor::new([b"HEADER".as_slice(), &data].concat());
    cursor.set_position(6);
    let seekable = client
        .upload(
            s.space,
            AssetParams::new().filename("b.bin"),
            Source::seekable(cursor, data.len() as u64),
        )
        .expect("a seekable reader is replayed from where it started");
    assert_eq!(stored_bytes(&s.emulator, seekable.id), data);

    s.emulator
        .inject(Fault::reset_mid_body(Endpoint::Upload, 5));
    let err = client
        .upload(
            s.space,
            AssetParams::new().filename("c.bin"),
            Source::reader(std::io::Cursor::new(data.clone()), data.len() as u64),
        )
        .expect_err("a plain reader cannot be replayed");
    match err.kind() {
        ErrorKind::NotReplayable => {
            let cause = std::error::Error::source(&err)
                .and_then(|c| c.downcast_ref::<Error>())
                .expect("the failure that was not retried");
            assert_eq!(cause.kind(), &ErrorKind::Transport, "{cause:?}");
            assert_eq!(cause.step(), Some(Step::Upload));
        }
        other => panic!("expected NotReplayable, got {other:?}"),
    }
    assert!(err.to_string().contains("cannot be rewound"), "{err}");
    assert_eq!(statuses(&s.emulator, Endpoint::Upload), [0, 204, 0, 204, 0]);
}

#[test]
fn an_expired_policy_signs_again_for_the_same_record() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        1,
        403,
        s3_error(
            "AccessDenied",
            "Invalid according to Policy: Policy expired.",
        ),
    ));
    let data = pattern(1000);
    let client = builder_for(&s.emulator).build().expect("client");
    let asset = client
        .upload(
            s.space,
            AssetParams::new()
                .filename("late.bin")
                .metadata(storyblok_assets::AssetMeta::new().alt("A")),
            Source::bytes(&data[..]),
        )
        .expect("upload after signing again");

    assert_eq!(s.emulator.assets().len(), 1, "no second record");
    assert_eq!(stored_bytes(&s.emulator, asset.id), data);
    let signs = s.emulator.requests_for(Endpoint::Sign);
    assert_eq!(signs.len(), 2);
    let first = signs[0].json.clone().expect("json");
    let second = signs[1].json.clone().expect("json");
    assert_eq!(first.get("id"), None);
    assert_eq!(
        second["id"],
        serde_json::json!(asset.id),
        "the second sign replaces the record"
    );
    assert_eq!(second["alt"], "A", "with the same parameters");
    assert_eq!(statuses(&s.emulator, Endpoint::Upload), [403, 204]);
}

#[test]
fn a_policy_that_will_have_expired_is_signed_again_before_sending() {
    let s = setup_with(Emulator::builder().policy_ttl(Duration::from_secs(2)));
    let client = builder_for(&s.emulator).build().expect("client");
    let request = AssetParams::new()
        .filename("slow.bin")
        .for_source(&Source::bytes(&b"abc"[..]))
        .expect("describe");
    let signed = client.sign(s.space, request).expect("sign");
    let id = signed.asset_id();
    std::thread::sleep(Duration::from_millis(1500));
    signed
        .upload(Source::bytes(&b"abc"[..]))
        .expect("upload")
        .finish()
        .expect("finish");

    assert_eq!(
        statuses(&s.emulator, Endpoint::Upload),
        [204],
        "S3 never saw the stale policy"
    );
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 2);
    assert_eq!(s.emulator.assets().len(), 1);
    assert_eq!(stored_bytes(&s.emulator, id), b"abc");
}

#[test]
fn a_sign_is_never_retried_blindly() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        1,
        500,
        r#"{"error":"Internal failure 42"}"#,
    ));
    let client = builder_for(&s.emulator).build().expect("client");
    let err = put(&client, s.space, "a.txt", &b"a"[..]).expect_err("500");
    assert_eq!(err.status(), Some(500));
    assert!(err.to_string().contains("500"), "{err}");
    assert!(err.to_string().contains("Internal failure 42"), "{err}");
    assert!(
        matches!(err.kind(), ErrorKind::Api { body, .. } if body.contains("Internal failure 42"))
    );
    assert_eq!(
        s.emulator.requests_for(Endpoint::Sign).len(),
        1,
        "exactly one attempt"
    );

    // A connection lost after the request went out: the record may exist, so no retry.
    s.emulator.inject(Fault::drop_connection(Endpoint::Sign, 2));
    let err = put(&client, s.space, "b.txt", &b"b"[..]).expect_err("dropped");
    assert_eq!(err.kind(), &ErrorKind::Transport, "{err:?}");
    assert_eq!(err.step(), Some(Step::Sign));
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 2);

    // 401 and 422 are answers, not accidents.
    let wrong = Client::builder(Token::personal("wrong"))
        .base_url(s.emulator.api_url())
        .build()
        .expect("client");
    let err = put(&wrong, s.space, "c.txt", &b"c"[..]).expect_err("401");
    assert_eq!(err.status(), Some(401));
    let err = client
        .upload(
            s.space,
            AssetParams::new().filename("d.txt").folder(404_404),
            Source::bytes(&b"d"[..]),
        )
        .expect_err("422");
    assert_eq!(err.status(), Some(422));
    assert_eq!(statuses(&s.emulator, Endpoint::Sign), [500, 0, 401, 422]);
    assert!(s.emulator.assets().is_empty());
}

#[test]
fn finish_is_retried_on_5xx_and_lost_connections() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Finish,
        1,
        502,
        "<html>Bad Gateway</html>",
    ));
    s.emulator
        .inject(Fault::drop_connection(Endpoint::Finish, 2));
    let client = builder_for(&s.emulator).build().expect("client");
    let asset = put(&client, s.space, "a.txt", &b"a"[..]).expect("finish retried");
    assert_eq!(statuses(&s.emulator, Endpoint::Finish), [502, 0, 200]);
    assert!(s.emulator.asset(asset.id).expect("record").finished);
}

#[test]
fn a_stalled_api_fails_within_its_timeout() {
    let s = setup();
    s.emulator
        .inject(Fault::delay(Endpoint::Sign, 1, Duration::from_secs(6)));
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_secs(1))
        .build()
        .expect("client");
    let started = Instant::now();
    let err = put(&client, s.space, "a.txt", &b"a"[..]).expect_err("stalled");
    let took = started.elapsed();
    assert_eq!(err.kind(), &ErrorKind::Transport, "{err:?}");
    assert_eq!(err.step(), Some(Step::Sign));
    assert!(took < Duration::from_secs(4), "gave up after {took:?}");
}

#[test]
fn a_stalled_s3_fails_within_its_timeout_or_is_retried() {
    let s = setup();
    let data = pattern(1000);
    s.emulator
        .inject(Fault::delay(Endpoint::Upload, 1, Duration::from_secs(6)));
    let once = builder_for(&s.emulator)
        .timeout_idle(Duration::from_secs(1))
        .max_retries(0)
        .build()
        .expect("client");
    let started = Instant::now();
    let err = put(&once, s.space, "a.bin", &data[..]).expect_err("stalled");
    let took = started.elapsed();
    assert_eq!(err.kind(), &ErrorKind::Transport, "{err:?}");
    assert_eq!(err.step(), Some(Step::Upload));
    assert!(took < Duration::from_secs(4), "gave up after {took:?}");

    // With retries, the stalled attempt is abandoned and the next one goes through.
    s.emulator
        .inject(Fault::delay(Endpoint::Upload, 2, Duration::from_secs(6)));
    let patient = builder_for(&s.emulator)
        .timeout_idle(Duration::from_secs(1))
        .build()
        .expect("client");
    let asset = put(&patient, s.space, "b.bin", &data[..]).expect("retried after the stall");
    assert_eq!(stored_bytes(&s.emulator, asset.id), data);
}

#[test]
fn opt_in_cleanup_deletes_failed_new_records_and_never_replaced_ones() {
    let s = setup();
    let client = builder_for(&s.emulator)
        .delete_on_failure(true)
        .build()
        .expect("client");
    let refused = s3_error(
        "AccessDenied",
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$key\", \"x\"]",
    );

    // A new asset whose upload fails for good: its record goes.
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 1, 403, refused.clone()));
    let err = put(&client, s.space, "new.txt", &b"n"[..]).expect_err("refused");
    let id = err.asset_id().expect("asset id");
    assert_eq!(err.kind(), &ErrorKind::RecordDeleted, "{err:?}");
    let cause = std::error::Error::source(&err)
        .and_then(|c| c.downcast_ref::<Error>())
        .expect("the failure");
    assert!(
        matches!(cause.kind(), ErrorKind::S3 { status: 403, .. }),
        "{cause:?}"
    );
    assert!(err.to_string().contains("deleted"), "{err}");
    assert!(s.emulator.asset(id).is_none());
    assert_eq!(s.emulator.requests_for(Endpoint::Delete).len(), 1);

    // A new asset whose finish fails for good: its record goes too.
    s.emulator.inject(Fault::respond(
        Endpoint::Finish,
        1,
        422,
        r#"{"error":"The file is not valid"}"#,
    ));
    let err = put(&client, s.space, "bad.txt", &b"b"[..]).expect_err("finish refused");
    assert_eq!(err.kind(), &ErrorKind::RecordDeleted, "{err:?}");
    assert!(s.emulator.assets().is_empty());

    // A replaced asset keeps its record whatever happens.
    let kept = put(&client, s.space, "kept.txt", &b"v1"[..]).expect("first version");
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 4, 403, refused));
    let err = client
        .upload(
            s.space,
            AssetParams::new().filename("kept.txt").replace(kept.id),
            Source::bytes(&b"v2"[..]),
        )
        .expect_err("refused");
    assert!(
        matches!(err.kind(), ErrorKind::S3 { status: 403, .. }),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains("left without"),
        "a failed replace leaves no new record behind: {err}"
    );
    // What it does say: the kept record, and S3's refusal.
    assert_eq!(err.asset_id(), Some(kept.id), "{err:?}");
    assert_eq!(err.step(), Some(Step::Upload), "{err:?}");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "upload failed (asset {}): S3 answered 403 AccessDenied",
            kept.id
        )),
        "{text}"
    );
    assert!(text.contains("Policy Condition failed"), "{text}");
    assert!(
        !text.contains("Client::delete"),
        "nothing to delete: {text}"
    );
    assert_eq!(stored_bytes(&s.emulator, kept.id), b"v1");
    assert_eq!(
        s.emulator.requests_for(Endpoint::Delete).len(),
        2,
        "no delete for the replace"
    );

    // Without the setting, a failed new upload leaves its record, and says so.
    let keeper = builder_for(&s.emulator)
        .max_retries(0)
        .build()
        .expect("client");
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        5,
        503,
        s3_error("SlowDown", "x"),
    ));
    let err = put(&keeper, s.space, "left.txt", &b"l"[..]).expect_err("503 without retries");
    let left = err.asset_id().expect("asset id");
    assert!(s.emulator.asset(left).is_some());
    assert!(err.to_string().contains("Client::delete"), "{err}");
}

#[test]
fn a_policy_stale_on_arrival_is_refused_by_s3_then_signed_again() {
    // Dated 11 minutes ago, the policy looks fresh by its own dates (a 10-minute lifetime)
    // but S3 finds it expired: only S3's answer can tell.
    let s = setup();
    s.emulator
        .inject(Fault::stale_policy(1, Duration::from_secs(11 * 60)));
    let client = builder_for(&s.emulator).build().expect("client");
    let asset = put(&client, s.space, "a.bin", &b"abc"[..]).expect("upload after signing again");
    let uploads = s.emulator.requests_for(Endpoint::Upload);
    assert_eq!(
        uploads.iter().map(|r| r.status).collect::<Vec<_>>(),
        [403, 204]
    );
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 2);
    assert_eq!(s.emulator.assets().len(), 1);
    assert_eq!(stored_bytes(&s.emulator, asset.id), b"abc");
}

#[test]
fn a_tampered_field_is_reported_with_s3s_words_and_not_retried() {
    let s = setup();
    s.emulator
        .inject(Fault::tamper_field(1, "Content-Type", "text/html"));
    let client = builder_for(&s.emulator).build().expect("client");
    let err = put(&client, s.space, "a.png", &b"png"[..]).expect_err("tampered");
    match err.kind() {
        ErrorKind::S3 {
            status: 403,
            code: Some(code),
            message,
            ..
        } => {
            assert_eq!(code, "AccessDenied");
            assert!(message.contains("Policy Condition failed"), "{message}");
        }
        other => panic!("expected S3 AccessDenied, got {other:?}"),
    }
    assert_eq!(
        statuses(&s.emulator, Endpoint::Upload),
        [403],
        "not retried"
    );
}
