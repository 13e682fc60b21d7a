//! The emulator signs its own POST policies with AWS Signature Version 4 and checks them on
//! upload the way S3 does.

use std::time::SystemTime;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use storyblok_assets_emulator::sigv4::{self, Credentials, SigV4Signer};
use storyblok_assets_emulator::*;

mod common;
use common::*;

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

fn replaced(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| {
            if n == name {
                (n.clone(), value.to_string())
            } else {
                (n.clone(), v.clone())
            }
        })
        .collect()
}

#[test]
fn policies_carry_a_real_sigv4_signature() {
    let emulator = unlimited();
    let reply = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let fields = signed_fields(&reply);
    let credentials = emulator.credentials();
    let today = sigv4::amz_date(SystemTime::now());
    let day = &today[..8];
    assert_eq!(
        field(&fields, "x-amz-credential"),
        format!("{}/{day}/us-east-1/s3/aws4_request", credentials.access_key)
    );
    assert_eq!(field(&fields, "x-amz-algorithm"), "AWS4-HMAC-SHA256");
    assert_eq!(&field(&fields, "x-amz-date")[..8], day);
    let expected = sigv4::policy_signature(
        &credentials.secret_key,
        day,
        "us-east-1",
        field(&fields, "policy"),
    );
    assert_eq!(field(&fields, "x-amz-signature"), expected);
    assert_eq!(upload(&emulator, &fields, b"png").status, 204);

    // Every emulator has its own key pair.
    let other = unlimited();
    assert_ne!(other.credentials().access_key, credentials.access_key);
    assert_ne!(other.credentials().secret_key, credentials.secret_key);
    let shown = format!("{:?}", emulator.credentials());
    assert!(!shown.contains(&credentials.secret_key), "{shown}");
}

#[test]
fn uploads_are_verified_by_recomputing_the_signature() {
    let emulator = unlimited();
    let fields = signed_fields(&sign(&emulator, r#"{"filename":"a.png"}"#));
    let credentials = emulator.credentials().clone();
    let policy = field(&fields, "policy").to_string();
    let credential = field(&fields, "x-amz-credential").to_string();
    let day = credential.split('/').nth(1).unwrap_or_default().to_string();

    // Another secret, the same policy: refused.
    let forged = sigv4::policy_signature(
        "not-the-emulator-secret-000000000000000",
        &day,
        "us-east-1",
        &policy,
    );
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-signature", &forged),
        b"1",
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // The credential names another day: the signing key changes, so the signature fails.
    let other_day = credential.replacen(&day, "20200101", 1);
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-credential", &other_day),
        b"1",
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (403, "SignatureDoesNotMatch")
    );

    // A key id the emulator does not know.
    let stranger = credential.replacen(&credentials.access_key, "AKIAOTHERKEY00000000", 1);
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-credential", &stranger),
        b"1",
    );
    assert_eq!(
        s3_error(&r),
        (
            403,
            "InvalidAccessKeyId".into(),
            "The AWS Access Key Id you provided does not exist in our records.".into()
        )
    );

    // Another region.
    let elsewhere = credential.replacen("us-east-1", "eu-west-1", 1);
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-credential", &elsewhere),
        b"1",
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "AuthorizationQueryParametersError")
    );
    assert!(
        s3_error(&r).2.contains("'eu-west-1' is wrong"),
        "{}",
        r.body
    );

    // A malformed credential and another algorithm.
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-credential", "nonsense"),
        b"1",
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "AuthorizationQueryParametersError")
    );
    let r = upload(
        &emulator,
        &replaced(&fields, "x-amz-algorithm", "AWS4-HMAC-SHA1"),
        b"1",
    );
    assert_eq!(
        (r.status, s3_error(&r).1.as_str()),
        (400, "InvalidArgument")
    );

    // A policy the emulator never handed out (its expiration moved), signed with the
    // emulator's key: S3 accepts any policy its key signed, and so does the emulator.
    let text = String::from_utf8(STANDARD.decode(&policy).expect("base64")).expect("utf-8");
    let start = text.find("\"expiration\":\"").expect("expiration") + 14;
    let later = format!(
        "{}2099-01-01T00:00:00Z{}",
        &text[..start],
        &text[start + 20..]
    );
    assert_ne!(later, text);
    let later_policy = STANDARD.encode(later.as_bytes());
    let resigned =
        sigv4::policy_signature(&credentials.secret_key, &day, "us-east-1", &later_policy);
    let own = replaced(
        &replaced(&fields, "policy", &later_policy),
        "x-amz-signature",
        &resigned,
    );
    assert_eq!(upload(&emulator, &own, b"2").status, 204);
    assert_eq!(
        emulator.object(field(&fields, "key")).map(|o| o.bytes),
        Some(b"2".to_vec())
    );
}

#[test]
fn external_signer_mode_still_hands_out_the_signers_fields() {
    let signer = SigV4Signer {
        endpoint: "http://127.0.0.1:9".into(),
        bucket: "conformance".into(),
        credentials: Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            region: "us-east-1".into(),
        },
    };
    let emulator = Emulator::builder()
        .rate_limit(None)
        .external_s3(signer)
        .start()
        .expect("starts");
    let reply = sign(&emulator, r#"{"filename":"a.png"}"#);
    assert_eq!(reply.json()["post_url"], "http://127.0.0.1:9/conformance");
    let fields = signed_fields(&reply);
    let credential = field(&fields, "x-amz-credential");
    assert!(
        credential.starts_with("AKIAIOSFODNN7EXAMPLE/"),
        "{credential}"
    );
    let day = &field(&fields, "x-amz-date")[..8];
    let expected = sigv4::policy_signature(
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        day,
        "us-east-1",
        field(&fields, "policy"),
    );
    assert_eq!(field(&fields, "x-amz-signature"), expected);
    let policy = String::from_utf8(
        STANDARD
            .decode(field(&fields, "policy"))
            .expect("base64 policy"),
    )
    .expect("utf-8");
    assert!(policy.contains(r#"{"bucket":"conformance"}"#), "{policy}");
    // The file went elsewhere: finish trusts the client.
    assert_eq!(
        mapi(&emulator, "GET", "/assets/100001/finish_upload", "").status,
        200
    );
}
