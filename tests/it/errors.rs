//! Every error shape surfaces the server's words, names the step and asset, and leaks no
//! token.

use crate::common;

use std::time::Duration;

use common::{client_without_retries, png, setup, setup_with};
use storyblok_assets::{AssetParams, Client, Error, ErrorKind, Source, Step, Token};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault, FinishShape};

fn upload_bytes(client: &Client, space: u64) -> Result<storyblok_assets::Asset, Error> {
    client.upload(
        space,
        AssetParams::new().filename("a.png"),
        Source::bytes(png(2, 2)),
    )
}

#[test]
fn a_sign_without_a_filename_makes_no_call_not_even_for_tags() {
    let s = setup();
    let params = AssetParams::new().metadata(storyblok_assets::AssetMeta::new().tag("hero"));
    let err = s.client.sign(s.space, params).expect_err("no filename");
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("filename"), "{err}");
    assert_eq!(err.step(), None, "refused before any call");
    let calls = s.emulator.requests();
    assert!(calls.is_empty(), "no call at all: {calls:?}");
}

#[test]
fn a_wrong_token_gives_storyblok_401_and_advice() {
    let s = setup();
    let client = Client::builder(Token::personal("not-the-token"))
        .base_url(s.emulator.api_url())
        .build()
        .expect("client");
    let err = upload_bytes(&client, s.space).expect_err("401");
    assert_eq!(err.step(), Some(Step::Sign));
    assert_eq!(err.asset_id(), None);
    match err.kind() {
        ErrorKind::Api {
            status: 401,
            message,
            body,
        } => {
            assert_eq!(message, "Unauthorized");
            assert!(body.contains("Unauthorized"));
        }
        other => panic!("expected 401, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.starts_with("sign failed"), "{text}");
    assert!(text.contains("Token::personal"), "{text}");
    assert!(s.emulator.assets().is_empty());
}

#[test]
fn an_oauth_token_goes_as_bearer() {
    let s = setup();
    let client = Client::builder(Token::oauth(s.emulator.oauth_token()))
        .base_url(s.emulator.api_url())
        .build()
        .expect("client");
    upload_bytes(&client, s.space).expect("upload with OAuth");
    let sign = &s.emulator.requests_for(Endpoint::Sign)[0];
    assert_eq!(
        sign.header("authorization"),
        Some(format!("Bearer {}", s.emulator.oauth_token()).as_str())
    );
    let upload = &s.emulator.requests_for(Endpoint::Upload)[0];
    assert_eq!(upload.header("authorization"), None);
}

#[test]
fn storyblok_validation_errors_keep_their_message() {
    let s = setup();
    let folder = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("a.png").folder(999),
            Source::bytes(png(2, 2)),
        )
        .expect_err("unknown folder");
    assert_eq!(folder.status(), Some(422));
    assert!(
        folder
            .to_string()
            .contains("This asset folder is not valid"),
        "{folder}"
    );

    let replace = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("a.png").replace(123_456_789),
            Source::bytes(png(2, 2)),
        )
        .expect_err("unknown asset");
    assert_eq!(replace.status(), Some(404));
    assert_eq!(replace.asset_id(), Some(123_456_789));
    assert!(
        replace
            .to_string()
            .contains("This record could not be found"),
        "{replace}"
    );
    assert!(s.emulator.assets().is_empty());
}

#[test]
fn every_documented_error_body_shape_surfaces() {
    let shapes = [
        (
            422,
            r#"{"error":"Filename can't be blank"}"#,
            "Filename can't be blank",
        ),
        (422, r#"{"error":["first","second"]}"#, "first; second"),
        (
            422,
            r#"{"error":{"base":["This asset folder is not valid"]}}"#,
            "This asset folder is not valid",
        ),
        (
            422,
            r#"{"errors":{"filename":["is too long"]}}"#,
            "filename is too long",
        ),
        (
            404,
            r#"["This record could not be found"]"#,
            "This record could not be found",
        ),
        (
            429,
            r#"{"error":"Rate limit of 6 request per second has been reached. Retry later."}"#,
            "Rate limit of 6 request per second has been reached. Retry later.",
        ),
        (500, "", "Internal Server Error"),
        (502, "<html>bad gateway</html>", "<html>bad gateway</html>"),
    ];
    for (status, body, expected) in shapes {
        let s = setup();
        s.emulator
            .inject(Fault::respond(Endpoint::Sign, 1, status, body));
        let err =
            upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("injected");
        match err.kind() {
            ErrorKind::Api {
                status: got,
                message,
                body: raw,
                ..
            } => {
                assert_eq!(*got, status);
                assert_eq!(message, expected);
                assert_eq!(raw, body, "the raw body is kept");
            }
            ErrorKind::RateLimited {
                attempts: 1,
                message,
                ..
            } if status == 429 => assert_eq!(message, expected),
            other => panic!("{body}: expected Api, got {other:?}"),
        }
        assert!(err.to_string().contains(expected));
        assert_eq!(s.emulator.requests().len(), 1, "no retry and no S3 call");
    }
}

#[test]
fn a_finish_failure_names_the_asset_left_behind() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Finish,
        1,
        500,
        r#"{"error":"Something went wrong"}"#,
    ));
    let err =
        upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("finish fails");
    let id = err.asset_id().expect("the asset id");
    assert_eq!(err.step(), Some(Step::Finish));
    assert!(s.emulator.asset(id).is_some());
    let text = err.to_string();
    assert!(text.contains(&format!("asset {id}")), "{text}");
    assert!(text.contains("Something went wrong"), "{text}");
    assert!(text.contains("Client::replace"), "{text}");
}

#[test]
fn s3_errors_keep_code_message_and_request_id() {
    let s = setup();
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        1,
        503,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
         <Message>Please reduce your request rate.</Message><RequestId>REQ123</RequestId>\
         <HostId>host</HostId></Error>",
    ));
    let err = upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("S3 refuses");
    match err.kind() {
        ErrorKind::S3 {
            status: 503,
            code: Some(code),
            message,
            request_id: Some(request_id),
            ..
        } => {
            assert_eq!(code, "SlowDown");
            assert_eq!(message, "Please reduce your request rate.");
            assert_eq!(request_id, "REQ123");
        }
        other => panic!("expected S3, got {other:?}"),
    }
    assert!(err.asset_id().is_some());
    assert!(err.to_string().contains("SlowDown"));

    // A body that is no S3 document (a proxy's page) is kept as text.
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        2,
        502,
        "<html>Bad Gateway</html>",
    ));
    let err = upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("proxy error");
    assert!(
        matches!(err.kind(), ErrorKind::S3 { status: 502, code: None, message, .. } if message.contains("Bad Gateway")),
        "{err:?}"
    );
}

#[test]
fn an_expired_policy_is_reported_with_what_to_do() {
    let s = setup_with(Emulator::builder().policy_ttl(Duration::ZERO));
    let err = upload_bytes(&s.client, s.space).expect_err("expired");
    match err.kind() {
        ErrorKind::S3 {
            status: 403,
            code: Some(code),
            message,
            ..
        } => {
            assert_eq!(code, "AccessDenied");
            assert_eq!(message, "Invalid according to Policy: Policy expired.");
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    assert!(err.to_string().contains("expired"), "{err}");
}

#[test]
fn a_dropped_connection_is_a_transport_error_with_the_asset() {
    let s = setup();
    s.emulator
        .inject(Fault::drop_connection(Endpoint::Upload, 1));
    let err = upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("dropped");
    assert_eq!(err.kind(), &ErrorKind::Transport, "{err:?}");
    assert_eq!(err.step(), Some(Step::Upload));
    assert!(err.asset_id().is_some());
    assert!(std::error::Error::source(&err).is_some());
}

#[test]
fn hostile_sign_answers_are_refused() {
    let cases = [
        ("not json at all", "not a sign response"),
        (
            r#"{"id": 1, "post_url": "https://x", "fields": {"key": {"nested": 1}}}"#,
            "not a string",
        ),
        (
            r#"{"id": 1, "post_url": "http://s3.example.com/bucket", "fields": {}}"#,
            "only https",
        ),
    ];
    for (body, expected) in cases {
        let s = setup();
        s.emulator
            .inject(Fault::respond(Endpoint::Sign, 1, 200, body));
        let err = upload_bytes(&s.client, s.space).expect_err(body);
        assert!(err.to_string().contains(expected), "{body}: {err}");
        assert!(
            s.emulator.requests_for(Endpoint::Upload).is_empty(),
            "nothing sent to S3"
        );
    }
}

#[test]
fn a_replace_that_signs_another_asset_is_caught() {
    let s = setup();
    let first = upload_bytes(&s.client, s.space).expect("first");
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        2,
        200,
        r#"{"id": 424242, "post_url": "https://s3.amazonaws.com/a.storyblok.com", "fields": {}}"#,
    ));
    let err = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("a.png").replace(first.id),
            Source::bytes(png(2, 2)),
        )
        .expect_err("wrong id");
    assert_eq!(err.asset_id(), Some(424_242));
    assert!(
        err.to_string()
            .contains(&format!("replace asset {}", first.id)),
        "{err}"
    );
}

#[test]
fn both_finish_shapes_are_read() {
    for shape in [FinishShape::Flat, FinishShape::Wrapped] {
        let s = setup_with(Emulator::builder().finish_shape(shape));
        let asset = s
            .client
            .upload(
                s.space,
                AssetParams::new()
                    .filename("a.png")
                    .metadata(storyblok_assets::AssetMeta::new().alt("Alt")),
                Source::bytes(png(2, 2)),
            )
            .expect("upload");
        let stored = s.emulator.asset(asset.id).expect("record");
        assert_eq!(asset.alt.as_deref(), Some("Alt"));
        assert_eq!(
            asset.filename,
            format!("https://a.storyblok.com/{}", stored.key)
        );
    }
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let err = Client::builder(Token::personal("t"))
        .base_url("http://mapi.storyblok.com/v1")
        .build()
        .expect_err("insecure");
    assert!(matches!(err.kind(), ErrorKind::InsecureUrl { .. }));
    let bad_token = Client::new(Token::personal("abc\r\nX-Evil: 1")).expect_err("bad token");
    assert!(matches!(bad_token.kind(), ErrorKind::InvalidInput { .. }));
    assert!(!bad_token.to_string().contains("abc"));
}

#[test]
fn the_token_is_in_no_debug_or_display_output() {
    let s = setup();
    let secret = s.emulator.token().to_owned();
    let mut printed = vec![
        format!("{:?}", s.client),
        format!("{:#?}", s.client),
        format!("{:?}", Token::personal(secret.clone())),
        format!("{:?}", Client::builder(Token::personal(secret.clone()))),
    ];
    let request = AssetParams::new()
        .filename("a.png")
        .for_source(&Source::bytes(png(2, 2)))
        .expect("describe");
    let signed = s.client.sign(s.space, request).expect("sign");
    printed.push(format!("{signed:?}"));
    let uploaded = signed.upload(Source::bytes(png(2, 2))).expect("upload");
    printed.push(format!("{uploaded:?}"));
    let asset = uploaded.finish().expect("finish");
    printed.push(format!("{asset:?}"));

    // Errors of every step.
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        2,
        401,
        r#"{"error":"Unauthorized"}"#,
    ));
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        2,
        403,
        "<Error><Code>AccessDenied</Code></Error>",
    ));
    s.emulator
        .inject(Fault::respond(Endpoint::Finish, 2, 500, ""));
    s.emulator.inject(Fault::drop_connection(Endpoint::Sign, 3));
    for _ in 0..4 {
        let client = client_without_retries(&s.emulator);
        if let Err(err) = upload_bytes(&client, s.space) {
            printed.push(format!("{err}"));
            printed.push(format!("{err:?}"));
        }
    }
    assert!(printed.len() >= 14);
    for text in &printed {
        assert!(!text.contains(&secret), "the token leaked: {text}");
    }
}

#[test]
fn a_huge_error_body_stays_out_of_debug_and_display_but_is_kept_whole() {
    let s = setup();
    // A proxy's page of 8 MiB: as much as the SDK reads of a Management API answer.
    let page = format!("<html>{}", "x".repeat(8 * 1024 * 1024 - 6));
    s.emulator
        .inject(Fault::respond(Endpoint::Sign, 1, 502, page.clone()));
    let err = upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("502");
    assert_eq!(err.status(), Some(502), "{err}");
    for debug in [format!("{err:?}"), format!("{err:#?}")] {
        assert!(debug.len() < 4096, "{} bytes of Debug", debug.len());
        // It says how much it left out.
        assert!(debug.contains("8387584 more bytes"), "{debug}");
    }
    assert!(err.to_string().len() < 1024, "{err}");
    assert_eq!(err.body().map(str::len), Some(page.len()));
    assert!(err.body() == Some(page.as_str()), "the whole body is kept");

    // A new record deleted after its finish failed: the wrapper's Debug is small too, and
    // its body is the failure's.
    s.emulator
        .inject(Fault::respond(Endpoint::Finish, 1, 500, page.clone()));
    let client = common::builder_for(&s.emulator)
        .max_retries(0)
        .delete_on_failure(true)
        .build()
        .expect("client");
    let err = upload_bytes(&client, s.space).expect_err("500");
    assert_eq!(err.kind(), &ErrorKind::RecordDeleted, "{err}");
    assert!(format!("{err:?}").len() < 4096);
    assert!(
        err.body() == Some(page.as_str()),
        "the wrapped body is reachable"
    );
    assert_eq!(s.emulator.requests_for(Endpoint::Delete).len(), 1);
}

#[test]
fn a_huge_message_in_a_json_error_body_is_shortened() {
    let s = setup();
    let said = "y".repeat(100_000);
    let body = format!(r#"{{"error":{{"filename":["{said}"]}}}}"#);
    s.emulator
        .inject(Fault::respond(Endpoint::Sign, 1, 422, body.clone()));
    let err = upload_bytes(&client_without_retries(&s.emulator), s.space).expect_err("422");
    match err.kind() {
        ErrorKind::Api {
            status: 422,
            message,
            ..
        } => {
            assert!(message.starts_with("filename yyy"), "{message}");
            assert!(message.ends_with('…'), "marked as cut");
            assert!(message.chars().count() <= 501, "{} chars", message.len());
        }
        other => panic!("expected Api, got {other:?}"),
    }
    assert!(
        err.to_string().len() < 2048,
        "{} bytes",
        err.to_string().len()
    );
    assert!(format!("{err:?}").len() < 4096);
    assert!(err.body() == Some(body.as_str()));
}
