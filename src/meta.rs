//! An asset's descriptive metadata (alt text, title, tags, …), how a sidecar file states
//! it, and the update call that sets it without uploading the file again:
//! `PUT /v1/spaces/{space}/assets/{id}` with `{"asset": {…}}`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codec::sha256::Sha256;
use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::session::Session;

/// What editors see next to an asset's file: alt text, title, copyright, source, focus
/// point, privacy, custom `meta_data` and internal tags (by name).
///
/// [`Client::sync`](crate::Client::sync) reads it from a sidecar `<file>.json` or from
/// [`SyncOptions::metadata`](crate::SyncOptions::metadata), sends it with the sign call,
/// and when only the metadata changed sends it alone with
/// [`Client::update_metadata`](crate::Client::update_metadata). Unset fields are left as
/// they are in Storyblok.
///
/// ```
/// use storyblok_assets::AssetMeta;
///
/// let meta = AssetMeta::new()
///     .alt("The red planet")
///     .copyright("NASA/JPL")
///     .tag("planets");
/// # let _ = meta;
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AssetMeta {
    /// Alternative text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt: Option<String>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Copyright notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copyright: Option<String>,
    /// Where the asset comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Focus point for image crops, such as `"420x200:421x201"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    /// Whether the asset is private (readable only with an asset token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_private: Option<bool>,
    /// Custom metadata fields, as Storyblok's `meta_data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_data: Option<Map<String, Value>>,
    /// Internal tags, by name; created in the space when missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal_tags: Vec<String>,
}

impl AssetMeta {
    /// No metadata.
    pub fn new() -> AssetMeta {
        AssetMeta::default()
    }

    /// Alternative text.
    pub fn alt(mut self, alt: impl Into<String>) -> Self {
        self.alt = Some(alt.into());
        self
    }

    /// Title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Copyright notice.
    pub fn copyright(mut self, copyright: impl Into<String>) -> Self {
        self.copyright = Some(copyright.into());
        self
    }

    /// Where the asset comes from.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Focus point for image crops.
    pub fn focus(mut self, focus: impl Into<String>) -> Self {
        self.focus = Some(focus.into());
        self
    }

    /// Make the asset private, or public.
    pub fn private(mut self, is_private: bool) -> Self {
        self.is_private = Some(is_private);
        self
    }

    /// One entry of `meta_data`.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.meta_data
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// One internal tag, by name.
    pub fn tag(mut self, name: impl Into<String>) -> Self {
        self.internal_tags.push(name.into());
        self
    }

    /// Sets every field `other` sets; tags are added.
    pub(crate) fn merge(&mut self, other: &AssetMeta) {
        let set = |slot: &mut Option<String>, value: &Option<String>| {
            if value.is_some() {
                slot.clone_from(value);
            }
        };
        set(&mut self.alt, &other.alt);
        set(&mut self.title, &other.title);
        set(&mut self.copyright, &other.copyright);
        set(&mut self.source, &other.source);
        set(&mut self.focus, &other.focus);
        if other.is_private.is_some() {
            self.is_private = other.is_private;
        }
        if other.meta_data.is_some() {
            self.meta_data.clone_from(&other.meta_data);
        }
        for tag in &other.internal_tags {
            if !self.internal_tags.contains(tag) {
                self.internal_tags.push(tag.clone());
            }
        }
    }

    /// Reads a sidecar: a JSON object with any of `alt`, `title`, `copyright`, `source`,
    /// `focus`, `is_private`, `meta_data` and `internal_tags` (names). The asset objects the
    /// Storyblok CLI pulls are read too: their tags come from `internal_tags_list`, and
    /// every other key (`id`, `filename`, …) is ignored.
    pub fn from_json(text: &str) -> Result<AssetMeta, String> {
        let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Value::Object(mut map) = value else {
            return Err("not a JSON object".into());
        };
        let tags_list = map.remove("internal_tags_list");
        let mut meta: AssetMeta = serde_json::from_value(Value::Object(map))
            .map_err(|e| format!("not asset metadata: {e}"))?;
        if meta.internal_tags.is_empty()
            && let Some(Value::Array(tags)) = tags_list
        {
            meta.internal_tags = tags
                .iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .map(str::to_owned)
                .collect();
        }
        meta.internal_tags.sort();
        meta.internal_tags.dedup();
        Ok(meta)
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == AssetMeta::default()
    }

    /// A SHA-256 of the metadata, as the sync manifest keeps it: the same metadata always
    /// gives the same hash (keys sorted, tags sorted and deduplicated).
    pub(crate) fn hash(&self) -> String {
        let mut canonical = self.clone();
        canonical.internal_tags.sort();
        canonical.internal_tags.dedup();
        let text = serde_json::to_string(&canonical).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(text.as_bytes());
        hasher.finish_hex()
    }

    /// The fields as the update call takes them: as [`AssetMeta`] writes them, with the
    /// tags as ids.
    pub(crate) fn fields(&self, tag_ids: &[u64]) -> Map<String, Value> {
        let mut fields = match serde_json::to_value(self) {
            Ok(Value::Object(fields)) => fields,
            _ => Map::new(),
        };
        if fields.remove("internal_tags").is_some() {
            fields.insert("internal_tag_ids".into(), Value::from(tag_ids.to_vec()));
        }
        fields
    }
}

/// `PUT /v1/spaces/{space}/assets/{id}` with `{"asset": fields}`. Idempotent, so retried
/// like finish.
pub(crate) fn update(
    session: &Session,
    space_id: u64,
    asset_id: u64,
    fields: Map<String, Value>,
) -> Result<(), Error> {
    let mut body = Map::new();
    body.insert("asset".into(), Value::Object(fields));
    let body = serde_json::to_vec(&Value::Object(body))
        .map_err(|e| Error::invalid(format!("the metadata cannot be written as JSON: {e}")))?;
    mapi::call(
        session,
        Step::Update,
        space_id,
        Some(asset_id),
        Method::Put(body),
        &format!("/assets/{asset_id}"),
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_sidecar_and_a_pulled_asset_object() {
        let sidecar = r#"{"alt": "Mars", "is_private": true, "meta_data": {"k": 1},
            "internal_tags": ["b", "a", "b"], "unknown": 5}"#;
        let meta = AssetMeta::from_json(sidecar).expect("sidecar");
        assert_eq!(meta.alt.as_deref(), Some("Mars"));
        assert_eq!(meta.is_private, Some(true));
        assert_eq!(meta.internal_tags, ["a", "b"]);
        let pulled = r#"{"id": 7, "filename": "https://a.storyblok.com/f/1/x.png",
            "title": "T", "internal_tags_list": [{"id": 3, "name": "hero"}]}"#;
        let meta = AssetMeta::from_json(pulled).expect("pulled asset");
        assert_eq!(meta.title.as_deref(), Some("T"));
        assert_eq!(meta.internal_tags, ["hero"]);
        for bad in ["[]", "{", r#"{"alt": 5}"#, r#"{"internal_tags": "x"}"#] {
            assert!(AssetMeta::from_json(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_hash_ignores_tag_order_and_sees_every_field() {
        let a = AssetMeta::new().alt("x").tag("one").tag("two");
        let b = AssetMeta::new().tag("two").tag("one").alt("x");
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), a.clone().title("t").hash());
        assert_ne!(a.hash(), a.clone().meta("k", "v").hash());
        assert_ne!(
            AssetMeta::new().hash(),
            AssetMeta::new().private(false).hash()
        );
        assert_eq!(a.hash().len(), 64);
    }

    #[test]
    fn fields_send_tags_as_ids() {
        let meta = AssetMeta::new().alt("A").private(false).tag("t");
        let fields = meta.fields(&[9]);
        assert_eq!(
            Value::Object(fields).to_string(),
            r#"{"alt":"A","internal_tag_ids":[9],"is_private":false}"#
        );
    }
}
