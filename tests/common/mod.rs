//! Shared set-up for the black-box tests: an emulator, a client pointed at it, and tiny
//! image headers of each format the SDK measures.

#![allow(dead_code)] // each test file uses its own part of this module

use std::path::PathBuf;

use storyblok_assets::{
    Asset, AssetParams, Client, ClientBuilder, Error, RateLimit, SharedPacing, Source, SyncAction,
    SyncReport, Token,
};
use storyblok_assets_emulator::{Emulator, EmulatorBuilder, Endpoint};

pub struct Setup {
    pub emulator: Emulator,
    pub client: Client,
    pub space: u64,
}

/// An emulator without its rate limit: these tests are about the upload, not pacing,
/// and must not depend on how fast the machine runs them.
pub fn setup() -> Setup {
    setup_with(Emulator::builder())
}

pub fn setup_with(builder: EmulatorBuilder) -> Setup {
    setup_limited(builder.rate_limit(None))
}

/// An emulator with exactly the builder's settings.
pub fn setup_limited(builder: EmulatorBuilder) -> Setup {
    let emulator = builder.start().expect("the emulator starts");
    let client = client_for(&emulator);
    let space = emulator.space_id();
    Setup {
        emulator,
        client,
        space,
    }
}

/// A client builder pointed at the emulator, with its token. It paces at 1,000 calls per
/// second: what these tests show holds at any rate, and at Storyblok's 6/s a test of 20
/// uploads would wait seconds (the 6/s runs are in `cargo bench --bench bulk_rate`).
///
/// Each test's client paces alone: the emulators of parallel tests are separate spaces,
/// and pacing shared across processes is shown by its own tests.
pub fn builder_for(emulator: &Emulator) -> ClientBuilder {
    Client::builder(Token::personal(emulator.token()))
        .base_url(emulator.api_url())
        .rate_limit(RateLimit::PerSecond(FAST))
        .shared_pacing(SharedPacing::Off)
}

/// The client's pace in these tests, calls per second.
pub const FAST: u32 = 1000;

/// Storyblok's 429 body, naming the tests' pace ([`FAST`]): the limit a 429 names caps the
/// client's rate, and the tests that send it are about retries, not speed.
pub const RATE_LIMIT_BODY: &str =
    r#"{"error":"Rate limit of 1000 request per second has been reached. Retry later."}"#;

pub fn client_for(emulator: &Emulator) -> Client {
    builder_for(emulator)
        .build()
        .expect("a client for the emulator")
}

/// A client that tries every call once: for tests of how a failure is reported.
pub fn client_without_retries(emulator: &Emulator) -> Client {
    builder_for(emulator)
        .max_retries(0)
        .build()
        .expect("a client for the emulator")
}

/// Uploads `bytes` as a new asset named `name`.
pub fn put(client: &Client, space: u64, name: &str, bytes: &[u8]) -> Result<Asset, Error> {
    client.upload(
        space,
        AssetParams::new().filename(name),
        Source::bytes(bytes),
    )
}

/// A directory of its own for one test's files, under the target directory.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Bytes that differ from position to position, so a shifted or dropped byte shows.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 251) as u8).collect()
}

/// A PNG signature and IHDR chunk, then some pixel-ish bytes.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&[8, 6, 0, 0, 0, 0x12, 0x34, 0x56, 0x78]);
    bytes.extend_from_slice(&pattern(300));
    bytes
}

/// GIF89a with its logical screen size.
pub fn gif(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = b"GIF89a".to_vec();
    bytes.extend_from_slice(&width.to_le_bytes());
    bytes.extend_from_slice(&height.to_le_bytes());
    bytes.extend_from_slice(&[0xf7, 0, 0]);
    bytes.extend_from_slice(&pattern(100));
    bytes
}

/// A JPEG: SOI, an APP1 segment to skip, then SOF0 with the size.
pub fn jpeg(width: u16, height: u16) -> Vec<u8> {
    let mut bytes = vec![0xff, 0xd8, 0xff, 0xe1, 0x00, 0x10];
    bytes.extend_from_slice(b"Exif\0\0");
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 0x08]);
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    bytes.extend_from_slice(&[0xff, 0xd9]);
    bytes
}

/// A WebP with a VP8X header (24-bit width-1 and height-1).
pub fn webp(width: u32, height: u32) -> Vec<u8> {
    let mut chunk = vec![0x10, 0, 0, 0];
    chunk.extend_from_slice(&(width - 1).to_le_bytes()[..3]);
    chunk.extend_from_slice(&(height - 1).to_le_bytes()[..3]);
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&((4 + 8 + chunk.len()) as u32).to_le_bytes());
    bytes.extend_from_slice(b"WEBPVP8X");
    bytes.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&chunk);
    bytes
}

/// A folder of files to sync, and where its manifest goes.
pub struct Tree {
    pub root: PathBuf,
    pub manifest: PathBuf,
}

/// A fresh folder `assets` holding `files` (paths relative to it), its manifest beside it.
pub fn tree(name: &str, files: &[(&str, &[u8])]) -> Tree {
    let base = temp_dir(name);
    let root = base.join("assets");
    for (path, bytes) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("dirs");
        std::fs::write(path, bytes).expect("write");
    }
    std::fs::create_dir_all(&root).expect("root");
    Tree {
        manifest: base.join("assets.manifest.json"),
        root,
    }
}

/// What a sync did with `path`: the action's name, or `failed: ` and the error.
pub fn action(report: &SyncReport, path: &str) -> String {
    let file = report
        .files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("{path} is not in the report: {report:?}"));
    match &file.action {
        SyncAction::Failed(error) => format!("failed: {error}"),
        other => format!("{other:?}"),
    }
}

/// The statuses the emulator answered `endpoint` with, in order.
pub fn statuses(emulator: &Emulator, endpoint: Endpoint) -> Vec<u16> {
    emulator
        .requests_for(endpoint)
        .iter()
        .map(|r| r.status)
        .collect()
}
