//! Pull: a space's assets (or one asset folder's, with everything below it) into a local
//! folder, with the manifest sync keeps, so that a sync of the pulled folder right after
//! makes no call. The inverse of [`Client::sync`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::download;
use super::listing::Listed;
use super::lock::ManifestLock;
use super::manifest::ManifestEntry;
use super::store::Store;
use crate::asset::cdn_url;
use crate::client::Client;
use crate::error::{Error, Step};
use crate::listed::Named;
use crate::meta::AssetMeta;
use crate::mutex::lock;
use crate::paging;

/// A server that keeps promising more pages is not followed past this many (100,000
/// assets).
const MAX_PAGES: u64 = 1000;

/// What [`Client::pull`] should fetch, and where it puts it.
///
/// ```
/// use storyblok_assets::PullOptions;
///
/// let options = PullOptions::dir("assets", "assets.manifest.json").folder(42);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct PullOptions {
    root: PathBuf,
    manifest: PathBuf,
    folder: Option<u64>,
    concurrency: usize,
    lock_timeout: Duration,
    dry_run: bool,
}

impl PullOptions {
    /// Every asset of the space into `root`, recorded in the manifest at `manifest` (the
    /// one [`SyncOptions::dir`](crate::SyncOptions::dir) would be given for the same
    /// folder).
    pub fn dir(root: impl Into<PathBuf>, manifest: impl Into<PathBuf>) -> PullOptions {
        PullOptions {
            root: root.into(),
            manifest: manifest.into(),
            folder: None,
            concurrency: 4,
            lock_timeout: Duration::from_secs(60),
            dry_run: false,
        }
    }

    /// Report what a pull would do, and do none of it (default `false`): the space is listed
    /// and files on disk are compared with the manifest, but nothing is downloaded or
    /// written, and no lock is taken. [`PullAction::Downloaded`] then means "would be
    /// downloaded".
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Only the assets of this asset folder and the folders below it; its own files land
    /// at the top of `root`. Sync the pulled folder back with
    /// [`SyncOptions::mirror_folders`](crate::SyncOptions::mirror_folders)`(Some(id))`.
    pub fn folder(mut self, asset_folder_id: u64) -> Self {
        self.folder = Some(asset_folder_id);
        self
    }

    /// How many files are downloaded at once (default 4). Downloads go to the CDN, which
    /// the rate limit does not count.
    pub fn concurrency(mut self, downloads: usize) -> Self {
        self.concurrency = downloads.max(1);
        self
    }

    /// How long to wait for a sync or pull of the same manifest to end (default 60 s).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }
}

/// What a pull did with one asset.
#[derive(Debug)]
#[non_exhaustive]
pub enum PullAction {
    /// Its file was downloaded (and its sidecar written, if it has metadata); in a dry run,
    /// it would be.
    Downloaded,
    /// The file on disk already held its bytes, as the manifest recorded them: nothing
    /// was downloaded.
    Unchanged,
    /// Private: the public CDN does not serve it, so it was not pulled.
    SkippedPrivate,
    /// It could not be pulled; the rest of the pull went on.
    Failed(Error),
}

/// One asset of a [`PullReport`].
#[derive(Debug)]
pub struct PulledFile {
    /// Where its file is, relative to the pulled folder (`/`-separated): its asset folder's
    /// path, then its stored name.
    pub path: String,
    /// The asset's id.
    pub asset_id: u64,
    /// What happened.
    pub action: PullAction,
}

/// What [`Client::pull`] did, one line per asset, in path order.
#[derive(Debug)]
pub struct PullReport {
    /// Every asset listed.
    pub files: Vec<PulledFile>,
    /// Whether this was a dry run ([`PullOptions::dry_run`]): nothing was downloaded or
    /// written.
    pub dry_run: bool,
}

impl PullReport {
    /// Whether no asset failed.
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The assets that failed, with why.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.files.iter().filter_map(|file| match &file.action {
            PullAction::Failed(error) => Some((file.path.as_str(), error)),
            _ => None,
        })
    }
}

impl Client {
    /// Downloads every asset of a space (or of one asset folder and everything below it,
    /// [`PullOptions::folder`]) into a local folder: asset folders become directories,
    /// each file gets its stored name, and a `<file>.json` sidecar holds its metadata (alt,
    /// title, copyright, source, focus, custom fields, internal tags by name) when it has
    /// any. Two assets of one stored name in one folder: the oldest keeps the name, each
    /// other gets its id before the extension (`logo.123456.png`), the same on every pull.
    ///
    /// The manifest is the one [`Client::sync`] keeps, so pull and sync are inverses: a
    /// sync of the pulled folder to the same space right after (with
    /// [`SyncOptions::mirror_folders`](crate::SyncOptions::mirror_folders)) makes no call,
    /// and a pull into a folder that already holds the files, as its manifest recorded
    /// them (size and SHA-256), downloads nothing.
    ///
    /// Costs two Management API calls (the folders, the first page of assets) and one more
    /// per 100 assets; downloads go to the CDN, a few at once
    /// ([`PullOptions::concurrency`]), each streamed through SHA-256 into a temporary file
    /// renamed into place, with flat memory, and noted in the manifest's journal as soon as
    /// it is there: a pull killed midway fetches nothing twice. Private assets are not
    /// served by the public CDN: they are reported, not pulled. Fails as a whole only when the listing fails, the
    /// folder named is not in the space, or the manifest cannot be locked, read or written;
    /// an asset's failure is in its line of the report.
    ///
    /// ```no_run
    /// use storyblok_assets::{Client, PullOptions, Token};
    ///
    /// let client = Client::new(Token::personal(std::env::var("STORYBLOK_TOKEN")?))?;
    /// let report = client.pull(184738, &PullOptions::dir("assets", "assets.manifest.json"))?;
    /// for (path, error) in report.failures() {
    ///     eprintln!("{path}: {error}");
    /// }
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn pull(&self, space_id: u64, options: &PullOptions) -> Result<PullReport, Error> {
        self.pull_with(space_id, options, |_| {})
    }

    /// [`Client::pull`], calling `each` with each asset's line as soon as it is done (from
    /// the download threads, in the order they finish), for a progress report.
    pub fn pull_with(
        &self,
        space_id: u64,
        options: &PullOptions,
        each: impl Fn(&PulledFile) + Sync,
    ) -> Result<PullReport, Error> {
        let dry_run = options.dry_run;
        let held = match dry_run {
            true => None,
            false => Some(ManifestLock::take(&options.manifest, options.lock_timeout)?),
        };
        let store = Store::open(
            &options.manifest,
            space_id,
            held,
            options.lock_timeout,
            dry_run,
        )?;
        let planned = listed(self, space_id, options.folder)?;
        let known = store.manifest().assets.clone();
        // Each file's entry is noted (in the journal) the moment the file is in place: a
        // pull killed midway downloads nothing twice.
        let store = Mutex::new(store);
        let pull = |path: &String, asset: &Listed| {
            let pulled = pull_one(self, options, path, asset, known.get(path))?;
            if let Pulled::Entry(entry, _) = &pulled
                && !dry_run
                && known.get(path) != Some(entry)
            {
                lock(&store).save(path, Some(entry.clone()))?;
            }
            Ok(pulled)
        };
        let mut files = crate::pool::map(planned, options.concurrency, |(path, asset)| {
            let action = match pull(&path, &asset) {
                Ok(Pulled::Entry(_, true)) => PullAction::Downloaded,
                Ok(Pulled::Entry(_, false)) => PullAction::Unchanged,
                Ok(Pulled::Private) => PullAction::SkippedPrivate,
                Err(error) => PullAction::Failed(error),
            };
            let file = PulledFile {
                path,
                asset_id: asset.id,
                action,
            };
            each(&file);
            file
        });
        if !dry_run {
            // The journal folded into the manifest, written only when its content changed.
            drop(crate::mutex::into_inner(store).finish()?);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(PullReport { files, dry_run })
    }
}

/// The assets of a space, or of folder `top` and everything below it, oldest first, each
/// with its path: its folder's path below `top`, then its stored name (see
/// [`Client::pull`] for two of one name). Costs one call for the folders, one per 100
/// assets.
pub(super) fn listed(
    client: &Client,
    space_id: u64,
    top: Option<u64>,
) -> Result<Vec<(String, Listed)>, Error> {
    let session = client.session();
    let folders = crate::folders::list(session, space_id)?;
    let dirs = directories(&folders, top).ok_or_else(|| {
        Error::invalid(format!(
            "asset folder {} is not in space {space_id}",
            top.unwrap_or_default()
        ))
    })?;
    let mut assets: Vec<Listed> = Vec::new();
    let list = paging::List {
        step: Step::List,
        path: "/assets/?",
        what: "an asset list",
        field: "assets",
        max_pages: MAX_PAGES,
    };
    paging::each(session, space_id, &list, |asset: Listed| {
        if dirs.contains_key(&asset.folder()) {
            assets.push(asset);
        }
        ControlFlow::Continue(())
    })?;
    assets.sort_by_key(|asset| asset.id);
    let mut taken = HashSet::new();
    Ok(assets
        .into_iter()
        .map(|asset| {
            let path = local_name(&dirs[&asset.folder()], &asset, &mut taken);
            (path, asset)
        })
        .collect())
}

/// What became of one asset.
enum Pulled {
    /// Its manifest entry; `true` when its file was downloaded.
    Entry(ManifestEntry, bool),
    Private,
}

/// Pulls one asset to `path` below the pulled folder, unless the file there already holds
/// what `known` (its manifest entry) recorded for it. In a dry run, what it would do.
fn pull_one(
    client: &Client,
    options: &PullOptions,
    path: &str,
    asset: &Listed,
    known: Option<&ManifestEntry>,
) -> Result<Pulled, Error> {
    if asset.is_private {
        return Ok(Pulled::Private);
    }
    let dest = options.root.join(path);
    let size = asset.content_length.unwrap_or(0);
    let meta = metadata(asset);
    let unchanged = known.filter(|entry| {
        entry.id == asset.id && entry.size == size && holds(&dest, size, &entry.sha256)
    });
    let (sha256, fresh) = match unchanged {
        Some(entry) => (entry.sha256.clone(), false),
        None if options.dry_run => (String::new(), true),
        None => {
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::source_io(Some(parent.to_path_buf()), e))?;
            }
            let url = cdn_url(&asset.filename);
            let hash = download::to_file(client.session(), &url, size, asset.id, &dest)?;
            (hash, true)
        }
    };
    if !options.dry_run {
        write_sidecar(&dest, &meta)?;
    }
    Ok(Pulled::Entry(
        ManifestEntry {
            id: asset.id,
            url: cdn_url(&asset.filename),
            size,
            sha256,
            dimensions: None,
            pending: false,
            new_version: None,
            folder: asset.folder(),
            metadata_hash: (!meta.is_empty()).then(|| meta.hash()),
            modified: None,
        },
        fresh,
    ))
}

/// Whether the file at `path` has `size` bytes and the SHA-256 `sha256`.
fn holds(path: &Path, size: u64, sha256: &str) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == size)
        && crate::source::open_regular(path)
            .ok()
            .and_then(|(file, _)| crate::codec::sha256::of_reader(file).ok())
            .is_some_and(|(hash, length)| length == size && hash == sha256)
}

/// The asset's metadata as a sidecar states it.
pub(super) fn metadata(asset: &Listed) -> AssetMeta {
    let mut meta = AssetMeta::new();
    meta.alt = asset.alt.clone().filter(|s| !s.is_empty());
    meta.title = asset.title.clone().filter(|s| !s.is_empty());
    meta.copyright = asset.copyright.clone().filter(|s| !s.is_empty());
    meta.source = asset.source.clone().filter(|s| !s.is_empty());
    meta.focus = asset.focus.clone().filter(|s| !s.is_empty());
    meta.custom_fields = asset.meta_data();
    let mut tags: Vec<String> = asset
        .internal_tags_list
        .iter()
        .map(|tag| tag.name.clone())
        .collect();
    tags.sort();
    tags.dedup();
    meta.internal_tags = tags;
    meta
}

/// Writes `meta` as the sidecar of the file at `dest` when it holds any, and removes a
/// sidecar left there when it holds none. A sidecar that already says it is left as is.
fn write_sidecar(dest: &Path, meta: &AssetMeta) -> Result<(), Error> {
    let mut name = dest.as_os_str().to_owned();
    name.push(".json");
    let sidecar = PathBuf::from(name);
    let failed = |e| Error::source_io(Some(sidecar.clone()), e);
    if meta.is_empty() {
        return match std::fs::remove_file(&sidecar) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(failed(e)),
            _ => Ok(()),
        };
    }
    let text = serde_json::to_string_pretty(meta)
        .map_err(|e| Error::invalid(format!("the metadata cannot be written as JSON: {e}")))?
        + "\n";
    if std::fs::read_to_string(&sidecar).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(&sidecar, text).map_err(failed)
}

/// Each asset folder pulled, by id (`None`: the top of the space), with its directory
/// relative to the pulled folder (`""` for the top of what is pulled). `None` when `top`
/// is not a folder of the space.
fn directories(folders: &[Named], top: Option<u64>) -> Option<HashMap<Option<u64>, String>> {
    let by_id: BTreeMap<u64, &Named> = folders.iter().map(|f| (f.id, f)).collect();
    if top.is_some_and(|id| !by_id.contains_key(&id)) {
        return None;
    }
    let mut dirs = HashMap::from([(top, String::new())]);
    for folder in folders {
        // The chain of names up to `top` (or the top of the space); a folder not below
        // `top`, or in a loop a hostile answer made, is left out.
        let mut names = Vec::new();
        let mut current = Some(folder.id);
        let mut below = false;
        while let Some(id) = current {
            if Some(id) == top {
                below = true;
                break;
            }
            let Some(step) = by_id.get(&id) else { break };
            if names.len() > by_id.len() {
                break;
            }
            names.push(component(&step.name));
            current = step.parent;
        }
        if current.is_none() && top.is_none() {
            below = true;
        }
        if below && folder.id != top.unwrap_or(0) {
            names.reverse();
            dirs.insert(Some(folder.id), names.join("/"));
        }
    }
    Some(dirs)
}

/// A folder or file name made safe as one path component: `/`, `\`, control characters
/// and a leading `.` become `_`; empty, `.` and `..` become `_`.
fn component(name: &str) -> String {
    let mut safe: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if safe.starts_with('.') || safe.is_empty() {
        safe.replace_range(..safe.chars().next().map_or(0, char::len_utf8), "_");
        if safe.is_empty() {
            safe.push('_');
        }
    }
    safe
}

/// The asset's path: its directory, then its stored name; an asset whose path is taken (by
/// an older asset of the same name) gets its id before the extension.
fn local_name(dir: &str, asset: &Listed, taken: &mut HashSet<String>) -> String {
    let name = component(asset.stored_name());
    let join = |name: &str| {
        if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        }
    };
    let mut path = join(&name);
    if !taken.insert(path.to_lowercase()) {
        let renamed = match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}.{}.{ext}", asset.id),
            None => format!("{name}.{}", asset.id),
        };
        path = join(&renamed);
        taken.insert(path.to_lowercase());
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: u64, name: &str, parent: Option<u64>) -> Named {
        Named {
            id,
            name: name.into(),
            parent,
        }
    }

    #[test]
    fn folders_become_directories_below_the_top_pulled() {
        let folders = [
            named(1, "img", None),
            named(2, "icons", Some(1)),
            named(3, "../etc", Some(2)),
            named(4, "docs", None),
        ];
        let all = directories(&folders, None).expect("the space");
        assert_eq!(all[&None], "");
        assert_eq!(all[&Some(2)], "img/icons");
        assert_eq!(all[&Some(3)], "img/icons/.._etc".replacen('.', "_", 1));
        let below = directories(&folders, Some(1)).expect("img");
        assert_eq!(below[&Some(1)], "");
        assert_eq!(below[&Some(2)], "icons");
        assert!(!below.contains_key(&Some(4)) && !below.contains_key(&None));
        assert!(directories(&folders, Some(9)).is_none());
        // A loop a hostile answer made ends.
        let looped = [named(1, "a", Some(2)), named(2, "b", Some(1))];
        assert!(directories(&looped, None).is_some());
    }

    #[test]
    fn names_are_safe_components() {
        assert_eq!(component("logo.png"), "logo.png");
        assert_eq!(component(".."), "_.");
        assert_eq!(component(""), "_");
        assert_eq!(component("a/b\\c\nd"), "a_b_c_d");
        assert_eq!(component(".env"), "_env");
    }
}
