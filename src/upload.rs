//! Step 2, upload: the multipart `POST` of the signed fields and the file to S3. Its
//! state is [`UploadedAsset`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::body::{ERROR_BODY_LIMIT, read_body};
use crate::delete::abandon;
use crate::error::{Error, ErrorKind, Record, Step};
use crate::message::{MESSAGE_LIMIT, message, shorten};
use crate::params::AssetParams;
use crate::s3::form::{BodyFailure, Form};
use crate::s3::xml;
use crate::session::Session;
use crate::sign::{SignedUpload, signature};
use crate::source::{Opened, Source};

/// How many times one upload signs again for an expired policy.
const MAX_SIGNS_AGAIN: u32 = 2;
/// A policy with less time than this left is signed again before sending.
const EXPIRY_MARGIN: Duration = Duration::from_secs(1);

/// The file is in S3; Storyblok has not been told yet.
///
/// Made by [`SignedUpload::upload`]; finish it with [`UploadedAsset::finish`].
pub struct UploadedAsset {
    pub(crate) session: Arc<Session>,
    pub(crate) space_id: u64,
    /// The record the file went to: a new one, or the asset replaced.
    pub(crate) record: Record,
    /// The file's URL as the sign call gave it.
    pub(crate) url: String,
    /// Where the file was posted.
    pub(crate) post_url: String,
    pub(crate) params: AssetParams,
}

impl SignedUpload {
    /// Step 2: sends the file to S3, streaming it with an exact `Content-Length`.
    ///
    /// The signed fields go verbatim and in order, the file last; no `Authorization`
    /// header goes to S3. An empty file, or one outside the policy's size range, is
    /// refused before the request.
    ///
    /// A failure a retry can mend is retried from the start of the file when the source
    /// can start over, and an expired policy is signed again for the same asset (no second
    /// record), as [pacing and retries](crate#pacing-and-retries) says. On any other error
    /// the signed upload is spent; the error names the asset, which
    /// [`Client::replace`](crate::Client::replace) can upload again.
    pub fn upload(mut self, source: Source<'_>) -> Result<UploadedAsset, Error> {
        let record = Record::of_upload(self.asset_id(), self.params.replaces());
        if let Err(error) = self.send_file(source) {
            return Err(abandon(&self.session, self.space_id, record, error));
        }
        let post_url = self.post_url().to_owned();
        let fallback = format!("{post_url}/{}", self.field("key").unwrap_or(""));
        let signature = self.signature;
        Ok(UploadedAsset {
            session: self.session,
            space_id: self.space_id,
            record,
            url: signature
                .public_url
                .or(signature.pretty_url)
                .unwrap_or(fallback),
            post_url,
            params: self.params,
        })
    }

    /// Sends the file, retrying and signing again as needed. The caller names the record
    /// in the error.
    fn send_file(&mut self, source: Source<'_>) -> Result<(), Error> {
        let path: Option<PathBuf> = source.file_path().map(Into::into);
        let unreadable = |error| Error::source_io(path.clone(), error).at(Step::Upload);
        let mut opened = source.open().map_err(unreadable)?;
        if opened.len == 0 {
            return Err(Error::new(ErrorKind::EmptySource).at(Step::Upload));
        }
        let retries = self.session.retries;
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
            let error = match self.post(&mut opened, path.as_deref()) {
                Ok(()) => return Ok(()),
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
                return Err(Error::wrap(ErrorKind::NotReplayable, error));
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
        let params = self.params.clone().replace(self.asset_id());
        self.signature = signature(&self.session, self.space_id, &params)?;
        Ok(())
    }

    fn check_size(&self, size: u64) -> Result<(), Error> {
        match &self.signature.limits.content_length {
            Some(range) if !range.contains(&size) => Err(Error::new(ErrorKind::SizeOutOfRange {
                size,
                min: *range.start(),
                max: *range.end(),
            })
            .at(Step::Upload)),
            _ => Ok(()),
        }
    }

    /// One POST of the form to S3; `path` names the file in a read error.
    fn post(&self, opened: &mut Opened<'_>, path: Option<&Path>) -> Result<(), Error> {
        let content_type = self
            .fields()
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
            .map_or("application/octet-stream", |(_, value)| value.as_str());
        let filename = self.params.filename.as_deref().unwrap_or("file");
        let form = Form::new(self.fields(), filename, content_type);
        let len = opened.len;
        let probe_end = opened.can_probe_end();
        // A reader that stalls is timed out as a connection would be; and no later than
        // the upload's budget, which ureq cannot apply while it waits for the reader.
        let timeouts = self.session.timeouts;
        opened.bound(timeouts.idle, Instant::now().checked_add(timeouts.upload));
        let mut body = form.body(opened, len, probe_end);
        let result = self
            .session
            .agent
            .post(self.post_url())
            .header("Content-Type", form.content_type())
            .header("Content-Length", form.content_length(len))
            .config()
            .timeout_global(Some(self.session.timeouts.upload))
            // Once the file is sent, S3's answer (and its body, read below) must come
            // within a call's budget: a server that drips its answer cannot hold the
            // upload for the rest of its two hours.
            .timeout_recv_response(Some(self.session.timeouts.call))
            .timeout_recv_body(Some(self.session.timeouts.call))
            .build()
            .send(ureq::SendBody::from_reader(&mut body));
        let at_upload = |error: Error| error.at(Step::Upload);
        if let Some(failure) = body.take_failure() {
            return Err(at_upload(match failure {
                BodyFailure::Length(mismatch) => Error::new(ErrorKind::SourceLength(mismatch)),
                BodyFailure::Read(error) => Error::source_io(path.map(Into::into), error),
            }));
        }
        let response = result
            .map_err(|error| at_upload(crate::retry::transport_error(error, self.post_url())))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let body = read_body(response, ERROR_BODY_LIMIT);
        let parsed = xml::parse_error(&body);
        // S3's words are short; a proxy's imitation need not be.
        let short = |text: String| shorten(&text, MESSAGE_LIMIT);
        Err(at_upload(Error::new(ErrorKind::S3 {
            status,
            code: parsed.code.map(short),
            message: parsed
                .message
                .map(short)
                .unwrap_or_else(|| message(status, &body)),
            request_id: parsed.request_id.map(short),
            body,
        })))
    }
}

/// S3's answer to a policy past its `expiration`.
fn is_expired_policy(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::S3 { code: Some(code), message, .. }
        if code == "AccessDenied" && message.contains("Policy expired"))
}

/// Failures of S3 or the connection that a second attempt may not meet.
fn is_retryable(error: &Error) -> bool {
    match error.kind() {
        ErrorKind::S3 { status, code, .. } => {
            matches!(status, 500 | 503)
                || matches!(
                    code.as_deref(),
                    Some("InternalError" | "SlowDown" | "ServiceUnavailable" | "RequestTimeout")
                )
        }
        ErrorKind::Transport => std::error::Error::source(error)
            .and_then(|cause| cause.downcast_ref::<ureq::Error>())
            .is_some_and(crate::retry::is_transient),
        _ => false,
    }
}

impl UploadedAsset {
    /// The asset's id.
    pub fn asset_id(&self) -> u64 {
        self.record.id()
    }

    /// Whether the sign call asked Storyblok to validate the upload: then
    /// [`UploadedAsset::finish`] is required.
    pub fn needs_finish(&self) -> bool {
        self.params.validate_upload
    }
}

impl fmt::Debug for UploadedAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedAsset")
            .field("space_id", &self.space_id)
            .field("asset_id", &self.asset_id())
            .field("url", &self.url)
            .field("validate", &self.params.validate_upload)
            .finish_non_exhaustive()
    }
}
