//! The client: one token, one region, one connection pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::asset::Asset;
use crate::error::{Error, Step};
use crate::pacer::{Pacer, RateLimit};
use crate::region::Region;
use crate::request::UploadRequest;
use crate::retry::Retries;
use crate::source::Source;
use crate::token::Token;
use crate::url;

/// A Storyblok asset client. Cheap to clone; clones share one connection pool and are
/// `Send + Sync`, so one client serves every thread.
///
/// ```no_run
/// use storyblok_assets::{Client, Source, Token, UploadRequest};
///
/// let client = Client::new(Token::personal(std::env::var("STORYBLOK_TOKEN")?))?;
/// let asset = client.upload(184738, UploadRequest::new(), Source::path("mars.jpg"))?;
/// println!("{}", asset.cdn_url);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    base_url: String,
    token: Token,
    timeouts: Timeouts,
    pacer: Pacer,
    rate_limit: RateLimit,
    retries: Retries,
    delete_on_failure: bool,
}

/// ureq's send buffer per connection.
const UPLOAD_BUFFER: usize = 512 * 1024;

/// The time budgets. See [`ClientBuilder`] for what each one bounds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    pub(crate) idle: Duration,
    pub(crate) call: Duration,
    pub(crate) upload: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            idle: Duration::from_secs(30),
            call: Duration::from_secs(60),
            upload: Duration::from_secs(2 * 60 * 60),
        }
    }
}

impl Client {
    /// A client for a space in the EU region (Storyblok's default) with default settings.
    ///
    /// Fails only on an unusable token (empty, or with a newline or other control
    /// character in it).
    pub fn new(token: Token) -> Result<Client, Error> {
        Client::builder(token).build()
    }

    /// A builder for the region, base URL and timeouts.
    pub fn builder(token: Token) -> ClientBuilder {
        ClientBuilder {
            token,
            base_url: None,
            region: Region::Eu,
            timeouts: Timeouts::default(),
            rate_limit: RateLimit::default(),
            max_in_flight: 30,
            retries: Retries::default(),
            delete_on_failure: false,
        }
    }

    /// The Management API base URL this client sends to, such as
    /// `https://mapi.storyblok.com/v1`.
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// Uploads a new asset (or replaces one, with [`UploadRequest::replace`]): sign,
    /// upload, then finish when `validate_upload` is on (the default).
    ///
    /// The filename and, for PNG, JPEG, GIF and WebP, the `size` come from the source
    /// unless the request sets them. An empty file is refused before anything is created.
    ///
    /// ```no_run
    /// # use storyblok_assets::{Client, Source, Token, UploadRequest};
    /// # let client = Client::new(Token::personal("token"))?;
    /// let request = UploadRequest::new().folder(42).alt("The red planet");
    /// let asset = client.upload(184738, request, Source::path("mars.jpg"))?;
    /// println!("{} is at {}", asset.id, asset.cdn_url);
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn upload(
        &self,
        space_id: u64,
        request: UploadRequest,
        source: Source<'_>,
    ) -> Result<Asset, Error> {
        let request = request.for_source(&source)?;
        crate::upload::complete(self.sign(space_id, request)?.upload(source)?)
    }

    /// Replaces the file of an existing asset, keeping its id and URL.
    ///
    /// The same as [`Client::upload`] with `UploadRequest::new().replace(asset_id)`. The
    /// filename comes from a path source; for bytes or a reader, or to set other
    /// parameters, use that form with [`UploadRequest::filename`].
    pub fn replace(
        &self,
        space_id: u64,
        asset_id: u64,
        source: Source<'_>,
    ) -> Result<Asset, Error> {
        self.upload(space_id, UploadRequest::new().replace(asset_id), source)
    }

    /// Deletes an asset record and its file.
    pub fn delete(&self, space_id: u64, asset_id: u64) -> Result<(), Error> {
        crate::mapi::call(
            self,
            Step::Delete,
            Some(asset_id),
            crate::mapi::Method::Delete,
            &format!("/spaces/{space_id}/assets/{asset_id}"),
        )
        .map(drop)
    }

    pub(crate) fn agent(&self) -> &ureq::Agent {
        &self.inner.agent
    }

    pub(crate) fn token(&self) -> &Token {
        &self.inner.token
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    pub(crate) fn pacer(&self) -> &Pacer {
        &self.inner.pacer
    }

    pub(crate) fn retries(&self) -> Retries {
        self.inner.retries
    }

    pub(crate) fn deletes_on_failure(&self) -> bool {
        self.inner.delete_on_failure
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.inner.base_url)
            .field("token", &self.inner.token)
            .field("timeouts", &self.inner.timeouts)
            .field("rate_limit", &self.inner.rate_limit)
            .field("retries", &self.inner.retries)
            .field("delete_on_failure", &self.inner.delete_on_failure)
            .finish()
    }
}

/// Settings for a [`Client`]; consuming setters, then [`ClientBuilder::build`].
///
/// ```
/// use std::time::Duration;
/// use storyblok_assets::{Client, Region, Token};
///
/// let client = Client::builder(Token::oauth("oauth-token"))
///     .region(Region::Us)
///     .timeout_call(Duration::from_secs(20))
///     .build()?;
/// assert_eq!(client.base_url(), "https://api-us.storyblok.com/v1");
/// # Ok::<_, storyblok_assets::Error>(())
/// ```
pub struct ClientBuilder {
    token: Token,
    base_url: Option<String>,
    region: Region,
    timeouts: Timeouts,
    rate_limit: RateLimit,
    max_in_flight: usize,
    retries: Retries,
    delete_on_failure: bool,
}

impl ClientBuilder {
    /// The space's region (default [`Region::Eu`]); see [`Region::from_space_id`].
    pub fn region(mut self, region: Region) -> Self {
        self.region = region;
        self
    }

    /// A Management API base URL of your own, such as an emulator's
    /// `http://127.0.0.1:8080/v1`; wins over [`ClientBuilder::region`]. Must be `https`,
    /// or `http` on a loopback host.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// How long looking up a host and establishing a connection may each take.
    /// Default 10 s.
    pub fn timeout_connect(mut self, timeout: Duration) -> Self {
        self.timeouts.connect = timeout;
        self
    }

    /// How long a connection may sit idle, while sending or receiving, before the call
    /// fails. Default 30 s.
    pub fn timeout_idle(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout;
        self
    }

    /// The whole budget of one Management API call (sign, finish, delete). Default 60 s.
    pub fn timeout_call(mut self, timeout: Duration) -> Self {
        self.timeouts.call = timeout;
        self
    }

    /// The whole budget of one S3 upload, however large the file. Default 2 hours; the
    /// idle timeout catches a stalled transfer long before.
    pub fn timeout_upload(mut self, timeout: Duration) -> Self {
        self.timeouts.upload = timeout;
        self
    }

    /// How fast to call the Management API, shared by every clone of the client and every
    /// thread: default [`RateLimit::PerSecond`]`(6)`, the paid plans' limit (Starter: 3).
    /// After a 429 the client halves its rate and recovers gradually.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// At most this many Management API calls in flight at once (Storyblok allows 30 per
    /// space). Default 30.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// How many times a failed call is retried when a retry is safe (see the crate docs
    /// on retries). Default 6; 0 turns retries off.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.retries.max = retries;
        self
    }

    /// The wait before the first retry, doubled on each further one up to `cap`, with
    /// jitter. Default 200 ms to 2 s. A 429's `Retry-After` header, when present, wins.
    pub fn backoff(mut self, first: Duration, cap: Duration) -> Self {
        self.retries.base = first;
        self.retries.cap = cap.max(first);
        self
    }

    /// Delete the record of a *new* asset when its upload or finish fails for good, so no
    /// empty asset is left behind. Never applies to a replace. Default off.
    pub fn delete_on_failure(mut self, delete: bool) -> Self {
        self.delete_on_failure = delete;
        self
    }

    /// Builds the client. Fails on an unusable token or base URL.
    pub fn build(self) -> Result<Client, Error> {
        if self.rate_limit == RateLimit::PerSecond(0) {
            return Err(Error::InvalidInput {
                message: "a rate limit of 0 calls per second allows no call; use RateLimit::Off to turn pacing off".into(),
            });
        }
        if let Some(problem) = self.token.problem() {
            return Err(Error::InvalidInput {
                message: problem.to_owned(),
            });
        }
        let base_url = self
            .base_url
            .unwrap_or_else(|| self.region.base_url().to_owned())
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if !url::is_allowed(&base_url) {
            return Err(Error::InsecureUrl {
                asset_id: None,
                url: base_url,
            });
        }
        let t = self.timeouts;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(concat!("storyblok-assets/", env!("CARGO_PKG_VERSION")))
            // A redirect would carry neither the token (ureq drops it) nor a replayable
            // body; report it instead of following it.
            .max_redirects(0)
            .timeout_resolve(Some(t.connect))
            .timeout_connect(Some(t.connect))
            .timeout_per_read(Some(t.idle))
            .timeout_per_write(Some(t.idle))
            // Uploads read the file straight into this buffer: at 512 KiB a 1 GiB upload on
            // loopback went from 1.1-1.3x curl's time (ureq's 128 KiB) to about 0.8x,
            // for 0.4 MiB more memory per connection (`cargo bench --bench performance`).
            .output_buffer_size(UPLOAD_BUFFER);
        // Proxies come from the environment (HTTPS_PROXY, NO_PROXY, …) as ureq reads them,
        // except for a loopback API such as the emulator: a proxy cannot reach it.
        let config = if url::is_loopback(&base_url) {
            config.proxy(None)
        } else {
            config
        };
        #[cfg(any(
            feature = "rustls",
            feature = "native-tls",
            feature = "platform-verifier"
        ))]
        let config = config.tls_config(tls_config());
        let config = config.build();
        Ok(Client {
            inner: Arc::new(Inner {
                agent: ureq::Agent::new_with_config(config),
                base_url,
                token: self.token,
                timeouts: t,
                pacer: Pacer::new(self.rate_limit, self.max_in_flight),
                rate_limit: self.rate_limit,
                retries: self.retries,
                delete_on_failure: self.delete_on_failure,
            }),
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("token", &self.token)
            .field("base_url", &self.base_url)
            .field("region", &self.region)
            .field("timeouts", &self.timeouts)
            .field("rate_limit", &self.rate_limit)
            .field("max_in_flight", &self.max_in_flight)
            .field("retries", &self.retries)
            .field("delete_on_failure", &self.delete_on_failure)
            .finish()
    }
}

#[cfg(any(
    feature = "rustls",
    feature = "native-tls",
    feature = "platform-verifier"
))]
/// The TLS set-up the crate's features ask for. ureq picks rustls unless told otherwise,
/// and panics on the first https request when only native-tls is compiled in.
fn tls_config() -> ureq::tls::TlsConfig {
    let builder = ureq::tls::TlsConfig::builder();
    #[cfg(feature = "native-tls")]
    let builder = builder.provider(ureq::tls::TlsProvider::NativeTls);
    #[cfg(feature = "platform-verifier")]
    let builder = builder.root_certs(ureq::tls::RootCerts::PlatformVerifier);
    builder.build()
}
