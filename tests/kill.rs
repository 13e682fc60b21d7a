//! Killed at any moment, nothing lost: a sync runs in a child process (this binary, run
//! again as the child) and is SIGKILLed at random moments across uploads, replaces and new
//! versions; after each kill the manifest still gives every file it gave a URL one, and
//! after each phase, a sync left to finish leaves every file in the space exactly once, no
//! record that no manifest entry names, no pending entry, and a last run that is all
//! unchanged with no write call. Then the space is transferred into a second space of the
//! emulator, killed the same way: the transfer left to finish leaves each source asset in
//! the target exactly once, as the map says, no record the map does not name, and a last
//! transfer with no write call.
//!
//! `SB_KILL_SEED=<n>` replays a run (the seed is printed); `SB_KILL_ROUNDS=<n>` sets the
//! rounds per phase (default 6).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use storyblok_assets::{
    Client, Manifest, OnChange, RateLimit, SharedPacing, SyncOptions, Token, TransferMap,
    TransferOptions,
};
use storyblok_assets_emulator::{Emulator, StoredAsset};

const CHILD: &str = "SB_KILL_CHILD";
const FILES: usize = 12;
/// The space the transfer phase copies into.
const TARGET: u64 = 607;

fn main() -> ExitCode {
    if std::env::var_os(CHILD).is_some() {
        return child();
    }
    // Under `cargo test -- --list` (or a filter for other tests) say what is here and
    // run nothing.
    if std::env::args().any(|a| a == "--list") {
        println!("killed_at_any_moment_nothing_is_lost: test");
        return ExitCode::SUCCESS;
    }
    let started = Instant::now();
    let seed = std::env::var("SB_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    let rounds = std::env::var("SB_KILL_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    println!("killed_at_any_moment_nothing_is_lost: seed {seed} (SB_KILL_SEED={seed} replays it)");
    let mut test = KillTest::new(seed);
    test.phase("uploads", OnChange::ReplaceInPlace, rounds, Change::None);
    test.phase("replaces", OnChange::ReplaceInPlace, rounds, Change::Some);
    test.phase("new versions", OnChange::NewAsset, rounds, Change::Some);
    test.transfer_phase(rounds);
    println!(
        "killed_at_any_moment_nothing_is_lost: ok ({} kills, {} runs, {:.1} s)",
        test.kills,
        test.runs,
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// The child: one sync, as the environment says; exits 0 when every file synced.
fn child() -> ExitCode {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let client = Client::builder(Token::personal(var("SB_TOKEN")))
        .base_url(var("SB_API"))
        .rate_limit(RateLimit::Off)
        .shared_pacing(SharedPacing::Off)
        .build()
        .expect("a client");
    let on_change = match var("SB_MODE").as_str() {
        "new" => OnChange::NewAsset,
        _ => OnChange::ReplaceInPlace,
    };
    // Rounds of changes with every sync killed add up to most files changed: meant here.
    let options = SyncOptions::dir(var("SB_ROOT"), var("SB_MANIFEST"))
        .on_change(on_change)
        .allow_mass_change(true);
    let space = var("SB_SPACE").parse().expect("a space id");
    let failures = if var("SB_MODE") == "transfer" {
        let options = TransferOptions::new(var("SB_MAP"));
        client
            .transfer(space, &client, TARGET, &options)
            .map(|report| failed(report.failures()))
    } else {
        client
            .sync(space, &options)
            .map(|report| failed(report.failures()))
    };
    match failures {
        Ok(failures) if failures.is_empty() => ExitCode::SUCCESS,
        Ok(failures) => {
            for failure in failures {
                eprintln!("child: {failure}");
            }
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("child: the run failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// A report's failures, a line each.
fn failed<'a>(
    failures: impl Iterator<Item = (&'a str, &'a storyblok_assets::Error)>,
) -> Vec<String> {
    failures
        .map(|(path, error)| format!("{path} failed: {error}"))
        .collect()
}

/// Whether a phase changes files before it starts.
#[derive(Clone, Copy, PartialEq)]
enum Change {
    None,
    Some,
}

struct KillTest {
    emulator: Emulator,
    root: PathBuf,
    manifest: PathBuf,
    random: u64,
    /// Every file's bytes now; each version of each file is unique.
    files: BTreeMap<String, Vec<u8>>,
    version: u64,
    /// Assets that held a file's previous bytes (new versions): kept on purpose.
    superseded: BTreeSet<u64>,
    /// Every id a complete manifest entry named as its asset.
    complete: BTreeSet<u64>,
    kills: usize,
    runs: usize,
}

impl KillTest {
    fn new(seed: u64) -> KillTest {
        // A round trip of a few ms: each call takes long enough that kills land inside
        // calls too, between a request and its answer.
        let emulator = Emulator::builder()
            .rate_limit(None)
            .local_cdn(true)
            .space(TARGET)
            .one_way_delay(Duration::from_millis(1), Duration::from_millis(2))
            .start()
            .expect("an emulator");
        let base =
            std::env::temp_dir().join(format!("storyblok-kill-{}-{seed:x}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        let root = base.join("assets");
        fs::create_dir_all(&root).expect("a folder");
        let mut test = KillTest {
            emulator,
            manifest: base.join("assets.manifest.json"),
            root,
            random: seed,
            files: BTreeMap::new(),
            version: 0,
            superseded: BTreeSet::new(),
            complete: BTreeSet::new(),
            kills: 0,
            runs: 0,
        };
        for n in 0..FILES {
            let path = if n % 3 == 0 {
                format!("img/file-{n}.bin")
            } else {
                format!("file-{n}.bin")
            };
            test.write(&path);
        }
        test
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.random ^= self.random >> 12;
        self.random ^= self.random << 25;
        self.random ^= self.random >> 27;
        self.random.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Writes new, unique bytes to `path`: small files and a few of 256 KiB, so kills
    /// land in uploads too.
    fn write(&mut self, path: &str) {
        self.version += 1;
        let mut bytes = format!("{path} version {}\n", self.version).into_bytes();
        if self.next().is_multiple_of(4) {
            bytes.resize(256 * 1024, b'.');
        }
        let file = self.root.join(path);
        fs::create_dir_all(file.parent().expect("a folder")).expect("folders");
        fs::write(&file, &bytes).expect("write");
        self.files.insert(path.to_owned(), bytes);
    }

    /// The map of the transfer phase.
    fn map(&self) -> PathBuf {
        self.manifest.with_file_name("transfer.map.json")
    }

    /// The child's command for a transfer.
    fn transfer_command(&self) -> Command {
        let mut command = self.command(OnChange::ReplaceInPlace);
        command.env("SB_MODE", "transfer").env("SB_MAP", self.map());
        command
    }

    /// The transfer phase: `rounds` transfers killed at random moments, then one left to
    /// finish, the checks, and one more that must write nothing.
    fn transfer_phase(&mut self, rounds: usize) {
        for _ in 0..rounds {
            let delay = Duration::from_micros(self.next() % 250_000);
            let mut child = self.transfer_command().spawn().expect("the child");
            std::thread::sleep(delay);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            self.kills += 1;
            self.runs += 1;
            // The map (with its journal) reads after any kill.
            TransferMap::load(self.map()).expect("a readable map");
        }
        let output = self.transfer_command().output().expect("the child runs");
        self.runs += 1;
        assert!(
            output.status.success(),
            "transfer: the run after the kills failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let map = TransferMap::load(self.map()).expect("the map");
        let target = self.emulator.space(TARGET).expect("the target space");
        let copies = target.assets();
        for source in self.emulator.assets() {
            let bytes = &self
                .emulator
                .object(&source.key)
                .expect("a source file")
                .bytes;
            let mapped = map
                .assets
                .get(&source.id)
                .unwrap_or_else(|| panic!("transfer: asset {} is not in the map", source.id));
            assert!(!mapped.pending, "transfer: asset {} is pending", source.id);
            assert_eq!(
                self.holding(&copies, bytes),
                [mapped.id],
                "transfer: asset {}'s bytes are in the target exactly once, as the map says",
                source.id
            );
        }
        let named: BTreeSet<u64> = map.assets.values().map(|m| m.id).collect();
        for copy in &copies {
            assert!(
                named.contains(&copy.id) && copy.finished,
                "transfer: target asset {} ({}) is named by no map entry, or unfinished",
                copy.id,
                copy.key
            );
        }
        assert_eq!(copies.len(), self.emulator.assets().len());
        self.emulator.clear_requests();
        let output = self.transfer_command().output().expect("the child runs");
        self.runs += 1;
        assert!(output.status.success(), "transfer: the last run failed");
        let writes = self.writes();
        assert!(
            writes.is_empty(),
            "transfer: a finished transfer wrote: {writes:?}"
        );
    }

    /// The ids of `assets` whose stored file holds `bytes`.
    fn holding(&self, assets: &[StoredAsset], bytes: &[u8]) -> Vec<u64> {
        assets
            .iter()
            .filter(|a| {
                self.emulator
                    .object(&a.key)
                    .is_some_and(|o| o.bytes == bytes)
            })
            .map(|a| a.id)
            .collect()
    }

    /// The requests since the log was cleared that could change something.
    fn writes(&self) -> Vec<String> {
        self.emulator
            .requests()
            .iter()
            .filter(|r| r.method != "GET" && r.method != "HEAD")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The child's command.
    fn command(&self, on_change: OnChange) -> Command {
        let mut command = Command::new(std::env::current_exe().expect("this binary"));
        command
            .env(CHILD, "1")
            .env("SB_API", self.emulator.api_url())
            .env("SB_TOKEN", self.emulator.token())
            .env("SB_SPACE", self.emulator.space_id().to_string())
            .env("SB_ROOT", &self.root)
            .env("SB_MANIFEST", &self.manifest)
            .env(
                "SB_MODE",
                if on_change == OnChange::NewAsset {
                    "new"
                } else {
                    "replace"
                },
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    }

    /// A phase: `rounds` times change a few files (unless `change` is none) and start a
    /// sync that is killed at a random moment; then a sync left to finish, and the checks.
    fn phase(&mut self, name: &str, on_change: OnChange, rounds: usize, change: Change) {
        for round in 0..rounds {
            if change == Change::Some || round > 0 {
                let paths: Vec<String> = self.files.keys().cloned().collect();
                for path in paths {
                    if self.next().is_multiple_of(3) {
                        self.write(&path);
                    }
                }
            }
            let before = self.snapshot();
            // Somewhere within a run: the longest take a few hundred ms here.
            let delay = Duration::from_micros(self.next() % 250_000);
            let mut child = self.command(on_change).spawn().expect("the child");
            std::thread::sleep(delay);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            self.kills += 1;
            self.runs += 1;
            let after = self.snapshot();
            // Every file the manifest gave a URL still has one (the constants compile).
            for (path, url) in &before {
                assert!(
                    after.contains_key(path),
                    "{name}, round {round}: {path} lost its URL {url} to a kill after {delay:?}"
                );
            }
        }
        // Left to finish, the sync completes everything.
        let output = self.command(on_change).output().expect("the child runs");
        self.runs += 1;
        assert!(
            output.status.success(),
            "{name}: the sync after the kills failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        self.snapshot();
        self.check(name);
        // And the next one has nothing to do: no write call at all.
        self.emulator.clear_requests();
        let output = self.command(on_change).output().expect("the child runs");
        self.runs += 1;
        assert!(output.status.success(), "{name}: the last sync failed");
        let writes = self.writes();
        assert!(
            writes.is_empty(),
            "{name}: an unchanged sync wrote: {writes:?}"
        );
    }

    /// The manifest as a build would read it now (its journal included): each file's URL,
    /// and the constants it gives compile. Notes the assets of complete entries.
    fn snapshot(&mut self) -> BTreeMap<String, String> {
        let manifest = Manifest::load(&self.manifest).expect("a readable manifest");
        manifest.rust_consts().expect("constants");
        for entry in manifest.assets.values().filter(|e| !e.pending) {
            self.complete.insert(entry.id);
        }
        manifest
            .assets
            .iter()
            .filter(|(_, e)| !e.pending)
            .map(|(path, e)| (path.clone(), e.url.clone()))
            .collect()
    }

    /// After a sync that finished: each file in the space exactly once, as its entry says;
    /// no record that no manifest entry names; nothing pending.
    fn check(&mut self, name: &str) {
        let manifest = Manifest::load(&self.manifest).expect("manifest");
        let assets = self.emulator.assets();
        let mut current = BTreeSet::new();
        for (path, bytes) in &self.files {
            let entry = manifest
                .assets
                .get(path)
                .unwrap_or_else(|| panic!("{name}: {path} has no entry"));
            assert!(!entry.pending, "{name}: {path} is still pending");
            assert_eq!(
                entry.new_version, None,
                "{name}: {path} has a pending version"
            );
            assert_eq!(
                self.holding(&assets, bytes),
                [entry.id],
                "{name}: {path}'s bytes are in the space exactly once, as its entry's asset"
            );
            current.insert(entry.id);
        }
        // Assets that were a file's complete asset and were superseded by a new version
        // are kept on purpose; an unfinished record never is.
        for id in self.complete.iter().filter(|id| !current.contains(id)) {
            self.superseded.insert(*id);
        }
        for asset in &assets {
            assert!(
                current.contains(&asset.id) || self.superseded.contains(&asset.id),
                "{name}: asset {} ({}) is named by no manifest entry",
                asset.id,
                asset.key
            );
        }
        assert_eq!(
            manifest.assets.len(),
            self.files.len(),
            "{name}: an entry for each file, no other"
        );
    }
}
