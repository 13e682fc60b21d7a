//! How sync's work grows with a library: the first sync of 100, 1,000 and 10,000 new files
//! against the emulator with the rate limit off, and the unchanged rerun after it.
//!
//! ```text
//! cargo bench --bench scaling                      # 100, 1000 and 10000 files
//! SIZES=100,1000 cargo bench --bench scaling
//! cargo bench --bench scaling --profile dev        # the same, built for debug
//! KEEP=1 cargo bench --bench scaling               # keep the trees and manifests
//! ```
//!
//! Each sync runs in a process of its own (this benchmark's binary, run again as the
//! worker), so its peak memory and the bytes it writes are its own: wall time, CPU time
//! (user + system) per file, bytes the process wrote to disk (`/proc/self/io`'s
//! `write_bytes`: the manifest, its journal, anything else), peak resident memory
//! (`VmHWM`), and the Management API calls per file the emulator counted. The emulator
//! runs in this process and is not counted. Files are 64 bytes each, 100 to a folder,
//! last modified an hour before.
//! Linux only (the numbers come from `/proc`).
//!
//! `SIZES=10000 cargo bench --bench scaling --profile dev`, 2 vCPU Intel Xeon, quiet: the
//! first sync of 10,000 files took 26.7 s at 2.98 ms CPU and 13,115 bytes written per file,
//! 43.8 MiB peak memory and 2.00 Management API calls per file; the unchanged rerun 158.6
//! ms. A second run with the machine loaded (load average 3.4): the unchanged rerun of
//! 1,000 files 22.6 ms, of 10,000 files 197.7 ms; CPU per file ×1.10 and bytes per file
//! ×1.00 from 1,000 to 10,000 files. Built for release (`cargo bench --bench scaling`, an
//! earlier machine): 1.50, 1.42 and 1.62 ms CPU per file for 100, 1,000 and 10,000 files,
//! about 13 KB written per file, peak memory 9.5, 15.6 and 42.9 MiB.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use storyblok_assets::{Client, RateLimit, SharedPacing, SyncOptions, Token};
use storyblok_assets_emulator::{Emulator, Endpoint};

const WORKER: &str = "SB_SCALING_WORKER";

fn main() {
    if std::env::var_os(WORKER).is_some() {
        worker();
        return;
    }
    let sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let emulator = Emulator::builder()
        .rate_limit(None)
        .start()
        .expect("an emulator");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "sync against the emulator, rate limit off, {profile} build; a worker process per sync\n"
    );
    println!(
        "| files | first sync s | CPU ms/file | written to disk | bytes/file | peak RSS | MAPI calls/file | unchanged rerun ms | rerun peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut per_file = Vec::new();
    for &files in &sizes {
        let dir = tree(files);
        let manifest = dir.with_extension("manifest.json");
        emulator.clear_requests();
        let first = run(&emulator, &dir, &manifest);
        let calls = calls(&emulator);
        let rerun = run(&emulator, &dir, &manifest);
        let cpu_per_file = first.cpu.as_secs_f64() * 1000.0 / files as f64;
        per_file.push((files, cpu_per_file, first.written as f64 / files as f64));
        println!(
            "| {files} | {:.2} | {cpu_per_file:.3} | {} | {:.0} | {} | {:.2} | {:.1} | {} |",
            first.wall.as_secs_f64(),
            mib(first.written),
            first.written as f64 / files as f64,
            mib(first.peak),
            calls as f64 / files as f64,
            rerun.wall.as_secs_f64() * 1000.0,
            mib(rerun.peak),
        );
        assert_eq!(
            rerun.written, 0,
            "an unchanged rerun wrote {} bytes",
            rerun.written
        );
        if std::env::var_os("KEEP").is_none() {
            let _ = std::fs::remove_dir_all(dir.parent().expect("a parent"));
        }
    }
    println!();
    for pair in per_file.windows(2) {
        let ((a, cpu_a, bytes_a), (b, cpu_b, bytes_b)) = (pair[0], pair[1]);
        println!(
            "{a} -> {b} files: CPU per file x{:.2}, bytes written per file x{:.2}",
            cpu_b / cpu_a,
            bytes_b / bytes_a
        );
    }
}

/// What one worker process measured.
struct Measured {
    wall: Duration,
    cpu: Duration,
    written: u64,
    peak: u64,
}

/// Runs one sync of `dir` in a worker process.
fn run(emulator: &Emulator, dir: &Path, manifest: &Path) -> Measured {
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env(WORKER, "1")
        .env("SB_API", emulator.api_url())
        .env("SB_TOKEN", emulator.token())
        .env("SB_SPACE", emulator.space_id().to_string())
        .env("SB_DIR", dir)
        .env("SB_MANIFEST", manifest)
        .output()
        .expect("the worker runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the worker failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |name: &str| -> u64 {
        text.split_whitespace()
            .find_map(|word| word.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    Measured {
        wall: Duration::from_micros(field("wall_us")),
        cpu: Duration::from_millis(field("cpu_ms")),
        written: field("written"),
        peak: field("peak"),
    }
}

/// The worker: one sync, then its own numbers on stdout.
fn worker() {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let client = Client::builder(Token::personal(var("SB_TOKEN")))
        .base_url(var("SB_API"))
        .rate_limit(RateLimit::Off)
        .shared_pacing(SharedPacing::Off)
        .build()
        .expect("a client");
    let options = SyncOptions::dir(var("SB_DIR"), var("SB_MANIFEST")).concurrency(8);
    let space = var("SB_SPACE").parse().expect("a space id");
    let (cpu_before, written_before) = (cpu(), written());
    let start = Instant::now();
    let report = client.sync(space, &options).expect("the sync");
    let wall = start.elapsed();
    assert!(report.is_ok(), "{:?}", report.failures().next());
    println!(
        "wall_us={} cpu_ms={} written={} peak={}",
        wall.as_micros(),
        (cpu() - cpu_before).as_millis(),
        written() - written_before,
        peak()
    );
}

/// `files` files of 64 bytes, 100 to a folder, in a fresh folder.
fn tree(files: usize) -> PathBuf {
    let base =
        std::env::temp_dir().join(format!("storyblok-scaling-{}-{files}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let dir = base.join("assets");
    for n in 0..files {
        let folder = dir.join(format!("d{:03}", n / 100));
        std::fs::create_dir_all(&folder).expect("a folder");
        let mut bytes = format!("file {n} of {files}\n").into_bytes();
        bytes.resize(64, b'.');
        let path = folder.join(format!("s{files}-f{n:05}.txt"));
        std::fs::write(&path, bytes).expect("a file");
        // Written an hour ago: a file modified within 2 s of a sync gets its time recorded
        // by the next one, which would then write.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now() - Duration::from_secs(3600)))
            .expect("an old time");
    }
    dir
}

/// Management API calls the emulator recorded (sign, finish, listings, …; not S3).
fn calls(emulator: &Emulator) -> usize {
    emulator
        .requests()
        .iter()
        .filter(|r| !matches!(r.endpoint, Endpoint::Upload | Endpoint::Download))
        .count()
}

/// This process's CPU time, user and system, from `/proc/self/stat` (clock ticks of 10 ms
/// on Linux).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// Bytes this process caused to be written to storage.
fn written() -> u64 {
    proc_field("/proc/self/io", "write_bytes:")
}

/// This process's peak resident memory, in bytes.
fn peak() -> u64 {
    proc_field("/proc/self/status", "VmHWM:") * 1024
}

fn proc_field(file: &str, name: &str) -> u64 {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
