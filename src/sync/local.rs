//! The files a sync covers, as they are on disk: each with its manifest path and its
//! sidecar, the manifest and its temporary files left out.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Component, Path, PathBuf};

use super::SyncOptions;
use crate::error::Error;
use crate::manifest::temporary_prefix;

/// What a sync found on disk.
pub(super) struct Found {
    /// The synced folder, absolute.
    pub(super) root: PathBuf,
    /// The files to sync, in path order.
    pub(super) files: Vec<LocalFile>,
    /// Files that cannot be synced as they are named, with why (by a readable form of
    /// their path).
    pub(super) unreadable: Vec<(String, Error)>,
}

/// One file to sync.
pub(super) struct LocalFile {
    /// Its path relative to the synced folder, `/`-separated: its manifest key.
    pub(super) key: String,
    pub(super) path: PathBuf,
    /// `<file>.json` beside it, holding its metadata.
    pub(super) sidecar: Option<PathBuf>,
}

/// The files of `options`. Fails only when the folder cannot be read.
pub(super) fn files(options: &SyncOptions) -> Result<Found, Error> {
    let root = lexical(&options.root);
    let manifest = Manifest::at(&options.manifest);
    let mut keyed = BTreeMap::new();
    let mut unreadable = Vec::new();
    let mut add = |file: &Path| -> Result<(), Error> {
        if manifest.is(file) {
            return Ok(());
        }
        let file = lexical(file);
        let relative = file.strip_prefix(&root).map_err(|_| {
            Error::invalid(format!(
                "{} is not inside the synced folder {}",
                file.display(),
                root.display()
            ))
        })?;
        match key(relative) {
            Ok(key) => {
                keyed.insert(key, file);
            }
            Err(lossy) => unreadable.push((
                lossy.clone(),
                Error::invalid(format!(
                    "the name {lossy:?} is not valid UTF-8 (shown with \u{fffd} for the bytes that are not): rename the file, since Storyblok and the manifest name files by text"
                )),
            )),
        }
        Ok(())
    };
    match &options.files {
        Some(files) => {
            for file in files {
                add(&options.root.join(file))?;
            }
        }
        None => walk(&root, &manifest, &mut add)?,
    }
    // A list names files, not always their sidecars: those are looked for on disk.
    let listed = options.sidecars && options.files.is_some();
    let on_disk = |key: &str| {
        let path = root.join(key);
        (listed && path.is_file() && !manifest.is(&path)).then_some(path)
    };
    if listed {
        // A listed sidecar of a file on disk stands for that file.
        let keys: Vec<String> = keyed.keys().cloned().collect();
        for key in keys {
            if let Some(of) = key.strip_suffix(".json")
                && !keyed.contains_key(of)
                && let Some(path) = on_disk(of)
            {
                keyed.insert(of.to_owned(), path);
            }
        }
    }
    let mut files: Vec<LocalFile> = Vec::with_capacity(keyed.len());
    let sidecars: BTreeSet<String> = if options.sidecars {
        keyed
            .keys()
            .filter_map(|key| key.strip_suffix(".json"))
            .filter(|of| keyed.contains_key(*of))
            .map(|of| format!("{of}.json"))
            .collect()
    } else {
        BTreeSet::new()
    };
    for sidecar in &sidecars {
        keyed.remove(sidecar);
    }
    for (key, path) in keyed {
        let sidecar = format!("{key}.json");
        let sidecar = if sidecars.contains(&sidecar) {
            Some(root.join(&sidecar))
        } else {
            on_disk(&sidecar)
        };
        files.push(LocalFile { key, path, sidecar });
    }
    Ok(Found {
        root,
        files,
        unreadable,
    })
}

/// Every regular file below `root`, recursively; symbolic links to files are followed,
/// to folders not.
fn walk(
    root: &Path,
    manifest: &Manifest,
    add: &mut impl FnMut(&Path) -> Result<(), Error>,
) -> Result<(), Error> {
    let unreadable = |path: &Path, error| Error::source_io(Some(path.to_path_buf()), error);
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir).map_err(|e| unreadable(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| unreadable(&dir, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| unreadable(&path, e))?;
            if kind.is_dir() {
                pending.push(path);
            } else if (kind.is_file() || (kind.is_symlink() && path.is_file()))
                && !manifest.is_temporary(&entry.file_name().to_string_lossy())
            {
                add(&path)?;
            }
        }
    }
    Ok(())
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
