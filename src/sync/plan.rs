//! A sync's look before its first call: the files it will sync, the lines known already
//! (left alone, unreadable, Git LFS pointers), the entries gone, and the guard that refuses
//! a mass change.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use super::listing;
use super::local::{self, LocalFile};
use super::lookup::{self, Lookups};
use super::manifest::{Manifest, ManifestEntry};
use super::{SkipReason, SyncAction, SyncOptions, SyncedFile};
use crate::codec::sha256;
use crate::error::{Error, ErrorKind};
use crate::pool;
use crate::source::open_regular;

/// Git LFS takes no blob of 1024 bytes or more for a pointer; its pointers are ~130 bytes.
const LFS_POINTER_MAX: u64 = 1024;

/// The first line of a Git LFS pointer file (its spec's version 1).
const LFS_VERSION: &[u8] = b"version https://git-lfs.github.com/spec/v1\n";

/// What a sync will do, as far as it is known before the first call.
pub(super) struct Plan {
    /// The files to sync, in path order.
    pub(super) files: Vec<LocalFile>,
    /// The lines already known: files left alone, unreadable or holding an LFS pointer.
    pub(super) lines: Vec<SyncedFile>,
    /// The manifest's files that are gone.
    pub(super) gone: Vec<(String, ManifestEntry)>,
    /// Files that are gone and have no entry, with a sign sent for them whose answer was
    /// never noted, and when it was sent.
    pub(super) abandoned: Vec<(String, u64)>,
    /// The files the manifest does not know, which adoption looks for in the space.
    pub(super) lookups: Lookups,
}

/// The plan for `options` from what `look` found on disk, against `manifest`. Fails when
/// the sync would be a mass change ([`ErrorKind::MassChange`]), before any call.
pub(super) fn plan(
    options: &SyncOptions,
    look: local::Look<'_>,
    manifest: &Manifest,
) -> Result<Plan, Error> {
    let found = local::files(look, &manifest.assets)?;
    let line = |path: String, action| SyncedFile {
        entry: manifest.assets.get(&path).cloned(),
        path,
        action,
    };
    let mut lines = Vec::new();
    // The paths that are on disk (as files to sync or not): their entries are not gone.
    let mut present: HashSet<String> = HashSet::new();
    let mut folders: Vec<(String, SkipReason)> = Vec::new();
    for skipped in found.skipped {
        if skipped.folder {
            folders.push((format!("{}/", skipped.key), skipped.reason));
        }
        present.insert(skipped.key.clone());
        lines.push(line(skipped.key, SyncAction::Skipped(skipped.reason)));
    }
    for (path, error) in found.unreadable {
        present.insert(path.clone());
        lines.push(line(path, SyncAction::Failed(error)));
    }
    let mut files = Vec::with_capacity(found.files.len());
    for file in found.files {
        present.insert(file.key.clone());
        // A file of the size and time its entry recorded holds what was synced then.
        let as_synced = manifest.assets.get(&file.key).is_some_and(|entry| {
            entry.size == file.size && entry.modified.is_some() && entry.modified == file.modified
        });
        if !as_synced && is_lfs_pointer(&file) {
            let error = Error::new(ErrorKind::LfsPointer { path: file.path });
            lines.push(line(file.key, SyncAction::Failed(error)));
        } else {
            files.push(file);
        }
    }
    let mut gone = Vec::new();
    for (path, entry) in &manifest.assets {
        if present.contains(path) {
            continue;
        }
        // Below a folder left alone: left alone too.
        if let Some((_, reason)) = folders.iter().find(|(folder, _)| path.starts_with(folder)) {
            lines.push(line(path.clone(), SyncAction::Skipped(*reason)));
            continue;
        }
        // A list names what to sync now; files it leaves out are gone only if they are.
        if options.files.is_some() && found.root.join(path).is_file() {
            continue;
        }
        gone.push((path.clone(), entry.clone()));
    }
    let abandoned = manifest
        .signing
        .iter()
        .filter(|(path, _)| {
            !present.contains(*path)
                && !manifest.assets.contains_key(*path)
                && !folders.iter().any(|(folder, _)| path.starts_with(folder))
                && (options.files.is_none() || !found.root.join(path).is_file())
        })
        .map(|(path, &sent)| (path.clone(), sent))
        .collect();
    if !options.allow_mass_change {
        guard(options, manifest, &mut files, &gone)?;
    }
    // New files, by the folder they go to: adoption looks for each in the space.
    let mut groups: HashMap<String, Vec<String>> = HashMap::new();
    if options.adopt {
        for file in files
            .iter()
            .filter(|f| !manifest.assets.contains_key(&f.key))
        {
            let name = file.key.rsplit('/').next().unwrap_or(&file.key);
            groups
                .entry(lookup::group(options, &file.key).to_owned())
                .or_default()
                .push(listing::parameterize(name));
        }
    }
    Ok(Plan {
        files,
        lines,
        gone,
        abandoned,
        lookups: Lookups::new(groups),
    })
}

/// Whether a file holds a Git LFS pointer instead of its content (a checkout without Git
/// LFS). One that cannot be read is not: its sync fails on that.
fn is_lfs_pointer(file: &LocalFile) -> bool {
    if file.size >= LFS_POINTER_MAX || file.size < LFS_VERSION.len() as u64 {
        return false;
    }
    let mut text = Vec::new();
    let read = open_regular(&file.path)
        .and_then(|(handle, _)| handle.take(LFS_POINTER_MAX).read_to_end(&mut text));
    read.is_ok()
        && text.starts_with(LFS_VERSION)
        && text
            .split(|&byte| byte == b'\n')
            .any(|line| line.starts_with(b"oid sha256:"))
}

/// Refuses a sync that would upload new bytes for, or delete, more of the manifest's files
/// than [`SyncOptions::mass_change_limit`] allows. Files of the recorded size whose time
/// does not say they are unchanged are hashed (and the hash kept for their sync), but only
/// when they could tip the count over the limit.
fn guard(
    options: &SyncOptions,
    manifest: &Manifest,
    files: &mut [LocalFile],
    gone: &[(String, ManifestEntry)],
) -> Result<(), Error> {
    let entries = manifest.assets.len();
    let too_many = |count: usize| {
        count >= options.change_at_least && count as f64 > options.change_share * entries as f64
    };
    let deleted: Vec<&str> = if options.delete_removed {
        gone.iter().map(|(path, _)| path.as_str()).collect()
    } else {
        Vec::new()
    };
    let mut changed: Vec<usize> = Vec::new();
    let mut unsure: Vec<usize> = Vec::new();
    for (index, file) in files.iter().enumerate() {
        // A pending entry's record never got its file: nothing there to lose.
        let Some(entry) = manifest.assets.get(&file.key).filter(|e| !e.pending) else {
            continue;
        };
        if entry.size != file.size {
            changed.push(index);
        } else if entry.modified.is_none() || entry.modified != file.modified {
            unsure.push(index);
        }
    }
    if !too_many(changed.len() + unsure.len() + deleted.len()) {
        return Ok(());
    }
    let hashes = {
        let files = &*files;
        pool::map(unsure, options.concurrency, |index| {
            (index, hash(&files[index]))
        })
    };
    for (index, hash) in hashes {
        let file = &mut files[index];
        let Some(hash) = hash else { continue };
        if manifest
            .assets
            .get(&file.key)
            .is_some_and(|e| e.sha256 != hash)
        {
            changed.push(index);
        }
        file.sha256 = Some(hash);
    }
    if !too_many(changed.len() + deleted.len()) {
        return Ok(());
    }
    changed.sort_unstable();
    let mut paths: Vec<String> = changed
        .iter()
        .map(|&index| files[index].key.clone())
        .chain(deleted.iter().map(|path| (*path).to_owned()))
        .collect();
    paths.sort();
    Err(Error::new(ErrorKind::MassChange {
        changed: changed.len(),
        deleted: deleted.len(),
        entries,
        paths,
    }))
}

/// A file's SHA-256, when it reads as the size the sync saw (otherwise its sync reads it
/// again, and fails).
fn hash(file: &LocalFile) -> Option<String> {
    let (handle, _) = open_regular(&file.path).ok()?;
    let (hash, length) = sha256::of_reader(handle).ok()?;
    (length == file.size).then_some(hash)
}
