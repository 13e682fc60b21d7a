//! Configuring an emulator before it starts.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::signer::SharedSigner;
use crate::state::{Config, Ids, Inner, Library, State};
use crate::{Emulator, PolicySigner, http, policy, sigv4};

/// Configures an [`Emulator`]. Setters consume and return the builder.
#[derive(Clone, Debug)]
pub struct EmulatorBuilder {
    token: String,
    oauth_token: String,
    space_id: u64,
    more_spaces: BTreeSet<u64>,
    folders: BTreeSet<u64>,
    rate_limit: Option<u32>,
    max_in_flight: usize,
    policy_ttl: Duration,
    max_file_size: u64,
    finish_shape: FinishShape,
    signer: Option<SharedSigner>,
    max_body: u64,
    idle_timeout: Duration,
    public_origin: Option<String>,
    local_cdn: bool,
    update_shape: UpdateShape,
    one_way_delay: Option<(Duration, Duration)>,
    retry_after: Option<u64>,
    max_recorded_requests: usize,
    port: u16,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        EmulatorBuilder {
            token: "emulator-personal-token".into(),
            oauth_token: "emulator-oauth-token".into(),
            space_id: 606,
            more_spaces: BTreeSet::new(),
            folders: BTreeSet::new(),
            rate_limit: Some(6),
            max_in_flight: 30,
            policy_ttl: Duration::from_secs(600),
            max_file_size: 5_242_879_999,
            finish_shape: FinishShape::Flat,
            signer: None,
            max_body: 1 << 30,
            idle_timeout: Duration::from_secs(30),
            public_origin: None,
            local_cdn: false,
            update_shape: UpdateShape::Wrapped,
            one_way_delay: None,
            retry_after: None,
            max_recorded_requests: usize::MAX,
            port: 0,
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

    /// The id of the first space served (default 606): the one [`Emulator`]'s own methods,
    /// such as [`Emulator::assets`], act on. Requests for a space not served get 404.
    pub fn space_id(mut self, space_id: u64) -> Self {
        self.space_id = space_id;
        self
    }

    /// Serves space `id` too, with its own assets, folders, tags and rate window; call it once
    /// per space (default: only [`space_id`](EmulatorBuilder::space_id)'s). A test reaches it
    /// with [`Emulator::space`]. One token reaches every space, as a personal access token
    /// reaches every space of its user.
    pub fn space(mut self, id: u64) -> Self {
        self.more_spaces.insert(id);
        self
    }

    /// Adds a known asset folder, named `Folder {id}`, at the root of the first space; call it
    /// once per folder (default: none).
    pub fn folder(mut self, id: u64) -> Self {
        self.folders.insert(id);
        self
    }

    /// Management API requests per second per space, counted in fixed windows aligned to
    /// whole Unix seconds (default `Some(6)`, a paid plan; Starter is 3). Every Management API
    /// request counts, those answered 429 included, in the window of the space its path
    /// names (of the first space when that one is not served); a request over the limit gets
    /// Storyblok's
    /// `429 {"error":"Rate limit of N request per second has been reached. Retry later."}`.
    /// `None` turns the limit off.
    pub fn rate_limit(mut self, per_second: Option<u32>) -> Self {
        self.rate_limit = per_second;
        self
    }

    /// The most Management API requests handled at once; more get 429 (default 30).
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// How long a signed policy stays valid (default 10 minutes; a policy never outlives the
    /// year 9999). `Duration::ZERO` makes every policy already expired.
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

    /// The largest request body the emulator reads outside the Management API, in bytes
    /// (default 1 GiB): an S3 upload declaring a longer `Content-Length` gets
    /// `413 MaxMessageLengthExceeded` before any of its body is read, and the connection is
    /// closed. This bounds the memory one upload can take; it counts the whole multipart body,
    /// form fields and framing included. (Management API bodies have their own cap,
    /// [`MAX_MAPI_BODY`](crate::MAX_MAPI_BODY).)
    pub fn max_body(mut self, bytes: u64) -> Self {
        self.max_body = bytes;
        self
    }

    /// How long a connection may stay silent (default 30 s): a connection on which no byte
    /// arrives for that long, whose request head takes longer than that to arrive, or that
    /// does not take a response for that long, is closed and its thread ends. Keep it longer
    /// than the clients' own idle-connection pool timeout (ureq's is 15 s), so that a client
    /// never reuses a connection the emulator has just closed.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Where clients reach the emulator, as `scheme://host[:port]` with no path (default
    /// `http://127.0.0.1:{port}`, the bound address): for example `https://localhost:4443` for
    /// a TLS-terminating proxy in front of it that forwards to [`Emulator::addr`]. The URLs
    /// the emulator hands out are built from it: [`Emulator::api_url`], [`Emulator::s3_url`],
    /// and the sign answer's `post_url`.
    pub fn public_origin(mut self, origin: impl Into<String>) -> Self {
        self.public_origin = Some(origin.into().trim_end_matches('/').to_string());
        self
    }

    /// Serves the stored files as a CDN would (default `false`). When on, every asset URL the
    /// emulator hands out (sign's `pretty_url` and `public_url`, the `filename` of finish, get,
    /// update, delete and the list) is `{public_origin}/a.storyblok.com/f/…`, which any HTTP
    /// client can download from the emulator itself. When off, they are Storyblok's real
    /// forms, `https://s3.amazonaws.com/a.storyblok.com/f/…` and `//a.storyblok.com/f/…`.
    /// Either way the emulator serves `GET /a.storyblok.com/{key}`. It serves only its own
    /// bucket, not one of [`external_s3`](EmulatorBuilder::external_s3).
    pub fn local_cdn(mut self, on: bool) -> Self {
        self.local_cdn = on;
        self
    }

    /// The answer to an asset update, `PUT /assets/{id}` (default [`UpdateShape::Wrapped`]).
    pub fn update_shape(mut self, shape: UpdateShape) -> Self {
        self.update_shape = shape;
        self
    }

    /// Network latency for the Management API (default none): each request is held
    /// `min + U(0, jitter)` after its head arrives, before it counts towards the rate limit and
    /// the requests in flight and is handled (the inbound trip), and its answer is held
    /// another `min + U(0, jitter)` before it is written (the outbound trip). A client then sees
    /// round trips of about `2 × min` plus jitter, while the emulator counts each call when it
    /// "arrives", as Storyblok's servers do. S3 uploads and downloads are not delayed.
    pub fn one_way_delay(mut self, min: Duration, jitter: Duration) -> Self {
        self.one_way_delay = Some((min, jitter));
        self
    }

    /// Sends `Retry-After: {seconds}` with every 429 (default: none, as Storyblok, which
    /// documents none). A fleet test that wants clients told when to come back sets it.
    pub fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// How many requests the request log ([`Emulator::requests`]) keeps (default: all of them,
    /// until [`Emulator::clear_requests`]). Past it, the oldest entry is forgotten as each
    /// request arrives; 0 records none. Faults still count every request of their endpoint.
    /// An emulator that serves for long, such as `examples/serve.rs`, bounds its memory so.
    pub fn max_recorded_requests(mut self, max: usize) -> Self {
        self.max_recorded_requests = max;
        self
    }

    /// The port to listen on, on `127.0.0.1` (default 0: any free port). A fixed port is for
    /// an emulator that separate processes share, such as `examples/serve.rs`; tests should
    /// keep the default.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Binds `127.0.0.1:{port}` (by default any free port) and starts serving on background
    /// threads.
    pub fn start(self) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], self.port)))?;
        let origin = match self.public_origin {
            Some(origin) => origin,
            None => format!("http://{}", listener.local_addr()?),
        };
        let credentials = sigv4::Credentials::random();
        let external_s3 = self.signer.is_some();
        let signer = match self.signer {
            Some(SharedSigner(signer)) => signer,
            None => Arc::new(sigv4::SigV4Signer {
                endpoint: origin.clone(),
                bucket: policy::BUCKET.into(),
                credentials: credentials.clone(),
            }),
        };
        let mut inner = Inner {
            ids: Ids {
                next_asset: 100_001,
                next_folder: 10_001,
                next_tag: 50_001,
                uuid_seed: credentials.secret_key.clone(),
                ..Ids::default()
            },
            ..Inner::default()
        };
        let mut first = Library::default();
        for id in self.folders {
            first.ensure_folder(&mut inner.ids, id);
        }
        for id in self.more_spaces {
            inner.spaces.insert(id, Library::default());
        }
        inner.spaces.insert(self.space_id, first);
        let state = Arc::new(State {
            config: Config {
                credentials,
                s3_url: format!("{origin}/{}", policy::BUCKET),
                origin,
                token: self.token,
                oauth_token: self.oauth_token,
                space_id: self.space_id,
                rate_limit: self.rate_limit,
                max_in_flight: self.max_in_flight,
                policy_ttl: self.policy_ttl,
                max_file_size: self.max_file_size,
                finish_shape: self.finish_shape,
                signer,
                external_s3,
                max_body: self.max_body,
                local_cdn: self.local_cdn,
                update_shape: self.update_shape,
                one_way_delay: self.one_way_delay,
                retry_after: self.retry_after,
                max_recorded_requests: self.max_recorded_requests,
            },
            inner: Mutex::new(inner),
            in_flight: AtomicUsize::new(0),
        });
        let handler: http::Handler = {
            let state = Arc::clone(&state);
            Arc::new(move |head: &http::Head| Arc::clone(&state).plan(head))
        };
        let server = http::Server::start(listener, self.idle_timeout, handler)?;
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

/// The answer to an asset update. Storyblok's reference page shows none; its OpenAPI spec (the
/// one its official client is generated from) says 200 with the asset.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UpdateShape {
    /// `200` with `{"asset": {...}}`, the updated asset, as the OpenAPI spec says.
    #[default]
    Wrapped,
    /// `204 No Content`, an empty body.
    NoContent,
}
