//! Step 2, upload: the multipart `POST` of the signed fields and the file to S3. Its
//! state is [`UploadedAsset`].

use std::fmt;

use crate::asset::{Asset, cdn_url};
use crate::client::Client;
use crate::error::{Error, Step};
use crate::form::{BodyFailure, Form};
use crate::mapi::read_body;
use crate::s3;
use crate::sign::SignedUpload;
use crate::source::Source;

/// The file is in S3; Storyblok has not been told yet.
///
/// Made by [`SignedUpload::upload`]; finish it with [`UploadedAsset::finish`].
pub struct UploadedAsset {
    pub(crate) client: Client,
    pub(crate) space_id: u64,
    pub(crate) asset_id: u64,
    pub(crate) url: String,
    pub(crate) validate: bool,
}

impl SignedUpload {
    /// Step 2: sends the file to S3, streaming it with an exact `Content-Length`.
    ///
    /// The signed fields go verbatim and in order, the file last; no `Authorization`
    /// header goes to S3. An empty file, or one outside the policy's size range, is
    /// refused before the request. On any error the signed upload is spent; the error
    /// names the asset, which [`Client::replace`] can upload again.
    pub fn upload(self, source: Source<'_>) -> Result<UploadedAsset, Error> {
        let asset_id = self.asset_id;
        let path = source.file_path().map(Into::into);
        let opened = source.open().map_err(|error| Error::Source {
            step: Step::Upload,
            asset_id: Some(asset_id),
            path,
            source: error,
        })?;
        if opened.len == 0 {
            return Err(Error::EmptySource {
                asset_id: Some(asset_id),
            });
        }
        if let Some(range) = &self.limits.content_length {
            if !range.contains(&opened.len) {
                return Err(Error::SizeOutOfRange {
                    asset_id,
                    size: opened.len,
                    min: *range.start(),
                    max: *range.end(),
                });
            }
        }
        let content_type = self
            .fields
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Type"))
            .map_or("application/octet-stream", |(_, value)| value.as_str());
        let form = Form::new(&self.fields, &self.filename, content_type);
        let mut body = form.body(opened.reader, opened.len);
        let result = self
            .client
            .agent()
            .post(&self.post_url)
            .header("Content-Type", form.content_type())
            .header("Content-Length", form.content_length(opened.len))
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
        if !(200..300).contains(&status) {
            let body = read_body(response);
            let parsed = s3::parse_error(&body);
            return Err(Error::S3 {
                asset_id,
                status,
                code: parsed.code,
                message: parsed
                    .message
                    .unwrap_or_else(|| crate::mapi::message(status, &body)),
                request_id: parsed.request_id,
                body,
            });
        }
        let fallback = format!("{}/{}", self.post_url, self.field("key").unwrap_or(""));
        let url = self.public_url.or(self.pretty_url).unwrap_or(fallback);
        Ok(UploadedAsset {
            client: self.client,
            space_id: self.space_id,
            asset_id,
            url,
            validate: self.validate,
        })
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
        self.validate
    }

    /// The asset as the sign call described it, without the finish call. Use this only
    /// when `validate_upload` was off; otherwise call [`UploadedAsset::finish`].
    pub fn into_asset(self) -> Asset {
        Asset {
            id: self.asset_id,
            cdn_url: cdn_url(&self.url),
            filename: self.url,
            alt: None,
            title: None,
            copyright: None,
            focus: None,
            is_private: false,
        }
    }
}

impl fmt::Debug for UploadedAsset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadedAsset")
            .field("space_id", &self.space_id)
            .field("asset_id", &self.asset_id)
            .field("url", &self.url)
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}
