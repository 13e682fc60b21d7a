//! Adoption that stays bounded and claims only what it takes (issue 15, items 12 and 13):
//! a CDN that drips, a listed file on another host, a file with too many tags, more
//! candidates than are compared, and two files of one name and size synced at once.

use crate::common;

use std::fs;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use common::{Tree, action, builder_for, png, setup_with, tree};
use storyblok_assets::{ErrorKind, Manifest, Step, SyncOptions, SyncReport};
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

/// The bytes the emulator stores for asset `id`.
fn stored(emulator: &Emulator, id: u64) -> Vec<u8> {
    let key = emulator.asset(id).expect("a record").key;
    emulator.object(&key).expect("its file").bytes
}

/// The one error of a report's only failure.
fn failure(report: &SyncReport) -> &storyblok_assets::Error {
    let failures: Vec<_> = report.failures().collect();
    assert_eq!(failures.len(), 1, "{report:?}");
    failures[0].1
}

#[test]
fn two_files_of_one_name_and_size_synced_at_once_each_adopt_their_own_asset() {
    let s = space();
    let brand = s.emulator.create_folder("brand", None);
    // One folder for both: each would be stored as logo.png, with the same size.
    let (light, dark) = (png(8, 8), png(9, 9));
    assert_eq!(light.len(), dark.len());
    let light_asset = s
        .emulator
        .seed_asset("logo.png", light.clone(), Some(brand));
    let dark_asset = s.emulator.seed_asset("logo.png", dark.clone(), Some(brand));
    let Tree { root, manifest } = tree(
        "adoption_two_logos",
        &[("light/logo.png", &light), ("dark/logo.png", &dark)],
    );
    // The first download (whichever file sends it) is answered only once the other file
    // downloads too: both files have listed the space, and the first is comparing. A file
    // that claimed every candidate before comparing would keep the second from both, and
    // the second would upload a duplicate (the hold then ends after 10 s).
    s.emulator.inject(Fault::hold(
        Endpoint::Download,
        1,
        Endpoint::Download,
        2,
        Duration::from_secs(10),
    ));
    s.emulator.clear_requests();

    let options = SyncOptions::dir(&root, &manifest)
        .folder(brand)
        .concurrency(2);
    let report = s.client.sync(s.space, &options).expect("sync");
    assert_eq!(action(&report, "light/logo.png"), "Adopted", "{report:?}");
    assert_eq!(action(&report, "dark/logo.png"), "Adopted", "{report:?}");
    let manifest = Manifest::load(&manifest).expect("manifest");
    assert_eq!(manifest.assets["light/logo.png"].id, light_asset.id);
    assert_eq!(manifest.assets["dark/logo.png"].id, dark_asset.id);
    assert!(writes(&s.emulator).is_empty(), "{:?}", writes(&s.emulator));
    assert_eq!(s.emulator.assets().len(), 2, "no duplicate");
    assert_eq!(stored(&s.emulator, light_asset.id), light);
    assert_eq!(stored(&s.emulator, dark_asset.id), dark);
}

#[test]
fn a_dripping_cdn_fails_the_file_within_the_call_budget_and_the_next_run_adopts() {
    let s = space();
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_secs(2))
        .build()
        .expect("a client");
    let logo = png(9, 9);
    let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
    // About 33 s for the whole file; the idle timeout (30 s) never fires, nor would the
    // upload budget (2 h).
    s.emulator.inject(Fault::drip(
        Endpoint::Download,
        1,
        Duration::from_millis(100),
    ));
    let Tree { root, manifest } = tree("adoption_drip", &[("logo.png", &logo)]);
    let options = SyncOptions::dir(&root, &manifest);

    // On a thread of its own, so that a sync that waits out the drip fails the test
    // instead of holding it.
    let (done, synced) = mpsc::channel();
    std::thread::spawn({
        let (client, options, space) = (client.clone(), options.clone(), s.space);
        move || done.send(client.sync(space, &options))
    });
    // The call budget is 2 s; a download bounded only by the upload budget would take the
    // whole 33 s.
    let report = synced
        .recv_timeout(Duration::from_secs(25))
        .expect("the sync ends within the call budget, long before the drip does")
        .expect("sync");
    let error = failure(&report);
    assert_eq!(error.step(), Some(Step::Download), "{error:?}");
    assert_eq!(error.asset_id(), Some(seeded.id), "{error:?}");
    assert!(matches!(error.kind(), ErrorKind::Transport), "{error:?}");
    assert!(writes(&s.emulator).is_empty(), "{:?}", writes(&s.emulator));
    assert!(
        !Manifest::load(&manifest)
            .expect("manifest")
            .assets
            .contains_key("logo.png")
    );
    assert_eq!(s.emulator.assets().len(), 1, "no duplicate");

    // The next run compares again, and adopts.
    let report = client.sync(s.space, &options).expect("rerun");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    let manifest = Manifest::load(&manifest).expect("manifest");
    assert_eq!(manifest.assets["logo.png"].id, seeded.id);
}

#[test]
fn a_listed_file_on_another_host_is_neither_fetched_nor_adopted_nor_replaced() {
    let s = space();
    let client = builder_for(&s.emulator)
        .timeout_call(Duration::from_secs(2))
        .timeout_idle(Duration::from_secs(2))
        .build()
        .expect("a client");
    let logo = png(9, 9);
    let seeded = s.emulator.seed_asset("logo.png", logo.clone(), None);
    // 0.0.0.0 is neither one of Storyblok's asset hosts nor loopback. Were it fetched, the
    // connection would land on this machine (0.0.0.0 reaches the local host), on this
    // listener, which counts it: nothing leaves the machine either way.
    let listener = TcpListener::bind("127.0.0.1:0").expect("a listener");
    let port = listener.local_addr().expect("its address").port();
    let elsewhere = format!("https://0.0.0.0:{port}/a.storyblok.com/f/1/2x2/ab/logo.png");
    let listing = serde_json::json!({"assets": [{
        "id": seeded.id,
        "filename": elsewhere,
        "content_length": logo.len(),
        "asset_folder_id": null,
        "is_private": false,
    }]});
    s.emulator.inject(
        Fault::respond(Endpoint::ListAssets, 1, 200, listing.to_string()).with_header("Total", "1"),
    );
    s.emulator.clear_requests();
    let Tree { root, manifest } = tree("adoption_elsewhere", &[("logo.png", &logo)]);

    let report = client
        .sync(s.space, &SyncOptions::dir(&root, &manifest))
        .expect("sync");
    // Left alone, as if not listed: the file is a new asset.
    assert_eq!(action(&report, "logo.png"), "Uploaded");
    listener.set_nonblocking(true).expect("nonblocking");
    assert!(
        listener.accept().is_err(),
        "no connection was made to the listed host"
    );
    assert_eq!(count(&s.emulator, Endpoint::Download), 0);
    let manifest = Manifest::load(&manifest).expect("manifest");
    assert_ne!(manifest.assets["logo.png"].id, seeded.id);
    let touching: Vec<_> = writes(&s.emulator)
        .into_iter()
        .filter(|r| {
            r.path.contains(&seeded.id.to_string())
                || r.json.as_ref().is_some_and(|j| j["id"] == seeded.id)
        })
        .collect();
    assert!(touching.is_empty(), "the asset is left alone: {touching:?}");
    assert_eq!(stored(&s.emulator, seeded.id), logo);
}

#[test]
fn a_file_with_more_tags_than_allowed_fails_before_any_call() {
    let s = space();
    let Tree { root, manifest } = tree("adoption_tags", &[("logo.png", &png(9, 9))]);
    let tags: Vec<String> = (0..51).map(|i| format!("tag-{i}")).collect();
    let sidecar = serde_json::json!({"alt": "Logo", "internal_tags": tags});
    std::fs::write(root.join("logo.png.json"), sidecar.to_string()).expect("sidecar");
    s.emulator.clear_requests();

    // The default allows 50.
    let options = SyncOptions::dir(&root, &manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    let error = failure(&report);
    assert!(
        matches!(error.kind(), ErrorKind::InvalidInput { message }
            if message.contains("51 internal tags") && message.contains("max_tags")),
        "{error:?}"
    );
    assert!(
        s.emulator.requests().is_empty(),
        "no listing, no tag call, no upload: {:?}",
        s.emulator.requests()
    );

    // Allowed more, it is uploaded with its tags, each created once.
    let report = s.client.sync(s.space, &options.max_tags(51)).expect("sync");
    assert_eq!(action(&report, "logo.png"), "Uploaded", "{report:?}");
    assert_eq!(count(&s.emulator, Endpoint::CreateTag), 51);
}

#[test]
fn a_tag_list_longer_than_the_sdk_keeps_is_refused() {
    let s = space();
    let Tree { root, manifest } = tree("adoption_tag_list", &[("logo.png", &png(9, 9))]);
    std::fs::write(root.join("logo.png.json"), r#"{"internal_tags": ["hero"]}"#).expect("sidecar");
    // One page of 10,001 tags: more than the 100 pages of 100 the SDK would follow.
    let tags: Vec<String> = (1..=10_001)
        .map(|id| format!(r#"{{"id":{id},"name":"t{id}","object_type":"asset"}}"#))
        .collect();
    let page = format!(r#"{{"internal_tags":[{}]}}"#, tags.join(","));
    s.emulator
        .inject(Fault::respond(Endpoint::ListTags, 1, 200, page).with_header("Total", "10001"));
    s.emulator.clear_requests();
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&root, &manifest).adopt(false))
        .expect("sync");
    let error = failure(&report);
    assert_eq!(error.step(), Some(Step::Tags), "{error:?}");
    assert!(error.to_string().contains("more than 10000"), "{error}");
    assert_eq!(count(&s.emulator, Endpoint::ListTags), 1);
    assert_eq!(count(&s.emulator, Endpoint::CreateTag), 0);
    assert_eq!(count(&s.emulator, Endpoint::Sign), 0);
}

#[test]
fn adoption_compares_the_ten_oldest_candidates_at_most() {
    let logo = png(9, 9);
    // Twelve assets named logo.png with the file's size, none with its bytes: the ten
    // oldest are compared, and since the other two may hold the bytes, the file fails
    // rather than replace an asset or upload a duplicate.
    let s = space();
    let mut seeded = Vec::new();
    for i in 0..12u8 {
        let mut other = logo.clone();
        let last = other.len() - 1;
        other[last] ^= i + 1;
        seeded.push(s.emulator.seed_asset("logo.png", other, None).id);
    }
    s.emulator.clear_requests();
    let Tree { root, manifest } = tree("adoption_many", &[("logo.png", &logo)]);
    let options = SyncOptions::dir(&root, &manifest);
    let report = s.client.sync(s.space, &options).expect("sync");
    let error = failure(&report);
    assert!(
        matches!(error.kind(), ErrorKind::InvalidInput { message }
            if message.contains("more than 10")),
        "{error:?}"
    );
    let downloaded: Vec<String> = s
        .emulator
        .requests_for(Endpoint::Download)
        .iter()
        .map(|r| r.path.clone())
        .collect();
    let oldest: Vec<String> = seeded[..10]
        .iter()
        .map(|&id| {
            let key = s.emulator.asset(id).expect("record").key;
            format!("/a.storyblok.com/{key}")
        })
        .collect();
    assert_eq!(downloaded, oldest);
    assert!(writes(&s.emulator).is_empty(), "{:?}", writes(&s.emulator));

    // Among as many, the oldest with the same bytes is adopted after one download.
    let s = space();
    let ours = s.emulator.seed_asset("logo.png", logo.clone(), None);
    for _ in 0..12 {
        s.emulator.seed_asset("logo.png", logo.clone(), None);
    }
    s.emulator.clear_requests();
    let Tree { root, manifest } = tree("adoption_many_same", &[("logo.png", &logo)]);
    let report = s
        .client
        .sync(s.space, &SyncOptions::dir(&root, &manifest))
        .expect("sync");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    assert_eq!(
        Manifest::load(&manifest).expect("manifest").assets["logo.png"].id,
        ours.id
    );
    assert_eq!(count(&s.emulator, Endpoint::Download), 1);
}

/// The list calls the emulator answered.
fn lists(emulator: &Emulator) -> Vec<String> {
    emulator
        .requests_for(Endpoint::ListAssets)
        .into_iter()
        .map(|r| r.path)
        .collect()
}

#[test]
fn new_files_of_one_folder_share_one_listing_when_that_is_cheaper() {
    let s = space();
    let folder = s.emulator.create_folder("site", None);
    // One of the new files is already there, with its bytes: still adopted.
    let logo = png(6, 6);
    let seeded = s
        .emulator
        .seed_asset("logo.png", logo.clone(), Some(folder));
    let mut files: Vec<(String, Vec<u8>)> = (0..29)
        .map(|n| (format!("f{n}.txt"), format!("file {n}").into_bytes()))
        .collect();
    files.push(("logo.png".into(), logo));
    let listed: Vec<(&str, &[u8])> = files.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let t = tree("adoption_shared_listing", &listed);
    s.emulator.clear_requests();
    let report = s
        .client
        .sync(
            s.space,
            &SyncOptions::dir(&t.root, &t.manifest).folder(folder),
        )
        .expect("sync");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(action(&report, "logo.png"), "Adopted");
    assert_eq!(
        Manifest::load(&t.manifest).expect("manifest").assets["logo.png"].id,
        seeded.id
    );
    // 30 new files, one folder of one asset: one list call, where a search each made 30.
    assert_eq!(
        lists(&s.emulator),
        [format!(
            "/v1/spaces/{}/assets/?in_folder={folder}&page=1&per_page=100",
            s.space
        )]
    );
    assert_eq!(count(&s.emulator, Endpoint::Sign), 29);
}

#[test]
fn a_folder_much_larger_than_its_new_files_is_searched_per_name() {
    let s = space();
    let folder = s.emulator.create_folder("library", None);
    for n in 0..250 {
        s.emulator
            .seed_asset(&format!("old-{n}.txt"), format!("old {n}"), Some(folder));
    }
    // Five new files, a folder of three pages: the three pages, not five searches.
    let five: Vec<(String, Vec<u8>)> = (0..5)
        .map(|n| (format!("new-{n}.txt"), format!("new {n}").into_bytes()))
        .collect();
    let listed: Vec<(&str, &[u8])> = five.iter().map(|(p, b)| (p.as_str(), &b[..])).collect();
    let t = tree("adoption_large_folder", &listed);
    s.emulator.clear_requests();
    let options = SyncOptions::dir(&t.root, &t.manifest).folder(folder);
    assert!(s.client.sync(s.space, &options).expect("sync").is_ok());
    let pages = lists(&s.emulator);
    assert_eq!(pages.len(), 3, "{pages:?}");
    assert!(pages.iter().all(|p| !p.contains("search=")), "{pages:?}");

    // Two more: the first page tells three pages are more than two searches.
    fs::write(t.root.join("late-a.txt"), b"late a").expect("write");
    fs::write(t.root.join("late-b.txt"), b"late b").expect("write");
    s.emulator.clear_requests();
    assert!(s.client.sync(s.space, &options).expect("sync").is_ok());
    let calls = lists(&s.emulator);
    assert_eq!(calls.len(), 3, "one page, then a search each: {calls:?}");
    assert_eq!(
        calls.iter().filter(|p| p.contains("search=late-")).count(),
        2
    );
    assert_eq!(s.emulator.assets().len(), 257, "no file uploaded twice");
}
