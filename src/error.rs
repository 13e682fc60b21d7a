//! The crate's one error type.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Which of the calls of an upload an error came from.
///
/// An upload is `Sign` → `Upload` → `Finish`; `Delete` removes an asset record.
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
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Sign => "sign",
            Step::Upload => "upload",
            Step::Finish => "finish",
            Step::Delete => "delete",
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
    /// The source still had bytes after the `declared` ones.
    Long {
        /// Bytes the source said it had.
        declared: u64,
    },
}

/// Everything that can go wrong, with the step it happened in and, once the asset record
/// exists, the asset's id (see [`Error::asset_id`]).
///
/// Server errors keep the server's own words: Storyblok's message and raw body, S3's
/// `Code`, `Message` and `RequestId`. `Display` says which step failed and what to do.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The request was refused before anything was sent: a missing filename, a malformed
    /// parameter, an unusable client setting.
    InvalidInput {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A URL is not `https` and its host is not a loopback address.
    InsecureUrl {
        /// The asset, when the URL came from a sign response.
        asset_id: Option<u64>,
        /// The refused URL.
        url: String,
    },
    /// The file is empty. S3 refuses empty uploads, so this is checked before signing,
    /// and no asset record is created (unless the record already existed).
    EmptySource {
        /// The asset, when the source turned out empty only after signing.
        asset_id: Option<u64>,
    },
    /// The file's size is outside the range the signed policy allows; nothing was sent
    /// to S3.
    SizeOutOfRange {
        /// The signed asset.
        asset_id: u64,
        /// The file's size in bytes.
        size: u64,
        /// The smallest size the policy allows.
        min: u64,
        /// The largest size the policy allows.
        max: u64,
    },
    /// Reading the source failed (a missing file, a permission, a reader's own error).
    Source {
        /// The step that was reading it.
        step: Step,
        /// The asset, once signed.
        asset_id: Option<u64>,
        /// The file, for a path source.
        path: Option<PathBuf>,
        /// The underlying error.
        source: io::Error,
    },
    /// A reader source gave fewer or more bytes than its declared length; the upload was
    /// stopped at once.
    SourceLength {
        /// The signed asset.
        asset_id: u64,
        /// How the length differed.
        mismatch: LengthMismatch,
    },
    /// Storyblok's Management API answered with an error status.
    Api {
        /// The call that failed.
        step: Step,
        /// The asset, once known.
        asset_id: Option<u64>,
        /// The HTTP status.
        status: u16,
        /// Storyblok's message, taken from any of its error body shapes.
        message: String,
        /// The raw response body (at most 64 KiB of it).
        body: String,
    },
    /// S3 refused the upload.
    S3 {
        /// The signed asset.
        asset_id: u64,
        /// The HTTP status.
        status: u16,
        /// S3's error `Code`, such as `AccessDenied` or `EntityTooLarge`.
        code: Option<String>,
        /// S3's error `Message`.
        message: String,
        /// S3's `RequestId`, for AWS support.
        request_id: Option<String>,
        /// The raw response body (at most 64 KiB of it).
        body: String,
    },
    /// Storyblok kept answering 429 (rate limit) after every retry.
    RateLimited {
        /// The call that was refused.
        step: Step,
        /// The asset, once known.
        asset_id: Option<u64>,
        /// How many times the call was sent.
        attempts: u32,
        /// Storyblok's message from the last answer.
        message: String,
    },
    /// An upload failed in a way a retry could mend, but the source was a reader that
    /// cannot be rewound ([`Source::reader`](crate::Source::reader)); a path, bytes or a
    /// [`Source::seekable`](crate::Source::seekable) reader is retried.
    NotReplayable {
        /// The signed asset.
        asset_id: u64,
        /// The failure that would have been retried.
        cause: Box<Error>,
    },
    /// The upload or finish of a new asset failed for good, and its record was deleted, as
    /// [`ClientBuilder::delete_on_failure`](crate::ClientBuilder::delete_on_failure) asks.
    RecordDeleted {
        /// The deleted asset.
        asset_id: u64,
        /// Why the upload failed.
        cause: Box<Error>,
    },
    /// A sync manifest could not be read, parsed or written. A corrupt manifest is left
    /// as it is.
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
        /// The I/O error, if one caused it.
        source: Option<io::Error>,
    },
    /// A 2xx answer that could not be understood (not JSON, a field missing).
    UnexpectedResponse {
        /// The call that answered.
        step: Step,
        /// The asset, once known.
        asset_id: Option<u64>,
        /// The HTTP status.
        status: u16,
        /// What was wrong with it.
        message: String,
        /// The raw response body (at most 64 KiB of it).
        body: String,
    },
    /// The request did not complete: connection refused or reset, DNS, TLS, a timeout.
    Transport {
        /// The call that failed.
        step: Step,
        /// The asset, once known.
        asset_id: Option<u64>,
        /// The HTTP client's error.
        source: Box<ureq::Error>,
    },
}

impl Error {
    /// The asset record the error concerns, once the sign call created or named one.
    ///
    /// A failed upload or finish leaves the record behind: upload again with
    /// [`Client::replace`](crate::Client::replace) or remove it with
    /// [`Client::delete`](crate::Client::delete).
    pub fn asset_id(&self) -> Option<u64> {
        match self {
            Error::InvalidInput { .. } | Error::Manifest { .. } => None,
            Error::InsecureUrl { asset_id, .. }
            | Error::EmptySource { asset_id }
            | Error::Source { asset_id, .. }
            | Error::Api { asset_id, .. }
            | Error::UnexpectedResponse { asset_id, .. }
            | Error::RateLimited { asset_id, .. }
            | Error::Transport { asset_id, .. } => *asset_id,
            Error::NotReplayable { asset_id, .. }
            | Error::RecordDeleted { asset_id, .. }
            | Error::SizeOutOfRange { asset_id, .. }
            | Error::SourceLength { asset_id, .. }
            | Error::S3 { asset_id, .. } => Some(*asset_id),
        }
    }

    /// The step that failed, when a request was involved.
    pub fn step(&self) -> Option<Step> {
        match self {
            Error::InvalidInput { .. } | Error::Manifest { .. } => None,
            // Refused at build (no call), or a post_url in a sign answer.
            Error::InsecureUrl { asset_id, .. } => asset_id.map(|_| Step::Sign),
            Error::EmptySource { asset_id } => Some(if asset_id.is_some() {
                Step::Upload
            } else {
                Step::Sign
            }),
            Error::SizeOutOfRange { .. } | Error::SourceLength { .. } | Error::S3 { .. } => {
                Some(Step::Upload)
            }
            Error::NotReplayable { cause, .. } | Error::RecordDeleted { cause, .. } => cause.step(),
            Error::Source { step, .. }
            | Error::RateLimited { step, .. }
            | Error::Api { step, .. }
            | Error::UnexpectedResponse { step, .. }
            | Error::Transport { step, .. } => Some(*step),
        }
    }

    /// The HTTP status of a server's error answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. }
            | Error::S3 { status, .. }
            | Error::UnexpectedResponse { status, .. } => Some(*status),
            Error::RateLimited { .. } => Some(429),
            Error::NotReplayable { cause, .. } | Error::RecordDeleted { cause, .. } => {
                cause.status()
            }
            _ => None,
        }
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
        500..=599 => "Storyblok failed; try again later",
        _ => "see Storyblok's message",
    }
}

/// What a caller can do about an S3 error code.
fn s3_advice(code: Option<&str>, message: &str) -> &'static str {
    match code {
        Some("AccessDenied") if message.contains("expired") => {
            "the signed policy lives 10 minutes and expired again after signing anew; check this machine's clock and the connection's speed"
        }
        Some("AccessDenied" | "SignatureDoesNotMatch") => {
            "the signed form fields must be sent exactly as Storyblok signed them"
        }
        Some("EntityTooSmall" | "EntityTooLarge") => {
            "the file's size is outside what Storyblok allows"
        }
        Some("RequestTimeout") => "the connection was idle too long; upload again",
        Some("InternalError" | "SlowDown" | "ServiceUnavailable") => {
            "S3 is busy or failing; upload again after a pause"
        }
        _ => "see S3's message",
    }
}

fn write_asset(f: &mut fmt::Formatter<'_>, asset_id: Option<u64>) -> fmt::Result {
    match asset_id {
        Some(id) => write!(f, " (asset {id})"),
        None => Ok(()),
    }
}

/// What to do with the record a failed upload or finish left behind.
fn write_leftover(
    f: &mut fmt::Formatter<'_>,
    leftover: bool,
    asset_id: Option<u64>,
) -> fmt::Result {
    match asset_id.filter(|_| leftover) {
        Some(id) => write!(
            f,
            "; asset record {id} is left without a finished upload: upload again with Client::replace, or remove it with Client::delete"
        ),
        None => Ok(()),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f, true)
    }
}

impl Error {
    /// The message; `leftover` adds what to do with an asset record left behind.
    fn describe(&self, f: &mut fmt::Formatter<'_>, leftover: bool) -> fmt::Result {
        match self {
            Error::InvalidInput { message } => write!(f, "invalid input: {message}"),
            Error::Manifest {
                path,
                message,
                source,
            } => {
                write!(f, "the manifest {} {message}", path.display())?;
                match source {
                    Some(source) => write!(f, ": {source}"),
                    None => Ok(()),
                }
            }
            Error::InsecureUrl { asset_id, url } => {
                write!(f, "refused to send to {url}")?;
                write_asset(f, *asset_id)?;
                f.write_str(": only https URLs are used, except on loopback hosts")?;
                write_leftover(f, leftover, *asset_id)
            }
            Error::EmptySource { asset_id: None } => f.write_str(
                "the file is empty: S3 refuses empty uploads, so nothing was signed or created",
            ),
            Error::EmptySource { asset_id } => {
                f.write_str("upload failed: the file is empty and S3 refuses empty uploads")?;
                write_leftover(f, leftover, *asset_id)
            }
            Error::SizeOutOfRange {
                asset_id,
                size,
                min,
                max,
            } => {
                write!(
                    f,
                    "upload refused before sending (asset {asset_id}): the file has {size} bytes, the signed policy allows {min} to {max}"
                )?;
                write_leftover(f, leftover, Some(*asset_id))
            }
            Error::Source {
                step,
                asset_id,
                path,
                source,
            } => {
                write!(f, "{step} failed")?;
                write_asset(f, *asset_id)?;
                match path {
                    Some(path) => write!(f, ": cannot read {}: {source}", path.display())?,
                    None => write!(f, ": cannot read the source: {source}")?,
                }
                if *step != Step::Sign {
                    write_leftover(f, leftover, *asset_id)?;
                }
                Ok(())
            }
            Error::SourceLength { asset_id, mismatch } => {
                write!(f, "upload failed (asset {asset_id}): ")?;
                match mismatch {
                    LengthMismatch::Short { declared, sent } => write!(
                        f,
                        "the source ended after {sent} of its declared {declared} bytes"
                    )?,
                    LengthMismatch::Long { declared } => {
                        write!(f, "the source has more than its declared {declared} bytes")?
                    }
                }
                f.write_str("; declare the exact length")?;
                write_leftover(f, leftover, Some(*asset_id))
            }
            Error::Api {
                step,
                asset_id,
                status,
                message,
                ..
            } => {
                write!(f, "{step} failed")?;
                write_asset(f, *asset_id)?;
                write!(
                    f,
                    ": Storyblok answered {status}: {message} ({})",
                    api_advice(*status)
                )?;
                if *step == Step::Finish {
                    write_leftover(f, leftover, *asset_id)?;
                }
                Ok(())
            }
            Error::S3 {
                asset_id,
                status,
                code,
                message,
                request_id,
                ..
            } => {
                write!(f, "upload failed (asset {asset_id}): S3 answered {status}")?;
                if let Some(code) = code {
                    write!(f, " {code}")?;
                }
                write!(f, ": {message}")?;
                if let Some(request_id) = request_id {
                    write!(f, " [request id {request_id}]")?;
                }
                write!(f, " ({})", s3_advice(code.as_deref(), message))?;
                write_leftover(f, leftover, Some(*asset_id))
            }
            Error::RateLimited {
                step,
                asset_id,
                attempts,
                message,
            } => {
                write!(f, "{step} failed")?;
                write_asset(f, *asset_id)?;
                write!(
                    f,
                    ": Storyblok's rate limit held after {attempts} attempts: {message} (slow down: lower ClientBuilder::rate_limit, or upload fewer files at once)"
                )?;
                if *step == Step::Finish {
                    write_leftover(f, leftover, *asset_id)?;
                }
                Ok(())
            }
            Error::NotReplayable { cause, .. } => {
                cause.describe(f, leftover)?;
                f.write_str("; it was not retried because the source is a reader that cannot be rewound (use a path, bytes or Source::seekable)")
            }
            Error::RecordDeleted { asset_id, cause } => {
                cause.describe(f, false)?;
                write!(
                    f,
                    "; the new asset record {asset_id} was deleted, so nothing is left behind"
                )
            }
            Error::UnexpectedResponse {
                step,
                asset_id,
                status,
                message,
                ..
            } => {
                write!(f, "{step} failed")?;
                write_asset(f, *asset_id)?;
                write!(f, ": unexpected answer ({status}): {message}")?;
                write_leftover(f, leftover, *asset_id)
            }
            Error::Transport {
                step,
                asset_id,
                source,
            } => {
                write!(f, "{step} failed")?;
                write_asset(f, *asset_id)?;
                write!(f, ": {source}")?;
                if *step == Step::Upload {
                    f.write_str(" (a connection cut while sending can also be S3 refusing the upload early)")?;
                }
                if matches!(step, Step::Upload | Step::Finish) {
                    write_leftover(f, leftover, *asset_id)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Source { source, .. } => Some(source),
            Error::Manifest {
                source: Some(source),
                ..
            } => Some(source),
            Error::Transport { source, .. } => Some(source.as_ref()),
            Error::NotReplayable { cause, .. } | Error::RecordDeleted { cause, .. } => {
                Some(cause.as_ref())
            }
            _ => None,
        }
    }
}
