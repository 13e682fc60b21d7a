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
//! - request bodies are read whole into memory. That is fine for test files; benchmarking
//!   multi-gigabyte uploads would want a streaming sink instead;
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
//! let addr = emulator.api_url().trim_start_matches("http://").trim_end_matches("/v1").to_string();
//! let body = r#"{"filename":"Mars.JPG"}"#;
//! let mut socket = std::net::TcpStream::connect(addr)?;
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
mod clock;
mod http;
mod mapi;
mod multipart;
mod policy;
mod random;
mod s3;
mod signer;
pub mod sigv4;

pub use signer::PolicySigner;
use signer::SharedSigner;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;

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

    /// The Management API base URL, `http://127.0.0.1:{port}/v1`.
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }

    /// The S3 URL handed out as `post_url`, `http://127.0.0.1:{port}/a.storyblok.com`.
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
        self.state
            .lock()
            .assets
            .values()
            .map(|r| r.asset.clone())
            .collect()
    }

    /// The asset record with this id.
    pub fn asset(&self, id: u64) -> Option<StoredAsset> {
        self.state.lock().assets.get(&id).map(|r| r.asset.clone())
    }

    /// The object S3 stored under `key`.
    pub fn object(&self, key: &str) -> Option<StoredObject> {
        self.state.lock().objects.get(key).map(|o| o.object.clone())
    }

    /// Queues a fault. It fires once, on the `nth` request of its endpoint.
    pub fn inject(&self, fault: Fault) {
        self.state.lock().faults.push(fault);
    }

    /// Makes `id` a valid `asset_folder_id`.
    pub fn add_folder(&self, id: u64) {
        self.state.lock().folders.insert(id);
    }

    /// Forgets the recorded requests and restarts the per-endpoint counts that faults refer to.
    /// Queued faults stay queued.
    pub fn clear_requests(&self) {
        let mut inner = self.state.lock();
        inner.requests.clear();
        inner.counts.clear();
    }
}

/// Configures an [`Emulator`]. Setters consume and return the builder.
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    token: String,
    oauth_token: String,
    space_id: u64,
    folders: BTreeSet<u64>,
    rate_limit: Option<u32>,
    max_in_flight: usize,
    policy_ttl: Duration,
    max_file_size: u64,
    finish_shape: FinishShape,
    signer: Option<SharedSigner>,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            token: "emulator-personal-token".into(),
            oauth_token: "emulator-oauth-token".into(),
            space_id: 606,
            folders: BTreeSet::new(),
            rate_limit: Some(6),
            max_in_flight: 30,
            policy_ttl: Duration::from_secs(600),
            max_file_size: 5_242_879_999,
            finish_shape: FinishShape::Flat,
            signer: None,
        }
    }
}

impl EmulatorBuilder {
    /// The personal access token (default `emulator-personal-token`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = token.into();
        self
    }

    /// The OAuth token (default `emulator-oauth-token`).
    pub fn oauth_token(mut self, token: impl Into<String>) -> Self {
        self.oauth_token = token.into();
        self
    }

    /// The space id (default 606). Requests for any other space get 404.
    pub fn space_id(mut self, space_id: u64) -> Self {
        self.space_id = space_id;
        self
    }

    /// Adds a known asset folder; call it once per folder (default: none).
    pub fn folder(mut self, id: u64) -> Self {
        self.folders.insert(id);
        self
    }

    /// Management API requests per second per space, counted in fixed windows aligned to
    /// whole Unix seconds (default `Some(6)`, a paid plan; Starter is 3). `None` turns the
    /// limit off.
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// The most Management API requests handled at once; more get 429 (default 30).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// How long a signed policy stays valid (default 10 minutes). `Duration::ZERO` makes every
    /// policy already expired.
    pub fn policy_ttl(mut self, ttl: Duration) -> Self {
        self.policy_ttl = ttl;
        self
    }

    /// The maximum of the policy's `content-length-range` (default 5,242,879,999).
    pub fn max_file_size(mut self, max: u64) -> Self {
        self.max_file_size = max;
        self
    }

    /// The shape of the finish response (default [`FinishShape::Flat`]).
    pub fn finish_shape(mut self, shape: FinishShape) -> Self {
        self.finish_shape = shape;
        self
    }

    /// Signs uploads for a real S3 server instead of the emulator's own: the sign answer's
    /// `post_url`, the policy's bucket, `x-amz-credential` and `x-amz-signature` come from
    /// `signer`. The emulator then cannot see the uploaded file, so finish does not check
    /// for it.
    pub fn external_s3(mut self, signer: impl PolicySigner + 'static) -> Self {
        self.signer = Some(SharedSigner(Arc::new(signer)));
        self
    }

    /// Binds `127.0.0.1:0` and starts serving on a background thread.
    pub fn start(self) -> std::io::Result<Emulator> {
        // The server must exist before the config knows its URL, so the handler reaches the
        // state through a slot filled right after binding.
        let slot: Arc<Mutex<Option<Arc<State>>>> = Arc::default();
        let handler_slot = Arc::clone(&slot);
        let server = http::Server::start(Arc::new(move |head: &http::Head| {
            let state = handler_slot
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            match state {
                Some(state) => state.plan(head),
                None => http::Plan::Read(Box::new(|_| http::Outcome::Drop)),
            }
        }))?;
        let port = server.addr().port();
        let state = Arc::new(State {
            config: Config {
                credentials: sigv4::Credentials::random(),
                s3_url: format!("http://127.0.0.1:{port}/{}", policy::BUCKET),
                token: self.token,
                oauth_token: self.oauth_token,
                space_id: self.space_id,
                rate_limit: self.rate_limit,
                max_in_flight: self.max_in_flight,
                policy_ttl: self.policy_ttl,
                max_file_size: self.max_file_size,
                finish_shape: self.finish_shape,
                signer: self.signer,
            },
            inner: Mutex::new(Inner {
                folders: self.folders,
                next_id: 100_001,
                ..Inner::default()
            }),
            in_flight: AtomicUsize::new(0),
        });
        *slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&state));
        Ok(Emulator { state, server })
    }
}

/// The shape of the finish response; Storyblok's docs and its real responses disagree.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FinishShape {
    /// `{"id": .., "filename": .., "alt": .., ...}`, as the OpenAPI spec and real responses.
    #[default]
    Flat,
    /// `{"asset": {"id": .., ...}}`, as the prose docs.
    Wrapped,
}

/// The endpoint a request belongs to.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `POST /v1/spaces/{space}/assets/`.
    Sign,
    /// `POST` to the S3 URL.
    Upload,
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish,
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete,
    /// Anything else, including `GET /v1/spaces/{space}/assets/{id}`.
    Other,
}

/// One request as the emulator received it, and the status it answered.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// The endpoint the request was classified as.
    pub endpoint: Endpoint,
    /// The HTTP method.
    pub method: String,
    /// The request target, query string included.
    pub path: String,
    /// The headers, names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The raw body of a Management API request; empty for S3 (see `form`).
    pub body: Vec<u8>,
    /// The body of a Management API request, when it is JSON.
    pub json: Option<Value>,
    /// The parsed form of an S3 upload, when it parsed.
    pub form: Option<RecordedForm>,
    /// The status answered; 0 if the connection was dropped (or the request is in progress).
    pub status: u16,
}

impl RecordedRequest {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A parsed `multipart/form-data` upload.
#[derive(Clone, Debug)]
pub struct RecordedForm {
    /// Every part, in order.
    pub parts: Vec<FormPart>,
}

impl RecordedForm {
    /// The non-file parts (not named `file`, no filename) as text, in order.
    pub fn fields(&self) -> Vec<(String, String)> {
        self.parts
            .iter()
            .filter(|p| p.name != "file" && p.filename.is_none())
            .map(|p| {
                (
                    p.name.clone(),
                    String::from_utf8_lossy(&p.value).into_owned(),
                )
            })
            .collect()
    }

    /// The part named `file`.
    pub fn file(&self) -> Option<&FormPart> {
        self.parts.iter().find(|p| p.name == "file")
    }

    /// Whether the last part is the one named `file`.
    pub fn file_is_last(&self) -> bool {
        self.parts.last().is_some_and(|p| p.name == "file")
    }
}

/// One part of a multipart form.
#[derive(Clone, Debug)]
pub struct FormPart {
    /// The `name` of its `Content-Disposition`.
    pub name: String,
    /// The `filename` of its `Content-Disposition`, if any.
    pub filename: Option<String>,
    /// Its `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// Its content.
    pub value: Vec<u8>,
}

/// An asset record, as created by sign.
#[derive(Clone, Debug)]
pub struct StoredAsset {
    /// The asset id (sequential from 100001).
    pub id: u64,
    /// The space.
    pub space_id: u64,
    /// The parameterized file name, as in the key.
    pub filename: String,
    /// The S3 key, `f/{space}/[{w}x{h}/]{hash}/{filename}`.
    pub key: String,
    /// The folder, if one was given.
    pub asset_folder_id: Option<u64>,
    /// Whether the asset is private.
    pub is_private: bool,
    /// The `size` sent (normalised to a lower-case `x`).
    pub size: Option<String>,
    /// Whether sign asked for upload validation.
    pub validate_upload: bool,
    /// `alt` text.
    pub alt: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Copyright.
    pub copyright: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Focus point.
    pub focus: Option<String>,
    /// External id.
    pub ext_id: Option<String>,
    /// `meta_data` (an empty object unless sent).
    pub meta_data: Value,
    /// The Content-Type derived from the file name's extension.
    pub content_type: String,
    /// How many times the asset was signed (1 + replaces).
    pub sign_count: u32,
    /// Whether finish succeeded since the latest sign.
    pub finished: bool,
}

/// An object stored by the S3 endpoint.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// The key.
    pub key: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` form field.
    pub content_type: String,
    /// The `Cache-Control` form field.
    pub cache_control: String,
    /// The `acl` form field.
    pub acl: String,
}

/// A fault to inject into the n-th request of an endpoint.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The endpoint whose requests are counted.
    pub endpoint: Endpoint,
    /// 1-based: the n-th request of that endpoint since the start (or [`Emulator::clear_requests`]).
    pub nth: usize,
    /// What to do to it.
    pub action: FaultAction,
}

/// What a [`Fault`] does.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum FaultAction {
    /// Answer with this instead of handling the request (not rate-limited, no side effects).
    Respond {
        /// The status.
        status: u16,
        /// The body.
        body: String,
        /// The `Content-Type`.
        content_type: String,
        /// Further headers, such as `Retry-After`.
        headers: Vec<(String, String)>,
    },
    /// Sleep, then handle the request normally.
    Delay(Duration),
    /// Read the request, then close the connection without answering.
    Drop,
    /// On a sign: date the policy this long ago (`x-amz-date`, and `expiration` one policy
    /// lifetime later), as a signer with a slow clock would. A lifetime's worth or more
    /// makes a policy S3 refuses as expired that still looks fresh from its own dates.
    StalePolicy(Duration),
    /// On a sign: hand out this field value instead of the signed one, as a proxy that
    /// rewrites the answer would; S3 then refuses the upload.
    TamperField {
        /// The field's name.
        name: String,
        /// The value handed out.
        value: String,
    },
    /// Read about half of the request body, then close the connection without answering, so
    /// the client sees its upload cut off mid-body. Without a `Content-Length` (no body, or a
    /// chunked one), only the head is read.
    ResetMidBody,
}

impl Fault {
    /// Answers the `nth` request of `endpoint` with `status` and `body`. The content type is
    /// `application/xml` if the body starts with `<`, else `application/json`.
    pub fn respond(endpoint: Endpoint, nth: usize, status: u16, body: impl Into<String>) -> Fault {
        let body = body.into();
        let content_type = if body.trim_start().starts_with('<') {
            "application/xml"
        } else {
            "application/json"
        };
        Fault {
            endpoint,
            nth,
            action: FaultAction::Respond {
                status,
                body,
                content_type: content_type.into(),
                headers: Vec::new(),
            },
        }
    }

    /// Dates the policy of the `nth` sign `age` ago; see [`FaultAction::StalePolicy`].
    pub fn stale_policy(nth: usize, age: Duration) -> Fault {
        Fault {
            endpoint: Endpoint::Sign,
            nth,
            action: FaultAction::StalePolicy(age),
        }
    }

    /// Hands out `value` for the signed field `name` in the `nth` sign answer; see
    /// [`FaultAction::TamperField`].
    pub fn tamper_field(nth: usize, name: impl Into<String>, value: impl Into<String>) -> Fault {
        Fault {
            endpoint: Endpoint::Sign,
            nth,
            action: FaultAction::TamperField {
                name: name.into(),
                value: value.into(),
            },
        }
    }

    /// Adds a header to a [`Fault::respond`] answer, such as `Retry-After`. Other faults
    /// send no answer and are left as they are.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Fault {
        if let FaultAction::Respond { headers, .. } = &mut self.action {
            headers.push((name.into(), value.into()));
        }
        self
    }

    /// Delays the `nth` request of `endpoint` by `delay`, then handles it normally.
    pub fn delay(endpoint: Endpoint, nth: usize, delay: Duration) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Delay(delay),
        }
    }

    /// Closes the connection of the `nth` request of `endpoint` without answering.
    pub fn drop_connection(endpoint: Endpoint, nth: usize) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::Drop,
        }
    }

    /// Reads about half of the body of the `nth` request of `endpoint` (at least 1 byte, and
    /// never all of it when it has more than one), then closes the connection without
    /// answering, so the client sees its upload cut off mid-body. The request is recorded with
    /// status 0 and no body.
    pub fn reset_mid_body(endpoint: Endpoint, nth: usize) -> Fault {
        Fault {
            endpoint,
            nth,
            action: FaultAction::ResetMidBody,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Internal state.

/// Fixed configuration.
pub(crate) struct Config {
    pub(crate) token: String,
    pub(crate) oauth_token: String,
    pub(crate) space_id: u64,
    pub(crate) rate_limit: Option<u32>,
    pub(crate) max_in_flight: usize,
    pub(crate) policy_ttl: Duration,
    pub(crate) max_file_size: u64,
    pub(crate) finish_shape: FinishShape,
    /// Sign the emulator's own policies (SigV4) and key its ids.
    pub(crate) credentials: sigv4::Credentials,
    pub(crate) s3_url: String,
    /// Signs for a real S3 server instead of the emulator's own.
    pub(crate) signer: Option<SharedSigner>,
}

/// What a fault changes in a sign answer.
#[derive(Default)]
pub(crate) struct SignFault {
    pub(crate) age: Duration,
    pub(crate) tamper: Option<(String, String)>,
}

impl From<Option<FaultAction>> for SignFault {
    fn from(action: Option<FaultAction>) -> SignFault {
        match action {
            Some(FaultAction::StalePolicy(age)) => SignFault { age, tamper: None },
            Some(FaultAction::TamperField { name, value }) => SignFault {
                age: Duration::ZERO,
                tamper: Some((name, value)),
            },
            _ => SignFault::default(),
        }
    }
}

/// Shared by the handle and every connection thread.
pub(crate) struct State {
    pub(crate) config: Config,
    pub(crate) inner: Mutex<Inner>,
    /// Management API requests being handled.
    pub(crate) in_flight: AtomicUsize,
}

/// An asset record plus what the emulator needs to know about it.
#[derive(Clone, Debug)]
pub(crate) struct AssetRecord {
    pub(crate) asset: StoredAsset,
    /// The event number of its latest sign.
    pub(crate) signed_at: u64,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
}

/// A stored object plus when it was stored.
#[derive(Clone, Debug)]
pub(crate) struct ObjectRecord {
    pub(crate) object: StoredObject,
    /// The event number of its upload.
    pub(crate) stored_at: u64,
}

/// Mutable state.
#[derive(Default)]
pub(crate) struct Inner {
    /// (sequence number, request), so an in-progress entry can be updated after a clear.
    pub(crate) requests: Vec<(u64, RecordedRequest)>,
    next_request: u64,
    counts: HashMap<Endpoint, usize>,
    faults: Vec<Fault>,
    pub(crate) assets: BTreeMap<u64, AssetRecord>,
    pub(crate) objects: HashMap<String, ObjectRecord>,
    pub(crate) folders: BTreeSet<u64>,
    pub(crate) next_id: u64,
    /// Orders signs and uploads.
    pub(crate) events: u64,
    pub(crate) rate: mapi::RateLimiter,
}

impl Inner {
    /// The next event number.
    pub(crate) fn next_event(&mut self) -> u64 {
        self.events += 1;
        self.events
    }
}

impl State {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs when a request's head arrives: classifies, counts and records it, and picks its
    /// fault. Then either cuts the body short ([`FaultAction::ResetMidBody`]) or has the body
    /// read and the request handed to [`State::handle`].
    fn plan(self: Arc<Self>, head: &http::Head) -> http::Plan {
        let route = Route::parse(&head.method, &head.target);
        let endpoint = route.endpoint();
        let (seq, fault) = {
            let mut inner = self.lock();
            let count = inner.counts.entry(endpoint).or_insert(0);
            *count += 1;
            let nth = *count;
            let fault = inner
                .faults
                .iter()
                .position(|f| f.endpoint == endpoint && f.nth == nth)
                .map(|i| inner.faults.remove(i).action);
            let seq = inner.next_request;
            inner.next_request += 1;
            inner.requests.push((
                seq,
                RecordedRequest {
                    endpoint,
                    method: head.method.clone(),
                    path: head.target.clone(),
                    headers: head.headers.clone(),
                    body: Vec::new(),
                    json: None,
                    form: None,
                    status: 0,
                },
            ));
            (seq, fault)
        };
        if let Some(FaultAction::ResetMidBody) = fault {
            return http::Plan::Cut(cut_point(head.content_length));
        }
        http::Plan::Read(Box::new(move |request| {
            self.handle(&request, &route, seq, fault)
        }))
    }

    /// Runs once the whole request is read: records its body, applies its fault, then hands it
    /// to the MAPI or S3 handler.
    fn handle(
        &self,
        request: &http::Request,
        route: &Route,
        seq: u64,
        fault: Option<FaultAction>,
    ) -> http::Outcome {
        let mapi = route.is_mapi();
        // Count the request towards the in-flight cap first, so a delayed request holds its slot.
        let in_flight = mapi.then(|| InFlight::enter(&self.in_flight));
        let over_in_flight = in_flight
            .as_ref()
            .is_some_and(|g| g.position > self.config.max_in_flight);
        if mapi && !request.body.is_empty() {
            let json = serde_json::from_slice(&request.body).ok();
            let mut inner = self.lock();
            if let Some((_, recorded)) = inner.requests.iter_mut().find(|(s, _)| *s == seq) {
                recorded.body.clone_from(&request.body);
                recorded.json = json;
            }
        }
        let mut form = None;
        let outcome = match fault {
            Some(FaultAction::Respond {
                status,
                body,
                content_type,
                headers,
            }) => {
                let mut response = http::Response::new(status, &content_type, body);
                response.headers.extend(headers);
                http::Outcome::Respond(response)
            }
            Some(FaultAction::Drop | FaultAction::ResetMidBody) => http::Outcome::Drop,
            action => {
                if let Some(FaultAction::Delay(delay)) = action {
                    std::thread::sleep(delay);
                }
                let sign_fault = SignFault::from(action);
                http::Outcome::Respond(match route {
                    Route::Upload => {
                        let (response, parsed) = s3::handle(self, request);
                        form = parsed;
                        response
                    }
                    Route::NotMapi => s3::not_found(&request.target),
                    _ => mapi::handle(self, route, request, over_in_flight, sign_fault),
                })
            }
        };
        let status = match &outcome {
            http::Outcome::Respond(r) => r.status,
            http::Outcome::Drop => 0,
        };
        let mut inner = self.lock();
        if let Some((_, recorded)) = inner.requests.iter_mut().find(|(s, _)| *s == seq) {
            recorded.status = status;
            recorded.form = form;
        }
        outcome
    }
}

/// How many body bytes [`FaultAction::ResetMidBody`] reads: about half, at least one, and all of
/// them only when there is a single one; none without a `Content-Length`.
fn cut_point(content_length: Option<u64>) -> u64 {
    content_length.map_or(0, |len| (len / 2).max(1).min(len))
}

/// Counts a request in flight for as long as it lives.
struct InFlight<'a> {
    counter: &'a AtomicUsize,
    /// 1-based position among the requests in flight when it entered.
    position: usize,
}

impl<'a> InFlight<'a> {
    fn enter(counter: &'a AtomicUsize) -> InFlight<'a> {
        let position = counter.fetch_add(1, Ordering::SeqCst) + 1;
        InFlight { counter, position }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where a request goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST /v1/spaces/{space}/assets[/]`.
    Sign { space: String },
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish { space: String, id: String },
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete { space: String, id: String },
    /// `GET /v1/spaces/{space}/assets/{id}`.
    Get { space: String, id: String },
    /// Any other path under `/v1`; the space, if the path names one.
    OtherMapi { space: Option<String> },
    /// `POST /a.storyblok.com[/]`.
    Upload,
    /// Anything else.
    NotMapi,
}

impl Route {
    pub(crate) fn parse(method: &str, target: &str) -> Route {
        let path = target.split(['?', '#']).next().unwrap_or_default();
        let path = path.strip_suffix('/').unwrap_or(path);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        match (method, segments.as_slice()) {
            ("POST", [bucket]) if *bucket == policy::BUCKET => Route::Upload,
            (_, ["v1", "spaces", space, "assets"]) if method == "POST" => Route::Sign {
                space: (*space).into(),
            },
            ("GET", ["v1", "spaces", space, "assets", id, "finish_upload"]) => Route::Finish {
                space: (*space).into(),
                id: (*id).into(),
            },
            ("DELETE", ["v1", "spaces", space, "assets", id]) => Route::Delete {
                space: (*space).into(),
                id: (*id).into(),
            },
            ("GET", ["v1", "spaces", space, "assets", id]) => Route::Get {
                space: (*space).into(),
                id: (*id).into(),
            },
            (_, ["v1", "spaces", space, ..]) => Route::OtherMapi {
                space: Some((*space).into()),
            },
            (_, ["v1", ..]) => Route::OtherMapi { space: None },
            _ => Route::NotMapi,
        }
    }

    pub(crate) fn endpoint(&self) -> Endpoint {
        match self {
            Route::Sign { .. } => Endpoint::Sign,
            Route::Upload => Endpoint::Upload,
            Route::Finish { .. } => Endpoint::Finish,
            Route::Delete { .. } => Endpoint::Delete,
            Route::Get { .. } | Route::OtherMapi { .. } | Route::NotMapi => Endpoint::Other,
        }
    }

    pub(crate) fn is_mapi(&self) -> bool {
        !matches!(self, Route::Upload | Route::NotMapi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let sign = Route::Sign {
            space: "606".into(),
        };
        assert_eq!(Route::parse("POST", "/v1/spaces/606/assets/"), sign);
        assert_eq!(Route::parse("POST", "/v1/spaces/606/assets"), sign);
        assert_eq!(
            Route::parse("POST", "/v1/spaces/606/assets/?filename=a.png"),
            sign
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/7/finish_upload").endpoint(),
            Endpoint::Finish
        );
        assert_eq!(
            Route::parse("DELETE", "/v1/spaces/606/assets/7").endpoint(),
            Endpoint::Delete
        );
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/assets/7"),
            Route::Get {
                space: "606".into(),
                id: "7".into()
            }
        );
        assert_eq!(Route::parse("POST", "/a.storyblok.com"), Route::Upload);
        assert_eq!(Route::parse("POST", "/a.storyblok.com/"), Route::Upload);
        assert_eq!(Route::parse("PUT", "/a.storyblok.com"), Route::NotMapi);
        assert_eq!(Route::parse("GET", "/"), Route::NotMapi);
        assert_eq!(
            Route::parse("GET", "/v1/spaces/606/stories"),
            Route::OtherMapi {
                space: Some("606".into())
            }
        );
        assert!(Route::parse("GET", "/v1/whatever").is_mapi());
    }

    #[test]
    fn recorded_form_helpers() {
        let part = |name: &str, filename: Option<&str>| FormPart {
            name: name.into(),
            filename: filename.map(Into::into),
            content_type: None,
            value: b"v".to_vec(),
        };
        let form = RecordedForm {
            parts: vec![part("key", None), part("file", Some("a.png"))],
        };
        assert_eq!(form.fields(), [("key".to_string(), "v".to_string())]);
        assert_eq!(form.file().map(|p| p.name.as_str()), Some("file"));
        assert!(form.file_is_last());
        let form = RecordedForm {
            parts: vec![part("file", Some("a.png")), part("key", None)],
        };
        assert!(!form.file_is_last());
        assert!(!RecordedForm { parts: Vec::new() }.file_is_last());
    }

    #[test]
    fn fault_content_type_is_guessed() {
        let xml = Fault::respond(Endpoint::Upload, 1, 503, "<Error/>");
        let json = Fault::respond(Endpoint::Sign, 2, 500, "{}");
        assert!(matches!(
            xml.action,
            FaultAction::Respond { ref content_type, .. } if content_type == "application/xml"
        ));
        assert!(matches!(
            json.action,
            FaultAction::Respond { ref content_type, .. } if content_type == "application/json"
        ));
    }

    #[test]
    fn reset_mid_body_reads_about_half() {
        let cuts: Vec<u64> = [None, Some(0), Some(1), Some(2), Some(3), Some(1_000_000)]
            .into_iter()
            .map(cut_point)
            .collect();
        assert_eq!(cuts, [0, 0, 1, 1, 1, 500_000]);
        assert!(matches!(
            Fault::reset_mid_body(Endpoint::Upload, 2),
            Fault {
                endpoint: Endpoint::Upload,
                nth: 2,
                action: FaultAction::ResetMidBody
            }
        ));
    }

    #[test]
    fn emulator_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Emulator>();
    }
}
