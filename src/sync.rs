//! Sync: make a space hold exactly a folder's files, uploading only what changed.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::asset::Asset;
use crate::client::Client;
use crate::codec::sha256;
use crate::error::{Error, ErrorKind};
use crate::finish::complete;
use crate::manifest::{Manifest, ManifestEntry, manifest_error};
use crate::params::AssetParams;
use crate::source::Source;

/// What [`Client::sync`] should make Storyblok hold, and where it keeps its manifest.
///
/// ```
/// use storyblok_assets::SyncOptions;
///
/// let options = SyncOptions::dir("assets", "assets.manifest.json").folder(42);
/// # let _ = options;
/// ```
#[derive(Clone, Debug)]
pub struct SyncOptions {
    root: PathBuf,
    files: Option<Vec<PathBuf>>,
    manifest: PathBuf,
    folder: Option<u64>,
    delete_removed: bool,
}

impl SyncOptions {
    /// Every file below `root` (symbolic links to folders are not followed); the manifest
    /// at `manifest` (it may live inside `root`: it is never uploaded).
    pub fn dir(root: impl Into<PathBuf>, manifest: impl Into<PathBuf>) -> SyncOptions {
        SyncOptions {
            root: root.into(),
            files: None,
            manifest: manifest.into(),
            folder: None,
            delete_removed: false,
        }
    }

    /// Just these files, named relative to `root` (or absolute, inside `root`); the
    /// manifest paths are relative to `root`.
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

    /// The asset folder new uploads go to.
    pub fn folder(mut self, asset_folder_id: u64) -> Self {
        self.folder = Some(asset_folder_id);
        self
    }

    /// Delete the assets of files that disappeared (default: only report them).
    pub fn delete_removed(mut self, delete: bool) -> Self {
        self.delete_removed = delete;
        self
    }
}

/// What happened to one file in a sync.
#[derive(Debug)]
#[non_exhaustive]
pub enum SyncAction {
    /// New: uploaded as a new asset.
    Uploaded,
    /// Changed: the asset's file was replaced; its id and URL stay.
    Replaced,
    /// The same size and SHA-256 as in the manifest: no call made.
    Unchanged,
    /// The file is gone but its asset stays (see [`SyncOptions::delete_removed`]).
    Missing,
    /// The file is gone and its asset was deleted.
    Deleted,
    /// Uploading, replacing or deleting failed; the manifest still says what is true.
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
    /// changed ones in place (same asset id, same URL), skips unchanged ones without any
    /// call, and reports files that disappeared (deleting their assets only when asked).
    ///
    /// Changes are told by size and SHA-256 against the manifest, which is written
    /// atomically after every asset, so a crash loses nothing and a rerun carries on; a
    /// new asset is entered as pending as soon as its record exists, so a rerun after a
    /// failed upload replaces that record instead of creating a second one. Files are done
    /// one at a time. Fails as a whole only when the manifest or the folder cannot be read;
    /// a file's failure is in its line of the report.
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
        let local = local_files(options)?;
        let root = lexical(&options.root);
        let gone: Vec<String> = manifest
            .assets
            .keys()
            .filter(|path| !local.contains_key(*path))
            // A list names what to sync now; files it leaves out are gone only if they are.
            .filter(|path| options.files.is_none() || !root.join(path.as_str()).is_file())
            .cloned()
            .collect();
        let mut sync = SyncRun {
            client: self,
            space_id,
            options,
            manifest,
            report: SyncReport::default(),
            writable: false,
        };
        for (path, file) in &local {
            sync.file(path, file)?;
        }
        for path in gone {
            sync.gone(&path)?;
        }
        sync.report.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(sync.report)
    }
}

/// The state of one sync run.
struct SyncRun<'c> {
    client: &'c Client,
    space_id: u64,
    options: &'c SyncOptions,
    manifest: Manifest,
    report: SyncReport,
    /// Whether the manifest was written in this run, which shows it can be.
    writable: bool,
}

impl SyncRun<'_> {
    fn record(&mut self, path: &str, action: SyncAction) {
        self.report.files.push(SyncedFile {
            path: path.to_owned(),
            action,
            entry: self.manifest.assets.get(path).cloned(),
        });
    }

    /// Sets (or removes) a file's entry and writes the manifest.
    fn save(&mut self, path: &str, entry: Option<ManifestEntry>) -> Result<(), Error> {
        match entry {
            Some(entry) => self.manifest.assets.insert(path.to_owned(), entry),
            None => self.manifest.assets.remove(path),
        };
        self.manifest.save(&self.options.manifest)?;
        self.writable = true;
        Ok(())
    }

    /// Before the first call that changes anything: a manifest that cannot be written
    /// must stop the sync before a record exists that it could not note.
    fn ensure_writable(&mut self) -> Result<(), Error> {
        if !self.writable {
            self.manifest.save(&self.options.manifest)?;
            self.writable = true;
        }
        Ok(())
    }

    /// Syncs one file; only a manifest that cannot be written stops the whole sync.
    fn file(&mut self, path: &str, file: &Path) -> Result<(), Error> {
        let action = match self.upload_if_changed(path, file) {
            Ok(action) => action,
            Err(error) if matches!(error.kind(), ErrorKind::Manifest { .. }) => return Err(error),
            Err(error) => SyncAction::Failed(error),
        };
        self.record(path, action);
        Ok(())
    }

    fn upload_if_changed(&mut self, path: &str, file: &Path) -> Result<SyncAction, Error> {
        let unreadable = |error| Error::source_io(Some(file.to_path_buf()), error);
        let (sha256, size) =
            sha256::of_reader(fs::File::open(file).map_err(unreadable)?).map_err(unreadable)?;
        let known = self.manifest.assets.get(path).cloned();
        if let Some(entry) = &known {
            if !entry.pending && entry.size == size && entry.sha256 == sha256 {
                return Ok(SyncAction::Unchanged);
            }
        }
        let mut request = AssetParams::new();
        if let Some(folder) = self.options.folder {
            request = request.folder(folder);
        }
        let source = Source::path(file);
        // Reads the image header once: the manifest keeps the size the sign call sends.
        let request = request.for_source(&source)?;
        let dimensions = request.size_param();
        self.ensure_writable()?;
        let signed = match &known {
            Some(entry) => match self
                .client
                .sign(self.space_id, request.clone().replace(entry.id))
            {
                // The asset was deleted in Storyblok: upload the file anew.
                Err(error) if error.status() == Some(404) => {
                    self.client.sign(self.space_id, request)?
                }
                other => other?,
            },
            None => self.client.sign(self.space_id, request)?,
        };
        let known = known.filter(|e| e.id == signed.asset_id());
        let exists = known.is_some();
        // A pending entry's record never got its file: completing it is an upload.
        let replaced = known.is_some_and(|e| !e.pending);
        if !exists {
            // The record exists from here on: note it, so a rerun replaces it.
            let pending = ManifestEntry {
                id: signed.asset_id(),
                url: signed.cdn_url().unwrap_or_default(),
                size,
                sha256: sha256.clone(),
                dimensions: dimensions.clone(),
                pending: true,
            };
            if let Err(error) = self.save(path, Some(pending)) {
                // Not noted, the record would be duplicated by the next run: remove it.
                let _ = self.client.delete(self.space_id, signed.asset_id());
                return Err(error);
            }
        }
        let asset: Asset = complete(signed.upload(source)?)?;
        self.save(
            path,
            Some(ManifestEntry {
                id: asset.id,
                url: asset.filename,
                size,
                sha256,
                dimensions,
                pending: false,
            }),
        )?;
        Ok(if replaced {
            SyncAction::Replaced
        } else {
            SyncAction::Uploaded
        })
    }

    fn gone(&mut self, path: &str) -> Result<(), Error> {
        let Some(entry) = self.manifest.assets.get(path).cloned() else {
            return Ok(());
        };
        if !self.options.delete_removed {
            self.record(path, SyncAction::Missing);
            return Ok(());
        }
        self.ensure_writable()?;
        let action = match self.client.delete(self.space_id, entry.id) {
            Err(error) if error.status() != Some(404) => SyncAction::Failed(error),
            Ok(()) | Err(_) => {
                self.save(path, None)?;
                SyncAction::Deleted
            }
        };
        self.record(path, action);
        Ok(())
    }
}

/// `path` made absolute and with `.` and `..` resolved, without touching the file system.
fn lexical(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The files to sync, by manifest path.
fn local_files(options: &SyncOptions) -> Result<BTreeMap<String, PathBuf>, Error> {
    let unreadable = |path: &Path, error| Error::source_io(Some(path.to_path_buf()), error);
    let root = lexical(&options.root);
    let manifest = lexical(&options.manifest);
    let temporary = crate::manifest::temporary_prefix(&manifest);
    let mut found = BTreeMap::new();
    let mut add = |file: &Path| -> Result<(), Error> {
        let file = lexical(file);
        if file == manifest {
            return Ok(()); // the manifest itself
        }
        let relative = file.strip_prefix(&root).map_err(|_| {
            Error::invalid(format!(
                "{} is not inside the synced folder {}",
                file.display(),
                root.display()
            ))
        })?;
        let key: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        found.insert(key.join("/"), file);
        Ok(())
    };
    match &options.files {
        Some(files) => {
            for file in files {
                add(&options.root.join(file))?;
            }
        }
        None => {
            let mut pending = vec![root.clone()];
            while let Some(dir) = pending.pop() {
                let entries = fs::read_dir(&dir).map_err(|e| unreadable(&dir, e))?;
                for entry in entries {
                    let entry = entry.map_err(|e| unreadable(&dir, e))?;
                    let path = entry.path();
                    let kind = entry.file_type().map_err(|e| unreadable(&path, e))?;
                    let name = entry.file_name().to_string_lossy().into_owned();
                    let manifest_temporary = name.starts_with(&temporary) && name.ends_with(".tmp");
                    if kind.is_dir() {
                        pending.push(path);
                    } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
                        && !manifest_temporary
                    {
                        add(&path)?;
                    }
                }
            }
        }
    }
    Ok(found)
}
