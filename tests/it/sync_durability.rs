//! What a sync leaves on disk when it fails, is interrupted or has nothing to do: the old
//! asset kept until a new version is finished, a journal instead of manifest rewrites, a
//! manifest left untouched when nothing changed, and a lock that is bounded, never followed
//! through a link, and taken only to write.

use crate::common;

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use common::{Tree, action, setup, setup_with, tree};
use storyblok_assets::{ErrorKind, Manifest, OnChange, SyncAction, SyncOptions};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// The lock file and journal beside a manifest.
fn lock_of(manifest: &Path) -> std::path::PathBuf {
    manifest.with_file_name(".assets.manifest.json.lock")
}

fn journal_of(manifest: &Path) -> std::path::PathBuf {
    manifest.with_file_name(".assets.manifest.json.journal")
}

fn modified(path: &Path) -> SystemTime {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("a modification time")
}

/// An S3 refusal that is not retried.
const DENIED: &str = "<Error><Code>AccessDenied</Code><Message>Denied</Message></Error>";

#[test]
fn a_failed_new_version_keeps_the_old_asset_until_the_new_one_is_finished() {
    let s = setup();
    let t = tree(
        "durable_new_version",
        &[("app.css", b"body { color: red }")],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).on_change(OnChange::NewAsset);
    s.client.sync(s.space, &options).expect("first sync");
    let old = Manifest::load(&t.manifest).expect("manifest").assets["app.css"].clone();

    // The new bytes' upload fails for good once its record exists.
    fs::write(t.root.join("app.css"), b"body { color: blue }").expect("write");
    s.emulator.clear_requests();
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 1, 403, DENIED));
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(
        action(&report, "app.css").starts_with("failed"),
        "{report:?}"
    );
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    let kept = &manifest.assets["app.css"];
    // The working asset, its URL and its constant stay; the new record waits beside it.
    assert_eq!(
        (kept.id, &kept.url, kept.pending),
        (old.id, &old.url, false)
    );
    let record = kept.new_version.expect("the new record, noted");
    assert_ne!(record, old.id);
    assert!(s.emulator.asset(record).is_some());
    let constants = manifest.rust_consts().expect("constants");
    assert!(
        constants.contains(&format!("pub const APP_CSS: &str = \"{}\";", old.url)),
        "{constants}"
    );

    // The rerun uploads into that record: no third asset.
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("rerun");
    match &report.files[0].action {
        SyncAction::NewVersion { previous } => assert_eq!(*previous, old.id),
        other => panic!("expected a new version, got {other:?}"),
    }
    let signs = s.emulator.requests_for(Endpoint::Sign);
    assert_eq!(signs.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&signs[0].body).expect("json");
    assert_eq!(body["id"], record, "signed into the noted record");
    let new = Manifest::load(&t.manifest).expect("manifest").assets["app.css"].clone();
    assert_eq!((new.id, new.new_version), (record, None));
    assert_ne!(new.url, old.url);
    assert_eq!(
        s.emulator.assets().len(),
        2,
        "the old asset and the new one"
    );
}

#[test]
fn a_file_back_to_its_bytes_gives_up_its_pending_new_version() {
    let s = setup();
    let t = tree("durable_back", &[("app.css", b"red")]);
    let options = SyncOptions::dir(&t.root, &t.manifest).on_change(OnChange::NewAsset);
    s.client.sync(s.space, &options).expect("first sync");
    fs::write(t.root.join("app.css"), b"blue").expect("write");
    s.emulator.clear_requests();
    s.emulator
        .inject(Fault::respond(Endpoint::Upload, 1, 403, DENIED));
    s.client.sync(s.space, &options).expect("sync");
    let record = Manifest::load(&t.manifest).expect("manifest").assets["app.css"]
        .new_version
        .expect("a pending new version");

    fs::write(t.root.join("app.css"), b"red").expect("write");
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "app.css"), "Unchanged");
    let entry = Manifest::load(&t.manifest).expect("manifest").assets["app.css"].clone();
    assert_eq!(entry.new_version, None);
    assert!(
        s.emulator.asset(record).is_none(),
        "the unfinished record is deleted"
    );
    assert_eq!(s.emulator.assets().len(), 1);
}

#[test]
fn two_entries_with_one_asset_id_are_refused_at_load() {
    let s = setup();
    let t = tree("durable_duplicate_ids", &[("a.png", b"a"), ("b.png", b"b")]);
    let entry = r#"{"id": 7, "url": "https://a.storyblok.com/f/1/x", "size": 1, "sha256": "ab"}"#;
    fs::write(
        &t.manifest,
        format!(r#"{{"version": 1, "assets": {{"a.png": {entry}, "b.png": {entry}}}}}"#),
    )
    .expect("write");
    let err = Manifest::load(&t.manifest).expect_err("one id, two files");
    assert!(matches!(err.kind(), ErrorKind::Manifest { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("asset 7 to both \"a.png\" and \"b.png\""),
        "{text}"
    );
    let err = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect_err("not synced");
    assert!(err.to_string().contains("\"b.png\""), "{err}");
    assert!(s.emulator.requests().is_empty());
}

/// A synced folder whose next sync has nothing to do.
fn synced(name: &str) -> (common::Setup, Tree) {
    let s = setup();
    let t = tree(name, &[("a.txt", b"a"), ("b.txt", b"b")]);
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert!(report.is_ok(), "{report:?}");
    // An old time: a rewrite, even of the same text, would change it.
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&t.manifest)
        .and_then(|f| f.set_modified(old))
        .expect("dated");
    (s, t)
}

#[test]
fn a_sync_with_nothing_to_write_touches_no_file_and_takes_no_lock() {
    let (s, t) = synced("durable_nothing");
    let before = (fs::read(&t.manifest).expect("read"), modified(&t.manifest));
    // The lock file cannot be opened (a folder stands at its name): a sync that needed
    // it would fail.
    let _ = fs::remove_file(lock_of(&t.manifest));
    fs::create_dir(lock_of(&t.manifest)).expect("a folder at the lock's name");
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("an unchanged sync needs no lock");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Unchanged)), 2);
    assert_eq!(
        (fs::read(&t.manifest).expect("read"), modified(&t.manifest)),
        before
    );
    assert!(!journal_of(&t.manifest).exists());

    // With something to write, it needs the lock, and says which file is in the way.
    fs::write(t.root.join("c.txt"), b"c").expect("write");
    let err = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect_err("the lock cannot be taken");
    assert!(
        err.to_string().contains(".assets.manifest.json.lock"),
        "{err}"
    );
    assert!(
        s.emulator.requests_for(Endpoint::Sign).len() == 2,
        "no record made for c.txt"
    );
}

#[test]
fn a_sync_whose_every_file_fails_leaves_the_manifest_untouched() {
    let (s, t) = synced("durable_failing");
    fs::write(t.root.join("a.txt"), b"a, changed").expect("write");
    let before = (fs::read(&t.manifest).expect("read"), modified(&t.manifest));
    // A token without upload rights: every sign is refused.
    for nth in 1..=3 {
        s.emulator.inject(Fault::respond(
            Endpoint::Sign,
            nth,
            403,
            r#"{"error":"Forbidden"}"#,
        ));
    }
    s.emulator.clear_requests();
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert!(action(&report, "a.txt").starts_with("failed"), "{report:?}");
    assert_eq!(
        (fs::read(&t.manifest).expect("read"), modified(&t.manifest)),
        before
    );
    assert!(!journal_of(&t.manifest).exists(), "the journal is removed");
}

#[test]
fn a_held_lock_is_waited_for_a_bounded_time_then_named() {
    let (s, t) = synced("durable_held");
    fs::write(t.root.join("c.txt"), b"c").expect("write");
    let held = fs::File::options()
        .read(true)
        .write(true)
        .open(lock_of(&t.manifest))
        .expect("the lock file");
    held.lock().expect("held by 'another sync'");
    let (sent, got) = mpsc::channel();
    let (client, space) = (s.client.clone(), s.space);
    let options = SyncOptions::dir(&t.root, &t.manifest).lock_timeout(Duration::from_millis(300));
    std::thread::spawn(move || {
        let _ = sent.send(client.sync(space, &options));
    });
    let outcome = got
        .recv_timeout(Duration::from_secs(20))
        .expect("the sync gives up instead of waiting for ever");
    let err = outcome.expect_err("the lock is held");
    assert!(
        err.to_string()
            .contains(".assets.manifest.json.lock, that another sync has held for more than 0.3 s"),
        "{err}"
    );
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 2);
    drop(held);
}

#[cfg(unix)]
#[test]
fn a_lock_file_that_is_a_link_is_never_followed() {
    let (s, t) = synced("durable_link");
    fs::write(t.root.join("c.txt"), b"c").expect("write");
    let target = t.manifest.with_file_name("planted-target");
    let lock = lock_of(&t.manifest);
    let _ = fs::remove_file(&lock);
    std::os::unix::fs::symlink(&target, &lock).expect("a dangling link");
    let err = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect_err("the lock is a link");
    assert!(err.to_string().contains("that cannot be opened"), "{err}");
    assert!(!target.exists(), "nothing created through the link");
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 2);
}

#[test]
fn a_journal_left_by_a_killed_sync_is_read_and_folded_in() {
    let s = setup_with(Emulator::builder());
    let t = tree("durable_journal", &[("a.txt", b"aaa")]);
    // A sync that was killed after the sign of a.txt: its record, noted in the journal only.
    let signed = s
        .client
        .sign(
            s.space,
            storyblok_assets::AssetParams::new().filename("a.txt"),
        )
        .expect("a record");
    let record = signed.asset_id();
    let sha = "9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0";
    let line = format!(
        r#"{{"path":"a.txt","entry":{{"id":{record},"url":"","size":3,"sha256":"{sha}","pending":true}}}}"#
    );
    fs::write(
        journal_of(&t.manifest),
        format!(
            "{{\"journal\":1,\"space_id\":{}}}\n{line}\n{{\"path\":\"torn",
            s.space
        ),
    )
    .expect("a journal");
    // Read as the killed sync left it, its torn last line ignored.
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["a.txt"].id, record);
    assert!(manifest.assets["a.txt"].pending);
    assert_eq!(manifest.space_id, Some(s.space));

    // The next sync folds it in and uploads into the noted record.
    s.emulator.clear_requests();
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert_eq!(action(&report, "a.txt"), "Uploaded");
    assert_eq!(s.emulator.assets().len(), 1, "no second record");
    let entry = Manifest::load(&t.manifest).expect("manifest").assets["a.txt"].clone();
    assert_eq!((entry.id, entry.pending), (record, false));
    assert!(!journal_of(&t.manifest).exists());

    // A line that is not a journal line, before the last, is an error, never a guess.
    fs::write(
        journal_of(&t.manifest),
        format!("{{\"journal\":1}}\nnot json\n{line}\n"),
    )
    .expect("a journal");
    let err = Manifest::load(&t.manifest).expect_err("corrupt");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn a_sync_that_finds_the_manifest_changed_when_it_takes_the_lock_starts_over() {
    let (s, t) = synced("durable_restart");
    fs::write(t.root.join("c.txt"), b"c").expect("write");
    // "Another sync" holds the lock and, meanwhile, uploads c.txt and notes it.
    let held = fs::File::options()
        .read(true)
        .write(true)
        .open(lock_of(&t.manifest))
        .expect("the lock file");
    held.lock().expect("locked");
    let (sent, got) = mpsc::channel();
    let (client, space) = (s.client.clone(), s.space);
    let options = SyncOptions::dir(&t.root, &t.manifest);
    std::thread::spawn(move || {
        let _ = sent.send(client.sync(space, &options));
    });
    // This sync has read the manifest and waits for the lock to note c.txt's record.
    std::thread::sleep(Duration::from_millis(300));
    let mut manifest = Manifest::load(&t.manifest).expect("manifest");
    let asset = common::put(&s.client, s.space, "c.txt", b"c").expect("uploaded elsewhere");
    let mut entry = manifest.assets["a.txt"].clone();
    entry.id = asset.id;
    entry.url = asset.filename;
    entry.size = 1;
    entry.sha256 = "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6".into();
    entry.modified = None;
    manifest.assets.insert("c.txt".into(), entry);
    manifest.save(&t.manifest).expect("saved");
    drop(held);

    let report = got
        .recv_timeout(Duration::from_secs(20))
        .expect("the sync ends")
        .expect("sync");
    assert_eq!(action(&report, "c.txt"), "Unchanged", "{report:?}");
    assert_eq!(s.emulator.assets().len(), 3, "no second record for c.txt");
}

#[test]
fn a_manifest_inside_the_folder_is_never_synced_nor_its_journal_or_lock() {
    let s = setup();
    let t = tree("durable_inside", &[("a.txt", b"a")]);
    let manifest = t.root.join("assets.manifest.json");
    let options = SyncOptions::dir(&t.root, &manifest);
    s.client.sync(s.space, &options).expect("sync");
    assert!(lock_of(&manifest).exists());
    // A sync killed after its first note left its journal in the folder.
    fs::write(
        journal_of(&manifest),
        format!("{{\"journal\":1,\"space_id\":{}}}\n", s.space),
    )
    .expect("a journal");
    let report = s
        .client
        .sync(s.space, &options.clone().dry_run(true))
        .expect("dry run");
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.txt"]);
    let report = s.client.sync(s.space, &options).expect("sync");
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["a.txt"]);
    assert!(!journal_of(&manifest).exists(), "folded and removed");
    assert_eq!(s.emulator.assets().len(), 1);
}

#[test]
fn a_record_whose_sign_answer_was_lost_is_found_again_not_duplicated() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let t = tree(
        "durable_lost_answer",
        &[("a.txt", b"aaa"), ("b.txt", b"bbb")],
    );
    // The sign of the first file is answered too late: the client gives up, and the
    // emulator makes the record after that.
    s.emulator
        .inject(Fault::delay(Endpoint::Sign, 1, Duration::from_millis(700)));
    let impatient = common::builder_for(&s.emulator)
        .timeout_call(Duration::from_millis(300))
        .build()
        .expect("a client");
    // Adoption off: the listing counted below is the search for the lost record alone.
    let options = SyncOptions::dir(&t.root, &t.manifest)
        .concurrency(1)
        .adopt(false);
    let report = impatient.sync(s.space, &options).expect("sync");
    assert!(action(&report, "a.txt").starts_with("failed"), "{report:?}");
    // Wait (a bounded time) for the record the lost sign made.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.emulator.assets().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the late sign never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let lost = s
        .emulator
        .assets()
        .into_iter()
        .map(|a| a.id)
        .find(|id| {
            Manifest::load(&t.manifest)
                .expect("manifest")
                .assets
                .values()
                .all(|e| e.id != *id)
        })
        .expect("a record no entry names");

    // The next sync finds it (one listing, one look at the CDN) and uploads into it.
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "a.txt"), "Uploaded");
    assert_eq!(s.emulator.assets().len(), 2, "no third record");
    let entry = Manifest::load(&t.manifest).expect("manifest").assets["a.txt"].clone();
    assert_eq!((entry.id, entry.pending), (lost, false));
    let signs = s.emulator.requests_for(Endpoint::Sign);
    assert_eq!(signs.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&signs[0].body).expect("json");
    assert_eq!(body["id"], lost);
    assert_eq!(s.emulator.requests_for(Endpoint::ListAssets).len(), 1);
}

#[test]
fn a_lost_sign_of_a_file_that_is_gone_leaves_no_record() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let t = tree("durable_lost_gone", &[("a.txt", b"aaa")]);
    s.emulator
        .inject(Fault::delay(Endpoint::Sign, 1, Duration::from_millis(700)));
    let impatient = common::builder_for(&s.emulator)
        .timeout_call(Duration::from_millis(300))
        .build()
        .expect("a client");
    let options = SyncOptions::dir(&t.root, &t.manifest).adopt(false);
    let report = impatient.sync(s.space, &options).expect("sync");
    assert!(action(&report, "a.txt").starts_with("failed"), "{report:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while s.emulator.assets().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the late sign never landed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The file is deleted before the next sync: the record its lost sign made goes too.
    fs::remove_file(t.root.join("a.txt")).expect("remove");
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(report.files.is_empty(), "{report:?}");
    assert!(s.emulator.assets().is_empty(), "the orphan is deleted");
    let text = fs::read_to_string(&t.manifest).expect("manifest");
    assert!(!text.contains("signing"), "{text}");
}
