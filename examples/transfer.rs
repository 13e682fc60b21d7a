//! Copy a space's assets into another space, and print a JSON line per asset.
//!
//! ```text
//! cargo run --example transfer -- [--space ID] [--folder ID] [--target-folder ID]
//!     [--dry-run] [--region eu|us|ca|ap|cn] MAP.json
//! ```
//!
//! The source as for the `upload` example (`--help` lists the variables); the target from
//! STORYBLOK_TARGET_TOKEN (a personal access token), STORYBLOK_TARGET_SPACE_ID and, to
//! point elsewhere than the region its space id names, STORYBLOK_TARGET_API_URL. Without
//! a target token it copies into a built-in emulator. Lines come out in path order, one
//! per source asset: `{"path", "source_id", "target_id", "action"}`, with `"error"` for a
//! failure; on a terminal, a progress line on stderr counts the assets as they finish. The
//! exit code is non-zero if any failed. MAP.json maps source to target ids
//! and URLs: run again with it to copy only what is missing.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use common::{
    Command, Counter, ENVIRONMENT, Failure, chain, connect_to_read, end_status_line, env_var,
    exit_code, number, parse, region, say, sdk_error,
};
use serde_json::json;
use storyblok_assets::{Client, Region, Token, TransferAction, TransferOptions};
use storyblok_assets_emulator::Emulator;

const USAGE: &str = "\
usage: transfer [OPTIONS] MAP.json

Copies every asset of the source space into the target space: asset folders recreated,
internal tags by name, metadata carried, each file streamed from the source's CDN into the
target's upload. MAP.json records where each asset went (made if missing): run again with
it to copy only what is missing. Prints one JSON line per source asset on stdout, in path
order. Exits non-zero if any failed.

Options:
  --space ID             the source space (default: STORYBLOK_SPACE_ID)
  --folder ID            only this source asset folder and the folders below it
  --target-folder ID     recreate the folders below this target asset folder
  --dry-run              list both spaces, print what would be copied; create, upload and
                         write nothing
  --region eu|us|ca|ap|cn
                         the source region's API (default: told from the space id; EU)
  -h, --help             print this and exit

The target:
  STORYBLOK_TARGET_TOKEN     a personal access token of the target space's organisation
                             (without it: a built-in emulator)
  STORYBLOK_TARGET_SPACE_ID  the target space's id
  STORYBLOK_TARGET_API_URL   the target's Management API base URL (default: the region
                             its space id names)
";

struct Args {
    space: Option<u64>,
    folder: Option<u64>,
    target_folder: Option<u64>,
    dry_run: bool,
    region: Option<Region>,
    map: PathBuf,
}

fn parse_args() -> Result<Command<Args>, Failure> {
    let mut parsed = Args {
        space: None,
        folder: None,
        target_folder: None,
        dry_run: false,
        region: None,
        map: PathBuf::new(),
    };
    let command = parse("one map file at a time", |flag, rest| {
        match flag {
            "--space" => parsed.space = Some(number(flag, rest.next())?),
            "--folder" => parsed.folder = Some(number(flag, rest.next())?),
            "--target-folder" => parsed.target_folder = Some(number(flag, rest.next())?),
            "--dry-run" => parsed.dry_run = true,
            "--region" => parsed.region = Some(region(rest.next())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Command::Run(map) = command else {
        return Ok(Command::Help);
    };
    parsed.map = map.ok_or_else(|| Failure::Usage("no MAP.json given".into()))?;
    Ok(Command::Run(parsed))
}

/// The target's client and space, and the emulator it is when no target token is set.
fn target() -> Result<(Client, u64, Option<Emulator>), String> {
    let Some(token) = env_var("STORYBLOK_TARGET_TOKEN")? else {
        let emulator = Emulator::start()
            .map_err(|e| format!("cannot start the target emulator: {}", chain(&e)))?;
        eprintln!(
            "No STORYBLOK_TARGET_TOKEN set: copying into a built-in emulator at {}",
            emulator.api_url()
        );
        let client = Client::builder(Token::personal(emulator.token()))
            .base_url(emulator.api_url())
            .build()
            .map_err(|e| format!("cannot set up the target client: {}", chain(&e)))?;
        let space = emulator.space_id();
        return Ok((client, space, Some(emulator)));
    };
    let space: u64 = env_var("STORYBLOK_TARGET_SPACE_ID")?
        .ok_or("set STORYBLOK_TARGET_SPACE_ID to the target space's id")?
        .parse()
        .map_err(|_| "STORYBLOK_TARGET_SPACE_ID must be a number".to_string())?;
    let mut builder = Client::builder(Token::personal(token));
    if let Some(url) = env_var("STORYBLOK_TARGET_API_URL")? {
        builder = builder.base_url(url);
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the target client: {}", chain(&e)))?;
    Ok((client, space, None))
}

fn run(args: Args) -> Result<ExitCode, String> {
    let source = connect_to_read(args.space, args.region, args.folder)?;
    let (target, target_space, _emulator) = target()?;
    say(&format!(
        "Copying space {} via {} into space {target_space} via {} (map {})",
        source.space,
        source.client.base_url(source.space),
        target.base_url(target_space),
        args.map.display()
    ));
    let mut options = TransferOptions::new(&args.map).dry_run(args.dry_run);
    if let Some(folder) = args.folder {
        options = options.folder(folder);
    }
    if let Some(folder) = args.target_folder {
        options = options.target_folder(folder);
    }
    let counter = Counter::new(None);
    let report = source
        .client
        .transfer_with(source.space, &target, target_space, &options, |asset| {
            let failed = matches!(asset.action, TransferAction::Failed(_));
            counter.tick(!failed, &asset.path);
        })
        .map_err(|e| sdk_error(&e))?;
    end_status_line();
    for asset in &report.assets {
        let mut line = json!({
            "path": asset.path,
            "source_id": asset.source_id,
            "target_id": asset.target_id,
        });
        line["action"] = match &asset.action {
            TransferAction::Copied if report.dry_run => "would copy".into(),
            TransferAction::Copied => "copied".into(),
            TransferAction::AlreadyThere => "already there".into(),
            TransferAction::Adopted => "already there: adopted".into(),
            TransferAction::SkippedPrivate => "skipped: private".into(),
            TransferAction::Failed(error) => {
                line["error"] = sdk_error(error).into();
                "failed".into()
            }
            other => format!("{other:?}").into(),
        };
        println!("{line}");
    }
    say(&format!("{} assets", report.assets.len()));
    Ok(exit_code(report.is_ok()))
}

fn main() -> ExitCode {
    common::main(&format!("{USAGE}\n{ENVIRONMENT}"), parse_args, run)
}
