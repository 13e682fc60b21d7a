//! What the emulator stores: asset records and S3 objects, as tests see them and as the
//! emulator keeps them.

use std::sync::Arc;
use std::time::SystemTime;

use serde_json::Value;

/// An asset record, as created by sign.
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
    /// The folder, if one was given.
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

/// An asset record plus what the emulator needs to know about it.
#[derive(Clone, Debug)]
pub(crate) struct AssetRecord {
    pub(crate) asset: StoredAsset,
    /// The event number of its latest sign.
    pub(crate) signed_at: u64,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
}

/// An object as the S3 endpoint keeps it: its bytes shared, so that serving it copies nothing.
#[derive(Clone, Debug)]
pub(crate) struct ObjectRecord {
    pub(crate) bytes: Arc<Vec<u8>>,
    pub(crate) content_type: String,
    pub(crate) cache_control: String,
    pub(crate) acl: String,
    /// The event number of its upload.
    pub(crate) stored_at: u64,
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
