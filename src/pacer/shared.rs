//! The ledger shared by the processes of one machine: a small state file per API host and
//! space, read and written under an exclusive file lock. It is written only when it changes
//! (a call takes a slot or ends, a 429 slows the rate, a time is clamped, a dead process's
//! calls end); while every slot is taken, one of a process's waiting calls reads it per
//! poll, the others wait for that one or for a call to end. The file is opened for each
//! update and closed after it, so a process keeps no state file open, however many spaces
//! it calls.
//!
//! The folder is the user's cache folder (`$XDG_CACHE_HOME`, `~/.cache`,
//! `~/Library/Caches`, `%LOCALAPPDATA%`) or, failing that, a temporary folder named with
//! the user's id; which one is read from the environment when the client is built, and
//! nothing is made in it before the client's first paced call. It is made `0700` and the
//! files `0600` (a file found wider is narrowed), and a folder or file that is a symbolic
//! link, or owned by someone else, is not used. Who "someone else" is, is found out by
//! making a file in the folder itself. Anything that goes wrong (no such folder, a lock
//! held too long, a file that cannot be read, a slot held past a call's whole budget)
//! turns sharing off for that space in this process for the rest of its run: pacing goes
//! on in memory, from the last ledger it saw (the calls other processes ran given a hold
//! from then), never stalls and never panics.
//!
//! # Who runs a call
//!
//! Each process that shares makes an owner file in the folder, `<id>.owner` for a random
//! id, locked (`File::lock`) for the rest of its life and named in the ledger next to each
//! call it runs. The operating system releases a process's locks when it dies, however it
//! dies, so a process that can lock another's owner file, or finds it gone, knows that one
//! is dead: its running calls end there (each slot held from then, as the call may have
//! been counted just before its process died), and its owner file is removed. A call of an
//! owner that is alive, or not named (a version without owners, a process that could not
//! make its file), keeps its slot until its call budget is over. An owner file
//! appears under its name already locked (it is made under another name, locked, then
//! renamed), so no live process is taken for dead; one removed while its process lives (a
//! folder emptied by hand, a cleaner of old files) is made again before the process's next
//! update of a ledger.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::book::Book;

/// How long to try for the lock before giving up on sharing for this call.
const LOCK_PATIENCE: Duration = Duration::from_secs(2);
/// The most of a state file that is read.
const MAX_FILE: u64 = 64 * 1024;
/// How long a process seen alive is believed alive before its owner file is tried again:
/// a process's death is seen within this.
const ALIVE_FOR: Duration = Duration::from_millis(500);
/// The most processes a folder remembers seeing alive (more are simply looked at again).
const MAX_ALIVE: usize = 1024;
/// The most entries of the folder looked at for dead processes' owner files, once per
/// process.
const MAX_LISTED: usize = 10_000;

/// Where state files are to be, as the client's settings and environment say: found and
/// made on the first paced call ([`Place::find`]).
#[derive(Clone, Debug)]
pub(super) enum Place {
    /// The user's cache folder, or failing that the temporary folder.
    Machine {
        cache: Option<PathBuf>,
        temp: PathBuf,
    },
    /// A folder of the caller's choice.
    At(PathBuf),
}

impl Place {
    /// The default place, read from the environment now; nothing is touched.
    pub(super) fn machine() -> Place {
        Place::Machine {
            cache: cache_dir().map(|cache| cache.join("storyblok-assets").join("pacer")),
            temp: std::env::temp_dir(),
        }
    }

    /// The folder, made and checked. `None` when it cannot be made safely.
    pub(super) fn find(&self) -> Option<Dir> {
        match self {
            Place::At(path) => Dir::at(path),
            Place::Machine { cache, temp } => cache.as_deref().and_then(Dir::at).or_else(|| {
                Dir::at(&temp.join(format!("storyblok-assets-pacer-{}", user_tag(temp)?)))
            }),
        }
    }
}

/// The folder state files live in, checked.
#[derive(Clone, Debug)]
pub(super) struct Dir(Arc<Folder>);

/// A folder in use, and what this process knows of the others that use it.
#[derive(Debug)]
struct Folder {
    path: PathBuf,
    /// Who this process is, as the owner of the files it makes in the folder.
    user: User,
    /// The id this process's calls are named by in the folder's ledgers; 0 when it could
    /// not make its owner file.
    owner: u64,
    /// The processes seen alive, and when.
    alive: Mutex<HashMap<u64, Instant>>,
}

impl Dir {
    /// A folder, created if missing, with this process's owner file in it.
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
        if !is_ours(path, true, &user) {
            return None;
        }
        Some(Dir(Arc::new(Folder {
            path: path.to_path_buf(),
            user,
            owner: owner_in(path),
            alive: Mutex::new(HashMap::new()),
        })))
    }

    /// The state file of one API host and space (opened when it is used).
    pub(super) fn state_file(&self, host: &str, space_id: u64) -> StateFile {
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
        StateFile {
            path: self.0.path.join(format!("{host}-{space_id}.pacer")),
            dir: self.clone(),
        }
    }

    /// Whether process `owner` is dead: its owner file is gone, or can be locked (then it
    /// is removed). A process seen alive is believed so for [`ALIVE_FOR`].
    fn is_dead(&self, owner: u64) -> bool {
        if owner == self.0.owner {
            return false;
        }
        let mut alive = crate::mutex::lock(&self.0.alive);
        if alive
            .get(&owner)
            .is_some_and(|seen| seen.elapsed() < ALIVE_FOR)
        {
            return false;
        }
        if is_dead(&self.0.path.join(owner_name(owner))) {
            alive.remove(&owner);
            return true;
        }
        if alive.len() >= MAX_ALIVE {
            alive.clear();
        }
        alive.insert(owner, Instant::now());
        false
    }
}

/// One state file: where it is, and the folder it is in.
#[derive(Debug)]
pub(super) struct StateFile {
    path: PathBuf,
    dir: Dir,
}

impl StateFile {
    /// The id this process's calls are named by in the ledger (0: none).
    pub(super) fn owner(&self) -> u64 {
        self.dir.0.owner
    }

    /// Runs `change` on the ledger under the file's lock, at the time `clock` tells once
    /// the lock is held, and writes the ledger back when `changed` says `change`'s result
    /// changed it (a call that found no free slot changed nothing: its waiting must not
    /// keep the file busy), or when reading it clamped a time or ended a dead process's
    /// calls. The ledger is a fresh one when the file is empty or not a ledger. Returns the
    /// ledger after `change`, too.
    pub(super) fn update<T>(
        &self,
        configured: u32,
        clock: impl FnOnce() -> u64,
        change: impl FnOnce(&mut Book, u64) -> T,
        changed: impl FnOnce(&T) -> bool,
    ) -> io::Result<(T, Book)> {
        if self.owner() != 0 {
            // Made again if it is gone.
            owner_in(&self.dir.0.path);
        }
        let mut file = self.open()?;
        lock(&file)?;
        let result = (|| {
            // Read after the lock: whatever another process wrote before is in the past.
            let now = clock();
            let mut text = String::new();
            file.seek(SeekFrom::Start(0))?;
            // A file that is not UTF-8 is not a ledger: start afresh.
            let _ = (&file).take(MAX_FILE).read_to_string(&mut text);
            let mut book = Book::from_text(&text, configured, now)
                .unwrap_or_else(|| Book::new(configured, now));
            let clamped = book.clamp(now);
            let mut owners: Vec<u64> = book.owners().collect();
            owners.sort_unstable();
            owners.dedup();
            owners.retain(|&owner| self.dir.is_dead(owner));
            let ended = book.end_owners(now, |owner| owners.binary_search(&owner).is_ok());
            let result = change(&mut book, now);
            if !changed(&result) && !clamped && !ended {
                return Ok((result, book));
            }
            // Written over the old ledger, then cut to length: a process killed (or a disk
            // full) half way leaves a ledger with a stale or torn tail, never an empty file
            // that would read as a fresh ledger with every slot free.
            let text = book.to_text();
            file.seek(SeekFrom::Start(0))?;
            file.write_all(text.as_bytes())?;
            file.set_len(text.len() as u64)?;
            Ok((result, book))
        })();
        let _ = file.unlock();
        result
    }

    /// Opens the state file, made if missing: never through a symbolic link, never one
    /// someone else owns.
    fn open(&self) -> io::Result<File> {
        let refused = |why: &str| io::Error::new(io::ErrorKind::PermissionDenied, why.to_owned());
        let path = &self.path;
        if let Ok(meta) = fs::symlink_metadata(path)
            && (!meta.file_type().is_file() || !is_ours(path, false, &self.dir.0.user))
        {
            return Err(refused("the state file is not a file of this user"));
        }
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(path)?;
        // Opened through a link planted after the check: not ours to write.
        let opened = file.metadata()?;
        let named = fs::symlink_metadata(path)?;
        if !named.file_type().is_file() || !same_file(&opened, &named) {
            return Err(refused("the state file was replaced"));
        }
        make_private(&file, &opened)?;
        Ok(file)
    }
}

/// This process's owner files: for each folder, the id it is named by there (0: none) and
/// the file, locked and kept open for the rest of the process's life.
static OWNERS: Mutex<Vec<(PathBuf, u64, Option<File>)>> = Mutex::new(Vec::new());

/// The id this process's calls are named by in `folder`'s ledgers, its owner file made
/// there if it is not yet (once per process and folder), or again if it is gone (a
/// folder emptied by hand or by a cleaner of old files: others would take this process
/// for dead); 0 when it cannot be made. Dead processes' owner files found there are
/// removed.
fn owner_in(folder: &Path) -> u64 {
    let mut owners = crate::mutex::lock(&OWNERS);
    let index = match owners.iter().position(|(path, ..)| path == folder) {
        Some(index) => {
            let (_, id, file) = &owners[index];
            let there = |file: &File| {
                let named = fs::symlink_metadata(folder.join(owner_name(*id)));
                file.metadata()
                    .and_then(|opened| Ok(same_file(&opened, &named?)))
                    .unwrap_or(false)
            };
            if file.as_ref().is_none_or(there) {
                return *id;
            }
            index
        }
        None => {
            owners.push((folder.to_path_buf(), 0, None));
            owners.len() - 1
        }
    };
    let Ok(file) = make_owner_file(folder) else {
        return owners[index].1;
    };
    let id = process_id();
    owners[index] = (folder.to_path_buf(), id, Some(file));
    remove_dead_owners(folder, id);
    id
}

/// A random id for this process, never 0.
fn process_id() -> u64 {
    static ID: OnceLock<u64> = OnceLock::new();
    *ID.get_or_init(|| crate::codec::random::next_u64().max(1))
}

/// The name of an owner file.
fn owner_name(owner: u64) -> String {
    format!("{owner:016x}.owner")
}

/// The name an owner file is made under before it is locked.
fn new_owner_name(owner: u64) -> String {
    format!(".{owner:016x}.owner-new")
}

/// Makes this process's owner file in `folder`, locked: made and locked under another
/// name, then renamed, so that no process ever finds it unlocked.
fn make_owner_file(folder: &Path) -> io::Result<File> {
    let id = process_id();
    let new = folder.join(new_owner_name(id));
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&new)?;
    let locked = file.try_lock().map_err(|error| match error {
        fs::TryLockError::Error(error) => error,
        fs::TryLockError::WouldBlock => io::Error::from(io::ErrorKind::WouldBlock),
    });
    if let Err(error) = locked.and_then(|()| fs::rename(&new, folder.join(owner_name(id)))) {
        let _ = fs::remove_file(&new);
        return Err(error);
    }
    Ok(file)
}

/// Removes the owner files in `folder` of processes that are dead (other than `mine`):
/// those of processes that exited, which no one else would.
fn remove_dead_owners(folder: &Path, mine: u64) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    for entry in entries.take(MAX_LISTED).flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let id = name
            .strip_suffix(".owner")
            .or_else(|| name.strip_prefix('.')?.strip_suffix(".owner-new"));
        let Some(id) = id.and_then(|id| u64::from_str_radix(id, 16).ok()) else {
            continue;
        };
        if id != mine {
            is_dead(&entry.path());
        }
    }
}

/// Whether the process whose owner file is at `path` is dead: the file is gone, or can be
/// locked (then it is removed). Anything else (not a plain file, not readable) is taken for
/// a live process.
fn is_dead(path: &Path) -> bool {
    match fs::symlink_metadata(path) {
        Err(error) => return error.kind() == io::ErrorKind::NotFound,
        Ok(meta) if !meta.is_file() => return false,
        Ok(_) => {}
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(error) => return error.kind() == io::ErrorKind::NotFound,
    };
    if file.try_lock().is_err() {
        return false;
    }
    let _ = fs::remove_file(path);
    true
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
    use super::super::book::START;
    use super::super::book::{SECOND, Slot, Wait};
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

        /// A folder of its own, made as the pacer makes its folders.
        pub(in crate::pacer) fn made() -> TempDir {
            let dir = TempDir::new();
            create_private_dir(&dir.0).expect("made");
            dir
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const NOW: u64 = 1_800_000_000 * SECOND;

    /// Opens, reads and closes a state file once, changing nothing.
    fn touch(file: &StateFile) -> io::Result<()> {
        file.update(6, || NOW, |_, _| (), |_| false).map(|_| ())
    }

    /// Takes a slot at `now`, for a call of a minute.
    fn take(now: u64) -> impl Fn(&mut Book, u64) -> Result<usize, Wait> {
        move |book, _| book.take(now, 6, now + 60 * SECOND, 0)
    }

    /// The name of the test [`sharing_needs_no_writable_temporary_folder`] runs in a child
    /// process of its own, with `TMPDIR` pointing nowhere.
    const CHILD: &str = "pacer::shared::tests::sharing_in_a_folder_without_temporary_folder";
    /// The file the child writes once it passed.
    const CHILD_DONE: &str = "child-done";

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
        // The child marks its end itself: a filter that matched no test would exit 0 too.
        assert!(
            child.status.success() && temp.0.join(CHILD_DONE).exists(),
            "{}{}",
            String::from_utf8_lossy(&child.stdout),
            String::from_utf8_lossy(&child.stderr)
        );
    }

    #[test]
    #[ignore = "run by sharing_needs_no_writable_temporary_folder, in a process of its own"]
    fn sharing_in_a_folder_without_temporary_folder() {
        let Some(base) = std::env::var_os("STORYBLOK_PACER_TEST_DIR").map(PathBuf::from) else {
            return;
        };
        assert!(!std::env::temp_dir().exists());
        let dir = Dir::at(&base.join("pacer")).expect("the folder is used");
        touch(&dir.state_file("h", 1)).expect("the state file is used");
        fs::write(base.join(CHILD_DONE), b"").expect("marked");
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
        touch(&dir.state_file("h", 1)).expect("used");
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
        touch(&dir.state_file("mapi.example", 7)).expect("used");
        assert_eq!(
            mode(&temp.0.join("pacer").join("mapi.example-7.pacer")),
            0o600
        );
        let owner = owner_name(dir.0.owner);
        assert_eq!(mode(&temp.0.join("pacer").join(&owner)), 0o600);
        let mut names: Vec<_> = fs::read_dir(temp.0.join("pacer"))
            .expect("listed")
            .map(|entry| entry.expect("an entry").file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [owner.as_str(), "mapi.example-7.pacer"],
            "no probe left behind"
        );
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
        assert!(touch(&dir.state_file("h", 1)).is_err());
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
            ("empty", Vec::new(), 0, 6.0 * START),
            ("not UTF-8", not_utf8, 0, 6.0 * START),
            ("too long", long.into_bytes(), 6, 6.0),
            ("too many slots", huge.into_bytes(), 1000, 6.0 * START),
        ] {
            fs::write(&path, &text).expect("written");
            let file = dir.state_file("h", 1);
            let (taken, book) = file
                .update(
                    6,
                    || NOW,
                    |book, now| (book.slots.len(), book.take(now, 6, now + SECOND, 0)),
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
    fn the_slots_of_an_unnamed_process_free_themselves_when_they_expire() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        fs::write(&path, running_until(NOW + SECOND)).expect("written");
        let file = dir.state_file("h", 1);
        let (before, _) = file
            .update(6, || NOW, take(NOW), |_| true)
            .expect("updated");
        assert_eq!(before, Err(Wait::Poll));
        let later = NOW + SECOND;
        let (after, _) = file
            .update(6, || later, take(later), |_| true)
            .expect("updated");
        assert_eq!(after, Ok(0));
    }

    /// An owner file, as process `owner` makes it; the returned file holds it locked.
    fn owner_file(folder: &Path, owner: u64, locked: bool) -> File {
        let file = File::create(folder.join(owner_name(owner))).expect("made");
        if locked {
            file.lock().expect("locked");
        }
        file
    }

    #[test]
    fn a_dead_processes_calls_end_at_once_and_a_live_ones_run_on() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let mine = dir.0.owner;
        assert_ne!(mine, 0, "this process names its calls");
        // Process 0xa1 is alive (holds its owner file locked), 0xb2 died (its file is not
        // locked), 0xc3's file is gone, and 0 is not named.
        let _alive = owner_file(&temp.0, 0xa1, true);
        drop(owner_file(&temp.0, 0xb2, false));
        let mut book = Book::new(6, NOW);
        book.rate = 6.0;
        for owner in [mine, 0xa1, 0xb2, 0xc3, 0] {
            book.take(NOW, 6, NOW + 60 * SECOND, owner).expect("a slot");
        }
        fs::write(temp.0.join("h-1.pacer"), book.to_text()).expect("written");
        let file = dir.state_file("h", 1);
        let now = NOW + SECOND / 10;
        let (taken, read) = file
            .update(6, || now, take(now), Result::is_ok)
            .expect("updated");
        let running = |owner| Slot::Running {
            expires: NOW + 60 * SECOND,
            owner,
        };
        assert_eq!(
            read.slots,
            [
                running(mine),
                running(0xa1),
                Slot::Held(now + SECOND),
                Slot::Held(now + SECOND),
                running(0),
                Slot::Running {
                    expires: now + 60 * SECOND,
                    owner: 0
                },
            ],
            "the dead ones' calls are held from now, as if they had just ended"
        );
        assert_eq!(
            taken,
            Ok(5),
            "a slot the dead ones held is not free before the hold"
        );
        assert_eq!(
            fs::read_to_string(temp.0.join("h-1.pacer")).expect("read"),
            read.to_text()
        );
        assert!(
            !temp.0.join(owner_name(0xb2)).exists(),
            "a dead one's file goes"
        );
        assert!(temp.0.join(owner_name(0xa1)).exists());
        assert!(temp.0.join(owner_name(mine)).exists());
    }

    #[test]
    fn a_process_that_first_shares_a_folder_removes_the_files_of_dead_ones() {
        let temp = TempDir::made();
        let _alive = owner_file(&temp.0, 0xa1, true);
        drop(owner_file(&temp.0, 0xb2, false));
        fs::write(temp.0.join(new_owner_name(0xc3)), "").expect("written");
        fs::write(temp.0.join("notes.owner"), "").expect("written");
        let dir = Dir::at(&temp.0).expect("a private folder");
        let mut names: Vec<String> = fs::read_dir(&temp.0)
            .expect("listed")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into()
            })
            .collect();
        names.sort();
        let mut kept = vec![
            owner_name(0xa1),
            owner_name(dir.0.owner),
            "notes.owner".into(),
        ];
        kept.sort();
        assert_eq!(names, kept);
    }

    #[test]
    fn an_owner_file_removed_while_its_process_lives_is_made_again() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join(owner_name(dir.0.owner));
        fs::remove_file(&path).expect("removed");
        touch(&dir.state_file("h", 1)).expect("used");
        assert!(path.exists());
        assert!(!is_dead(&path), "and locked");
        // And again, after a new pacer found the folder.
        fs::remove_file(&path).expect("removed");
        let again = Dir::at(&temp.0).expect("a private folder");
        assert_eq!(again.0.owner, dir.0.owner, "one id per process");
        assert!(!is_dead(&path));
    }

    #[test]
    fn the_time_is_read_once_the_lock_is_held() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let file = dir.state_file("h", 1);
        touch(&file).expect("made");
        let other = File::open(temp.0.join("h-1.pacer")).expect("opened");
        other.lock().expect("locked");
        let waiting = std::thread::spawn(move || {
            let read = Arc::new(Mutex::new(None));
            let clock = {
                let read = read.clone();
                move || {
                    *read.lock().expect("not poisoned") = Some(Instant::now());
                    NOW
                }
            };
            file.update(6, clock, |_, _| (), |_| false)
                .expect("updated");
            *read.lock().expect("not poisoned")
        });
        std::thread::sleep(Duration::from_millis(50));
        let unlocked = Instant::now();
        other.unlock().expect("unlocked");
        let read = waiting.join().expect("thread").expect("the clock was read");
        assert!(read >= unlocked);
    }

    #[test]
    fn a_clamped_time_is_written_back_once() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        // Held an hour and a second from now: the clock stepped back an hour.
        let mut book = Book::new(6, NOW);
        book.slots = vec![Slot::Held(NOW + 3601 * SECOND); 3];
        fs::write(&path, book.to_text()).expect("written");
        let file = dir.state_file("h", 1);
        let (taken, read) = file
            .update(6, || NOW, take(NOW), Result::is_ok)
            .expect("updated");
        assert_eq!(taken, Err(Wait::Until(NOW + 2 * SECOND)), "still held");
        // Written back: two seconds from this read, not from every later one.
        assert_eq!(fs::read_to_string(&path).expect("read"), read.to_text());
        let later = NOW + 2 * SECOND;
        let (taken, _) = file
            .update(6, || later, take(later), Result::is_ok)
            .expect("updated");
        assert_eq!(taken, Ok(0));
    }

    #[test]
    fn a_ledger_is_written_back_only_when_changed() {
        let temp = TempDir::new();
        let dir = Dir::at(&temp.0).expect("a private folder");
        let path = temp.0.join("h-1.pacer");
        let file = dir.state_file("h", 1);
        let running = running_until(NOW + SECOND);
        fs::write(&path, &running).expect("written");
        let (taken, _) = file
            .update(6, || NOW, take(NOW), Result::is_ok)
            .expect("read");
        assert_eq!(taken, Err(Wait::Poll));
        assert_eq!(fs::read_to_string(&path).expect("read"), running);
        let later = NOW + SECOND;
        let (taken, book) = file
            .update(6, || later, take(later), Result::is_ok)
            .expect("read");
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
        let file = dir.state_file("h", 1);
        let (_, book) = file
            .update(6, || NOW, |book, _| book.slots.truncate(2), |_| true)
            .expect("updated");
        assert_eq!(fs::read_to_string(&path).expect("read"), book.to_text());
    }
}
