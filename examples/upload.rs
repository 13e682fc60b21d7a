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

use std::env;
use std::process::ExitCode;

use storyblok_assets::emulator::Emulator;
use storyblok_assets::{Client, Region, Source, Token, UploadRequest};

const USAGE: &str = "usage: upload [--space ID] [--folder ID] [--replace ASSET_ID] [--private] \
[--no-validate] [--region eu|us|ca|ap|cn] FILE";

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

fn number(flag: &str, value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
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

fn env_var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let file = args.file.clone().unwrap_or_default();

    let token = match (env_var("STORYBLOK_TOKEN"), env_var("STORYBLOK_OAUTH_TOKEN")) {
        (Some(token), _) => Some(Token::personal(token.trim())),
        (None, Some(token)) => Some(Token::oauth(token.trim())),
        (None, None) => None,
    };

    // Kept alive until the upload is done: dropping it stops the server.
    let mut _emulator = None;
    let (client, space) = match token {
        Some(token) => {
            let space = match args.space {
                Some(space) => space,
                None => number("STORYBLOK_SPACE_ID", env_var("STORYBLOK_SPACE_ID"))
                    .map_err(|_| "set --space ID or STORYBLOK_SPACE_ID to a space id".to_owned())?,
            };
            let mut builder = Client::builder(token);
            if let Some(url) = env_var("STORYBLOK_API_URL") {
                builder = builder.base_url(url);
            } else {
                let region = args
                    .region
                    .or_else(|| Region::from_space_id(space))
                    .unwrap_or_default();
                builder = builder.region(region);
            }
            (builder.build().map_err(|e| e.to_string())?, space)
        }
        None => {
            let emulator =
                Emulator::start().map_err(|e| format!("cannot start the emulator: {e}"))?;
            eprintln!(
                "No STORYBLOK_TOKEN or STORYBLOK_OAUTH_TOKEN set: uploading to the built-in emulator at {}",
                emulator.api_url()
            );
            if let Some(folder) = args.folder {
                emulator.add_folder(folder);
            }
            let client = Client::builder(Token::personal(emulator.token()))
                .base_url(emulator.api_url())
                .build()
                .map_err(|e| e.to_string())?;
            let space = args.space.unwrap_or(emulator.space_id());
            _emulator = Some(emulator);
            (client, space)
        }
    };

    let mut request = UploadRequest::new().validate_upload(!args.no_validate);
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
    eprintln!("{what} {file} in space {space} via {}", client.base_url());
    let asset = client
        .upload(space, request, Source::path(&file))
        .map_err(|e| e.to_string())?;
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
