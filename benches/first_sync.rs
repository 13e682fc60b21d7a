//! A library's first sync at the rate limit: new files into an empty folder, and into a
//! folder that already holds many unrelated assets, against the emulator enforcing 6 calls
//! a second in fixed one-second windows (every request counted, 429s too).
//!
//! ```text
//! cargo bench --bench first_sync                  # 1,000 files, both scenarios (~12 min)
//! FILES=200 cargo bench --bench first_sync
//! SCENARIOS=empty cargo bench --bench first_sync  # empty | crowded
//! ```
//!
//! Each new file costs two calls (sign, finish); adoption's lookups are shared by the new
//! files of a folder, so a first sync into an empty folder should take about 2 × files / 6
//! seconds: the target is 1.05 times that. `crowded` seeds 5,000 unrelated assets in the
//! folder first (no request): its target is at most one list call per new file (listing
//! it takes 50 calls for 1,000 files).
//!
//! Latest run, 2026-12-04, 2 vCPU AMD EPYC, 1,000 files: `empty` 336.8 s against a target
//! of 350.0 s, 2,001 calls, 1 list call, 5.94 calls/s, no 429; `crowded` 345.3 s, 2,050
//! calls, 50 list calls, no 429. The run before, with the pacer's older opening (half the
//! limit, doubling each second): `empty` 333.9 s, `crowded` 342.4 s.

use std::time::Instant;

use storyblok_assets::{Client, RateLimit, SharedPacing, SyncOptions, Token};
use storyblok_assets_emulator::{Emulator, Endpoint};

const LIMIT: u32 = 6;

fn main() {
    let files: usize = std::env::var("FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let wanted = std::env::var("SCENARIOS").unwrap_or_else(|_| "empty,crowded".into());
    println!(
        "first sync of {files} new files, emulator at {LIMIT} calls/s (fixed windows, 429s counted)\n"
    );
    println!(
        "| scenario | assets already there | seconds | target s | MAPI calls | list calls | calls/s | of the limit | 429s |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, seeded) in [("empty", 0usize), ("crowded", 5000)] {
        if !wanted.split(',').any(|w| w.trim() == name) {
            continue;
        }
        run(name, files, seeded);
    }
}

fn run(name: &str, files: usize, seeded: usize) {
    let emulator = Emulator::builder()
        .rate_limit(Some(LIMIT))
        .start()
        .expect("an emulator");
    let folder = emulator.create_folder("library", None);
    for n in 0..seeded {
        emulator.seed_asset(
            &format!("other-{n}.txt"),
            format!("other {n}"),
            Some(folder),
        );
    }
    let base = std::env::temp_dir().join(format!(
        "storyblok-first-sync-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("assets");
    for n in 0..files {
        let sub = dir.join(format!("d{:02}", n / 100));
        std::fs::create_dir_all(&sub).expect("a folder");
        std::fs::write(sub.join(format!("new-{n:05}.txt")), format!("new file {n}"))
            .expect("a file");
    }
    let client = Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .rate_limit(RateLimit::PerSecond(LIMIT))
        .shared_pacing(SharedPacing::Off)
        .build()
        .expect("a client");
    let options = SyncOptions::dir(&dir, base.join("assets.manifest.json")).folder(folder);
    emulator.clear_requests();
    let start = Instant::now();
    let report = client
        .sync(emulator.space_id(), &options)
        .expect("the sync");
    let seconds = start.elapsed().as_secs_f64();
    assert!(report.is_ok(), "{:?}", report.failures().next());
    let requests = emulator.requests();
    let mapi: Vec<_> = requests
        .iter()
        .filter(|r| !matches!(r.endpoint, Endpoint::Upload | Endpoint::Download))
        .collect();
    let lists = mapi
        .iter()
        .filter(|r| r.endpoint == Endpoint::ListAssets)
        .count();
    let refused = mapi.iter().filter(|r| r.status == 429).count();
    let answered = mapi.len() - refused;
    let target = 1.05 * (2 * files) as f64 / f64::from(LIMIT);
    println!(
        "| {name} | {seeded} | {seconds:.1} | {target:.1} | {} | {lists} | {:.2} | {:.1}% | {refused} |",
        mapi.len(),
        answered as f64 / seconds,
        100.0 * answered as f64 / seconds / f64::from(LIMIT),
    );
    // Into an empty folder: the time target; into a crowded one: one list call a file at most.
    let (kept, against) = if seeded == 0 {
        (
            seconds <= target,
            format!("{seconds:.1} s of {target:.1} s"),
        )
    } else {
        (
            lists <= files,
            format!("{lists} list calls for {files} new files"),
        )
    };
    let verdict = if kept { "within" } else { "OUTSIDE" };
    eprintln!("{name}: {verdict} the target ({against})");
    let _ = std::fs::remove_dir_all(&base);
}
