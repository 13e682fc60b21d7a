//! Real `cargo build`s of a small crate that uses the reference build.rs as it is
//! (`examples/build_script/build.rs`), syncing to an emulator in this process: a build
//! whose sync changed the manifest leaves the next build nothing to do (the script does
//! not run, the crate is not compiled, no call is made) while git still shows the
//! manifest changed; a file that fails on every run leaves the manifest untouched; a
//! changed asset does rerun the script; a server's words never become a directive.
//!
//! Ignored: it runs cargo, offline, with this repository's Cargo.lock and a target
//! directory of its own, `target/cargo-build-test` (the first run compiles storyblok-assets
//! and its dependencies there for build scripts). CI runs it by name:
//! `cargo test --test cargo_build -- --ignored`.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{pattern, png};
use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

/// The crate's library: the constants of the manifest, one of them used (so the build
/// fails when it is missing), and a cfg that only a forged directive could set.
const LIB: &str = r#"
pub mod assets {
    include!(concat!(env!("OUT_DIR"), "/storyblok_assets.rs"));
}

pub const LOGO: &str = assets::LOGO_PNG;

#[cfg(pwned)]
compile_error!("a server's words became a cargo directive");
"#;

/// A server's message with line breaks, each followed by a directive.
const HOSTILE: &str =
    r#"{"error":"no upload rights\ncargo:rustc-cfg=pwned\r\ncargo:warning=forged"}"#;

/// A small crate that uses the reference build.rs, and the emulator it syncs to.
struct Crate {
    /// The package's name, its folder's too: cargo keeps a package's build script state
    /// under a name that does not depend on its path, so the tests' crates have their own.
    name: &'static str,
    dir: PathBuf,
    emulator: Emulator,
}

/// What one `cargo build -v` said.
struct Build {
    name: &'static str,
    log: String,
}

impl Crate {
    /// The crate in a fresh folder `name`, its build.rs the reference one with `edit`
    /// applied to the text (none: as it is), holding `assets/logo.png`, committed to git
    /// (no manifest yet).
    fn new(name: &'static str, edit: impl FnOnce(String) -> String) -> Crate {
        let dir = common::temp_dir(name);
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let reference = fs::read_to_string(root.join("examples/build_script/build.rs"))
            .expect("the reference build.rs");
        fs::write(dir.join("build.rs"), edit(reference)).expect("build.rs");
        fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock")).expect("Cargo.lock");
        // Its own workspace, though it lies inside this repository's target directory.
        let manifest = format!(
            r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[build-dependencies]
storyblok-assets = {{ path = {root:?} }}

[lints.rust]
unexpected_cfgs = {{ level = "warn", check-cfg = ["cfg(pwned)"] }}

[workspace]
"#
        );
        fs::write(dir.join("Cargo.toml"), manifest).expect("Cargo.toml");
        fs::create_dir_all(dir.join("src")).expect("src");
        fs::write(dir.join("src/lib.rs"), LIB).expect("lib.rs");
        fs::create_dir_all(dir.join("assets")).expect("assets");
        let emulator = Emulator::builder()
            .rate_limit(None)
            .start()
            .expect("the emulator starts");
        let krate = Crate {
            name,
            dir,
            emulator,
        };
        krate.add("logo.png", &png(64, 48));
        krate.git(&["init", "-q", "."]);
        krate.commit();
        krate
    }

    /// Writes `assets/{path}`, dated an hour ago: a sync then records its time in the
    /// manifest at once (a time of the last 2 s is not trusted, and would be recorded by
    /// a later run), so that the manifest changes only when an asset does. Cargo sees the
    /// new file by its folder's time.
    fn add(&self, path: &str, bytes: &[u8]) {
        let path = self.dir.join("assets").join(path);
        fs::write(&path, bytes).expect("an asset");
        set_time(&path, SystemTime::now() - Duration::from_secs(3600));
    }

    /// Gives the assets folder the time of now, as an edit in it would: cargo reruns the
    /// script.
    fn touch_assets(&self) {
        set_time(&self.dir.join("assets"), SystemTime::now());
    }

    fn manifest(&self) -> PathBuf {
        self.dir.join("assets.manifest.json")
    }

    /// `cargo build -v`, offline, which must succeed.
    fn build(&self) -> Build {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .expect("the target directory")
            .join("cargo-build-test");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        // What cargo set for this test program describes this package, not that crate
        // (and a build script that watches one would see it change between cargo runs).
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                ]
                .contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        let output = command
            .args(["build", "--offline", "-v"])
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", target)
            .env("CARGO_TERM_COLOR", "never")
            .env("STORYBLOK_TOKEN", self.emulator.token())
            .env("STORYBLOK_SPACE_ID", self.emulator.space_id().to_string())
            .env("STORYBLOK_API_URL", self.emulator.api_url())
            .env("STORYBLOK_PACER_DIR", "off")
            .env_remove("STORYBLOK_OAUTH_TOKEN")
            .env_remove("SSL_CERT_FILE")
            .output()
            .expect("cargo runs");
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(output.status.success(), "cargo build failed:\n{log}");
        Build {
            name: self.name,
            log,
        }
    }

    /// A build that must be fresh: the script does not run, the crate is not compiled,
    /// and the emulator sees no request.
    fn build_fresh(&self, after: &str) {
        let requests = self.emulator.requests().len();
        let build = self.build();
        assert!(
            build.fresh() && !build.ran_script(),
            "the build after {after} is not fresh:\n{}",
            build.log
        );
        assert_eq!(
            self.emulator.requests().len(),
            requests,
            "the build after {after} made calls"
        );
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args([
                "-c",
                "user.name=test",
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?} failed: {output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    fn commit(&self) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", "state"]);
    }

    /// What `git status` says of the manifest, `M` for modified, also when git compares
    /// only times and sizes to tell whether to read a file.
    fn manifest_status(&self) -> (String, String) {
        let status = |extra: &[&str]| {
            let mut args = extra.to_vec();
            args.extend(["status", "--porcelain", "--", "assets.manifest.json"]);
            self.git(&args).trim().to_owned()
        };
        (
            status(&[]),
            status(&[
                "-c",
                "core.checkStat=minimal",
                "-c",
                "core.trustctime=false",
            ]),
        )
    }

    /// The statuses the emulator answered signs with.
    fn signs(&self) -> Vec<u16> {
        common::statuses(&self.emulator, Endpoint::Sign)
    }
}

impl Build {
    /// Cargo found the crate (its build script run included) up to date.
    fn fresh(&self) -> bool {
        let fresh = format!("Fresh {} ", self.name);
        self.log.lines().any(|l| l.trim().starts_with(&fresh))
    }

    /// Cargo ran the build script.
    fn ran_script(&self) -> bool {
        self.log
            .lines()
            .any(|l| l.trim().starts_with("Running `") && l.contains("build-script-build`"))
    }

    /// The warnings the build script gave, as cargo shows them.
    fn warnings(&self) -> Vec<&str> {
        let prefix = format!("warning: {}@0.1.0: ", self.name);
        self.log
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .collect()
    }
}

/// A file's bytes and modification time: a rewrite of the same bytes changes the time.
fn state(path: &Path) -> (Vec<u8>, SystemTime) {
    let bytes = fs::read(path).expect("the manifest");
    let time = fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("its time");
    (bytes, time)
}

/// Sets a path's modification time (a folder's too, on Unix).
fn set_time(path: &Path, time: SystemTime) {
    fs::File::open(path)
        .and_then(|file| file.set_modified(time))
        .expect("set the time");
}

#[test]
#[ignore = "runs cargo build (slow the first time); CI runs it by name"]
fn a_build_after_a_sync_is_fresh_and_git_still_sees_the_change() {
    let krate = Crate::new("cargo-build-fresh", |text| text);

    // The first sync: nothing before it, and a manifest after it.
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs(), [200]);
    assert_eq!(krate.emulator.requests_for(Endpoint::Finish).len(), 1);
    assert!(krate.manifest().is_file());
    krate.build_fresh("the first sync");
    assert_eq!(krate.manifest_status().0, "?? assets.manifest.json");
    krate.commit();

    // A new file: the committed manifest changes.
    krate.add("hello.txt", b"hello");
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs(), [200, 200]);
    let modified = (
        "M assets.manifest.json".to_owned(),
        "M assets.manifest.json".to_owned(),
    );
    assert_eq!(krate.manifest_status(), modified);
    krate.build_fresh("a sync that changed the manifest");
    assert_eq!(krate.manifest_status(), modified);
    krate.commit();

    // A file whose sign is refused on every run (a token without upload rights), with
    // words that hold line breaks and directives; on Unix also a file named so.
    let named = cfg!(unix);
    let files = if named { 2 } else { 1 };
    let base = krate.signs().len();
    for nth in base + 1..=base + 2 * files {
        krate
            .emulator
            .inject(Fault::respond(Endpoint::Sign, nth, 403, HOSTILE));
    }
    let manifest = state(&krate.manifest());
    krate.add("denied.png", &png(8, 8));
    if named {
        krate.add("evil\ncargo:rustc-cfg=pwned.txt", b"evil");
    }
    for run in 1..=2 {
        if run == 2 {
            krate.touch_assets();
        }
        let build = krate.build();
        assert!(build.ran_script(), "{}", build.log);
        assert_eq!(krate.signs()[base..].len(), files * run, "{}", build.log);
        assert!(krate.signs()[base..].iter().all(|&s| s == 403));
        // One warning per failed file, each on one line, and nothing forged.
        let warnings = build.warnings();
        assert_eq!(warnings.len(), files, "{}", build.log);
        for warning in &warnings {
            assert!(
                warning
                    .contains(r"no upload rights\ncargo:rustc-cfg=pwned\r\ncargo:warning=forged"),
                "{warning}"
            );
        }
        if named {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(r"evil\ncargo:rustc-cfg=pwned.txt failed")),
                "{warnings:?}"
            );
        }
        assert!(!build.log.contains("--cfg pwned"), "{}", build.log);
        assert!(!build.warnings().contains(&"forged"), "{}", build.log);
        assert_eq!(
            state(&krate.manifest()),
            manifest,
            "the manifest was written"
        );
        assert_eq!(krate.manifest_status(), (String::new(), String::new()));
        krate.build_fresh("a sync whose only file was refused");
    }
    fs::remove_file(krate.dir.join("assets/denied.png")).expect("remove");
    if named {
        fs::remove_file(krate.dir.join("assets/evil\ncargo:rustc-cfg=pwned.txt")).expect("rm");
    }

    // A file whose sidecar is not JSON fails on every run, before any call.
    let requests = krate.emulator.requests().len();
    krate.add("bad.png", &png(4, 4));
    krate.add("bad.png.json", b"{not json");
    for run in 1..=2 {
        if run == 2 {
            krate.touch_assets();
        }
        let build = krate.build();
        assert!(build.ran_script(), "{}", build.log);
        assert_eq!(build.warnings().len(), 1, "{}", build.log);
        assert!(build.warnings()[0].contains("bad.png"), "{}", build.log);
        assert_eq!(
            state(&krate.manifest()),
            manifest,
            "the manifest was written"
        );
        assert_eq!(krate.manifest_status(), (String::new(), String::new()));
        krate.build_fresh("a sync whose only file has a bad sidecar");
    }
    assert_eq!(krate.emulator.requests().len(), requests);
    fs::remove_file(krate.dir.join("assets/bad.png")).expect("remove");
    fs::remove_file(krate.dir.join("assets/bad.png.json")).expect("remove");

    // A changed file reruns the script and gets a new asset. Here the manifest keeps its
    // size (the file's recorded time is as long as before), and git must still read it.
    let size = fs::metadata(krate.manifest()).expect("manifest").len();
    let mut other = png(64, 48);
    other[40] ^= 0xff;
    krate.add("logo.png", &other);
    krate.touch_assets();
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs().iter().filter(|&&s| s == 200).count(), 3);
    assert_eq!(
        fs::metadata(krate.manifest()).expect("manifest").len(),
        size
    );
    assert_eq!(krate.manifest_status(), modified);
    krate.build_fresh("a sync of a changed file");
    assert_eq!(krate.manifest_status(), modified);
    krate.commit();

    // A file changed as an editor does (its time now): the script reruns.
    let mut again = pattern(64);
    again.extend_from_slice(b"changed");
    fs::write(krate.dir.join("assets/logo.png"), &again).expect("write");
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs().iter().filter(|&&s| s == 200).count(), 4);
    krate.build_fresh("a sync of a file changed now");
}

#[test]
#[ignore = "runs cargo build (slow the first time); CI runs it by name"]
fn a_manifest_inside_the_synced_folder_keeps_builds_fresh() {
    // The reference build.rs with its manifest moved into the synced folder: cargo walks
    // that folder (its own time included), where the sync keeps its lock and temporary
    // files.
    let krate = Crate::new("cargo-build-inside", |text| {
        let moved = text.replace(
            r#"manifest: PathBuf::from("assets.manifest.json")"#,
            r#"manifest: PathBuf::from("assets/assets.manifest.json")"#,
        );
        assert_ne!(moved, text, "the reference build.rs names its manifest");
        moved
    });
    let manifest = krate.dir.join("assets/assets.manifest.json");

    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs(), [200]);
    assert!(manifest.is_file());
    krate.build_fresh("the first sync");

    krate.add("hello.txt", b"hello");
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs(), [200, 200]);
    krate.build_fresh("a sync that changed the manifest");

    // Refused: the sync checks it can write the manifest (a temporary file in the folder)
    // before it signs.
    krate
        .emulator
        .inject(Fault::respond(Endpoint::Sign, 3, 403, HOSTILE));
    let before = state(&manifest);
    krate.add("denied.png", &png(8, 8));
    let build = krate.build();
    assert!(build.ran_script(), "{}", build.log);
    assert_eq!(krate.signs(), [200, 200, 403]);
    assert_eq!(state(&manifest), before, "the manifest was written");
    krate.build_fresh("a sync whose only file was refused");
}
