//! The crate's one error type: what every error carries (the step, the asset) once, and
//! what went wrong as an [`ErrorKind`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Which call an error came from.
///
/// An upload is `Sign` → `Upload` → `Finish`; the other steps serve sync and clean-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `POST /v1/spaces/{space}/assets/`: creating (or re-signing) the asset record.
    Sign,
    /// The multipart `POST` of the file to S3.
    Upload,
    /// `GET /v1/spaces/{space}/assets/{id}/finish_upload`.
    Finish,
    /// `DELETE /v1/spaces/{space}/assets/{id}`.
    Delete,
    /// `GET /v1/spaces/{space}/assets/`: listing assets (sync's adoption search, a pull).
    List,
    /// `PUT /v1/spaces/{space}/assets/{id}`: updating an asset's metadata.
    Update,
    /// `GET` or `POST /v1/spaces/{space}/asset_folders/`.
    Folders,
    /// `GET` or `POST /v1/spaces/{space}/internal_tags`.
    Tags,
    /// Downloading an asset's file from the CDN: to compare it with a local one (sync), or
    /// into a file (pull).
    Download,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Sign => "sign",
            Step::Upload => "upload",
            Step::Finish => "finish",
            Step::Delete => "delete",
            Step::List => "listing assets",
            Step::Update => "metadata update",
            Step::Folders => "asset folders",
            Step::Tags => "internal tags",
            Step::Download => "download",
        })
    }
}

/// How a caller's source disagreed with the length it declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LengthMismatch {
    /// The source ended after `sent` of the `declared` bytes.
    Short {
        /// Bytes the source said it had.
        declared: u64,
        /// Bytes it gave before it ended.
        sent: u64,
    },
    /// The source still had bytes after the `declared` ones (seen for a path, bytes and
    /// a seekable reader; a plain reader is not read past its length).
    Long {
        /// Bytes the source said it had.
        declared: u64,
    },
}

/// What went wrong. The step and the asset are on the [`Error`] itself.
///
/// Server errors keep the server's own words: Storyblok's message and raw body, S3's
/// `Code`, `Message` and `RequestId`. An underlying error (an I/O error, the HTTP client's)
/// is not part of the kind: reach it through [`std::error::Error::source`].
///
/// `Debug` prints at most the first KiB of a raw body, and says how much it left out; the
/// whole body is [`Error::body`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request was refused before anything was sent: a missing filename, a malformed
    /// parameter, an unusable client setting.
    InvalidInput {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A URL is not `https` (and its host is not a loopback address), or carries a user
    /// name or password.
    InsecureUrl {
        /// The refused URL.
        url: String,
    },
    /// The file is empty. S3 refuses empty uploads. [`Client::upload`](crate::Client::upload)
    /// and [`AssetParams::for_source`](crate::AssetParams::for_source) check it before
    /// signing, so that no record is created; [`SignedUpload::upload`](crate::SignedUpload::upload)
    /// checks it again, after the record exists.
    EmptySource,
    /// The file's size is outside the range the signed policy allows; nothing was sent
    /// to S3.
    SizeOutOfRange {
        /// The file's size in bytes.
        size: u64,
        /// The smallest size the policy allows.
        min: u64,
        /// The largest size the policy allows.
        max: u64,
    },
    /// Reading the source failed (a missing file, a permission, a reader's own error, or
    /// a reader that gave no bytes for the idle timeout or past the upload's budget: `io`
    /// [`TimedOut`](std::io::ErrorKind::TimedOut)); the I/O error is the
    /// [`source`](std::error::Error::source).
    Source {
        /// The file, for a path source.
        path: Option<PathBuf>,
        /// The I/O error's kind.
        io: std::io::ErrorKind,
    },
    /// A source gave fewer bytes than its declared length, or a path, bytes or seekable
    /// source more; the upload was stopped at once. A plain
    /// [`Source::reader`](crate::Source::reader) is never read past its length, so what it
    /// holds beyond is not seen.
    SourceLength(LengthMismatch),
    /// Storyblok's Management API answered with an error status.
    Api {
        /// The HTTP status.
        status: u16,
        /// Storyblok's message, taken from any of its error body shapes.
        message: String,
        /// The raw response body (at most 8 MiB of it; see [`Error::body`]).
        body: String,
    },
    /// S3 refused the upload.
    S3 {
        /// The HTTP status.
        status: u16,
        /// S3's error `Code`, such as `AccessDenied` or `EntityTooLarge`.
        code: Option<String>,
        /// S3's error `Message`.
        message: String,
        /// S3's `RequestId`, for AWS support.
        request_id: Option<String>,
        /// The raw response body (at most 64 KiB of it; see [`Error::body`]).
        body: String,
    },
    /// Storyblok answered 429 (rate limit) until the call's time budget
    /// ([`ClientBuilder::timeout_call`](crate::ClientBuilder::timeout_call)) ran out, or
    /// asked for a longer wait than the budget has left, or answered 429 once with retries
    /// off ([`ClientBuilder::max_retries`](crate::ClientBuilder::max_retries)`(0)`).
    RateLimited {
        /// How many times the call was sent.
        attempts: u32,
        /// Storyblok's message from the last answer.
        message: String,
        /// The wait the last answer asked for (`Retry-After`), if it said.
        retry_after: Option<Duration>,
    },
    /// An upload failed in a way a retry could mend, but the source was a reader that
    /// cannot be rewound ([`Source::reader`](crate::Source::reader)); the failure is the
    /// [`source`](std::error::Error::source). A path, bytes or a
    /// [`Source::seekable`](crate::Source::seekable) reader is retried.
    NotReplayable,
    /// A new asset's sign answer could not be used, or its upload or finish failed for
    /// good, and its record was deleted, as
    /// [`ClientBuilder::delete_on_failure`](crate::ClientBuilder::delete_on_failure) asks;
    /// the failure is the [`source`](std::error::Error::source).
    RecordDeleted,
    /// A manifest (a sync's or a pull's) could not be read, parsed, locked or written. A
    /// corrupt manifest is left as it is.
    Manifest {
        /// The manifest file (the message names its journal or lock file when the problem
        /// is theirs).
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },
    /// A CDN download (sync's check whether an existing asset holds a local file's bytes,
    /// or a pull) was answered with an error status.
    Download {
        /// The HTTP status.
        status: u16,
        /// The URL downloaded, without any query string.
        url: String,
        /// The raw response body (at most 64 KiB of it; see [`Error::body`]).
        body: String,
    },
    /// A 2xx answer that could not be understood (not JSON, a field missing, another
    /// asset than the one asked for, a body that broke off).
    UnexpectedResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        message: String,
        /// The raw response body (at most 8 MiB of it; see [`Error::body`]).
        body: String,
    },
    /// The TLS handshake failed: the server's certificate was not trusted (an unknown
    /// authority, expired, issued for another host) or TLS itself failed. Never retried.
    Tls {
        /// The host the connection was for.
        host: String,
        /// What was wrong, in plain words.
        problem: String,
    },
    /// The request did not complete: connection refused or reset, DNS, a timeout; the
    /// HTTP client's error is the [`source`](std::error::Error::source).
    Transport,
    /// A file to sync is a Git LFS pointer (the ~130-byte text a checkout without Git LFS
    /// holds in place of the file), not the file itself; it was not uploaded.
    LfsPointer {
        /// The file.
        path: PathBuf,
    },
    /// A sync would upload new bytes for, or delete, more of the manifest's files than
    /// [`SyncOptions::mass_change_limit`](crate::SyncOptions::mass_change_limit) allows:
    /// it made no call and wrote nothing.
    MassChange {
        /// Files whose bytes changed: each would be replaced (or uploaded as a new asset).
        changed: usize,
        /// Files gone whose assets would be deleted.
        deleted: usize,
        /// The manifest's entries.
        entries: usize,
        /// The paths of those files, sorted.
        paths: Vec<String>,
    },
}

/// Everything that can go wrong: the [`Step`] it happened in, the asset it concerns once
/// the sign call created or named one, and what went wrong ([`ErrorKind`]).
///
/// `Display` says what went wrong at this level and what to do ([`Error::advice`]); an
/// underlying error is reached through [`std::error::Error::source`] only, so a reporter
/// that walks the chain prints each cause once.
pub struct Error(Box<Inner>);

struct Inner {
    step: Option<Step>,
    record: Option<Record>,
    kind: ErrorKind,
    cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The asset record an error concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// Created by this upload's sign call: a failed upload leaves it behind, without a
    /// file, unless it is deleted.
    New(u64),
    /// An asset that existed before: one being replaced, or one a call named. It keeps
    /// what it had.
    Existing(u64),
}

impl Record {
    /// The record of an upload: new, or the asset `replaces` names.
    pub(crate) fn of_upload(asset_id: u64, replaces: Option<u64>) -> Record {
        match replaces {
            Some(_) => Record::Existing(asset_id),
            None => Record::New(asset_id),
        }
    }

    pub(crate) fn id(self) -> u64 {
        match self {
            Record::New(id) | Record::Existing(id) => id,
        }
    }
}

impl Error {
    /// An error of `kind`, in no step yet.
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            step: None,
            record: None,
            kind,
            cause: None,
        }))
    }

    /// An [`ErrorKind::UnexpectedResponse`]: a `status` answer with `body` that is not
    /// what was asked for, for the reason `message`.
    pub(crate) fn unexpected(status: u16, message: impl Into<String>, body: &str) -> Error {
        Error::new(ErrorKind::UnexpectedResponse {
            status,
            message: message.into(),
            body: body.to_owned(),
        })
    }

    /// An [`ErrorKind::InvalidInput`].
    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidInput {
            message: message.into(),
        })
    }

    /// Names the step.
    pub(crate) fn at(mut self, step: Step) -> Error {
        self.0.step = Some(step);
        self
    }

    /// Names the record the error concerns.
    pub(crate) fn record(mut self, record: Record) -> Error {
        self.0.record = Some(record);
        self
    }

    /// Names an asset that existed before the call, when known.
    pub(crate) fn asset(mut self, asset_id: Option<u64>) -> Error {
        if let Some(id) = asset_id {
            self.0.record = Some(Record::Existing(id));
        }
        self
    }

    /// Sets the underlying error.
    pub(crate) fn caused_by(
        mut self,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>,
    ) -> Error {
        self.0.cause = Some(cause.into());
        self
    }

    /// An error reading the source, with its path.
    pub(crate) fn source_io(path: Option<PathBuf>, error: std::io::Error) -> Error {
        Error::new(ErrorKind::Source {
            path,
            io: error.kind(),
        })
        .caused_by(error)
    }

    /// A failure wrapped as the cause of `kind`, keeping its step and asset.
    pub(crate) fn wrap(kind: ErrorKind, cause: Error) -> Error {
        let (step, record) = (cause.0.step, cause.0.record);
        let mut error = Error::new(kind).caused_by(cause);
        error.0.step = step;
        error.0.record = record;
        error
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The step that failed; `None` when the error came before any call (an unreadable
    /// or empty file, a bad setting).
    pub fn step(&self) -> Option<Step> {
        self.0.step
    }

    /// The asset record the error concerns, once the sign call created or named one.
    ///
    /// A failed upload or finish leaves the record behind: upload again with
    /// [`Client::replace`](crate::Client::replace) or remove it with
    /// [`Client::delete`](crate::Client::delete).
    pub fn asset_id(&self) -> Option<u64> {
        self.0.record.map(Record::id)
    }

    /// The HTTP status of a server's error answer.
    pub fn status(&self) -> Option<u16> {
        match &self.0.kind {
            ErrorKind::Api { status, .. }
            | ErrorKind::S3 { status, .. }
            | ErrorKind::Download { status, .. }
            | ErrorKind::UnexpectedResponse { status, .. } => Some(*status),
            ErrorKind::RateLimited { .. } => Some(429),
            ErrorKind::NotReplayable | ErrorKind::RecordDeleted => {
                self.wrapped().and_then(Error::status)
            }
            _ => None,
        }
    }

    /// The raw body of a server's answer ([`ErrorKind::Api`], [`ErrorKind::S3`],
    /// [`ErrorKind::Download`], [`ErrorKind::UnexpectedResponse`], or the failure a [`ErrorKind::NotReplayable`] or
    /// [`ErrorKind::RecordDeleted`] wraps), as far as it was read: at most 8 MiB of a
    /// Management API answer, 64 KiB of S3's or the CDN's error.
    ///
    /// `Display` prints at most the 500 characters of a message taken from it, and `Debug`
    /// its first KiB; this is all of it, for a log or a closer look.
    ///
    /// ```
    /// # fn report(err: &storyblok_assets::Error) {
    /// if let Some(body) = err.body() {
    ///     eprintln!("the server answered {} bytes: {body}", body.len());
    /// }
    /// # }
    /// ```
    pub fn body(&self) -> Option<&str> {
        match &self.0.kind {
            ErrorKind::Api { body, .. }
            | ErrorKind::S3 { body, .. }
            | ErrorKind::Download { body, .. }
            | ErrorKind::UnexpectedResponse { body, .. } => Some(body),
            ErrorKind::NotReplayable | ErrorKind::RecordDeleted => {
                self.wrapped().and_then(Error::body)
            }
            _ => None,
        }
    }

    /// What a caller can do about it, when there is something to say.
    pub fn advice(&self) -> Option<&'static str> {
        Some(match &self.0.kind {
            ErrorKind::Api { status, .. } => api_advice(*status),
            ErrorKind::S3 { code, message, .. } => s3_advice(code.as_deref(), message)?,
            ErrorKind::RateLimited { .. } => {
                "slow down: lower ClientBuilder::rate_limit, or upload fewer files at once"
            }
            ErrorKind::SourceLength(_) => "declare the exact length",
            ErrorKind::Source {
                io: std::io::ErrorKind::TimedOut,
                ..
            } => {
                "a reader must give bytes at least once per ClientBuilder::timeout_idle, and all of them within timeout_upload"
            }
            ErrorKind::InsecureUrl { .. } => {
                "only https URLs without user names or passwords are used, except on loopback hosts"
            }
            ErrorKind::NotReplayable => {
                "use a path, bytes or Source::seekable, which can be sent again"
            }
            ErrorKind::Download { .. } => {
                "the file was neither adopted nor uploaded; sync again later, or with SyncOptions::adopt(false) to upload it as a new asset"
            }
            ErrorKind::Tls { .. } => {
                "check the system clock and the host name; behind a TLS-inspecting proxy, trust its root with ClientBuilder::root_certificates_pem"
            }
            ErrorKind::LfsPointer { .. } => {
                "fetch the files with `git lfs pull` (Git LFS installed, then `git lfs install`), then sync again"
            }
            ErrorKind::MassChange { .. } => {
                "if that is meant, sync with SyncOptions::allow_mass_change(true) (a dry run with it lists each file); if not, look for a checkout of the wrong branch, files a tool rewrote, or a folder moved away"
            }
            ErrorKind::Transport if self.0.step == Some(Step::Upload) => {
                "a connection cut while sending can also be S3 refusing the upload early"
            }
            _ => return None,
        })
    }

    /// The failure a [`ErrorKind::NotReplayable`] or [`ErrorKind::RecordDeleted`] wraps.
    fn wrapped(&self) -> Option<&Error> {
        self.0.cause.as_deref()?.downcast_ref::<Error>()
    }

    /// Whether a new asset record is left behind without a finished upload.
    fn leaves_record(&self) -> bool {
        matches!(self.0.record, Some(Record::New(_)))
            && matches!(self.0.step, Some(Step::Upload | Step::Finish))
            && !matches!(self.0.kind, ErrorKind::RecordDeleted)
    }
}

/// What a caller can do about a Storyblok error status.
fn api_advice(status: u16) -> &'static str {
    match status {
        401 => {
            "check the token: a personal access token goes in Token::personal, an OAuth token in Token::oauth; a content delivery token cannot upload"
        }
        403 => "the token may not manage assets in this space",
        404 => {
            "check the space id, the asset id and the region (a space lives in one region's API)"
        }
        422 => "Storyblok refused a parameter; the message names it",
        429 => "the space's rate limit was reached; wait and try again",
        300..=399 => "check the base URL or region",
        500..=599 => "Storyblok failed; try again later",
        _ => "see Storyblok's message",
    }
}

/// What a caller can do about an S3 error code.
fn s3_advice(code: Option<&str>, message: &str) -> Option<&'static str> {
    Some(match code? {
        "AccessDenied" if message.contains("expired") => {
            "the signed policy lives 10 minutes and expired again after signing anew; check this machine's clock and the connection's speed"
        }
        "AccessDenied" | "SignatureDoesNotMatch" => {
            "the signed form fields must be sent exactly as Storyblok signed them"
        }
        "EntityTooSmall" | "EntityTooLarge" => "the file's size is outside what Storyblok allows",
        "RequestTimeout" => "the connection was idle too long; upload again",
        "InternalError" | "SlowDown" | "ServiceUnavailable" => {
            "S3 is busy or failing; upload again after a pause"
        }
        _ => return None,
    })
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            step, record, kind, ..
        } = &*self.0;
        let asset_id = record.map(Record::id);
        // Refused before any call: no step to name.
        if let Some(step) = step {
            write!(f, "{step} failed")?;
            if let Some(id) = asset_id {
                write!(f, " (asset {id})")?;
            }
            f.write_str(": ")?;
        }
        match kind {
            ErrorKind::InvalidInput { message } => write!(f, "invalid input: {message}")?,
            ErrorKind::InsecureUrl { url } => write!(f, "will not send to {url}")?,
            ErrorKind::EmptySource if asset_id.is_none() => f.write_str(
                "the file is empty: S3 refuses empty uploads, so nothing was signed or created",
            )?,
            ErrorKind::EmptySource => f.write_str("the file is empty and S3 refuses empty uploads")?,
            ErrorKind::SizeOutOfRange { size, min, max } => write!(
                f,
                "the file has {size} bytes, the signed policy allows {min} to {max}; nothing was sent to S3"
            )?,
            ErrorKind::Source { path: Some(path), .. } => {
                write!(f, "cannot read {}", path.display())?
            }
            ErrorKind::Source { path: None, .. } => f.write_str("cannot read the source")?,
            ErrorKind::SourceLength(LengthMismatch::Short { declared, sent }) => write!(
                f,
                "the source ended after {sent} of its declared {declared} bytes"
            )?,
            ErrorKind::SourceLength(LengthMismatch::Long { declared }) => {
                write!(f, "the source has more than its declared {declared} bytes")?
            }
            ErrorKind::Api {
                status, message, ..
            } => write!(f, "Storyblok answered {status}: {message}")?,
            ErrorKind::S3 {
                status,
                code,
                message,
                request_id,
                ..
            } => {
                write!(f, "S3 answered {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                write!(f, ": {message}")?;
                if let Some(request_id) = request_id {
                    write!(f, " [request id {request_id}]")?;
                }
            }
            ErrorKind::RateLimited {
                attempts,
                message,
                retry_after,
            } => {
                write!(f, "Storyblok's rate limit held after {attempts} attempts")?;
                if let Some(wait) = retry_after {
                    write!(f, " (it asked to wait {} s)", wait.as_secs_f64().ceil())?;
                }
                write!(f, ": {message}")?;
            }
            ErrorKind::NotReplayable => f.write_str(
                "the upload failed and was not retried, because the source is a reader that cannot be rewound",
            )?,
            ErrorKind::RecordDeleted => match asset_id {
                Some(id) => write!(
                    f,
                    "the new asset record {id} was deleted, so nothing is left behind"
                )?,
                None => f.write_str("the new asset record was deleted")?,
            },
            ErrorKind::Manifest { path, message } => {
                write!(f, "the manifest {} {message}", path.display())?
            }
            ErrorKind::Download { status, url, .. } => {
                write!(f, "the CDN answered {status} for {url}")?
            }
            ErrorKind::UnexpectedResponse {
                status, message, ..
            } => write!(f, "unexpected answer ({status}): {message}")?,
            ErrorKind::Tls { host, problem } => write!(f, "TLS with {host} failed: {problem}")?,
            ErrorKind::Transport => f.write_str("the request did not complete")?,
            ErrorKind::LfsPointer { path } => write!(
                f,
                "{} is a Git LFS pointer, not the file; it was not uploaded",
                path.display()
            )?,
            ErrorKind::MassChange {
                changed,
                deleted,
                entries,
                paths,
            } => {
                write!(
                    f,
                    "the sync would upload new bytes for {changed} and delete {deleted} of the manifest's {entries} files, more than its limit allows; nothing was changed"
                )?;
                if let Some(first) = paths.first() {
                    write!(f, " ({first:?}")?;
                    for path in paths.iter().skip(1).take(2) {
                        write!(f, ", {path:?}")?;
                    }
                    if paths.len() > 3 {
                        write!(f, " and {} more", paths.len() - 3)?;
                    }
                    f.write_str(")")?;
                }
            }
        }
        if let Some(advice) = self.advice() {
            write!(f, " ({advice})")?;
        }
        if self.leaves_record()
            && let Some(id) = asset_id
        {
            write!(
                f,
                "; asset record {id} is left without a finished upload: upload again with Client::replace, or remove it with Client::delete"
            )?;
        }
        Ok(())
    }
}

/// How much of a raw body `Debug` prints: enough to recognise it, not a proxy's whole page
/// (an `.unwrap()` in a build script prints `Debug` into cargo's output).
const DEBUG_BODY: usize = 1024;

/// A raw body in `Debug`: its first [`DEBUG_BODY`] bytes, and how many more it has.
struct Capped<'a>(&'a str);

impl fmt::Debug for Capped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut cut = self.0.len().min(DEBUG_BODY);
        while !self.0.is_char_boundary(cut) {
            cut -= 1;
        }
        fmt::Debug::fmt(&self.0[..cut], f)?;
        if cut < self.0.len() {
            write!(f, "… ({} more bytes)", self.0.len() - cut)?;
        }
        Ok(())
    }
}

impl fmt::Debug for ErrorKind {
    /// As a derived `Debug` would print it, with a raw body cut to its first KiB.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::InvalidInput { message } => f
                .debug_struct("InvalidInput")
                .field("message", message)
                .finish(),
            ErrorKind::InsecureUrl { url } => {
                f.debug_struct("InsecureUrl").field("url", url).finish()
            }
            ErrorKind::EmptySource => f.write_str("EmptySource"),
            ErrorKind::SizeOutOfRange { size, min, max } => f
                .debug_struct("SizeOutOfRange")
                .field("size", size)
                .field("min", min)
                .field("max", max)
                .finish(),
            ErrorKind::Source { path, io } => f
                .debug_struct("Source")
                .field("path", path)
                .field("io", io)
                .finish(),
            ErrorKind::SourceLength(mismatch) => {
                f.debug_tuple("SourceLength").field(mismatch).finish()
            }
            ErrorKind::Api {
                status,
                message,
                body,
            } => f
                .debug_struct("Api")
                .field("status", status)
                .field("message", message)
                .field("body", &Capped(body))
                .finish(),
            ErrorKind::S3 {
                status,
                code,
                message,
                request_id,
                body,
            } => f
                .debug_struct("S3")
                .field("status", status)
                .field("code", code)
                .field("message", message)
                .field("request_id", request_id)
                .field("body", &Capped(body))
                .finish(),
            ErrorKind::Download { status, url, body } => f
                .debug_struct("Download")
                .field("status", status)
                .field("url", url)
                .field("body", &Capped(body))
                .finish(),
            ErrorKind::RateLimited {
                attempts,
                message,
                retry_after,
            } => f
                .debug_struct("RateLimited")
                .field("attempts", attempts)
                .field("message", message)
                .field("retry_after", retry_after)
                .finish(),
            ErrorKind::NotReplayable => f.write_str("NotReplayable"),
            ErrorKind::RecordDeleted => f.write_str("RecordDeleted"),
            ErrorKind::Manifest { path, message } => f
                .debug_struct("Manifest")
                .field("path", path)
                .field("message", message)
                .finish(),
            ErrorKind::UnexpectedResponse {
                status,
                message,
                body,
            } => f
                .debug_struct("UnexpectedResponse")
                .field("status", status)
                .field("message", message)
                .field("body", &Capped(body))
                .finish(),
            ErrorKind::Tls { host, problem } => f
                .debug_struct("Tls")
                .field("host", host)
                .field("problem", problem)
                .finish(),
            ErrorKind::Transport => f.write_str("Transport"),
            ErrorKind::LfsPointer { path } => {
                f.debug_struct("LfsPointer").field("path", path).finish()
            }
            ErrorKind::MassChange {
                changed,
                deleted,
                entries,
                paths,
            } => f
                .debug_struct("MassChange")
                .field("changed", changed)
                .field("deleted", deleted)
                .field("entries", entries)
                .field("paths", paths)
                .finish(),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Error");
        debug
            .field("step", &self.0.step)
            .field("asset_id", &self.asset_id())
            .field("kind", &self.0.kind);
        if let Some(cause) = &self.0.cause {
            debug.field("cause", cause);
        }
        debug.finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .cause
            .as_deref()
            .map(|cause| cause as &(dyn std::error::Error + 'static))
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    /// Every message in the chain, as `anyhow`'s `{:#}` prints it.
    fn chain(error: &Error) -> Vec<String> {
        let mut out = vec![error.to_string()];
        let mut next = error.source();
        while let Some(cause) = next {
            out.push(cause.to_string());
            next = cause.source();
        }
        out
    }

    #[test]
    fn a_cause_is_printed_once_down_the_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "no entry for you");
        let error = Error::source_io(Some("a.png".into()), io);
        let messages = chain(&error);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(
            messages[0], "cannot read a.png",
            "no step: nothing was sent"
        );
        assert_eq!(messages[1], "no entry for you");
        assert_eq!(
            error.kind(),
            &ErrorKind::Source {
                path: Some("a.png".into()),
                io: std::io::ErrorKind::PermissionDenied
            }
        );

        let inner = Error::new(ErrorKind::S3 {
            status: 503,
            code: Some("SlowDown".into()),
            message: "Reduce your request rate.".into(),
            request_id: None,
            body: String::new(),
        })
        .at(Step::Upload)
        .asset(Some(7));
        let wrapped = Error::wrap(ErrorKind::NotReplayable, inner);
        let messages = chain(&wrapped);
        assert_eq!(messages.len(), 2, "{messages:?}");
        assert_eq!(
            messages
                .join("\n")
                .matches("Reduce your request rate")
                .count(),
            1
        );
        assert_eq!(wrapped.status(), Some(503));
        assert_eq!(wrapped.asset_id(), Some(7));
        assert_eq!(wrapped.step(), Some(Step::Upload));
    }

    #[test]
    fn step_asset_advice_and_leftover() {
        let error = Error::new(ErrorKind::Api {
            status: 401,
            message: "Unauthorized".into(),
            body: String::new(),
        })
        .at(Step::Finish)
        .record(Record::New(42));
        let text = error.to_string();
        assert!(
            text.starts_with(
                "finish failed (asset 42): Storyblok answered 401: Unauthorized (check the token"
            ),
            "{text}"
        );
        assert!(
            text.contains("asset record 42 is left without a finished upload"),
            "{text}"
        );
        assert_eq!(error.advice(), Some(api_advice(401)));
        let deleted = Error::wrap(ErrorKind::RecordDeleted, error);
        assert!(!deleted.to_string().contains("left without"), "{deleted}");
        assert!(
            deleted.to_string().contains("record 42 was deleted"),
            "{deleted}"
        );
    }

    #[test]
    fn a_wrapped_failed_replace_still_leaves_no_new_record() {
        let failed = || Error::new(ErrorKind::Transport).at(Step::Upload);
        let new = Error::wrap(ErrorKind::NotReplayable, failed().record(Record::New(42)));
        assert!(new.to_string().contains("left without"), "{new}");
        let replace = Error::wrap(
            ErrorKind::NotReplayable,
            failed().record(Record::Existing(42)),
        );
        assert!(!replace.to_string().contains("left without"), "{replace}");
        assert_eq!(replace.asset_id(), Some(42));
    }

    #[test]
    fn debug_prints_a_body_s_first_kib_on_a_char_boundary() {
        // 3 bytes a char: the cut at 1024 falls inside one, and moves back before it.
        let body = "€".repeat(1000);
        let error = Error::new(ErrorKind::UnexpectedResponse {
            status: 200,
            message: "not JSON".into(),
            body: body.clone(),
        });
        let debug = format!("{error:?}");
        assert!(debug.contains(&format!("\"{}\"… (1977 more bytes)", "€".repeat(341))));
        assert_eq!(error.body(), Some(body.as_str()));
        let small = ErrorKind::Api {
            status: 404,
            message: "m".into(),
            body: "short".into(),
        };
        assert_eq!(
            format!("{small:?}"),
            r#"Api { status: 404, message: "m", body: "short" }"#
        );
        assert_eq!(format!("{:?}", ErrorKind::Transport), "Transport");
    }

    #[test]
    fn errors_are_small_and_shareable() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
