//! Sync: make a space hold a folder's files, uploading only what changed, with folders,
//! metadata, adoption of assets already there, and a dry run.
//!
//! [`local`] finds the files (and their sidecars) on disk; [`plan`] looks at them before
//! the first call (what is left alone, what is gone, whether the change is too big);
//! [`file`] decides and does what one file needs; this module holds the options, the
//! report and the run that ties them together on a few threads. [`pull`] goes the other
//! way, a space into a folder, with the same manifest.

mod download;
mod file;
mod journal;
mod listing;
mod local;
mod lock;
mod lookup;
mod manifest;
mod plan;
mod pull;
mod store;
mod transfer;
mod transfer_map;

use std::collections::HashSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::meta::AssetMeta;
use crate::mutex::lock;
use lock::ManifestLock;
pub use manifest::{Manifest, ManifestEntry};
pub use pull::{PullAction, PullOptions, PullReport, PulledFile};
use store::Store;
pub use transfer::{TransferAction, TransferOptions, TransferReport, TransferredAsset};
pub use transfer_map::{MappedAsset, TransferMap};

/// [`SyncOptions::metadata`]'s closure: a file's metadata from its manifest path.
#[derive(Clone)]
struct MetaFn(Arc<MetaClosure>);

type MetaClosure = dyn Fn(&str) -> Option<AssetMeta> + Send + Sync;

impl fmt::Debug for MetaFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fn(&str)")
    }
}

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
#[derive(Clone, Debug)]
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
    lock_timeout: Duration,
    include_hidden: bool,
    follow_links_outside: bool,
    /// A change of more than this share of the manifest's entries, and of at least
    /// `change_at_least` files, is refused unless `allow_mass_change`.
    change_share: f64,
    change_at_least: usize,
    allow_mass_change: bool,
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
    /// Every file below `root`; the manifest at `manifest` (it may live inside `root`: it
    /// is never uploaded). A symbolic link to a folder is not followed: it is reported
    /// ([`SkipReason::LinkedFolder`]), and the manifest's files below it are kept, not gone.
    /// Hidden files and links out of `root` are left alone unless asked
    /// ([`include_hidden`](Self::include_hidden),
    /// [`follow_links_outside`](Self::follow_links_outside)).
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
            lock_timeout: Duration::from_secs(60),
            include_hidden: false,
            follow_links_outside: false,
            change_share: 0.5,
            change_at_least: 10,
            allow_mass_change: false,
            max_tags: 50,
        }
    }

    /// Just these files, named relative to `root` (or absolute, inside `root`); the
    /// manifest paths are relative to `root`. With [`sidecars`](Self::sidecars), each
    /// file's sidecar is read from disk whether the list names it or not, and a listed
    /// sidecar of an existing file stands for that file. A listed hidden file, or one whose
    /// real place (links resolved) is outside `root`, is left alone as in a folder's sync.
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
    /// CLI's convention; see [`AssetMeta::from_file`]), which is then not uploaded itself.
    /// Default on.
    ///
    /// `X.json` is `X`'s sidecar only when it is not an asset itself: a path the manifest
    /// has an entry for stays an asset when an `X` appears beside it, and a JSON file with
    /// none of the metadata keys (`{"name": "my-package"}`, an array) is a file like any
    /// other. Anything else beside `X` is its sidecar: one that cannot be read as
    /// metadata (not JSON, over 1 MiB, a pipe or device) fails `X`'s line.
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
        self.metadata = Some(MetaFn(Arc::new(metadata)));
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

    /// How long to wait for another sync of the same manifest to end before failing
    /// (default 60 s). Two syncs of one manifest take turns on its lock file,
    /// `.{manifest}.lock` beside it, taken only by a sync that has something to write:
    /// a build next to an editor's `cargo check`, two CI jobs on one checkout. The second
    /// then reads what the first wrote.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Sync hidden files and folders too: those whose name starts with `.` (`.env`,
    /// `.git/`, `.DS_Store`). Default off: each is left alone and reported as
    /// [`SyncAction::Skipped`] with [`SkipReason::Hidden`] (a hidden folder once, not each
    /// file in it), and the manifest's files among them are kept, not gone. The manifest's
    /// own lock and temporary files are left out either way, without a line.
    pub fn include_hidden(mut self, include: bool) -> Self {
        self.include_hidden = include;
        self
    }

    /// Upload files that are symbolic links to a file outside `root` (outside once every
    /// link in both paths is resolved). Default off: such a link
    /// (`assets/x.png -> ~/.aws/credentials`) is left alone and reported as
    /// [`SyncAction::Skipped`] with [`SkipReason::LinkOutside`], and so is its sidecar.
    /// Links to files inside `root` are followed either way.
    pub fn follow_links_outside(mut self, follow: bool) -> Self {
        self.follow_links_outside = follow;
        self
    }

    /// The guard against a mass change. A sync that would upload new bytes for (replace,
    /// or with [`OnChange::NewAsset`] upload anew) or delete (with
    /// [`delete_removed`](Self::delete_removed)) more than `share` of the manifest's
    /// entries, and at least `at_least` files, makes no call at all and fails with
    /// [`ErrorKind::MassChange`](crate::ErrorKind::MassChange), unless
    /// [`allow_mass_change`](Self::allow_mass_change). A checkout of the wrong branch,
    /// files a tool rewrote (line endings, an optimiser), or a folder moved away look like
    /// this. (Git LFS pointers fail their own lines, and count for nothing.) Files the
    /// manifest does not know, metadata
    /// changes and files only reported missing do not count. Default: more than half
    /// (`0.5`) and at least 10 files. `share` is taken between 0 and 1 (1 never refuses; a
    /// NaN is 0).
    ///
    /// To know whether a file of the recorded size but another modification time changed,
    /// the guard reads it through SHA-256 before the first call (once: the file's sync
    /// uses that hash), but only when the files that may have changed are enough to reach
    /// the limit.
    pub fn mass_change_limit(mut self, share: f64, at_least: usize) -> Self {
        self.change_share = if share.is_nan() {
            0.0
        } else {
            share.clamp(0.0, 1.0)
        };
        self.change_at_least = at_least;
        self
    }

    /// Go ahead with a sync that [`mass_change_limit`](Self::mass_change_limit) would
    /// refuse. Default off. A dry run is refused like the real run it stands for; a dry run
    /// with this on lists what would change, file by file.
    pub fn allow_mass_change(mut self, allow: bool) -> Self {
        self.allow_mass_change = allow;
        self
    }

    /// The most internal tags one file's metadata may name (default 50): a file with more
    /// fails before any call, since each missing tag costs a call to create it.
    pub fn max_tags(mut self, max_tags: usize) -> Self {
        self.max_tags = max_tags;
        self
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
    /// Left alone, with no call: not synced, and not gone either (its manifest entry, if
    /// it has one, is kept as it is). The line's path is a file's, or a folder's: a hidden
    /// or linked folder gets one line, not one per file in it, and each manifest entry
    /// below it a line of its own with the folder's reason.
    Skipped(SkipReason),
}

/// Why a sync left a file or folder alone ([`SyncAction::Skipped`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SkipReason {
    /// Its name, or a folder's above it, starts with `.`; see
    /// [`SyncOptions::include_hidden`].
    Hidden,
    /// A symbolic link to a file outside the synced folder; see
    /// [`SyncOptions::follow_links_outside`].
    LinkOutside,
    /// A symbolic link to a folder, which a sync does not follow (its files are synced
    /// where they really are, if that is inside the folder).
    LinkedFolder,
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
    /// Every file of the folder and of the manifest, and each folder left alone
    /// ([`SyncAction::Skipped`]).
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
    pub fn count(&self, action: impl Fn(&SyncAction) -> bool) -> usize {
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
    /// modification time the manifest recorded is not even hashed). Each change is noted
    /// the moment it happens, as one line of a journal beside the manifest, which is folded
    /// into the manifest (written atomically) when the sync ends, or by the next sync
    /// after a crash: a killed sync loses nothing and a rerun carries on. A new asset is
    /// noted as pending as soon as its record exists, so a rerun after a failed upload
    /// replaces that record instead of creating a second one. A file the
    /// manifest does not know is first looked for in the space (see
    /// [`SyncOptions::adopt`]). Files are synced a few at a time on this client's pacing
    /// ([`SyncOptions::concurrency`]). Hidden files and links out of the folder are left
    /// alone ([`SyncAction::Skipped`]); a Git LFS pointer file fails its line
    /// ([`ErrorKind::LfsPointer`]).
    ///
    /// Fails as a whole only when the folder cannot be read, a file given to
    /// [`SyncOptions::files`] is outside its root, the manifest cannot be read, parsed,
    /// locked (another sync held it past [`SyncOptions::lock_timeout`]) or written, or the
    /// sync would change too much of the manifest at once ([`ErrorKind::MassChange`],
    /// before any call; see [`SyncOptions::mass_change_limit`]); a file's failure is in its
    /// line of the report.
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
        let mut lock = None;
        loop {
            // The folder is walked while the manifest is read: a large library's files
            // are stated on one core while its manifest is parsed on the other.
            let (look, store) = std::thread::scope(|scope| {
                let look = scope.spawn(|| local::look(options));
                let store = Store::open(
                    &options.manifest,
                    space_id,
                    lock.take(),
                    options.lock_timeout,
                    options.dry_run,
                );
                let look = look
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (look, store)
            });
            let (store, look) = (store?, look?);
            match self.sync_once(space_id, options, look, store)? {
                Attempt::Done(report) => return Ok(report),
                // Another sync changed the manifest before this one took the lock, and
                // nothing was written: start over, from the manifest it left, holding the
                // lock from the start (so this happens once).
                Attempt::Again(held) => lock = Some(held),
            }
        }
    }

    fn sync_once(
        &self,
        space_id: u64,
        options: &SyncOptions,
        look: local::Look<'_>,
        store: Store,
    ) -> Result<Attempt, Error> {
        // What is known before the first call; a mass change stops here.
        let plan = plan::plan(options, look, store.manifest())?;
        let run = Run {
            client: self,
            space_id,
            options,
            store: Mutex::new(store),
            lookups: plan.lookups,
            stop: AtomicBool::new(false),
            claimed: Mutex::new(HashSet::new()),
        };
        let mut report = SyncReport {
            files: plan.lines,
            dry_run: options.dry_run,
        };
        // Only a manifest that cannot be written stops the sync: the files not started
        // yet are left alone.
        let outcomes =
            crate::pool::map(plan.files.iter().collect(), options.concurrency, |local| {
                if run.stop.load(Ordering::SeqCst) {
                    return None;
                }
                let outcome = file::sync(&run, local);
                if outcome.is_err() {
                    run.stop.store(true, Ordering::SeqCst);
                }
                Some(outcome)
            });
        let mut lines = Vec::with_capacity(outcomes.len());
        let mut failure = None;
        for outcome in outcomes.into_iter().flatten() {
            match outcome {
                Ok(line) => lines.push(line),
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
        }
        if failure.is_none() {
            report.files.extend(lines);
            for (path, entry) in plan.gone {
                match file::gone(&run, &path, &entry) {
                    Ok(line) => report.files.push(line),
                    Err(error) => {
                        failure = Some(error);
                        break;
                    }
                }
            }
            for (path, sent) in plan.abandoned {
                if failure.is_none()
                    && let Err(error) = file::abandoned_sign(&run, &path, sent)
                {
                    failure = Some(error);
                }
            }
        }
        let store = crate::mutex::into_inner(run.store);
        if store.must_restart() {
            if let Some(held) = store.finish()? {
                return Ok(Attempt::Again(held));
            }
        } else {
            // Whatever happened, what was noted goes into the manifest.
            store.finish()?;
        }
        if let Some(error) = failure {
            return Err(error);
        }
        report.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Attempt::Done(report))
    }
}

/// How one attempt at a sync ended.
enum Attempt {
    Done(SyncReport),
    /// Start over, holding the manifest's lock.
    Again(ManifestLock),
}

/// One sync in progress, shared by its threads.
struct Run<'c> {
    client: &'c Client,
    space_id: u64,
    options: &'c SyncOptions,
    store: Mutex<Store>,
    /// Adoption's listings, shared by the new files of a folder.
    lookups: lookup::Lookups,
    /// Set when the manifest could not be written: no thread starts another file.
    stop: AtomicBool,
    /// Existing assets a file of this run is adopting or replacing: no other file may.
    claimed: Mutex<HashSet<u64>>,
}

impl Run<'_> {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// The entry of `path`, as the manifest holds it now.
    fn entry(&self, path: &str) -> Option<ManifestEntry> {
        self.store().entry(path).cloned()
    }

    /// Sets (or removes) a file's entry, noted on disk before this returns.
    fn save(&self, path: &str, entry: Option<ManifestEntry>) -> Result<(), Error> {
        self.store().save(path, entry)
    }

    /// Notes that a sign for `path` is sent now (`Some` time), or that none is outstanding.
    fn note_signing(&self, path: &str, at: Option<u64>) -> Result<(), Error> {
        self.store().note_signing(path, at)
    }

    /// Before the first call that changes anything: a manifest that cannot be written
    /// must stop the sync before a record exists that it could not note.
    fn ensure_writable(&self) -> Result<(), Error> {
        self.store().ensure_writable()
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
        self.store().owns(id)
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

/// Whether an error must stop the whole sync (the manifest cannot be written).
fn stops_the_sync(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::Manifest { .. })
}
