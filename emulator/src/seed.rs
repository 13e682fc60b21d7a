//! Assets put in place without a request, as if uploaded before the test began.

use std::sync::Arc;

use crate::StoredAsset;
use crate::names::{key_hash, parameterize};
use crate::state::State;
use crate::store::{AssetRecord, ObjectRecord};

impl State {
    /// See [`Emulator::seed_asset`](crate::Emulator::seed_asset).
    pub(crate) fn seed_asset(
        &self,
        filename: &str,
        bytes: Vec<u8>,
        folder: Option<u64>,
    ) -> StoredAsset {
        let config = &self.config;
        let name = parameterize(filename);
        let now = std::time::SystemTime::now();
        let mut inner = self.lock();
        if let Some(folder) = folder {
            inner.ensure_folder(folder);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        let signed_at = inner.next_event();
        let hash = key_hash(&config.credentials, id, signed_at);
        let key = format!("f/{}/{hash}/{name}", config.space_id);
        let mut record = AssetRecord::new(id, config.space_id, &name, key.clone(), now);
        record.signed_at = signed_at;
        record.asset.asset_folder_id = folder;
        record.asset.sign_count = 1;
        record.asset.finished = true;
        let object = ObjectRecord {
            etag: crate::store::etag(&bytes),
            bytes: Arc::new(bytes),
            content_type: record.asset.content_type.clone(),
            cache_control: crate::policy::CACHE_CONTROL.to_string(),
            acl: "public-read".into(),
            stored_at: inner.next_event(),
            stored_time: now,
        };
        inner.objects.insert(key, object);
        let asset = inner.snapshot(&record);
        inner.assets.insert(id, record);
        asset
    }
}
