//! Upload and replace [Storyblok](https://www.storyblok.com) assets from plain, blocking
//! Rust: `build.rs` scripts, small tools, migrations. No async runtime; at run time only
//! [`ureq`], `serde` and `serde_json`.
//!
//! # Quick start
//!
//! ```no_run
//! use storyblok_assets::{Client, Source, Token, AssetParams};
//!
//! let client = Client::new(Token::personal(std::env::var("STORYBLOK_TOKEN")?))?;
//! let asset = client.upload(184738, AssetParams::new().folder(42), Source::path("mars.jpg"))?;
//! println!("{} is at {}", asset.id, asset.filename);
//!
//! // Later: a new file under the same id and URL.
//! client.replace(184738, asset.id, Source::path("mars-v2.jpg"))?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! # The flow
//!
//! A Storyblok upload is three calls, and the types follow them:
//!
//! ```text
//!  Client::sign ──► SignedUpload ──upload──► UploadedAsset ──finish──► Asset
//!  (MAPI POST,       (asset id, S3 form,      (file in S3)               (id, CDN URL)
//!   creates record)   policy expiry)
//! ```
//!
//! 1. **sign** ([`Client::sign`]) asks the Management API for a signed S3 form. This
//!    already creates the asset record, with an id.
//! 2. **upload** ([`SignedUpload::upload`]) streams the file to S3 with every signed
//!    field verbatim and the file last.
//! 3. **finish** ([`UploadedAsset::finish`]) tells Storyblok the file is there.
//!
//! [`Client::upload`] and [`Client::replace`] do all three. Each step consumes the state
//! before it, so the order cannot be broken. Finishing before uploading does not compile:
//!
//! ```compile_fail,E0599
//! # use storyblok_assets::{Client, Token, AssetParams};
//! # let client = Client::new(Token::personal("t"))?;
//! let signed = client.sign(1, AssetParams::new().filename("a.png"))?;
//! signed.finish()?; // no method `finish` on `SignedUpload`
//! # Ok::<_, storyblok_assets::Error>(())
//! ```
//!
//! and neither does uploading twice:
//!
//! ```compile_fail,E0382
//! # use storyblok_assets::{Client, Source, Token, AssetParams};
//! # let client = Client::new(Token::personal("t"))?;
//! let signed = client.sign(1, AssetParams::new().filename("a.png"))?;
//! let uploaded = signed.upload(Source::bytes(&b"one"[..]))?;
//! let again = signed.upload(Source::bytes(&b"two"[..]))?; // use of moved value: `signed`
//! # Ok::<_, storyblok_assets::Error>(())
//! ```
//!
//! # Sources and memory
//!
//! A [`Source`] is a path (streamed from disk), bytes, or any reader with a declared
//! length. Memory stays flat whatever the file's size, and S3 gets an exact
//! `Content-Length` (it refuses chunked uploads). A source that gives fewer bytes than
//! declared stops the upload at once, and so does a path, bytes or seekable reader that
//! gives more; a plain reader is never read past its declared length. A reader is read
//! on a thread of its own, a few chunks ahead, so that one that stalls fails the upload
//! after the idle timeout instead of holding it for ever; that is why it must be
//! `'static`.
//!
//! # Errors
//!
//! One [`Error`]: the [`Step`] that failed ([`Error::step`]; none for a refusal before any
//! call, such as an unreadable file), the asset once the sign call created the record
//! ([`Error::asset_id`]: a failed upload leaves that record behind, to upload again with
//! [`Client::replace`] or remove with [`Client::delete`]), and what went wrong as an
//! [`ErrorKind`]. Server errors keep the server's words: Storyblok's message and raw body,
//! S3's `Code`, `Message` and `RequestId`. A message taken from a body is shortened to 500
//! characters, `Display` prints no more of the body and `Debug` its first KiB at most (an
//! `.unwrap()` prints a few lines, not a proxy's page); [`Error::body`] keeps all of it.
//! `Display` says what went wrong and what to do ([`Error::advice`]); an underlying error
//! is reached through [`source`](std::error::Error::source) only, so a chain printer shows
//! each cause once.
//!
//! # Many files, and build scripts
//!
//! [`Client::upload_all`] uploads many files on a bounded number of threads that share the
//! client's pacing, one result per item in input order. [`Client::sync`] makes a space hold
//! a folder's files, by a committed [`Manifest`]: see [sync and build
//! scripts](#sync-and-build-scripts). [`Source::on_progress`] reports an upload's bytes as
//! they go.
//!
//! # Secrets
//!
//! The [`Token`] travels only in the `Authorization` header of Management API calls (never
//! to S3 or a CDN download; a redirect is not followed), prints as `[redacted]` in every
//! `Debug`, and is in no error. One place can still give it away: logs. ureq logs through
//! the `log` facade, and at `trace` its protocol layer (`ureq_proto`) writes every request
//! head, the token included, in rows of 16 bytes of hex and text that CI's secret masking
//! does not catch. With any logger at `trace`, cap `ureq_proto` at `debug`:
//! `RUST_LOG=trace,ureq_proto=debug` (env_logger, tracing-subscriber's `EnvFilter`).
//! `tests/logs.rs` shows both.
//!
//! # Regions and URLs
//!
//! Each call goes to the API of the region its space id names ([`Region::from_space_id`]:
//! exact for ids from 2^48; older ids go by range, and a Chinese space with an old id must
//! set [`Region::Cn`]); [`ClientBuilder::region`] fixes one region and
//! [`ClientBuilder::base_url`] points elsewhere, such as the emulator. Only `https` URLs
//! without user info are used, except `http` on loopback hosts. Every call has finite
//! timeouts: see [timeouts](#timeouts).
//!
//! # Features and TLS
//!
//! | feature | default | backend | roots trusted |
//! |---|---|---|---|
//! | `rustls` | yes | rustls | Mozilla's, built in |
//! | `native-tls` | no | the platform's library (OpenSSL on Linux); chosen over rustls when both are on | the operating system's |
//! | `platform-verifier` | no | rustls | the operating system's trust store |
//!
//! [`ClientBuilder::root_certificates_pem`] trusts exactly the given roots instead, with
//! any backend (a TLS-inspecting proxy's root, a test CA; give the system bundle with it to
//! trust both). Without any TLS feature only plain `http` to loopback works.
//!
#![doc = include_str!("doc/sync.md")]
#![doc = include_str!("doc/pacing.md")]
#![doc = include_str!("doc/testing.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

// The flow runs client → sign → upload → finish (rustfmt keeps modules alphabetical).
mod client;
mod finish;
mod sign;
mod upload;

// What the flow is made of.
mod asset;
mod body;
mod delete;
mod error;
mod mapi;
mod message;
mod mutex;
mod pacer;
mod params;
mod region;
mod retry;
mod session;
mod source;
#[cfg(any(
    feature = "rustls",
    feature = "native-tls",
    feature = "platform-verifier"
))]
mod tls;
mod token;
mod url;

// Many files: bulk uploads, and sync with its manifest, folders, metadata and tags.
mod bulk;
mod folders;
mod listed;
mod meta;
mod paging;
mod pool;
mod sync;
mod tags;

// S3's form, policy and errors; small std-only codecs.
mod codec;
mod s3;

pub use crate::asset::{Asset, cdn_url};
pub use crate::client::{Client, ClientBuilder};
pub use crate::error::{Error, ErrorKind, LengthMismatch, Step};
pub use crate::meta::AssetMeta;
pub use crate::pacer::{RateLimit, SharedPacing};
pub use crate::params::AssetParams;
pub use crate::region::{Region, UnknownRegion};
pub use crate::sign::SignedUpload;
pub use crate::source::Source;
pub use crate::sync::{Manifest, ManifestEntry};
pub use crate::sync::{
    MappedAsset, TransferAction, TransferMap, TransferOptions, TransferReport, TransferredAsset,
};
pub use crate::sync::{OnChange, SkipReason, SyncAction, SyncOptions, SyncReport, SyncedFile};
pub use crate::sync::{PullAction, PullOptions, PullReport, PulledFile};
pub use crate::token::Token;
pub use crate::upload::UploadedAsset;

/// The README's examples, compiled as doc-tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
