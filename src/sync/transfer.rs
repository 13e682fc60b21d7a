//! Transfer: the assets of one space (or one asset folder's, with everything below it)
//! copied into another space, each file streamed from the source's CDN straight into the
//! target's upload, with a map from source to target that is also the transfer's record:
//! a rerun copies only what is missing, and never twice.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::download;
use super::listing::Listed;
use super::lock::ManifestLock;
use super::manifest::{create_temporary, manifest_error, temporary_name};
use super::pull::{listed, metadata};
use crate::asset::cdn_url;
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::mutex::lock;
use crate::params::AssetParams;
use crate::sign::SignedUpload;
use crate::source::Source;

/// How many times one asset's file is streamed when S3 fails in a way a retry could mend
/// (a stream cannot start over: each attempt downloads it again).
const STREAM_ATTEMPTS: u32 = 3;

/// The most a map file may hold: far more than any real one (a few hundred bytes an asset).
const MAX_MAP: u64 = 256 * 1024 * 1024;

/// What [`Client::transfer`] should copy, and where it keeps its map.
///
/// ```
/// use storyblok_assets::TransferOptions;
///
/// let options = TransferOptions::new("transfer.map.json").folder(42).target_folder(7);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct TransferOptions {
    map: PathBuf,
    folder: Option<u64>,
    target_folder: Option<u64>,
    concurrency: usize,
    lock_timeout: Duration,
}

impl TransferOptions {
    /// Every asset of the source space, recorded in the map file at `map` (made if
    /// missing): keep it, to run the transfer again and to move stories
    /// ([`TransferMap::rewrite`]).
    pub fn new(map: impl Into<PathBuf>) -> TransferOptions {
        TransferOptions {
            map: map.into(),
            folder: None,
            target_folder: None,
            concurrency: 4,
            lock_timeout: Duration::from_secs(60),
        }
    }

    /// Only the assets of this source asset folder and the folders below it.
    pub fn folder(mut self, asset_folder_id: u64) -> Self {
        self.folder = Some(asset_folder_id);
        self
    }

    /// Recreate the source's folders below this target asset folder (default: at the top
    /// of the target's asset library).
    pub fn target_folder(mut self, asset_folder_id: u64) -> Self {
        self.target_folder = Some(asset_folder_id);
        self
    }

    /// How many assets are copied at once (default 4), on threads that share the target
    /// client's pacing: a large file's transfer then holds up no other.
    pub fn concurrency(mut self, assets: usize) -> Self {
        self.concurrency = assets.max(1);
        self
    }

    /// How long to wait for another transfer with the same map to end (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }
}

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

/// What a transfer did with one source asset.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransferAction {
    /// Copied into the target space.
    Copied,
    /// The map says it was copied by an earlier transfer: nothing was sent.
    AlreadyThere,
    /// Private: the source's public CDN does not serve it, so it was not copied.
    SkippedPrivate,
    /// It could not be copied; the rest of the transfer went on. A target record that
    /// exists stays in the map as pending, for the next transfer to upload into.
    Failed(Error),
}

/// One source asset of a [`TransferReport`].
#[derive(Debug)]
pub struct TransferredAsset {
    /// The source asset's path, as [`Client::pull`] would name it: its folder's path and
    /// its stored name.
    pub path: String,
    /// The source asset's id.
    pub source_id: u64,
    /// The target asset's id, once it exists.
    pub target_id: Option<u64>,
    /// What happened.
    pub action: TransferAction,
}

/// What [`Client::transfer`] did, one line per source asset, in path order.
#[derive(Debug)]
pub struct TransferReport {
    /// Every source asset listed.
    pub assets: Vec<TransferredAsset>,
}

impl TransferReport {
    /// Whether no asset failed.
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The assets that failed, with why.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.assets.iter().filter_map(|asset| match &asset.action {
            TransferAction::Failed(error) => Some((asset.path.as_str(), error)),
            _ => None,
        })
    }
}

impl Client {
    /// Copies the assets of space `source_space` (this client's) into space
    /// `target_space` of `target`, which may be another client: another region, another
    /// organisation's token. Folders are recreated below
    /// [`TransferOptions::target_folder`], internal tags by name, metadata carried.
    ///
    /// Each file streams from the source's CDN straight into the target's S3 upload, with
    /// the listed size as its exact `Content-Length`: no temporary file, flat memory for
    /// any size; a failure of S3 that a retry could mend streams the file again, into the
    /// same record. The source is listed (one call for its folders, one per 100 assets); the
    /// target is called at its own pace (2 calls an asset, plus its folders and tags), a
    /// few assets at once ([`TransferOptions::concurrency`]).
    ///
    /// The map ([`TransferMap`], at [`TransferOptions::new`]'s path) records each copy the
    /// moment its target record exists, so a rerun after an interruption copies only what
    /// is missing, and uploads into a record left pending rather than making another.
    /// Private source assets are reported, not copied. Fails as a whole only when the
    /// source cannot be listed, the folder named is not in it, or the map cannot be
    /// locked, read or written; an asset's failure is in its line of the report.
    ///
    /// ```no_run
    /// use storyblok_assets::{Client, Token, TransferMap, TransferOptions};
    ///
    /// let source = Client::new(Token::personal(std::env::var("SOURCE_TOKEN")?))?;
    /// let target = Client::new(Token::personal(std::env::var("TARGET_TOKEN")?))?;
    /// let report = source.transfer(184738, &target, 290001, &TransferOptions::new("map.json"))?;
    /// for (path, error) in report.failures() {
    ///     eprintln!("{path}: {error}");
    /// }
    /// let map = TransferMap::load("map.json")?;
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn transfer(
        &self,
        source_space: u64,
        target: &Client,
        target_space: u64,
        options: &TransferOptions,
    ) -> Result<TransferReport, Error> {
        let path = &options.map;
        let held = ManifestLock::take(path, options.lock_timeout)?;
        let mut map = TransferMap::load(path)?;
        if map.source_space.is_some_and(|s| s != source_space)
            || map.target_space.is_some_and(|t| t != target_space)
        {
            return Err(manifest_error(
                path,
                &format!(
                    "maps space {:?} to {:?}, not {source_space} to {target_space}",
                    map.source_space, map.target_space
                ),
                None,
            ));
        }
        map.source_space = Some(source_space);
        map.target_space = Some(target_space);
        let listed = listed(self, source_space, options.folder)?;
        let copy = Copy {
            source: self,
            target,
            target_space,
            target_folder: options.target_folder,
            map: Mutex::new(map),
            path,
        };
        let mut assets = crate::pool::map(listed, options.concurrency, |(asset_path, asset)| {
            let known = lock(&copy.map).assets.get(&asset.id).cloned();
            let (action, target_id) = match known {
                _ if asset.is_private => (TransferAction::SkippedPrivate, None),
                Some(mapped) if !mapped.pending => (TransferAction::AlreadyThere, Some(mapped.id)),
                pending => match copy.one(&asset_path, &asset, pending.map(|p| p.id)) {
                    Ok(id) => (TransferAction::Copied, Some(id)),
                    Err(error) => {
                        let id = lock(&copy.map).assets.get(&asset.id).map(|m| m.id);
                        (TransferAction::Failed(error), id)
                    }
                },
            };
            TransferredAsset {
                path: asset_path,
                source_id: asset.id,
                target_id,
                action,
            }
        });
        crate::mutex::into_inner(copy.map).save(path)?;
        drop(held);
        assets.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(TransferReport { assets })
    }
}

/// What each asset's copy needs; the map is shared by the copies running at once.
struct Copy<'a> {
    source: &'a Client,
    target: &'a Client,
    target_space: u64,
    target_folder: Option<u64>,
    map: Mutex<TransferMap>,
    path: &'a Path,
}

impl Copy<'_> {
    /// Copies `asset` (at `asset_path` in the source) into the target, into the record
    /// `pending` when an earlier transfer left one. The target asset's id.
    fn one(&self, asset_path: &str, asset: &Listed, pending: Option<u64>) -> Result<u64, Error> {
        let size = asset
            .content_length
            .filter(|&size| size > 0)
            .ok_or_else(|| Error::invalid("the source lists the asset without a size"))?;
        let dir = asset_path.rsplit_once('/').map_or("", |(dir, _)| dir);
        let folder = match (dir, self.target_folder) {
            ("", folder) => folder,
            (dir, None) => Some(self.target.folder_path(self.target_space, dir)?),
            (dir, Some(top)) => Some(self.target.folder_path_in(self.target_space, top, dir)?),
        };
        if let Some(folder) = folder {
            lock(&self.map)
                .folders
                .insert(asset.folder().unwrap_or(0), folder);
        }
        let mut params = AssetParams::new()
            .filename(asset.stored_name())
            .metadata(metadata(asset));
        if let Some(folder) = folder {
            params = params.folder(folder);
        }
        let source_url = cdn_url(&asset.filename);
        let mut pending = pending;
        let mut attempt = 1;
        loop {
            let signed = self.sign(&params, pending)?;
            let id = signed.asset_id();
            let url = signed.cdn_url().unwrap_or_default();
            self.note(asset.id, id, url, &source_url, true)?;
            let reader = download::open(self.source.session(), &source_url, size, asset.id)?;
            let finished = signed
                .upload(Source::reader(reader, size))
                .and_then(crate::finish::complete);
            match finished {
                Ok(copy) => {
                    self.note(asset.id, copy.id, copy.filename, &source_url, false)?;
                    return Ok(copy.id);
                }
                // A failure a retry could mend, of a stream that cannot start over: a new
                // download, into the same record.
                Err(error)
                    if matches!(error.kind(), ErrorKind::NotReplayable)
                        && attempt < STREAM_ATTEMPTS =>
                {
                    attempt += 1;
                    pending = Some(id);
                }
                Err(error) => {
                    // A record the target deleted (delete-on-failure) is no longer pending.
                    if matches!(error.kind(), ErrorKind::RecordDeleted) {
                        let mut map = lock(&self.map);
                        map.assets.remove(&asset.id);
                        map.save(self.path)?;
                    }
                    return Err(error);
                }
            }
        }
    }

    /// Signs the upload into the record `pending` an earlier attempt left, or into a new
    /// one when there is none, or it is gone.
    fn sign(&self, params: &AssetParams, pending: Option<u64>) -> Result<SignedUpload, Error> {
        match pending {
            Some(id) => match self
                .target
                .sign(self.target_space, params.clone().replace(id))
            {
                // The pending record is gone (deleted meanwhile): a new one.
                Err(error) if error.status() == Some(404) => {
                    self.target.sign(self.target_space, params.clone())
                }
                other => other,
            },
            None => self.target.sign(self.target_space, params.clone()),
        }
    }

    /// Records the copy of `source_id` as `id` at `url`, and writes the map, before going
    /// on: a record is in the map the moment it exists.
    fn note(
        &self,
        source_id: u64,
        id: u64,
        url: String,
        source_url: &str,
        pending: bool,
    ) -> Result<(), Error> {
        let mut map = lock(&self.map);
        map.assets.insert(
            source_id,
            MappedAsset {
                id,
                url,
                source_url: source_url.to_owned(),
                pending,
            },
        );
        map.save(self.path)
    }
}
