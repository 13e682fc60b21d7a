//! Sync against the emulator: first upload, nothing to do, changes, failures and reruns,
//! disappearing files, and a manifest that cannot be trusted.

use crate::common;

use std::fs;
use std::path::Path;

use common::{Tree, png, setup};
use storyblok_assets::{ErrorKind, Manifest, SyncAction, SyncOptions, SyncReport};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// A folder with an image, a nested text file and a name with a space.
fn tree(name: &str) -> Tree {
    common::tree(
        name,
        &[
            ("logo.png", &png(64, 32)),
            ("docs/readme.txt", b"read me"),
            ("b c.txt", b"spaced out"),
        ],
    )
}

fn actions(report: &SyncReport) -> Vec<(String, String)> {
    report
        .files
        .iter()
        .map(|f| {
            let action = match &f.action {
                SyncAction::Uploaded => "uploaded".to_owned(),
                SyncAction::Replaced => "replaced".to_owned(),
                SyncAction::Unchanged => "unchanged".to_owned(),
                SyncAction::Missing => "missing".to_owned(),
                SyncAction::Deleted => "deleted".to_owned(),
                SyncAction::Failed(e) => format!("failed: {e}"),
                other => format!("{other:?}"),
            };
            (f.path.clone(), action)
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn stored(emulator: &Emulator, id: u64) -> Vec<u8> {
    let asset = emulator.asset(id).expect("record");
    emulator.object(&asset.key).expect("object").bytes
}

fn entry_id(manifest: &Path, path: &str) -> u64 {
    Manifest::load(manifest).expect("manifest").assets[path].id
}

#[test]
fn the_first_sync_uploads_everything_and_the_second_calls_nothing() {
    let s = setup();
    let t = tree("sync_first");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(
        actions(&report),
        pairs(&[
            ("b c.txt", "uploaded"),
            ("docs/readme.txt", "uploaded"),
            ("logo.png", "uploaded")
        ])
    );
    assert!(report.is_ok());
    assert_eq!(s.emulator.assets().len(), 3);

    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.space_id, Some(s.space));
    let logo = &manifest.assets["logo.png"];
    assert_eq!(logo.dimensions.as_deref(), Some("64x32"));
    assert_eq!(logo.size, png(64, 32).len() as u64);
    assert!(
        logo.url.starts_with("https://a.storyblok.com/f/606/64x32/"),
        "{}",
        logo.url
    );
    assert_eq!(stored(&s.emulator, logo.id), png(64, 32));
    // sha256sum of "read me".
    assert_eq!(
        manifest.assets["docs/readme.txt"].sha256,
        "3f22095641508576e91dc7c6c7f7e08a093985d53ea998043c6619ad240dc92c"
    );
    let text = fs::read_to_string(&t.manifest).expect("read");
    let order: Vec<usize> = ["b c.txt", "docs/readme.txt", "logo.png"]
        .iter()
        .map(|p| text.find(p).expect("listed"))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "sorted:\n{text}");

    s.emulator.clear_requests();
    let again = s.client.sync(s.space, &options).expect("second sync");
    assert_eq!(
        actions(&again),
        pairs(&[
            ("b c.txt", "unchanged"),
            ("docs/readme.txt", "unchanged"),
            ("logo.png", "unchanged")
        ])
    );
    assert!(
        s.emulator.requests().is_empty(),
        "zero calls when nothing changed"
    );
}

#[test]
fn a_changed_file_is_replaced_in_place() {
    let s = setup();
    let t = tree("sync_changed");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    s.client.sync(s.space, &options).expect("first sync");
    let before = Manifest::load(&t.manifest).expect("manifest");
    let id = before.assets["logo.png"].id;

    fs::write(t.root.join("logo.png"), png(64, 32).repeat(2)).expect("change");
    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(
        actions(&report),
        pairs(&[
            ("b c.txt", "unchanged"),
            ("docs/readme.txt", "unchanged"),
            ("logo.png", "replaced")
        ])
    );
    let sign = &s.emulator.requests_for(Endpoint::Sign)[0];
    assert_eq!(
        sign.json.as_ref().expect("json")["id"],
        serde_json::json!(id)
    );
    let after = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(after.assets["logo.png"].id, id);
    assert_eq!(
        after.assets["logo.png"].url, before.assets["logo.png"].url,
        "same URL"
    );
    assert_ne!(
        after.assets["logo.png"].sha256,
        before.assets["logo.png"].sha256
    );
    assert_eq!(stored(&s.emulator, id), png(64, 32).repeat(2));
    assert_eq!(s.emulator.assets().len(), 3);
}

#[test]
fn a_failure_midway_then_a_rerun_uploads_each_file_once() {
    let s = setup();
    let t = tree("sync_failure");
    fs::write(t.root.join("z.txt"), b"last one").expect("write");
    // The second upload is refused for good (a policy violation is not retried).
    s.emulator.inject(Fault::respond(
        Endpoint::Upload,
        2,
        403,
        "<Error><Code>AccessDenied</Code><Message>Invalid according to Policy</Message></Error>",
    ));
    // One file at a time, so that the second upload is the second file's.
    let options = SyncOptions::dir(&t.root, &t.manifest).concurrency(1);
    let first = s.client.sync(s.space, &options).expect("sync");
    let failed: Vec<&str> = first.failures().map(|(p, _)| p).collect();
    assert_eq!(failed, ["docs/readme.txt"], "{:?}", actions(&first));
    assert_eq!(first.count(|a| matches!(a, SyncAction::Uploaded)), 3);
    let pending = Manifest::load(&t.manifest).expect("manifest").assets["docs/readme.txt"].clone();
    assert!(pending.pending, "the record is noted as soon as it exists");

    let second = s.client.sync(s.space, &options).expect("rerun");
    assert_eq!(
        actions(&second),
        pairs(&[
            ("b c.txt", "unchanged"),
            ("docs/readme.txt", "uploaded"),
            ("logo.png", "unchanged"),
            ("z.txt", "unchanged")
        ])
    );
    assert_eq!(s.emulator.assets().len(), 4, "no duplicate records");
    let manifest = Manifest::load(&t.manifest).expect("manifest");
    assert_eq!(manifest.assets["docs/readme.txt"].id, pending.id);
    assert!(!manifest.assets["docs/readme.txt"].pending);
    assert_eq!(stored(&s.emulator, pending.id), b"read me");
    for asset in s.emulator.assets() {
        assert!(
            s.emulator.object(&asset.key).is_some(),
            "{} has its file",
            asset.key
        );
    }
}

#[test]
fn a_corrupt_manifest_is_an_error_and_stays_untouched() {
    let s = setup();
    let t = tree("sync_corrupt");
    fs::write(&t.manifest, b"{\"version\": 1, \"assets\": {\"logo.png\": ").expect("write");
    let err = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &t.manifest))
        .expect_err("corrupt");
    assert!(matches!(err.kind(), ErrorKind::Manifest { .. }), "{err:?}");
    assert!(err.to_string().contains("assets.manifest.json"), "{err}");
    assert_eq!(
        fs::read(&t.manifest).expect("read"),
        b"{\"version\": 1, \"assets\": {\"logo.png\": "
    );
    assert!(s.emulator.requests().is_empty());
}

#[test]
fn a_manifest_of_another_space_is_refused() {
    let s = setup();
    let t = tree("sync_space");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    s.client.sync(s.space, &options).expect("sync");
    let err = s
        .client
        .sync(s.space + 1, &options)
        .expect_err("other space");
    assert!(err.to_string().contains("belongs to space 606"), "{err}");
}

#[test]
fn removed_files_are_reported_and_deleted_only_on_request() {
    let s = setup();
    let t = tree("sync_removed");
    let options = SyncOptions::dir(&t.root, &t.manifest);
    s.client.sync(s.space, &options).expect("sync");
    let id = entry_id(&t.manifest, "b c.txt");
    fs::remove_file(t.root.join("b c.txt")).expect("remove");

    s.emulator.clear_requests();
    let report = s.client.sync(s.space, &options).expect("sync");
    assert!(actions(&report).contains(&("b c.txt".into(), "missing".into())));
    assert!(s.emulator.requests().is_empty(), "reporting calls nothing");
    assert!(s.emulator.asset(id).is_some());

    let report = s
        .client
        .sync(s.space, &options.clone().delete_removed(true))
        .expect("sync");
    assert!(actions(&report).contains(&("b c.txt".into(), "deleted".into())));
    assert!(s.emulator.asset(id).is_none());
    assert!(
        !Manifest::load(&t.manifest)
            .expect("manifest")
            .assets
            .contains_key("b c.txt")
    );
}

#[test]
fn a_manifest_inside_the_folder_is_not_uploaded() {
    let s = setup();
    let t = tree("sync_inside");
    let manifest = t.root.join("manifest.json");
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &manifest))
        .expect("sync");
    assert_eq!(report.files.len(), 3, "{:?}", actions(&report));
    let again = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &manifest))
        .expect("sync");
    assert_eq!(
        actions(&again),
        pairs(&[
            ("b c.txt", "unchanged"),
            ("docs/readme.txt", "unchanged"),
            ("logo.png", "unchanged")
        ]),
        "the manifest, now on disk inside the folder, is not a file to sync"
    );
}

#[test]
fn a_list_of_files_syncs_just_those() {
    let s = setup();
    let t = tree("sync_list");
    let options = SyncOptions::files(&t.root, ["logo.png", "docs/readme.txt"], &t.manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(
        actions(&report),
        pairs(&[("docs/readme.txt", "uploaded"), ("logo.png", "uploaded")])
    );
    for outside in ["/etc/hostname", "../elsewhere.txt", "docs/../../x"] {
        let options = SyncOptions::files(&t.root, [outside], &t.manifest);
        assert!(
            matches!(
                s.client
                    .sync(s.space, &options)
                    .map_err(|e| e.kind().clone()),
                Err(ErrorKind::InvalidInput { .. })
            ),
            "{outside}"
        );
    }

    // A file left out of the list is not gone while it exists: nothing is deleted.
    let dotted =
        SyncOptions::files(&t.root, ["docs/../logo.png"], &t.manifest).delete_removed(true);
    let report = s.client.sync(s.space, &dotted).expect("sync");
    assert_eq!(actions(&report), pairs(&[("logo.png", "unchanged")]));
    assert_eq!(s.emulator.assets().len(), 2);

    // One that is really gone is.
    fs::remove_file(t.root.join("docs/readme.txt")).expect("remove");
    let report = s.client.sync(s.space, &dotted).expect("sync");
    assert_eq!(
        actions(&report),
        pairs(&[("docs/readme.txt", "deleted"), ("logo.png", "unchanged")])
    );
    assert_eq!(s.emulator.assets().len(), 1);
}

#[test]
fn a_manifest_that_cannot_be_written_stops_before_any_record() {
    let s = setup();
    let t = tree("sync_unwritable");
    let manifest = t.root.join("no-such-dir").join("assets.json");
    let err = s
        .client
        .sync(s.space, &SyncOptions::dir(&t.root, &manifest))
        .expect_err("unwritable");
    assert!(matches!(err.kind(), ErrorKind::Manifest { .. }), "{err:?}");
    // Its folder does not exist: its lock file, taken before the first write, cannot be
    // made, and the error names it.
    let text = err.to_string();
    assert!(
        text.contains("no-such-dir/.assets.json.lock, that cannot be opened"),
        "{err}"
    );
    assert!(
        s.emulator.requests().is_empty(),
        "no record it could not note"
    );
}
