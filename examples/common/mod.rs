//! What the examples share: reading the target space from the environment (or starting
//! the built-in emulator), and a progress line on stderr.

#![allow(dead_code)] // each example uses its own part

use std::env;
use std::io::{IsTerminal, Write};

use storyblok_assets::{Client, Region, Token};
use storyblok_assets_emulator::Emulator;

/// Where uploads go: a client, its space, and the emulator when there is no token.
pub struct Target {
    pub client: Client,
    pub space: u64,
    /// Kept alive while the example runs: dropping it stops the server.
    _emulator: Option<Emulator>,
}

/// A `--flag` value that must be a number.
pub fn number(flag: &str, value: Option<String>) -> Result<u64, String> {
    let value = value.ok_or_else(|| format!("{flag} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{flag} takes a number, not {value:?}"))
}

fn env_var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The client for `STORYBLOK_TOKEN` or `STORYBLOK_OAUTH_TOKEN`, the space from `space` or
/// `STORYBLOK_SPACE_ID`, the base URL from `STORYBLOK_API_URL` or the region. With no
/// token, a fresh emulator (knowing `folder`, if one is given).
pub fn connect(
    space: Option<u64>,
    region: Option<Region>,
    folder: Option<u64>,
) -> Result<Target, String> {
    let token = match (env_var("STORYBLOK_TOKEN"), env_var("STORYBLOK_OAUTH_TOKEN")) {
        (Some(token), _) => Some(Token::personal(token.trim())),
        (None, Some(token)) => Some(Token::oauth(token.trim())),
        (None, None) => None,
    };
    match token {
        Some(token) => {
            let space = match space {
                Some(space) => space,
                None => number("STORYBLOK_SPACE_ID", env_var("STORYBLOK_SPACE_ID"))
                    .map_err(|_| "set --space ID or STORYBLOK_SPACE_ID to a space id".to_owned())?,
            };
            let mut builder = Client::builder(token);
            if let Some(url) = env_var("STORYBLOK_API_URL") {
                builder = builder.base_url(url);
            } else {
                let region = region
                    .or_else(|| Region::from_space_id(space))
                    .unwrap_or_default();
                builder = builder.region(region);
            }
            let client = builder.build().map_err(|e| e.to_string())?;
            Ok(Target {
                client,
                space,
                _emulator: None,
            })
        }
        None => {
            let emulator =
                Emulator::start().map_err(|e| format!("cannot start the emulator: {e}"))?;
            eprintln!(
                "No STORYBLOK_TOKEN or STORYBLOK_OAUTH_TOKEN set: uploading to the built-in emulator at {}",
                emulator.api_url()
            );
            if let Some(folder) = folder {
                emulator.add_folder(folder);
            }
            let client = Client::builder(Token::personal(emulator.token()))
                .base_url(emulator.api_url())
                .build()
                .map_err(|e| e.to_string())?;
            Ok(Target {
                client,
                space: space.unwrap_or(emulator.space_id()),
                _emulator: Some(emulator),
            })
        }
    }
}

/// Rewrites one status line on stderr, only when stderr is a terminal.
pub fn status_line(text: &str) {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = write!(stderr, "\r\x1b[2K{text}");
        let _ = stderr.flush();
    }
}

/// Ends the status line, if one was drawn.
pub fn end_status_line() {
    let mut stderr = std::io::stderr();
    if stderr.is_terminal() {
        let _ = writeln!(stderr);
    }
}

/// `12.5 MiB`
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
