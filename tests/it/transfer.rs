//! Transfer: one space's assets into another, across two emulators (two base URLs, two
//! tokens) and between two spaces of one, with a map that makes a rerun copy only what is
//! missing.

use crate::common;

use common::{Setup, builder_for, png, setup_with, temp_dir};
use serde_json::json;
use storyblok_assets::{
    AssetMeta, Client, ErrorKind, TransferAction, TransferMap, TransferOptions, TransferReport,
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

/// Source space 606 and target space 7 on one emulator that serves its files.
fn two_spaces() -> Setup {
    setup_with(Emulator::builder().local_cdn(true).space(7))
}

/// A client of the setup's emulator that deletes a new record whose upload failed.
fn deleting_client(s: &Setup) -> Client {
    builder_for(&s.emulator)
        .delete_on_failure(true)
        .build()
        .expect("target client")
}

/// A record named `name` in target space 7 with no file: signed, never uploaded.
fn empty_record(client: &Client, name: &str) -> u64 {
    client
        .sign(7, storyblok_assets::AssetParams::new().filename(name))
        .expect("signed")
        .asset_id()
}

/// S3's refusal of an upload.
const DENIED: &str = "<Error><Code>AccessDenied</Code><Message>no</Message></Error>";

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
    t.inject(Fault::respond(Endpoint::Upload, 1, 403, DENIED));
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

    t.clear_requests();
    let again = s
        .client
        .transfer(s.space, &target, t.space_id(), &options)
        .expect("again");
    assert!(again.is_ok(), "{again:?}");
    assert!(
        t.requests_for(Endpoint::ListAssets).is_empty(),
        "the map names the pending record: the target is not listed"
    );
    assert_eq!(action(&again, "a.txt"), "Copied");
    assert_eq!(t.assets().len(), 1, "the pending record was reused");
    let copied = t.asset(pending.id).expect("the same record");
    assert!(copied.finished);
    assert_eq!(copied.sign_count, 2);
    assert_eq!(t.object(&copied.key).expect("file").bytes, b"aaaa");
    assert!(!TransferMap::load(&map_path).expect("map").assets[&asset.id].pending);
}

#[test]
fn a_target_folder_or_space_that_is_not_there_fails_the_transfer_before_anything_is_made() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let (t, target) = target();
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let base = temp_dir("transfer_gone_folder");
    let map_path = base.join("map.json");
    let gone_folder = TransferOptions::new(&map_path).target_folder(424_242);
    let error = s
        .client
        .transfer(s.space, &target, t.space_id(), &gone_folder)
        .expect_err("no such target folder");
    assert!(
        matches!(error.kind(), ErrorKind::InvalidInput { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("424242"), "{error}");

    let options = TransferOptions::new(&map_path);
    let error = s
        .client
        .transfer(s.space, &target, 999, &options)
        .expect_err("no such target space");
    assert_eq!(error.status(), Some(404), "{error:?}");
    let error = s
        .client
        .transfer(999, &target, t.space_id(), &options)
        .expect_err("no such source space");
    assert_eq!(error.status(), Some(404), "{error:?}");
    assert!(t.assets().is_empty() && t.folders().is_empty());
    assert!(t.requests_for(Endpoint::Sign).is_empty());
    assert!(!map_path.exists(), "no map for a transfer that did nothing");
}

/// Two spaces of one emulator, one client: the map is lost after a transfer whose last
/// upload failed; the rerun finds the copies again (same folder, name and bytes) and uploads
/// into the record the failed upload left, so nothing is copied twice.
#[test]
fn a_lost_map_adopts_the_copies_and_fills_the_empty_record() {
    let s = two_spaces();
    let target_space = s.emulator.space(7).expect("served");
    let docs = s.emulator.create_folder("docs", None);
    let a = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), Some(docs));
    s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    s.emulator.seed_asset("c.txt", b"cccc".to_vec(), None);
    // The third upload fails for good: c's record is left with no file.
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 3, 403, DENIED));
    let base = temp_dir("transfer_adopt");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path).concurrency(1);
    let first = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("transferred");
    assert_eq!(first.failures().count(), 1, "{first:?}");
    assert_eq!(action(&first, "docs/a.txt"), "Copied");
    let copy_of_a = TransferMap::load(&map_path).expect("map").assets[&a.id].id;
    assert_eq!(target_space.assets().len(), 3);

    std::fs::remove_file(&map_path).expect("the map is lost");
    s.emulator.clear_requests();
    let again = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("again");
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(action(&again, "docs/a.txt"), "Adopted");
    assert_eq!(action(&again, "b.txt"), "Adopted");
    assert_eq!(action(&again, "c.txt"), "Copied");
    let assets = target_space.assets();
    assert_eq!(assets.len(), 3, "nothing copied twice: {assets:?}");
    assert!(
        assets
            .iter()
            .all(|a| a.finished && a.content_length == Some(4))
    );
    let signs = s.emulator.requests_for(Endpoint::Sign);
    assert_eq!(signs.len(), 1, "one sign, into the empty record");
    let c = assets.iter().find(|a| a.filename == "c.txt").expect("c");
    assert_eq!(c.sign_count, 2);
    let map = TransferMap::load(&map_path).expect("map");
    assert_eq!(map.assets[&a.id].id, copy_of_a);
    assert!(map.assets.values().all(|m| !m.pending));
    assert_eq!(s.emulator.assets().len(), 3, "the source is untouched");
}

/// Each failure stays with its asset: a target refusal at sign (a file beyond the plan), a
/// source file gone from the CDN, a download cut mid-stream. With `delete_on_failure` no
/// record is left behind, and the rerun copies all three.
#[test]
fn failures_are_per_asset_leave_no_record_and_the_rerun_copies_them() {
    let s = two_spaces();
    let target = deleting_client(&s);
    let big = s.emulator.seed_asset("big.bin", vec![7; 200_000], None);
    let gone = s.emulator.seed_asset("gone.txt", b"gone".to_vec(), None);
    let cut = s.emulator.seed_asset("cut.bin", vec![9; 100_000], None);
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        1,
        422,
        r#"{"error":"The file exceeds your plan's maximum file size"}"#,
    ));
    // One at a time, the largest first: big's sign, then cut's download, then gone's.
    s.emulator.inject(Fault::cut_answer(Endpoint::Download, 1));
    s.emulator.inject(Fault::respond(
        Endpoint::Download,
        2,
        404,
        "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
    ));
    let base = temp_dir("transfer_failures");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path).concurrency(1);
    let report = s
        .client
        .transfer(s.space, &target, 7, &options)
        .expect("a report");
    let failures: Vec<(&str, &storyblok_assets::Error)> = report.failures().collect();
    assert_eq!(failures.len(), 3, "{report:?}");
    let error_of = |path: &str| {
        failures
            .iter()
            .find(|(p, _)| *p == path)
            .map(|(_, e)| *e)
            .unwrap_or_else(|| panic!("{path} did not fail: {report:?}"))
    };
    assert_eq!(error_of("big.bin").status(), Some(422));
    assert!(
        error_of("big.bin")
            .to_string()
            .contains("maximum file size"),
        "the server's words: {}",
        error_of("big.bin")
    );
    assert!(
        matches!(error_of("gone.txt").kind(), ErrorKind::RecordDeleted),
        "{:?}",
        error_of("gone.txt")
    );
    assert!(
        matches!(error_of("cut.bin").kind(), ErrorKind::RecordDeleted),
        "{:?}",
        error_of("cut.bin")
    );
    let target_space = s.emulator.space(7).expect("served");
    assert!(
        target_space.assets().is_empty(),
        "{:?}",
        target_space.assets()
    );
    let map = TransferMap::load(&map_path).expect("map");
    assert!(map.assets.is_empty(), "{map:?}");

    let again = s
        .client
        .transfer(s.space, &target, 7, &options)
        .expect("again");
    assert!(again.is_ok(), "{again:?}");
    let copies = target_space.assets();
    assert_eq!(copies.len(), 3);
    for (source, length) in [(&big, 200_000), (&gone, 4), (&cut, 100_000)] {
        let copy = map_copy(&map_path, source.id);
        let stored = target_space.asset(copy).expect("copied");
        assert_eq!(stored.content_length, Some(length));
        assert_eq!(
            s.emulator.object(&stored.key).expect("file").bytes,
            s.emulator.object(&source.key).expect("source").bytes
        );
    }
}

fn map_copy(path: &std::path::Path, source: u64) -> u64 {
    TransferMap::load(path).expect("map").assets[&source].id
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

/// A dry run lists both spaces and creates, uploads and writes nothing; it tells which
/// assets the target already holds (a lost map's copies) and which it would copy.
#[test]
fn a_dry_run_copies_nothing_and_tells_what_it_would_do() {
    let s = two_spaces();
    let target_space = s.emulator.space(7).expect("served");
    let docs = s.emulator.create_folder("docs", None);
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), Some(docs));
    s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    // b's copy is already in the target (a lost map): found, not copied again.
    target_space.seed_asset("b.txt", b"bbbb".to_vec(), None);
    let base = temp_dir("transfer_dry");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path).dry_run(true);
    let seen = std::sync::atomic::AtomicUsize::new(0);
    s.emulator.clear_requests();
    let report = s
        .client
        .transfer_with(s.space, &s.client, 7, &options, |_| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
        .expect("a dry run");
    assert!(report.dry_run && report.is_ok(), "{report:?}");
    assert_eq!(seen.into_inner(), 2);
    assert_eq!(action(&report, "docs/a.txt"), "Copied");
    assert_eq!(action(&report, "b.txt"), "Adopted");
    assert!(
        s.emulator
            .requests()
            .iter()
            .all(|r| r.method == "GET" || r.method == "HEAD"),
        "{:?}",
        s.emulator.requests()
    );
    assert_eq!(target_space.assets().len(), 1);
    assert!(target_space.folders().is_empty());
    assert!(!map_path.exists() && std::fs::read_dir(&base).expect("base").next().is_none());
}

/// A transfer that did not end left its journal beside the map: the next one reads it (a
/// last line cut short ignored), copies only what it lacks, and folds it into the map. A
/// line that is no journal line is an error naming the journal, and changes nothing.
#[test]
fn a_journal_left_behind_is_read_and_folded_in_and_a_corrupt_one_is_refused() {
    let s = two_spaces();
    let target_space = s.emulator.space(7).expect("served");
    let a = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let b = s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    let copy_of_a = target_space.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let base = temp_dir("transfer_journal");
    let map_path = base.join("map.json");
    let journal_path = base.join(".map.json.journal");
    let line =
        json!({"source": a.id, "asset": {"id": copy_of_a.id, "url": "u", "source_url": "s"}});
    std::fs::write(
        &journal_path,
        format!(
            "{{\"journal\":1,\"space_id\":7}}\n{line}\n{{\"source\":{},\"asse",
            b.id
        ),
    )
    .expect("a journal");
    let loaded = TransferMap::load(&map_path).expect("the map, from its journal");
    assert_eq!(loaded.target_space, Some(7));
    assert_eq!(loaded.assets[&a.id].id, copy_of_a.id);
    assert!(
        !loaded.assets.contains_key(&b.id),
        "the cut line is ignored"
    );

    s.emulator.clear_requests();
    let report = s
        .client
        .transfer(s.space, &s.client, 7, &TransferOptions::new(&map_path))
        .expect("transferred");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(action(&report, "a.txt"), "AlreadyThere");
    assert_eq!(action(&report, "b.txt"), "Copied");
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 1);
    assert!(!journal_path.exists(), "folded into the map");
    let map: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&map_path).expect("the map")).expect("JSON");
    assert_eq!(map["assets"][a.id.to_string()]["id"], copy_of_a.id);
    assert!(map["assets"][b.id.to_string()]["id"].is_u64());

    std::fs::write(
        &journal_path,
        "{\"journal\":1,\"space_id\":7}\n{\"what\":1}\n",
    )
    .expect("a bad journal");
    let before = std::fs::read(&map_path).expect("the map");
    let error = s
        .client
        .transfer(s.space, &s.client, 7, &TransferOptions::new(&map_path))
        .expect_err("a corrupt journal");
    assert!(error.to_string().contains(".map.json.journal"), "{error}");
    assert!(error.to_string().contains("line 2"), "{error}");
    assert_eq!(std::fs::read(&map_path).expect("the map"), before);
}

/// Each copy is in the map (its journal) while the transfer still runs, the moment its
/// record exists: a transfer killed then copies it no second time.
#[test]
fn each_copy_is_noted_while_the_transfer_runs() {
    let s = two_spaces();
    let a = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    s.emulator.seed_asset("b.txt", b"bb".to_vec(), None);
    // One at a time, the larger first: b's download, the second, is held.
    s.emulator.inject(Fault::delay(
        Endpoint::Download,
        2,
        std::time::Duration::from_millis(1500),
    ));
    let base = temp_dir("transfer_noted");
    let map_path = base.join("map.json");
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn({
        let (client, space) = (s.client.clone(), s.space);
        let options = TransferOptions::new(&map_path).concurrency(1);
        move || done.send(client.transfer(space, &client, 7, &options))
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let noted = loop {
        if let Ok(read) = TransferMap::load(&map_path)
            && read.assets.get(&a.id).is_some_and(|m| !m.pending)
        {
            break read;
        }
        assert!(std::time::Instant::now() < deadline, "a.txt never noted");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(
        ended.try_recv().is_err(),
        "noted while the transfer still ran (b.txt's download is held)"
    );
    assert!(
        !map_path.exists(),
        "the map file is written once, when it ends: {noted:?}"
    );
    let report = ended
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the transfer ends")
        .expect("transferred");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(TransferMap::load(&map_path).expect("map").assets.len(), 2);
    assert!(!base.join(".map.json.journal").exists());
}

/// An empty record the transfer found in the target (not one it made) is uploaded into, and
/// never deleted when that fails, even with `delete_on_failure`.
#[test]
fn an_empty_record_found_in_the_target_is_never_deleted() {
    let s = two_spaces();
    let target = deleting_client(&s);
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    // Someone signed a.txt in the target and never uploaded it.
    let empty = empty_record(&target, "a.txt");
    // Downloads: the empty record's probe (the CDN has no file), then the source's (cut).
    s.emulator.inject(Fault::cut_answer(Endpoint::Download, 2));
    let base = temp_dir("transfer_found_empty");
    let options = TransferOptions::new(base.join("map.json"));
    let report = s
        .client
        .transfer(s.space, &target, 7, &options)
        .expect("a report");
    assert_eq!(report.failures().count(), 1, "{report:?}");
    assert_eq!(report.assets[0].target_id, Some(empty));
    let kept = s.emulator.space(7).expect("served").asset(empty);
    assert!(
        kept.is_some_and(|a| a.sign_count == 2),
        "the found record was kept"
    );

    let again = s
        .client
        .transfer(s.space, &target, 7, &options)
        .expect("again");
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(again.assets[0].target_id, Some(empty));
    assert_eq!(s.emulator.space(7).expect("served").assets().len(), 1);
}

/// After a lost map, the copy is found however many namesakes of other sizes share its
/// folder: only assets of its size count towards the candidates compared.
#[test]
fn namesakes_of_other_sizes_do_not_hide_the_copy() {
    let s = two_spaces();
    let t = s.emulator.space(7).expect("served");
    for i in 0..12 {
        t.seed_asset("image.png", format!("unrelated {i}").into_bytes(), None);
    }
    s.emulator
        .seed_asset("image.png", b"the source".to_vec(), None);
    let base = temp_dir("transfer_namesakes");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path);
    let first = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("first");
    assert!(first.is_ok(), "{first:?}");
    assert_eq!(t.assets().len(), 13);
    std::fs::remove_file(&map_path).expect("the map is lost");
    let again = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("again");
    assert_eq!(action(&again, "image.png"), "Adopted");
    assert_eq!(t.assets().len(), 13, "not copied twice");
}

/// A copy whose bytes match is taken before an empty record of the same name: two source
/// assets of one name, the larger's copy complete and the smaller's record empty, find each
/// its own.
#[test]
fn a_matching_copy_is_taken_before_an_empty_record() {
    let s = two_spaces();
    let t = s.emulator.space(7).expect("served");
    s.emulator.seed_asset("a.txt", b"aaaaaa".to_vec(), None);
    s.emulator.seed_asset("a.txt", b"bbbbb".to_vec(), None);
    // The target after a lost map: the smaller's record left empty (the older), the
    // larger's copy complete.
    let empty = empty_record(&s.client, "a.txt");
    let copy = t.seed_asset("a.txt", b"aaaaaa".to_vec(), None);
    let base = temp_dir("transfer_copy_first");
    let options = TransferOptions::new(base.join("map.json")).concurrency(1);
    let report = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("a report");
    assert!(report.is_ok(), "{report:?}");
    let assets = t.assets();
    assert_eq!(assets.len(), 2, "{assets:?}");
    let targets: Vec<Option<u64>> = report.assets.iter().map(|a| a.target_id).collect();
    assert!(targets.contains(&Some(copy.id)) && targets.contains(&Some(empty)));
    assert_eq!(t.asset(empty).and_then(|a| a.content_length), Some(5));
}

/// A record listed without a size whose file the CDN serves is no empty record: it is
/// never uploaded into.
#[test]
fn a_record_listed_without_a_size_but_with_a_file_is_not_overwritten() {
    let s = two_spaces();
    let t = s.emulator.space(7).expect("served");
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let editors = t.seed_asset("a.txt", b"editor's".to_vec(), None);
    let url = format!("{}/{}", s.emulator.s3_url(), editors.key);
    // The target's listing (the second asset list: the source's is the first) leaves its
    // size out.
    let listing = json!({"assets": [{
        "id": editors.id, "filename": url, "content_length": null,
        "asset_folder_id": null, "is_private": false,
    }]});
    s.emulator.inject(
        Fault::respond(Endpoint::ListAssets, 2, 200, listing.to_string()).with_header("Total", "1"),
    );
    let base = temp_dir("transfer_not_empty");
    let report = s
        .client
        .transfer(
            s.space,
            &s.client,
            7,
            &TransferOptions::new(base.join("map.json")),
        )
        .expect("a report");
    assert!(report.is_ok(), "{report:?}");
    assert_ne!(report.assets[0].target_id, Some(editors.id));
    let kept = t.asset(editors.id).expect("kept");
    assert_eq!(kept.sign_count, 1);
    assert_eq!(
        s.emulator.object(&kept.key).expect("its file").bytes,
        b"editor's"
    );
    assert_eq!(t.assets().len(), 2);
}

/// A candidate the CDN will not serve is not the copy, and does not fail the asset.
#[test]
fn a_candidate_that_cannot_be_read_does_not_fail_the_asset() {
    let s = two_spaces();
    let t = s.emulator.space(7).expect("served");
    s.emulator.seed_asset("logo.png", b"logo".to_vec(), None);
    t.seed_asset("logo.png", b"LOGO".to_vec(), None);
    // The first download is the source's (to compare), the second the candidate's.
    s.emulator.inject(Fault::respond(
        Endpoint::Download,
        2,
        403,
        "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>",
    ));
    let base = temp_dir("transfer_broken_candidate");
    let report = s
        .client
        .transfer(
            s.space,
            &s.client,
            7,
            &TransferOptions::new(base.join("map.json")),
        )
        .expect("a report");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(action(&report, "logo.png"), "Copied");
    assert_eq!(t.assets().len(), 2);
}

/// A record found in the target stays found in the map: a second failure does not delete
/// it either.
#[test]
fn a_found_record_is_not_deleted_by_a_later_failure() {
    let s = two_spaces();
    let target = deleting_client(&s);
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let empty = empty_record(&target, "a.txt");
    let base = temp_dir("transfer_found_twice");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path);
    // Downloads: the empty record's probe, then the source's file (cut); on the rerun the
    // map names the record, so the source's file is the third download (cut again).
    s.emulator.inject(Fault::cut_answer(Endpoint::Download, 2));
    s.emulator.inject(Fault::cut_answer(Endpoint::Download, 3));
    for run in 0..2 {
        let report = s
            .client
            .transfer(s.space, &target, 7, &options)
            .expect("a report");
        assert_eq!(report.failures().count(), 1, "run {run}: {report:?}");
        let mapped =
            TransferMap::load(&map_path).expect("map").assets[&report.assets[0].source_id].clone();
        assert!(
            mapped.pending && mapped.found && mapped.id == empty,
            "run {run}: {mapped:?}"
        );
        assert!(
            s.emulator.space(7).expect("served").asset(empty).is_some(),
            "run {run}: the found record was kept"
        );
    }
}

/// A pending record deleted meanwhile is forgotten before a new one is made: a map never
/// names a record that is gone, and a new record a kill leaves unnoted is looked for.
#[test]
fn a_pending_record_gone_is_forgotten_before_a_new_one_is_made() {
    let s = two_spaces();
    let a = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 1, 403, DENIED));
    let base = temp_dir("transfer_pending_gone");
    let map_path = base.join("map.json");
    let options = TransferOptions::new(&map_path);
    let first = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("a report");
    assert_eq!(first.failures().count(), 1, "{first:?}");
    let pending = TransferMap::load(&map_path).expect("map").assets[&a.id].id;
    s.client.delete(7, pending).expect("deleted meanwhile");
    // The replace gets 404 (sign 2); the new record's sign (3) is refused.
    s.emulator.inject(Fault::respond(
        Endpoint::Sign,
        3,
        422,
        r#"{"error":"refused"}"#,
    ));
    let again = s
        .client
        .transfer(s.space, &s.client, 7, &options)
        .expect("a report");
    assert_eq!(again.failures().count(), 1, "{again:?}");
    let map = TransferMap::load(&map_path).expect("map");
    assert!(!map.assets.contains_key(&a.id), "{map:?}");
    assert!(s.emulator.space(7).expect("served").assets().is_empty());
}
