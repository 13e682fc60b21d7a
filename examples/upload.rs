//! Upload (or replace) one file in a Storyblok space and print the asset as JSON.
//!
//! ```text
//! cargo run --example upload -- [--space ID] [--folder ID] [--replace ASSET_ID]
//!     [--private] [--no-validate] [--region eu|us|ca|ap|cn] FILE
//! ```
//!
//! The token comes from `STORYBLOK_TOKEN` (personal access token) or
//! `STORYBLOK_OAUTH_TOKEN`; the space from `--space` or `STORYBLOK_SPACE_ID`;
//! `STORYBLOK_API_URL` overrides the API base URL. With no token set, the example starts
//! the built-in emulator and uploads there.

mod common;

use std::env;
use std::process::ExitCode;

use common::{connect, end_status_line, mib, number, status_line};
use storyblok_assets::{AssetParams, Region, Source};

const USAGE: &str = "usage: upload [--space ID] [--folder ID] [--replace ASSET_ID] [--private] \
[--no-validate] [--region eu|us|ca|ap|cn] FILE";

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
    file: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args::default();
    let mut it = env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--space" => args.space = Some(number("--space", it.next())?),
            "--folder" => args.folder = Some(number("--folder", it.next())?),
            "--replace" => args.replace = Some(number("--replace", it.next())?),
            "--private" => args.private = true,
            "--no-validate" => args.no_validate = true,
            "--region" => {
                let code = it.next().ok_or("--region needs a value")?;
                args.region = Some(code.parse().map_err(|e| format!("{e}"))?);
            }
            "-h" | "--help" => return Err(USAGE.to_owned()),
            "--" => args.file = it.next(),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"));
            }
            _ if args.file.is_none() => args.file = Some(arg),
            _ => return Err(format!("one file at a time\n{USAGE}")),
        }
    }
    if args.file.is_none() {
        return Err(format!("no FILE given\n{USAGE}"));
    }
    Ok(args)
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let file = args.file.clone().unwrap_or_default();
    let target = connect(args.space, args.region, args.folder)?;

    let mut request = AssetParams::new().validate_upload(!args.no_validate);
    if let Some(folder) = args.folder {
        request = request.folder(folder);
    }
    if let Some(asset_id) = args.replace {
        request = request.replace(asset_id);
    }
    if args.private {
        request = request.private(true);
    }
    let what = if args.replace.is_some() {
        "Replacing"
    } else {
        "Uploading"
    };
    eprintln!(
        "{what} {file} in space {} via {}",
        target.space,
        target.client.base_url(target.space)
    );
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
    let asset = result.map_err(|e| e.to_string())?;
    let json = serde_json::to_string(&asset).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
