//! build.rs: syncs `assets/` to a Storyblok space and writes the asset URLs as
//! constants into `$OUT_DIR/storyblok_assets.rs`; the crate includes them with
//! `mod assets { include!(concat!(env!("OUT_DIR"), "/storyblok_assets.rs")); }`.
//!
//! Needs `storyblok-assets` under `[build-dependencies]`. Set STORYBLOK_TOKEN (or
//! STORYBLOK_OAUTH_TOKEN) and STORYBLOK_SPACE_ID where assets should be uploaded;
//! elsewhere (a contributor, CI) the build uses the URLs in the committed manifest.
//! STORYBLOK_API_URL, SSL_CERT_FILE and STORYBLOK_PACER_DIR are read as well.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

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
/// cannot be written; a sync that cannot run or fails is a warning. What the sync wrote
/// gets a time from before the build (see [`rewind`]), so the next build is fresh.
pub fn run(
    assets: &Assets,
    target: Result<Option<(Client, u64)>, String>,
    out_dir: &Path,
) -> ExitCode {
    watch(&assets.dir);
    watch(&assets.manifest);
    if let Some(data) = &assets.data {
        watch(data);
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
            let before = times(assets);
            let synced = sync(&client, space, assets);
            rewind(assets, &before);
            if let Err(e) = synced {
                warn(&format!("sync failed: {e}; {as_is}"));
            }
        }
        // No token (a contributor, CI): build with the URLs already in the manifest.
        Ok(None) => warn(&format!(
            "STORYBLOK_TOKEN or STORYBLOK_SPACE_ID not set: {as_is}"
        )),
        Err(e) => warn(&format!("{e}; {as_is}")),
    }

    // A corrupt manifest fails the build: it must be fixed, not silently replaced. So
    // do two files whose paths give one constant name: one of them must be renamed.
    let constants = Manifest::load(&assets.manifest).and_then(|m| m.rust_consts());
    let code = match constants {
        Ok(code) => code,
        Err(e) => {
            error(&chain(&e));
            return ExitCode::FAILURE;
        }
    };
    let generated = out_dir.join("storyblok_assets.rs");
    if let Err(e) = fs::write(&generated, code) {
        error(&format!("cannot write {}: {e}", generated.display()));
        return ExitCode::FAILURE;
    }
    note(&format!("wrote {}", generated.display()));
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
            SyncAction::Uploaded => note(&format!("{mode}{path}: uploaded as {id}")),
            SyncAction::Adopted => note(&format!(
                "{mode}{path}: already in the space as {id}, adopted"
            )),
            SyncAction::Replaced => note(&format!("{mode}{path}: changed, file of {id} replaced")),
            SyncAction::NewVersion { previous } => {
                // In a dry run the entry is still the previous asset's.
                let id = match &file.entry {
                    Some(entry) if entry.id != *previous => format!("asset {}", entry.id),
                    _ => "a new asset".to_owned(),
                };
                note(&format!(
                    "{mode}{path}: changed, uploaded as {id} with a new URL; asset {previous} stays"
                ))
            }
            SyncAction::MetadataUpdated => note(&format!("{mode}{path}: metadata of {id} updated")),
            SyncAction::Unchanged => note(&format!("{mode}{path}: unchanged")),
            SyncAction::Missing => warn(&format!(
                "{mode}{path} is gone; its {id} stays in the space"
            )),
            SyncAction::Deleted => note(&format!("{mode}{path}: gone, asset deleted")),
            SyncAction::Failed(e) => warn(&format!("{mode}{path} failed: {}", chain(e))),
            other => note(&format!("{mode}{path}: {other:?}")),
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

/// A `cargo:warning` (one line, whatever the text holds).
fn warn(text: &str) {
    println!("cargo:warning=storyblok: {}", one_line(text));
}

/// A line on stderr (kept in cargo's build output, shown with `-vv`).
fn note(text: &str) {
    eprintln!("storyblok: {}", one_line(text));
}

/// Why the build fails, on stderr (cargo shows it with the failure).
fn error(text: &str) {
    eprintln!("error: {}", one_line(text));
}

/// Asks cargo to rerun this script when `path` (a folder: anything in it) changes. A
/// path with a control character cannot be said in a directive: cargo gets its escaped
/// form, which names no file, so it reruns the script on every build.
fn watch(path: &Path) {
    let text = path.display().to_string();
    let line = one_line(&text);
    if line != text {
        warn(&format!(
            "cargo cannot watch {line}, so this script runs on every build: rename it"
        ));
    }
    println!("cargo:rerun-if-changed={line}");
}

/// `text` on one line: each control character (a line break would start a directive of
/// its own: cargo reads stdout line by line) and line or paragraph separator as its
/// escape, `\n`, `\r`, `\t`, `\u{1b}`, so a server's message or a file's name stays
/// readable and tells `a\nb` from `a b`.
fn one_line(text: &str) -> String {
    let mut line = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    line
}

/// The paths cargo watches that a sync writes, with their modification times: the
/// manifest and, when the synced folder holds it (cargo walks that folder, its folders
/// included), the manifest's folder and the sync's own files beside the manifest
/// (`.{manifest}.lock`, its temporary files).
fn times(assets: &Assets) -> Vec<(PathBuf, Option<SystemTime>)> {
    let mut paths = vec![assets.manifest.clone()];
    let folder = assets
        .manifest
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let inside = match (folder.canonicalize(), assets.dir.canonicalize()) {
        (Ok(folder), Ok(dir)) => folder.starts_with(dir),
        _ => false,
    };
    if inside {
        paths.push(folder.to_path_buf());
        let name = assets.manifest.file_name().unwrap_or_default();
        let prefix = format!(".{}.", name.to_string_lossy());
        for entry in fs::read_dir(folder).into_iter().flatten().flatten() {
            if entry.file_name().to_string_lossy().starts_with(&prefix) {
                paths.push(entry.path());
            }
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let time = modified(&path);
            (path, time)
        })
        .collect()
}

/// Gives what the sync wrote (what [`times`] lists, now newer than `before`) a time from
/// before this build started. Cargo reruns this script when a watched path is newer than
/// the script's last start; a manifest written during the run would be, and the next
/// build would run the script again and recompile the crate for nothing.
///
/// The time: before this script's program was built (cargo builds it before it runs it),
/// and 2 s (a whole second, and FAT's tick) before the manifest's previous time: git, even
/// one that compares only times in seconds and sizes (`core.checkStat=minimal`), then
/// reads the manifest again and shows its change. Nothing changed (a dry run, a sync with nothing to do): nothing is
/// touched. Where a time cannot be set, the next build runs the script once more.
fn rewind(assets: &Assets, before: &[(PathBuf, Option<SystemTime>)]) {
    let was = |path: &Path| before.iter().find(|(p, _)| p == path).and_then(|(_, t)| *t);
    let written: Vec<PathBuf> = times(assets)
        .into_iter()
        .filter(|(path, now)| now.is_some() && *now != was(path))
        .map(|(path, _)| path)
        .collect();
    if written.is_empty() {
        return;
    }
    let program = std::env::current_exe().ok().and_then(|exe| modified(&exe));
    let previous = was(&assets.manifest).and_then(|t| t.checked_sub(Duration::from_secs(2)));
    let Some(time) = program.into_iter().chain(previous).min() else {
        return;
    };
    for path in written {
        // A folder opens only for reading; where that cannot set its time, the next
        // build reruns the script once.
        let file = fs::File::options()
            .write(true)
            .open(&path)
            .or_else(|_| fs::File::open(&path));
        if let Ok(file) = file {
            let _ = file.set_modified(time);
        }
    }
}

/// A path's modification time, if it exists.
fn modified(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}
