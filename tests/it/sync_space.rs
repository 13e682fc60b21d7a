//! Sync into a space that editors also work in: folders mirrored once, assets already
//! there adopted instead of duplicated, metadata updated without uploads, new URLs on
//! change, a dry run that writes nothing, and odd local trees.

use crate::common;

use std::fs;
use std::time::{Duration, Instant};

use common::{Tree, action, png, setup_with, temp_dir, tree};
use storyblok_assets::{
    AssetMeta, ErrorKind, Manifest, OnChange, SyncAction, SyncOptions, SyncReport,
};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault, RecordedRequest};

/// An emulator that serves its stored files, so adoption can compare bytes.
fn space() -> common::Setup {
    setup_with(Emulator::builder().local_cdn(true))
}

/// The Management API and S3 calls that change something.
fn writes(emulator: &Emulator) -> Vec<RecordedRequest> {
    emulator
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "HEAD")
        .collect()
}

fn count(emulator: &Emulator, endpoint: Endpoint) -> usize {
    emulator.requests_for(endpoint).len()
}

#[test]
fn nested_folders_are_created_once_and_reused() {
    let s = space();
    let t = tree(
        "space_folders",
        &[
            ("img/icons/home.png", &png(4, 4)),
            ("img/icons/back.png", &png(5, 5)),
            ("img/hero.png", &png(6, 3)),
            ("top.txt", b"at the top"),
        ],
    );
    let root = s.emulator.create_folder("site", None);
    let options = SyncOptions::dir(&t.root, &t.manifest).mirror_folders(Some(root));
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(report.is_ok(), "{report:?}");

    // img below the root, icons below img: each made once, whatever the threads did.
    let folders = s.emulator.folders();
    let img = folders
        .iter()
        .find(|f| f.name == "img" && f.parent_id == Some(root))
        .expect("img")
        .id;
    let icons = folders
        .iter()
        .find(|f| f.name == "icons" && f.parent_id == Some(img))
        .expect("icons")
        .id;
    assert_eq!(folders.len(), 3, "{folders:?}");
    assert_eq!(count(&s.emulator, Endpoint::CreateFolder), 2);
    assert_eq!(
        count(&s.emulator, Endpoint::ListFolders),
        1,
        "listed once per client"
    );
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    for (path, folder) in [
        ("img/icons/home.png", icons),
        ("img/icons/back.png", icons),
        ("img/hero.png", img),
        ("top.txt", root),
    ] {
        let entry = &manifest.assets[path];
        assert_eq!(entry.folder, Some(folder), "{path}");
        let stored = s.emulator.asset(entry.id).expect("record");
        assert_eq!(stored.asset_folder_id, Some(folder), "{path}");
    }

    // A second client (a new build) syncing again: nothing to do, not even a listing.
    s.emulator.clear_requests();
    let again = common::client_for(&s.emulator)
        .sync(s.space, &options)
        .expect("rerun");
    assert_eq!(again.count(|a| matches!(a, SyncAction::Unchanged)), 4);
    assert!(
        s.emulator.requests().is_empty(),
        "{:?}",
        s.emulator.requests()
    );

    // A new file in an existing folder reuses it.
    fs::write(t.root.join("img/icons/up.png"), png(7, 7)).expect("write");
    let third = common::client_for(&s.emulator)
        .sync(s.space, &options)
        .expect("third");
    assert_eq!(action(&third, "img/icons/up.png"), "Uploaded");
    assert_eq!(count(&s.emulator, Endpoint::CreateFolder), 0);
    assert_eq!(s.emulator.folders().len(), 3);
    let up = Manifest::load(&t.manifest).expect("manifest").assets["img/icons/up.png"].clone();
    assert_eq!(up.folder, Some(icons));
}

#[test]
fn folder_path_finds_or_creates_and_lists_once() {
    let s = space();
    let existing = s.emulator.create_folder("img", None);
    let icons = s.client.folder_path(s.space, "img/icons").expect("created");
    assert_eq!(
        s.client.folder_path(s.space, "/img/icons/").expect("found"),
        icons
    );
    assert_eq!(
        s.client.folder_path(s.space, "img").expect("found"),
        existing
    );
    assert_eq!(count(&s.emulator, Endpoint::ListFolders), 1);
    assert_eq!(count(&s.emulator, Endpoint::CreateFolder), 1);
    let below = s
        .client
        .folder_path_in(s.space, existing, "icons/small")
        .expect("created below img");
    let small = s
        .emulator
        .folders()
        .into_iter()
        .find(|f| f.id == below)
        .expect("made");
    assert_eq!(small.name, "small");
    assert_eq!(
        small.parent_id,
        Some(icons),
        "icons below img was found, not made again"
    );
    let err = s.client.folder_path(s.space, "//").expect_err("no folder");
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { .. }),
        "{err:?}"
    );
}

#[test]
fn find_folder_looks_up_without_creating() {
    let s = space();
    let img = s.emulator.create_folder("img", None);
    let icons = s.emulator.create_folder("icons", Some(img));
    assert_eq!(
        s.client
            .find_folder(s.space, None, "img/icons")
            .expect("found"),
        Some(icons)
    );
    assert_eq!(
        s.client
            .find_folder(s.space, Some(img), "icons")
            .expect("found"),
        Some(icons)
    );
    assert_eq!(
        s.client
            .find_folder(s.space, Some(img), "")
            .expect("itself"),
        Some(img)
    );
    for missing in ["img/fonts", "fonts", "img/icons/small"] {
        assert_eq!(
            s.client.find_folder(s.space, None, missing).expect("asked"),
            None,
            "{missing}"
        );
    }
    assert_eq!(count(&s.emulator, Endpoint::ListFolders), 1);
    assert_eq!(count(&s.emulator, Endpoint::CreateFolder), 0);
    assert_eq!(s.emulator.folders().len(), 2);
}

#[test]
fn a_space_with_the_assets_already_and_no_manifest_gets_no_new_record() {
    let s = space();
    let logo = png(40, 20);
    let t = tree(
        "space_adopt",
        &[
            ("logo.png", &logo),
            ("docs/Read Me.txt", b"read me"),
            ("new.txt", b"new"),
        ],
    );
    // Uploaded earlier by someone else (or by a sync whose manifest is lost).
    let seeded_logo = s.emulator.seed_asset("logo.png", logo.clone(), None);
    let seeded_doc = s
        .emulator
        .seed_asset("Read Me.txt", b"read me".to_vec(), None);
    // Same name, other size: not the same file.
    s.emulator
        .seed_asset("new.txt", b"something else".to_vec(), None);
    let before = s.emulator.assets().len();
    s.emulator.clear_requests();

    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    assert_eq!(action(&report, "docs/Read Me.txt"), "Adopted");
    assert_eq!(action(&report, "new.txt"), "Uploaded");
    assert_eq!(s.emulator.assets().len(), before + 1, "only new.txt is new");
    assert_eq!(count(&s.emulator, Endpoint::Sign), 1);
    assert_eq!(count(&s.emulator, Endpoint::Upload), 1);
    assert_eq!(
        count(&s.emulator, Endpoint::Download),
        2,
        "compared by their bytes"
    );
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["logo.png"].id, seeded_logo.id);
    assert_eq!(manifest.assets["docs/Read Me.txt"].id, seeded_doc.id);
    assert_eq!(
        manifest.assets["logo.png"].dimensions.as_deref(),
        Some("40x20")
    );

    // The adopted files are now known: a rerun calls nothing.
    s.emulator.clear_requests();
    let again = s.client.sync(s.space, &options).expect("rerun");
    assert_eq!(again.count(|a| matches!(a, SyncAction::Unchanged)), 3);
    assert!(s.emulator.requests().is_empty());
}

#[test]
fn an_adopted_asset_with_other_bytes_is_replaced_and_adoption_can_be_turned_off() {
    let s = space();
    let t = tree("space_adopt_differs", &[("notes.txt", b"version 2")]);
    let seeded = s
        .emulator
        .seed_asset("notes.txt", b"version 1".to_vec(), None);
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "notes.txt"), "Replaced");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(
        manifest.assets["notes.txt"].id, seeded.id,
        "the same record"
    );
    let key = s.emulator.asset(seeded.id).expect("record").key;
    assert_eq!(s.emulator.object(&key).expect("object").bytes, b"version 2");

    // With adoption off, no listing: a new asset.
    let t = tree("space_adopt_off", &[("notes.txt", b"version 2")]);
    s.emulator.clear_requests();
    let options = SyncOptions::dir(&t.root, &t.manifest).adopt(false);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "notes.txt"), "Uploaded");
    assert_eq!(count(&s.emulator, Endpoint::ListAssets), 0);
}

#[test]
fn a_metadata_only_change_costs_one_update_and_no_upload() {
    let s = space();
    let t = tree("space_meta", &[("logo.png", &png(8, 8))]);
    fs::write(
        t.root.join("logo.png.json"),
        r#"{"alt": "Our logo", "title": "Logo", "internal_tags": ["brand"]}"#,
    )
    .expect("sidecar");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let first = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&first, "logo.png"), "Uploaded");
    assert!(
        !first.files.iter().any(|f| f.path == "logo.png.json"),
        "a sidecar is not an asset"
    );
    let id = Manifest::load(&t.manifest).expect("manifest").assets["logo.png"].id;
    let stored = s.emulator.asset(id).expect("record");
    assert_eq!(stored.alt.as_deref(), Some("Our logo"));
    let brand = s
        .emulator
        .internal_tags()
        .into_iter()
        .find(|t| t.name == "brand")
        .expect("the tag was created")
        .id;
    assert_eq!(stored.internal_tag_ids, [brand]);

    // Only the sidecar changes: one update, no sign, no S3.
    fs::write(
        t.root.join("logo.png.json"),
        r#"{"alt": "Our new logo", "title": "Logo", "internal_tags": ["brand"]}"#,
    )
    .expect("sidecar");
    s.emulator.clear_requests();
    let second = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&second, "logo.png"), "MetadataUpdated");
    let writes = writes(&s.emulator);
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].endpoint, Endpoint::UpdateAsset);
    assert_eq!(count(&s.emulator, Endpoint::Upload), 0);
    assert_eq!(
        s.emulator.asset(id).expect("record").alt.as_deref(),
        Some("Our new logo")
    );

    // The same metadata from a closure wins over the sidecar, and is not sent again.
    s.emulator.clear_requests();
    let options = options.metadata(|path| {
        (path == "logo.png").then(|| {
            AssetMeta::new()
                .alt("Our new logo")
                .title("Logo")
                .tag("brand")
        })
    });
    let third = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&third, "logo.png"), "Unchanged");
    assert!(s.emulator.requests().is_empty());
}

#[test]
fn a_changed_file_in_new_url_mode_gets_a_new_asset_and_the_old_one_stays() {
    let s = space();
    let t = tree("space_new_url", &[("app.css", b"body { color: red }")]);
    let options = SyncOptions::dir(&t.root, &t.manifest).on_change(OnChange::NewAsset);
    s.client.sync(s.space, &options).expect("sync");
    let old = Manifest::load(&t.manifest).expect("manifest").assets["app.css"].clone();

    fs::write(t.root.join("app.css"), b"body { color: blue }").expect("write");
    let report = s.client.sync(s.space, &options).expect("sync");
    match &report.files[0].action {
        SyncAction::NewVersion { previous } => assert_eq!(*previous, old.id),
        other => panic!("expected a new version, got {other:?}"),
    }
    let new = Manifest::load(&t.manifest).expect("manifest").assets["app.css"].clone();
    assert_ne!(new.id, old.id);
    assert_ne!(new.url, old.url);
    let kept = s.emulator.asset(old.id).expect("the old asset stays");
    assert_eq!(
        s.emulator.object(&kept.key).expect("its file").bytes,
        b"body { color: red }"
    );
    let fresh = s.emulator.asset(new.id).expect("the new asset");
    assert_eq!(
        s.emulator.object(&fresh.key).expect("its file").bytes,
        b"body { color: blue }"
    );
    assert_eq!(count(&s.emulator, Endpoint::Delete), 0);
}

#[test]
fn a_dry_run_makes_no_write_and_reports_what_would_happen() {
    let s = space();
    let t = tree(
        "space_dry",
        &[
            ("a/one.txt", b"one"),
            ("two.txt", b"two"),
            ("gone.txt", b"gone"),
        ],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).delete_removed(true);
    s.client.sync(s.space, &options).expect("sync");
    let manifest_before = fs::read(&t.manifest).expect("manifest");

    fs::write(t.root.join("two.txt"), b"two, changed").expect("write");
    fs::remove_file(t.root.join("gone.txt")).expect("remove");
    fs::write(t.root.join("a/three.txt"), b"three").expect("write");
    fs::write(t.root.join("two.txt.json"), r#"{"alt": "Two"}"#).expect("sidecar");
    s.emulator.clear_requests();
    let dry = options.clone().mirror_folders(None).dry_run(true);
    let report = s.client.sync(s.space, &dry).expect("dry run");
    assert!(report.dry_run);
    assert!(writes(&s.emulator).is_empty(), "{:?}", writes(&s.emulator));
    assert_eq!(fs::read(&t.manifest).expect("manifest"), manifest_before);
    assert!(s.emulator.folders().is_empty(), "no folder created");
    assert_eq!(action(&report, "two.txt"), "Replaced");
    assert_eq!(action(&report, "gone.txt"), "Deleted");
    assert_eq!(action(&report, "a/three.txt"), "Uploaded");
    // a/one.txt would move into folder a.
    assert_eq!(action(&report, "a/one.txt"), "MetadataUpdated");

    // The real run then does what the dry run said.
    let report = s.client.sync(s.space, &dry.dry_run(false)).expect("sync");
    assert_eq!(action(&report, "two.txt"), "Replaced");
    assert_eq!(action(&report, "gone.txt"), "Deleted");
    assert_eq!(action(&report, "a/three.txt"), "Uploaded");
    assert_eq!(action(&report, "a/one.txt"), "MetadataUpdated");
}

#[test]
fn many_files_sync_in_parallel_and_report_in_path_order() {
    // The first sign is held until three more have arrived: files going one at a time
    // would hold it the full minute, and the sync would not end before it.
    let s = setup_with(
        Emulator::builder()
            .local_cdn(true)
            .one_way_delay(Duration::from_millis(25), Duration::ZERO),
    );
    let hold = Duration::from_secs(60);
    s.emulator
        .inject(Fault::hold(Endpoint::Sign, 1, Endpoint::Sign, 4, hold));
    let files: Vec<(String, Vec<u8>)> = (0..24)
        .map(|i| {
            (
                format!("f{:02}/{i}.txt", i % 5),
                format!("file {i}").into_bytes(),
            )
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let t = tree("space_parallel", &refs);
    let options = SyncOptions::dir(&t.root, &t.manifest).concurrency(8);
    let started = Instant::now();
    let report = s.client.sync(s.space, &options).expect("sync");
    let took = started.elapsed();
    assert!(
        took < hold,
        "the first sign was held {took:?}: no other file was signed meanwhile"
    );
    assert_eq!(report.count(|a| matches!(a, SyncAction::Uploaded)), 24);
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_unstable();
    assert_eq!(paths, sorted);
    assert_eq!(
        Manifest::load(&t.manifest).expect("manifest").assets.len(),
        24
    );
    assert_eq!(s.emulator.assets().len(), 24);
}

#[test]
fn a_file_of_the_recorded_size_and_time_is_not_hashed_again() {
    let s = space();
    let t = tree("space_mtime", &[("data.bin", b"aaaa")]);
    let path = t.root.join("data.bin");
    // Written a while ago: a time of the last moments is not recorded.
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| {
            f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        })
        .expect("set mtime");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    s.client.sync(s.space, &options).expect("sync");
    let recorded = fs::metadata(&path)
        .expect("stat")
        .modified()
        .expect("mtime");

    // Same size, same time, other bytes: only a hash would tell, and it is skipped.
    fs::write(&path, b"bbbb").expect("write");
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(recorded))
        .expect("set mtime");
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "data.bin"), "Unchanged");

    // A new time makes it hash, and see the change.
    fs::File::options()
        .write(true)
        .open(&path)
        .and_then(|f| f.set_modified(recorded + std::time::Duration::from_secs(5)))
        .expect("set mtime");
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "data.bin"), "Replaced");
}

#[cfg(unix)]
#[test]
fn a_non_utf8_name_fails_alone_and_keeps_its_neighbours_apart() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let s = space();
    let t = tree("space_utf8", &[("ok.txt", b"fine")]);
    fs::write(t.root.join(OsStr::from_bytes(b"logo\xff.png")), b"one").expect("write");
    fs::write(t.root.join(OsStr::from_bytes(b"logo\xfe.png")), b"two").expect("write");
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    let failures: Vec<(&str, String)> = report
        .failures()
        .map(|(path, error)| (path, error.to_string()))
        .collect();
    assert_eq!(failures.len(), 2, "{report:?}");
    for (_, error) in &failures {
        assert!(error.contains("not valid UTF-8"), "{error}");
    }
    assert_eq!(action(&report, "ok.txt"), "Uploaded");
    assert_eq!(
        s.emulator.assets().len(),
        1,
        "nothing uploaded under a mangled name"
    );
}

#[cfg(unix)]
#[test]
fn a_root_reached_through_a_symlink_never_uploads_its_manifest() {
    let s = space();
    let base = temp_dir("space_symlink");
    let real = base.join("real");
    fs::create_dir_all(&real).expect("dir");
    fs::write(real.join("a.txt"), b"a").expect("write");
    let link = base.join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    // The manifest inside the folder, named through the real path; synced through the link.
    let options = SyncOptions::dir(&link, real.join("assets.manifest.json"));
    let first = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(first.files.len(), 1, "{first:?}");
    let second = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&second, "a.txt"), "Unchanged");
    assert_eq!(second.files.len(), 1, "{second:?}");
    assert_eq!(s.emulator.assets().len(), 1);
}

#[test]
fn a_broken_sidecar_fails_its_file_alone() {
    let s = space();
    let t = tree(
        "space_bad_sidecar",
        &[("a.png", &png(2, 2)), ("b.txt", b"b")],
    );
    fs::write(t.root.join("a.png.json"), "{not json").expect("sidecar");
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert!(
        action(&report, "a.png").contains("a.png.json"),
        "{report:?}"
    );
    assert_eq!(action(&report, "b.txt"), "Uploaded");
}

#[test]
fn two_syncs_of_one_manifest_at_once_upload_each_file_once() {
    let s = space();
    let files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("{i}.txt"), format!("file {i}").into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let t = tree("space_two_syncs", &refs);
    let options = SyncOptions::dir(&t.root, &t.manifest);
    // A build and an editor's `cargo check` at the same moment.
    let reports: Vec<SyncReport> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| s.client.sync(s.space, &options).expect("sync")))
            .collect();
        runs.into_iter()
            .map(|r| r.join().expect("thread"))
            .collect()
    });
    assert_eq!(s.emulator.assets().len(), 12, "no file uploaded twice");
    let uploaded: usize = reports
        .iter()
        .map(|r| r.count(|a| matches!(a, SyncAction::Uploaded)))
        .sum();
    let unchanged: usize = reports
        .iter()
        .map(|r| r.count(|a| matches!(a, SyncAction::Unchanged)))
        .sum();
    assert_eq!(
        (uploaded, unchanged),
        (12, 12),
        "one did the work, the other found it done"
    );
    assert_eq!(
        Manifest::load(&t.manifest).expect("manifest").assets.len(),
        12
    );
    assert!(
        !fs::read_dir(&t.root).expect("root").any(|e| e
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .ends_with(".lock")),
        "the lock file lives beside the manifest"
    );
}

#[test]
fn adoption_never_takes_an_asset_another_file_owns() {
    let s = space();
    // One folder for all: both files would be stored as logo.png, with the same size.
    let folder = s.emulator.create_folder("all", None);
    let t = tree(
        "space_owned",
        &[
            ("icons/logo.png", b"icon-bytes"),
            ("social/logo.png", b"card-bytes"),
        ],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).folder(folder);
    for threads in [1, 2] {
        let report = s
            .client
            .sync(s.space, &options.clone().concurrency(threads))
            .expect("sync");
        assert!(report.is_ok(), "{report:?}");
    }
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    let icon = &manifest.assets["icons/logo.png"];
    let card = &manifest.assets["social/logo.png"];
    assert_ne!(icon.id, card.id, "each file has its own asset");
    let bytes = |id: u64| {
        let key = s.emulator.asset(id).expect("record").key;
        s.emulator.object(&key).expect("file").bytes
    };
    assert_eq!(bytes(icon.id), b"icon-bytes");
    assert_eq!(bytes(card.id), b"card-bytes");
}

#[test]
fn a_list_of_files_finds_their_sidecars_on_disk() {
    let s = space();
    let t = tree(
        "space_list_sidecars",
        &[
            ("a.png", &png(3, 3)),
            ("b.png", &png(4, 4)),
            ("img/c.png", &png(5, 5)),
        ],
    );
    for (sidecar, alt) in [
        ("a.png.json", "A"),
        ("b.png.json", "B"),
        ("img/c.png.json", "C"),
    ] {
        fs::write(t.root.join(sidecar), format!(r#"{{"alt": "{alt}"}}"#)).expect("sidecar");
    }
    // a.png without its sidecar, b.png with it, img/c.png through its sidecar alone.
    let options = SyncOptions::files(
        &t.root,
        ["a.png", "b.png", "b.png.json", "img/c.png.json"],
        &t.manifest,
    );
    let report = s.client.sync(s.space, &options).expect("sync");
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.png", "b.png", "img/c.png"], "{report:?}");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    for (path, alt) in [("a.png", "A"), ("b.png", "B"), ("img/c.png", "C")] {
        assert_eq!(action(&report, path), "Uploaded");
        let stored = s.emulator.asset(manifest.assets[path].id).expect("record");
        assert_eq!(stored.alt.as_deref(), Some(alt), "{path}");
    }
    assert_eq!(s.emulator.assets().len(), 3, "no sidecar is an asset");

    // Without sidecars, a listed `.json` is a file like any other.
    let t = tree("space_list_no_sidecars", &[("d.png", &png(2, 2))]);
    fs::write(t.root.join("d.png.json"), r#"{"alt": "D"}"#).expect("sidecar");
    let options = SyncOptions::files(&t.root, ["d.png", "d.png.json"], &t.manifest).sidecars(false);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "d.png"), "Uploaded");
    assert_eq!(action(&report, "d.png.json"), "Uploaded");
}

#[test]
fn a_failed_download_fails_the_file_and_neither_replaces_nor_duplicates() {
    let logo = png(9, 9);
    for on_change in [OnChange::ReplaceInPlace, OnChange::NewAsset] {
        let s = space();
        let t = tree(
            &format!("space_download_fails_{on_change:?}"),
            &[("logo.png", &logo)],
        );
        let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
        s.emulator
            .inject(Fault::respond(Endpoint::Download, 1, 503, "busy"));
        s.emulator.clear_requests();
        let options = SyncOptions::dir(&t.root, &t.manifest).on_change(on_change);
        let report = s.client.sync(s.space, &options).expect("sync");
        let line = action(&report, "logo.png");
        assert!(
            line.starts_with(&format!("failed: download failed (asset {})", seeded.id))
                && line.contains("503"),
            "{on_change:?}: {line}"
        );
        let (_, error) = report.failures().next().expect("a failure");
        assert!(
            matches!(error.kind(), ErrorKind::Download { status: 503, url, .. } if url.contains("logo.png")),
            "{error:?}"
        );
        assert_eq!(error.body(), Some("busy"));
        assert!(writes(&s.emulator).is_empty(), "{:?}", writes(&s.emulator));
        assert_eq!(s.emulator.assets().len(), 1, "{on_change:?}: no duplicate");
        let key = s.emulator.asset(seeded.id).expect("record").key;
        assert_eq!(s.emulator.object(&key).expect("object").bytes, logo);
        let manifest = Manifest::load(&t.manifest).expect("manifest");
        assert!(!manifest.assets.contains_key("logo.png"), "{manifest:?}");

        // The next run compares again, and adopts.
        let again = s.client.sync(s.space, &options).expect("rerun");
        assert_eq!(action(&again, "logo.png"), "Adopted");
        let manifest = Manifest::load(&t.manifest).expect("manifest");
        assert_eq!(manifest.assets["logo.png"].id, seeded.id);
    }

    // A failed download does not keep another candidate with the same bytes from being
    // adopted.
    let s = space();
    let t = tree("space_download_fails_other", &[("notes.txt", b"version 2")]);
    s.emulator
        .seed_asset("notes.txt", b"version 1".to_vec(), None);
    let ours = s
        .emulator
        .seed_asset("notes.txt", b"version 2".to_vec(), None);
    s.emulator
        .inject(Fault::respond(Endpoint::Download, 1, 503, "busy"));
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert_eq!(action(&report, "notes.txt"), "Adopted");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["notes.txt"].id, ours.id);
    assert_eq!(s.emulator.assets().len(), 2);
}

#[test]
fn a_download_refused_for_good_is_judged_by_its_status() {
    let logo = png(9, 9);
    // 404: no file behind the asset, so it holds other bytes: replaced in place.
    let s = space();
    let t = tree("space_download_404", &[("logo.png", &logo)]);
    let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
    s.emulator
        .inject(Fault::respond(Endpoint::Download, 1, 404, "gone"));
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "logo.png"), "Replaced");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["logo.png"].id, seeded.id);
    assert_eq!(s.emulator.assets().len(), 1);

    // 403: it can never be compared, so it is left alone and the file is a new asset.
    let s = space();
    let t = tree("space_download_403", &[("logo.png", &logo)]);
    let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
    s.emulator
        .inject(Fault::respond(Endpoint::Download, 1, 403, "denied"));
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "logo.png"), "Uploaded");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_ne!(manifest.assets["logo.png"].id, seeded.id);
    assert_eq!(s.emulator.assets().len(), 2);
    let touching: Vec<_> = writes(&s.emulator)
        .into_iter()
        .filter(|r| {
            r.path.contains(&seeded.id.to_string())
                || r.json.as_ref().is_some_and(|j| j["id"] == seeded.id)
        })
        .collect();
    assert!(
        touching.is_empty(),
        "the refused asset is left alone: {touching:?}"
    );
}

#[test]
fn assets_and_tags_are_found_past_the_first_page() {
    let s = space();
    let t = tree("space_pages", &[("logo.png", &png(6, 6))]);
    fs::write(
        t.root.join("logo.png.json"),
        r#"{"internal_tags": ["t100"]}"#,
    )
    .expect("sidecar");
    // 100 other files of that name first, then this one: the second page holds it.
    for i in 0..100 {
        s.emulator
            .seed_asset("logo.png", format!("other {i}").into_bytes(), None);
    }
    let ours = s.emulator.seed_asset("logo.png", png(6, 6), None);
    let tags: Vec<u64> = (0..=100)
        .map(|i| s.emulator.create_internal_tag(format!("t{i}")))
        .collect();
    s.emulator.clear_requests();
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["logo.png"].id, ours.id);
    assert_eq!(count(&s.emulator, Endpoint::ListAssets), 2);
    assert_eq!(count(&s.emulator, Endpoint::ListTags), 2);
    assert_eq!(count(&s.emulator, Endpoint::CreateTag), 0, "t100 was found");
    let stored = s.emulator.asset(ours.id).expect("record");
    assert_eq!(stored.internal_tag_ids, [tags[100]]);
}

#[test]
fn a_metadata_change_of_an_asset_deleted_in_storyblok_uploads_the_file_again() {
    let s = space();
    let logo = png(8, 8);
    let t = tree("space_meta_deleted", &[("logo.png", &logo)]);
    let sidecar = t.root.join("logo.png.json");
    fs::write(&sidecar, r#"{"alt": "One"}"#).expect("sidecar");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let first = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&first, "logo.png"), "Uploaded");
    let old = Manifest::load(&t.manifest).expect("manifest").assets["logo.png"].id;
    s.client.delete(s.space, old).expect("deleted by an editor");

    fs::write(&sidecar, r#"{"alt": "Two"}"#).expect("sidecar");
    s.emulator.clear_requests();
    let second = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&second, "logo.png"), "Uploaded");
    assert_eq!(count(&s.emulator, Endpoint::UpdateAsset), 1);
    assert_eq!(count(&s.emulator, Endpoint::Sign), 1);
    let entry = Manifest::load(&t.manifest).expect("manifest").assets["logo.png"].clone();
    assert_ne!(entry.id, old);
    assert!(!entry.pending);
    let stored = s.emulator.asset(entry.id).expect("the new asset");
    assert_eq!(stored.alt.as_deref(), Some("Two"));
    assert_eq!(
        s.emulator.object(&stored.key).expect("its file").bytes,
        logo
    );

    let third = s.client.sync(s.space, &options).expect("rerun");
    assert_eq!(action(&third, "logo.png"), "Unchanged");
}

#[test]
fn a_file_rewritten_in_the_tick_of_its_sync_is_hashed_next_time() {
    let s = space();
    let t = tree("space_racy_mtime", &[("data.bin", b"aaaa")]);
    let path = t.root.join("data.bin");
    let set_modified = |time| {
        fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(time))
            .expect("set mtime");
    };
    // Written in the moment the sync looks at it.
    let written = std::time::SystemTime::now();
    set_modified(written);
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "data.bin"), "Uploaded");

    // Rewritten within the same tick of the file system's clock: same size, same time.
    fs::write(&path, b"bbbb").expect("write");
    set_modified(written);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "data.bin"), "Replaced");
    let entry =
        |t: &Tree| Manifest::load(&t.manifest).expect("manifest").assets["data.bin"].clone();
    assert_eq!(
        entry(&t).modified,
        None,
        "a time of the last moments is not recorded"
    );

    // A while later the time can be trusted: it is recorded, so the next sync need not
    // hash the file.
    set_modified(written - std::time::Duration::from_secs(60));
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "data.bin"), "Unchanged");
    assert!(entry(&t).modified.is_some(), "{:?}", entry(&t));
}

#[test]
fn a_file_that_fails_adopting_leaves_the_asset_to_the_next_file() {
    let s = space();
    let folder = s.emulator.create_folder("all", None);
    let logo = png(7, 7);
    // Both stored as logo.png in one folder, with the same bytes.
    let t = tree(
        "space_claims",
        &[("a/logo.png", &logo), ("b/logo.png", &logo)],
    );
    fs::write(t.root.join("a/logo.png.json"), r#"{"alt": "A"}"#).expect("sidecar");
    let seeded = s
        .emulator
        .seed_asset("logo.png", logo.clone(), Some(folder));
    // a/logo.png's metadata update is refused: it fails after claiming the asset.
    s.emulator.inject(Fault::respond(
        Endpoint::UpdateAsset,
        1,
        422,
        r#"{"error": "refused"}"#,
    ));
    let options = SyncOptions::dir(&t.root, &t.manifest)
        .folder(folder)
        .concurrency(1);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(action(&report, "a/logo.png").contains("422"), "{report:?}");
    assert_eq!(action(&report, "b/logo.png"), "Adopted");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["b/logo.png"].id, seeded.id);
    assert_eq!(s.emulator.assets().len(), 1, "no duplicate");
}

#[test]
fn a_file_that_reads_other_than_its_size_fails_and_is_not_unchanged() {
    // The SHA-256 of "hello, world".
    const GROWN: &str = "09ca7e4eaa6e8ae9c7d261167129184883644d07dfba7cbfbc4c8a2e08360d5b";
    let s = space();
    let t = tree("space_grows", &[("grows.txt", b"hello")]);
    // The manifest says: 5 bytes (the size the sync sees), with the SHA-256 of what the
    // file will hold when it is read, and no time (so it is read).
    fs::write(
        &t.manifest,
        format!(
            r#"{{"version": 1, "space_id": {}, "assets": {{"grows.txt": {{"id": 1, "url": "https://a/grows.txt", "size": 5, "sha256": "{GROWN}"}}}}}}"#,
            s.space
        ),
    )
    .expect("manifest");
    // The file grows after the sync looked at it and before it reads it: the metadata
    // closure runs in between.
    let path = t.root.join("grows.txt");
    let options = SyncOptions::dir(&t.root, &t.manifest).metadata(move |_| {
        fs::write(&path, b"hello, world").expect("grow");
        None
    });
    let report = s.client.sync(s.space, &options).expect("sync");
    let line = action(&report, "grows.txt");
    assert!(line.contains("changed while it was read"), "{line}");
}
