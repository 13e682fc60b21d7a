//! Step 3, finish: `GET /v1/spaces/{space}/assets/{id}/finish_upload` tells Storyblok the
//! file is there. The result is an [`Asset`].

use serde_json::Value;

use crate::asset::Asset;
use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::upload::{UploadedAsset, abandon};

impl UploadedAsset {
    /// Step 3: tells Storyblok the upload is complete; it validates the file (when the
    /// sign asked for it) and records its type and size. Retried on 429, 5xx and
    /// connection errors: finishing twice is harmless.
    ///
    /// Accepts both answer shapes Storyblok is known to give: the flat
    /// `{"id", "filename", …}` and `{"asset": {…}}`.
    pub fn finish(self) -> Result<Asset, Error> {
        self.call_finish().map_err(|error| {
            abandon(
                &self.client,
                self.space_id,
                self.asset_id,
                self.request.replaces().is_none(),
                error,
            )
        })
    }

    fn call_finish(&self) -> Result<Asset, Error> {
        let (status, body) = mapi::call(
            &self.client,
            Step::Finish,
            Some(self.asset_id),
            Method::Get,
            &format!(
                "/spaces/{}/assets/{}/finish_upload",
                self.space_id, self.asset_id
            ),
        )?;
        let value: Value = match body.trim() {
            "" => Value::Null,
            text => serde_json::from_str(text).map_err(|e| Error::UnexpectedResponse {
                step: Step::Finish,
                asset_id: Some(self.asset_id),
                status,
                message: format!("not JSON: {e}"),
                body: body.clone(),
            })?,
        };
        Ok(Asset::from_finish(&value, self.asset_id, &self.url))
    }
}
