//! The reference `build.rs`: sync a folder to Storyblok, then write the asset URLs as Rust
//! constants into `$OUT_DIR/storyblok_assets.rs` for `include!`.
//!
//! ```text
//! cargo run --example build_script -- [--emulator] [--mirror-folders] [--dry-run]
//!     [--data FILE.json] [DIR]                      (DIR defaults to assets)
//! ```
//!
//! Two files:
//!
//! - **the build.rs proper**, `examples/build_script/build.rs`: as it is, a complete
//!   `build.rs` (with storyblok-assets under `[build-dependencies]`); its `main` names the
//!   folder, the manifest and the options. README.md shows the same text.
//! - **the example's scaffolding**, this file: the command line (`DIR` and the flags stand
//!   in for the values a build.rs writes in its `main`) and `--emulator`.
//!
//! In the crate that has the build.rs:
//!
//! ```ignore
//! mod assets {
//!     include!(concat!(env!("OUT_DIR"), "/storyblok_assets.rs"));
//! }
//! // assets::IMG_LOGO_PNG == "https://a.storyblok.com/f/…/logo.png"
//! ```

// ═══════════════ Example scaffolding: not part of build.rs ═══════════════

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use common::{Command, Failure, data, parse};
use storyblok_assets::{Client, SharedPacing, Token};
use storyblok_assets_emulator::Emulator;

const USAGE: &str = "\
usage: build_script [OPTIONS] [DIR]

Does what the reference build.rs does: syncs DIR (default: assets) to a Storyblok space,
keeping DIR.manifest.json beside it (commit that file), then writes the asset URLs as
Rust constants to $OUT_DIR/storyblok_assets.rs. New files are uploaded; changed files
become new assets with new URLs (the old asset stays, so a URL baked into a binary never
serves other bytes); unchanged files cost no call. Without a token or a space it warns
and writes the constants from the manifest as it is. Prints cargo: lines on stdout and
what happened to each file on stderr.

Options:
  --emulator             sync to a fresh built-in emulator instead; it serves the
                         files itself, as the CDN would (so adoption can download
                         them), and the constants hold its http://127.0.0.1 URLs
  --mirror-folders       put each file in the asset folder named after its directory
                         (img/icons/home.svg in img/icons), creating missing folders
  --dry-run              report what would happen; upload and write nothing (the
                         constants still come from the manifest)
  --data FILE.json       metadata for every file, as `storyblok assets push --data`
                         takes it: alt, title, copyright, source, focus, is_private,
                         meta_data, internal tags by name (internal_tags, or a pulled
                         asset's internal_tags_list); it wins over sidecar <file>.json
  -h, --help             print this and exit

Environment:
  STORYBLOK_TOKEN        a personal access token for the Management API
  STORYBLOK_OAUTH_TOKEN  an OAuth token, used when STORYBLOK_TOKEN is not set
  STORYBLOK_SPACE_ID     the space's id (a number)
  STORYBLOK_API_URL      the Management API base URL, such as http://127.0.0.1:8080/v1
                         (default: the region's, told from the space id)
  SSL_CERT_FILE          a PEM file of root certificates to trust instead of the
                         built-in ones, for the API and S3: a TLS-inspecting proxy's
                         root, or a test CA
  STORYBLOK_PACER_DIR    where processes on this machine share their pacing of the
                         space's rate limit: unset = this user's cache folder,
                         `off` = not shared, anything else = that folder
  OUT_DIR                where the constants go (cargo sets it for a build script;
                         default here: a storyblok-assets-build-script temporary folder)

Without STORYBLOK_TOKEN (or STORYBLOK_OAUTH_TOKEN) and STORYBLOK_SPACE_ID, and without
--emulator, nothing is synced. To sync to a shared emulator, start
`cargo run -p storyblok-assets-emulator --example serve -- --local-cdn` and set
STORYBLOK_TOKEN, STORYBLOK_API_URL and STORYBLOK_SPACE_ID to the token, api_url and
space_id of the JSON line it prints.
";

struct Args {
    assets: build_rs::Assets,
    emulator: bool,
}

fn parse_args() -> Result<Command<Args>, Failure> {
    let mut emulator = false;
    let mut mirror_folders = false;
    let mut dry_run = false;
    let mut metadata = None;
    let command = parse("one directory at a time", |flag, rest| {
        match flag {
            "--emulator" => emulator = true,
            "--mirror-folders" => mirror_folders = true,
            "--dry-run" => dry_run = true,
            "--data" => metadata = Some(data(rest.next())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Command::Run(dir) = command else {
        return Ok(Command::Help);
    };
    let dir = dir.unwrap_or_else(|| PathBuf::from("assets"));
    let mut manifest = dir.clone().into_os_string();
    manifest.push(".manifest.json");
    Ok(Command::Run(Args {
        assets: build_rs::Assets {
            dir,
            manifest: PathBuf::from(manifest),
            mirror_folders,
            dry_run,
            data: metadata,
        },
        emulator,
    }))
}

fn main() -> ExitCode {
    common::main(USAGE, parse_args, run)
}

fn run(args: Args) -> Result<ExitCode, String> {
    let out_dir = std::env::var_os("OUT_DIR").map_or_else(
        || std::env::temp_dir().join("storyblok-assets-build-script"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out_dir)
        .map_err(|e| format!("cannot create {}: {e}", out_dir.display()))?;
    if !args.emulator {
        // What build.rs's `main` does, with the command line's settings.
        return Ok(build_rs::run(&args.assets, build_rs::storyblok(), &out_dir));
    }
    // A fresh emulator that serves its files, as the CDN would: adoption downloads them.
    // Kept alive until the sync is done.
    let emulator = Emulator::builder()
        .local_cdn(true)
        .start()
        .map_err(|e| format!("cannot start the emulator: {e}"))?;
    eprintln!("syncing to the built-in emulator at {}", emulator.api_url());
    let client = Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .shared_pacing(SharedPacing::from_env())
        .build()
        .map_err(|e| format!("cannot set up the client: {}", common::chain(&e)))?;
    Ok(build_rs::run(
        &args.assets,
        Ok(Some((client, emulator.space_id()))),
        &out_dir,
    ))
}

// The build.rs proper is its own file, examples/build_script/build.rs: copy it as is
// (README.md shows the same text, and tests/it/readme.rs keeps the two one text).
#[allow(dead_code)] // the example runs `run`, not build.rs's `main`
#[path = "build_script/build.rs"]
mod build_rs;

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::{Command, ExitCode, Output};

    use storyblok_assets_emulator::{Emulator, Endpoint, Fault};

    use super::build_rs;

    /// Where [`build_rs_in_a_process`] finds its folder.
    const FOLDER: &str = "BUILD_SCRIPT_TEST_FOLDER";

    /// A server's message with line breaks and a terminal escape, each line a directive.
    const HOSTILE: &str = r#"{"error":"no upload rights\ncargo:rustc-cfg=pwned\r\ncargo:rustc-link-arg=-Wl,--evil\u001b[2K"}"#;

    /// The build.rs proper in a process of its own, as cargo runs it (its directives on
    /// stdout, from its own `storyblok()`), on the folder `FOLDER` names: the tests below
    /// start it. Without `FOLDER` it does nothing.
    #[test]
    #[ignore = "a process the tests of this module start"]
    fn build_rs_in_a_process() {
        let Some(folder) = std::env::var_os(FOLDER) else {
            return;
        };
        let folder = PathBuf::from(folder);
        let assets = build_rs::Assets {
            dir: folder.join("assets"),
            manifest: folder.join("assets.manifest.json"),
            mirror_folders: false,
            dry_run: false,
            data: None,
        };
        let code = build_rs::run(&assets, build_rs::storyblok(), &folder);
        assert!(code == ExitCode::SUCCESS, "build.rs failed");
    }

    /// Runs [`build_rs_in_a_process`] on `folder` with `env` set; it must succeed.
    fn build_rs(folder: &Path, env: &[(&str, &str)]) -> Output {
        let exe = std::env::current_exe().expect("this test program");
        let mut command = Command::new(exe);
        command
            .args(["--exact", "tests::build_rs_in_a_process", "--ignored"])
            .args(["--nocapture", "--test-threads=1", "--quiet"])
            .env(FOLDER, folder)
            .env_remove("STORYBLOK_TOKEN")
            .env_remove("STORYBLOK_OAUTH_TOKEN")
            .env_remove("SSL_CERT_FILE")
            .env("STORYBLOK_PACER_DIR", "off");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().expect("the test program runs");
        assert!(output.status.success(), "{output:?}");
        output
    }

    /// The `cargo:` lines of stdout (anywhere in a line: a directive not at the start of
    /// a line is one cargo would not read, but no line should hold one), each of them
    /// one that build.rs means to give.
    fn directives(output: &Output) -> Vec<String> {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<String> = stdout
            .lines()
            .filter(|line| line.contains("cargo:"))
            .map(str::to_owned)
            .collect();
        for line in &lines {
            assert!(
                [
                    "cargo:rerun-if-changed=",
                    "cargo:rerun-if-env-changed=",
                    "cargo:warning="
                ]
                .iter()
                .any(|kind| line.starts_with(kind)),
                "a line that is no directive build.rs gives: {line:?}\n{stdout}"
            );
        }
        lines
    }

    /// A fresh folder for one test, named with a line break on Unix (where names may
    /// hold one).
    fn folder(test: &str) -> PathBuf {
        let name = if cfg!(unix) {
            format!(
                "storyblok-build-script-{test}-{}\ncargo:rustc-cfg=pwned",
                std::process::id()
            )
        } else {
            format!("storyblok-build-script-{test}-{}", std::process::id())
        };
        let folder = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(folder.join("assets")).expect("the folder");
        folder
    }

    #[test]
    fn words_from_outside_stay_in_one_directive_each() {
        let emulator = Emulator::builder()
            .rate_limit(None)
            .start()
            .expect("the emulator starts");
        let folder = folder("words");
        let assets = folder.join("assets");
        // Two files whose signs are refused with hostile words, one of them (on Unix)
        // named with a line break; and a gone file the manifest names so.
        std::fs::write(assets.join("a.txt"), "a").expect("a file");
        let named = cfg!(unix);
        if named {
            std::fs::write(assets.join("b\ncargo:rustc-cfg=named.txt"), "b").expect("a file");
        }
        let files = if named { 2 } else { 1 };
        for nth in 1..=files {
            emulator.inject(Fault::respond(Endpoint::Sign, nth, 403, HOSTILE));
        }
        let manifest = format!(
            r#"{{"version": 1, "space_id": {}, "assets": {{"gone\ncargo:rustc-cfg=gone.png": {{"id": 7, "url": "https://a.storyblok.com/f/1/gone.png", "size": 1, "sha256": "00"}}}}}}"#,
            emulator.space_id()
        );
        std::fs::write(folder.join("assets.manifest.json"), manifest).expect("a manifest");

        let space = emulator.space_id().to_string();
        let url = emulator.api_url();
        let output = build_rs(
            &folder,
            &[
                ("STORYBLOK_TOKEN", emulator.token()),
                ("STORYBLOK_SPACE_ID", &space),
                ("STORYBLOK_API_URL", &url),
            ],
        );
        assert_eq!(
            common_statuses(&emulator),
            vec![403; files],
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let lines = directives(&output);
        let warnings: Vec<&String> = lines
            .iter()
            .filter(|l| l.starts_with("cargo:warning="))
            .collect();
        let refused =
            r"no upload rights\ncargo:rustc-cfg=pwned\r\ncargo:rustc-link-arg=-Wl,--evil\u{1b}[2K";
        assert_eq!(
            warnings.iter().filter(|w| w.contains(refused)).count(),
            files,
            "{lines:#?}"
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(r"gone\ncargo:rustc-cfg=gone.png is gone")),
            "{lines:#?}"
        );
        if named {
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(r"b\ncargo:rustc-cfg=named.txt failed")),
                "{lines:#?}"
            );
            // The folder's name cannot be said in a directive: cargo gets a path that
            // names no file (and reruns the script on every build), and a warning says so.
            assert_eq!(
                warnings
                    .iter()
                    .filter(|w| w.contains("cargo cannot watch"))
                    .count(),
                2,
                "{lines:#?}"
            );
            assert!(
                lines
                    .iter()
                    .any(|l| l.starts_with("cargo:rerun-if-changed=")
                        && l.ends_with(r"\ncargo:rustc-cfg=pwned/assets")),
                "{lines:#?}"
            );
        }
        // stderr, a line per file, holds no line break or escape of its own either.
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !stderr.contains('\r') && !stderr.contains('\u{1b}'),
            "{stderr}"
        );
        assert!(stderr.lines().all(|l| !l.starts_with("cargo:")), "{stderr}");
        std::fs::remove_dir_all(&folder).expect("clean up");
    }

    #[test]
    fn a_setting_from_the_environment_stays_in_one_warning() {
        let folder = folder("setting");
        let output = build_rs(
            &folder,
            &[
                ("STORYBLOK_TOKEN", "token"),
                ("STORYBLOK_SPACE_ID", "1"),
                ("SSL_CERT_FILE", "/nonexistent\ncargo:rustc-cfg=pwned.pem"),
            ],
        );
        let lines = directives(&output);
        assert!(
            lines.iter().any(|l| l.starts_with("cargo:warning=")
                && l.contains(
                    r"cannot read SSL_CERT_FILE /nonexistent\ncargo:rustc-cfg=pwned.pem"
                )),
            "{lines:#?}"
        );
        std::fs::remove_dir_all(&folder).expect("clean up");
    }

    /// The statuses the emulator answered signs with.
    fn common_statuses(emulator: &Emulator) -> Vec<u16> {
        emulator
            .requests_for(Endpoint::Sign)
            .iter()
            .map(|r| r.status)
            .collect()
    }
}
