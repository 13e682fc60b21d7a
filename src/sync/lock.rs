//! The manifest's lock file, `.{name}.lock` beside it: two syncs of one manifest (a build
//! next to an editor's `cargo check`, two CI jobs on one checkout) take turns on it, the
//! second reading what the first wrote. It is taken only by a sync that has something to
//! write, never followed through a symbolic link, and waited for a bounded time.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::manifest::{manifest_error, temporary_prefix};
use crate::error::Error;

/// How often a sync waiting for the lock tries again.
const RETRY: Duration = Duration::from_millis(20);

/// The manifest's lock, held until dropped.
#[derive(Debug)]
pub(crate) struct ManifestLock {
    _file: File,
}

/// The lock file of the manifest at `manifest`.
pub(crate) fn path_of(manifest: &Path) -> PathBuf {
    manifest.with_file_name(format!("{}lock", temporary_prefix(manifest)))
}

impl ManifestLock {
    /// Takes the lock of the manifest at `manifest`, waiting at most `patience` for another
    /// sync to release it.
    pub(crate) fn take(manifest: &Path, patience: Duration) -> Result<ManifestLock, Error> {
        let path = path_of(manifest);
        let fail = |message: &str, e: Option<io::Error>| {
            manifest_error(
                manifest,
                &format!("has a lock file, {}, that {message}", path.display()),
                e,
            )
        };
        let file = open(&path).map_err(|e| {
            fail(
                "cannot be opened (it must be a plain file, not a link or a folder, in a \
                 folder this process may write to)",
                Some(e),
            )
        })?;
        let deadline = Instant::now() + patience;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(ManifestLock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(
                        RETRY.min(deadline.saturating_duration_since(Instant::now())),
                    );
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(fail(
                        &format!(
                            "another sync has held for more than {} s; let it end, or raise \
                             SyncOptions::lock_timeout (if no sync runs, a process that hangs \
                             holds it)",
                            patience.as_secs_f64()
                        ),
                        None,
                    ));
                }
                Err(fs::TryLockError::Error(e)) => {
                    return Err(fail("cannot be locked", Some(e)));
                }
            }
        }
    }
}

/// Opens the lock file at `path`, creating it if missing, without following a symbolic
/// link: an existing name must be a plain file (and still the same file once open); a
/// missing one is created new, which never goes through a link planted at the name.
fn open(path: &Path) -> io::Result<File> {
    for _ in 0..3 {
        match fs::symlink_metadata(path) {
            Ok(named) => {
                if !named.file_type().is_file() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "not a plain file (a symbolic link, a folder or a device)",
                    ));
                }
                let file = OpenOptions::new().read(true).write(true).open(path)?;
                if same_file(&file.metadata()?, &named) {
                    return Ok(file);
                }
                // Replaced between the look and the open: look again.
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                match OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(path)
                {
                    Ok(file) => return Ok(file),
                    // Made by another sync meanwhile: open that one.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("the name keeps changing"))
}

/// Whether two metadata describe one file.
#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.file_type().is_file() && b.file_type().is_file()
}
