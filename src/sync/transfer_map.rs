//! The transfer's map: where each source asset went. It is the transfer's record (a rerun
//! copies only what it lacks) and what moves stories along ([`TransferMap::rewrite`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::manifest::{create_temporary, manifest_error, temporary_name};
use crate::error::Error;

/// The most a map file may hold: far more than any real one (a few hundred bytes an asset).
const MAX_MAP: u64 = 256 * 1024 * 1024;

/// Where each source asset went: the transfer's record, and what moves stories along.
///
/// Written as JSON at [`TransferOptions::new`]'s path after every asset.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TransferMap {
    /// The space copied from.
    pub source_space: Option<u64>,
    /// The space copied into.
    pub target_space: Option<u64>,
    /// By source asset id.
    #[serde(default)]
    pub assets: BTreeMap<u64, MappedAsset>,
    /// Target asset folder ids, by the source asset folder id of an asset copied (`0`:
    /// the top of what was copied, when it went into a target folder).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub folders: BTreeMap<u64, u64>,
}

/// One source asset's copy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MappedAsset {
    /// The target asset's id.
    pub id: u64,
    /// The target asset's CDN URL.
    pub url: String,
    /// The source asset's CDN URL.
    pub source_url: String,
    /// The target record exists but its upload did not complete: the next transfer
    /// uploads into it rather than creating another.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

impl TransferMap {
    /// Reads a map file; a missing file is an empty map.
    pub fn load(path: impl AsRef<Path>) -> Result<TransferMap, Error> {
        let path = path.as_ref();
        let text = match std::fs::File::open(path) {
            Ok(file) => {
                let mut text = String::new();
                std::io::Read::read_to_string(
                    &mut std::io::Read::take(file, MAX_MAP + 1),
                    &mut text,
                )
                .map_err(|e| manifest_error(path, "cannot be read", Some(e)))?;
                text
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TransferMap::default());
            }
            Err(e) => return Err(manifest_error(path, "cannot be read", Some(e))),
        };
        serde_json::from_str(&text).map_err(|e| {
            manifest_error(
                path,
                &format!("is not a transfer map ({e}); it was left as it is"),
                None,
            )
        })
    }

    /// Points a story's assets at their copies: every object with an `id` and a
    /// `filename` of a source asset (an asset field) gets the target's, and every source
    /// URL in a string (rich text, markdown) becomes the target's. Returns how many
    /// replacements it made.
    ///
    /// ```
    /// use serde_json::json;
    /// use storyblok_assets::TransferMap;
    ///
    /// let map: TransferMap = serde_json::from_value(json!({
    ///     "source_space": 1, "target_space": 2,
    ///     "assets": {"11": {"id": 22, "url": "https://a.storyblok.com/f/2/b.png",
    ///                       "source_url": "https://a.storyblok.com/f/1/a.png"}}
    /// }))?;
    /// let mut story = json!({"hero": {"id": 11, "filename": "https://a.storyblok.com/f/1/a.png"},
    ///                        "text": "see https://a.storyblok.com/f/1/a.png"});
    /// assert_eq!(map.rewrite(&mut story), 2);
    /// assert_eq!(story["hero"]["id"], 22);
    /// assert_eq!(story["text"], "see https://a.storyblok.com/f/2/b.png");
    /// # Ok::<_, serde_json::Error>(())
    /// ```
    pub fn rewrite(&self, story: &mut Value) -> usize {
        match story {
            Value::Object(fields) => {
                let copy = fields
                    .get("id")
                    .and_then(Value::as_u64)
                    .filter(|_| fields.get("filename").is_some_and(Value::is_string))
                    .and_then(|id| self.assets.get(&id))
                    .filter(|copy| !copy.pending);
                if let Some(copy) = copy {
                    fields.insert("id".into(), copy.id.into());
                    fields.insert("filename".into(), copy.url.clone().into());
                    return 1 + fields
                        .iter_mut()
                        .filter(|(key, _)| *key != "id" && *key != "filename")
                        .map(|(_, value)| self.rewrite(value))
                        .sum::<usize>();
                }
                fields.values_mut().map(|value| self.rewrite(value)).sum()
            }
            Value::Array(items) => items.iter_mut().map(|item| self.rewrite(item)).sum(),
            Value::String(text) => {
                let mut count = 0;
                for copy in self.assets.values().filter(|copy| !copy.pending) {
                    if !copy.source_url.is_empty() && text.contains(&copy.source_url) {
                        *text = text.replace(&copy.source_url, &copy.url);
                        count += 1;
                    }
                }
                count
            }
            _ => 0,
        }
    }

    /// Writes the map atomically: a temporary file beside it, then a rename.
    pub(super) fn save(&self, path: &Path) -> Result<(), Error> {
        let fail = |e| manifest_error(path, "cannot be written", Some(e));
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| manifest_error(path, &format!("cannot be encoded: {e}"), None))?;
        let (temporary, mut file) = create_temporary(|| temporary_name(path)).map_err(fail)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .and_then(|()| {
                drop(file);
                std::fs::rename(&temporary, path)
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(fail(e));
        }
        Ok(())
    }
}
