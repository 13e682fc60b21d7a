//! Sync: make a space hold a folder's files, uploading only what changed, with folders,
//! metadata, adoption of assets already there, and a dry run.
//!
//! [`local`] finds the files (and their sidecars) on disk; [`file`] decides and does what
//! one file needs; this module holds the options, the report and the run that ties them
//! together on a few threads.

mod file;
mod local;

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::manifest::{Manifest, ManifestEntry, manifest_error};
use crate::meta::AssetMeta;

/// A closure giving a file's metadata from its manifest path, for
/// [`SyncOptions::metadata`].
type MetaFn = Arc<dyn Fn(&str) -> Option<AssetMeta> + Send + Sync>;

/// What [`Client::sync`] should make Storyblok hold, and where it keeps its manifest.
///
/// ```
/// use storyblok_assets::{OnChange, SyncOptions};
///
/// let options = SyncOptions::dir("assets", "assets.manifest.json")
///     .mirror_folders(None)
///     .on_change(OnChange::NewAsset)
///     .dry_run(true);
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct SyncOptions {
    root: PathBuf,
    files: Option<Vec<PathBuf>>,
    manifest: PathBuf,
    placement: Placement,
    delete_removed: bool,
    adopt: bool,
    sidecars: bool,
    metadata: Option<MetaFn>,
    on_change: OnChange,
    dry_run: bool,
    concurrency: usize,
    max_tags: usize,
}

/// Where synced files go in the space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Placement {
    /// Where Storyblok puts them (the top of the asset library); folders not managed.
    Space,
    /// All in one folder.
    Folder(u64),
    /// Each in the folder matching its directory, below this one (the top for `None`).
    Mirror(Option<u64>),
}

/// What a sync does with a file whose bytes changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnChange {
    /// Replace the asset's file in place: same id, same URL. Right for assets that stories
    /// reference, since the stories need no change. But Storyblok serves every asset with
    /// `Cache-Control: public, max-age=31536000`, so browsers and caches that saw the old
    /// bytes may keep them for a year.
    #[default]
    ReplaceInPlace,
    /// Upload the new bytes as a new asset with a new URL, and keep the old asset (reported
    /// as [`SyncAction::NewVersion`], never deleted: deployed builds may still use it).
    /// Right for URLs baked into a build, which then never serve stale bytes.
    NewAsset,
}

impl SyncOptions {
    /// Every file below `root` (symbolic links to folders are not followed); the manifest
    /// at `manifest` (it may live inside `root`: it is never uploaded).
    pub fn dir(root: impl Into<PathBuf>, manifest: impl Into<PathBuf>) -> SyncOptions {
        SyncOptions {
            root: root.into(),
            files: None,
            manifest: manifest.into(),
            placement: Placement::Space,
            delete_removed: false,
            adopt: true,
            sidecars: true,
            metadata: None,
            on_change: OnChange::ReplaceInPlace,
            dry_run: false,
            concurrency: 4,
            max_tags: 50,
        }
    }

    /// Just these files, named relative to `root` (or absolute, inside `root`); the
    /// manifest paths are relative to `root`. With [`sidecars`](Self::sidecars), each
    /// file's sidecar is read from disk whether the list names it or not, and a listed
    /// sidecar of an existing file stands for that file.
    pub fn files(
        root: impl Into<PathBuf>,
        files: impl IntoIterator<Item = impl Into<PathBuf>>,
        manifest: impl Into<PathBuf>,
    ) -> SyncOptions {
        SyncOptions {
            files: Some(files.into_iter().map(Into::into).collect()),
            ..SyncOptions::dir(root, manifest)
        }
    }

    /// Put every file in this asset folder.
    pub fn folder(mut self, asset_folder_id: u64) -> Self {
        self.placement = Placement::Folder(asset_folder_id);
        self
    }

    /// Put each file in the asset folder matching its directory (`img/icons/home.svg` in
    /// `img/icons`), below `root_folder` (the top of the asset library for `None`),
    /// creating the folders that are missing. The manifest records each file's folder; a
    /// file synced before without folders is moved into its folder with one update call.
    /// (A file moved to another directory is another path: a new file, and a missing one.
    /// Changing `root_folder` later moves nothing already synced.)
    pub fn mirror_folders(mut self, root_folder: Option<u64>) -> Self {
        self.placement = Placement::Mirror(root_folder);
        self
    }

    /// Delete the assets of files that disappeared (default: only report them).
    pub fn delete_removed(mut self, delete: bool) -> Self {
        self.delete_removed = delete;
        self
    }

    /// Before uploading a file the manifest does not know (a first sync into a space that
    /// already holds assets, a lost manifest), look for an asset with the same stored
    /// filename and size in its folder, compare its bytes (downloaded from the CDN through
    /// SHA-256), and take it into the manifest instead of uploading a duplicate; replace it
    /// if the bytes differ. An asset is claimed only once chosen, so two files of one
    /// stored name and size each find their own.
    ///
    /// Only the 10 oldest such assets are compared. A file is downloaded only from
    /// Storyblok's asset hosts over `https` (another URL leaves that asset alone), and
    /// within the call budget plus a second per MiB ([`ClientBuilder::timeout_call`]).
    /// When a download fails for a time (a timeout, a 5xx) and no other such asset holds
    /// the same bytes, the file fails, with nothing uploaded or replaced: the next sync
    /// compares again. So does a file with more than 10 such assets when none of the 10
    /// compared holds its bytes. A CDN 404 or 410 counts as other bytes; another refusal
    /// leaves that asset alone. Default on.
    ///
    /// [`ClientBuilder::timeout_call`]: crate::ClientBuilder::timeout_call
    pub fn adopt(mut self, adopt: bool) -> Self {
        self.adopt = adopt;
        self
    }

    /// Read each file's metadata from a sidecar `<file>.json` beside it (the Storyblok
    /// CLI's convention; see [`AssetMeta::from_json`]), which is then not uploaded itself.
    /// Default on.
    pub fn sidecars(mut self, sidecars: bool) -> Self {
        self.sidecars = sidecars;
        self
    }

    /// A file's metadata from a closure, given the file's manifest path
    /// (`img/logo.png`); when it returns `Some`, that wins over a sidecar. A file with no
    /// metadata (no sidecar, `None` here) keeps whatever Storyblok holds.
    pub fn metadata(
        mut self,
        metadata: impl Fn(&str) -> Option<AssetMeta> + Send + Sync + 'static,
    ) -> Self {
        self.metadata = Some(Arc::new(metadata));
        self
    }

    /// What to do with a file whose bytes changed (default [`OnChange::ReplaceInPlace`]).
    pub fn on_change(mut self, on_change: OnChange) -> Self {
        self.on_change = on_change;
        self
    }

    /// Report what would happen and make no write call: no sign, upload, update, folder
    /// or tag creation, delete, and no manifest write. Listing and downloads still run, so
    /// the report is what a real sync would do. Default off.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// How many files are synced at once, on threads that share the client's pacing.
    /// Default 4.
    pub fn concurrency(mut self, threads: usize) -> Self {
        self.concurrency = threads.max(1);
        self
    }

    /// The most internal tags one file's metadata may name (default 50): a file with more
    /// fails before any call, since each missing tag costs a call to create it.
    pub fn max_tags(mut self, max_tags: usize) -> Self {
        self.max_tags = max_tags;
        self
    }
}

impl fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncOptions")
            .field("root", &self.root)
            .field("files", &self.files)
            .field("manifest", &self.manifest)
            .field("placement", &self.placement)
            .field("delete_removed", &self.delete_removed)
            .field("adopt", &self.adopt)
            .field("sidecars", &self.sidecars)
            .field("metadata", &self.metadata.as_ref().map(|_| "Fn(&str)"))
            .field("on_change", &self.on_change)
            .field("dry_run", &self.dry_run)
            .field("concurrency", &self.concurrency)
            .field("max_tags", &self.max_tags)
            .finish()
    }
}

/// What happened (or, in a dry run, would happen) to one file in a sync.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncAction {
    /// New: uploaded as a new asset.
    Uploaded,
    /// New to the manifest, but the space already held an asset with the same name, size
    /// and bytes: taken into the manifest with no upload (its metadata updated if it
    /// differed).
    Adopted,
    /// Changed: the asset's file was replaced; its id and URL stay.
    Replaced,
    /// Changed, with [`OnChange::NewAsset`]: uploaded as a new asset with a new URL; the
    /// previous asset is kept.
    NewVersion {
        /// The asset that held the previous bytes.
        previous: u64,
    },
    /// Only the metadata (or the folder) changed: one update call, no upload.
    MetadataUpdated,
    /// The same bytes and metadata as in the manifest: no call made.
    Unchanged,
    /// The file is gone but its asset stays (see [`SyncOptions::delete_removed`]).
    Missing,
    /// The file is gone and its asset was deleted.
    Deleted,
    /// Syncing the file failed; the manifest still says what is true.
    Failed(Error),
}

/// One file's line in a [`SyncReport`].
#[derive(Debug)]
#[non_exhaustive]
pub struct SyncedFile {
    /// The path relative to the synced folder, `/`-separated, as in the manifest.
    pub path: String,
    /// What happened.
    pub action: SyncAction,
    /// The file's manifest entry after the sync, if it has one.
    pub entry: Option<ManifestEntry>,
}

/// What a sync did, file by file, in path order.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct SyncReport {
    /// Every file of the folder and of the manifest.
    pub files: Vec<SyncedFile>,
    /// Whether this was a dry run: the actions are what would have happened.
    pub dry_run: bool,
}

impl SyncReport {
    /// Whether every file synced.
    pub fn is_ok(&self) -> bool {
        self.failures().next().is_none()
    }

    /// The files that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.files.iter().filter_map(|f| match &f.action {
            SyncAction::Failed(error) => Some((f.path.as_str(), error)),
            _ => None,
        })
    }

    /// How many files had this outcome.
    pub fn count(&self, action: fn(&SyncAction) -> bool) -> usize {
        self.files.iter().filter(|f| action(&f.action)).count()
    }
}

impl Client {
    /// Makes the space hold the files of a folder (or a list): uploads new files, replaces
    /// changed ones (in place, or as new assets with [`OnChange::NewAsset`]), updates
    /// metadata that alone changed, skips unchanged files without any call, and reports
    /// files that disappeared (deleting their assets only when asked).
    ///
    /// Changes are told by size and SHA-256 against the manifest (a file of the size and
    /// modification time the manifest recorded is not even hashed), which is written
    /// atomically after every asset, so a crash loses nothing and a rerun carries on; a
    /// new asset is entered as pending as soon as its record exists, so a rerun after a
    /// failed upload replaces that record instead of creating a second one. A file the
    /// manifest does not know is first looked for in the space (see
    /// [`SyncOptions::adopt`]). Files are synced a few at a time on this client's pacing
    /// ([`SyncOptions::concurrency`]). Fails as a whole only when the manifest or the
    /// folder cannot be read, or the manifest cannot be written; a file's failure is in
    /// its line of the report.
    ///
    /// ```no_run
    /// use storyblok_assets::{Client, SyncOptions, Token};
    ///
    /// let client = Client::new(Token::personal(std::env::var("STORYBLOK_TOKEN")?))?;
    /// let report = client.sync(184738, &SyncOptions::dir("assets", "assets.manifest.json"))?;
    /// for (path, error) in report.failures() {
    ///     eprintln!("{path}: {error}");
    /// }
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    pub fn sync(&self, space_id: u64, options: &SyncOptions) -> Result<SyncReport, Error> {
        // Two syncs of one manifest (a build and an editor's `cargo check`, two CI jobs on
        // one checkout) would upload the same new files twice and overwrite each other's
        // entries: the second waits for the first, then reads what it wrote.
        let _lock = if options.dry_run {
            None
        } else {
            Some(lock_manifest(&options.manifest)?)
        };
        let mut manifest = Manifest::load(&options.manifest)?;
        match manifest.space_id {
            Some(other) if other != space_id => {
                return Err(manifest_error(
                    &options.manifest,
                    &format!(
                        "belongs to space {other}, not {space_id}; use one manifest per space"
                    ),
                    None,
                ));
            }
            _ => manifest.space_id = Some(space_id),
        }
        let found = local::files(options)?;
        let on_disk: HashSet<&str> = found
            .files
            .iter()
            .map(|f| f.key.as_str())
            .chain(found.unreadable.iter().map(|(path, _)| path.as_str()))
            .collect();
        let gone: Vec<(String, ManifestEntry)> = manifest
            .assets
            .iter()
            .filter(|(path, _)| !on_disk.contains(path.as_str()))
            // A list names what to sync now; files it leaves out are gone only if they are.
            .filter(|(path, _)| {
                options.files.is_none() || !found.root.join(path.as_str()).is_file()
            })
            .map(|(path, entry)| (path.clone(), entry.clone()))
            .collect();
        let run = Run {
            client: self,
            space_id,
            options,
            book: Mutex::new(Book {
                manifest,
                written: false,
            }),
            stop: AtomicBool::new(false),
            claimed: Mutex::new(HashSet::new()),
        };
        let mut report = SyncReport {
            files: Vec::new(),
            dry_run: options.dry_run,
        };
        for (path, error) in found.unreadable {
            report.files.push(SyncedFile {
                path,
                action: SyncAction::Failed(error),
                entry: None,
            });
        }
        let lines = Mutex::new(Vec::new());
        let failure: Mutex<Option<Error>> = Mutex::new(None);
        let queue = Mutex::new(found.files.iter());
        let workers = options.concurrency.min(found.files.len());
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| {
                    while !run.stop.load(Ordering::SeqCst) {
                        let next = lock(&queue).next();
                        let Some(local) = next else { break };
                        match file::sync(&run, local) {
                            Ok(line) => lock(&lines).push(line),
                            Err(error) => {
                                // Only an unwritable manifest stops the whole sync.
                                run.stop.store(true, Ordering::SeqCst);
                                lock(&failure).get_or_insert(error);
                            }
                        }
                    }
                });
            }
        });
        if let Some(error) = failure.into_inner().unwrap_or_else(PoisonError::into_inner) {
            return Err(error);
        }
        report
            .files
            .extend(lines.into_inner().unwrap_or_else(PoisonError::into_inner));
        for (path, entry) in gone {
            report.files.push(file::gone(&run, &path, &entry)?);
        }
        report.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(report)
    }
}

/// One sync in progress, shared by its threads.
struct Run<'c> {
    client: &'c Client,
    space_id: u64,
    options: &'c SyncOptions,
    book: Mutex<Book>,
    /// Set when the manifest could not be written: no thread starts another file.
    stop: AtomicBool,
    /// Existing assets a file of this run is adopting or replacing: no other file may.
    claimed: Mutex<HashSet<u64>>,
}

/// The manifest and whether this run has checked yet that it can be written.
struct Book {
    manifest: Manifest,
    written: bool,
}

impl Run<'_> {
    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        lock(&self.book)
    }

    /// The entry of `path`, as the manifest holds it now.
    fn entry(&self, path: &str) -> Option<ManifestEntry> {
        self.book().manifest.assets.get(path).cloned()
    }

    /// Sets (or removes) a file's entry and writes the manifest.
    fn save(&self, path: &str, entry: Option<ManifestEntry>) -> Result<(), Error> {
        let mut book = self.book();
        match entry {
            Some(entry) => book.manifest.assets.insert(path.to_owned(), entry),
            None => book.manifest.assets.remove(path),
        };
        book.manifest.save(&self.options.manifest)?;
        book.written = true;
        Ok(())
    }

    /// Before the first call that changes anything: a manifest that cannot be written
    /// must stop the sync before a record exists that it could not note.
    fn ensure_writable(&self) -> Result<(), Error> {
        let mut book = self.book();
        if !book.written {
            Manifest::check_writable(&self.options.manifest)?;
            book.written = true;
        }
        Ok(())
    }

    /// Claims existing asset `id` for one file of this run: `false` when the manifest
    /// already gives it to a file, or another file of this run claimed it.
    fn claim(&self, id: u64) -> bool {
        !self.owned(id) && lock(&self.claimed).insert(id)
    }

    /// Whether existing asset `id` is another file's already: the manifest gives it to a
    /// file, or a file of this run claimed it.
    fn taken(&self, id: u64) -> bool {
        self.owned(id) || lock(&self.claimed).contains(&id)
    }

    /// Whether the manifest gives asset `id` to a file.
    fn owned(&self, id: u64) -> bool {
        self.book()
            .manifest
            .assets
            .values()
            .any(|entry| entry.id == id)
    }

    /// Gives back a claim that was not used.
    fn unclaim(&self, id: u64) {
        lock(&self.claimed).remove(&id);
    }

    /// The line of a file, with its entry as it is now.
    fn line(&self, path: &str, action: SyncAction) -> SyncedFile {
        SyncedFile {
            path: path.to_owned(),
            action,
            entry: self.entry(path),
        }
    }
}

/// Takes the manifest's lock file (`.{name}.lock` beside it), waiting for another sync of
/// the same manifest to end; released when the file is dropped.
fn lock_manifest(manifest: &std::path::Path) -> Result<std::fs::File, Error> {
    let name = format!("{}lock", crate::manifest::temporary_prefix(manifest));
    let path = manifest.with_file_name(name);
    let fail = |e| manifest_error(manifest, "cannot be locked for this sync", Some(e));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(fail)?;
    file.lock().map_err(fail)?;
    Ok(file)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an error must stop the whole sync (the manifest cannot be written).
fn stops_the_sync(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Manifest { .. })
}
