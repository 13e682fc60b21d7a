//! Step 3, finish: `GET /v1/spaces/{space}/assets/{id}/finish_upload` tells Storyblok the
//! file is there. The result is an [`Asset`]; without validation the finish is skipped.

use serde_json::Value;

use crate::asset::{Asset, Signed, cdn_url};
use crate::delete::abandon;
use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::upload::UploadedAsset;

/// Finishes an upload, or skips the finish when the sign did not ask for validation.
pub(crate) fn complete(uploaded: UploadedAsset) -> Result<Asset, Error> {
    if uploaded.needs_finish() {
        uploaded.finish()
    } else {
        Ok(uploaded.into_asset())
    }
}

impl UploadedAsset {
    /// Step 3: tells Storyblok the upload is complete; it validates the file (when the
    /// sign asked for it) and records its type and size. Finishing twice is harmless, so
    /// it is retried as an idempotent call ([pacing and retries](crate#pacing-and-retries)).
    ///
    /// Accepts both answer shapes Storyblok is known to give: the flat
    /// `{"id", "filename", …}` and `{"asset": {…}}`. An answer about another asset is an
    /// error; a `filename` on neither a host the sign answer named (its file URL or
    /// `post_url`) nor one of Storyblok's asset hosts is not used: the asset's URL is then
    /// the one the sign answer gave.
    pub fn finish(self) -> Result<Asset, Error> {
        self.call_finish()
            .map_err(|error| abandon(&self.session, self.space_id, self.record, error))
    }

    /// The asset as the sign call and the parameters describe it, without the finish
    /// call. Use this only when `validate_upload` was off; otherwise call
    /// [`UploadedAsset::finish`].
    pub fn into_asset(self) -> Asset {
        let meta = self.params.metadata;
        Asset {
            id: self.record.id(),
            filename: cdn_url(&self.url),
            raw_filename: self.url,
            alt: meta.alt,
            title: meta.title,
            copyright: meta.copyright,
            focus: meta.focus,
            is_private: meta.is_private.unwrap_or(false),
        }
    }

    fn call_finish(&self) -> Result<Asset, Error> {
        let asset_id = self.record.id();
        let reply = mapi::call(
            &self.session,
            Step::Finish,
            self.space_id,
            Some(asset_id),
            Method::Get,
            &format!("/assets/{asset_id}/finish_upload"),
        )?;
        let (status, body) = (reply.status, reply.body);
        let unexpected =
            |message: String| Error::unexpected(status, message, &body).at(Step::Finish);
        let value: Value = match body.trim() {
            "" => Value::Null,
            text => serde_json::from_str(text).map_err(|e| unexpected(format!("not JSON: {e}")))?,
        };
        let signed = Signed {
            url: &self.url,
            post_url: &self.post_url,
            local_api: self.session.base.is_loopback(),
        };
        Asset::from_finish(&value, asset_id, &signed).map_err(unexpected)
    }
}
