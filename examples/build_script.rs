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

use common::{Command, Failure, data, exit, parse};
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
    let outcome = parse_args().and_then(|command| match command {
        Command::Help => {
            print!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run(args) => Ok(run(args)?),
    });
    exit(USAGE, outcome)
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
// (README.md shows the same text, and tests/readme.rs keeps the two one text).
#[allow(dead_code)] // the example runs `run`, not build.rs's `main`
#[path = "build_script/build.rs"]
mod build_rs;
