//! Download a space's assets into a directory, with their metadata as sidecars, and print a
//! JSON line per asset.
//!
//! ```text
//! cargo run --example pull -- [--space ID] [--folder ID] [--manifest FILE]
//!     [--concurrency N] [--dry-run] [--region eu|us|ca|ap|cn] DIR
//! ```
//!
//! Credentials as for the `upload` example (`--help` lists them); with no token set it
//! pulls from the built-in emulator, whose space is empty. Lines come out in path order,
//! one per asset: `{"path", "id", "action"}`, with `"error"` for a failure; on a terminal,
//! a progress line on stderr counts the assets as they finish. The exit code is non-zero
//! if any failed. A sync of the directory right after (the `build_script`
//! example's, with the same manifest and mirrored folders) makes no call.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use common::{
    Command, Counter, ENVIRONMENT, Failure, connect_to_read, end_status_line, exit_code, number,
    parse, region, say, sdk_error,
};
use serde_json::json;
use storyblok_assets::{PullAction, PullOptions, Region};

const USAGE: &str = "\
usage: pull [OPTIONS] DIR

Downloads every asset of the space into DIR: asset folders as directories, each file under
its stored name, its metadata (alt, title, copyright, source, focus, meta_data, internal
tags) in a <file>.json sidecar beside it. Records them in the manifest sync keeps, so a sync
of DIR right after makes no call and a second pull downloads nothing. Prints one JSON line
per asset on stdout, in path order. Exits non-zero if any failed.

Options:
  --space ID             the space (default: STORYBLOK_SPACE_ID)
  --folder ID            only this asset folder and the folders below it
  --manifest FILE        the manifest (default: DIR.manifest.json beside DIR)
  --concurrency N        downloads at once (default 4, at most 64)
  --dry-run              list and compare, print what would be downloaded; download and
                         write nothing
  --region eu|us|ca|ap|cn
                         the region's API (default: told from the space id; EU)
  -h, --help             print this and exit
";

struct Args {
    space: Option<u64>,
    folder: Option<u64>,
    manifest: Option<PathBuf>,
    concurrency: usize,
    dry_run: bool,
    region: Option<Region>,
    dir: PathBuf,
}

fn parse_args() -> Result<Command<Args>, Failure> {
    let mut parsed = Args {
        space: None,
        folder: None,
        manifest: None,
        concurrency: 4,
        dry_run: false,
        region: None,
        dir: PathBuf::new(),
    };
    let command = parse("one directory at a time", |flag, rest| {
        match flag {
            "--space" => parsed.space = Some(number(flag, rest.next())?),
            "--folder" => parsed.folder = Some(number(flag, rest.next())?),
            "--manifest" => {
                let file = rest
                    .next()
                    .ok_or_else(|| Failure::Usage("--manifest needs a FILE".into()))?;
                parsed.manifest = Some(PathBuf::from(file));
            }
            "--concurrency" => {
                let n = number(flag, rest.next())?;
                parsed.concurrency = usize::try_from(n).unwrap_or(usize::MAX).clamp(1, 64);
            }
            "--dry-run" => parsed.dry_run = true,
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

fn run(args: Args) -> Result<ExitCode, String> {
    let manifest = args
        .manifest
        .unwrap_or_else(|| args.dir.with_extension("manifest.json"));
    let target = connect_to_read(args.space, args.region, args.folder)?;
    say(&format!(
        "Pulling space {} via {} into {} (manifest {})",
        target.space,
        target.client.base_url(target.space),
        args.dir.display(),
        manifest.display()
    ));
    let mut options = PullOptions::dir(&args.dir, &manifest)
        .concurrency(args.concurrency)
        .dry_run(args.dry_run);
    if let Some(folder) = args.folder {
        options = options.folder(folder);
    }
    let counter = Counter::new(None);
    let report = target
        .client
        .pull_with(target.space, &options, |file| {
            let failed = matches!(file.action, PullAction::Failed(_));
            counter.tick(!failed, &file.path);
        })
        .map_err(|e| sdk_error(&e))?;
    end_status_line();
    for file in &report.files {
        let mut line = json!({"path": file.path, "id": file.asset_id});
        line["action"] = match &file.action {
            PullAction::Downloaded if report.dry_run => "would download".into(),
            PullAction::Downloaded => "downloaded".into(),
            PullAction::Unchanged => "unchanged".into(),
            PullAction::SkippedPrivate => "skipped: private".into(),
            PullAction::Failed(error) => {
                line["error"] = sdk_error(error).into();
                "failed".into()
            }
            other => format!("{other:?}").into(),
        };
        println!("{line}");
    }
    say(&format!("{} assets", report.files.len()));
    Ok(exit_code(report.is_ok()))
}

fn main() -> ExitCode {
    common::main(&format!("{USAGE}\n{ENVIRONMENT}"), parse_args, run)
}
