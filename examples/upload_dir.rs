//! Upload every file under a directory, a few at a time, and print a JSON line per file.
//!
//! ```text
//! cargo run --example upload_dir -- [--space ID] [--folder ID] [--mirror-folders]
//!     [--data FILE.json] [--dry-run] [--concurrency N] [--region eu|us|ca|ap|cn] DIR
//! ```
//!
//! Credentials as for the `upload` example (`--help` lists them); with no token set it
//! uploads to the built-in emulator. Lines come out in path order, one per file: the asset
//! (`path`, `id`, `filename`, …) or `{"path": …, "error": …}`; with `--dry-run`, what
//! would be uploaded where. The exit code is non-zero if any failed.
//!
//! This uploads every file every time. To upload only what changed, keep a manifest with
//! `Client::sync` (see the `build_script` example).

mod common;

use common::{
    Command, Counter, ENVIRONMENT, Failure, chain, connect, data, end_status_line, exit_code,
    number, parse, region, say, sdk_error,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use storyblok_assets::{AssetMeta, AssetParams, Region, Source};

const USAGE: &str = "\
usage: upload_dir [OPTIONS] DIR

Uploads every file below DIR (symbolic links to folders are not followed) as a new asset,
a few at a time, and prints one JSON line per file on stdout, in path order: the asset
with its \"path\" below DIR, or {\"path\": …, \"error\": …}. Exits non-zero if any failed.

Options:
  --space ID             the space (default: STORYBLOK_SPACE_ID)
  --folder ID            put every file in this asset folder
  --mirror-folders       put each file in the asset folder named after its directory
                         (img/icons/home.svg in img/icons), creating missing folders,
                         below --folder if given (else at the top of the asset
                         library, where files directly in DIR go)
  --data FILE.json       metadata for every file, as `storyblok assets push --data`
                         takes it: alt, title, copyright, source, focus, is_private,
                         meta_data, internal tags by name (internal_tags, or a pulled
                         asset's internal_tags_list), created when missing
  --dry-run              print what would be uploaded and where, upload nothing
  --concurrency N        files uploaded at once (default 4, at most 64)
  --region eu|us|ca|ap|cn
                         the region's API (default: told from the space id; EU)
  -h, --help             print this and exit
";

struct Args {
    space: Option<u64>,
    folder: Option<u64>,
    mirror_folders: bool,
    data: Option<PathBuf>,
    dry_run: bool,
    concurrency: usize,
    region: Option<Region>,
    dir: PathBuf,
}

fn parse_args() -> Result<Command<Args>, Failure> {
    let mut parsed = Args {
        space: None,
        folder: None,
        mirror_folders: false,
        data: None,
        dry_run: false,
        concurrency: 4,
        region: None,
        dir: PathBuf::new(),
    };
    let command = parse("one directory at a time", |flag, rest| {
        match flag {
            "--space" => parsed.space = Some(number(flag, rest.next())?),
            "--folder" => parsed.folder = Some(number(flag, rest.next())?),
            "--mirror-folders" => parsed.mirror_folders = true,
            "--data" => parsed.data = Some(data(rest.next())?),
            "--dry-run" => parsed.dry_run = true,
            "--concurrency" => {
                let n = number(flag, rest.next())?;
                parsed.concurrency = usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 64);
            }
            "--region" => parsed.region = Some(region(rest.next())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Command::Run(dir) = command else {
        return Ok(Command::Help);
    };
    parsed.dir = dir.ok_or_else(|| Failure::Usage("no DIR given".into()))?;
    Ok(Command::Run(parsed))
}

/// Every regular file below `dir`, sorted; symbolic links to directories are not followed.
fn files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
            let kind = entry
                .file_type()
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() || (kind.is_symlink() && entry.path().is_file()) {
                found.push(entry.path());
            }
        }
    }
    found.sort();
    Ok(found)
}

/// `path` below `dir`, `/`-separated, as the output and the asset folders name it.
fn relative(dir: &Path, path: &Path) -> String {
    let below = path.strip_prefix(dir).unwrap_or(path);
    let parts: Vec<_> = below.iter().map(|part| part.to_string_lossy()).collect();
    parts.join("/")
}

/// The asset folder path of a file's directory (`img/icons` for `img/icons/home.svg`),
/// empty for a file directly in DIR.
fn folder_path(dir: &Path, path: &Path) -> Result<String, String> {
    let below = path.strip_prefix(dir).unwrap_or(path);
    let mut names = Vec::new();
    if let Some(parent) = below.parent() {
        for part in parent.iter() {
            let name = part.to_str().ok_or_else(|| {
                format!(
                    "{}: a folder name must be valid UTF-8 to name an asset folder",
                    path.display()
                )
            })?;
            names.push(name);
        }
    }
    Ok(names.join("/"))
}

/// The metadata of `--data`: a small regular file (see `AssetMeta::from_file`).
fn metadata(file: &Path) -> Result<AssetMeta, String> {
    AssetMeta::from_file(file).map_err(|e| chain(&e))
}

fn run(args: Args) -> Result<ExitCode, String> {
    let dir = &args.dir;
    let meta = args.data.as_deref().map(metadata).transpose()?;
    let mut paths = files(dir)?;
    // The metadata file is not one of the assets, should it live in DIR.
    if let Some(data) = args.data.as_deref().and_then(|d| d.canonicalize().ok()) {
        paths.retain(|path| path.canonicalize().ok().as_ref() != Some(&data));
    }
    let folder_paths = paths
        .iter()
        .map(|path| {
            if args.mirror_folders {
                folder_path(dir, path).map(Some)
            } else {
                Ok(None)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;

    if args.dry_run {
        say(&format!(
            "Dry run: {} files from {} would be uploaded; nothing is sent",
            paths.len(),
            dir.display()
        ));
        if let Some(meta) = &meta {
            let json = serde_json::to_string(meta).map_err(|e| chain(&e))?;
            eprintln!("Metadata for every file: {json}");
        }
        for (path, folder_path) in paths.iter().zip(&folder_paths) {
            let mut line = json!({
                "path": relative(dir, path),
                "bytes": std::fs::metadata(path).map(|m| m.len()).ok(),
            });
            match folder_path {
                // The top of the asset library, or a folder to find or create.
                Some(name) if name.is_empty() => line["folder"] = Value::Null,
                Some(name) => line["folder_path"] = name.as_str().into(),
                None => line["folder"] = args.folder.into(),
            }
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }

    let target = connect(args.space, args.region, args.folder)?;
    say(&format!(
        "Uploading {} files from {} to space {} via {}, {} at a time",
        paths.len(),
        dir.display(),
        target.space,
        target.client.base_url(target.space),
        args.concurrency
    ));
    // Each directory's asset folder, found or created once.
    let mut folders: BTreeMap<&str, u64> = BTreeMap::new();
    for name in folder_paths.iter().flatten() {
        if !name.is_empty() && !folders.contains_key(name.as_str()) {
            let found = match args.folder {
                Some(parent) => target.client.folder_path_in(target.space, parent, name),
                None => target.client.folder_path(target.space, name),
            };
            let id = found.map_err(|e| format!("asset folder {name}: {}", sdk_error(&e)))?;
            say(&format!("asset folder {name} is {id}"));
            folders.insert(name, id);
        }
    }
    let items = paths.iter().zip(&folder_paths).map(|(path, folder_path)| {
        let mut request = AssetParams::new();
        let folder = match folder_path {
            Some(name) if !name.is_empty() => folders.get(name.as_str()).copied(),
            _ => args.folder,
        };
        if let Some(folder) = folder {
            request = request.folder(folder);
        }
        if let Some(meta) = &meta {
            request = request.metadata(meta.clone());
        }
        (request, Source::path(path))
    });
    let counter = Counter::new(Some(paths.len()));
    let results =
        target
            .client
            .upload_all_with(target.space, items, args.concurrency, |index, result| {
                counter.tick(result.is_ok(), paths[index].display());
            });
    end_status_line();

    let mut all_ok = true;
    for (path, result) in paths.iter().zip(results) {
        let relative = relative(dir, path);
        let line = match result {
            Ok(asset) => {
                let mut value = serde_json::to_value(&asset).unwrap_or(Value::Null);
                if let Value::Object(map) = &mut value {
                    map.insert("path".into(), Value::String(relative));
                }
                value
            }
            Err(error) => {
                all_ok = false;
                json!({"path": relative, "error": sdk_error(&error)})
            }
        };
        println!("{line}");
    }
    Ok(exit_code(all_ok))
}

fn main() -> ExitCode {
    common::main(&format!("{USAGE}\n{ENVIRONMENT}"), parse_args, run)
}
