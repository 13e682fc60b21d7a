//! The calls sync added (issue 11): asset lists, folder and metadata calls are retried as
//! the existing rules say. A 429 was not processed and is always tried again; a GET or PUT
//! is also tried again after a 5xx or a broken connection; a create (a folder) never is
//! after its request went out, since the first may have made it.

use crate::common;

use std::fs;
use std::time::Duration;

use common::{RATE_LIMIT_BODY, Tree, action, png, setup_with, statuses, tree};
use storyblok_assets::{Client, ErrorKind, Manifest, Step, SyncOptions};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// An emulator that serves its files (for adoption), and a client with the default
/// number of retries but quick backoffs.
fn space() -> (common::Setup, Client) {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let client = common::builder_for(&s.emulator)
        .backoff(Duration::from_millis(10), Duration::from_millis(50))
        .build()
        .expect("client");
    (s, client)
}

#[test]
fn a_folder_create_cut_off_after_sending_is_not_sent_again() {
    let (s, client) = space();
    let Tree { root, manifest } = tree("calls-folder-drop", &[("img/a.png", &png(4, 4))]);
    s.emulator
        .inject(Fault::drop_connection(Endpoint::CreateFolder, 1));
    let options = SyncOptions::dir(&root, &manifest).mirror_folders(None);
    let report = client.sync(s.space, &options).expect("sync");
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    let (path, err) = failures[0];
    assert_eq!(path, "img/a.png");
    assert_eq!(err.step(), Some(Step::Folders), "{err:?}");
    assert!(matches!(err.kind(), ErrorKind::Transport), "{err:?}");
    // The server may have made the folder: one request, dropped, and no second.
    assert_eq!(statuses(&s.emulator, Endpoint::CreateFolder), [0]);
    assert!(s.emulator.requests_for(Endpoint::Sign).is_empty());
}

#[test]
fn a_folder_create_answered_5xx_is_not_sent_again_but_a_429_is() {
    let (s, client) = space();
    let Tree { root, manifest } = tree("calls-folder-5xx", &[("img/a.png", &png(4, 4))]);
    let options = SyncOptions::dir(&root, &manifest).mirror_folders(None);
    s.emulator.inject(Fault::respond(
        Endpoint::CreateFolder,
        1,
        502,
        "<html>Bad Gateway</html>",
    ));
    let report = client.sync(s.space, &options).expect("sync");
    let (_, err) = report.failures().next().expect("a failure");
    assert_eq!(err.step(), Some(Step::Folders), "{err:?}");
    assert_eq!(err.status(), Some(502), "{err:?}");
    assert_eq!(statuses(&s.emulator, Endpoint::CreateFolder), [502]);
    assert!(s.emulator.folders().is_empty());

    // A 429 was not processed: tried again, and the folder is made once.
    s.emulator.clear_requests();
    s.emulator.inject(Fault::respond(
        Endpoint::CreateFolder,
        1,
        429,
        RATE_LIMIT_BODY,
    ));
    let report = client.sync(s.space, &options).expect("sync");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(statuses(&s.emulator, Endpoint::CreateFolder), [429, 201]);
    let folders = s.emulator.folders();
    assert_eq!(folders.len(), 1, "{folders:?}");
    assert_eq!(folders[0].name, "img");
}

#[test]
fn a_429_on_the_asset_list_is_waited_out_and_the_asset_still_adopted() {
    let (s, client) = space();
    let logo = png(40, 20);
    let Tree { root, manifest } = tree("calls-list-429", &[("logo.png", &logo)]);
    let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
    s.emulator.inject(Fault::respond(
        Endpoint::ListAssets,
        1,
        429,
        RATE_LIMIT_BODY,
    ));
    // And a 502 on the retry: a list is a GET, tried again after a 5xx too.
    s.emulator.inject(Fault::respond(
        Endpoint::ListAssets,
        2,
        502,
        "<html>Bad Gateway</html>",
    ));
    let report = client
        .sync(s.space, &SyncOptions::dir(&root, &manifest))
        .expect("sync");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    assert_eq!(statuses(&s.emulator, Endpoint::ListAssets), [429, 502, 200]);
    assert_eq!(
        Manifest::load(&manifest).expect("manifest").assets["logo.png"].id,
        seeded.id
    );
    assert!(s.emulator.requests_for(Endpoint::Sign).is_empty());
}

#[test]
fn a_folder_list_and_a_metadata_update_are_tried_again_after_a_5xx() {
    let (s, client) = space();
    let Tree { root, manifest } = tree("calls-update-502", &[("img/logo.png", &png(8, 8))]);
    let options = SyncOptions::dir(&root, &manifest).mirror_folders(None);
    s.emulator.inject(Fault::respond(
        Endpoint::ListFolders,
        1,
        503,
        r#"{"error":"down"}"#,
    ));
    let first = client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&first, "img/logo.png"), "Uploaded");
    assert_eq!(statuses(&s.emulator, Endpoint::ListFolders), [503, 200]);

    // Only the metadata changes: one update, answered 502 once, then done.
    fs::write(root.join("img/logo.png.json"), r#"{"alt": "Our logo"}"#).expect("sidecar");
    s.emulator.clear_requests();
    s.emulator.inject(Fault::respond(
        Endpoint::UpdateAsset,
        1,
        502,
        "<html>Bad Gateway</html>",
    ));
    let second = client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&second, "img/logo.png"), "MetadataUpdated");
    assert_eq!(statuses(&s.emulator, Endpoint::UpdateAsset), [502, 200]);
    let id = Manifest::load(&manifest).expect("manifest").assets["img/logo.png"].id;
    assert_eq!(
        s.emulator.asset(id).expect("record").alt.as_deref(),
        Some("Our logo")
    );
    assert!(second.is_ok(), "{second:?}");
}
