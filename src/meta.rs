//! An asset's descriptive metadata (alt text, title, tags, …), how a sidecar file states
//! it, and the update call that sets it without uploading the file again:
//! `PUT /v1/spaces/{space}/assets/{id}` with `{"asset": {…}}`.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::codec::sha256::Sha256;
use crate::error::{Error, Step};
use crate::mapi::{self, Method};
use crate::session::Session;
use crate::source::open_regular;

/// The most a metadata file ([`AssetMeta::from_file`]) may hold: 1 MiB. Metadata is a few
/// lines of text; a bigger file is a mistake, and is not read into memory.
const MAX_FILE: u64 = 1024 * 1024;

/// The keys [`AssetMeta::from_json`] reads. A JSON object with none of them holds no
/// metadata, so it is no sidecar (see [`holds_no_metadata`]).
const KEYS: [&str; 9] = [
    "alt",
    "title",
    "copyright",
    "source",
    "focus",
    "is_private",
    "meta_data",
    "internal_tags",
    "internal_tags_list",
];

/// What editors see next to an asset's file: alt text, title, copyright, source, focus
/// point, privacy, custom fields (Storyblok's `meta_data`) and internal tags (by name).
///
/// [`Client::sync`](crate::Client::sync) reads it from a sidecar `<file>.json` or from
/// [`SyncOptions::metadata`](crate::SyncOptions::metadata), sends it with the sign call,
/// and when only the metadata changed sends it alone with
/// [`Client::update_metadata`](crate::Client::update_metadata); [`Client::pull`](crate::Client::pull)
/// writes it as a sidecar. Unset fields are left as they are in Storyblok.
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
    /// Custom fields: Storyblok's `meta_data` object, the name it has in JSON.
    #[serde(rename = "meta_data", default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<Map<String, Value>>,
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

    /// One custom field (an entry of Storyblok's `meta_data`).
    pub fn custom_field(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.custom_fields
            .get_or_insert_with(Map::new)
            .insert(key.into(), value.into());
        self
    }

    /// Every custom field at once (Storyblok's `meta_data` object), replacing those set
    /// before.
    pub fn custom_fields(mut self, fields: Map<String, Value>) -> Self {
        self.custom_fields = Some(fields);
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
        if other.custom_fields.is_some() {
            self.custom_fields.clone_from(&other.custom_fields);
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
    /// every other key (`id`, `filename`, …) is ignored. A `meta_data` of `[]` (what
    /// Storyblok sends for none), `{}` or `null` means none: the asset keeps its own.
    ///
    /// Text that is not such an object is an [`ErrorKind::InvalidInput`](crate::ErrorKind::InvalidInput)
    /// saying why.
    ///
    /// ```
    /// use storyblok_assets::AssetMeta;
    ///
    /// let meta = AssetMeta::from_json(r#"{"alt": "The red planet", "internal_tags": ["planets"]}"#)?;
    /// assert_eq!(meta, AssetMeta::new().alt("The red planet").tag("planets"));
    /// assert!(AssetMeta::from_json("[1, 2]").is_err());
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn from_json(text: &str) -> Result<AssetMeta, Error> {
        parse(text).map_err(|problem| Error::invalid(format!("the metadata is {problem}")))
    }

    /// Reads a metadata file (a sidecar, or a file of metadata for every asset) as
    /// [`AssetMeta::from_json`] reads its text. It must be a regular file (a symbolic link
    /// to one is followed) of at most 1 MiB: a pipe, socket or device is refused without
    /// being opened (opening a FIFO waits for a writer), and a bigger file without being
    /// read. Every error names the file.
    ///
    /// ```no_run
    /// use storyblok_assets::AssetMeta;
    ///
    /// let meta = AssetMeta::from_file("assets/mars.jpg.json")?;
    /// # let _ = meta;
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<AssetMeta, Error> {
        let path = path.as_ref();
        let text = read_file(path)?;
        parse(&text).map_err(|problem| {
            Error::invalid(format!("the metadata file {} is {problem}", path.display()))
        })
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

/// The text of a metadata file, refused as [`AssetMeta::from_file`] says.
pub(crate) fn read_file(path: &Path) -> Result<String, Error> {
    let unreadable = |e| Error::source_io(Some(path.to_path_buf()), e);
    let too_big = |size: &str| {
        Error::invalid(format!(
            "the metadata file {} has {size} bytes; a metadata file may hold at most 1 MiB ({MAX_FILE} bytes)",
            path.display()
        ))
    };
    let (file, len) = open_regular(path).map_err(unreadable)?;
    if len > MAX_FILE {
        return Err(too_big(&len.to_string()));
    }
    let mut bytes = Vec::new();
    // It may grow between the look at its length and the read.
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(too_big(&format!("more than {MAX_FILE}")));
    }
    String::from_utf8(bytes).map_err(|_| {
        Error::invalid(format!(
            "the metadata file {} is not JSON: it is not UTF-8 text",
            path.display()
        ))
    })
}

/// Whether `text` is JSON that holds no metadata: not an object, or an object with none
/// of the keys [`AssetMeta::from_json`] reads (`{"name": "my-package"}`). Text that is not
/// JSON at all is taken for broken metadata, not for no metadata.
pub(crate) fn holds_no_metadata(text: &str) -> bool {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => !KEYS.iter().any(|key| map.contains_key(*key)),
        Ok(_) => true,
        Err(_) => false,
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

/// What [`AssetMeta::from_json`] reads, or why the text is not metadata.
fn parse(text: &str) -> Result<AssetMeta, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    let no_meta_data = match map.get("meta_data") {
        Some(Value::Null) => true,
        Some(Value::Array(items)) => items.is_empty(),
        Some(Value::Object(fields)) => fields.is_empty(),
        _ => false,
    };
    if no_meta_data {
        map.remove("meta_data");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

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
    fn an_empty_meta_data_is_none() {
        // A pulled asset object, as Storyblok sends it.
        for empty in ["[]", "{}", "null"] {
            let pulled = format!(
                r#"{{"id": 7, "alt": null, "title": "T", "meta_data": {empty}, "internal_tags_list": []}}"#
            );
            let meta = AssetMeta::from_json(&pulled).expect(empty);
            assert_eq!(meta, AssetMeta::new().title("T"), "{empty}");
        }
        let meta = AssetMeta::from_json(r#"{"meta_data": {"k": "v"}}"#).expect("meta_data");
        assert_eq!(meta, AssetMeta::new().custom_field("k", "v"));
        assert!(AssetMeta::from_json(r#"{"meta_data": [1]}"#).is_err());
    }

    #[test]
    fn the_metadata_keys_are_the_ones_read() {
        // Every field AssetMeta writes is a key that makes a sidecar, and the other way.
        let full = AssetMeta::new()
            .alt("a")
            .title("t")
            .copyright("c")
            .source("s")
            .focus("f")
            .private(true)
            .custom_field("k", "v")
            .tag("x");
        let Ok(Value::Object(written)) = serde_json::to_value(&full) else {
            panic!("an object");
        };
        let mut written: Vec<&str> = written.keys().map(String::as_str).collect();
        written.push("internal_tags_list");
        written.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(written, keys);
        for key in KEYS {
            assert!(
                !holds_no_metadata(&format!(r#"{{"{key}": null}}"#)),
                "{key}"
            );
        }
        for none in [
            r#"{"name": "pkg", "version": "1"}"#,
            "[]",
            "[1, 2]",
            "\"alt\"",
            "{}",
        ] {
            assert!(holds_no_metadata(none), "{none}");
        }
        assert!(!holds_no_metadata("{not json"), "broken is not none");
    }

    #[cfg(unix)]
    #[test]
    fn a_metadata_file_is_small_and_regular() {
        let dir = std::env::temp_dir().join(format!("sb-meta-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let good = dir.join("good.json");
        std::fs::write(&good, r#"{"alt": "A", "meta_data": []}"#).expect("write");
        assert_eq!(
            AssetMeta::from_file(&good).expect("read"),
            AssetMeta::new().alt("A")
        );

        let big = dir.join("big.json");
        let mut text = String::from(r#"{"alt": ""#);
        text.push_str(&"x".repeat(MAX_FILE as usize));
        text.push_str(r#""}"#);
        std::fs::write(&big, text).expect("write");
        let error = AssetMeta::from_file(&big).expect_err("too big");
        assert!(
            matches!(error.kind(), ErrorKind::InvalidInput { .. }),
            "{error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains("big.json") && message.contains("1 MiB"),
            "{message}"
        );

        // A FIFO is refused without being opened: opening it would wait for a writer.
        let fifo = dir.join("fifo.json");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo");
        assert!(made.success());
        let (sent, answer) = std::sync::mpsc::channel();
        let path = fifo.clone();
        std::thread::spawn(move || {
            let _ = sent.send(AssetMeta::from_file(&path));
        });
        let error = answer
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("refused at once, not opened")
            .expect_err("a FIFO");
        assert!(
            matches!(error.kind(), ErrorKind::Source { .. }),
            "{error:?}"
        );
        assert!(error.to_string().contains("fifo.json"), "{error}");

        let broken = dir.join("broken.json");
        std::fs::write(&broken, "{nope").expect("write");
        let error = AssetMeta::from_file(&broken).expect_err("broken");
        assert!(
            error.to_string().contains("broken.json is not JSON"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_hash_ignores_tag_order_and_sees_every_field() {
        let a = AssetMeta::new().alt("x").tag("one").tag("two");
        let b = AssetMeta::new().tag("two").tag("one").alt("x");
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), a.clone().title("t").hash());
        assert_ne!(a.hash(), a.clone().custom_field("k", "v").hash());
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
