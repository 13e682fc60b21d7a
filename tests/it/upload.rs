//! The upload flow against the emulator, asserting on what the emulator recorded.

use crate::common;

use std::io::Cursor;

use common::{gif, jpeg, pattern, png, setup, setup_with, temp_dir, webp};
use serde_json::json;
use storyblok_assets::{AssetMeta, AssetParams, Error, ErrorKind, LengthMismatch, Source};
use storyblok_assets_emulator::{Emulator, Endpoint};

fn steps(emulator: &Emulator) -> Vec<Endpoint> {
    emulator.requests().iter().map(|r| r.endpoint).collect()
}

fn sign_json(emulator: &Emulator, nth: usize) -> serde_json::Value {
    emulator.requests_for(Endpoint::Sign)[nth]
        .json
        .clone()
        .expect("the sign call sent JSON")
}

#[test]
fn new_upload_is_byte_exact_and_takes_three_calls() {
    let s = setup();
    let dir = temp_dir("new_upload");
    let data = png(640, 480);
    let path = dir.join("Mars.png");
    std::fs::write(&path, &data).expect("write");

    let asset = s
        .client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect("upload");

    assert_eq!(
        steps(&s.emulator),
        [Endpoint::Sign, Endpoint::Upload, Endpoint::Finish]
    );
    let stored = s.emulator.asset(asset.id).expect("record");
    assert_eq!(s.emulator.assets().len(), 1);
    assert!(stored.finished);
    assert_eq!(stored.size.as_deref(), Some("640x480"));
    let object = s.emulator.object(&stored.key).expect("object in S3");
    assert_eq!(object.bytes, data);
    assert_eq!(object.content_type, "image/png");
    assert_eq!(
        sign_json(&s.emulator, 0),
        json!({"filename": "Mars.png", "size": "640x480", "validate_upload": 1})
    );
    assert_eq!(
        asset.filename,
        format!("https://a.storyblok.com/{}", stored.key)
    );
    assert!(asset.filename.contains("/640x480/"));
}

#[test]
fn the_s3_request_is_the_signed_form_and_nothing_else() {
    let s = setup();
    let data = pattern(10_000);
    let request = AssetParams::new()
        .filename("data.bin")
        .for_source(&Source::bytes(&data[..]))
        .expect("describe");
    let signed = s.client.sign(s.space, request).expect("sign");
    let signed_fields = signed.fields().to_vec();
    let asset_id = signed.asset_id();
    let uploaded = signed.upload(Source::bytes(&data[..])).expect("upload");
    assert_eq!(uploaded.asset_id(), asset_id);

    let upload = &s.emulator.requests_for(Endpoint::Upload)[0];
    assert_eq!(upload.method, "POST");
    assert_eq!(upload.header("authorization"), None);
    for (name, value) in &upload.headers {
        assert!(
            !value.contains(s.emulator.token()),
            "the token leaked to S3 in {name}"
        );
    }
    assert_eq!(upload.header("transfer-encoding"), None);
    let length: u64 = upload
        .header("content-length")
        .expect("Content-Length sent")
        .parse()
        .expect("a number");
    // The exact length of RFC 7578 framing: each field, the file part, the closing line.
    let content_type = upload.header("content-type").expect("Content-Type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a multipart boundary");
    let mut expected = 0;
    for (name, value) in &signed_fields {
        expected += format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        )
        .len();
    }
    let file_type = &signed_fields
        .iter()
        .find(|(n, _)| n == "Content-Type")
        .expect("signed Content-Type")
        .1;
    expected += format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"data.bin\"\r\nContent-Type: {file_type}\r\n\r\n"
    )
    .len();
    expected += data.len() + format!("\r\n--{boundary}--\r\n").len();
    assert_eq!(length, expected as u64);
    let form = upload.form.as_ref().expect("a parsed form");
    assert_eq!(
        form.fields(),
        signed_fields,
        "signed fields verbatim, in order"
    );
    assert!(form.file_is_last());
    let file = form.file().expect("file part");
    assert_eq!(file.value, data);
    assert_eq!(upload.status, 204);
}

#[test]
fn replace_signs_with_the_id_and_keeps_the_url() {
    let s = setup();
    let first = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("logo.png"),
            Source::bytes(png(10, 10)),
        )
        .expect("first upload");
    // Client::replace takes the filename from a path source.
    let second_bytes = png(20, 20);
    let path = temp_dir("replace").join("logo.png");
    std::fs::write(&path, &second_bytes).expect("write");
    let replaced = s
        .client
        .replace(s.space, first.id, Source::path(&path))
        .expect("replace");

    assert_eq!(replaced.id, first.id);
    assert_eq!(replaced.filename, first.filename);
    assert_eq!(s.emulator.assets().len(), 1, "no second record");
    let replace_sign = sign_json(&s.emulator, 1);
    assert_eq!(replace_sign["id"], json!(first.id));
    let stored = s.emulator.asset(first.id).expect("record");
    assert_eq!(stored.sign_count, 2);
    assert_eq!(
        s.emulator.object(&stored.key).expect("object").bytes,
        second_bytes
    );

    // Bytes have no name: a replace from memory names the file in the request.
    let third_bytes = png(30, 30);
    let again = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("logo.png").replace(first.id),
            Source::bytes(third_bytes.clone()),
        )
        .expect("replace from bytes");
    assert_eq!(again.id, first.id);
    assert_eq!(s.emulator.assets().len(), 1);
    assert_eq!(
        s.emulator.object(&stored.key).expect("object").bytes,
        third_bytes
    );
    let unnamed = s
        .client
        .replace(s.space, first.id, Source::bytes(third_bytes))
        .expect_err("no filename");
    assert!(
        matches!(unnamed.kind(), ErrorKind::InvalidInput { .. }),
        "{unnamed:?}"
    );
    assert_eq!(
        s.emulator.requests_for(Endpoint::Sign).len(),
        3,
        "refused before sending"
    );
}

#[test]
fn folder_private_and_metadata_reach_storyblok() {
    let s = setup_with(Emulator::builder().folder(77));
    let request = AssetParams::new()
        .filename("report.pdf")
        .folder(77)
        .metadata(
            AssetMeta::new()
                .private(true)
                .alt("Alt text")
                .title("Quarterly report")
                .copyright("(c) Us")
                .source("Finance")
                .focus("1x2:3x4")
                .custom_field("department", "finance"),
        )
        .ext_id("ext-42");
    let asset = s
        .client
        .upload(s.space, request, Source::bytes(&b"%PDF-1.7 not much"[..]))
        .expect("upload");

    let stored = s.emulator.asset(asset.id).expect("record");
    assert_eq!(stored.asset_folder_id, Some(77));
    assert!(stored.is_private);
    assert_eq!(stored.alt.as_deref(), Some("Alt text"));
    assert_eq!(stored.title.as_deref(), Some("Quarterly report"));
    assert_eq!(stored.copyright.as_deref(), Some("(c) Us"));
    assert_eq!(stored.source.as_deref(), Some("Finance"));
    assert_eq!(stored.focus.as_deref(), Some("1x2:3x4"));
    assert_eq!(stored.ext_id.as_deref(), Some("ext-42"));
    assert_eq!(stored.meta_data, json!({"department": "finance"}));
    assert_eq!(stored.size, None, "no size for a PDF");
    assert_eq!(
        sign_json(&s.emulator, 0),
        json!({"filename": "report.pdf", "asset_folder_id": 77, "validate_upload": 1,
               "is_private": true, "alt": "Alt text", "title": "Quarterly report",
               "copyright": "(c) Us", "source": "Finance", "focus": "1x2:3x4",
               "ext_id": "ext-42", "meta_data": {"department": "finance"}})
    );
    let form = s.emulator.requests_for(Endpoint::Upload)[0]
        .form
        .clone()
        .expect("form");
    assert!(form.fields().contains(&("acl".into(), "private".into())));
    assert!(asset.is_private);
    assert_eq!(asset.alt.as_deref(), Some("Alt text"));
}

#[test]
fn validation_on_finishes_and_off_skips_finish() {
    let s = setup();
    let on = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("a.txt"),
            Source::bytes(&b"a"[..]),
        )
        .expect("validated upload");
    assert_eq!(
        steps(&s.emulator),
        [Endpoint::Sign, Endpoint::Upload, Endpoint::Finish]
    );
    assert!(s.emulator.asset(on.id).expect("record").validate_upload);

    s.emulator.clear_requests();
    let off = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("b.txt").validate_upload(false),
            Source::bytes(&b"b"[..]),
        )
        .expect("unvalidated upload");
    assert_eq!(steps(&s.emulator), [Endpoint::Sign, Endpoint::Upload]);
    let stored = s.emulator.asset(off.id).expect("record");
    assert!(!stored.validate_upload);
    assert_eq!(sign_json(&s.emulator, 0)["validate_upload"], json!(0));
    assert_eq!(s.emulator.object(&stored.key).expect("object").bytes, b"b");
    assert_eq!(
        off.filename,
        format!("https://a.storyblok.com/{}", stored.key)
    );
}

#[test]
fn size_is_detected_for_every_image_format() {
    let s = setup();
    let dir = temp_dir("sizes");
    let cases = [
        ("a.png", png(640, 480), Some("640x480")),
        ("b.jpg", jpeg(1920, 1080), Some("1920x1080")),
        ("c.gif", gif(32, 16), Some("32x16")),
        ("d.webp", webp(4000, 3000), Some("4000x3000")),
        ("e.txt", b"just text".to_vec(), None),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.join(name);
        std::fs::write(&path, &bytes).expect("write");
        let asset = s
            .client
            .upload(s.space, AssetParams::new(), Source::path(&path))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let stored = s.emulator.asset(asset.id).expect("record");
        assert_eq!(stored.size.as_deref(), expected, "{name}");
        assert_eq!(s.emulator.object(&stored.key).expect("object").bytes, bytes);
    }
    // An explicit size wins; no_size sends none.
    let given = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("f.png").size(7, 9),
            Source::bytes(png(1, 1)),
        )
        .expect("given size");
    assert_eq!(
        s.emulator.asset(given.id).expect("record").size.as_deref(),
        Some("7x9")
    );
    let none = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("g.png").no_size(),
            Source::bytes(png(1, 1)),
        )
        .expect("no size");
    assert_eq!(s.emulator.asset(none.id).expect("record").size, None);
}

#[test]
fn odd_filenames_cannot_break_the_form() {
    let s = setup();
    let dir = temp_dir("odd_names");
    let name = "Größe \"Mars\" 北京 photo.final.png";
    let path = dir.join(name);
    let data = png(3, 3);
    std::fs::write(&path, &data).expect("write");
    let asset = s
        .client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect("upload");
    assert_eq!(sign_json(&s.emulator, 0)["filename"], json!(name));
    let stored = s.emulator.asset(asset.id).expect("record");
    assert_eq!(s.emulator.object(&stored.key).expect("object").bytes, data);
    let upload = &s.emulator.requests_for(Endpoint::Upload)[0];
    let form = upload.form.as_ref().expect("form");
    let file = form.file().expect("file part");
    assert_eq!(
        file.filename.as_deref(),
        Some("Größe %22Mars%22 北京 photo.final.png")
    );

    // CR and LF in a filename given by the caller: the form still parses, fields intact.
    let injected = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("x\r\nContent-Type: text/html\r\n\r\n.png"),
            Source::bytes(&b"payload"[..]),
        )
        .expect("upload with CRLF in the name");
    let stored = s.emulator.asset(injected.id).expect("record");
    assert_eq!(
        s.emulator.object(&stored.key).expect("object").bytes,
        b"payload"
    );
    let form = s.emulator.requests_for(Endpoint::Upload)[1]
        .form
        .clone()
        .expect("form");
    assert_eq!(form.parts.len(), form.fields().len() + 1);
}

#[test]
fn an_empty_file_is_refused_before_signing() {
    let s = setup();
    let dir = temp_dir("empty");
    let path = dir.join("empty.png");
    std::fs::write(&path, b"").expect("write");
    let err = s
        .client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect_err("empty");
    assert_eq!(err.kind(), &ErrorKind::EmptySource, "{err:?}");
    assert_eq!(err.asset_id(), None);
    assert!(err.to_string().contains("empty"));
    assert!(s.emulator.requests().is_empty(), "nothing was sent");
    assert!(s.emulator.assets().is_empty());
}

#[test]
fn a_missing_file_is_refused_before_signing() {
    let s = setup();
    let path = temp_dir("missing").join("nowhere.png");
    let err = s
        .client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect_err("missing");
    assert_eq!(err.asset_id(), None);
    assert_eq!(
        err.kind(),
        &ErrorKind::Source {
            path: Some(path.clone()),
            io: std::io::ErrorKind::NotFound
        }
    );
    assert!(err.to_string().contains("nowhere.png"));
    // Nothing was sent, so no call is said to have failed.
    assert_eq!(err.step(), None);
    assert!(!err.to_string().contains("sign failed"), "{err}");
    assert!(s.emulator.requests().is_empty());
}

#[test]
fn a_file_larger_than_the_policy_allows_never_reaches_s3() {
    let s = setup_with(Emulator::builder().max_file_size(10));
    let err = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("big.bin"),
            Source::bytes(pattern(11)),
        )
        .expect_err("too large");
    assert_eq!(
        err.kind(),
        &ErrorKind::SizeOutOfRange {
            size: 11,
            min: 1,
            max: 10
        }
    );
    assert!(s.emulator.asset(err.asset_id().expect("signed")).is_some());
    assert_eq!(steps(&s.emulator), [Endpoint::Sign], "no S3 request");
}

#[test]
fn readers_must_give_exactly_their_declared_length() {
    let s = setup();
    let data = pattern(100_000);

    let short = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("short.bin"),
            Source::reader(Cursor::new(data[..50_000].to_vec()), 100_000),
        )
        .expect_err("short reader");
    assert!(
        matches!(
            short.kind(),
            ErrorKind::SourceLength(LengthMismatch::Short {
                declared: 100_000,
                sent: 50_000
            })
        ),
        "{short:?}"
    );

    // A source that can be checked past its length (a file, bytes, a seekable reader) must
    // end there; a plain reader is never read past it (a pipe could block), so what it
    // holds beyond is simply not sent.
    let long = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("long.bin"),
            Source::seekable(Cursor::new(data.clone()), 60_000),
        )
        .expect_err("long seekable reader");
    assert!(
        matches!(
            long.kind(),
            ErrorKind::SourceLength(LengthMismatch::Long { declared: 60_000 })
        ),
        "{long:?}"
    );
    assert!(long.asset_id().is_some());
    // Neither upload stored anything in S3.
    for asset in s.emulator.assets() {
        assert!(s.emulator.object(&asset.key).is_none(), "{}", asset.key);
    }
    let first_part = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("first-part.bin"),
            Source::reader(Cursor::new(data.clone()), 60_000),
        )
        .expect("a plain reader sends its declared bytes");
    let stored = s.emulator.asset(first_part.id).expect("record");
    assert_eq!(
        s.emulator.object(&stored.key).expect("object").bytes,
        &data[..60_000]
    );

    // An honest reader goes through byte for byte.
    let ok = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("exact.bin"),
            Source::reader(Cursor::new(data.clone()), 100_000),
        )
        .expect("exact reader");
    let stored = s.emulator.asset(ok.id).expect("record");
    assert_eq!(s.emulator.object(&stored.key).expect("object").bytes, data);
}

#[test]
fn a_large_file_streams_from_disk_byte_exact() {
    let s = setup();
    let dir = temp_dir("large");
    let data = pattern(8 * 1024 * 1024 + 17);
    let path = dir.join("large.bin");
    std::fs::write(&path, &data).expect("write");
    let asset = s
        .client
        .upload(s.space, AssetParams::new(), Source::path(&path))
        .expect("upload");
    let stored = s.emulator.asset(asset.id).expect("record");
    assert!(s.emulator.object(&stored.key).expect("object").bytes == data);
}

#[test]
fn requests_name_the_sdk_and_the_client_is_shareable() {
    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn sendable<T: Send>() {}
    shareable::<storyblok_assets::Client>();
    sendable::<Source<'static>>();
    sendable::<storyblok_assets::SignedUpload>();
    sendable::<storyblok_assets::UploadedAsset>();
    sendable::<Error>();

    let s = setup();
    s.client
        .upload(
            s.space,
            AssetParams::new().filename("a.txt"),
            Source::bytes(&b"a"[..]),
        )
        .expect("upload");
    let agent = format!("storyblok-assets/{}", env!("CARGO_PKG_VERSION"));
    for request in s.emulator.requests() {
        assert_eq!(
            request.header("user-agent"),
            Some(agent.as_str()),
            "{}",
            request.path
        );
    }
}

#[test]
fn a_reader_declared_empty_is_refused_before_signing() {
    let s = setup();
    let err = s
        .client
        .upload(
            s.space,
            AssetParams::new().filename("a.bin"),
            Source::reader(&b""[..], 0),
        )
        .expect_err("empty");
    assert_eq!(err.kind(), &ErrorKind::EmptySource, "{err:?}");
    assert_eq!(err.asset_id(), None);
    assert!(s.emulator.requests().is_empty());
}

#[test]
fn metadata_with_tags_by_name_goes_with_the_sign() {
    let s = setup();
    let meta = AssetMeta::new()
        .alt("The red planet")
        .copyright("NASA")
        .tag("planets")
        .tag("red");
    let asset = s
        .client
        .upload(
            s.space,
            AssetParams::new()
                .filename("mars.png")
                .metadata(meta.clone()),
            Source::bytes(png(3, 3)),
        )
        .expect("uploaded");
    let second = s
        .client
        .upload(
            s.space,
            AssetParams::new()
                .filename("phobos.png")
                .metadata(AssetMeta::new().tag("red")),
            Source::bytes(png(2, 2)),
        )
        .expect("uploaded");
    let tags = s.emulator.internal_tags();
    let id_of = |name: &str| tags.iter().find(|t| t.name == name).map(|t| t.id);
    let stored = s.emulator.asset(asset.id).expect("record");
    assert_eq!(stored.alt.as_deref(), Some("The red planet"));
    assert_eq!(stored.copyright.as_deref(), Some("NASA"));
    let mut ids = stored.internal_tag_ids.clone();
    ids.sort_unstable();
    let mut wanted = vec![id_of("planets").expect("made"), id_of("red").expect("made")];
    wanted.sort_unstable();
    assert_eq!(ids, wanted);
    assert_eq!(
        s.emulator
            .asset(second.id)
            .expect("record")
            .internal_tag_ids,
        [id_of("red").expect("made")]
    );
    // The tags were listed once and each created once.
    assert_eq!(s.emulator.requests_for(Endpoint::ListTags).len(), 1);
    assert_eq!(s.emulator.requests_for(Endpoint::CreateTag).len(), 2);
    let sign = &s.emulator.requests_for(Endpoint::Sign)[0];
    let sent = sign.json.as_ref().expect("json");
    assert!(
        sent.get("internal_tags").is_none(),
        "names are not sent: {sent}"
    );
}
