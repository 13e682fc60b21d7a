//! Step 2, upload: the multipart `POST` of the signed fields and the file to S3. Its
//! state is [`UploadedAsset`].

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::asset::{Asset, cdn_url};
use crate::client::Client;
use crate::error::{Error, Step};
use crate::form::{BodyFailure, Form};
use crate::mapi::read_body;
use crate::request::UploadRequest;
use crate::s3;
use crate::sign::{SignedUpload, sign};
use crate::source::{Opened, Source};

/// How many times one upload signs again for an expired policy.
const MAX_SIGNS_AGAIN: u32 = 2;
/// A policy with less time than this left is signed again before sending.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// The file is in S3; Storyblok has not been told yet.
///
/// Made by [`SignedUpload::upload`]; finish it with [`UploadedAsset::finish`].
pub struct UploadedAsset {
    pub(crate) client: Client,
    pub(crate) space_id: u64,
    pub(crate) asset_id: u64,
    pub(crate) url: String,
    pub(crate) request: UploadRequest,
}

impl SignedUpload {
    /// Step 2: sends the file to S3, streaming it with an exact `Content-Length`.
    ///
    /// The signed fields go verbatim and in order, the file last; no `Authorization`
    /// header goes to S3. An empty file, or one outside the policy's size range, is
    /// refused before the request.
    ///
    /// S3's 500 and 503, its `RequestTimeout` and connection failures (a reset midway
    /// included) are retried from the start of the file, when the source can start over
    /// (see [`Source`]). A policy that expired, or will have by the time the request
    /// goes out, is signed again for the same asset (no second record) and the upload
    /// repeated. On any other error the signed upload is spent; the error names the asset,
    /// which [`Client::replace`] can upload again.
    pub fn upload(mut self, source: Source<'_>) -> Result<UploadedAsset, Error> {
        let asset_id = self.asset_id();
        if let Err(error) = self.send_file(source) {
            return Err(abandon(
                &self.client,
                self.space_id,
                asset_id,
                self.request.replaces().is_none(),
                error,
            ));
        }
        let fallback = format!("{}/{}", self.post_url(), self.field("key").unwrap_or(""));
        let signature = self.signature;
        Ok(UploadedAsset {
            client: self.client,
            space_id: self.space_id,
            asset_id,
            url: signature
                .public_url
                .or(signature.pretty_url)
                .unwrap_or(fallback),
            request: self.request,
        })
    }

    /// Sends the file, retrying and signing again as needed.
    fn send_file(&mut self, source: Source<'_>) -> Result<(), Error> {
        let asset_id = self.asset_id();
        let path: Option<PathBuf> = source.file_path().map(Into::into);
        let unreadable = |error| Error::Source {
            step: Step::Upload,
            asset_id: Some(asset_id),
            path: path.clone(),
            source: error,
        };
        let mut opened = source.open().map_err(unreadable)?;
        if opened.len == 0 {
            return Err(Error::EmptySource {
                asset_id: Some(asset_id),
            });
        }
        let retries = self.client.retries();
        let mut attempt = 0;
        let mut signs_left = MAX_SIGNS_AGAIN;
        loop {
            let expiring = self
                .signature
                .deadline
                .is_some_and(|deadline| Instant::now() + EXPIRY_MARGIN >= deadline);
            if expiring && signs_left > 0 {
                signs_left -= 1;
                self.sign_again()?;
            }
            self.check_size(opened.len)?;
            let error = match self.post(&mut opened) {
                Ok(()) => return Ok(()),
                Err(Error::Source { source, .. }) => return Err(unreadable(source)),
                Err(error) => error,
            };
            let expired = is_expired_policy(&error);
            let retry = if expired {
                signs_left > 0
            } else {
                attempt < retries.max && is_retryable(&error)
            };
            if !retry {
                return Err(error);
            }
            if opened.untouched() {
                // Nothing was read (the connection failed first): nothing to rewind.
            } else if opened.can_rewind() {
                opened.rewind().map_err(unreadable)?;
            } else {
                return Err(Error::NotReplayable {
                    asset_id,
                    cause: Box::new(error),
                });
            }
            if expired {
                signs_left -= 1;
                self.sign_again()?;
            } else {
                std::thread::sleep(retries.backoff(attempt));
                attempt += 1;
            }
        }
    }

    /// Signs again for the same asset: a replace of the record, so no second record.
    fn sign_again(&mut self) -> Result<(), Error> {
        let request = self.request.clone().replace(self.asset_id());
        self.signature = sign(&self.client, self.space_id, &request)?;
        Ok(())
    }

    fn check_size(&self, size: u64) -> Result<(), Error> {
        match &self.signature.limits.content_length {
            Some(range) if !range.contains(&size) => Err(Error::SizeOutOfRange {
                asset_id: self.asset_id(),
                size,
                min: *range.start(),
                max: *range.end(),
            }),
            _ => Ok(()),
        }
    }

    /// One POST of the form to S3.
    fn post(&self, opened: &mut Opened<'_>) -> Result<(), Error> {
        let asset_id = self.asset_id();
        let content_type = self
            .fields()
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
            .map_or("application/octet-stream", |(_, value)| value.as_str());
        let filename = self.request.filename_str().unwrap_or("file");
        let form = Form::new(self.fields(), filename, content_type);
        let len = opened.len;
        let mut body = form.body(opened, len);
        let result = self
            .client
            .agent()
            .post(self.post_url())
            .header("Content-Type", form.content_type())
            .header("Content-Length", form.content_length(len))
            .config()
            .timeout_global(Some(self.client.timeouts().upload))
            .build()
            .send(ureq::SendBody::from_reader(&mut body));
        if let Some(failure) = body.take_failure() {
            return Err(match failure {
                BodyFailure::Length(mismatch) => Error::SourceLength { asset_id, mismatch },
                BodyFailure::Read(error) => Error::Source {
                    step: Step::Upload,
                    asset_id: Some(asset_id),
                    path: None,
                    source: error,
                },
            });
        }
        let response = result.map_err(|source| Error::Transport {
            step: Step::Upload,
            asset_id: Some(asset_id),
            source: Box::new(source),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = read_body(response);
        let parsed = s3::parse_error(&body);
        Err(Error::S3 {
            asset_id,
            status,
            code: parsed.code,
            message: parsed
                .message
                .unwrap_or_else(|| crate::mapi::message(status, &body)),
            request_id: parsed.request_id,
            body,
        })
    }
}

/// S3's answer to a policy past its `expiration`.
fn is_expired_policy(error: &Error) -> bool {
    matches!(error, Error::S3 { code: Some(code), message, .. }
        if code == "AccessDenied" && message.contains("Policy expired"))
}

/// Failures of S3 or the connection that a second attempt may not meet.
fn is_retryable(error: &Error) -> bool {
    match error {
        Error::S3 { status, code, .. } => {
            matches!(status, 500 | 503)
                || matches!(
                    code.as_deref(),
                    Some("InternalError" | "SlowDown" | "ServiceUnavailable" | "RequestTimeout")
                )
        }
        Error::Transport { source, .. } => crate::retry::is_transient(source),
        _ => false,
    }
}

/// Finishes an upload, or skips the finish when the sign did not ask for validation.
pub(crate) fn complete(uploaded: UploadedAsset) -> Result<Asset, Error> {
    if uploaded.needs_finish() {
        uploaded.finish()
    } else {
        Ok(uploaded.into_asset())
    }
}

/// Deletes the record of a new asset whose upload failed for good, when the client is set
/// to; a replaced asset is never touched. A failed delete leaves the original error.
pub(crate) fn abandon(
    client: &Client,
    space_id: u64,
    asset_id: u64,
    is_new: bool,
    error: Error,
) -> Error {
    if !(is_new && client.deletes_on_failure()) {
        return error;
    }
    match client.delete(space_id, asset_id) {
        Ok(()) => Error::RecordDeleted {
            asset_id,
            cause: Box::new(error),
        },
        Err(_) => error,
    }
}

impl UploadedAsset {
    /// The asset's id.
    pub fn asset_id(&self) -> u64 {
        self.asset_id
    }

    /// Whether the sign call asked Storyblok to validate the upload: then
    /// [`UploadedAsset::finish`] is required.
    pub fn needs_finish(&self) -> bool {
        self.request.validates_upload()
    }

    /// The asset as the sign call and the request describe it, without the finish call.
    /// Use this only when `validate_upload` was off; otherwise call
    /// [`UploadedAsset::finish`].
    pub fn into_asset(self) -> Asset {
        let r = &self.request;
        Asset {
            id: self.asset_id,
            cdn_url: cdn_url(&self.url),
            alt: r.alt_str().map(str::to_owned),
            title: r.title_str().map(str::to_owned),
            copyright: r.copyright_str().map(str::to_owned),
            focus: r.focus_str().map(str::to_owned),
            is_private: r.is_private(),
            filename: self.url,
        }
    }
}

impl fmt::Debug for UploadedAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedAsset")
            .field("space_id", &self.space_id)
            .field("asset_id", &self.asset_id)
            .field("url", &self.url)
            .field("validate", &self.request.validates_upload())
            .finish_non_exhaustive()
    }
}
