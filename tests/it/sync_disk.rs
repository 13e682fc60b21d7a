//! Sync from an unlucky checkout: a JSON asset that gains a namesake, Git LFS pointers, a
//! mass change, a folder replaced by a link, hidden files, links out of the folder, and
//! sidecars as Storyblok writes them (or as no one should).

use crate::common;

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::{Setup, action, png, setup, temp_dir, tree};
use storyblok_assets::{
    Error, ErrorKind, Manifest, SkipReason, SyncAction, SyncOptions, SyncReport,
};
use storyblok_assets_emulator::{Emulator, Endpoint};

fn count(emulator: &Emulator, endpoint: Endpoint) -> usize {
    emulator.requests_for(endpoint).len()
}

fn skipped(report: &SyncReport, path: &str) -> Option<SkipReason> {
    match report.files.iter().find(|f| f.path == path)?.action {
        SyncAction::Skipped(reason) => Some(reason),
        _ => None,
    }
}

fn paths(report: &SyncReport) -> Vec<&str> {
    report.files.iter().map(|f| f.path.as_str()).collect()
}

/// The error of `path`'s failed line.
fn failure<'r>(report: &'r SyncReport, path: &str) -> &'r Error {
    report
        .failures()
        .find(|(p, _)| *p == path)
        .map(|(_, error)| error)
        .unwrap_or_else(|| panic!("{path} did not fail: {report:?}"))
}

/// A sync on its own thread, waited for a bounded time: a sync that opens a pipe would
/// wait for a writer for ever.
fn sync_within(s: &Setup, options: SyncOptions) -> Result<SyncReport, Error> {
    let (sent, answer) = mpsc::channel();
    let client = s.client.clone();
    let space = s.space;
    std::thread::spawn(move || {
        let _ = sent.send(client.sync(space, &options));
    });
    answer
        .recv_timeout(Duration::from_secs(30))
        .expect("the sync ends: no pipe is opened")
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(made.success());
}

#[test]
fn a_synced_json_file_stays_an_asset_when_its_namesake_appears() {
    let s = setup();
    let t = tree(
        "disk_json_asset",
        &[("report.json", br#"{"title": "Q3 in numbers"}"#)],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).delete_removed(true);
    let first = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&first, "report.json"), "Uploaded");
    let json_id = Manifest::load(&t.manifest).expect("manifest").assets["report.json"].id;

    // `report` appears beside it: the manifest knows report.json as an asset, so it is
    // not report's sidecar, and not gone.
    fs::write(t.root.join("report"), b"the report itself").expect("write");
    // And a JSON file that holds no metadata beside a new file is a file of its own.
    fs::write(t.root.join("site"), b"site bytes").expect("write");
    fs::write(t.root.join("site.json"), br#"{"name": "site", "pages": 3}"#).expect("write");
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "report.json"), "Unchanged");
    assert_eq!(action(&report, "report"), "Uploaded");
    assert_eq!(action(&report, "site"), "Uploaded");
    assert_eq!(action(&report, "site.json"), "Uploaded");
    assert_eq!(count(&s.emulator, Endpoint::Delete), 0);
    assert!(s.emulator.asset(json_id).is_some(), "the JSON asset stays");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    let report_asset = s
        .emulator
        .asset(manifest.assets["report"].id)
        .expect("report's asset");
    assert_eq!(
        report_asset.title, None,
        "report.json is no sidecar of report"
    );
    assert_eq!(s.emulator.assets().len(), 4);
}

/// What a checkout without Git LFS holds in place of a file.
const POINTER: &[u8] = b"version https://git-lfs.github.com/spec/v1\n\
oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n\
size 12345\n";

#[test]
fn a_git_lfs_pointer_fails_its_line_with_advice_and_uploads_nothing() {
    let s = setup();
    let t = tree(
        "disk_lfs",
        &[("logo.png", &png(8, 8)), ("notes.txt", b"plain text")],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).delete_removed(true);
    s.client.sync(s.space, &options).expect("sync");
    let before = fs::read(&t.manifest).expect("manifest");

    fs::write(t.root.join("logo.png"), POINTER).expect("pointer");
    fs::write(t.root.join("new.bin"), POINTER).expect("pointer");
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    for path in ["logo.png", "new.bin"] {
        let error = failure(&report, path);
        assert!(
            matches!(error.kind(), ErrorKind::LfsPointer { .. }),
            "{error:?}"
        );
        assert!(error.advice().is_some_and(|a| a.contains("git lfs pull")));
        assert!(error.to_string().contains(path), "{error}");
    }
    assert_eq!(action(&report, "notes.txt"), "Unchanged");
    assert!(
        s.emulator.requests().is_empty(),
        "no sign, no delete: {:?}",
        s.emulator.requests()
    );
    assert_eq!(fs::read(&t.manifest).expect("manifest"), before);
}

/// Twelve synced files, the first `changed` of them rewritten with other bytes of the
/// same size (so only a hash tells).
fn twelve(name: &str, changed: usize) -> (Setup, common::Tree) {
    let s = setup();
    let files: Vec<(String, Vec<u8>)> = (0..12)
        .map(|i| (format!("{i:02}.txt"), format!("file {i:02}").into_bytes()))
        .collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let t = tree(name, &refs);
    s.client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    for (path, bytes) in files.iter().take(changed) {
        fs::write(t.root.join(path), bytes.to_ascii_uppercase()).expect("rewrite");
    }
    s.emulator.clear_requests();
    (s, t)
}

#[test]
fn a_sync_that_would_replace_most_files_stops_before_any_call() {
    let (s, t) = twelve("disk_mass_replace", 10);
    let before = fs::read(&t.manifest).expect("manifest");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    for dry_run in [false, true] {
        let error = s
            .client
            .sync(s.space, &options.clone().dry_run(dry_run))
            .expect_err("a mass change");
        match error.kind() {
            ErrorKind::MassChange {
                changed,
                deleted,
                entries,
                paths,
            } => {
                assert_eq!((*changed, *deleted, *entries), (10, 0, 12));
                assert_eq!(paths.len(), 10);
                assert_eq!(paths[0], "00.txt");
            }
            other => panic!("{other:?}"),
        }
        let text = error.to_string();
        assert!(text.contains("10") && text.contains("12"), "{text}");
        assert!(
            error
                .advice()
                .is_some_and(|a| a.contains("allow_mass_change")),
            "{text}"
        );
        assert!(
            s.emulator.requests().is_empty(),
            "not even a listing: {:?}",
            s.emulator.requests()
        );
        assert_eq!(fs::read(&t.manifest).expect("manifest"), before);
    }

    // A higher limit lets it through; so does going ahead.
    let report = s
        .client
        .sync(
            s.space,
            &options.clone().mass_change_limit(0.9, 10).dry_run(true),
        )
        .expect("within the limit");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Replaced)), 10);
    assert!(s.emulator.requests().is_empty(), "a dry run");
    let report = s
        .client
        .sync(s.space, &options.allow_mass_change(true))
        .expect("go ahead");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Replaced)), 10);
    assert_eq!(count(&s.emulator, Endpoint::Sign), 10);
}

#[test]
fn few_changes_or_a_small_manifest_pass_the_guard() {
    // 9 of 12: most, but fewer than 10 files.
    let (s, t) = twelve("disk_mass_few", 9);
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("under the minimum");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Replaced)), 9);
    // The minimum lowered: 3 of 12 is not more than half.
    let (s, t) = twelve("disk_mass_share", 3);
    let options = SyncOptions::dir(&t.root, &t.manifest).mass_change_limit(0.5, 1);
    let report = s.client.sync(s.space, &options).expect("under the share");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Replaced)), 3);
}

#[test]
fn a_sync_that_would_delete_most_files_stops_before_any_call() {
    let (s, t) = twelve("disk_mass_delete", 0);
    for i in 0..10 {
        fs::remove_file(t.root.join(format!("{i:02}.txt"))).expect("remove");
    }
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let error = s
        .client
        .sync(s.space, &options.clone().delete_removed(true))
        .expect_err("a mass deletion");
    assert!(
        matches!(
            error.kind(),
            ErrorKind::MassChange {
                changed: 0,
                deleted: 10,
                entries: 12,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(s.emulator.requests().is_empty());
    assert_eq!(s.emulator.assets().len(), 12);
    // Only reporting them deletes nothing, so it is no mass change.
    let report = s.client.sync(s.space, &options).expect("reported");
    assert_eq!(report.count(|a| matches!(a, SyncAction::Missing)), 10);
    assert!(s.emulator.requests().is_empty());
}

#[cfg(unix)]
#[test]
fn a_folder_replaced_by_a_link_is_reported_and_its_files_are_not_deleted() {
    let s = setup();
    let t = tree(
        "disk_linked_folder",
        &[
            ("img/a.png", &png(2, 2)),
            ("img/b.png", &png(3, 3)),
            ("c.txt", b"c"),
        ],
    );
    let options = SyncOptions::dir(&t.root, &t.manifest).delete_removed(true);
    s.client.sync(s.space, &options).expect("sync");
    // The folder moves out, and a link takes its place.
    let moved = t.root.parent().expect("base").join("img-moved");
    fs::rename(t.root.join("img"), &moved).expect("move");
    std::os::unix::fs::symlink(&moved, t.root.join("img")).expect("link");
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(paths(&report), ["c.txt", "img", "img/a.png", "img/b.png"]);
    for path in ["img", "img/a.png", "img/b.png"] {
        assert_eq!(
            skipped(&report, path),
            Some(SkipReason::LinkedFolder),
            "{path}"
        );
    }
    assert!(report.is_ok());
    assert!(s.emulator.requests().is_empty(), "nothing deleted");
    assert_eq!(s.emulator.assets().len(), 3);
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert!(manifest.assets.contains_key("img/a.png"));
    assert!(
        report.files[2].entry.is_some(),
        "a kept entry is on its line"
    );
}

#[cfg(unix)]
#[test]
fn hidden_files_and_links_out_of_the_folder_are_left_alone_and_reported() {
    let s = setup();
    let base = temp_dir("disk_private");
    let outside = base.join("home");
    fs::create_dir_all(&outside).expect("dir");
    fs::write(outside.join("credentials"), b"aws_secret_access_key=XYZ").expect("write");
    let root = base.join("assets");
    for (path, bytes) in [
        ("a.png", &png(2, 2)[..]),
        (".env", b"API_KEY=secret"),
        (".git/config", b"[core]"),
        (".git/HEAD", b"ref: refs/heads/main"),
        ("img/.DS_Store", b"\0\0\0\x01Bud1"),
        ("img/b.png", &png(3, 3)[..]),
    ] {
        let path = root.join(path);
        fs::create_dir_all(path.parent().expect("parent")).expect("dirs");
        fs::write(path, bytes).expect("write");
    }
    std::os::unix::fs::symlink(outside.join("credentials"), root.join("secret.txt"))
        .expect("link out");
    std::os::unix::fs::symlink(root.join("a.png"), root.join("same.png")).expect("link in");
    // A sidecar that links out would send its text as metadata.
    fs::write(outside.join("notes.json"), br#"{"alt": "private notes"}"#).expect("write");
    std::os::unix::fs::symlink(outside.join("notes.json"), root.join("a.png.json"))
        .expect("link out");
    // The manifest inside the folder: its lock file is hidden, and says nothing.
    let manifest = root.join("assets.manifest.json");
    let options = SyncOptions::dir(&root, &manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(
        paths(&report),
        [
            ".env",
            ".git",
            "a.png",
            "a.png.json",
            "img/.DS_Store",
            "img/b.png",
            "same.png",
            "secret.txt"
        ]
    );
    for path in [".env", ".git", "img/.DS_Store"] {
        assert_eq!(skipped(&report, path), Some(SkipReason::Hidden), "{path}");
    }
    for path in ["secret.txt", "a.png.json"] {
        assert_eq!(
            skipped(&report, path),
            Some(SkipReason::LinkOutside),
            "{path}"
        );
    }
    for path in ["a.png", "img/b.png", "same.png"] {
        assert_eq!(action(&report, path), "Uploaded");
    }
    assert_eq!(s.emulator.assets().len(), 3);
    for asset in s.emulator.assets() {
        assert_eq!(asset.alt, None, "{}", asset.filename);
        let bytes = s.emulator.object(&asset.key).expect("object").bytes;
        assert!(
            !bytes.windows(6).any(|w| w == b"secret" || w == b"[core]"),
            "{}",
            asset.filename
        );
    }

    // A list names them: still left alone.
    let listed = SyncOptions::files(&root, [".env", "secret.txt", ".git/config"], &manifest);
    let report = s.client.sync(s.space, &listed).expect("sync");
    assert_eq!(paths(&report), [".env", ".git/config", "secret.txt"]);
    assert!(
        report
            .files
            .iter()
            .all(|f| matches!(f.action, SyncAction::Skipped(_)))
    );
    assert_eq!(s.emulator.assets().len(), 3);

    // Asked for, they are synced (the manifest's own files still are not).
    let all = options
        .include_hidden(true)
        .follow_links_outside(true)
        .dry_run(true);
    let report = s.client.sync(s.space, &all).expect("dry run");
    for path in [
        ".env",
        ".git/config",
        ".git/HEAD",
        "img/.DS_Store",
        "secret.txt",
    ] {
        assert_eq!(action(&report, path), "Uploaded", "{path}");
    }
    assert_eq!(
        action(&report, "a.png"),
        "MetadataUpdated",
        "its sidecar now counts"
    );
    assert_eq!(report.files.len(), 8, "{:?}", paths(&report));
}

#[test]
fn a_pulled_asset_object_is_a_sidecar_and_a_huge_one_fails_its_file() {
    let s = setup();
    let t = tree(
        "disk_pulled",
        &[
            ("mars.png", &png(4, 4)),
            // As `storyblok assets pull` writes it: Storyblok's "none" is an empty array.
            (
                "mars.png.json",
                br#"{"id": 5, "filename": "https://a.storyblok.com/f/1/4x4/ab/mars.png",
                    "alt": "The red planet", "title": null, "meta_data": [],
                    "internal_tags_list": [], "is_private": false}"#,
            ),
            ("big.png", &png(5, 5)),
        ],
    );
    let mut huge = String::from(r#"{"alt": ""#);
    huge.push_str(&"x".repeat(2 * 1024 * 1024));
    huge.push_str(r#""}"#);
    fs::write(t.root.join("big.png.json"), huge).expect("write");
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect("sync");
    assert_eq!(action(&report, "mars.png"), "Uploaded");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    let mars = s
        .emulator
        .asset(manifest.assets["mars.png"].id)
        .expect("asset");
    assert_eq!(mars.alt.as_deref(), Some("The red planet"));
    let error = failure(&report, "big.png").to_string();
    assert!(
        error.contains("big.png.json") && error.contains("1 MiB"),
        "{error}"
    );
    assert_eq!(
        s.emulator.assets().len(),
        1,
        "neither big.png nor a sidecar"
    );
}

#[cfg(unix)]
#[test]
fn a_pipe_is_refused_as_a_sidecar_and_as_a_file_without_being_opened() {
    let s = setup();
    let t = tree(
        "disk_pipes",
        &[("c.png", &png(2, 2)), ("d.png", &png(3, 3))],
    );
    mkfifo(&t.root.join("c.png.json"));
    mkfifo(&t.root.join("pipe"));
    // A list, which names the pipes; and the whole folder, whose walk finds the sidecar.
    let listed = SyncOptions::files(&t.root, ["c.png", "c.png.json", "pipe"], &t.manifest);
    for options in [listed, SyncOptions::dir(&t.root, &t.manifest)] {
        let report = sync_within(&s, options).expect("sync");
        let error = failure(&report, "c.png").to_string();
        assert!(error.contains("c.png.json"), "{error}");
        assert!(!paths(&report).contains(&"c.png.json"), "{report:?}");
    }
    let report = sync_within(&s, SyncOptions::files(&t.root, ["pipe"], &t.manifest)).expect("sync");
    let error = failure(&report, "pipe");
    assert!(
        matches!(error.kind(), ErrorKind::Source { .. }),
        "{error:?}"
    );
    assert_eq!(count(&s.emulator, Endpoint::Sign), 1, "d.png alone");
}
