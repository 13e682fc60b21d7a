//! A transfer between two spaces of one emulator at the target's rate limit: the share of
//! the limit it reaches, the 429s it draws, and the transferring process's peak memory;
//! then a pull of the target to disk, and the pulling process's peak memory.
//!
//! ```text
//! cargo bench --bench transfer                 # 200 small assets and one of 1 GiB
//! FILES=50 BIG_MIB=0 cargo bench --bench transfer
//! ```
//!
//! One emulator serves both spaces, each with its own rate window of 6 calls a second in
//! fixed one-second windows (every request counted, 429s too), a 50 ms round trip added to
//! each Management API request, and the files as the CDN would (`local_cdn`). The source and
//! the target are two clients (two tokens, in real life), each paced for its space. The
//! transfer runs in a process of its own (this benchmark's binary, run again as the worker),
//! so its peak memory (`VmHWM`) is its own, not the emulator's (which holds every file in
//! memory). Linux only.
//!
//! Latest run, 2026-12-04, 2 vCPU AMD EPYC, 24 GiB (200 assets of 2 KiB and one of 1 GiB,
//! 4 at a time, the largest first):
//!
//! | assets | copied | seconds | target calls | calls/s | of the limit | 429s | worker peak RSS |
//! |---|---|---|---|---|---|---|---|
//! | 201 | 201 | 71.9 | 404 | 5.62 | 93.7% | 0 | 12.0 MiB |
//!
//! Then the target is pulled to disk (`Client::pull`) by a worker of its own: 201 files,
//! the 1 GiB one included, in 10.4 s at 7.0 MiB peak RSS. Earlier runs of the transfer gave
//! 10.0 and 11.2 MiB.
//!
//! The issue's target is 90%. The 404 calls are 2 per asset and 2 to list the (empty)
//! target once. Before the largest went first, the 1 GiB file went last and its upload ran
//! alone at the end: 75.5 s, 89.2% (same machine, same day). What is still missing is mostly
//! the pacer's opening (a quarter of the limit, growing 30% a second: about 3 s of the 67 s
//! that 404 calls take at the limit), which keeps clients that share no state from opening
//! above the limit together.

use std::process::Command;
use std::time::{Duration, Instant};

use storyblok_assets::{Client, PullOptions, RateLimit, SharedPacing, Token, TransferOptions};
use storyblok_assets_emulator::Emulator;

const WORKER: &str = "SB_TRANSFER_WORKER";
const LIMIT: u32 = 6;
const SOURCE: u64 = 1;
const TARGET: u64 = 2;

fn main() {
    if std::env::var_os(WORKER).is_some() {
        worker();
        return;
    }
    let number = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (files, big_mib) = (number("FILES", 200), number("BIG_MIB", 1024));
    // The target takes an upload of the big file with its form around it.
    let emulator = Emulator::builder()
        .space_id(SOURCE)
        .space(TARGET)
        .local_cdn(true)
        .max_body(((big_mib as u64) << 20) + (1 << 20))
        .rate_limit(Some(LIMIT))
        .retry_after(Some(1))
        .one_way_delay(Duration::from_millis(25), Duration::ZERO)
        .start()
        .expect("the emulator");
    let source = emulator.space(SOURCE).expect("the source space");
    let target = emulator.space(TARGET).expect("the target space");
    for n in 0..files {
        let mut bytes = format!("asset {n} of {files}\n").into_bytes();
        bytes.resize(2048, b'.');
        source.seed_asset(&format!("a{n:04}.txt"), bytes, None);
    }
    if big_mib > 0 {
        source.seed_asset("big.bin", vec![7u8; big_mib << 20], None);
    }
    let assets = files + usize::from(big_mib > 0);
    let base = std::env::temp_dir().join(format!("storyblok-transfer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).expect("a folder");
    let started = Instant::now();
    let peak = run_worker(&emulator, "transfer", &base);
    let seconds = started.elapsed().as_secs_f64();
    let in_target = format!("/v1/spaces/{TARGET}/");
    let calls: Vec<u16> = emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with(&in_target))
        .map(|r| r.status)
        .collect();
    let refused = calls.iter().filter(|&&s| s == 429).count();
    let copied = target.assets().iter().filter(|a| a.finished).count();
    println!(
        "transfer of {files} small assets{} to a target at {LIMIT} calls/s, 50 ms round trip\n",
        if big_mib > 0 {
            format!(" and one of {big_mib} MiB")
        } else {
            String::new()
        }
    );
    println!(
        "| assets | copied | seconds | target calls | calls/s | of the limit | 429s | worker peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| {assets} | {copied} | {seconds:.1} | {} | {:.2} | {:.1}% | {refused} | {:.1} MiB |",
        calls.len(),
        calls.len() as f64 / seconds,
        100.0 * calls.len() as f64 / seconds / f64::from(LIMIT),
        peak as f64 / f64::from(1u32 << 20)
    );
    // The copies pulled to disk, in a worker of its own: pull's memory with the big file.
    let started = Instant::now();
    let peak = run_worker(&emulator, "pull", &base);
    let pulled = std::fs::read_dir(base.join("pulled")).map_or(0, |dir| dir.count());
    println!(
        "\npull of the target to disk: {pulled} files in {:.1} s, worker peak RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        peak as f64 / f64::from(1u32 << 20)
    );
    let _ = std::fs::remove_dir_all(&base);
}

/// Runs this binary again as a worker doing `job` (`transfer` or `pull`) in `base`; its peak
/// memory.
fn run_worker(emulator: &Emulator, job: &str, base: &std::path::Path) -> u64 {
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env(WORKER, job)
        .env("SB_API", emulator.api_url())
        .env("SB_TOKEN", emulator.token())
        .env("SB_BASE", base)
        .output()
        .expect("the worker runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the {job} worker failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.split_whitespace()
        .find_map(|w| w.strip_prefix("peak=")?.parse().ok())
        .expect("the worker's peak")
}

/// The worker: one transfer (or one pull of the target), then its peak memory on stdout.
fn worker() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let client = || {
        Client::builder(Token::personal(var("SB_TOKEN")))
            .base_url(var("SB_API"))
            .rate_limit(RateLimit::PerSecond(LIMIT))
            .shared_pacing(SharedPacing::Off)
            .build()
            .expect("a client")
    };
    let base = std::path::PathBuf::from(var("SB_BASE"));
    if var(WORKER) == "pull" {
        let options = PullOptions::dir(base.join("pulled"), base.join("pulled.manifest.json"));
        let report = client().pull(TARGET, &options).expect("the pull");
        assert!(report.is_ok(), "{:?}", report.failures().next());
    } else {
        let (source, target) = (client(), client());
        let options = TransferOptions::new(base.join("map.json"));
        let report = source
            .transfer(SOURCE, &target, TARGET, &options)
            .expect("the transfer");
        assert!(report.is_ok(), "{:?}", report.failures().next());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    println!("peak={}", peak_kib * 1024);
}
