//! The ledger shared by the processes of one machine: a small state file per API host and
//! space, read and written under an exclusive file lock. It is written only when it changes
//! (a call takes a slot or ends, a 429 slows the rate); while every slot is taken, one of a
//! process's waiting calls reads it per poll, the others wait for that one or for a call to
//! end.
//!
//! The folder is the user's cache folder (`$XDG_CACHE_HOME`, `~/.cache`,
//! `~/Library/Caches`, `%LOCALAPPDATA%`) or, failing that, a temporary folder named with
//! the user's id; it is made `0700` and the files `0600` (a file found wider is narrowed),
//! and a folder or file that is a symbolic link, or owned by someone else, is not used.
//! Who "someone else" is, is found out by making a file in the folder itself. Anything that goes wrong (no such
//! folder, a lock held too long, a file that cannot be read, a slot held past a call's
//! whole budget) turns sharing off for that space in this process for the rest of its run:
//! pacing goes on in memory, from the last ledger it saw (the calls other processes ran
//! given a hold from then), never stalls and never panics.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::book::Book;

/// How long to try for the lock before giving up on sharing for this call.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// The most of a state file that is read.
const MAX_FILE: u64 = 64 * 1024;

/// The folder state files live in, checked.
#[derive(Clone, Debug)]
pub(super) struct Dir {
    path: PathBuf,
    /// Who this process is, as the owner of the files it makes in the folder.
    user: User,
}

impl Dir {
    /// The default folder: the user's cache folder, or a temporary folder named with the
    /// user's id. `None` when neither can be made safely.
    pub(super) fn machine() -> Option<Dir> {
        cache_dir()
            .map(|cache| cache.join("storyblok-assets").join("pacer"))
            .and_then(|dir| Dir::at(&dir))
            .or_else(|| {
                let temp = std::env::temp_dir();
                Dir::at(&temp.join(format!("storyblok-assets-pacer-{}", user_tag(&temp)?)))
            })
    }

    /// A folder of the caller's choice, created if missing.
    pub(super) fn at(path: &Path) -> Option<Dir> {
        create_private_dir(path).ok()?;
        // Nothing, not even the probe below, is written through a link or into a folder
        // others may write to.
        if !is_private_dir(path) {
            return None;
        }
        // Found out in the folder itself: it is to be written anyway, and no other folder
        // (a temporary one that may not be writable) needs to be.
        let user = user_in(path)?;
        is_ours(path, true, &user).then(|| Dir {
            path: path.to_path_buf(),
            user,
        })
    }

    /// The state file of one API host and space, opened.
    pub(super) fn open(&self, host: &str, space_id: u64) -> Option<StateFile> {
        let host: String = host
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(200)
            .collect();
        let path = self.path.join(format!("{host}-{space_id}.pacer"));
        if let Ok(meta) = fs::symlink_metadata(&path)
            && (!meta.file_type().is_file() || !is_ours(&path, false, &self.user))
        {
            return None;
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).ok()?;
        // Opened through a link planted after the check: not ours to write.
        let opened = file.metadata().ok()?;
        let named = fs::symlink_metadata(&path).ok()?;
        if !named.file_type().is_file() || !same_file(&opened, &named) {
            return None;
        }
        make_private(&file, &opened).ok()?;
        Some(StateFile { file })
    }
}

/// One open state file.
#[derive(Debug)]
pub(super) struct StateFile {
    file: File,
}

impl StateFile {
    /// Runs `change` on the ledger under the file's lock, and writes the ledger back when
    /// `changed` says `change`'s result changed it (a call that found no free slot changed
    /// nothing: its waiting must not keep the file busy). The ledger is a fresh one when the
    /// file is empty or not a ledger. Returns the ledger after `change`, too.
    pub(super) fn update<T>(
        &mut self,
        configured: u32,
        now: u64,
        change: impl FnOnce(&mut Book) -> T,
        changed: impl FnOnce(&T) -> bool,
    ) -> io::Result<(T, Book)> {
        lock(&self.file)?;
        let result = (|| {
            let mut text = String::new();
            self.file.seek(SeekFrom::Start(0))?;
            // A file that is not UTF-8 is not a ledger: start afresh.
            let _ = (&self.file).take(MAX_FILE).read_to_string(&mut text);
            let mut book = Book::from_text(&text, configured, now)
                .unwrap_or_else(|| Book::new(configured, now));
            let result = change(&mut book);
            if !changed(&result) {
                return Ok((result, book));
            }
            // Written over the old ledger, then cut to length: a process killed (or a disk
            // full) half way leaves a ledger with a stale or torn tail, never an empty file
            // that would read as a fresh ledger with every slot free.
            let text = book.to_text();
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(text.as_bytes())?;
            self.file.set_len(text.len() as u64)?;
            Ok((result, book))
        })();
        let _ = self.file.unlock();
        result
    }
}

/// Takes the file's exclusive lock, trying for [`LOCK_PATIENCE`]: a lock held longer (a
/// stuck or hostile process) must not stall this one.
fn lock(file: &File) -> io::Result<()> {
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the pacer's lock is held too long",
                ));
            }
            Err(fs::TryLockError::Error(error)) => return Err(error),
        }
    }
}

/// The user's cache folder, from the environment.
fn cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return var("LOCALAPPDATA");
    }
    if cfg!(target_os = "macos") {
        return var("HOME").map(|home| home.join("Library").join("Caches"));
    }
    var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|home| home.join(".cache")))
}

/// Creates `path` and its parents; the last one private to the user (`0700`).
fn create_private_dir(path: &Path) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let mut builder = fs::DirBuilder::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    match builder.create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

/// Whether `path` is a folder, no symbolic link, that neither its group nor others may
/// write to.
#[cfg(unix)]
fn is_private_dir(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path)
        .is_ok_and(|meta| meta.is_dir() && meta.permissions().mode() & 0o022 == 0)
}

#[cfg(not(unix))]
fn is_private_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| meta.is_dir())
}

/// Whether `path` is no symbolic link and belongs to `user`; a folder must not be
/// writable by others either.
#[cfg(unix)]
fn is_ours(path: &Path, dir: bool, user: &User) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = fs::symlink_metadata(path) else {
        return false;
    };
    let kind_ok = if dir {
        is_private_dir(path)
    } else {
        meta.is_file()
    };
    kind_ok && meta.uid() == *user
}

#[cfg(not(unix))]
fn is_ours(path: &Path, dir: bool, _: &User) -> bool {
    fs::symlink_metadata(path).is_ok_and(|meta| if dir { meta.is_dir() } else { meta.is_file() })
}

/// Narrows a state file that others may read or write (one made by hand, or by an older
/// version) to `0600`.
#[cfg(unix)]
fn make_private(file: &File, meta: &fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o077 == 0 {
        return Ok(());
    }
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn make_private(_: &File, _: &fs::Metadata) -> io::Result<()> {
    Ok(())
}

/// Whether two metadata describe one file.
#[cfg(unix)]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.len() == b.len() && a.modified().ok() == b.modified().ok()
}

/// Who this process is: its user id on Unix.
#[cfg(unix)]
type User = u32;
#[cfg(not(unix))]
type User = ();

/// This process's user id, as the owner of a file it makes in `dir` (std has no getuid).
#[cfg(unix)]
fn user_in(dir: &Path) -> Option<User> {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join(format!(
        ".uid-probe-{}-{:016x}",
        std::process::id(),
        crate::codec::random::next_u64()
    ));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .ok()?;
    let uid = file.metadata().ok().map(|m| m.uid());
    let _ = fs::remove_file(&probe);
    uid
}

#[cfg(not(unix))]
fn user_in(_: &Path) -> Option<User> {
    Some(())
}

/// What names the temporary folder of this user, found out in `temp`: the user id on Unix,
/// the user name elsewhere.
#[cfg(unix)]
fn user_tag(temp: &Path) -> Option<String> {
    user_in(temp).map(|uid| uid.to_string())
}

#[cfg(not(unix))]
fn user_tag(_: &Path) -> Option<String> {
    std::env::var("USERNAME").ok()
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::book::{SECOND, Slot};
    use super::*;

    /// A folder of its own for a test's state files, removed when dropped.
    pub(in crate::pacer) struct TempDir(pub(in crate::pacer) PathBuf);

    impl TempDir {
        pub(in crate::pacer) fn new() -> TempDir {
            TempDir(std::env::temp_dir().join(format!(
                "storyblok-pacer-test-{}-{:x}",
                std::process::id(),
                crate::codec::random::next_u64()
            )))
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const NOW: u64 = 1_800_000_000 * SECOND;

    /// The name of the test [`sharing_needs_no_writable_temporary_folder`] runs in a child
    /// process of its own, with `TMPDIR` pointing nowhere.
    const CHILD: &str = "pacer::shared::tests::sharing_in_a_folder_without_temporary_folder";

    #[test]
    #[cfg(unix)]
    fn sharing_needs_no_writable_temporary_folder() {
        let temp = TempDir::new();
        let child = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", CHILD, "--ignored", "--test-threads=1"])
            .env("TMPDIR", temp.0.join("missing"))
            .env("STORYBLOK_PACER_TEST_DIR", &temp.0)
            .output()
            .expect("the child test ran");
        let out = String::from_utf8_lossy(&child.stdout);
        assert!(
            child.status.success() && out.contains("test result: ok. 1 passed"),
            "{out}"
        );
    }

    #[test]
    #[ignore = "run by sharing_needs_no_writable_temporary_folder, in a process of its own"]
    fn sharing_in_a_folder_without_temporary_folder() {
        let Some(dir) = std::env::var_os("STORYBLOK_PACER_TEST_DIR") else {
            return;
        };
        assert!(!std::env::temp_dir().exists());
        let dir = Dir::at(&PathBuf::from(dir).join("pacer")).expect("the folder is used");
        assert!(dir.open("h", 1).is_some());
    }

    #[test]
    #[cfg(unix)]
    fn an_open_state_file_is_narrowed_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        fs::write(&path, "").expect("written");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o664)).expect("chmod");
        assert!(dir.open("h", 1).is_some());
        let mode = fs::metadata(&path).expect("the file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    #[cfg(unix)]
    fn the_folder_is_private_and_so_are_its_files() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0.join("pacer")).expect("a private folder");
        let mode = |path: &Path| fs::metadata(path).expect("exists").permissions().mode() & 0o777;
        assert_eq!(mode(&temp.0.join("pacer")), 0o700);
        assert!(dir.open("mapi.example", 7).is_some());
        assert_eq!(
            mode(&temp.0.join("pacer").join("mapi.example-7.pacer")),
            0o600
        );
        let names: Vec<_> = fs::read_dir(temp.0.join("pacer"))
            .expect("listed")
            .map(|entry| entry.expect("an entry").file_name())
            .collect();
        assert_eq!(names, ["mapi.example-7.pacer"], "no probe left behind");
    }

    #[test]
    #[cfg(unix)]
    fn a_folder_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let temp = TempDir::new();
        for mode in [0o770, 0o707, 0o777] {
            let path = temp.0.join(format!("{mode:o}"));
            fs::create_dir_all(&path).expect("made");
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
            // A file made and removed there would move the folder's time on.
            let long_ago = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
            File::open(&path)
                .and_then(|folder| folder.set_modified(long_ago))
                .expect("dated");
            assert!(Dir::at(&path).is_none(), "{mode:o}");
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .expect("time");
            assert_eq!(
                modified, long_ago,
                "{mode:o}: nothing is written there, not even a probe"
            );
        }
    }

    #[test]
    #[cfg(unix)]
    fn symbolic_links_are_refused_and_their_targets_untouched() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0.join("pacer")).expect("a private folder");
        let target = temp.0.join("precious");
        fs::write(&target, "precious").expect("written");
        std::os::unix::fs::symlink(&target, temp.0.join("pacer").join("h-1.pacer"))
            .expect("a link");
        assert!(dir.open("h", 1).is_none());
        assert_eq!(fs::read_to_string(&target).expect("read"), "precious");
        // A linked folder, too.
        std::os::unix::fs::symlink(temp.0.join("pacer"), temp.0.join("linked")).expect("a link");
        assert!(Dir::at(&temp.0.join("linked")).is_none());
    }

    /// A ledger of 6 slots, every one running until `expiry`.
    fn running_until(expiry: u64) -> String {
        format!(
            "storyblok-assets pacer 1\nrate 6\nslots{}\n",
            format!(" r{expiry}").repeat(6)
        )
    }

    #[test]
    fn corrupt_files_are_read_safely_and_replaced() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        // Every slot taken for an hour, but not UTF-8: not a ledger.
        let mut not_utf8 = running_until(NOW + 3600 * SECOND).into_bytes();
        not_utf8.extend(b"\xff\xfe\n");
        // Past 64 KiB nothing is read: not the lowest rate at the end.
        let mut long = running_until(NOW + 3600 * SECOND);
        long.push_str(&"x".repeat(70 * 1024));
        long.push_str("\nrate 0.5\n");
        let huge = format!("storyblok-assets pacer 1\nslots{}\n", " 0".repeat(50_000));
        for (what, text, slots, rate) in [
            ("empty", Vec::new(), 0, 3.0),
            ("not UTF-8", not_utf8, 0, 3.0),
            ("too long", long.into_bytes(), 6, 6.0),
            ("too many slots", huge.into_bytes(), 1000, 3.0),
        ] {
            fs::write(&path, &text).expect("written");
            let mut file = dir.open("h", 1).expect("the state file");
            let (taken, book) = file
                .update(
                    6,
                    NOW,
                    |book| (book.slots.len(), book.take(NOW, 6, NOW + SECOND)),
                    |_| true,
                )
                .expect("updated");
            assert_eq!(taken.0, slots, "{what}");
            if what == "too long" {
                // Read, up to 64 KiB: every slot runs.
                assert!(taken.1.is_err(), "{what}");
            } else {
                assert_eq!(taken.1, Ok(0), "{what}");
            }
            assert_eq!(book.rate, rate, "{what}");
            let written = fs::read_to_string(&path).expect("a ledger");
            assert_eq!(written, book.to_text(), "{what}");
        }
    }

    #[test]
    fn the_slots_of_a_dead_process_free_themselves_when_they_expire() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        fs::write(&path, running_until(NOW + SECOND)).expect("written");
        let mut file = dir.open("h", 1).expect("the state file");
        let take = |now| move |book: &mut Book| book.take(now, 6, now + 60 * SECOND);
        let (before, _) = file.update(6, NOW, take(NOW), |_| true).expect("updated");
        assert_eq!(before, Err(super::super::book::Wait::Poll));
        let (after, _) = file
            .update(6, NOW + SECOND, take(NOW + SECOND), |_| true)
            .expect("updated");
        assert_eq!(after, Ok(0));
    }

    #[test]
    fn a_ledger_is_written_back_only_when_changed() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        let mut file = dir.open("h", 1).expect("the state file");
        let running = running_until(NOW + SECOND);
        fs::write(&path, &running).expect("written");
        let take = |book: &mut Book| book.take(NOW, 6, NOW + 60 * SECOND);
        let (taken, _) = file.update(6, NOW, take, Result::is_ok).expect("read");
        assert_eq!(taken, Err(super::super::book::Wait::Poll));
        assert_eq!(fs::read_to_string(&path).expect("read"), running);
        let later = NOW + SECOND;
        let take = |book: &mut Book| book.take(later, 6, later + 60 * SECOND);
        let (taken, book) = file.update(6, later, take, Result::is_ok).expect("read");
        assert_eq!(taken, Ok(0));
        assert_eq!(fs::read_to_string(&path).expect("read"), book.to_text());
    }

    #[test]
    fn a_shorter_ledger_replaces_a_longer_one_whole() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        let mut long = Book::new(6, NOW);
        long.slots = vec![Slot::Held(NOW - 1); 50];
        fs::write(&path, long.to_text()).expect("written");
        let mut file = dir.open("h", 1).expect("the state file");
        let (_, book) = file
            .update(6, NOW, |book| book.slots.truncate(2), |_| true)
            .expect("updated");
        assert_eq!(fs::read_to_string(&path).expect("read"), book.to_text());
    }
}
