//! Upload every file under a directory, a few at a time, and print a JSON line per file.
//!
//! ```text
//! cargo run --example upload_dir -- [--space ID] [--folder ID] [--concurrency N]
//!     [--region eu|us|ca|ap|cn] DIR
//! ```
//!
//! Credentials as for the `upload` example; with no token set it uploads to the built-in
//! emulator. Lines come out in path order, one per file: the asset (`path`, `id`,
//! `filename`, …) or `{"path": …, "error": …}`. The exit code is non-zero if any failed.

mod common;

use std::env;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{connect, end_status_line, number, status_line};
use serde_json::{Value, json};
use storyblok_assets::{AssetParams, Region, Source};

const USAGE: &str = "usage: upload_dir [--space ID] [--folder ID] [--concurrency N] \
[--region eu|us|ca|ap|cn] DIR";

struct Args {
    space: Option<u64>,
    folder: Option<u64>,
    concurrency: usize,
    region: Option<Region>,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        space: None,
        folder: None,
        concurrency: 4,
        region: None,
        dir: None,
    };
    let mut it = env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--space" => args.space = Some(number("--space", it.next())?),
            "--folder" => args.folder = Some(number("--folder", it.next())?),
            "--concurrency" => {
                let n = number("--concurrency", it.next())?;
                args.concurrency = usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 64);
            }
            "--region" => {
                let code = it.next().ok_or("--region needs a value")?;
                args.region = Some(code.parse().map_err(|e| format!("{e}"))?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--" => args.dir = it.next().map(PathBuf::from),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            _ if args.dir.is_none() => args.dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("one directory at a time\n{USAGE}")),
        }
    }
    if args.dir.is_none() {
        return Err(format!("no DIR given\n{USAGE}"));
    }
    Ok(args)
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

fn run() -> Result<bool, String> {
    let args = parse_args()?;
    let dir = args.dir.clone().unwrap_or_default();
    let paths = files(&dir)?;
    let target = connect(args.space, args.region, args.folder)?;
    eprintln!(
        "Uploading {} files from {} to space {} via {}, {} at a time",
        paths.len(),
        dir.display(),
        target.space,
        target.client.base_url(target.space),
        args.concurrency
    );
    let items = paths.iter().map(|path| {
        let mut request = AssetParams::new();
        if let Some(folder) = args.folder {
            request = request.folder(folder);
        }
        (request, Source::path(path))
    });
    let done = AtomicUsize::new(0);
    let total = paths.len();
    let results =
        target
            .client
            .upload_all_with(target.space, items, args.concurrency, |index, result| {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                let mark = if result.is_ok() { "ok" } else { "failed" };
                let path = paths[index].display();
                status_line(&format!("[{n}/{total}] {mark}: {path}"));
            });
    end_status_line();

    let mut all_ok = true;
    for (path, result) in paths.iter().zip(results) {
        let relative = path
            .strip_prefix(&dir)
            .unwrap_or(path)
            .display()
            .to_string();
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
                json!({"path": relative, "error": error.to_string()})
            }
        };
        println!("{line}");
    }
    Ok(all_ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
