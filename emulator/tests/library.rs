//! The asset library around uploads: folders, internal tags, the asset list, updates, and
//! serving the stored files (S3's GET Object and the local CDN).

use serde_json::{Value, json};

use storyblok_assets_emulator::*;

mod common;
use common::*;

fn put(emulator: &Emulator, path: &str, body: &str) -> Reply {
    mapi(emulator, "PUT", path, body)
}

fn get(emulator: &Emulator, path: &str) -> Reply {
    mapi(emulator, "GET", path, "")
}

/// The ids in a 200 answer's `list`; any other answer fails the test.
fn ids(reply: &Reply, list: &str) -> Vec<u64> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} list in {}", reply.body))
        .iter()
        .map(|item| item["id"].as_u64().expect("every item has an id"))
        .collect()
}

/// A raw GET (or HEAD) of a path on the emulator, without a token.
fn fetch(emulator: &Emulator, method: &str, path: &str) -> Reply {
    send(emulator, method, path, &[], b"").expect("an answer")
}

#[test]
fn folders_are_listed_and_created() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .folder(7)
        .start()
        .expect("starts");
    let list = get(&emulator, "/asset_folders/");
    assert_eq!(list.status, 200);
    let seven = &list.json()["asset_folders"][0];
    assert_eq!(seven["id"], 7);
    assert_eq!(seven["name"], "Folder 7");
    assert_eq!(seven["parent_id"], Value::Null);
    assert_eq!(seven["parent_uuid"], Value::Null);
    assert_eq!(seven["uuid"].as_str().map(str::len), Some(36));

    let created = mapi(
        &emulator,
        "POST",
        "/asset_folders/",
        r#"{"asset_folder":{"name":"Header Images"}}"#,
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let header = created.json()["asset_folder"].clone();
    assert_eq!(header["id"], 10_001);
    assert_eq!(header["name"], "Header Images");
    assert_eq!(header["parent_id"], Value::Null);
    // The bare object is accepted too; a parent gives the child its UUID.
    let child = mapi(
        &emulator,
        "POST",
        "/asset_folders",
        r#"{"name":"Heroes","parent_id":10001}"#,
    );
    assert_eq!(child.status, 201, "{}", child.body);
    let child = child.json()["asset_folder"].clone();
    assert_eq!(child["parent_id"], 10_001);
    assert_eq!(child["parent_uuid"], header["uuid"]);
    assert_ne!(child["uuid"], header["uuid"]);
    assert!(child.as_object().is_some_and(|o| o.len() == 5), "{child}");

    // Refusals.
    let blank = mapi(
        &emulator,
        "POST",
        "/asset_folders/",
        r#"{"asset_folder":{"name":" "}}"#,
    );
    assert_eq!(
        (blank.status, blank.body.as_str()),
        (422, r#"{"error":{"name":["can't be blank"]}}"#)
    );
    let orphan = mapi(
        &emulator,
        "POST",
        "/asset_folders/",
        r#"{"asset_folder":{"name":"x","parent_id":99}}"#,
    );
    assert_eq!(
        (orphan.status, orphan.body.as_str()),
        (
            422,
            r#"{"error":{"parent_id":["Folder 99 does not exist"]}}"#
        )
    );
    assert_eq!(emulator.folders().len(), 3);

    // Filters.
    let all = get(&emulator, "/asset_folders/");
    assert_eq!(ids(&all, "asset_folders"), [7, 10_001, 10_002]);
    let found = get(&emulator, "/asset_folders/?search=HERO");
    assert_eq!(ids(&found, "asset_folders"), [10_002]);
    let root = get(&emulator, "/asset_folders/?with_parent=0");
    assert_eq!(ids(&root, "asset_folders"), [7, 10_001]);
    let inside = get(&emulator, "/asset_folders/?with_parent=10001");
    assert_eq!(ids(&inside, "asset_folders"), [10_002]);
    let picked = get(&emulator, "/asset_folders/?by_ids=7,10002");
    assert_eq!(ids(&picked, "asset_folders"), [7, 10_002]);

    // A created folder takes assets; so does one made by the test.
    let made = emulator.create_folder("Made", Some(10_001));
    assert_eq!(made, 10_003);
    for folder in [10_002, made] {
        let signed = sign(
            &emulator,
            &format!(r#"{{"filename":"a.png","asset_folder_id":{folder}}}"#),
        );
        assert_eq!(signed.status, 200, "{}", signed.body);
    }
    let folders = emulator.folders();
    let made = folders.iter().find(|f| f.id == made).expect("made");
    assert_eq!((made.name.as_str(), made.parent_id), ("Made", Some(10_001)));
    // Creating under an unknown parent adds the parent.
    let deep = emulator.create_folder("Deep", Some(42));
    assert!(
        emulator
            .folders()
            .iter()
            .any(|f| f.id == 42 && f.name == "Folder 42")
    );
    assert_ne!(deep, 42);

    let kinds: Vec<Endpoint> = emulator.requests().iter().map(|r| r.endpoint).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == Endpoint::ListFolders)
            .count(),
        6
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == Endpoint::CreateFolder)
            .count(),
        4
    );
}

#[test]
fn internal_tags_are_listed_created_and_assigned() {
    let emulator = unlimited();
    let flower = mapi(
        &emulator,
        "POST",
        "/internal_tags",
        r#"{"internal_tag":{"name":"flower","object_type":"asset"}}"#,
    );
    assert_eq!(flower.status, 201, "{}", flower.body);
    assert_eq!(
        flower.body,
        r#"{"internal_tag":{"id":50001,"name":"flower","object_type":"asset"}}"#
    );
    let component = mapi(
        &emulator,
        "POST",
        "/internal_tags",
        r#"{"internal_tag":{"name":"hero","object_type":"component"}}"#,
    );
    assert_eq!(component.status, 201);
    let default_type = mapi(&emulator, "POST", "/internal_tags", r#"{"name":"tree"}"#);
    assert_eq!(default_type.json()["internal_tag"]["object_type"], "asset");
    let tree = emulator.create_internal_tag("shrub");
    assert_eq!(tree, 50_004);

    let taken = mapi(
        &emulator,
        "POST",
        "/internal_tags",
        r#"{"internal_tag":{"name":"flower"}}"#,
    );
    assert_eq!(
        (taken.status, taken.body.as_str()),
        (422, r#"{"error":{"name":["has already been taken"]}}"#)
    );
    let odd = mapi(
        &emulator,
        "POST",
        "/internal_tags",
        r#"{"internal_tag":{"name":"x","object_type":"story"}}"#,
    );
    assert_eq!(odd.status, 422);
    let blank = mapi(
        &emulator,
        "POST",
        "/internal_tags",
        r#"{"internal_tag":{}}"#,
    );
    assert_eq!(blank.status, 422);

    let assets_only = get(&emulator, "/internal_tags?by_object_type=asset");
    assert_eq!(assets_only.status, 200);
    assert_eq!(ids(&assets_only, "internal_tags"), [50_001, 50_003, 50_004]);
    assert_eq!(assets_only.header("total"), Some("3"));
    assert_eq!(assets_only.header("per-page"), Some("25"));
    let paged = get(&emulator, "/internal_tags?per_page=2&page=2");
    assert_eq!(ids(&paged, "internal_tags"), [50_003, 50_004]);
    assert_eq!(paged.header("total"), Some("4"));
    let searched = get(&emulator, "/internal_tags?search=FLO");
    assert_eq!(ids(&searched, "internal_tags"), [50_001]);
    assert_eq!(emulator.internal_tags().len(), 4);

    // Sign stores known asset tags; an unknown one, or a component's, is refused.
    let signed = sign(
        &emulator,
        r#"{"filename":"rose.png","internal_tag_ids":[50001,"50003",50001]}"#,
    );
    assert_eq!(signed.status, 200, "{}", signed.body);
    let id = signed.json()["id"].as_u64().expect("id");
    assert_eq!(
        emulator.asset(id).map(|a| a.internal_tag_ids),
        Some(vec![50_001, 50_003])
    );
    for bad in [r#"[7]"#, r#"[50002]"#, r#""x,y""#] {
        let refused = sign(
            &emulator,
            &format!(r#"{{"filename":"b.png","internal_tag_ids":{bad}}}"#),
        );
        assert_eq!(refused.status, 422, "{bad}: {}", refused.body);
    }
    assert_eq!(
        sign(&emulator, r#"{"filename":"b.png","internal_tag_ids":[7]}"#).body,
        r#"{"error":{"internal_tag_ids":["Internal tag 7 does not exist"]}}"#
    );
    assert_eq!(emulator.assets().len(), 1, "a refused sign creates nothing");

    // The asset shows its tags, ids as strings as Storyblok's docs show them.
    let shown = get(&emulator, &format!("/assets/{id}")).json();
    assert_eq!(shown["internal_tag_ids"], json!(["50001", "50003"]));
    assert_eq!(
        shown["internal_tags_list"],
        json!([{"id": 50001, "name": "flower"}, {"id": 50003, "name": "tree"}])
    );
    let kinds: Vec<Endpoint> = emulator.requests().iter().map(|r| r.endpoint).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == Endpoint::CreateTag).count(),
        6
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == Endpoint::ListTags).count(),
        3
    );
}

#[test]
fn assets_are_listed_filtered_and_paginated() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .folder(7)
        .start()
        .expect("starts");
    let tag = emulator.create_internal_tag("space");
    let mars = emulator.seed_asset("Mars Photo.JPG", b"mars".to_vec(), Some(7));
    let venus = emulator.seed_asset("venus.png", b"venus".to_vec(), None);
    let signed = sign(
        &emulator,
        &format!(r#"{{"filename":"Mars Rover.png","is_private":true,"internal_tag_ids":[{tag}]}}"#),
    );
    let rover = signed.json()["id"].as_u64().expect("id");
    for i in 0..30 {
        emulator.seed_asset(&format!("filler-{i:02}.txt"), b"x".to_vec(), None);
    }

    // Default: 25 per page, newest first, Total and Per-Page headers.
    let first = get(&emulator, "/assets/");
    assert_eq!(first.status, 200);
    assert_eq!(first.header("total"), Some("33"));
    assert_eq!(first.header("per-page"), Some("25"));
    let listed = ids(&first, "assets");
    assert_eq!(listed.len(), 25);
    assert_eq!(listed[0], rover + 30);
    let second = get(&emulator, "/assets/?page=2");
    assert_eq!(ids(&second, "assets").len(), 8);
    assert_eq!(ids(&second, "assets").last(), Some(&mars.id));
    let beyond = get(&emulator, "/assets/?page=9");
    assert_eq!(
        (ids(&beyond, "assets").len(), beyond.header("total")),
        (0, Some("33"))
    );
    let capped = get(&emulator, "/assets/?per_page=500");
    assert_eq!(capped.header("per-page"), Some("100"));
    assert_eq!(ids(&capped, "assets").len(), 33);

    // search: a substring of the parameterized file name, any case.
    let found = get(&emulator, "/assets/?search=MARS");
    assert_eq!(ids(&found, "assets"), [rover, mars.id]);
    let exact = get(&emulator, "/assets/?search=mars-photo");
    assert_eq!(ids(&exact, "assets"), [mars.id]);
    assert_eq!(exact.header("total"), Some("1"));
    // in_folder: the folder's assets; 0: those in none.
    let in_seven = get(&emulator, "/assets/?in_folder=7");
    assert_eq!(ids(&in_seven, "assets"), [mars.id]);
    let rootless = get(&emulator, "/assets/?in_folder=0&per_page=100");
    assert_eq!(ids(&rootless, "assets").len(), 32);
    assert_eq!(
        ids(&get(&emulator, "/assets/?in_folder=8"), "assets"),
        Vec::<u64>::new()
    );
    // is_private, with_tags, sort_by.
    assert_eq!(
        ids(&get(&emulator, "/assets/?is_private=1"), "assets"),
        [rover]
    );
    assert_eq!(
        ids(
            &get(&emulator, "/assets/?with_tags=nothing,space"),
            "assets"
        ),
        [rover]
    );
    let sorted = get(&emulator, "/assets/?sort_by=short_filename:asc&search=s");
    assert_eq!(ids(&sorted, "assets"), [mars.id, rover, venus.id]);
    let oldest = get(&emulator, "/assets/?sort_by=created_at:asc&per_page=1");
    assert_eq!(ids(&oldest, "assets"), [mars.id]);

    // The asset object.
    let shown = &found.json()["assets"][1];
    assert_eq!(
        shown["filename"],
        format!("https://s3.amazonaws.com/a.storyblok.com/{}", mars.key)
    );
    assert_eq!(shown["short_filename"], "mars-photo.jpg");
    assert_eq!(shown["content_type"], "image/jpeg");
    assert_eq!(shown["content_length"], 4);
    assert_eq!(shown["asset_folder_id"], 7);
    assert_eq!(shown["deleted_at"], Value::Null);
    for key in [
        "id",
        "filename",
        "space_id",
        "created_at",
        "updated_at",
        "deleted_at",
        "file",
        "asset_folder_id",
        "short_filename",
        "content_type",
        "content_length",
        "alt",
        "title",
        "copyright",
        "source",
        "focus",
        "is_private",
        "meta_data",
        "internal_tag_ids",
        "internal_tags_list",
        "locked",
        "expire_at",
        "publish_at",
    ] {
        assert!(shown.get(key).is_some(), "{key} in {shown}");
    }

    // Deleted assets leave the list for the trash, in_folder=-1.
    assert_eq!(
        mapi(&emulator, "DELETE", &format!("/assets/{}", venus.id), "").status,
        200
    );
    let trash = get(&emulator, "/assets/?in_folder=-1");
    assert_eq!(ids(&trash, "assets"), [venus.id]);
    assert!(trash.json()["assets"][0]["deleted_at"].is_string());
    assert_eq!(
        get(&emulator, "/assets/?per_page=100").header("total"),
        Some("32")
    );
    assert_eq!(emulator.requests_for(Endpoint::ListAssets).len(), 15);
}

#[test]
fn a_negative_folder_other_than_the_trash_matches_nothing() {
    let emulator = unlimited();
    emulator.seed_asset("root.png", b"root".to_vec(), None);
    emulator.seed_asset("kept.png", b"kept".to_vec(), Some(7));
    let listed = get(&emulator, "/assets/?in_folder=-5");
    assert_eq!(listed.status, 200);
    assert_eq!(ids(&listed, "assets"), Vec::<u64>::new());
    assert_eq!(listed.header("total"), Some("0"));
    // Not a number at all: no folder filter.
    assert_eq!(
        ids(&get(&emulator, "/assets/?in_folder=x"), "assets").len(),
        2
    );
}

#[test]
fn an_update_by_patch_and_one_folder_by_id_are_answered_as_storyblok_does() {
    // Storyblok's OpenAPI spec (and its official TypeScript client) update with PATCH and
    // read a folder by id; the docs name PUT and the list. Both are answered.
    let emulator = Emulator::builder()
        .rate_limit(None)
        .folder(7)
        .start()
        .expect("starts");
    let asset = emulator.seed_asset("rose.png", b"rose".to_vec(), Some(7));
    let path = format!("/assets/{}", asset.id);
    let patched = mapi(&emulator, "PATCH", &path, r#"{"asset":{"alt":"Patched"}}"#);
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.json()["asset"]["alt"], "Patched");
    let stored = emulator.asset(asset.id).expect("asset");
    assert_eq!(stored.alt.as_deref(), Some("Patched"));
    assert_eq!(emulator.requests_for(Endpoint::UpdateAsset).len(), 1);

    let folder = get(&emulator, "/asset_folders/7");
    assert_eq!(folder.status, 200, "{}", folder.body);
    assert_eq!(folder.json()["asset_folder"]["id"], 7);
    assert_eq!(folder.json()["asset_folder"]["name"], "Folder 7");
    assert_eq!(get(&emulator, "/asset_folders/8").status, 404);
    assert_eq!(emulator.requests_for(Endpoint::GetFolder).len(), 2);
}

#[test]
fn assets_are_updated() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .folder(7)
        .start()
        .expect("starts");
    let tag = emulator.create_internal_tag("flower");
    let asset = emulator.seed_asset("rose.png", b"rose".to_vec(), Some(7));
    let path = format!("/assets/{}", asset.id);
    let reply = put(
        &emulator,
        &path,
        &format!(
            r#"{{"asset":{{"alt":"A rose","title":"Rose","copyright":"me","source":"garden",
            "focus":"10x10:20x20","is_private":true,"locked":true,
            "meta_data":{{"alt":"ignored: alt is given","caption":"red"}},
            "internal_tag_ids":["{tag}"],"expire_at":"2030-01-01T00:00:00.000Z",
            "publish_at":"2029-06-01T12:00:00Z","asset_folder_id":null}}}}"#
        ),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let shown = reply.json()["asset"].clone();
    assert_eq!(shown["id"], asset.id);
    assert_eq!(shown["alt"], "A rose");
    assert_eq!(shown["locked"], true);
    assert_eq!(shown["asset_folder_id"], Value::Null);
    assert_eq!(shown["internal_tag_ids"], json!([tag.to_string()]));
    assert_eq!(shown["expire_at"], "2030-01-01T00:00:00.000Z");
    let stored = emulator.asset(asset.id).expect("asset");
    assert_eq!(stored.alt.as_deref(), Some("A rose"));
    assert_eq!(stored.title.as_deref(), Some("Rose"));
    assert_eq!(stored.copyright.as_deref(), Some("me"));
    assert_eq!(stored.source.as_deref(), Some("garden"));
    assert_eq!(stored.focus.as_deref(), Some("10x10:20x20"));
    assert!(stored.is_private && stored.locked);
    assert_eq!(stored.meta_data["caption"], "red");
    assert_eq!(stored.internal_tag_ids, [tag]);
    assert_eq!(stored.publish_at.as_deref(), Some("2029-06-01T12:00:00Z"));
    assert_eq!(stored.asset_folder_id, None);

    // The bare object; meta_data sets the default fields it carries.
    let reply = put(
        &emulator,
        &path,
        r#"{"asset_folder_id":7,"meta_data":{"title":"From meta"},"internal_tag_ids":[]}"#,
    );
    assert_eq!(reply.status, 200);
    let stored = emulator.asset(asset.id).expect("asset");
    assert_eq!(stored.asset_folder_id, Some(7));
    assert_eq!(stored.title.as_deref(), Some("From meta"));
    assert!(stored.internal_tag_ids.is_empty());
    assert_eq!(
        stored.alt.as_deref(),
        Some("A rose"),
        "untouched fields stay"
    );

    // Refusals change nothing.
    for (body, status) in [
        (r#"{"asset":{"alt":"x","asset_folder_id":8}}"#, 422),
        (r#"{"asset":{"alt":"x","internal_tag_ids":[1]}}"#, 422),
        (r#"{"asset":{"alt":"x","expire_at":"next week"}}"#, 422),
        (r#"{"asset":"x"}"#, 422),
        ("[1]", 400),
    ] {
        assert_eq!(put(&emulator, &path, body).status, status, "{body}");
    }
    assert_eq!(
        emulator.asset(asset.id).and_then(|a| a.alt).as_deref(),
        Some("A rose")
    );
    assert_eq!(put(&emulator, "/assets/999", r#"{"asset":{}}"#).status, 404);
    assert_eq!(emulator.requests_for(Endpoint::UpdateAsset).len(), 8);

    // The answer can be an empty 204 instead.
    let quiet = Emulator::builder()
        .rate_limit(None)
        .update_shape(UpdateShape::NoContent)
        .start()
        .expect("starts");
    let asset = quiet.seed_asset("a.png", b"a".to_vec(), None);
    let reply = put(
        &quiet,
        &format!("/assets/{}", asset.id),
        r#"{"asset":{"alt":"b"}}"#,
    );
    assert_eq!((reply.status, reply.body.as_str()), (204, ""));
    assert_eq!(
        quiet.asset(asset.id).and_then(|a| a.alt).as_deref(),
        Some("b")
    );
}

#[test]
fn stored_files_are_served() {
    let emulator = Emulator::builder()
        .rate_limit(Some(2))
        .start()
        .expect("starts");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let seeded = emulator.seed_asset("Big Image.PNG", bytes.clone(), None);
    assert!(seeded.finished);
    assert_eq!(seeded.content_length, Some(100_000));
    assert_eq!(seeded.filename, "big-image.png");
    assert!(emulator.requests().is_empty(), "seeding records nothing");
    let path = format!("/a.storyblok.com/{}", seeded.key);

    // Public: the exact bytes, and no token needed; the rate limit (2 a second) does not
    // apply.
    for _ in 0..3 {
        let reply = fetch(&emulator, "GET", &path);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.bytes, bytes);
        assert_eq!(reply.header("content-length"), Some("100000"));
        assert_eq!(reply.header("content-type"), Some("image/png"));
        assert_eq!(
            reply.header("cache-control"),
            Some("public, max-age=31536000")
        );
        assert!(reply.header("etag").is_some_and(|e| e.len() == 34));
    }
    let head = fetch(&emulator, "HEAD", &path);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("100000"));
    assert!(head.bytes.is_empty());

    // Missing.
    let missing = fetch(&emulator, "GET", "/a.storyblok.com/f/606/nothing/here.png");
    assert_eq!(
        s3_error(&missing),
        (
            404,
            "NoSuchKey".into(),
            "The specified key does not exist.".into()
        )
    );
    let missing = fetch(&emulator, "HEAD", "/a.storyblok.com/f/606/nothing/here.png");
    assert_eq!(missing.status, 404);
    assert!(missing.bytes.is_empty() && missing.header("content-length").is_some());
    // Uploaded private: refused.
    let signed = sign(&emulator, r#"{"filename":"secret.png","is_private":true}"#);
    assert_eq!(signed.status, 200);
    let fields = signed_fields(&signed);
    assert_eq!(upload(&emulator, &fields, b"secret").status, 204);
    let private = fetch(
        &emulator,
        "GET",
        &format!("/a.storyblok.com/{}", fields[0].1),
    );
    assert_eq!(
        (private.status, s3_error(&private).1.as_str()),
        (403, "AccessDenied")
    );
    // Made private by an update: refused too.
    let made_private = put(
        &emulator,
        &format!("/assets/{}", seeded.id),
        r#"{"asset":{"is_private":true}}"#,
    );
    assert_eq!(made_private.status, 200, "{}", made_private.body);
    assert_eq!(fetch(&emulator, "GET", &path).status, 403);

    let downloads = emulator.requests_for(Endpoint::Download);
    let statuses: Vec<u16> = downloads.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 404, 404, 403, 403]);
}

#[test]
fn a_local_cdn_hands_out_urls_on_the_emulator() {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .local_cdn(true)
        .start()
        .expect("starts");
    let origin = emulator.public_origin().to_string();
    let signed = sign(&emulator, r#"{"filename":"Mars.JPG"}"#);
    let json = signed.json();
    let key = json["fields"]["key"].as_str().expect("key").to_string();
    let url = format!("{origin}/a.storyblok.com/{key}");
    assert_eq!(json["pretty_url"], url);
    assert_eq!(json["public_url"], url);
    assert_eq!(
        upload(&emulator, &signed_fields(&signed), b"jpeg bytes").status,
        204
    );
    let finished = get(&emulator, "/assets/100001/finish_upload");
    assert_eq!(finished.json()["filename"], url);
    let listed = get(&emulator, "/assets/");
    assert_eq!(listed.json()["assets"][0]["filename"], url);
    // The URL works: its path on the emulator gives the file back.
    let path = url.strip_prefix(&origin).expect("on the emulator");
    let file = fetch(&emulator, "GET", path);
    assert_eq!(
        (file.status, file.bytes.as_slice()),
        (200, &b"jpeg bytes"[..])
    );
    assert_eq!(file.header("content-type"), Some("image/jpeg"));

    // Behind a proxy, the URLs name the proxy.
    let proxied = Emulator::builder()
        .rate_limit(None)
        .local_cdn(true)
        .public_origin("https://localhost:4443")
        .start()
        .expect("starts");
    let seeded = proxied.seed_asset("a.png", b"a".to_vec(), None);
    let shown = get(&proxied, &format!("/assets/{}", seeded.id)).json();
    assert_eq!(
        shown["filename"],
        format!("https://localhost:4443/a.storyblok.com/{}", seeded.key)
    );
    // Without a local CDN, Storyblok's own URLs.
    let plain = unlimited();
    let signed = sign(&plain, r#"{"filename":"a.png"}"#).json();
    assert!(
        signed["pretty_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("//a.storyblok.com/f/"))
    );
}

#[test]
fn seeded_assets_look_uploaded() {
    let emulator = unlimited();
    let asset = emulator.seed_asset("Report 2024.final.PDF", b"%PDF".to_vec(), Some(5));
    assert_eq!(asset.filename, "report-2024_final.pdf");
    assert!(asset.key.starts_with("f/606/") && asset.key.ends_with("/report-2024_final.pdf"));
    assert_eq!(asset.content_type, "application/pdf");
    assert_eq!(asset.asset_folder_id, Some(5));
    assert!(asset.finished && !asset.is_private);
    assert_eq!(asset.sign_count, 1);
    assert!(
        emulator.folders().iter().any(|f| f.id == 5),
        "the folder is added"
    );
    let object = emulator.object(&asset.key).expect("object");
    assert_eq!(object.bytes, b"%PDF");
    assert_eq!(object.acl, "public-read");
    // It can be replaced like any other asset.
    let again = sign(
        &emulator,
        &format!(r#"{{"filename":"r.pdf","id":{}}}"#, asset.id),
    );
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["fields"]["key"], asset.key);
    let next = emulator.seed_asset("b.png", b"b".to_vec(), None);
    assert_eq!(next.id, asset.id + 1);
    assert_ne!(next.key, asset.key);
}

/// Two spaces on one emulator: each its own assets, folders, tags, trash and rate window;
/// ids unique across both; a third space is not served.
#[test]
fn spaces_are_apart() {
    let emulator = Emulator::builder()
        .space_id(1)
        .space(2)
        .rate_limit(None)
        .local_cdn(true)
        .start()
        .expect("starts");
    let (one, two) = (
        emulator.space(1).expect("space 1 is served"),
        emulator.space(2).expect("space 2 is served"),
    );
    assert!(emulator.space(3).is_none());
    assert_eq!(mapi_in(&emulator, 3, "GET", "/assets/", "").status, 404);

    let seeded = one.seed_asset("one.png", b"1".to_vec(), None);
    let folder = two.create_folder("Two", None);
    let tag = two.create_internal_tag("two-tag");
    let signed = mapi_in(
        &emulator,
        2,
        "POST",
        "/assets/",
        &json!({"filename": "two.png", "asset_folder_id": folder, "internal_tag_ids": [tag]})
            .to_string(),
    );
    assert_eq!(signed.status, 200, "{}", signed.body);
    let id = signed.json()["id"].as_u64().expect("an id");
    assert_ne!(id, seeded.id, "ids are unique across spaces");
    assert!(
        signed.json()["fields"]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("f/2/"))
    );

    // Each space lists its own.
    assert_eq!(
        ids(&mapi_in(&emulator, 1, "GET", "/assets/", ""), "assets"),
        [seeded.id]
    );
    assert_eq!(
        ids(&mapi_in(&emulator, 2, "GET", "/assets/", ""), "assets"),
        [id]
    );
    assert_eq!(
        ids(
            &mapi_in(&emulator, 1, "GET", "/asset_folders/", ""),
            "asset_folders"
        ),
        Vec::<u64>::new()
    );
    assert_eq!(
        ids(
            &mapi_in(&emulator, 2, "GET", "/asset_folders/", ""),
            "asset_folders"
        ),
        [folder]
    );
    assert_eq!(
        ids(
            &mapi_in(&emulator, 1, "GET", "/internal_tags", ""),
            "internal_tags"
        ),
        Vec::<u64>::new()
    );
    assert_eq!(one.assets().len(), 1);
    assert_eq!(two.asset(id).map(|a| a.space_id), Some(2));
    assert_eq!(
        emulator.assets().len(),
        1,
        "the emulator's own methods act on the first space"
    );

    // Another space's asset, folder and tag are unknown here.
    for (method, path) in [
        ("GET", format!("/assets/{id}")),
        ("GET", format!("/assets/{id}/finish_upload")),
        ("DELETE", format!("/assets/{id}")),
        ("GET", format!("/asset_folders/{folder}")),
    ] {
        assert_eq!(
            mapi_in(&emulator, 1, method, &path, "").status,
            404,
            "{method} {path}"
        );
    }
    let wrong_folder = mapi_in(
        &emulator,
        1,
        "POST",
        "/assets/",
        &json!({"filename": "x.png", "asset_folder_id": folder}).to_string(),
    );
    assert_eq!(wrong_folder.status, 422, "{}", wrong_folder.body);
    let wrong_tag = mapi_in(
        &emulator,
        1,
        "POST",
        "/assets/",
        &json!({"filename": "x.png", "internal_tag_ids": [tag]}).to_string(),
    );
    assert_eq!(wrong_tag.status, 422, "{}", wrong_tag.body);
    assert_eq!(
        one.assets().len(),
        1,
        "nothing changes when a parameter is refused"
    );

    // The trash is the space's own too.
    let deleted = mapi_in(
        &emulator,
        1,
        "DELETE",
        &format!("/assets/{}", seeded.id),
        "",
    );
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(
        ids(
            &mapi_in(&emulator, 1, "GET", "/assets/?in_folder=-1", ""),
            "assets"
        ),
        [seeded.id]
    );
    assert_eq!(
        ids(
            &mapi_in(&emulator, 2, "GET", "/assets/?in_folder=-1", ""),
            "assets"
        ),
        Vec::<u64>::new()
    );
}

/// Each space counts its requests in its own window: a second space is not refused because
/// the first used up its second.
#[test]
fn spaces_have_their_own_rate_windows() {
    let emulator = Emulator::builder()
        .space_id(1)
        .space(2)
        .rate_limit(Some(2))
        .start()
        .expect("starts");
    let second = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    };
    // Five requests within one whole second; a try that straddles two is not judged.
    for _ in 0..10 {
        let start = second();
        let statuses: Vec<u16> = [1, 1, 2, 2, 1]
            .into_iter()
            .map(|space| mapi_in(&emulator, space, "GET", "/assets/", "").status)
            .collect();
        if second() == start {
            assert_eq!(statuses, [200, 200, 200, 200, 429]);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    panic!("no try fit in one second");
}
