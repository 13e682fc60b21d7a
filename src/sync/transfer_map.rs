//! The transfer's map: where each source asset went. It is the transfer's record (a rerun
//! copies only what it lacks) and what moves stories along ([`TransferMap::rewrite`]).
//!
//! A transfer notes each change in a journal beside the map (`.{map}.journal`, JSON lines
//! after sync's header line), one line each, and folds it into the map when it ends; the
//! next transfer does after a crash, and [`TransferMap::load`] reads it too:
//!
//! ```text
//! {"journal":1,"space_id":290001}
//! {"source":123,"asset":{"id":456,"url":"…","source_url":"…","pending":true}}
//! {"folder":77,"target":88}
//! {"source":124,"asset":null}
//! ```

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::journal::{self, Journal, present};
use super::manifest::{create_temporary, manifest_error, temporary_name};
use crate::error::Error;

/// A journal line that sets (or, with `None`, removes) a source asset's copy.
#[derive(Serialize)]
struct AssetLine<'a> {
    source: u64,
    asset: Option<&'a MappedAsset>,
}

/// A journal line that maps a source folder to a target folder.
#[derive(Serialize)]
struct FolderLine {
    folder: u64,
    target: u64,
}

/// Any line, read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnedLine {
    #[serde(default)]
    source: Option<u64>,
    #[serde(default, with = "present")]
    asset: Option<Option<MappedAsset>>,
    #[serde(default)]
    folder: Option<u64>,
    #[serde(default)]
    target: Option<u64>,
}

/// The most a map file may hold: far more than any real one (a few hundred bytes an asset).
const MAX_MAP: u64 = 256 * 1024 * 1024;

/// Where each source asset went: the transfer's record, and what moves stories along.
///
/// JSON at [`TransferOptions::new`](crate::TransferOptions::new)'s path; while a transfer
/// runs, each change is a line of a journal beside it, folded in when it ends (or by the
/// next transfer, after a crash). [`TransferMap::load`] reads both.
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
    /// The pending record was found in the target (a record with no file, after a lost
    /// map), not made by a transfer: it is uploaded into, but never deleted when that fails.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub found: bool,
}

impl TransferMap {
    /// Reads a map file, with what the journal beside it (of a transfer that runs, or did
    /// not end) noted; a missing file is an empty map.
    pub fn load(path: impl AsRef<Path>) -> Result<TransferMap, Error> {
        let path = path.as_ref();
        let mut map = TransferMap::load_file(path)?;
        map.apply_journal(path)?;
        Ok(map)
    }

    /// Applies the journal beside the map at `path`, if there is one. Whether there was.
    fn apply_journal(&mut self, path: &Path) -> Result<bool, Error> {
        let Some(read) = journal::read(path)? else {
            return Ok(false);
        };
        match (read.space_id, self.target_space) {
            (Some(journal), Some(target)) if journal != target => {
                return Err(journal::other_space(path, journal, target));
            }
            (Some(journal), None) => self.target_space = Some(journal),
            _ => {}
        }
        for (number, line) in read.lines {
            let line: OwnedLine = serde_json::from_str(&line)
                .map_err(|e| journal::corrupt(path, number, &e.to_string()))?;
            match line {
                OwnedLine {
                    source: Some(source),
                    asset: Some(asset),
                    folder: None,
                    target: None,
                } => {
                    match asset {
                        Some(asset) => self.assets.insert(source, asset),
                        None => self.assets.remove(&source),
                    };
                }
                OwnedLine {
                    source: None,
                    asset: None,
                    folder: Some(folder),
                    target: Some(target),
                } => {
                    self.folders.insert(folder, target);
                }
                _ => {
                    let why = "neither one asset nor one folder";
                    return Err(journal::corrupt(path, number, why));
                }
            };
        }
        Ok(true)
    }

    /// Reads the map file alone.
    fn load_file(path: &Path) -> Result<TransferMap, Error> {
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
    fn save(&self, path: &Path) -> Result<(), Error> {
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

/// A map being changed by a transfer: each change noted in the journal the moment it is
/// made, the map written whole once, when the transfer ends. A dry run's book has no
/// journal and writes nothing.
pub(super) struct Book<'a> {
    map: TransferMap,
    path: &'a Path,
    journal: Option<Journal>,
}

impl<'a> Book<'a> {
    /// Starts changing `map`, read from `path` (with its journal) for a transfer into
    /// `target_space`. A journal a transfer that did not end left is folded in first.
    pub(super) fn open(
        map: TransferMap,
        path: &'a Path,
        target_space: u64,
    ) -> Result<Book<'a>, Error> {
        if journal::path_of(path).exists() {
            map.save(path)?;
            journal::remove(path)?;
        }
        let journal = Some(Journal::create(path, Some(target_space))?);
        Ok(Book { map, path, journal })
    }

    /// A book for a dry run: `map` read, nothing ever written.
    pub(super) fn dry(map: TransferMap, path: &'a Path) -> Book<'a> {
        Book {
            map,
            path,
            journal: None,
        }
    }

    /// The map as it stands.
    pub(super) fn map(&self) -> &TransferMap {
        &self.map
    }

    /// Sets (or, with `None`, removes) the copy of `source`, noted before returning.
    pub(super) fn set(&mut self, source: u64, asset: Option<MappedAsset>) -> Result<(), Error> {
        if let Some(journal) = &mut self.journal {
            journal.write(&AssetLine {
                source,
                asset: asset.as_ref(),
            })?;
        }
        match asset {
            Some(asset) => self.map.assets.insert(source, asset),
            None => self.map.assets.remove(&source),
        };
        Ok(())
    }

    /// Maps the source folder `folder` to the target folder `target`, noted before
    /// returning (once: a mapping the map holds already is not noted again).
    pub(super) fn folder(&mut self, folder: u64, target: u64) -> Result<(), Error> {
        if self.map.folders.get(&folder) != Some(&target) {
            if let Some(journal) = &mut self.journal {
                journal.write(&FolderLine { folder, target })?;
            }
            self.map.folders.insert(folder, target);
        }
        Ok(())
    }

    /// Writes the map whole and removes the journal (nothing, in a dry run).
    pub(super) fn close(self) -> Result<(), Error> {
        let Some(journal) = self.journal else {
            return Ok(());
        };
        self.map.save(self.path)?;
        journal.remove()
    }
}
