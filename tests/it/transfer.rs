//! Transfer: one space's assets into another, across two emulators (two base URLs, two
//! tokens), with a map that makes a rerun copy only what is missing.

use crate::common;

use common::{builder_for, png, setup_with, temp_dir};
use serde_json::json;
use storyblok_assets::{
    AssetMeta, Client, TransferAction, TransferMap, TransferOptions, TransferReport,
};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

fn action(report: &TransferReport, path: &str) -> String {
    let asset = report
        .assets
        .iter()
        .find(|a| a.path == path)
        .unwrap_or_else(|| panic!("no line for {path}: {report:?}"));
    format!("{:?}", asset.action)
}

/// A target space of its own: another emulator, another token.
fn target() -> (Emulator, Client) {
    let emulator = Emulator::builder()
        .rate_limit(None)
        .start()
        .expect("target starts");
    let client = builder_for(&emulator).build().expect("target client");
    (emulator, client)
}

#[test]
fn assets_folders_metadata_and_tags_are_copied_and_a_rerun_copies_nothing() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let (t, target) = target();
    let img = s.emulator.create_folder("img", None);
    let icons = s.emulator.create_folder("icons", Some(img));
    let logo = png(5, 5);
    let home = s.emulator.seed_asset("home.png", logo.clone(), Some(icons));
    let note = s.emulator.seed_asset("note.txt", b"a note".to_vec(), None);
    let secret = s
        .emulator
        .seed_asset("secret.txt", b"secret".to_vec(), None);
    let meta = AssetMeta::new().alt("Home").tag("nav");
    s.client
        .update_metadata(s.space, home.id, &meta)
        .expect("metadata");
    s.client
        .update_metadata(s.space, secret.id, &AssetMeta::new().private(true))
        .expect("private");
    s.emulator.clear_requests();
    let base = temp_dir("transfer_copy");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path);

    let report = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("transferred");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(action(&report, "img/icons/home.png"), "Copied");
    assert_eq!(action(&report, "note.txt"), "Copied");
    assert_eq!(action(&report, "secret.txt"), "SkippedPrivate");

    let map = TransferMap::load(&map_path).expect("map");
    assert_eq!(map.source_space, Some(s.space));
    assert_eq!(map.target_space, Some(t.space_id()));
    assert_eq!(map.assets.len(), 2);
    let copy = &map.assets[&home.id];
    assert!(!copy.pending);
    let copied = t.asset(copy.id).expect("the copy");
    assert!(copied.finished);
    assert_eq!(copied.alt.as_deref(), Some("Home"));
    assert_eq!(t.object(&copied.key).expect("its file").bytes, logo);
    // The folder path is recreated, and the tag by name.
    let folders = t.folders();
    let copied_icons = folders
        .iter()
        .find(|f| Some(f.id) == copied.asset_folder_id)
        .expect("a folder");
    assert_eq!(copied_icons.name, "icons");
    let copied_img = folders
        .iter()
        .find(|f| Some(f.id) == copied_icons.parent_id)
        .expect("its parent");
    assert_eq!(
        (copied_img.name.as_str(), copied_img.parent_id),
        ("img", None)
    );
    assert_eq!(map.folders[&icons], copied_icons.id);
    let tags = t.internal_tags();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, "nav");
    assert_eq!(copied.internal_tag_ids, [tags[0].id]);
    assert!(t.asset(map.assets[&note.id].id).is_some());
    assert_eq!(t.assets().len(), 2, "the private asset was not copied");
    // The source is only read.
    assert!(
        s.emulator.requests().iter().all(|r| r.method == "GET"),
        "{:?}",
        s.emulator.requests()
    );

    // A rerun copies nothing: no sign in the target.
    t.clear_requests();
    let again = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("again");
    assert_eq!(action(&again, "img/icons/home.png"), "AlreadyThere");
    assert!(t.requests_for(Endpoint::Sign).is_empty());
    assert_eq!(t.assets().len(), 2);

    // Stories follow the map.
    let mut story = json!({
        "content": {
            "hero": {"id": home.id, "filename": home_url(&map, home.id), "alt": "x"},
            "body": format!("<img src=\"{}\">", map.assets[&note.id].source_url),
        }
    });
    assert_eq!(map.rewrite(&mut story), 2);
    assert_eq!(story["content"]["hero"]["id"], copy.id);
    assert_eq!(story["content"]["hero"]["filename"], copy.url);
    assert!(
        story["content"]["body"]
            .as_str()
            .is_some_and(|body| body.contains(&map.assets[&note.id].url)),
        "{story}"
    );
}

fn home_url(map: &TransferMap, id: u64) -> String {
    map.assets[&id].source_url.clone()
}

#[test]
fn a_failed_upload_leaves_a_pending_record_the_rerun_uploads_into() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let (t, target) = target();
    let asset = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    // The target's S3 refuses the first upload for good.
    t.inject(Fault::respond(
        Endpoint::Upload,
        1,
        403,
        "<Error><Code>AccessDenied</Code><Message>no</Message></Error>",
    ));
    let base = temp_dir("transfer_pending");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path);
    let report = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("transferred");
    let failed = &report.assets[0];
    assert!(
        matches!(failed.action, TransferAction::Failed(_)),
        "{report:?}"
    );
    let pending = TransferMap::load(&map_path).expect("map").assets[&asset.id].clone();
    assert!(pending.pending);
    assert_eq!(failed.target_id, Some(pending.id));

    let again = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("again");
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(action(&again, "a.txt"), "Copied");
    assert_eq!(t.assets().len(), 1, "the pending record was reused");
    let copied = t.asset(pending.id).expect("the same record");
    assert!(copied.finished);
    assert_eq!(copied.sign_count, 2);
    assert_eq!(t.object(&copied.key).expect("file").bytes, b"aaaa");
    assert!(!TransferMap::load(&map_path).expect("map").assets[&asset.id].pending);
}

#[test]
fn a_target_folder_that_is_gone_fails_each_asset_and_creates_nothing() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let (t, target) = target();
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let folder = s.emulator.create_folder("docs", None);
    s.emulator
        .seed_asset("b.txt", b"bbbb".to_vec(), Some(folder));
    let base = temp_dir("transfer_gone_folder");
    let options = TransferOptions::new(base.join("map.json")).target_folder(424_242);
    let report = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("a report");
    assert_eq!(report.failures().count(), 2, "{report:?}");
    for (_, error) in report.failures() {
        assert!(
            error.status().is_some_and(|status| status >= 400),
            "{error:?}"
        );
    }
    assert!(t.assets().iter().all(|a| !a.finished), "{:?}", t.assets());
}

#[test]
fn an_s3_failure_a_retry_mends_is_retried_with_a_new_download_into_the_same_record() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let (t, target) = target();
    let asset = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    // The target's S3 fails the first upload with a 503: a stream cannot start over, so
    // the file is downloaded again and sent again, into the record already made.
    t.inject(Fault::respond(
        Endpoint::Upload,
        1,
        503,
        "<Error><Code>SlowDown</Code><Message>busy</Message></Error>",
    ));
    let base = temp_dir("transfer_retried");
    let report = s
        .client
        .transfer(
            s.space,
            &target,
            t.space_id(),
            &TransferOptions::new(base.join("map.json")),
        )
        .expect("transferred");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(t.assets().len(), 1, "one record");
    let copied = &t.assets()[0];
    assert!(copied.finished);
    assert_eq!(copied.sign_count, 2);
    assert_eq!(t.object(&copied.key).expect("file").bytes, b"aaaa");
    assert_eq!(s.emulator.requests_for(Endpoint::Download).len(), 2);
    assert_eq!(report.assets[0].source_id, asset.id);
}
