//! Upload (or replace) one file in a Storyblok space and print the asset as JSON.
//!
//! ```text
//! cargo run --example upload -- [--space ID] [--folder ID] [--replace ASSET_ID]
//!     [--private] [--no-validate] [--region eu|us|ca|ap|cn] FILE
//! cargo run --example upload -- examples/sample.png     (no token: the built-in emulator)
//! ```
//!
//! `--help` prints the options and the environment variables it reads: the token from
//! `STORYBLOK_TOKEN` (personal access token) or `STORYBLOK_OAUTH_TOKEN`, the space from
//! `--space` or `STORYBLOK_SPACE_ID`, `STORYBLOK_API_URL`, `SSL_CERT_FILE` and
//! `STORYBLOK_PACER_DIR`. With no token set, the example starts the built-in emulator and
//! uploads there.

mod common;

use std::path::PathBuf;
use std::process::ExitCode;

use common::{
    Command, ENVIRONMENT, Failure, chain, connect, end_status_line, mib, number, parse, region,
    say, sdk_error, status_line,
};
use storyblok_assets::{AssetMeta, AssetParams, Region, Source};

const USAGE: &str = "\
usage: upload [OPTIONS] FILE

Uploads FILE to a Storyblok space (or replaces an asset's file with it) and prints the
asset as one JSON object on stdout: id, filename (the CDN URL), raw_filename, alt, …
Messages go to stderr.

Options:
  --space ID             the space (default: STORYBLOK_SPACE_ID)
  --folder ID            put the asset in this asset folder
  --replace ASSET_ID     replace this asset's file, keeping its id and URL
  --private              make the asset private (readable only with an asset token)
  --no-validate          skip the finish call (validate_upload off)
  --region eu|us|ca|ap|cn
                         the region's API (default: told from the space id; EU)
  -h, --help             print this and exit
";

/// Files from this size on get a progress line (on a terminal).
const LARGE: u64 = 8 * 1024 * 1024;

#[derive(Default)]
struct Args {
    space: Option<u64>,
    folder: Option<u64>,
    replace: Option<u64>,
    private: bool,
    no_validate: bool,
    region: Option<Region>,
    file: PathBuf,
}

fn parse_args() -> Result<Command<Args>, Failure> {
    let mut parsed = Args::default();
    let command = parse("one file at a time", |flag, rest| {
        match flag {
            "--space" => parsed.space = Some(number(flag, rest.next())?),
            "--folder" => parsed.folder = Some(number(flag, rest.next())?),
            "--replace" => parsed.replace = Some(number(flag, rest.next())?),
            "--private" => parsed.private = true,
            "--no-validate" => parsed.no_validate = true,
            "--region" => parsed.region = Some(region(rest.next())?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Command::Run(file) = command else {
        return Ok(Command::Help);
    };
    parsed.file = file.ok_or_else(|| Failure::Usage("no FILE given".into()))?;
    Ok(Command::Run(parsed))
}

fn run(args: Args) -> Result<(), String> {
    let file = args.file;
    let target = connect(args.space, args.region, args.folder)?;

    let mut request = AssetParams::new().validate_upload(!args.no_validate);
    if let Some(folder) = args.folder {
        request = request.folder(folder);
    }
    if let Some(asset_id) = args.replace {
        request = request.replace(asset_id);
    }
    if args.private {
        request = request.metadata(AssetMeta::new().private(true));
    }
    let what = if args.replace.is_some() {
        "Replacing"
    } else {
        "Uploading"
    };
    say(&format!(
        "{what} {} in space {} via {}",
        file.display(),
        target.space,
        target.client.base_url(target.space)
    ));
    let mut source = Source::path(&file);
    let large = std::fs::metadata(&file).is_ok_and(|m| m.len() >= LARGE);
    if large {
        source = source.on_progress(|sent, total| {
            status_line(&format!("{} of {} sent", mib(sent), mib(total)));
        });
    }
    let result = target.client.upload(target.space, request, source);
    if large {
        end_status_line();
    }
    // The SDK's error names the step that failed only once a call was made: a file that
    // cannot be read is "cannot read FILE: <why>".
    let asset = result.map_err(|e| sdk_error(&e))?;
    let json = serde_json::to_string(&asset).map_err(|e| chain(&e))?;
    println!("{json}");
    Ok(())
}

fn main() -> ExitCode {
    common::main(&format!("{USAGE}\n{ENVIRONMENT}"), parse_args, |args| {
        run(args).map(|()| ExitCode::SUCCESS)
    })
}
