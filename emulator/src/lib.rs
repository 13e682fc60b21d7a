//! A local, faithful Storyblok Management API and S3 endpoint, for tests.
//!
//! [`Emulator::start`] binds `127.0.0.1` on a free port and serves, on that one port, the
//! Management API of one space (or several, [`EmulatorBuilder::space`]), the S3 bucket their
//! uploads go to, and the stored files. Every request is recorded with what the emulator
//! answered, and faults can be injected into the n-th request of any kind. A test points its
//! client at [`Emulator::api_url`] with [`Emulator::token`], then asserts on
//! [`Emulator::requests`], [`Emulator::assets`] and [`Emulator::object`].
//!
//! # Quick start
//!
//! Any HTTP client works; here, a raw request:
//!
//! ```
//! use std::io::{Read, Write};
//! use storyblok_assets_emulator::{Emulator, Fault, Endpoint};
//!
//! let emulator = Emulator::builder().space_id(42).start()?;
//! // The first sign request will be answered with a 500.
//! emulator.inject(Fault::respond(Endpoint::Sign, 1, 500, r#"{"error":"boom"}"#));
//!
//! let body = r#"{"filename":"Mars.JPG"}"#;
//! let mut socket = std::net::TcpStream::connect(emulator.addr())?;
//! write!(
//!     socket,
//!     "POST /v1/spaces/42/assets/ HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\n\
//!      Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
//!     emulator.token(),
//!     body.len(),
//! )?;
//! let mut answer = String::new();
//! socket.read_to_string(&mut answer)?;
//! assert!(answer.starts_with("HTTP/1.1 500"));
//!
//! let signs = emulator.requests_for(Endpoint::Sign);
//! assert_eq!(signs.len(), 1);
//! assert_eq!(signs[0].status, 500);
//! let sent = signs[0].json.as_ref().and_then(|json| json["filename"].as_str());
//! assert_eq!(sent, Some("Mars.JPG"));
//! # Ok::<_, std::io::Error>(())
//! ```
//!
//! With the `storyblok-assets` SDK (not a dependency of this crate, so shown, not compiled):
//!
//! ```text
//! let emulator = Emulator::start()?;
//! let client = Client::builder(Token::personal(emulator.token()))
//!     .base_url(emulator.api_url())
//!     .build()?;
//! let asset = client.upload(emulator.space_id(), AssetParams::new(), Source::path("logo.png"))?;
//! assert_eq!(emulator.assets().len(), 1);
//! ```
//!
//! # The Management API
//!
//! Under [`Emulator::api_url`] (`{public_origin}/v1`), for each space served
//! ([`EmulatorBuilder::space_id`], the first, and any [`EmulatorBuilder::space`] adds; another
//! space gets 404):
//!
//! | call | answer |
//! |---|---|
//! | `POST /spaces/{space}/assets/` sign | 200, Storyblok's signed response: `id`, `pretty_url`, `public_url`, `post_url`, `fields` (in Storyblok's order), `locked`, `meta_data`. Creates the asset record, or with `id` re-signs it (replace) under the same key |
//! | `GET /spaces/{space}/assets/{id}/finish_upload` | 200, flat `{"id","filename","alt","copyright","title","focus","is_private"}` or wrapped in `{"asset":..}` ([`FinishShape`]); 422 if no file was uploaded since the latest sign |
//! | `GET /spaces/{space}/assets/{id}` | 200, the asset object |
//! | `DELETE /spaces/{space}/assets/{id}` | 200, the asset object; the asset moves to the trash, its file is removed |
//! | `PUT /spaces/{space}/assets/{id}` update | 200 `{"asset": ..}` (the OpenAPI spec), or 204 with [`UpdateShape::NoContent`] |
//! | `GET /spaces/{space}/assets/` list | 200 `{"assets": [..]}`, paginated |
//! | `GET /spaces/{space}/asset_folders/` | 200 `{"asset_folders": [..]}` |
//! | `POST /spaces/{space}/asset_folders/` | 201 `{"asset_folder": ..}` |
//! | `GET /spaces/{space}/internal_tags` | 200 `{"internal_tags": [..]}`, paginated |
//! | `POST /spaces/{space}/internal_tags` | 201 `{"internal_tag": ..}` |
//!
//! Sign takes its parameters as JSON, as a form-encoded body or in the query string:
//! `filename` (parameterized as Storyblok does: lower case, every `.` but the last becomes
//! `_`), `id`, `size` (`{w}x{h}`, put into the key), `asset_folder_id`, `is_private`,
//! `validate_upload`, `alt`, `title`, `copyright`, `source`, `focus`, `ext_id`, `meta_data`,
//! `internal_tag_ids`, `expire_at`, `publish_at`. Update takes `{"asset": {..}}` or the bare
//! object with `asset_folder_id` (null or 0: the root), `alt`, `title`, `copyright`, `source`,
//! `focus`, `is_private`, `locked`, `meta_data`, `internal_tag_ids`, `expire_at`,
//! `publish_at`. In both, `meta_data`'s `alt`, `title`, `copyright` and `source` set those
//! fields unless they are sent themselves, as Storyblok documents. Nothing changes when a
//! parameter is refused.
//!
//! The asset object carries `id`, `filename` (the file's URL), `space_id`, `created_at`,
//! `updated_at`, `deleted_at`, `file`, `asset_folder_id`, `short_filename`, `content_type`,
//! `content_length`, `alt`, `title`, `copyright`, `source`, `focus`, `ext_id`, `is_private`,
//! `meta_data`, `internal_tag_ids` (strings, as the docs show them), `internal_tags_list`
//! (`[{"id","name"}]`), `locked`, `expire_at`, `publish_at`.
//!
//! Errors are Storyblok's: 401 `{"error":"Unauthorized"}`, 404 `["This record could not be
//! found"]`, 422 `{"error":"Filename can't be blank"}`, `{"error":{"base":["This asset folder
//! is not valid"]}}` or `{"error":{"<field>":["<message>"]}}` (a blank folder or tag name, an
//! unknown parent folder, an unknown or non-asset tag in `internal_tag_ids`, a date that is
//! not ISO 8601, a tag name already taken).
//!
//! # Authentication, rate limit, latency
//!
//! The personal access token ([`Emulator::token`]) goes raw in `Authorization`, the OAuth
//! token ([`Emulator::oauth_token`]) as `Bearer`. A request without either gets 401 from its
//! head alone, before its body is read; the connection then closes, discarding at most 1 MiB
//! of the body so the answer is not lost to a TCP reset.
//!
//! Requests are counted in fixed one-second windows aligned to whole Unix seconds, 6 a second
//! by default ([`EmulatorBuilder::rate_limit`]; Starter plans have 3). Storyblok counts per
//! space, and so does the emulator: every Management API request counts in the window of the
//! space its path names (of the first space when that one is not served), those answered 429
//! included; over the limit, or over the
//! 30 requests in flight ([`EmulatorBuilder::max_in_flight`]), the answer is Storyblok's
//! `429 {"error":"Rate limit of N request per second has been reached. Retry later."}`, with
//! no `Retry-After` unless [`EmulatorBuilder::retry_after`] sets one. S3 uploads and
//! downloads are not limited.
//!
//! [`EmulatorBuilder::one_way_delay`] adds network latency: each request waits
//! `min + U(0, jitter)` before it is counted and handled, and its answer as long again before
//! it is written, so a fleet of clients sharing one space sees Storyblok's timing.
//!
//! # S3
//!
//! [`Emulator::s3_url`] (`{public_origin}/a.storyblok.com`) is the `post_url` sign hands out.
//! It accepts a browser-style POST Object and checks it as S3 does: no `Authorization` header,
//! an exact `Content-Length` (411 otherwise, from the head), well-formed multipart, at most
//! 20 KiB before the file, a policy signed with AWS Signature Version 4 by this emulator's
//! key ([`Emulator::credentials`], fresh for each emulator; the signature is recomputed from
//! the credential's day and the policy), unexpired, whose every condition the form meets with
//! no extra fields, and a file size within `content-length-range`. It is stricter than S3 in
//! one respect: a form field after the `file` part is an error instead of being ignored.
//! Errors are S3's XML (`<Error><Code>..</Code><Message>..</Message>..`).
//!
//! [`EmulatorBuilder::external_s3`] signs for another S3 server instead (see
//! [`sigv4::SigV4Signer`]).
//!
//! # Stored files and the local CDN
//!
//! `GET` and `HEAD /a.storyblok.com/{key}` serve a stored object as S3's GET Object does: its
//! exact bytes, `Content-Length`, the `Content-Type` it was uploaded with, `ETag`,
//! `Cache-Control` and `Last-Modified`. No token is needed; a private object (or one whose
//! asset was made private) gets 403 `AccessDenied`, a missing one 404 `NoSuchKey`.
//!
//! With [`EmulatorBuilder::local_cdn`], every asset URL the emulator hands out (sign's
//! `pretty_url` and `public_url`, every `filename`) is `{public_origin}/a.storyblok.com/f/…`,
//! so an HTTP client downloads the file from the emulator itself. Without it, the URLs are
//! Storyblok's own (`https://s3.amazonaws.com/a.storyblok.com/f/…`, `//a.storyblok.com/f/…`).
//!
//! # The asset library
//!
//! The list (`GET /assets/`) shows the space's assets, signed ones whether finished or not,
//! newest first, filtered by `search` (a case-insensitive substring of the parameterized file
//! name), `in_folder` (a folder id: the assets directly in it; 0: those in no folder; -1: the
//! deleted ones; any other negative number: none), `is_private=1`, `with_tags` (tag names,
//! comma-separated, any of them) and sorted by `sort_by` (`created_at`, `updated_at` or
//! `short_filename`, `:asc` or `:desc`).
//! `page` counts from 1 and `per_page` is 25 unless asked, at most 100; the `Total` and
//! `Per-Page` headers give the number of matches and the page size. A page past the end is
//! an empty list.
//!
//! Folders ([`AssetFolder`]) are listed with `search`, `with_parent` (0: the root) and
//! `by_ids`, and created with a name and an optional `parent_id` (an unknown one is a 422).
//! Internal tags ([`InternalTag`]) are listed with `by_object_type` and `search`, and created
//! with a name and an `object_type` (`asset`, the default, or `component`).
//!
//! A test can set the library up without requests: [`EmulatorBuilder::folder`],
//! [`Emulator::add_folder`], [`Emulator::create_folder`], [`Emulator::create_internal_tag`],
//! and [`Emulator::seed_asset`] for a finished asset with its file already in the bucket.
//!
//! # URLs, proxies and ports
//!
//! [`EmulatorBuilder::public_origin`] is where clients reach the emulator, such as
//! `https://localhost:4443` for a TLS-terminating proxy in front of it; every URL the
//! emulator hands out is built from it. [`Emulator::addr`] is the socket the proxy forwards
//! to. [`EmulatorBuilder::port`] fixes the port, for an emulator separate processes share:
//! `examples/serve.rs` serves one until its stdin closes and prints its URL and tokens as a
//! JSON line.
//!
//! # The request log
//!
//! [`Emulator::requests`] and [`Emulator::requests_for`] return every request since the start
//! (or [`Emulator::clear_requests`]) in the order their heads arrived, each with its
//! [`Endpoint`], method, path, headers, the status answered (0 if none was: the request is
//! still in progress, a fault dropped or cut its connection, or the connection closed or
//! timed out before the request was read whole), its JSON body and its parsed S3 form. Bodies and form
//! parts longer than [`RECORDED_BODY_LIMIT`] (64 KiB) are recorded by their length only
//! ([`RecordedRequest::body_len`], [`FormPart::length`]); stored objects keep every byte.
//! The log keeps one entry per request until it is cleared, unless
//! [`EmulatorBuilder::max_recorded_requests`] bounds it to the latest ones.
//!
//! # Faults
//!
//! A [`Fault`] fires once, on the n-th request of an endpoint (counted when its head arrives):
//!
//! - [`Fault::respond`]: answer with a given status and body instead of handling it (no side
//!   effects, not counted against the rate limit), [`Fault::with_header`] adds headers such
//!   as `Retry-After`;
//! - [`Fault::delay`]: hold it, then handle it normally;
//! - [`Fault::drop_connection`]: read it whole, then close the connection without answering;
//! - [`Fault::reset_mid_body`]: read about half of its body, then close the connection without
//!   answering, so the client's upload is cut off mid-body;
//! - [`Fault::drip`]: handle it normally, then send the answer's body one byte at a time,
//!   each after a pause, as a server that stalls mid-answer;
//! - [`Fault::stale_policy`] and [`Fault::tamper_field`]: a sign answer whose policy S3 then
//!   refuses as expired, or whose field no longer matches its signature;
//! - [`Fault::cut_answer`]: handle it normally, then send the answer's head and half its
//!   body and close the connection, as a download cut off mid-stream;
//! - [`Fault::hold`]: hold it until another endpoint has seen so many requests (or a time has
//!   passed), then handle it normally, so that two clients' calls interleave the same way
//!   every time.
//!
//! # Limits
//!
//! The emulator bounds what a client can make it hold: a request head of at most 64 KiB; a
//! Management API body of at most [`MAX_MAPI_BODY`] (1 MiB; 413 with a JSON error); an S3
//! upload of at most [`EmulatorBuilder::max_body`] (1 GiB by default; 413
//! `MaxMessageLengthExceeded`), both decided from the declared `Content-Length` before any of
//! the body is read, and a chunked body as it grows; and a connection idle for
//! [`EmulatorBuilder::idle_timeout`] (30 s by default, longer than ureq's 15 s pool timeout so
//! a client never reuses a connection the emulator just closed), or whose request head takes
//! that long, is closed and its thread ends. A refusal that leaves a body unread closes the
//! connection after the answer (discarding at most 1 MiB of the body, for at most 2 s, first).
//!
//! The emulator is for tests. In particular:
//!
//! - its key is a test key, not a security boundary, and it trusts its own loopback socket;
//! - bodies are read whole into memory (within the limits above). That is fine for test files;
//!   benchmarking multi-gigabyte uploads would want a streaming sink instead;
//! - one thread serves each connection;
//! - finish is a little stricter than Storyblok: the object must have been uploaded *after*
//!   the latest sign of that asset, so a replace (sign with `id`) that skips the upload fails;
//! - it keeps everything in memory until it is dropped.
//!
//! # Several spaces
//!
//! [`EmulatorBuilder::space`] serves more spaces beside the first. Each has its own assets,
//! trash, folders, tags and rate window; asset, folder and tag ids are unique across them, as
//! at Storyblok, and another space's asset, folder or tag is unknown (404, or 422 as a
//! parameter). One token reaches every space, as a personal access token reaches every
//! space of its user; one bucket holds every space's files (keys start `f/{space}/`), and the
//! request log, faults and the cap of requests in flight are the emulator's. A test sets a
//! space up and reads it through [`Emulator::space`]; the emulator's own methods
//! ([`Emulator::assets`], [`Emulator::seed_asset`], ...) act on the first space.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod b64;
mod builder;
mod clock;
mod dispatch;
mod fault;
mod http;
mod mapi;
mod multipart;
mod names;
mod policy;
mod random;
mod rate;
mod record;
mod route;
mod s3;
mod seed;
mod signer;
pub mod sigv4;
mod space;
mod state;
mod store;

pub use builder::{EmulatorBuilder, FinishShape, UpdateShape};
pub use fault::{Fault, FaultAction};
pub use record::{Endpoint, FormPart, RecordedForm, RecordedRequest};
pub use signer::PolicySigner;
pub use space::Space;
pub use store::{AssetFolder, InternalTag, StoredAsset, StoredObject};

use std::fmt;
use std::sync::Arc;

/// The largest Management API request body the emulator reads, in bytes (1 MiB): a longer
/// one, by its declared `Content-Length` or as a chunked body grows, gets 413 with a JSON
/// error, and the connection is closed.
pub const MAX_MAPI_BODY: u64 = 1 << 20;

/// Request bodies and form parts up to this many bytes (64 KiB) are kept in the request log
/// ([`RecordedRequest::body`], [`FormPart::value`]); longer ones are recorded by their length
/// only ([`RecordedRequest::body_len`], [`FormPart::length`]). Stored objects keep all their
/// bytes.
pub const RECORDED_BODY_LIMIT: usize = 64 * 1024;

use state::State;

/// A running emulator. Dropping it stops the listener and closes open connections.
///
/// It is `Send + Sync`: share it between test threads by reference or in an `Arc`.
pub struct Emulator {
    state: Arc<State>,
    server: http::Server,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("api_url", &self.api_url())
            .field("s3_url", &self.s3_url())
            .field("space_id", &self.state.config.space_id)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// Starts an emulator with the default configuration (see [`EmulatorBuilder`]).
    pub fn start() -> std::io::Result<Emulator> {
        Emulator::builder().start()
    }

    /// A builder to configure the emulator before starting it.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The Management API base URL, `{public_origin}/v1` (by default
    /// `http://127.0.0.1:{port}/v1`).
    pub fn api_url(&self) -> String {
        format!("{}/v1", self.state.config.origin)
    }

    /// Where clients reach the emulator, `scheme://host[:port]` (see
    /// [`EmulatorBuilder::public_origin`]; by default `http://127.0.0.1:{port}`).
    pub fn public_origin(&self) -> &str {
        &self.state.config.origin
    }

    /// The address the emulator listens on, `127.0.0.1:{port}`: what a proxy in front of it
    /// forwards to, or what a raw socket connects to.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }

    /// The S3 URL handed out as `post_url`, `{public_origin}/a.storyblok.com` (by default
    /// `http://127.0.0.1:{port}/a.storyblok.com`).
    pub fn s3_url(&self) -> String {
        self.state.config.s3_url.clone()
    }

    /// The personal access token accepted raw in `Authorization`.
    pub fn token(&self) -> &str {
        &self.state.config.token
    }

    /// The OAuth token accepted as `Authorization: Bearer <token>`.
    pub fn oauth_token(&self) -> &str {
        &self.state.config.oauth_token
    }

    /// The key pair the emulator signs its own policies with (AWS Signature Version 4, region
    /// `us-east-1`, fresh for every emulator), so a test can check or forge a signature.
    pub fn credentials(&self) -> &sigv4::Credentials {
        &self.state.config.credentials
    }

    /// The id of the first space the emulator serves ([`EmulatorBuilder::space_id`]).
    pub fn space_id(&self) -> u64 {
        self.state.config.space_id
    }

    /// Every request received (since the start or the last [`clear_requests`]), in the order
    /// their heads arrived. A request still being handled shows status 0, and no body: its
    /// body, status and form are recorded together once it has been handled.
    ///
    /// [`clear_requests`]: Emulator::clear_requests
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .lock()
            .requests
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// The recorded requests of one endpoint, in arrival order.
    pub fn requests_for(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.state
            .lock()
            .requests
            .iter()
            .filter(|(_, r)| r.endpoint == endpoint)
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// A space the emulator serves ([`EmulatorBuilder::space_id`] and
    /// [`EmulatorBuilder::space`]), to set up and inspect; `None` for any other.
    pub fn space(&self, id: u64) -> Option<Space<'_>> {
        Space::new(&self.state, id)
    }

    /// Every space served: the first ([`EmulatorBuilder::space_id`]) first, then the others
    /// ([`EmulatorBuilder::space`]) by id.
    pub fn space_ids(&self) -> Vec<u64> {
        let first = self.space_id();
        let others = self.state.lock().spaces.keys().copied().collect::<Vec<_>>();
        std::iter::once(first)
            .chain(others.into_iter().filter(|id| *id != first))
            .collect()
    }

    /// The first space ([`EmulatorBuilder::space_id`]), which the methods below act on.
    fn first(&self) -> Space<'_> {
        Space::first(&self.state)
    }

    /// Every asset record of the first space (signed, whether finished or not, and not
    /// deleted), by id; [`Space::assets`].
    pub fn assets(&self) -> Vec<StoredAsset> {
        self.first().assets()
    }

    /// The first space's asset record with this id (not deleted); [`Space::asset`].
    pub fn asset(&self, id: u64) -> Option<StoredAsset> {
        self.first().asset(id)
    }

    /// Adds a finished asset to the first space, as if someone had uploaded it earlier;
    /// [`Space::seed_asset`].
    pub fn seed_asset(
        &self,
        filename: &str,
        bytes: impl Into<Vec<u8>>,
        folder: Option<u64>,
    ) -> StoredAsset {
        self.first().seed_asset(filename, bytes, folder)
    }

    /// The object S3 stored under `key`.
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.state.lock().objects.get(key).map(|o| o.to_object(key))
    }

    /// Queues a fault. It fires once, on the `nth` request of its endpoint.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Makes `id` a valid `asset_folder_id` of the first space; [`Space::add_folder`].
    pub fn add_folder(&self, id: u64) {
        self.first().add_folder(id);
    }

    /// Creates a folder in the first space without a request; [`Space::create_folder`].
    pub fn create_folder(&self, name: impl Into<String>, parent: Option<u64>) -> u64 {
        self.first().create_folder(name, parent)
    }

    /// Every asset folder of the first space, by id.
    pub fn folders(&self) -> Vec<AssetFolder> {
        self.first().folders()
    }

    /// Creates an internal tag in the first space without a request;
    /// [`Space::create_internal_tag`].
    pub fn create_internal_tag(&self, name: impl Into<String>) -> u64 {
        self.first().create_internal_tag(name)
    }

    /// Every internal tag of the first space, by id.
    pub fn internal_tags(&self) -> Vec<InternalTag> {
        self.first().internal_tags()
    }

    /// Forgets the recorded requests and restarts the per-endpoint counts that faults refer to.
    /// Queued faults stay queued.
    pub fn clear_requests(&self) {
        let mut inner = self.state.lock();
        inner.requests.clear();
        inner.counts.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Emulator>();
    }
}
