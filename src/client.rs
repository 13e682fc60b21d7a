//! The client: the façade over one [`Session`] (token, base URL, connection pool, pacing),
//! with the whole upload and each of its steps.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::asset::Asset;
use crate::error::Error;
use crate::finish::complete;
use crate::folders;
use crate::listed::PerSpace;
use crate::meta::{self, AssetMeta};
use crate::pacer::{Pacer, RateLimit, SharedPacing};
use crate::params::AssetParams;
use crate::region::Region;
use crate::retry::Retries;
use crate::session::{Base, Session, Timeouts};
use crate::sign::{self, SignedUpload};
use crate::source::Source;
use crate::tags;
use crate::token::Token;
use crate::url;

/// A Storyblok asset client. Cheap to clone; clones share one connection pool and one
/// pacer, and are `Send + Sync`, so one client serves every thread.
///
/// ```no_run
/// use storyblok_assets::{AssetParams, Client, Source, Token};
///
/// let client = Client::new(Token::personal(std::env::var("STORYBLOK_TOKEN")?))?;
/// let asset = client.upload(184738, AssetParams::new(), Source::path("mars.jpg"))?;
/// println!("{}", asset.filename);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    session: Arc<Session>,
}

/// ureq's send buffer per connection.
const UPLOAD_BUFFER: usize = 512 * 1024;

impl Client {
    /// A client with default settings. Each call goes to the region its space id names
    /// (see [`Region::from_space_id`]; EU when the id names none).
    ///
    /// Fails only on an unusable token: empty, with spaces before or after it, or with a
    /// control or non-ASCII character in it (a pasted newline, say).
    pub fn new(token: Token) -> Result<Client, Error> {
        Client::builder(token).build()
    }

    /// A builder for the region, base URL, timeouts, pacing and TLS roots.
    pub fn builder(token: Token) -> ClientBuilder {
        ClientBuilder {
            token,
            base_url: None,
            region: None,
            timeouts: Timeouts::default(),
            rate_limit: RateLimit::default(),
            max_in_flight: 30,
            retries: Retries::default(),
            delete_on_failure: false,
            root_certificates: None,
            shared_pacing: SharedPacing::default(),
        }
    }

    /// The Management API base URL calls for `space_id` go to, such as
    /// `https://mapi.storyblok.com/v1`.
    ///
    /// ```
    /// use storyblok_assets::{Client, Token};
    ///
    /// let client = Client::new(Token::personal("token"))?;
    /// assert_eq!(client.base_url(184_738), "https://mapi.storyblok.com/v1");
    /// assert_eq!(client.base_url((2 << 48) | 7), "https://api-us.storyblok.com/v1");
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn base_url(&self, space_id: u64) -> String {
        self.session.base.url(space_id).to_owned()
    }

    /// Step 1: signs an upload, creating the asset record (or, with
    /// [`AssetParams::replace`], re-signing an existing one).
    ///
    /// The parameters need a filename; [`AssetParams::for_source`] fills it (and the image
    /// size) from the file and refuses an empty one before anything is created. A 429 is
    /// retried, and so is a connection that failed before the request went out; nothing
    /// else is, since a repeated sign could create a second record.
    ///
    /// ```no_run
    /// use storyblok_assets::{AssetParams, Client, Source, Token};
    ///
    /// let client = Client::new(Token::personal("token"))?;
    /// let source = Source::path("mars.jpg");
    /// let signed = client.sign(184738, AssetParams::new().for_source(&source)?)?;
    /// let uploaded = signed.upload(source)?;
    /// let asset = uploaded.finish()?;
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn sign(&self, space_id: u64, params: AssetParams) -> Result<SignedUpload, Error> {
        // Refused before any tag is looked up or created.
        params.checked_filename()?;
        let params = if params.metadata.internal_tags.is_empty() {
            params
        } else {
            let ids = self.tag_ids(space_id, &params.metadata.internal_tags)?;
            params.with_tag_ids(&ids)
        };
        sign::sign(Arc::clone(&self.session), space_id, params)
    }

    /// Uploads a new asset (or replaces one, with [`AssetParams::replace`]): sign, upload,
    /// then finish when `validate_upload` is on (the default).
    ///
    /// The filename and, for PNG, JPEG, GIF and WebP, the `size` come from the source
    /// unless the parameters set them. An empty file is refused before anything is
    /// created.
    ///
    /// ```no_run
    /// # use storyblok_assets::{AssetMeta, AssetParams, Client, Source, Token};
    /// # let client = Client::new(Token::personal("token"))?;
    /// let params = AssetParams::new()
    ///     .folder(42)
    ///     .metadata(AssetMeta::new().alt("The red planet"));
    /// let asset = client.upload(184738, params, Source::path("mars.jpg"))?;
    /// println!("{} is at {}", asset.id, asset.filename);
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn upload(
        &self,
        space_id: u64,
        params: AssetParams,
        source: Source<'_>,
    ) -> Result<Asset, Error> {
        let params = params.for_source(&source)?;
        complete(self.sign(space_id, params)?.upload(source)?)
    }

    /// Replaces the file of an existing asset, keeping its id and URL.
    ///
    /// The same as [`Client::upload`] with `AssetParams::new().replace(asset_id)`. The
    /// filename comes from a path source; for bytes or a reader, or to set other
    /// parameters, use that form with [`AssetParams::filename`].
    pub fn replace(
        &self,
        space_id: u64,
        asset_id: u64,
        source: Source<'_>,
    ) -> Result<Asset, Error> {
        self.upload(space_id, AssetParams::new().replace(asset_id), source)
    }

    /// Deletes an asset record and its file.
    pub fn delete(&self, space_id: u64, asset_id: u64) -> Result<(), Error> {
        crate::delete::delete(&self.session, space_id, asset_id)
    }

    /// The id of the asset folder at `path` (names separated by `/`, such as
    /// `img/icons`), creating the folders that are missing. The space's folders are listed
    /// once per client (one call) and remembered; each missing folder costs one more.
    ///
    /// ```no_run
    /// # use storyblok_assets::{AssetParams, Client, Source, Token};
    /// # let client = Client::new(Token::personal("token"))?;
    /// let icons = client.folder_path(184738, "img/icons")?;
    /// client.upload(184738, AssetParams::new().folder(icons), Source::path("home.svg"))?;
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn folder_path(&self, space_id: u64, path: &str) -> Result<u64, Error> {
        self.folder_below(space_id, None, path, true)?
            .ok_or_else(|| Error::invalid("an empty folder path names no folder"))
    }

    /// The id of the asset folder at `path` below folder `parent`, creating the folders
    /// that are missing; like [`Client::folder_path`], which starts at the top.
    pub fn folder_path_in(&self, space_id: u64, parent: u64, path: &str) -> Result<u64, Error> {
        self.folder_below(space_id, Some(parent), path, true)?
            .ok_or_else(|| Error::invalid("an empty folder path names no folder"))
    }

    /// The id of the asset folder at `path` (names separated by `/`), or `None` when any
    /// folder on the way is missing; nothing is created. Below folder `parent`, or from
    /// the top of the space for `None`; an empty path names `parent` itself. The space's
    /// folders are listed once per client, as for [`Client::folder_path`].
    ///
    /// ```no_run
    /// # use storyblok_assets::{Client, Token};
    /// # let client = Client::new(Token::personal("token"))?;
    /// match client.find_folder(184738, None, "img/icons")? {
    ///     Some(id) => println!("img/icons is folder {id}"),
    ///     None => println!("no folder img/icons yet"),
    /// }
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn find_folder(
        &self,
        space_id: u64,
        parent: Option<u64>,
        path: &str,
    ) -> Result<Option<u64>, Error> {
        self.folder_below(space_id, parent, path, false)
    }

    /// The folder at `path` below `parent`; created when `create`, else `None` if missing.
    pub(crate) fn folder_below(
        &self,
        space_id: u64,
        parent: Option<u64>,
        path: &str,
        create: bool,
    ) -> Result<Option<u64>, Error> {
        folders::resolve(&self.session, space_id, parent, path, create)
    }

    /// The ids of asset tags by name, in their order; missing ones are created.
    pub(crate) fn tag_ids(&self, space_id: u64, names: &[String]) -> Result<Vec<u64>, Error> {
        tags::ids(&self.session, space_id, names)
    }

    /// Sets an asset's metadata without uploading its file again: one
    /// `PUT /v1/spaces/{space}/assets/{id}` (plus, once per client, the tag list, and a
    /// creation per missing tag). Fields `meta` leaves unset stay as they are.
    ///
    /// ```no_run
    /// # use storyblok_assets::{AssetMeta, Client, Token};
    /// # let client = Client::new(Token::personal("token"))?;
    /// client.update_metadata(184738, 123456, &AssetMeta::new().alt("The red planet"))?;
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn update_metadata(
        &self,
        space_id: u64,
        asset_id: u64,
        meta: &AssetMeta,
    ) -> Result<(), Error> {
        self.update_asset(space_id, asset_id, meta, None)
    }

    /// The update call; with `Some(folder)` it moves the asset too (`Some(None)`: to the
    /// top of the asset library).
    pub(crate) fn update_asset(
        &self,
        space_id: u64,
        asset_id: u64,
        meta: &AssetMeta,
        folder: Option<Option<u64>>,
    ) -> Result<(), Error> {
        let tag_ids = self.tag_ids(space_id, &meta.internal_tags)?;
        let mut fields = meta.fields(&tag_ids);
        if let Some(folder) = folder {
            fields.insert("asset_folder_id".into(), folder.into());
        }
        meta::update(&self.session, space_id, asset_id, fields)
    }

    /// The shared plumbing, for the modules built on the client (sync).
    pub(crate) fn session(&self) -> &Session {
        &self.session
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
/// assert_eq!(client.base_url(184_738), "https://api-us.storyblok.com/v1");
/// # Ok::<_, storyblok_assets::Error>(())
/// ```
#[derive(Clone)]
pub struct ClientBuilder {
    token: Token,
    base_url: Option<String>,
    region: Option<Region>,
    timeouts: Timeouts,
    rate_limit: RateLimit,
    max_in_flight: usize,
    retries: Retries,
    delete_on_failure: bool,
    root_certificates: Option<Vec<u8>>,
    shared_pacing: SharedPacing,
}

impl ClientBuilder {
    /// Send every call to this region's API. Without it (and without
    /// [`ClientBuilder::base_url`]), each call goes to the region its space id names: ids
    /// from 2^48 carry their region; older ids go by range, and a Chinese space with an
    /// old id (below 1,000,000, shared with the EU) must set [`Region::Cn`] here. See
    /// [`Region::from_space_id`].
    pub fn region(mut self, region: Region) -> Self {
        self.region = Some(region);
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
    /// fails; and how long a reader [`Source`] may keep an upload waiting for its next
    /// bytes. Default 30 s.
    pub fn timeout_idle(mut self, timeout: Duration) -> Self {
        self.timeouts.idle = timeout;
        self
    }

    /// The whole budget of one Management API call (sign, finish, delete), waits between
    /// its retries included; S3's answer to an upload must also come within it once the
    /// file is sent, and a sync's download of an asset's file to compare it within it
    /// plus a second per MiB of the file. Default 60 s.
    pub fn timeout_call(mut self, timeout: Duration) -> Self {
        self.timeouts.call = timeout;
        self
    }

    /// The whole budget of sending one file to S3, however large. Default 2 hours; the
    /// idle timeout catches a stalled transfer long before.
    pub fn timeout_upload(mut self, timeout: Duration) -> Self {
        self.timeouts.upload = timeout;
        self
    }

    /// How fast to call the Management API, shared by every clone of the client and every
    /// thread: default [`RateLimit::PerSecond`]`(6)`, the paid plans' limit (Starter: 3).
    /// After a 429 the client lowers its rate and recovers gradually (see
    /// [pacing and retries](crate#pacing-and-retries)).
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

    /// How many times a call that failed in a way a retry can mend (a 5xx, a lost
    /// connection, S3's `RequestTimeout`; see
    /// [pacing and retries](crate#pacing-and-retries)) is tried again. Default 6. A 429 is
    /// not counted: it is retried until the call's budget
    /// ([`ClientBuilder::timeout_call`]) is spent, however many tries that takes. 0 turns
    /// off every retry, 429s included.
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

    /// Delete the record of a *new* asset when its sign answer cannot be used, or its
    /// upload or finish fails for good, so no empty asset is left behind. Never applies to
    /// a replace. Default off.
    pub fn delete_on_failure(mut self, delete: bool) -> Self {
        self.delete_on_failure = delete;
        self
    }

    /// Whether this client shares its pacing with the other clients of this machine
    /// calling the same space (default [`SharedPacing::Machine`]).
    pub fn shared_pacing(mut self, sharing: SharedPacing) -> Self {
        self.shared_pacing = sharing;
        self
    }

    /// Trust exactly the root certificates in this PEM text (one or more `CERTIFICATE`
    /// blocks), for the Management API and S3 alike, instead of the TLS backend's own
    /// roots. For a TLS-inspecting corporate proxy, give its root; to trust it *besides*
    /// the usual authorities, give the system bundle and it together (for example
    /// `/etc/ssl/certs/ca-certificates.crt` followed by the proxy's root). Works the same
    /// for every TLS feature; [`ClientBuilder::build`] fails if the text holds no
    /// certificate. Built without a TLS feature, the crate speaks no https, and the roots
    /// are not read.
    pub fn root_certificates_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.root_certificates
            .get_or_insert_with(Vec::new)
            .extend_from_slice(pem.as_ref());
        self
    }

    /// Builds the client. Fails on an unusable token, base URL or root certificate, or a
    /// rate limit of 0 calls a second.
    pub fn build(self) -> Result<Client, Error> {
        if self.rate_limit == RateLimit::PerSecond(0) {
            return Err(Error::invalid(
                "a rate limit of 0 calls per second allows no call; use RateLimit::Off to turn pacing off",
            ));
        }
        if let Some(problem) = self.token.problem() {
            return Err(Error::invalid(problem));
        }
        let base = match (self.base_url, self.region) {
            (Some(url), _) => {
                let url = url.trim().trim_end_matches('/').to_owned();
                if !url::is_allowed(&url) {
                    return Err(url::refusal(&url));
                }
                Base::Fixed(url)
            }
            (None, Some(region)) => Base::Fixed(region.base_url().to_owned()),
            (None, None) => Base::BySpace,
        };
        // Budgets beyond these are meaningless, and would overflow time arithmetic.
        let day = Duration::from_secs(24 * 3600);
        let t = Timeouts {
            connect: self.timeouts.connect.min(day),
            idle: self.timeouts.idle.min(day),
            call: self.timeouts.call.min(day),
            upload: self.timeouts.upload.min(30 * day),
        };
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
        let config = if base.is_loopback() {
            config.proxy(None)
        } else {
            config
        };
        #[cfg(any(
            feature = "rustls",
            feature = "native-tls",
            feature = "platform-verifier"
        ))]
        let config = config.tls_config(crate::tls::config(self.root_certificates.as_deref())?);
        let config = config.build();
        Ok(Client {
            session: Arc::new(Session {
                agent: ureq::Agent::new_with_config(config),
                base,
                token: self.token,
                timeouts: t,
                pacer: Pacer::new(
                    self.rate_limit,
                    self.max_in_flight,
                    t.call,
                    &self.shared_pacing,
                ),
                retries: self.retries,
                delete_on_failure: self.delete_on_failure,
                folders: PerSpace::default(),
                tags: PerSpace::default(),
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
            .field("shared_pacing", &self.shared_pacing)
            .field(
                "root_certificates",
                &self.root_certificates.as_ref().map(|pem| pem.len()),
            )
            .finish()
    }
}
