//! What a logger sees of a call, and the filter README's Secrets section gives. ureq
//! logs through the `log` facade; at TRACE ureq-proto writes the bytes of each request's
//! head as rows of 16 in hex and text, `Authorization` and the token included (ureq marks
//! its own TRACE "not redacted"), split where no secret masking finds it. With
//! `ureq_proto` at DEBUG at most, no record holds the token in any form.
//!
//! Its own test program: a process has one logger.

mod common;

use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};
use storyblok_assets::{AssetParams, Source};
use storyblok_assets_emulator::{Emulator, Endpoint};

/// One record: its target, level and text.
type Kept = (String, Level, String);

/// Every record, at every level.
struct Keep(Mutex<Vec<Kept>>);

impl Log for Keep {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, record: &Record) {
        let kept = (
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        );
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(kept);
    }

    fn flush(&self) {}
}

static KEEP: Keep = Keep(Mutex::new(Vec::new()));

/// A token no other text holds.
const TOKEN: &str = "sbQ7zX9wV3kP2lM8nR4tS6yU1";

/// Whether `text` holds a piece of the token: 6 characters of it as they are, or 3 of
/// its bytes in hex, spaces left out (a hex row groups bytes in pairs).
fn holds_token(text: &str) -> bool {
    let chars: Vec<char> = TOKEN.chars().collect();
    if chars
        .windows(6)
        .any(|w| text.contains(&w.iter().collect::<String>()))
    {
        return true;
    }
    let hex: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    TOKEN.as_bytes().windows(3).any(|w| {
        let piece: String = w.iter().map(|b| format!("{b:02x}")).collect();
        hex.contains(&piece)
    })
}

/// Whether README's filter lets a record through: `ureq_proto` at DEBUG at most
/// (`RUST_LOG=trace,ureq_proto=debug`).
fn passes_filter(target: &str, level: Level) -> bool {
    !(target.starts_with("ureq_proto") && level > Level::Debug)
}

#[test]
fn the_token_reaches_no_record_but_ureq_protos_trace_rows() {
    log::set_logger(&KEEP).expect("the only logger");
    log::set_max_level(LevelFilter::Trace);
    let emulator = Emulator::builder()
        .token(TOKEN)
        .rate_limit(None)
        .start()
        .expect("the emulator starts");
    let client = common::client_for(&emulator);
    client
        .upload(
            emulator.space_id(),
            AssetParams::new().filename("a.png"),
            Source::bytes(common::png(8, 8)),
        )
        .expect("the upload");
    // The token went along with both Management API calls.
    for endpoint in [Endpoint::Sign, Endpoint::Finish] {
        let request = &emulator.requests_for(endpoint)[0];
        assert!(
            request
                .headers
                .iter()
                .any(|(name, value)| name == "authorization" && value == TOKEN)
        );
    }
    log::set_max_level(LevelFilter::Off);
    let records = KEEP.0.lock().unwrap_or_else(|e| e.into_inner()).clone();

    let (passed, held): (Vec<&Kept>, Vec<&Kept>) = records
        .iter()
        .partition(|(target, level, _)| passes_filter(target, *level));
    // What the filter is for: ureq-proto's TRACE rows hold the token, cut into rows.
    let leaks: Vec<&&Kept> = held
        .iter()
        .filter(|(_, _, text)| holds_token(text))
        .collect();
    assert!(
        !leaks.is_empty(),
        "ureq-proto no longer logs request heads: {held:#?}"
    );
    assert!(
        leaks.iter().all(|(_, _, text)| !text.contains(TOKEN)),
        "a row holds the whole token: {leaks:#?}"
    );
    // What it lets through (ureq's own records at every level among them) holds none.
    assert!(
        passed
            .iter()
            .any(|(target, _, _)| target.starts_with("ureq::")),
        "{passed:#?}"
    );
    for (target, level, text) in &passed {
        assert!(!holds_token(text), "{level} {target}: {text}");
    }
}
