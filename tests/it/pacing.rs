//! Pacing: many threads through one client against a server that enforces Storyblok's
//! fixed-window rate limit exactly, and counts every request, refused ones too. Kept in a
//! test binary of its own so that no other test competes with it for the CPU and skews
//! when requests arrive (but for the short tests of when the pacer's folder is made).
//!
//! The pacer's guarantee (no one-second window sees more calls than the limit, and the
//! limit is reached) does not depend on the rate, so this runs at 100 calls per second;
//! Storyblok's own 6/s, for 133 seconds, is `cargo bench --bench bulk_rate`.

use crate::common;

use std::time::Instant;

use common::{builder_for, pattern, setup, setup_limited};
use storyblok_assets::{AssetParams, RateLimit, SharedPacing, Source};
use storyblok_assets_emulator::{Emulator, Endpoint};

const RATE: u32 = 100;

#[test]
fn eight_threads_at_the_rate_limit_get_no_429() {
    let s = setup_limited(Emulator::builder().rate_limit(Some(RATE)));
    let client = builder_for(&s.emulator)
        .rate_limit(RateLimit::PerSecond(RATE))
        .build()
        .expect("client");
    let started = Instant::now();
    let threads: Vec<_> = (0..8)
        .map(|thread| {
            let client = client.clone();
            let space = s.space;
            std::thread::spawn(move || {
                (0..25)
                    .map(|i| {
                        let name = format!("t{thread}-{i}.bin");
                        let data = pattern(100 + thread * 50 + i);
                        let asset = client
                            .upload(
                                space,
                                AssetParams::new().filename(&name),
                                Source::bytes(data.clone()),
                            )
                            .unwrap_or_else(|e| panic!("{name}: {e}"));
                        (asset.id, data)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let uploaded: Vec<(u64, Vec<u8>)> = threads
        .into_iter()
        .flat_map(|t| t.join().expect("thread"))
        .collect();

    // 400 calls at 100/s take about 6 s: 4 s at the full rate, and about 2 s lost while
    // the pacer opens at a quarter of the rate and grows by 30% a second to all of it. A
    // pacer at half the limit takes 11 s or more, and fails.
    let took = started.elapsed();
    let calls = 2.0 * uploaded.len() as f64;
    assert!(
        took.as_secs_f64() < 1.5 * calls / f64::from(RATE) + 3.0,
        "took {took:?}"
    );
    let requests = s.emulator.requests();
    let too_many = requests.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        too_many, 0,
        "no 429 from a server that enforces exactly the limit"
    );
    assert_eq!(uploaded.len(), 200);
    assert_eq!(s.emulator.assets().len(), 200, "one record per asset");
    for (id, data) in &uploaded {
        let asset = s.emulator.asset(*id).expect("record");
        assert_eq!(&s.emulator.object(&asset.key).expect("object").bytes, data);
        assert_eq!(asset.sign_count, 1);
    }
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 200);
    assert_eq!(s.emulator.requests_for(Endpoint::Finish).len(), 200);
}

/// The pacer shortens a slot's hold by a margin learned from call durations (see
/// `src/pacer/mod.rs`); against a server whose each way takes 5 ms plus up to 25 ms of
/// jitter, counting each call when its request arrives, no window may see more than the
/// limit.
#[test]
fn jittered_round_trips_get_no_429_with_the_latency_margin() {
    let s = setup_limited(Emulator::builder().rate_limit(Some(RATE)).one_way_delay(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_millis(25),
    ));
    let client = builder_for(&s.emulator)
        .rate_limit(RateLimit::PerSecond(RATE))
        .build()
        .expect("client");
    let items = (0..150).map(|i| {
        (
            AssetParams::new().filename(format!("j{i}.txt")),
            Source::bytes(format!("jitter {i}").into_bytes()),
        )
    });
    let results = client.upload_all(s.space, items, 16);
    assert!(
        results.iter().all(Result::is_ok),
        "{:?}",
        results.iter().find(|r| r.is_err())
    );
    let too_many = s
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == 429)
        .count();
    assert_eq!(too_many, 0);
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 150);
}

/// The names of the state files in a pacer folder (its `.pacer` files), sorted.
fn state_files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                .filter(|name| name.ends_with(".pacer"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// A client makes its pacer folder when it first paces a call: building one (or many, as a
/// service or a build script may without calling) writes nothing.
#[test]
fn building_a_client_touches_no_file_until_its_first_call() {
    let s = setup();
    let dir = common::temp_dir("pacing-lazy-folder").join("pacer");
    let sharing = SharedPacing::Dir(dir.clone());
    let clients: Vec<_> = (0..3)
        .map(|_| {
            builder_for(&s.emulator)
                .shared_pacing(sharing.clone())
                .build()
                .expect("client")
        })
        .collect();
    assert!(!dir.exists(), "no folder before a call");
    common::put(&clients[0], s.space, "lazy.txt", b"lazy").expect("uploaded");
    assert_eq!(s.emulator.requests_for(Endpoint::Sign).len(), 1);
    let origin = s.emulator.public_origin();
    let host = origin
        .split("://")
        .nth(1)
        .expect("a host")
        .replace(':', "_");
    assert_eq!(
        state_files(&dir),
        [format!("{host}-{}.pacer", s.space)],
        "the first call made the folder and the space's state file"
    );
}

/// What the child of [`the_machine_folder_is_made_on_the_first_call`] is told.
const MACHINE_CHILD: &str = "pacing::the_machine_folder_is_made_by_a_child_on_its_first_call";
const MACHINE_CHILD_DIR: &str = "STORYBLOK_PACING_TEST_HOME";

/// The default sharing ([`SharedPacing::Machine`]) makes its folder in the user's cache
/// folder on the first call too. Run in a child process: the cache folder comes from
/// `XDG_CACHE_HOME` and `HOME`, which are the whole process's.
#[test]
#[cfg(all(unix, not(target_os = "macos")))]
fn the_machine_folder_is_made_on_the_first_call() {
    let home = common::temp_dir("pacing-machine-folder");
    for folder in ["cache", "home", "tmp"] {
        std::fs::create_dir_all(home.join(folder)).expect("made");
    }
    let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", MACHINE_CHILD, "--ignored", "--test-threads=1"])
        .env(MACHINE_CHILD_DIR, &home)
        .env("XDG_CACHE_HOME", home.join("cache"))
        .env("HOME", home.join("home"))
        .env("TMPDIR", home.join("tmp"))
        .output()
        .expect("the child test ran");
    // The child marks its end itself: a filter that matched no test would exit 0 too.
    assert!(
        child.status.success() && home.join(CHILD_DONE).exists(),
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
}

/// The file the child writes once it passed.
const CHILD_DONE: &str = "child-done";

#[test]
#[ignore = "run by the_machine_folder_is_made_on_the_first_call, in a process of its own"]
fn the_machine_folder_is_made_by_a_child_on_its_first_call() {
    let Some(home) = std::env::var_os(MACHINE_CHILD_DIR).map(std::path::PathBuf::from) else {
        return;
    };
    let s = setup();
    let clients: Vec<_> = (0..3)
        .map(|_| {
            storyblok_assets::Client::builder(storyblok_assets::Token::personal(s.emulator.token()))
                .base_url(s.emulator.api_url())
                .rate_limit(RateLimit::PerSecond(common::FAST))
                .build()
                .expect("client")
        })
        .collect();
    for folder in ["cache", "home", "tmp"] {
        let made: Vec<_> = std::fs::read_dir(home.join(folder))
            .expect("listed")
            .collect();
        assert!(made.is_empty(), "{folder}: nothing made before a call");
    }
    common::put(&clients[1], s.space, "machine.txt", b"machine").expect("uploaded");
    let dir = home.join("cache").join("storyblok-assets").join("pacer");
    assert_eq!(state_files(&dir).len(), 1, "the space's state file");
    std::fs::write(home.join(CHILD_DONE), b"").expect("marked");
}
