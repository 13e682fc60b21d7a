//! What the emulator stores: asset records, asset folders, internal tags and S3 objects, as
//! tests see them and as the emulator keeps them.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

/// An asset record, as created by sign (or [`Emulator::seed_asset`](crate::Emulator::seed_asset))
/// and changed by replace and update.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct StoredAsset {
    /// The asset id (sequential from 100001).
    pub id: u64,
    /// The space.
    pub space_id: u64,
    /// The parameterized file name, as in the key.
    pub filename: String,
    /// The S3 key, `f/{space}/[{w}x{h}/]{hash}/{filename}`.
    pub key: String,
    /// The folder, if it is in one.
    pub asset_folder_id: Option<u64>,
    /// Whether the asset is private.
    pub is_private: bool,
    /// The `size` sent (normalised to a lower-case `x`).
    pub size: Option<String>,
    /// Whether sign asked for upload validation.
    pub validate_upload: bool,
    /// `alt` text.
    pub alt: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Copyright.
    pub copyright: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Focus point.
    pub focus: Option<String>,
    /// External id.
    pub ext_id: Option<String>,
    /// `meta_data` (an empty object unless sent).
    pub meta_data: Value,
    /// The internal tags (of object type `asset`) assigned to it, in the order sent.
    pub internal_tag_ids: Vec<u64>,
    /// `expire_at`, as sent (ISO 8601).
    pub expire_at: Option<String>,
    /// `publish_at`, as sent (ISO 8601).
    pub publish_at: Option<String>,
    /// `locked`, as last set by an update.
    pub locked: bool,
    /// The length of the object stored at its key, if there is one.
    pub content_length: Option<u64>,
    /// The Content-Type derived from the file name's extension.
    pub content_type: String,
    /// How many times the asset was signed (1 + replaces).
    pub sign_count: u32,
    /// Whether finish succeeded since the latest sign.
    pub finished: bool,
}

/// An object stored by the S3 endpoint.
#[derive(Clone, Debug)]
pub struct StoredObject {
    /// The key.
    pub key: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// The `Content-Type` form field.
    pub content_type: String,
    /// The `Cache-Control` form field.
    pub cache_control: String,
    /// The `acl` form field.
    pub acl: String,
}

/// An asset folder.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssetFolder {
    /// The folder id.
    pub id: u64,
    /// Its display name.
    pub name: String,
    /// The folder it is in; `None` at the root.
    pub parent_id: Option<u64>,
    /// Its UUID.
    pub uuid: String,
}

/// An internal tag, for assets or components.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalTag {
    /// The tag id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `asset` or `component`.
    pub object_type: String,
}

/// A version-4-shaped UUID derived from `seed`.
pub(crate) fn uuid(seed: &str) -> String {
    let hex = crate::sigv4::sha256_hex(seed.as_bytes());
    let h = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default().to_string();
    let variant =
        ["8", "9", "a", "b"][usize::from(hex.as_bytes().get(16).copied().unwrap_or(0) % 4)];
    format!(
        "{}-{}-4{}-{variant}{}-{}",
        h(0..8),
        h(8..12),
        h(13..16),
        h(17..20),
        h(20..32)
    )
}

/// An asset record plus what the emulator needs to know about it.
#[derive(Clone, Debug)]
pub(crate) struct AssetRecord {
    pub(crate) asset: StoredAsset,
    /// The event number of its latest sign.
    pub(crate) signed_at: u64,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
    /// When it was deleted (then it lives in the trash).
    pub(crate) deleted_at: Option<SystemTime>,
}

impl AssetRecord {
    /// A new, unsigned record for `name` at `key`, created `now`.
    pub(crate) fn new(id: u64, space_id: u64, name: &str, key: String, now: SystemTime) -> Self {
        AssetRecord {
            asset: StoredAsset {
                id,
                space_id,
                filename: name.to_string(),
                key,
                asset_folder_id: None,
                is_private: false,
                size: None,
                validate_upload: false,
                alt: None,
                title: None,
                copyright: None,
                source: None,
                focus: None,
                ext_id: None,
                meta_data: Value::Object(serde_json::Map::new()),
                internal_tag_ids: Vec::new(),
                expire_at: None,
                publish_at: None,
                locked: false,
                content_length: None,
                content_type: crate::names::content_type_for(name).to_string(),
                sign_count: 0,
                finished: false,
            },
            signed_at: 0,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }
}

/// An object as the S3 endpoint keeps it: its bytes shared, so that serving it copies nothing.
#[derive(Clone, Debug)]
pub(crate) struct ObjectRecord {
    pub(crate) bytes: Arc<Vec<u8>>,
    pub(crate) content_type: String,
    pub(crate) cache_control: String,
    pub(crate) acl: String,
    /// The quoted ETag.
    pub(crate) etag: String,
    /// The event number of its upload.
    pub(crate) stored_at: u64,
    /// When it was uploaded.
    pub(crate) stored_time: SystemTime,
}

impl ObjectRecord {
    /// The object as a test sees it.
    pub(crate) fn to_object(&self, key: &str) -> StoredObject {
        StoredObject {
            key: key.to_string(),
            bytes: self.bytes.as_ref().clone(),
            content_type: self.content_type.clone(),
            cache_control: self.cache_control.clone(),
            acl: self.acl.clone(),
        }
    }
}

/// S3's ETag of an object's bytes: quoted hex (the emulator's own digest, 32 digits).
pub(crate) fn etag(bytes: &[u8]) -> String {
    format!(
        "\"{}\"",
        crate::sigv4::sha256_hex(bytes)
            .get(..32)
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_shaped_like_version_4() {
        let a = uuid("a");
        assert_eq!(a.len(), 36);
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(a.as_bytes()[14], b'4');
        assert!(matches!(a.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
        assert_eq!(a, uuid("a"));
        assert_ne!(a, uuid("b"));
    }
}
