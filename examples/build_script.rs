//! The reference `build.rs`: sync a folder to Storyblok, then write the asset URLs as Rust
//! constants into `$OUT_DIR/storyblok_assets.rs` for `include!`.
//!
//! ```text
//! cargo run --example build_script -- [--emulator] [--mirror-folders] [--dry-run]
//!     [--data FILE.json] [DIR]                      (DIR defaults to assets)
//! ```
//!
//! This file has two parts, marked below:
//!
//! - **the build.rs proper**: everything inside `mod build_rs { … }` at the end. Those
//!   lines, as they are, are a complete `build.rs` (with storyblok-assets under
//!   `[build-dependencies]`); its `main` names the folder, the manifest and the options.
//! - **the example's scaffolding**: the command line (`DIR` and the flags stand in for the
//!   values a build.rs writes in its `main`), `--emulator`, and the `mod build_rs` wrapper.
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

use common::{Command, Failure, arguments, exit, text};
use storyblok_assets::{Client, Token};
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
    let (args, help) = arguments();
    if help {
        return Ok(Command::Help);
    }
    let mut emulator = false;
    let mut mirror_folders = false;
    let mut dry_run = false;
    let mut data = None;
    let mut dir = None;
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut positional = |arg| match dir.replace(PathBuf::from(arg)) {
            None => Ok(()),
            Some(_) => Err(Failure::Usage("one directory at a time".into())),
        };
        if arg == "--" {
            for arg in it.by_ref() {
                positional(arg)?;
            }
            break;
        }
        match text(&arg).unwrap_or_default() {
            "--emulator" => emulator = true,
            "--mirror-folders" => mirror_folders = true,
            "--dry-run" => dry_run = true,
            "--data" => {
                let file = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--data needs a FILE.json".into()))?;
                data = Some(PathBuf::from(file));
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                return Err(Failure::Usage(format!("unknown option {flag}")));
            }
            _ => positional(arg)?,
        }
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from("assets"));
    let mut manifest = dir.clone().into_os_string();
    manifest.push(".manifest.json");
    Ok(Command::Run(Args {
        assets: build_rs::Assets {
            dir,
            manifest: PathBuf::from(manifest),
            mirror_folders,
            dry_run,
            data,
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
        .shared_pacing(build_rs::pacing())
        .build()
        .map_err(|e| format!("cannot set up the client: {}", common::chain(&e)))?;
    Ok(build_rs::run(
        &args.assets,
        Ok(Some((client, emulator.space_id()))),
        &out_dir,
    ))
}

// ═══════════════ build.rs proper: the lines inside `mod build_rs { … }` ═══════════════
// (The `mod build_rs {` line, its closing `}` and the `#[allow]` are scaffolding.)
#[allow(dead_code)] // the example runs `run`, not build.rs's `main`
mod build_rs {
    //! build.rs: syncs `assets/` to a Storyblok space and writes the asset URLs as
    //! constants into `$OUT_DIR/storyblok_assets.rs`; the crate includes them with
    //! `mod assets { include!(concat!(env!("OUT_DIR"), "/storyblok_assets.rs")); }`.
    //!
    //! Needs `storyblok-assets` under `[build-dependencies]`. Set STORYBLOK_TOKEN (or
    //! STORYBLOK_OAUTH_TOKEN) and STORYBLOK_SPACE_ID where assets should be uploaded;
    //! elsewhere (a contributor, CI) the build uses the URLs in the committed manifest.
    //! STORYBLOK_API_URL, SSL_CERT_FILE and STORYBLOK_PACER_DIR are read as well.

    use std::path::{Path, PathBuf};
    use std::process::ExitCode;

    use storyblok_assets::{
        AssetMeta, Client, Manifest, OnChange, SharedPacing, SyncAction, SyncOptions, Token,
    };

    /// What to sync.
    pub struct Assets {
        /// The folder whose files become assets.
        pub dir: PathBuf,
        /// Where the sync records each file's asset, size and hash: commit it.
        pub manifest: PathBuf,
        /// Put each file in the asset folder named after its directory, creating folders.
        pub mirror_folders: bool,
        /// Only report what would happen: no upload, no manifest write.
        pub dry_run: bool,
        /// A JSON file of metadata (alt, title, copyright, …) for every file.
        pub data: Option<PathBuf>,
    }

    pub fn main() -> ExitCode {
        let assets = Assets {
            dir: PathBuf::from("assets"),
            manifest: PathBuf::from("assets.manifest.json"),
            mirror_folders: false,
            dry_run: false,
            data: None,
        };
        let Some(out_dir) = std::env::var_os("OUT_DIR") else {
            eprintln!("error: OUT_DIR is not set; cargo sets it when it runs build.rs");
            return ExitCode::FAILURE;
        };
        run(&assets, storyblok(), Path::new(&out_dir))
    }

    /// Syncs (when `target` is a client and space), then writes the constants from the
    /// manifest. Fails the build only for a manifest that cannot be read or constants that
    /// cannot be written; a sync that cannot run or fails is a warning.
    pub fn run(
        assets: &Assets,
        target: Result<Option<(Client, u64)>, String>,
        out_dir: &Path,
    ) -> ExitCode {
        println!("cargo:rerun-if-changed={}", assets.dir.display());
        println!("cargo:rerun-if-changed={}", assets.manifest.display());
        if let Some(data) = &assets.data {
            println!("cargo:rerun-if-changed={}", data.display());
        }
        for name in [
            "STORYBLOK_TOKEN",
            "STORYBLOK_OAUTH_TOKEN",
            "STORYBLOK_SPACE_ID",
            "STORYBLOK_API_URL",
            "SSL_CERT_FILE",
        ] {
            println!("cargo:rerun-if-env-changed={name}");
        }

        let as_is = format!(
            "using the URLs in {} as they are",
            assets.manifest.display()
        );
        match target {
            Ok(Some((client, space))) => {
                if let Err(e) = sync(&client, space, assets) {
                    println!("cargo:warning=storyblok: sync failed: {e}; {as_is}");
                }
            }
            // No token (a contributor, CI): build with the URLs already in the manifest.
            Ok(None) => println!(
                "cargo:warning=storyblok: STORYBLOK_TOKEN or STORYBLOK_SPACE_ID not set: {as_is}"
            ),
            Err(e) => println!("cargo:warning=storyblok: {e}; {as_is}"),
        }

        // A corrupt manifest fails the build: it must be fixed, not silently replaced. So
        // do two files whose paths give one constant name: one of them must be renamed.
        let constants = Manifest::load(&assets.manifest).and_then(|m| m.rust_consts());
        let code = match constants {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {}", chain(&e));
                return ExitCode::FAILURE;
            }
        };
        let generated = out_dir.join("storyblok_assets.rs");
        if let Err(e) = std::fs::write(&generated, code) {
            eprintln!("error: cannot write {}: {e}", generated.display());
            return ExitCode::FAILURE;
        }
        eprintln!("storyblok: wrote {}", generated.display());
        ExitCode::SUCCESS
    }

    /// The sync: new files uploaded, changed ones uploaded as new assets, unchanged ones
    /// skipped with no call; each file's outcome on stderr, failures as warnings.
    fn sync(client: &Client, space: u64, assets: &Assets) -> Result<(), String> {
        let mut options = SyncOptions::dir(&assets.dir, &assets.manifest)
            // A URL baked into a binary must never serve other bytes than it did: changed
            // bytes get a new asset and URL; the old asset stays for builds that use it.
            .on_change(OnChange::NewAsset)
            .dry_run(assets.dry_run);
        if assets.mirror_folders {
            options = options.mirror_folders(None);
        }
        if let Some(data) = &assets.data {
            let text = std::fs::read_to_string(data)
                .map_err(|e| format!("cannot read {}: {e}", data.display()))?;
            let meta =
                AssetMeta::from_json(&text).map_err(|e| format!("{}: {e}", data.display()))?;
            options = options.metadata(move |_path| Some(meta.clone()));
        }
        let report = client.sync(space, &options).map_err(|e| chain(&e))?;
        let mode = if report.dry_run { "(dry run) " } else { "" };
        for file in &report.files {
            let path = &file.path;
            let id = match &file.entry {
                Some(entry) => format!("asset {}", entry.id),
                None => "a new asset".to_owned(),
            };
            match &file.action {
                SyncAction::Uploaded => eprintln!("storyblok: {mode}{path}: uploaded as {id}"),
                SyncAction::Adopted => {
                    eprintln!("storyblok: {mode}{path}: already in the space as {id}, adopted")
                }
                SyncAction::Replaced => {
                    eprintln!("storyblok: {mode}{path}: changed, file of {id} replaced")
                }
                SyncAction::NewVersion { previous } => {
                    // In a dry run the entry is still the previous asset's.
                    let id = match &file.entry {
                        Some(entry) if entry.id != *previous => format!("asset {}", entry.id),
                        _ => "a new asset".to_owned(),
                    };
                    eprintln!(
                        "storyblok: {mode}{path}: changed, uploaded as {id} with a new URL; asset {previous} stays"
                    )
                }
                SyncAction::MetadataUpdated => {
                    eprintln!("storyblok: {mode}{path}: metadata of {id} updated")
                }
                SyncAction::Unchanged => eprintln!("storyblok: {mode}{path}: unchanged"),
                SyncAction::Missing => println!(
                    "cargo:warning=storyblok: {mode}{path} is gone; its {id} stays in the space"
                ),
                SyncAction::Deleted => eprintln!("storyblok: {mode}{path}: gone, asset deleted"),
                SyncAction::Failed(e) => {
                    println!("cargo:warning=storyblok: {mode}{path} failed: {}", chain(e))
                }
                other => eprintln!("storyblok: {mode}{path}: {other:?}"),
            }
        }
        Ok(())
    }

    /// The client and space from the environment; `None` when no token or space is set.
    pub fn storyblok() -> Result<Option<(Client, u64)>, String> {
        let var = |name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let token = match (var("STORYBLOK_TOKEN"), var("STORYBLOK_OAUTH_TOKEN")) {
            (Some(token), _) => Token::personal(token),
            (None, Some(token)) => Token::oauth(token),
            (None, None) => return Ok(None),
        };
        let Some(space) = var("STORYBLOK_SPACE_ID") else {
            return Ok(None);
        };
        let space = space
            .parse()
            .map_err(|_| format!("STORYBLOK_SPACE_ID must be a number, not {space:?}"))?;
        let mut builder = Client::builder(token).shared_pacing(pacing());
        if let Some(url) = var("STORYBLOK_API_URL") {
            builder = builder.base_url(url);
        }
        // A TLS-inspecting proxy's root, or a test CA: trusted instead of the built-in roots.
        if let Some(path) = std::env::var_os("SSL_CERT_FILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let pem = std::fs::read(&path)
                .map_err(|e| format!("cannot read SSL_CERT_FILE {}: {e}", path.display()))?;
            builder = builder.root_certificates_pem(pem);
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot set up the client: {}", chain(&e)))?;
        Ok(Some((client, space)))
    }

    /// Pacing shared with the other processes calling the space (parallel builds, CI
    /// jobs): STORYBLOK_PACER_DIR unset, this user's; `off`, none; else that folder's.
    pub fn pacing() -> SharedPacing {
        match std::env::var_os("STORYBLOK_PACER_DIR") {
            None => SharedPacing::Machine,
            Some(dir) if dir.is_empty() => SharedPacing::Machine,
            Some(dir) if dir == "off" => SharedPacing::Off,
            Some(dir) => SharedPacing::Dir(PathBuf::from(dir)),
        }
    }

    /// An error and its causes, each once: `cannot read x.png: No such file (os error 2)`.
    fn chain(error: &dyn std::error::Error) -> String {
        let mut line = error.to_string();
        let mut cause = error.source();
        while let Some(error) = cause {
            let text = error.to_string();
            if !line.contains(&text) {
                line = format!("{line}: {text}");
            }
            cause = error.source();
        }
        line
    }
}
// ═══════════════ end of build.rs proper ═══════════════
