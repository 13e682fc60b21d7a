//! One file's sync: what it needs (nothing, a metadata update, an upload, an adoption), and
//! doing it unless the run is dry.

use std::cell::OnceCell;
use std::collections::HashSet;
use std::time::SystemTime;

use super::download;
use super::listing::{self, Listed};
use super::local::LocalFile;
use super::lookup;
use super::manifest::ManifestEntry;
use super::{OnChange, Placement, Run, SyncAction, SyncedFile, stops_the_sync};
use crate::asset::cdn_url;
use crate::codec::image_size::Dimensions;
use crate::codec::{clock, sha256};
use crate::error::{Error, ErrorKind};
use crate::finish::complete;
use crate::meta::AssetMeta;
use crate::params::AssetParams;
use crate::source::{Source, open_regular};

/// The most existing assets one file compares its bytes with (the oldest of those with its
/// stored name and size): each costs a download of the file's size.
const MAX_CANDIDATES: usize = 10;

/// Syncs one file. Only a manifest that cannot be written is an error; anything else is
/// the file's failed line.
pub(super) fn sync(run: &Run<'_>, local: &LocalFile) -> Result<SyncedFile, Error> {
    let action = Job::new(run, local).and_then(|job| job.run());
    match action {
        Ok(action) => Ok(run.line(&local.key, action)),
        Err(error) if stops_the_sync(&error) => Err(error),
        Err(error) => Ok(run.line(&local.key, SyncAction::Failed(error))),
    }
}

/// A file the manifest knows, with `entry`, but the folder no longer holds.
pub(super) fn gone(run: &Run<'_>, path: &str, entry: &ManifestEntry) -> Result<SyncedFile, Error> {
    if !run.options.delete_removed {
        return Ok(run.line(path, SyncAction::Missing));
    }
    if run.options.dry_run {
        return Ok(run.line(path, SyncAction::Deleted));
    }
    run.ensure_writable()?;
    if let Some(id) = entry.new_version {
        // A record never finished: nothing but this entry knows it.
        let _ = run.client.delete(run.space_id, id);
    }
    let action = match run.client.delete(run.space_id, entry.id) {
        Err(error) if error.status() != Some(404) => SyncAction::Failed(error),
        Ok(()) | Err(_) => {
            run.save(path, None)?;
            SyncAction::Deleted
        }
    };
    Ok(run.line(path, action))
}

/// Where a file goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Wherever Storyblok puts it: the sync does not place files.
    Unplaced,
    /// In this folder (`None`: the top of the asset library).
    Folder(Option<u64>),
    /// In a folder that does not exist yet (a dry run does not create it).
    Missing,
}

impl Target {
    /// The folder to send and to record: none when the sync does not place the file, or
    /// its folder does not exist yet.
    fn folder(self) -> Option<u64> {
        match self {
            Target::Folder(folder) => folder,
            Target::Unplaced | Target::Missing => None,
        }
    }
}

/// One file and what is known of it.
struct Job<'r, 'c> {
    run: &'r Run<'c>,
    local: &'r LocalFile,
    meta: Option<AssetMeta>,
    meta_hash: Option<String>,
    size: u64,
    modified: Option<u64>,
    /// The file's SHA-256, read once when needed.
    sha256: OnceCell<String>,
}

/// An existing asset one file claimed (see [`Run::claim`]) to adopt or replace. Dropped
/// before it is [`kept`](Claim::keep), on an error too, it gives the asset back, so a file
/// that failed leaves it to the files after it.
struct Claim<'r, 'c> {
    run: &'r Run<'c>,
    id: u64,
}

impl<'r, 'c> Claim<'r, 'c> {
    /// Claims `id`, if no other file owns or claimed it.
    fn take(run: &'r Run<'c>, id: u64) -> Option<Self> {
        run.claim(id).then_some(Claim { run, id })
    }

    /// Keeps the claim: the file took the asset.
    fn keep(self) {
        std::mem::forget(self);
    }
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        self.run.unclaim(self.id);
    }
}

/// What a download told of an existing asset's bytes.
enum Compared {
    /// They are this file's bytes.
    Same,
    /// They are other bytes (another length, or another SHA-256).
    Different,
    /// The download failed, and may work next time: they may be either.
    Unknown(Error),
    /// The download is refused for good: the asset is left alone, as if not listed.
    Unusable,
}

/// How an upload treats the asset.
enum Upload {
    /// A new asset, for a file the manifest has no complete entry for.
    New,
    /// The file of this existing asset, in place.
    Replace(u64),
    /// A new asset for the file of this entry, which keeps its previous asset (id, URL,
    /// constant) until the new one is finished; into the entry's pending new version, if
    /// it has one.
    NewVersion(ManifestEntry),
}

impl<'r, 'c> Job<'r, 'c> {
    /// The file as the sync first saw it (see [`LocalFile`]), with its metadata.
    fn new(run: &'r Run<'c>, local: &'r LocalFile) -> Result<Self, Error> {
        let meta = metadata(run, local)?;
        check_tags(run, meta.as_ref())?;
        Ok(Job {
            run,
            local,
            meta_hash: meta.as_ref().map(AssetMeta::hash),
            meta,
            size: local.size,
            modified: local.modified,
            // Hashed already when the guard against a mass change needed it.
            sha256: local
                .sha256
                .clone()
                .map_or_else(OnceCell::new, OnceCell::from),
        })
    }

    fn key(&self) -> &str {
        &self.local.key
    }

    fn dry(&self) -> bool {
        self.run.options.dry_run
    }

    fn sha256(&self) -> Result<&str, Error> {
        if let Some(hash) = self.sha256.get() {
            return Ok(hash);
        }
        let unreadable = |e| Error::source_io(Some(self.local.path.clone()), e);
        // Refused unopened should a pipe have taken the file's place since the look.
        let (file, _) = open_regular(&self.local.path).map_err(unreadable)?;
        let (hash, length) = sha256::of_reader(file).map_err(unreadable)?;
        // The hash would be entered with the size seen before: they must be of one file.
        if length != self.size {
            return Err(Error::invalid(format!(
                "{} changed while it was read: {} bytes, then {length} read; sync again once it is written",
                self.local.path.display(),
                self.size
            )));
        }
        Ok(self.sha256.get_or_init(|| hash))
    }

    fn run(self) -> Result<SyncAction, Error> {
        match self.run.entry(self.key()) {
            Some(entry) if !entry.pending => self.known(entry),
            // A pending entry's record never got its file: completing it is an upload.
            Some(entry) => {
                let target = self.target(Some(&entry))?;
                if !self.dry() {
                    self.upload(Upload::Replace(entry.id), target)?;
                }
                Ok(SyncAction::Uploaded)
            }
            None => self.unknown(),
        }
    }

    /// A file the manifest has a complete entry for.
    fn known(self, entry: ManifestEntry) -> Result<SyncAction, Error> {
        let same_bytes = entry.size == self.size
            && ((entry.modified.is_some() && entry.modified == self.modified)
                || self.sha256()? == entry.sha256);
        let target = self.target(Some(&entry))?;
        let moved = match target {
            Target::Unplaced => false,
            Target::Folder(folder) => entry.folder != folder,
            Target::Missing => true,
        };
        let meta_changed = self.meta_hash.is_some() && self.meta_hash != entry.metadata_hash;
        if same_bytes && !moved && !meta_changed {
            if self.dry() {
                return Ok(SyncAction::Unchanged);
            }
            let mut kept = self.without_new_version(entry)?;
            // A time left out before (the file was too fresh to trust it) is recorded once
            // it can be, so that later syncs skip hashing the file. A recorded time is never
            // rewritten: on another machine times differ, and the manifest would change on
            // every checkout.
            if kept.modified.is_none() && self.modified.is_some() {
                kept.modified = self.modified;
                self.run.save(self.key(), Some(kept))?;
            }
            return Ok(SyncAction::Unchanged);
        }
        if same_bytes {
            if !self.dry() {
                self.run.ensure_writable()?;
                let meta = self.meta.clone().unwrap_or_default();
                let folder = moved.then_some(target.folder());
                match self
                    .run
                    .client
                    .update_asset(self.run.space_id, entry.id, &meta, folder)
                {
                    // The asset was deleted in Storyblok: upload the file anew. Its entry
                    // stays until the new asset is finished.
                    Err(error) if error.status() == Some(404) => {
                        self.upload(Upload::NewVersion(entry), target)?;
                        return Ok(SyncAction::Uploaded);
                    }
                    other => other?,
                }
                let mut updated = self.without_new_version(entry)?;
                if target != Target::Unplaced {
                    updated.folder = target.folder();
                }
                updated.metadata_hash = self.meta_hash.clone().or(updated.metadata_hash);
                updated.modified = self.modified;
                self.run.save(self.key(), Some(updated))?;
            }
            return Ok(SyncAction::MetadataUpdated);
        }
        self.changed(entry.id, Some(entry), target)
    }

    /// This file's bytes differ from asset `previous`'s (the asset of its `entry`, if it
    /// has one): replace them in place, or upload a new asset, as the options say.
    fn changed(
        &self,
        previous: u64,
        entry: Option<ManifestEntry>,
        target: Target,
    ) -> Result<SyncAction, Error> {
        match self.run.options.on_change {
            OnChange::ReplaceInPlace => {
                if self.dry() {
                    return Ok(SyncAction::Replaced);
                }
                let replaced = self.upload(Upload::Replace(previous), target)?;
                if let Some(entry) = entry.filter(|e| e.new_version.is_some()) {
                    // The record of an earlier new version is no longer wanted.
                    self.delete_new_version(&entry);
                }
                Ok(if replaced {
                    SyncAction::Replaced
                } else {
                    SyncAction::Uploaded // the asset was gone from Storyblok
                })
            }
            OnChange::NewAsset => {
                if !self.dry() {
                    self.upload(entry.map_or(Upload::New, Upload::NewVersion), target)?;
                }
                Ok(SyncAction::NewVersion { previous })
            }
        }
    }

    /// `entry` without its pending new version, whose record is deleted (noted first when
    /// there is one): the file's bytes are its asset's again, so no new version is wanted.
    fn without_new_version(&self, mut entry: ManifestEntry) -> Result<ManifestEntry, Error> {
        if entry.new_version.is_some() {
            self.delete_new_version(&entry);
            entry.new_version = None;
            self.run.save(self.key(), Some(entry.clone()))?;
        }
        Ok(entry)
    }

    /// Deletes the record of `entry`'s pending new version. A failure leaves it behind,
    /// unnoted once the entry is saved without it: it is only a record never finished.
    fn delete_new_version(&self, entry: &ManifestEntry) {
        if let Some(id) = entry.new_version {
            let _ = self.run.client.delete(self.run.space_id, id);
        }
    }

    /// A file the manifest does not know: adopt an asset with the same bytes, or
    /// upload.
    fn unknown(self) -> Result<SyncAction, Error> {
        if !self.dry() {
            self.run.ensure_writable()?;
        }
        let target = self.target(None)?;
        if self.run.options.adopt
            && target != Target::Missing
            && let Some(action) = self.adopt_or_replace(target)?
        {
            return Ok(action);
        }
        if !self.dry() {
            self.upload(Upload::New, target)?;
        }
        Ok(SyncAction::Uploaded)
    }

    /// Adopts an existing asset with this file's bytes, or replaces one with the stored
    /// name and size but other bytes; `None` when there is none to take.
    ///
    /// Candidates are compared without claiming them, and only the one chosen is claimed:
    /// two files of one stored name and size (`light/logo.png` and `dark/logo.png` synced
    /// into one folder) each find their own asset, whichever compares first. A choice
    /// that another file claimed meanwhile is passed over for the next.
    fn adopt_or_replace(&self, target: Target) -> Result<Option<SyncAction>, Error> {
        let found = self.candidates(target)?;
        let mut different = Vec::new();
        let mut unknown = None;
        for candidate in &found.assets {
            // Another file's already (in the manifest, or claimed in this run).
            if self.run.taken(candidate.id) {
                continue;
            }
            match self.compare(candidate)? {
                Compared::Same => {
                    let Some(claim) = Claim::take(self.run, candidate.id) else {
                        continue; // taken meanwhile by another file with these bytes
                    };
                    if !self.dry() {
                        self.adopt(candidate, target)?;
                    }
                    claim.keep();
                    return Ok(Some(SyncAction::Adopted));
                }
                Compared::Different => different.push(candidate.id),
                Compared::Unknown(error) => {
                    unknown.get_or_insert(error);
                }
                Compared::Unusable => {}
            }
        }
        // An asset whose bytes could not be downloaded may hold this file: neither
        // uploading a duplicate nor replacing another asset is safe. The file fails; the
        // next run compares again.
        if let Some(error) = unknown {
            return Err(error);
        }
        // Nor is it while assets beyond those compared may hold it.
        if found.more {
            return Err(Error::invalid(format!(
                "more than {MAX_CANDIDATES} assets here are stored as {} with {} bytes; none \
                 of the {MAX_CANDIDATES} oldest, compared, could be adopted, and one of the \
                 others may hold this file, so it is neither uploaded nor put in place of \
                 another: delete the duplicates from the space, or sync it without adoption",
                self.stored_name(),
                self.size
            )));
        }
        for id in different {
            if let Some(claim) = Claim::take(self.run, id) {
                let action = self.changed(id, None, target)?;
                claim.keep();
                return Ok(Some(action));
            }
        }
        Ok(None)
    }

    /// Where the file goes. An entry that has a folder keeps it: its path, and so its
    /// directory, is the same, and no call is needed to know the folder again.
    fn target(&self, entry: Option<&ManifestEntry>) -> Result<Target, Error> {
        Ok(match self.run.options.placement {
            Placement::Space => Target::Unplaced,
            Placement::Folder(id) => Target::Folder(Some(id)),
            Placement::Mirror(root) => {
                let dir = self.key().rsplit_once('/').map_or("", |(dir, _)| dir);
                if dir.is_empty() {
                    Target::Folder(root)
                } else if let Some(folder) = entry.and_then(|e| e.folder) {
                    Target::Folder(Some(folder))
                } else {
                    self.run
                        .client
                        .folder_below(self.run.space_id, root, dir, !self.dry())?
                        .map_or(Target::Missing, |folder| Target::Folder(Some(folder)))
                }
            }
        })
    }

    /// The name Storyblok would store this file under.
    fn stored_name(&self) -> String {
        let file_name = self.key().rsplit('/').next().unwrap_or(self.key());
        listing::parameterize(file_name)
    }

    /// Assets in the target folder with the stored name and size this file would have:
    /// the [`MAX_CANDIDATES`] oldest, each picked out as the list is read: from the listing
    /// the folder's new files share, or a search by this file's name.
    fn candidates(&self, target: Target) -> Result<listing::Found, Error> {
        let name = self.stored_name();
        let folder = target.folder();
        // A private asset's bytes cannot be compared (the CDN does not serve it without an
        // asset token), so it is neither adopted nor replaced.
        let wanted = |asset: &Listed| {
            !asset.is_private
                && asset.content_length == Some(self.size)
                && asset.asset_folder_id.filter(|&f| f != 0) == folder
                && listing::parameterize(asset.stored_name()) == name
        };
        let session = self.run.client.session();
        let group = lookup::group(self.run.options, self.key());
        let list = |names: &HashSet<String>, pages| {
            listing::folder(session, self.run.space_id, folder, names, pages)
        };
        let shared = self
            .run
            .lookups
            .found(group, list, &name, wanted, MAX_CANDIDATES)?;
        match shared {
            Some(found) => Ok(found),
            None => listing::search(
                session,
                self.run.space_id,
                &name,
                folder,
                wanted,
                MAX_CANDIDATES,
            ),
        }
    }

    /// Whether an existing asset's file holds this file's bytes, by SHA-256 of a download
    /// from its CDN URL. Only reading the local file is an error here: a failed download
    /// is judged by why it failed.
    fn compare(&self, asset: &Listed) -> Result<Compared, Error> {
        let ours = self.sha256()?;
        let theirs = download::sha256(
            self.run.client.session(),
            &cdn_url(&asset.filename),
            self.size,
            asset.id,
        );
        let error = match theirs {
            Ok(Some(hash)) if hash == ours => return Ok(Compared::Same),
            Ok(_) => return Ok(Compared::Different),
            Err(error) => error,
        };
        Ok(match error.status() {
            // The CDN says there is no file: the asset holds none of these bytes.
            Some(404 | 410) => Compared::Different,
            // A timeout, a 5xx, a lost connection: the next run may read it.
            None | Some(408 | 429 | 500..)
                if !matches!(error.kind(), ErrorKind::InsecureUrl { .. }) =>
            {
                Compared::Unknown(error)
            }
            // Refused for good (a 403, a URL the SDK does not send to): this asset can
            // never be compared, so it is neither adopted nor replaced.
            _ => Compared::Unusable,
        })
    }

    /// Takes an existing asset with the same bytes into the manifest, setting its
    /// metadata when it differs.
    fn adopt(&self, asset: &Listed, target: Target) -> Result<(), Error> {
        if let Some(meta) = &self.meta
            && !listed_has(asset, meta)
        {
            self.run
                .client
                .update_asset(self.run.space_id, asset.id, meta, None)?;
        }
        let dimensions = Source::path(&self.local.path)
            .dimensions()
            .map_err(|e| Error::source_io(Some(self.local.path.clone()), e))?
            .map(Dimensions::to_size_param);
        let entry = self.entry(
            asset.id,
            cdn_url(&asset.filename),
            dimensions,
            target,
            false,
        )?;
        self.run.save(self.key(), Some(entry))
    }

    /// Uploads the file: a new asset, or the file of an existing one. Returns whether it
    /// went into a record that existed (`false` when a new one was made, also when the
    /// record had gone from Storyblok).
    fn upload(&self, how: Upload, target: Target) -> Result<bool, Error> {
        let client = self.run.client;
        let space = self.run.space_id;
        let mut params = AssetParams::new();
        if let Some(folder) = target.folder() {
            params = params.folder(folder);
        }
        if let Some(meta) = &self.meta {
            params = params.metadata(meta.clone());
        }
        let source = Source::path(&self.local.path);
        // Reads the image header once: the manifest keeps the size the sign call sends.
        let params = params.for_source(&source)?;
        let dimensions = params.size_param();
        self.sha256()?;
        self.run.ensure_writable()?;
        // What the manifest notes the moment a new record exists, so that a rerun uploads
        // into it instead of making another: a pending entry, or for a new version the
        // complete entry of the previous one with the record beside it.
        let pending = |id: u64, url: String| match &how {
            Upload::NewVersion(entry) => Ok(ManifestEntry {
                new_version: Some(id),
                ..entry.clone()
            }),
            Upload::New | Upload::Replace(_) => {
                self.entry(id, url, dimensions.clone(), target, true)
            }
        };
        // A sign that creates a record is noted before it is sent, so that the record is
        // found again if its answer never is (a kill, a lost answer): see `orphan`. One
        // whose answer named a record it could not be used for (cut off, an unusable
        // post_url) notes that record; one refused for sure made none.
        let sign_new = |params: AssetParams| {
            self.run
                .note_signing(self.key(), Some(clock::unix_seconds(SystemTime::now())))?;
            client.sign(space, params).inspect_err(|error| {
                if let (Some(id), false) = (
                    error.asset_id(),
                    matches!(error.kind(), ErrorKind::RecordDeleted),
                ) && let Ok(noted) = pending(id, String::new())
                {
                    let _ = self.run.save(self.key(), Some(noted));
                } else if made_no_record(error) {
                    let _ = self.run.note_signing(self.key(), None);
                }
            })
        };
        // Uploads into an existing record; `sign_new` when it was deleted in Storyblok.
        let sign_into =
            |id: u64, params: AssetParams| match client.sign(space, params.clone().replace(id)) {
                Err(error) if error.status() == Some(404) => Ok((sign_new(params)?, true)),
                other => Ok::<_, Error>((other?, false)),
            };
        let (signed, created) = match &how {
            Upload::Replace(id) => sign_into(*id, params)?,
            Upload::NewVersion(ManifestEntry {
                new_version: Some(id),
                ..
            }) => sign_into(*id, params)?,
            Upload::New | Upload::NewVersion(_) => match self.orphan(target)? {
                // A record an earlier sign made for this file: noted like a new one.
                Some(id) => (sign_into(id, params)?.0, true),
                None => (sign_new(params)?, true),
            },
        };
        if created {
            // The record exists from here on: note it.
            let url = signed.cdn_url().unwrap_or_default();
            let noted = pending(signed.asset_id(), url)?;
            if let Err(error) = self.run.save(self.key(), Some(noted)) {
                // Not noted, the record would be duplicated by the next run: remove it.
                let _ = client.delete(space, signed.asset_id());
                return Err(error);
            }
        }
        let asset = complete(signed.upload(source)?)?;
        let entry = self.entry(asset.id, asset.filename, dimensions, target, false)?;
        self.run.save(self.key(), Some(entry))?;
        Ok(!created)
    }

    /// The record an earlier sign for this file made, when its answer was never noted (the
    /// process was killed, the answer lost), claimed for this file; see [`orphan`]. `None`
    /// when no sign was outstanding, or no such record is found.
    fn orphan(&self, target: Target) -> Result<Option<u64>, Error> {
        let Some(sent) = self.run.store().signing(self.key()) else {
            return Ok(None);
        };
        orphan(self.run, self.key(), Some(target.folder()), sent)
    }

    /// The manifest entry of this file as asset `id`.
    fn entry(
        &self,
        id: u64,
        url: String,
        dimensions: Option<String>,
        target: Target,
        pending: bool,
    ) -> Result<ManifestEntry, Error> {
        Ok(ManifestEntry {
            id,
            url,
            size: self.size,
            sha256: self.sha256()?.to_owned(),
            dimensions,
            pending,
            new_version: None,
            folder: target.folder(),
            metadata_hash: self.meta_hash.clone(),
            modified: self.modified,
        })
    }
}

/// The record a sign for the file at `path`, sent at `sent` (Unix seconds), made when its
/// answer was never noted: an asset with the file's stored name (in `folder`, when given;
/// `Some(None)` is the top), made within ten minutes before to a day after `sent` (clocks
/// differ; a call may wait), that no entry names, not private, with no file (its size
/// unknown, and the CDN has none). Claimed for the file.
fn orphan(
    run: &Run<'_>,
    path: &str,
    folder: Option<Option<u64>>,
    sent: u64,
) -> Result<Option<u64>, Error> {
    let file_name = path.rsplit('/').next().unwrap_or(path);
    let name = listing::parameterize(file_name);
    let session = run.client.session();
    let window = sent.saturating_sub(600)..=sent.saturating_add(24 * 3600);
    let wanted = |asset: &Listed| {
        !asset.is_private
            && asset.content_length.is_none_or(|length| length == 0)
            && listing::parameterize(asset.stored_name()) == name
            && folder.is_none_or(|folder| asset.asset_folder_id.filter(|&f| f != 0) == folder)
            && asset.created_at().is_some_and(|at| window.contains(&at))
    };
    let found = listing::search(
        session,
        run.space_id,
        &name,
        folder.flatten(),
        wanted,
        MAX_CANDIDATES,
    )?;
    for asset in found.assets {
        if !run.claim(asset.id) {
            continue;
        }
        // At most a byte is read: any means the record has a file.
        let fetched = download::sha256(session, &cdn_url(&asset.filename), 0, asset.id);
        if matches!(fetched, Err(ref e) if matches!(e.status(), Some(403 | 404 | 410))) {
            return Ok(Some(asset.id));
        }
        run.unclaim(asset.id);
    }
    Ok(None)
}

/// A file that is gone, with a sign sent for it whose answer was never noted: the record
/// it may have made is deleted (it has no file, and nothing names it), and the sign is
/// forgotten. Any failure keeps the note for the next sync.
pub(super) fn abandoned_sign(run: &Run<'_>, path: &str, sent: u64) -> Result<(), Error> {
    if run.options.dry_run {
        return Ok(());
    }
    if let Ok(found) = orphan(run, path, None, sent) {
        if let Some(id) = found
            && let Err(error) = run.client.delete(run.space_id, id)
            && error.status() != Some(404)
        {
            return Ok(());
        }
        run.note_signing(path, None)?;
    }
    Ok(())
}

/// Whether a failed sign certainly made no record: Storyblok refused it (a 4xx, a 429 that
/// outlasted the budget), or it was refused before anything was sent.
fn made_no_record(error: &Error) -> bool {
    match error.kind() {
        ErrorKind::Api { status, .. } => (400..500).contains(status),
        ErrorKind::RateLimited { .. } | ErrorKind::InvalidInput { .. } => true,
        _ => false,
    }
}

/// The metadata of a file: from the closure, else from its sidecar.
fn metadata(run: &Run<'_>, local: &LocalFile) -> Result<Option<AssetMeta>, Error> {
    if let Some(closure) = &run.options.metadata
        && let Some(meta) = (closure.0)(&local.key)
    {
        return Ok(Some(meta));
    }
    local.sidecar.as_ref().map(AssetMeta::from_file).transpose()
}

/// Whether a listed asset already has every field `meta` sets.
fn listed_has(asset: &Listed, meta: &AssetMeta) -> bool {
    let same = |wanted: &Option<String>, got: &Option<String>| wanted.is_none() || wanted == got;
    let mut tags: Vec<&str> = asset
        .internal_tags_list
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    tags.sort_unstable();
    let mut wanted_tags: Vec<&str> = meta.internal_tags.iter().map(String::as_str).collect();
    wanted_tags.sort_unstable();
    wanted_tags.dedup();
    same(&meta.alt, &asset.alt)
        && same(&meta.title, &asset.title)
        && same(&meta.copyright, &asset.copyright)
        && same(&meta.source, &asset.source)
        && same(&meta.focus, &asset.focus)
        && meta.is_private.is_none_or(|p| p == asset.is_private)
        && (meta.custom_fields.is_none() || meta.custom_fields == asset.meta_data())
        && (wanted_tags.is_empty() || wanted_tags == tags)
}

/// Refuses metadata that names more internal tags than
/// [`SyncOptions::max_tags`](super::SyncOptions::max_tags) allows, before any call.
fn check_tags(run: &Run<'_>, meta: Option<&AssetMeta>) -> Result<(), Error> {
    let Some(meta) = meta else {
        return Ok(());
    };
    let mut tags: Vec<&str> = meta.internal_tags.iter().map(String::as_str).collect();
    tags.sort_unstable();
    tags.dedup();
    let max = run.options.max_tags;
    if tags.len() > max {
        return Err(Error::invalid(format!(
            "its metadata names {} internal tags, more than the {max} a file may have (each \
             missing one costs a call to create it): name fewer, or raise \
             SyncOptions::max_tags",
            tags.len()
        )));
    }
    Ok(())
}
