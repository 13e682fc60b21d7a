//! The files a sync covers, as they are on disk: each with its manifest path, its size and
//! its sidecar; what is left alone (hidden, linked out of the folder), and why.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::manifest::{ManifestEntry, temporary_prefix};
use super::{SkipReason, SyncOptions};
use crate::error::Error;
use crate::meta;
use crate::source::file_len;

/// How old a file's modification time must be when the sync looks at the file for the
/// manifest to record it: the coarsest tick of common file systems' clocks (FAT's).
const RACY: Duration = Duration::from_secs(2);

/// What a sync found on disk.
pub(super) struct Found {
    /// The synced folder, absolute.
    pub(super) root: PathBuf,
    /// The files to sync, in path order.
    pub(super) files: Vec<LocalFile>,
    /// Files that cannot be synced as they are named, with why (by a readable form of
    /// their path).
    pub(super) unreadable: Vec<(String, Error)>,
    /// Files and folders left alone, in path order.
    pub(super) skipped: Vec<Skipped>,
}

/// A file or folder left alone.
pub(super) struct Skipped {
    /// Its path relative to the synced folder, `/`-separated (a readable form of it).
    pub(super) key: String,
    pub(super) reason: SkipReason,
    /// Whether it is a folder: the manifest's files below it are left alone too.
    pub(super) folder: bool,
}

/// One file to sync, as the sync first saw it.
pub(super) struct LocalFile {
    /// Its path relative to the synced folder, `/`-separated: its manifest key.
    pub(super) key: String,
    pub(super) path: PathBuf,
    /// `<file>.json` beside it, holding its metadata.
    pub(super) sidecar: Option<PathBuf>,
    /// Its size.
    pub(super) size: u64,
    /// Its modification time in nanoseconds since the Unix epoch; `None` when it was
    /// within [`RACY`] of the look (a rewrite of the same size later in that tick keeps
    /// the time, and would pass for unchanged forever: such a file is hashed).
    pub(super) modified: Option<u64>,
    /// Its SHA-256, when the look before the first call already read it.
    pub(super) sha256: Option<String>,
}

/// A first look at the files of `options`: every name on disk, before the manifest is
/// read (the two can go on at once). Fails only when the folder cannot be read, or a
/// listed file is outside it.
pub(super) fn look(options: &SyncOptions) -> Result<Look<'_>, Error> {
    let root = lexical(&options.root);
    let mut look = Look {
        options,
        real_root: fs::canonicalize(&root).ok(),
        root,
        manifest: Manifest::at(&options.manifest),
        candidates: BTreeMap::new(),
        stats: HashMap::new(),
        skipped: BTreeMap::new(),
        unreadable: Vec::new(),
        others: BTreeSet::new(),
    };
    match &options.files {
        Some(files) => {
            for file in files {
                look.add(&options.root.join(file), true, None)?;
            }
        }
        None => look.walk()?,
    }
    Ok(look)
}

/// The files a [`look`] found, told apart from their sidecars; `known` is the manifest's
/// files, which are never taken for sidecars.
pub(super) fn files(
    mut look: Look<'_>,
    known: &BTreeMap<String, ManifestEntry>,
) -> Result<Found, Error> {
    let options = look.options;
    let sidecars = if options.sidecars {
        look.sidecars(known)?
    } else {
        BTreeMap::new()
    };
    let Look {
        root,
        candidates,
        mut stats,
        skipped,
        mut unreadable,
        ..
    } = look;
    let mut files = Vec::with_capacity(candidates.len());
    for (key, path) in candidates {
        let stat = stats.remove(&key).map_or_else(|| fs::metadata(&path), Ok);
        match stat.and_then(|stat| seen(&stat)) {
            Ok((size, modified)) => files.push(LocalFile {
                sidecar: sidecars.get(&key).cloned(),
                key,
                path,
                size,
                modified,
                sha256: None,
            }),
            Err(error) => unreadable.push((key, Error::source_io(Some(path), error))),
        }
    }
    Ok(Found {
        root,
        files,
        unreadable,
        skipped: skipped
            .into_iter()
            .map(|(key, (reason, folder))| Skipped {
                key,
                reason,
                folder,
            })
            .collect(),
    })
}

/// A file's size and trusted modification time, from what `stat` read of it. Anything but
/// a regular file is refused, as [`Source::path`](crate::Source::path) refuses it.
fn seen(stat: &fs::Metadata) -> std::io::Result<(u64, Option<u64>)> {
    let size = file_len(stat)?;
    let now = SystemTime::now();
    let modified = stat
        .modified()
        .ok()
        .filter(|&time| now.duration_since(time).is_ok_and(|age| age >= RACY))
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .and_then(|d| u64::try_from(d.as_nanos()).ok());
    Ok((size, modified))
}

/// One look at the folder.
pub(super) struct Look<'o> {
    options: &'o SyncOptions,
    /// The synced folder, absolute.
    root: PathBuf,
    /// The synced folder with its links resolved, when it exists.
    real_root: Option<PathBuf>,
    manifest: Manifest,
    /// The files to sync (sidecars among them, until they are told apart), by key.
    candidates: BTreeMap<String, PathBuf>,
    /// What the walk read of each file it found (its own, or its link's target's).
    stats: HashMap<String, fs::Metadata>,
    /// What is left alone, by key: why, and whether it is a folder.
    skipped: BTreeMap<String, (SkipReason, bool)>,
    unreadable: Vec<(String, Error)>,
    /// What the walk found that is neither a folder nor a file (a pipe, a device, a
    /// dangling link), by key: only such a name needs a look on disk as a sidecar.
    others: BTreeSet<String>,
}

impl Look<'_> {
    /// Takes `file` (a path inside the folder) as one to sync, unless it is left alone.
    /// `linked`: whether a link may lead it out of the folder (a link, or a listed path).
    fn add(&mut self, file: &Path, linked: bool, stat: Option<fs::Metadata>) -> Result<(), Error> {
        let temporary = file
            .file_name()
            .is_some_and(|name| self.manifest.is_temporary(&name.to_string_lossy()));
        if temporary || self.manifest.is(file) {
            return Ok(());
        }
        let file = lexical(file);
        let relative = file.strip_prefix(&self.root).map_err(|_| {
            Error::invalid(format!(
                "{} is not inside the synced folder {}",
                file.display(),
                self.root.display()
            ))
        })?;
        let key = match key(relative) {
            Ok(key) => key,
            Err(lossy) => {
                self.unreadable.push(not_utf8(lossy));
                return Ok(());
            }
        };
        if let Some(reason) = self.leave_alone(relative, &file, linked) {
            self.skipped.insert(key, (reason, false));
        } else {
            if let Some(stat) = stat {
                self.stats.insert(key.clone(), stat);
            }
            self.candidates.insert(key, file);
        }
        Ok(())
    }

    /// Why a file at `relative` (`path` on disk) is left alone, if it is.
    fn leave_alone(&self, relative: &Path, path: &Path, linked: bool) -> Option<SkipReason> {
        if !self.options.include_hidden && relative.components().any(|c| hidden(c.as_os_str())) {
            return Some(SkipReason::Hidden);
        }
        if linked && self.links_out(path) {
            return Some(SkipReason::LinkOutside);
        }
        None
    }

    /// Whether `path` leads out of the folder once its links are resolved, and such
    /// files are left alone.
    fn links_out(&self, path: &Path) -> bool {
        if self.options.follow_links_outside {
            return false;
        }
        match (&self.real_root, fs::canonicalize(path)) {
            (Some(real_root), Ok(real)) => !real.starts_with(real_root),
            _ => false,
        }
    }

    /// Every regular file below the folder, recursively, taken as [`Look::add`] takes it;
    /// symbolic links to files are followed, to folders not: such a link is left alone,
    /// and so are hidden files and folders, each once.
    fn walk(&mut self) -> Result<(), Error> {
        let unreadable = |path: &Path, error| Error::source_io(Some(path.to_path_buf()), error);
        // Each folder with its key: the walk builds keys as it goes down (`Err` holds the
        // readable form of one that is not UTF-8).
        let mut pending: Vec<(PathBuf, Result<String, String>)> =
            vec![(self.root.clone(), Ok(String::new()))];
        while let Some((dir, prefix)) = pending.pop() {
            let entries = fs::read_dir(&dir).map_err(|e| unreadable(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| unreadable(&dir, e))?;
                let name = entry.file_name();
                let path = entry.path();
                let temporary = name.to_str().is_some_and(|n| self.manifest.is_temporary(n));
                if temporary || self.manifest.is(&path) {
                    continue;
                }
                let key = match (&prefix, name.to_str()) {
                    (Ok(prefix), Some(name)) if prefix.is_empty() => Ok(name.to_owned()),
                    (Ok(prefix), Some(name)) => Ok(format!("{prefix}/{name}")),
                    (Ok(prefix) | Err(prefix), _) => {
                        let name = name.to_string_lossy();
                        Err(if prefix.is_empty() {
                            name.into_owned()
                        } else {
                            format!("{prefix}/{name}")
                        })
                    }
                };
                let kind = entry.file_type().map_err(|e| unreadable(&path, e))?;
                let target = if kind.is_symlink() {
                    fs::metadata(&path).ok()
                } else {
                    None
                };
                let folder = kind.is_dir() || target.as_ref().is_some_and(fs::Metadata::is_dir);
                let readable = |key: Result<String, String>| key.unwrap_or_else(|lossy| lossy);
                if hidden(&name) && !self.options.include_hidden {
                    // A hidden folder (`.git`) is one line, not one per file in it.
                    self.skipped
                        .insert(readable(key), (SkipReason::Hidden, folder));
                } else if kind.is_dir() {
                    pending.push((path, key));
                } else if folder {
                    self.skipped
                        .insert(readable(key), (SkipReason::LinkedFolder, true));
                } else if kind.is_file() || target.as_ref().is_some_and(fs::Metadata::is_file) {
                    let key = match key {
                        Ok(key) => key,
                        Err(lossy) => {
                            self.unreadable.push(not_utf8(lossy));
                            continue;
                        }
                    };
                    if kind.is_symlink() && self.links_out(&path) {
                        self.skipped.insert(key, (SkipReason::LinkOutside, false));
                        continue;
                    }
                    // Read here, relative to the folder just listed: cheaper than by path.
                    let stat = if kind.is_file() {
                        entry.metadata().ok()
                    } else {
                        target
                    };
                    if let Some(stat) = stat {
                        self.stats.insert(key.clone(), stat);
                    }
                    self.candidates.insert(key, path);
                } else if let Ok(key) = key {
                    self.others.insert(key);
                }
            }
        }
        Ok(())
    }

    /// Tells the sidecars apart from the files: `X.json` is `X`'s sidecar unless the
    /// manifest knows it as an asset, it is left alone itself, or it is JSON that holds no
    /// metadata. `X` may be left alone: its sidecar is then not uploaded either. Takes the
    /// sidecars out of the candidates; gives each file's sidecar by the file's key.
    fn sidecars(
        &mut self,
        known: &BTreeMap<String, ManifestEntry>,
    ) -> Result<BTreeMap<String, PathBuf>, Error> {
        let mut judged: HashMap<String, Option<PathBuf>> = HashMap::new();
        // A listed sidecar of a file on disk stands for that file.
        if self.options.files.is_some() {
            let listed: Vec<String> = self.candidates.keys().cloned().collect();
            for key in listed {
                if let Some(of) = key.strip_suffix(".json")
                    && !self.candidates.contains_key(of)
                    && !self.skipped.contains_key(of)
                    && self.root.join(of).is_file()
                    && self.sidecar(&key, known, &mut judged).is_some()
                {
                    self.add(&self.root.join(of), true, None)?;
                }
            }
        }
        // Only a name that ends in `.json` can be a sidecar: its owner is the name without.
        let named: BTreeSet<String> = self
            .candidates
            .keys()
            .chain(&self.others)
            .filter(|key| key.ends_with(".json"))
            .cloned()
            .collect();
        let mut sidecars = BTreeMap::new();
        for key in named {
            let Some(owner) = key.strip_suffix(".json") else {
                continue;
            };
            let owned = self.candidates.contains_key(owner)
                || self.skipped.get(owner).is_some_and(|(_, folder)| !folder);
            if owned && let Some(path) = self.sidecar(&key, known, &mut judged) {
                sidecars.insert(owner.to_owned(), path);
            }
        }
        // A list names files, not always their sidecars: those are looked for on disk.
        if self.options.files.is_some() {
            let owners: Vec<String> = self
                .candidates
                .keys()
                .chain(
                    self.skipped
                        .iter()
                        .filter(|(_, (_, folder))| !folder)
                        .map(|(key, _)| key),
                )
                .filter(|owner| !sidecars.contains_key(*owner))
                .cloned()
                .collect();
            for owner in owners {
                let key = format!("{owner}.json");
                if let Some(path) = self.sidecar(&key, known, &mut judged) {
                    sidecars.insert(owner, path);
                }
            }
        }
        for owner in sidecars.keys() {
            self.candidates.remove(&format!("{owner}.json"));
        }
        Ok(sidecars)
    }

    /// The path of `key` when it is a sidecar (of the file it names without `.json`).
    fn sidecar(
        &self,
        key: &str,
        known: &BTreeMap<String, ManifestEntry>,
        judged: &mut HashMap<String, Option<PathBuf>>,
    ) -> Option<PathBuf> {
        if let Some(verdict) = judged.get(key) {
            return verdict.clone();
        }
        let verdict = if known.contains_key(key) || self.skipped.contains_key(key) {
            None
        } else if let Some(path) = self.candidates.get(key) {
            is_sidecar(path).then(|| path.clone())
        } else if self.options.files.is_none() && !self.others.contains(key) {
            // The walk saw every name: this one is not on disk.
            None
        } else {
            // Not among the files: one a list leaves out, or one the walk does not take (a
            // pipe or device, refused when read), unless it is a folder or left alone.
            let path = self.root.join(key);
            let relative = Path::new(key);
            let exists = fs::metadata(&path).is_ok_and(|m| !m.is_dir());
            (exists
                && !self.manifest.is(&path)
                && self.leave_alone(relative, &path, true).is_none()
                && is_sidecar(&path))
            .then_some(path)
        };
        judged.insert(key.to_owned(), verdict.clone());
        verdict
    }
}

/// Whether a file beside another, named like its sidecar, is one: anything but JSON that
/// holds no metadata. One that cannot be read (a pipe, too big) is a sidecar that fails
/// its file, with the error that says why.
fn is_sidecar(path: &Path) -> bool {
    !meta::read_file(path).is_ok_and(|text| meta::holds_no_metadata(&text))
}

/// A file whose name is not UTF-8, by its readable form, with why it cannot be synced.
fn not_utf8(lossy: String) -> (String, Error) {
    let error = Error::invalid(format!(
        "the name {lossy:?} is not valid UTF-8 (shown with \u{fffd} for the bytes that are not): rename the file, since Storyblok and the manifest name files by text"
    ));
    (lossy, error)
}

/// Whether a file or folder name is hidden: it starts with `.`.
fn hidden(name: &std::ffi::OsStr) -> bool {
    name.as_encoded_bytes().first() == Some(&b'.')
}

/// The manifest's place, to leave it out wherever the synced folder is reached from.
struct Manifest {
    /// Its canonical path (symbolic links resolved), when its folder exists.
    canonical: Option<PathBuf>,
    /// Its file name, and the start of its temporary files' names.
    name: Option<std::ffi::OsString>,
    temporary: String,
}

impl Manifest {
    fn at(path: &Path) -> Manifest {
        let name = path.file_name().map(ToOwned::to_owned);
        // The manifest may not exist yet: resolve its folder, then add its name.
        let canonical = fs::canonicalize(path).ok().or_else(|| {
            let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
            let parent = fs::canonicalize(parent.unwrap_or(Path::new("."))).ok()?;
            Some(parent.join(name.as_ref()?))
        });
        Manifest {
            canonical,
            name,
            temporary: temporary_prefix(path),
        }
    }

    /// Whether `file` is the manifest, by canonical path: a synced folder reached through
    /// a symbolic link must not upload its own manifest.
    fn is(&self, file: &Path) -> bool {
        if file.file_name() != self.name.as_deref() {
            return false;
        }
        let canonical = fs::canonicalize(file).ok();
        canonical.is_some() && canonical == self.canonical
    }

    /// Whether a file name is one of the manifest's temporary files, its lock file or its
    /// journal.
    fn is_temporary(&self, name: &str) -> bool {
        (name.starts_with(&self.temporary) && name.ends_with(".tmp"))
            || matches!(name.strip_prefix(&self.temporary), Some("lock" | "journal"))
    }
}

/// The manifest key of a relative path: its components joined by `/`, or its lossy form
/// when a component is not UTF-8.
fn key(relative: &Path) -> Result<String, String> {
    let parts: Option<Vec<&str>> = relative
        .components()
        .map(|c| c.as_os_str().to_str())
        .collect();
    match parts {
        Some(parts) => Ok(parts.join("/")),
        None => Err(relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")),
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
