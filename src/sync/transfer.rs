//! Transfer: the assets of one space (or one asset folder's, with everything below it)
//! copied into another space, each file streamed from the source's CDN straight into the
//! target's upload, with a map from source to target that is also the transfer's record:
//! a rerun copies only what is missing, and never twice.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use super::download;
use super::listing::Listed;
use super::lock::ManifestLock;
use super::manifest::manifest_error;
use super::pull::{listed, metadata};
use super::transfer_map::{Book, MappedAsset, TransferMap};
use crate::asset::cdn_url;
use crate::client::Client;
use crate::error::{Error, ErrorKind, Record};
use crate::mutex::lock;
use crate::params::AssetParams;
use crate::sign::SignedUpload;
use crate::source::Source;

/// How many times one asset's file is streamed when S3 fails in a way a retry could mend
/// (a stream cannot start over: each attempt downloads it again).
const STREAM_ATTEMPTS: u32 = 3;

/// The most target assets one source asset is compared with when the map lacks it, as sync
/// compares at most this many candidates.
const MAX_CANDIDATES: usize = 10;

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
    dry_run: bool,
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
            dry_run: false,
        }
    }

    /// Report what a transfer would do, and do none of it (default `false`): the source is
    /// listed, and the target too when the map lacks an asset (its copies are looked for
    /// as in a real run, downloading to compare), but nothing is created, uploaded or
    /// written, and no lock is taken. [`TransferAction::Copied`] then means "would be
    /// copied".
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
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

/// What a transfer did with one source asset.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransferAction {
    /// Copied into the target space; in a dry run, it would be.
    Copied,
    /// The map says it was copied by an earlier transfer: nothing was sent.
    AlreadyThere,
    /// The map did not know it (a lost or new map), but the target holds its copy: an
    /// asset of the same folder path, stored name and size whose bytes match (SHA-256 of
    /// both CDN files). Taken into the map; nothing was sent.
    Adopted,
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
    /// Whether this was a dry run ([`TransferOptions::dry_run`]): nothing was created,
    /// uploaded or written.
    pub dry_run: bool,
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
    /// few assets at once ([`TransferOptions::concurrency`]), the largest first.
    ///
    /// The map ([`TransferMap`], at [`TransferOptions::new`]'s path) records each copy the
    /// moment its target record exists (a line of its journal), so a rerun after an
    /// interruption copies only what is missing, and uploads into a record left pending
    /// rather than making another. A source asset the map lacks is first looked for in the
    /// target (one listing of it per transfer): a copy with the same folder path, stored
    /// name and bytes is adopted, a record there with no file is uploaded into. Private
    /// source assets are reported, not copied. Fails as a whole only before anything is
    /// copied (a space that does not exist or refuses the token, a folder or target folder
    /// that is not there, a map that cannot be locked or read) or when the map cannot be
    /// written at the end; an asset's failure is in its line of the report. See
    /// [the crate docs](crate#transfer-one-space-to-another) for the rules in full.
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
        self.transfer_with(source_space, target, target_space, options, |_| {})
    }

    /// [`Client::transfer`], calling `each` with each source asset's line as soon as it is
    /// done (from the copying threads, in the order they finish), for a progress report.
    pub fn transfer_with(
        &self,
        source_space: u64,
        target: &Client,
        target_space: u64,
        options: &TransferOptions,
        each: impl Fn(&TransferredAsset) + Sync,
    ) -> Result<TransferReport, Error> {
        let path = &options.map;
        let dry_run = options.dry_run;
        let held = match dry_run {
            true => None,
            false => Some(ManifestLock::take(path, options.lock_timeout)?),
        };
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
        let mut listed = listed(self, source_space, options.folder)?;
        let unmapped = Unmapped::list(&listed, &map, target, target_space, options)?;
        let book = match dry_run {
            true => Book::dry(map, path),
            false => Book::open(map, path, target_space)?,
        };
        let copy = Copy {
            source: self,
            target,
            target_space,
            target_folder: options.target_folder,
            book: Mutex::new(book),
            unmapped,
            dry_run,
        };
        // The largest first: a long upload then runs beside the small ones' calls, rather
        // than alone at the end.
        listed.sort_by_key(|(_, asset)| std::cmp::Reverse(asset.content_length));
        let mut assets = crate::pool::map(listed, options.concurrency, |(asset_path, asset)| {
            let known = lock(&copy.book).map().assets.get(&asset.id).cloned();
            let (action, target_id) = match known {
                _ if asset.is_private => (TransferAction::SkippedPrivate, None),
                Some(mapped) if !mapped.pending => (TransferAction::AlreadyThere, Some(mapped.id)),
                pending => match copy.one(&asset_path, &asset, pending.as_ref()) {
                    Ok(done) => done,
                    Err(error) => {
                        let id = lock(&copy.book).map().assets.get(&asset.id).map(|m| m.id);
                        (TransferAction::Failed(error), id)
                    }
                },
            };
            let line = TransferredAsset {
                path: asset_path,
                source_id: asset.id,
                target_id,
                action,
            };
            each(&line);
            line
        });
        crate::mutex::into_inner(copy.book).close()?;
        drop(held);
        assets.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(TransferReport { assets, dry_run })
    }
}

/// What each asset's copy needs; the map is shared by the copies running at once.
struct Copy<'a> {
    source: &'a Client,
    target: &'a Client,
    target_space: u64,
    target_folder: Option<u64>,
    /// The map, and its journal.
    book: Mutex<Book<'a>>,
    unmapped: Unmapped,
    dry_run: bool,
}

/// The target's assets the map does not name, when some source asset is missing from the
/// map: where a lost map's copies are found again.
#[derive(Default)]
struct Unmapped {
    /// By folder path (relative to the target folder) and stored name, oldest first.
    by_place: HashMap<(String, String), Vec<Listed>>,
    /// The candidates a source asset took: two source assets never take one target asset.
    claimed: Mutex<HashSet<u64>>,
}

/// How far a copy has come, as the map notes it.
#[derive(Clone, Copy)]
enum Stage {
    /// Its record exists, its file is not yet there; `found`: a record found in the
    /// target, not made by a transfer.
    Pending { found: bool },
    /// Copied (or adopted): the record holds the file.
    Done,
}

/// What the target already holds for a source asset the map lacks.
enum Found {
    /// A copy with the same bytes: its id, CDN URL and folder.
    Copy {
        id: u64,
        url: String,
        folder: Option<u64>,
    },
    /// A record with no file: an interrupted copy's, to upload into.
    Empty(u64),
}

impl Unmapped {
    /// Lists the target (below the target folder) when a public source asset is missing
    /// from the map, keeping the assets the map does not name; nothing, and no call, when
    /// the map has them all. A target folder that is not in the target space fails here,
    /// before anything is made.
    fn list(
        source: &[(String, Listed)],
        map: &TransferMap,
        target: &Client,
        target_space: u64,
        options: &TransferOptions,
    ) -> Result<Unmapped, Error> {
        // A pending entry names its record: only an asset the map lacks is looked for.
        let missing = source
            .iter()
            .any(|(_, asset)| !asset.is_private && !map.assets.contains_key(&asset.id));
        if !missing {
            return Ok(Unmapped::default());
        }
        let named: HashSet<u64> = map.assets.values().map(|m| m.id).collect();
        let mut by_place: HashMap<(String, String), Vec<Listed>> = HashMap::new();
        for (path, asset) in listed(target, target_space, options.target_folder)? {
            if !named.contains(&asset.id) && !asset.is_private {
                let place = (dir_of(&path).to_owned(), asset.stored_name().to_owned());
                by_place.entry(place).or_default().push(asset);
            }
        }
        Ok(Unmapped {
            by_place,
            claimed: Mutex::default(),
        })
    }

    /// What the target holds at `place` for `asset`, claimed. First a copy: one of the
    /// same size whose bytes match (both CDN files through SHA-256; at most
    /// [`MAX_CANDIDATES`] of that size compared; a candidate that cannot be read is not
    /// it). Else a record with no file: no size listed, and the CDN has no file for it.
    /// Only a failure to read the source's own file fails the asset.
    fn find(
        &self,
        copy: &Copy<'_>,
        place: &(String, String),
        asset: &Listed,
        size: u64,
        source_url: &str,
    ) -> Result<Option<Found>, Error> {
        let Some(candidates) = self.by_place.get(place) else {
            return Ok(None);
        };
        let same_size: Vec<&Listed> = candidates
            .iter()
            .filter(|c| c.content_length == Some(size))
            .take(MAX_CANDIDATES)
            .collect();
        // The source's hash, read only when a candidate may need it (`None`: the source's
        // file is not the listed size, so no candidate can hold it).
        let source = match same_size.is_empty() {
            true => None,
            false => download::sha256(copy.source.session(), source_url, size, asset.id)?,
        };
        if let Some(source) = source {
            for candidate in same_size {
                let url = cdn_url(&candidate.filename);
                let target = download::sha256(copy.target.session(), &url, size, candidate.id);
                if matches!(&target, Ok(Some(hash)) if *hash == source) && self.claim(candidate.id)
                {
                    let folder = candidate.folder();
                    let id = candidate.id;
                    return Ok(Some(Found::Copy { id, url, folder }));
                }
            }
        }
        let empty = candidates
            .iter()
            .filter(|c| c.content_length.is_none_or(|length| length == 0))
            .take(MAX_CANDIDATES);
        for candidate in empty {
            if !self.claim(candidate.id) {
                continue;
            }
            // At most a byte is read: any means the record has a file after all.
            let url = cdn_url(&candidate.filename);
            let probe = download::sha256(copy.target.session(), &url, 0, candidate.id);
            if matches!(probe, Err(ref e) if matches!(e.status(), Some(403 | 404 | 410))) {
                return Ok(Some(Found::Empty(candidate.id)));
            }
            lock(&self.claimed).remove(&candidate.id);
        }
        Ok(None)
    }

    /// Takes candidate `id`: `false` when another source asset took it first.
    fn claim(&self, id: u64) -> bool {
        lock(&self.claimed).insert(id)
    }
}

/// The folder part of a listed path (`""` at the top).
fn dir_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

impl Copy<'_> {
    /// Copies `asset` (at `asset_path` in the source) into the target, into the record
    /// `pending` when an earlier transfer left one; when the map knew none, the target's
    /// copy is looked for first. What it did, and the target asset's id (in a dry run,
    /// none for a record it would make).
    fn one(
        &self,
        asset_path: &str,
        asset: &Listed,
        pending: Option<&MappedAsset>,
    ) -> Result<(TransferAction, Option<u64>), Error> {
        let size = asset
            .content_length
            .filter(|&size| size > 0)
            .ok_or_else(|| Error::invalid("the source lists the asset without a size"))?;
        let dir = dir_of(asset_path);
        let source_url = cdn_url(&asset.filename);
        // A record with no file found in the target rather than made by a transfer (now or
        // by an earlier one, the map says): perhaps not a transfer's, so never deleted.
        let mut found_empty = pending.filter(|p| p.found).map(|p| p.id);
        let mut pending = pending.map(|p| p.id);
        if pending.is_none() {
            let place = (dir.to_owned(), asset.stored_name().to_owned());
            match self.unmapped.find(self, &place, asset, size, &source_url)? {
                Some(Found::Copy { id, url, folder }) => {
                    if !self.dry_run {
                        if let Some(folder) = folder {
                            let source_folder = asset.folder().unwrap_or(0);
                            lock(&self.book).folder(source_folder, folder)?;
                        }
                        self.note(asset.id, id, url, &source_url, Stage::Done)?;
                    }
                    return Ok((TransferAction::Adopted, Some(id)));
                }
                Some(Found::Empty(id)) => {
                    found_empty = Some(id);
                    pending = Some(id);
                }
                None => {}
            }
        }
        if self.dry_run {
            return Ok((TransferAction::Copied, pending));
        }
        let folder = match (dir, self.target_folder) {
            ("", folder) => folder,
            (dir, None) => Some(self.target.folder_path(self.target_space, dir)?),
            (dir, Some(top)) => Some(self.target.folder_path_in(self.target_space, top, dir)?),
        };
        if let Some(folder) = folder {
            lock(&self.book).folder(asset.folder().unwrap_or(0), folder)?;
        }
        let mut params = AssetParams::new()
            .filename(asset.stored_name())
            .metadata(metadata(asset));
        if let Some(folder) = folder {
            params = params.folder(folder);
        }
        let mut attempt = 1;
        loop {
            let signed = self.sign(asset.id, &params, pending)?;
            let id = signed.asset_id();
            let url = signed.cdn_url().unwrap_or_default();
            let found = found_empty == Some(id);
            self.note(asset.id, id, url, &source_url, Stage::Pending { found })?;
            let finished = download::open(self.source.session(), &source_url, size, asset.id)
                .and_then(|reader| signed.upload(Source::reader(reader, size)))
                .and_then(crate::finish::complete);
            match finished {
                Ok(copy) => {
                    self.note(asset.id, copy.id, copy.filename, &source_url, Stage::Done)?;
                    return Ok((TransferAction::Copied, Some(copy.id)));
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
                    let record = match found {
                        true => Record::Existing(id),
                        false => Record::New(id),
                    };
                    return Err(self.give_up(asset.id, record, error)?);
                }
            }
        }
    }

    /// The error of a copy that failed for good, into the target `record`. The record
    /// stays in the map as pending, for the next transfer to upload into, unless the target
    /// client deletes a failed upload's record
    /// ([`ClientBuilder::delete_on_failure`](crate::ClientBuilder::delete_on_failure)) and
    /// it is a transfer's (`Record::New`: made by this transfer or an earlier one, as the
    /// map says): then it is deleted and leaves the map.
    fn give_up(&self, source_id: u64, record: Record, error: Error) -> Result<Error, Error> {
        let error = match error.kind() {
            ErrorKind::RecordDeleted => error,
            _ => crate::delete::abandon(self.target.session(), self.target_space, record, error),
        };
        if matches!(error.kind(), ErrorKind::RecordDeleted) {
            lock(&self.book).set(source_id, None)?;
        }
        Ok(error)
    }

    /// Signs the upload of source asset `source_id` into the record `pending` an earlier
    /// attempt left, or into a new one when there is none, or it is gone.
    fn sign(
        &self,
        source_id: u64,
        params: &AssetParams,
        pending: Option<u64>,
    ) -> Result<SignedUpload, Error> {
        match pending {
            Some(id) => match self
                .target
                .sign(self.target_space, params.clone().replace(id))
            {
                // The pending record is gone (deleted meanwhile): the map forgets it before
                // a new one is made, so that a new one a kill leaves unnoted is looked for
                // (and found, empty) by the next transfer.
                Err(error) if error.status() == Some(404) => {
                    lock(&self.book).set(source_id, None)?;
                    self.target.sign(self.target_space, params.clone())
                }
                other => other,
            },
            None => self.target.sign(self.target_space, params.clone()),
        }
    }

    /// Records the copy of `source_id` as `id` at `url`, at `stage`, in the map's journal,
    /// before going on: a record is in the map the moment it exists.
    fn note(
        &self,
        source_id: u64,
        id: u64,
        url: String,
        source_url: &str,
        stage: Stage,
    ) -> Result<(), Error> {
        let (pending, found) = match stage {
            Stage::Pending { found } => (true, found),
            Stage::Done => (false, false),
        };
        let copy = MappedAsset {
            id,
            url,
            source_url: source_url.to_owned(),
            pending,
            found,
        };
        lock(&self.book).set(source_id, Some(copy))
    }
}
