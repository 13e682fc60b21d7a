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
    // Not the tokens: cargo keeps the values of these variables in its fingerprints under
    // target/, and a secret has no business there. Setting a token therefore syncs at the
    // next change of the folder or the manifest (or after `touch assets`).
    for name in ["STORYBLOK_SPACE_ID", "STORYBLOK_API_URL", "SSL_CERT_FILE"] {
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
        let meta = AssetMeta::from_file(data).map_err(|e| chain(&e))?;
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
    let mut builder = Client::builder(token).shared_pacing(SharedPacing::from_env());
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
