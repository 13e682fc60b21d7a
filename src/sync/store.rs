//! What a sync knows of its manifest while it runs: the entries in memory, and on disk the
//! manifest file and the journal that notes each change the moment it is made. The
//! manifest's lock is taken before the first write, and only then: a sync with nothing to
//! write touches no file, and works in a read-only checkout.
//!
//! When the sync ends, the journal is folded into the manifest (written once, and only if
//! its content changed) and removed; a sync that did not end leaves the journal, which
//! [`Manifest::load`] reads and the next sync folds at its first write.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::journal::{self, Journal};
use super::lock::ManifestLock;
use super::manifest::{Manifest, ManifestEntry, manifest_error};
use crate::error::Error;

pub(super) struct Store {
    path: PathBuf,
    space_id: u64,
    /// The entries as they are now.
    manifest: Manifest,
    /// The manifest file and its journal as they were just before this sync read them:
    /// another sync may have written either before this one took the lock.
    read: Stamps,
    /// The asset ids the entries name, as their assets or pending new versions.
    owners: HashSet<u64>,
    patience: Duration,
    lock: Option<ManifestLock>,
    journal: Option<Journal>,
    /// A journal left by a sync that did not end, to fold in at the first write.
    leftover: bool,
    /// Another sync changed the manifest before this one took the lock: start over.
    restart: bool,
}

impl Store {
    /// Reads the manifest at `path` for a sync of `space_id`. With `lock`, this sync holds
    /// the manifest's lock already. A journal left by a sync that did not end is folded in
    /// at once (under the lock), unless the run is dry: that is a write.
    pub(super) fn open(
        path: &Path,
        space_id: u64,
        lock: Option<ManifestLock>,
        patience: Duration,
        dry_run: bool,
    ) -> Result<Store, Error> {
        // A journal is left by a sync that did not end, or being written by one that runs:
        // which, only its lock tells. Folding it is a write, so it is taken first.
        let lock = match lock {
            None if !dry_run && journal::path_of(path).exists() => {
                Some(ManifestLock::take(path, patience)?)
            }
            lock => lock,
        };
        let leftover = journal::path_of(path).exists();
        let read = Stamps::of(path);
        let mut manifest = Manifest::load(path)?;
        if let Some(other) = manifest.space_id.filter(|&other| other != space_id) {
            return Err(manifest_error(
                path,
                &format!("belongs to space {other}, not {space_id}; use one manifest per space"),
                None,
            ));
        }
        manifest.space_id = Some(space_id);
        let owners = manifest
            .assets
            .values()
            .flat_map(|entry| std::iter::once(entry.id).chain(entry.new_version))
            .collect();
        let mut store = Store {
            path: path.to_path_buf(),
            space_id,
            manifest,
            read,
            owners,
            patience,
            lock,
            journal: None,
            leftover,
            restart: false,
        };
        if leftover && !dry_run {
            store.ensure_writable()?;
        }
        Ok(store)
    }

    /// The entry of `file`, as it is now.
    pub(super) fn entry(&self, file: &str) -> Option<&ManifestEntry> {
        self.manifest.assets.get(file)
    }

    /// The manifest as it is now.
    pub(super) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Whether an entry names asset `id`.
    pub(super) fn owns(&self, id: u64) -> bool {
        self.owners.contains(&id)
    }

    /// Sets (or, with `None`, removes) `file`'s entry, noted in the journal before this
    /// returns.
    pub(super) fn save(&mut self, file: &str, entry: Option<ManifestEntry>) -> Result<(), Error> {
        self.ensure_writable()?;
        if let Some(journal) = &mut self.journal {
            journal.append(file, entry.as_ref())?;
        }
        if let Some(old) = self.manifest.assets.get(file) {
            for id in std::iter::once(old.id).chain(old.new_version) {
                self.owners.remove(&id);
            }
        }
        if let Some(entry) = &entry {
            self.owners
                .extend(std::iter::once(entry.id).chain(entry.new_version));
        }
        journal::set(&mut self.manifest, file.to_owned(), entry);
        Ok(())
    }

    /// When a sign for `file` was sent without its answer noted, if one was.
    pub(super) fn signing(&self, file: &str) -> Option<u64> {
        self.manifest.signing.get(file).copied()
    }

    /// Notes that a sign for `file` is sent now (with `Some` time), or that none is
    /// outstanding, before this returns: a record that sign makes is then found again
    /// even if its answer is never noted.
    pub(super) fn note_signing(&mut self, file: &str, at: Option<u64>) -> Result<(), Error> {
        self.ensure_writable()?;
        if let Some(journal) = &mut self.journal {
            journal.signing(file, at)?;
        }
        match at {
            Some(at) => self.manifest.signing.insert(file.to_owned(), at),
            None => self.manifest.signing.remove(file),
        };
        Ok(())
    }

    /// Before the first call that changes anything, so that a record is never made that
    /// the manifest could not note: takes the lock, checks the manifest is as this sync
    /// read it, folds a journal left behind, and starts this sync's journal.
    pub(super) fn ensure_writable(&mut self) -> Result<(), Error> {
        if self.journal.is_some() {
            return Ok(());
        }
        if self.restart {
            return Err(self.changed_meanwhile());
        }
        if self.lock.is_none() {
            self.lock = Some(ManifestLock::take(&self.path, self.patience)?);
            if Stamps::of(&self.path) != self.read {
                self.restart = true;
                return Err(self.changed_meanwhile());
            }
        }
        if self.leftover {
            // Nothing was noted yet: the entries are those read, the journal's included.
            self.manifest.save(&self.path)?;
            journal::remove(&self.path)?;
            self.leftover = false;
        }
        self.journal = Some(Journal::create(&self.path, Some(self.space_id))?);
        Ok(())
    }

    fn changed_meanwhile(&self) -> Error {
        manifest_error(
            &self.path,
            "was changed by another sync while this one looked at it; this one starts over",
            None,
        )
    }

    /// Whether another sync changed the manifest before this one took the lock: the run
    /// must start over (with the lock, from [`Store::finish`]), having written nothing.
    pub(super) fn must_restart(&self) -> bool {
        self.restart
    }

    /// Ends the sync's use of the manifest: folds the journal into the manifest (written
    /// only if its content changed) and removes it. Returns the lock, if this sync took it.
    pub(super) fn finish(mut self) -> Result<Option<ManifestLock>, Error> {
        if let Some(journal) = self.journal.take() {
            self.manifest.save(&self.path)?;
            journal.remove()?;
        }
        Ok(self.lock)
    }
}

/// What tells whether the manifest file or its journal changed: each one's identity, length
/// and modification time (`None`: no such file). A new manifest is renamed into place (a
/// new file), and a journal grows with each note.
#[derive(Debug, PartialEq, Eq)]
struct Stamps {
    manifest: Option<Stamp>,
    journal: Option<Stamp>,
}

#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    identity: u64,
    len: u64,
    modified: Option<SystemTime>,
}

impl Stamps {
    fn of(manifest: &Path) -> Stamps {
        let stamp = |path: &Path| {
            fs::metadata(path).ok().map(|meta| Stamp {
                identity: identity(&meta),
                len: meta.len(),
                modified: meta.modified().ok(),
            })
        };
        Stamps {
            manifest: stamp(manifest),
            journal: stamp(&journal::path_of(manifest)),
        }
    }
}

/// The file's inode number, where there is one.
#[cfg(unix)]
fn identity(meta: &fs::Metadata) -> u64 {
    std::os::unix::fs::MetadataExt::ino(meta)
}

#[cfg(not(unix))]
fn identity(_: &fs::Metadata) -> u64 {
    0
}
