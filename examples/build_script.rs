//! What a `build.rs` does with this crate: sync a folder to Storyblok, then write the asset
//! URLs as Rust constants into `OUT_DIR` for `include!`.
//!
//! ```text
//! cargo run --example build_script -- [--emulator] [DIR]      (DIR defaults to assets)
//! ```
//!
//! As a real build script, copy `main` into `build.rs` (with storyblok-assets under
//! `[build-dependencies]`) and in the crate:
//!
//! ```ignore
//! mod assets {
//!     include!(concat!(env!("OUT_DIR"), "/storyblok_assets.rs"));
//! }
//! // assets::IMG_LOGO_PNG == "https://a.storyblok.com/f/…/logo.png"
//! ```
//!
//! With `STORYBLOK_TOKEN` and `STORYBLOK_SPACE_ID` set it syncs `DIR` (new files
//! uploaded, changed ones replaced under the same URL, unchanged ones skipped with no call)
//! and keeps `DIR.manifest.json` beside it; commit that file. Without a token the build
//! does not fail: it uses the manifest's URLs as they are and says so. `--emulator` syncs
//! to a fresh built-in emulator instead, to try it out.

use std::path::PathBuf;

use storyblok_assets::{Client, Manifest, SyncAction, SyncOptions, Token};
use storyblok_assets_emulator::Emulator;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let use_emulator = args.iter().any(|a| a == "--emulator");
    args.retain(|a| a != "--emulator");
    let dir = PathBuf::from(args.first().map_or("assets", String::as_str));
    let manifest = PathBuf::from(format!("{}.manifest.json", dir.display()));
    let out_dir = std::env::var_os("OUT_DIR").map_or_else(
        || std::env::temp_dir().join("storyblok-assets-build-script"),
        PathBuf::from,
    );

    println!("cargo:rerun-if-changed={}", dir.display());
    println!("cargo:rerun-if-changed={}", manifest.display());
    println!("cargo:rerun-if-env-changed=STORYBLOK_TOKEN");
    println!("cargo:rerun-if-env-changed=STORYBLOK_SPACE_ID");

    // Kept alive until the sync is done.
    let emulator = if use_emulator {
        Some(Emulator::start().unwrap_or_else(|e| panic!("cannot start the emulator: {e}")))
    } else {
        None
    };
    let target = match &emulator {
        Some(emulator) => Some((
            Client::builder(Token::personal(emulator.token()))
                .base_url(emulator.api_url())
                .build(),
            emulator.space_id(),
        )),
        None => match (
            std::env::var("STORYBLOK_TOKEN")
                .ok()
                .filter(|t| !t.is_empty()),
            std::env::var("STORYBLOK_SPACE_ID")
                .ok()
                .and_then(|s| s.parse().ok()),
        ) {
            (Some(token), Some(space)) => Some((Client::new(Token::personal(token)), space)),
            _ => None,
        },
    };

    match target {
        Some((Ok(client), space)) => match client.sync(space, &SyncOptions::dir(&dir, &manifest)) {
            Ok(report) => {
                for file in &report.files {
                    match &file.action {
                        SyncAction::Failed(e) => {
                            println!("cargo:warning=storyblok: {} failed: {e}", file.path);
                        }
                        SyncAction::Missing => println!(
                            "cargo:warning=storyblok: {} is gone; its asset stays",
                            file.path
                        ),
                        SyncAction::Unchanged => {}
                        other => eprintln!("storyblok: {} {other:?}", file.path),
                    }
                }
            }
            Err(e) => println!("cargo:warning=storyblok: sync failed, URLs as they were: {e}"),
        },
        Some((Err(e), _)) => println!("cargo:warning=storyblok: {e}; URLs as they were"),
        None => println!(
            "cargo:warning=storyblok: STORYBLOK_TOKEN or STORYBLOK_SPACE_ID not set: using the URLs in {} as they are",
            manifest.display()
        ),
    }

    // A corrupt manifest fails the build: it must be fixed, not silently replaced. So do
    // two files whose paths give one constant name: one of them must be renamed.
    let urls = Manifest::load(&manifest).unwrap_or_else(|e| panic!("{e}"));
    let code = urls.rust_consts().unwrap_or_else(|e| panic!("{e}"));
    let generated = out_dir.join("storyblok_assets.rs");
    std::fs::create_dir_all(&out_dir)
        .and_then(|()| std::fs::write(&generated, code))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", generated.display()));
    eprintln!(
        "wrote {} constants to {}",
        urls.assets.values().filter(|e| !e.pending).count(),
        generated.display()
    );
}
