//! Pull: a space to a folder, the inverse of sync.

use crate::common;

use std::fs;

use common::{png, setup_with, temp_dir};
use storyblok_assets::{
    AssetMeta, ErrorKind, Manifest, PullAction, PullOptions, PullReport, SyncAction, SyncOptions,
};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

fn action(report: &PullReport, path: &str) -> String {
    let file = report
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no line for {path}: {report:?}"));
    format!("{:?}", file.action)
}

#[test]
fn a_pull_writes_folders_files_and_sidecars_and_a_sync_after_it_makes_no_call() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let img = s.emulator.create_folder("img", None);
    let icons = s.emulator.create_folder("icons", Some(img));
    let logo = png(3, 3);
    let first = s.emulator.seed_asset("logo.png", logo.clone(), Some(icons));
    let second = s.emulator.seed_asset("logo.png", png(4, 4), Some(icons));
    s.emulator.seed_asset("readme.txt", b"hello".to_vec(), None);
    let secret = s
        .emulator
        .seed_asset("secret.txt", b"secret".to_vec(), None);
    let meta = AssetMeta::new()
        .alt("Logo")
        .custom_field("owner", "brand team")
        .tag("brand");
    s.client
        .update_metadata(s.space, first.id, &meta)
        .expect("metadata");
    s.client
        .update_metadata(s.space, secret.id, &AssetMeta::new().private(true))
        .expect("private");
    let base = temp_dir("pull_space");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    s.emulator.clear_requests();

    let report = s
        .client
        .pull(s.space, &PullOptions::dir(&root, &manifest))
        .expect("pulled");
    assert!(report.is_ok(), "{report:?}");
    let renamed = format!("img/icons/logo.{}.png", second.id);
    assert_eq!(action(&report, "img/icons/logo.png"), "Downloaded");
    assert_eq!(action(&report, &renamed), "Downloaded");
    assert_eq!(action(&report, "readme.txt"), "Downloaded");
    assert_eq!(action(&report, "secret.txt"), "SkippedPrivate");
    assert_eq!(
        fs::read(root.join("img/icons/logo.png")).expect("logo"),
        logo
    );
    assert_eq!(fs::read(root.join(&renamed)).expect("second"), png(4, 4));
    assert_eq!(fs::read(root.join("readme.txt")).expect("readme"), b"hello");
    assert!(!root.join("secret.txt").exists());
    let sidecar = AssetMeta::from_file(root.join("img/icons/logo.png.json")).expect("sidecar");
    assert_eq!(sidecar, meta);
    assert!(
        !root.join("readme.txt.json").exists(),
        "no metadata, no sidecar"
    );
    // Two calls: the folders and the one page of assets; the files came from the CDN.
    let mapi = s
        .emulator
        .requests()
        .iter()
        .filter(|r| r.endpoint != Endpoint::Download)
        .count();
    assert_eq!(mapi, 2);
    assert_eq!(s.emulator.requests_for(Endpoint::Download).len(), 3);
    let pulled = Manifest::load(&manifest).expect("manifest");
    assert_eq!(pulled.space_id, Some(s.space));
    assert_eq!(pulled.assets["img/icons/logo.png"].id, first.id);
    assert_eq!(pulled.assets["img/icons/logo.png"].folder, Some(icons));
    assert_eq!(pulled.assets.len(), 3);

    // Sync of the pulled folder makes no call at all.
    s.emulator.clear_requests();
    let synced = s
        .client
        .sync(
            s.space,
            &SyncOptions::dir(&root, &manifest).mirror_folders(None),
        )
        .expect("synced");
    assert!(
        synced
            .files
            .iter()
            .all(|f| matches!(f.action, SyncAction::Unchanged)),
        "{synced:?}"
    );
    assert_eq!(synced.files.len(), 3, "{synced:?}");
    assert!(
        s.emulator.requests().is_empty(),
        "{:?}",
        s.emulator.requests()
    );

    // A second pull downloads nothing.
    let again = s
        .client
        .pull(s.space, &PullOptions::dir(&root, &manifest))
        .expect("pulled again");
    assert_eq!(action(&again, "img/icons/logo.png"), "Unchanged");
    assert_eq!(action(&again, &renamed), "Unchanged");
    assert!(s.emulator.requests_for(Endpoint::Download).is_empty());
    // The same names on every pull.
    assert_eq!(
        again.files.iter().map(|f| &f.path).collect::<Vec<_>>(),
        report.files.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
}

#[test]
fn a_folder_is_pulled_with_everything_below_it_and_a_missing_one_is_an_error() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let img = s.emulator.create_folder("img", None);
    let icons = s.emulator.create_folder("icons", Some(img));
    s.emulator.seed_asset("top.txt", b"top".to_vec(), None);
    s.emulator
        .seed_asset("hero.txt", b"hero".to_vec(), Some(img));
    s.emulator
        .seed_asset("home.txt", b"home".to_vec(), Some(icons));
    let base = temp_dir("pull_folder");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    let report = s
        .client
        .pull(s.space, &PullOptions::dir(&root, &manifest).folder(img))
        .expect("pulled");
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["hero.txt", "icons/home.txt"]);
    assert!(matches!(report.files[0].action, PullAction::Downloaded));
    assert_eq!(
        fs::read(root.join("icons/home.txt")).expect("home"),
        b"home"
    );

    // Synced back below the same folder: nothing to do.
    s.emulator.clear_requests();
    let synced = s
        .client
        .sync(
            s.space,
            &SyncOptions::dir(&root, &manifest).mirror_folders(Some(img)),
        )
        .expect("synced");
    assert!(synced.is_ok(), "{synced:?}");
    assert!(
        s.emulator.requests().is_empty(),
        "{:?}",
        s.emulator.requests()
    );

    let err = s
        .client
        .pull(s.space, &PullOptions::dir(&root, &manifest).folder(999_999))
        .expect_err("no such folder");
    assert!(
        matches!(err.kind(), ErrorKind::InvalidInput { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("999999"), "{err}");
}

#[test]
fn a_failed_download_fails_its_line_leaves_no_file_and_the_rerun_fetches_it() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let a = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    // The first download (a.txt: one at a time, oldest first) is refused.
    s.emulator
        .inject(Fault::respond(Endpoint::Download, 1, 503, "busy"));
    let base = temp_dir("pull_failed");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    let options = PullOptions::dir(&root, &manifest).concurrency(1);
    let report = s.client.pull(s.space, &options).expect("pulled");
    let (path, error) = report.failures().next().expect("a failure");
    assert_eq!(path, "a.txt");
    assert!(
        matches!(error.kind(), ErrorKind::Download { status: 503, .. }),
        "{error:?}"
    );
    assert_eq!(error.asset_id(), Some(a.id));
    assert_eq!(action(&report, "b.txt"), "Downloaded");
    assert!(!root.join("a.txt").exists());
    let left: Vec<_> = fs::read_dir(&root)
        .expect("listed")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, ["b.txt"], "no temporary file left behind");
    assert!(
        !Manifest::load(&manifest)
            .expect("manifest")
            .assets
            .contains_key("a.txt")
    );

    let again = s.client.pull(s.space, &options).expect("pulled again");
    assert!(again.is_ok(), "{again:?}");
    assert_eq!(action(&again, "a.txt"), "Downloaded");
    assert_eq!(action(&again, "b.txt"), "Unchanged");
    assert_eq!(fs::read(root.join("a.txt")).expect("a"), b"aaaa");
}

#[test]
fn a_token_the_space_refuses_fails_the_pull_and_writes_nothing() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    let client = storyblok_assets::Client::builder(storyblok_assets::Token::personal("wrong"))
        .base_url(s.emulator.api_url())
        .shared_pacing(storyblok_assets::SharedPacing::Off)
        .build()
        .expect("client");
    let base = temp_dir("pull_refused");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    let err = client
        .pull(s.space, &PullOptions::dir(&root, &manifest))
        .expect_err("refused");
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(err.to_string().contains("check the token"), "{err}");
    assert!(!root.exists() && !manifest.exists());

    // A space that does not exist: the server's 404, nothing written.
    let err = s
        .client
        .pull(999, &PullOptions::dir(&root, &manifest))
        .expect_err("no such space");
    assert_eq!(err.status(), Some(404), "{err:?}");
    assert!(err.to_string().contains("check the space id"), "{err}");
    assert!(!root.exists() && !manifest.exists());
}

#[test]
fn each_pulled_file_is_in_the_manifest_before_the_pull_ends() {
    // What a pull killed midway leaves: the files it had fetched, each already noted (in
    // the manifest's journal, which Manifest::load reads), so the next pull fetches them
    // no more.
    let s = setup_with(Emulator::builder().local_cdn(true));
    let first = s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), None);
    s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    s.emulator.inject(Fault::delay(
        Endpoint::Download,
        2,
        std::time::Duration::from_millis(1500),
    ));
    let base = temp_dir("pull_noted");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn({
        let (client, space) = (s.client.clone(), s.space);
        let options = PullOptions::dir(&root, &manifest).concurrency(1);
        move || done.send(client.pull(space, &options))
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let noted = loop {
        if let Ok(read) = Manifest::load(&manifest)
            && read.assets.contains_key("a.txt")
        {
            break read;
        }
        assert!(std::time::Instant::now() < deadline, "a.txt never noted");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        ended.try_recv().is_err(),
        "noted while the pull still ran (b.txt's download is held)"
    );
    assert_eq!(noted.assets["a.txt"].id, first.id);
    assert!(!noted.assets.contains_key("b.txt"));
    let report = ended
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the pull ends")
        .expect("pulled");
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(Manifest::load(&manifest).expect("manifest").assets.len(), 2);
}

/// A dry run lists and compares, and writes nothing: no file, folder, sidecar, manifest or
/// lock; the progress callback sees every line once.
#[test]
fn a_dry_run_downloads_and_writes_nothing_and_tells_each_line() {
    let s = setup_with(Emulator::builder().local_cdn(true));
    let docs = s.emulator.create_folder("docs", None);
    s.emulator.seed_asset("a.txt", b"aaaa".to_vec(), Some(docs));
    let b = s.emulator.seed_asset("b.txt", b"bbbb".to_vec(), None);
    s.client
        .update_metadata(s.space, b.id, &AssetMeta::new().alt("B"))
        .expect("metadata");
    let base = temp_dir("pull_dry");
    let (root, manifest) = (base.join("assets"), base.join("assets.manifest.json"));
    let seen = std::sync::Mutex::new(Vec::new());
    s.emulator.clear_requests();
    let options = PullOptions::dir(&root, &manifest).dry_run(true);
    let report = s
        .client
        .pull_with(s.space, &options, |file| {
            seen.lock().expect("seen").push(file.path.clone());
        })
        .expect("a dry run");
    assert!(report.dry_run && report.is_ok(), "{report:?}");
    assert_eq!(action(&report, "docs/a.txt"), "Downloaded");
    assert_eq!(action(&report, "b.txt"), "Downloaded");
    let mut seen = seen.into_inner().expect("seen");
    seen.sort();
    assert_eq!(seen, ["b.txt", "docs/a.txt"]);
    assert!(s.emulator.requests_for(Endpoint::Download).is_empty());
    let left: Vec<_> = fs::read_dir(&base)
        .expect("the base folder")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "a dry run wrote {left:?}");

    // After a real pull, a dry run finds nothing to do.
    let real = s
        .client
        .pull(s.space, &PullOptions::dir(&root, &manifest))
        .expect("pulled");
    assert!(real.is_ok() && !real.dry_run, "{real:?}");
    let again = s.client.pull(s.space, &options).expect("a dry run");
    assert_eq!(action(&again, "docs/a.txt"), "Unchanged");
    assert_eq!(action(&again, "b.txt"), "Unchanged");
}
