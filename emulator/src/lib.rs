//! A local, faithful Storyblok Management API + S3 browser-POST emulator, for tests.
//!
//! [`Emulator::start`] binds `127.0.0.1:0` and serves, on one port:
//!
//! - the Management API under [`Emulator::api_url`] (`http://127.0.0.1:{port}/v1`): sign
//!   (`POST /spaces/{space}/assets/`), finish (`GET /spaces/{space}/assets/{id}/finish_upload`),
//!   delete (`DELETE /spaces/{space}/assets/{id}`) and get (`GET /spaces/{space}/assets/{id}`),
//!   with Storyblok's authentication, its fixed one-second rate-limit window (6 requests per
//!   second per space by default), its cap of 30 requests in flight, and its error bodies;
//! - the S3 bucket under [`Emulator::s3_url`] (`http://127.0.0.1:{port}/a.storyblok.com`), which
//!   the sign response hands out as `post_url`. It accepts a browser-style POST Object and checks
//!   it as S3 does: no `Authorization` header, an exact `Content-Length`, well-formed multipart,
//!   at most 20 KiB before the file, a valid and unexpired policy whose every condition the form
//!   meets with no extra fields, and a file size within `content-length-range`. It is stricter
//!   than S3 in one respect: a form field after the `file` part is an error instead of being
//!   silently ignored. Errors are S3's XML.
//!
//! Every request is recorded ([`Emulator::requests`]) with what the emulator answered, so a test
//! can assert on headers, form fields and their order. Faults ([`Fault`]) can be queued for the
//! n-th request of an endpoint (counted when its head arrives):
//!
//! - [`Fault::respond`]: answer with a given status and body instead of handling it;
//! - [`Fault::delay`]: sleep, then handle it normally;
//! - [`Fault::drop_connection`]: read it whole, then close the connection without answering;
//! - [`Fault::reset_mid_body`]: read about half of its body, then close the connection without
//!   answering, so the client's upload is cut off mid-body.
//!
//! The emulator is for tests. In particular:
//!
//! - the policy signature is real AWS Signature Version 4 under a key pair made fresh for each
//!   emulator ([`Emulator::credentials`]); the S3 endpoint recomputes it from the credential's
//!   day and the policy. The key is a test key, not a security boundary;
//! - request bodies are read whole into memory, up to [`EmulatorBuilder::max_body`] (1 GiB by
//!   default; Management API bodies up to [`MAX_MAPI_BODY`]). That is fine for test files;
//!   benchmarking multi-gigabyte uploads would want a streaming sink instead;
//! - finish is a little stricter than Storyblok: the object must have been uploaded *after*
//!   the latest sign of that asset, so a replace (sign with `id`) that skips the upload fails.
//!
//! ```
//! use std::io::{Read, Write};
//! use storyblok_assets_emulator::{Emulator, Fault, Endpoint};
//!
//! let emulator = Emulator::builder().space_id(42).start()?;
//! // The first sign request will be answered with a 500.
//! emulator.inject(Fault::respond(Endpoint::Sign, 1, 500, r#"{"error":"boom"}"#));
//!
//! // Any HTTP client works; here, a raw request.
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
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod b64;
mod builder;
mod clock;
mod fault;
mod http;
mod mapi;
mod multipart;
mod policy;
mod random;
mod record;
mod route;
mod s3;
mod signer;
pub mod sigv4;
mod state;
mod store;

pub use builder::{EmulatorBuilder, FinishShape, UpdateShape};
pub use fault::{Fault, FaultAction};
pub use record::{Endpoint, FormPart, RecordedForm, RecordedRequest};
pub use signer::PolicySigner;
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

    /// The id of the one space the emulator serves.
    pub fn space_id(&self) -> u64 {
        self.state.config.space_id
    }

    /// Every request received (since the start or the last [`clear_requests`]), in the order
    /// their heads arrived. A request still being handled shows status 0, and no body until it
    /// has been read.
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

    /// Every asset record (signed, whether finished or not, and not deleted), by id.
    pub fn assets(&self) -> Vec<StoredAsset> {
        let inner = self.state.lock();
        inner.assets.values().map(|r| inner.snapshot(r)).collect()
    }

    /// The asset record with this id (not deleted).
    pub fn asset(&self, id: u64) -> Option<StoredAsset> {
        let inner = self.state.lock();
        inner.assets.get(&id).map(|r| inner.snapshot(r))
    }

    /// Adds a finished asset with its file in the bucket, as if someone had uploaded it
    /// earlier: the parameterized `filename` under a fresh key `f/{space}/{hash}/{name}`, the
    /// Content-Type its extension gives, public, in `folder` (a folder the emulator does not
    /// know is added, as [`add_folder`](Emulator::add_folder) would). Nothing is recorded in
    /// the request log, and no rate limit applies.
    pub fn seed_asset(
        &self,
        filename: &str,
        bytes: impl Into<Vec<u8>>,
        folder: Option<u64>,
    ) -> StoredAsset {
        self.state.seed_asset(filename, bytes.into(), folder)
    }

    /// The object S3 stored under `key`.
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.state.lock().objects.get(key).map(|o| o.to_object(key))
    }

    /// Queues a fault. It fires once, on the `nth` request of its endpoint.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Makes `id` a valid `asset_folder_id`: adds a folder named `Folder {id}` at the root,
    /// unless there is one with that id.
    pub fn add_folder(&self, id: u64) {
        let mut inner = self.state.lock();
        if !inner.folders.contains_key(&id) {
            let secret = &self.state.config.credentials.secret_key;
            inner.put_folder(secret, id, format!("Folder {id}"), None);
        }
    }

    /// Creates a folder named `name` in `parent` (`None`: at the root) and returns its id, as
    /// `POST /asset_folders/` would, without a request. A parent the emulator does not know is
    /// added first, as [`add_folder`](Emulator::add_folder) would.
    pub fn create_folder(&self, name: impl Into<String>, parent: Option<u64>) -> u64 {
        if let Some(parent) = parent {
            self.add_folder(parent);
        }
        let mut inner = self.state.lock();
        let id = inner.new_folder_id();
        let secret = &self.state.config.credentials.secret_key;
        inner.put_folder(secret, id, name.into(), parent);
        id
    }

    /// Every asset folder, by id.
    pub fn folders(&self) -> Vec<AssetFolder> {
        self.state.lock().folders.values().cloned().collect()
    }

    /// Creates an internal tag of object type `asset` and returns its id, as
    /// `POST /internal_tags` would, without a request (and without its check for a name
    /// already taken).
    pub fn create_internal_tag(&self, name: impl Into<String>) -> u64 {
        let mut inner = self.state.lock();
        inner.new_tag(name.into(), "asset".into()).id
    }

    /// Every internal tag, by id.
    pub fn internal_tags(&self) -> Vec<InternalTag> {
        self.state.lock().tags.values().cloned().collect()
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
