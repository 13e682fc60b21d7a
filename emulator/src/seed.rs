//! Assets put in place without a request, as if uploaded before the test began.

use std::sync::Arc;

use crate::StoredAsset;
use crate::names::{key_hash, parameterize};
use crate::state::{Inner, State};
use crate::store::{AssetRecord, ObjectRecord};

impl State {
    /// See [`Space::seed_asset`](crate::Space::seed_asset); `space` is one the emulator
    /// serves.
    pub(crate) fn seed_asset(
        &self,
        space: u64,
        filename: &str,
        bytes: Vec<u8>,
        folder: Option<u64>,
    ) -> StoredAsset {
        let name = parameterize(filename);
        let now = std::time::SystemTime::now();
        let mut guard = self.lock();
        let Inner {
            spaces,
            ids,
            objects,
            ..
        } = &mut *guard;
        let library = spaces.entry(space).or_default();
        if let Some(folder) = folder {
            library.ensure_folder(ids, folder);
        }
        let id = ids.next_asset();
        let signed_at = ids.next_event();
        let hash = key_hash(&self.config.credentials, id, signed_at);
        let key = format!("f/{space}/{hash}/{name}");
        let mut record = AssetRecord::new(id, space, &name, key.clone(), now);
        record.signed_at = signed_at;
        record.asset.asset_folder_id = folder;
        record.asset.sign_count = 1;
        record.asset.finished = true;
        let mut asset = record.asset.clone();
        asset.content_length = Some(bytes.len() as u64);
        let object = ObjectRecord {
            etag: crate::store::etag(&bytes),
            bytes: Arc::new(bytes),
            content_type: record.asset.content_type.clone(),
            cache_control: crate::policy::CACHE_CONTROL.to_string(),
            acl: "public-read".into(),
            stored_at: ids.next_event(),
            stored_time: now,
        };
        objects.insert(key, object);
        library.assets.insert(id, record);
        asset
    }
}
