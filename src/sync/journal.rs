//! The sync's journal: the manifest entries a sync changed, appended one line at a time to
//! a file beside the manifest, so each record is noted the moment it exists at the cost of
//! one line (not a rewrite of the whole manifest). The sync folds it into the manifest when
//! it ends, and the next sync does after a crash; [`Manifest::load`] reads it too. A
//! transfer keeps its map the same way, with lines of its own
//! ([`transfer_map`](super::transfer_map)).
//!
//! `.assets.manifest.json.journal`, JSON lines:
//!
//! ```text
//! {"journal":1,"space_id":184738}
//! {"path":"img/logo.png","entry":{"id":123,"url":"…","size":20311,"sha256":"…","pending":true}}
//! {"path":"new.png","signing":1764755000}
//! {"path":"old.png","entry":null}
//! ```
//!
//! Each line sets (or, with `null`, removes) one path's entry, or notes that a sign, which
//! creates a record, is being sent for it (see the manifest's `signing`), so applying a
//! journal twice gives what applying it once gives. A last line cut short (a crash while it was written)
//! is ignored; any other line that is not one of these is an error, never guessed at.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::manifest::{Manifest, ManifestEntry, manifest_error, temporary_prefix};
use crate::error::Error;

/// The journal format's version.
const VERSION: u32 = 1;
/// The most of a journal that is read: far more than any real one (a line per change).
const MAX_JOURNAL: u64 = 1 << 30;

/// The journal of the manifest at `manifest`: `.{name}.journal` beside it.
pub(crate) fn path_of(manifest: &Path) -> PathBuf {
    manifest.with_file_name(format!("{}journal", temporary_prefix(manifest)))
}

#[derive(Serialize, Deserialize)]
struct Header {
    journal: u32,
    space_id: Option<u64>,
}

/// A line that sets or removes a file's entry.
#[derive(Serialize)]
struct EntryLine<'a> {
    path: &'a str,
    entry: Option<&'a ManifestEntry>,
}

/// A line that notes (or, with `None`, clears) a sign sent for a file at a time.
#[derive(Serialize)]
struct SigningLine<'a> {
    path: &'a str,
    signing: Option<u64>,
}

/// Any line, read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnedLine {
    path: String,
    #[serde(default, with = "present")]
    entry: Option<Option<ManifestEntry>>,
    #[serde(default, with = "present")]
    signing: Option<Option<u64>>,
}

/// A field that may be absent, `null` or a value: `None`, `Some(None)`, `Some(Some(v))`.
pub(super) mod present {
    use serde::{Deserialize, Deserializer};

    pub(crate) fn deserialize<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

/// A journal read back: the space its header names, and each whole line after the header
/// with its line number.
pub(crate) struct Lines {
    pub(crate) space_id: Option<u64>,
    pub(crate) lines: Vec<(usize, String)>,
}

/// The error of line `number` of the journal of `owner` (a manifest, a transfer map), which
/// is not a journal line for `why`.
pub(crate) fn corrupt(owner: &Path, number: usize, why: &str) -> Error {
    manifest_error(
        &path_of(owner),
        &format!(
            "has a line {number} that is no journal line ({why}); the journal holds the \
             progress of a run that did not end: fix the line, or remove the file and run \
             again (records it noted may then be duplicated)"
        ),
        None,
    )
}

/// Reads the journal beside `owner` (a manifest, a transfer map), if there is one: its
/// header checked, a last line cut short (being written when the process died: what it
/// would have noted was not yet used) left out.
pub(crate) fn read(owner: &Path) -> Result<Option<Lines>, Error> {
    let journal = path_of(owner);
    let fail = |message: &str, e: Option<io::Error>| manifest_error(&journal, message, e);
    let mut text = String::new();
    match File::open(&journal) {
        Ok(file) => {
            file.take(MAX_JOURNAL + 1)
                .read_to_string(&mut text)
                .map_err(|e| fail("cannot be read", Some(e)))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(fail("cannot be read", Some(e))),
    }
    if text.len() as u64 > MAX_JOURNAL {
        return Err(fail(
            "is larger than 1 GiB, which no run writes; remove it",
            None,
        ));
    }
    let complete = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    let mut lines = complete.lines().enumerate();
    let space_id = match lines.next() {
        None => None,
        Some((_, first)) => {
            let header: Header =
                serde_json::from_str(first).map_err(|e| corrupt(owner, 1, &e.to_string()))?;
            if header.journal != VERSION {
                return Err(corrupt(owner, 1, &format!("version {}", header.journal)));
            }
            header.space_id
        }
    };
    Ok(Some(Lines {
        space_id,
        lines: lines.map(|(i, line)| (i + 1, line.to_owned())).collect(),
    }))
}

/// The error of a journal of space `journal` beside a file of space `owner`.
pub(crate) fn other_space(owner: &Path, journal: u64, of_owner: u64) -> Error {
    manifest_error(
        &path_of(owner),
        &format!("is of space {journal}, not {of_owner}; remove the one that is wrong"),
        None,
    )
}

/// Applies the journal beside the manifest at `path`, if there is one, to `manifest`.
/// Returns whether there was one.
pub(crate) fn apply(path: &Path, manifest: &mut Manifest) -> Result<bool, Error> {
    let Some(read) = read(path)? else {
        return Ok(false);
    };
    match (read.space_id, manifest.space_id) {
        (Some(journal), Some(of_manifest)) if journal != of_manifest => {
            return Err(other_space(path, journal, of_manifest));
        }
        (Some(journal), None) => manifest.space_id = Some(journal),
        _ => {}
    }
    for (number, line) in read.lines {
        let line: OwnedLine =
            serde_json::from_str(&line).map_err(|e| corrupt(path, number, &e.to_string()))?;
        match (line.entry, line.signing) {
            (Some(entry), None) => set(manifest, line.path, entry),
            (None, Some(Some(at))) => {
                manifest.signing.insert(line.path, at);
            }
            (None, Some(None)) => {
                manifest.signing.remove(&line.path);
            }
            _ => return Err(corrupt(path, number, "neither one entry nor one sign")),
        }
    }
    Ok(true)
}

/// Sets (or, with `None`, removes) `path`'s entry in `manifest`: the answer of any sign
/// sent for the file was noted then.
pub(crate) fn set(manifest: &mut Manifest, path: String, entry: Option<ManifestEntry>) {
    manifest.signing.remove(&path);
    match entry {
        Some(entry) => manifest.assets.insert(path, entry),
        None => manifest.assets.remove(&path),
    };
}

/// A journal being written.
pub(crate) struct Journal {
    /// The manifest it is the journal of.
    manifest: PathBuf,
    path: PathBuf,
    file: File,
}

impl Journal {
    /// Starts the journal of the manifest (or transfer map) at `manifest`, of space
    /// `space_id`. There must be none: a journal left by a crash is folded in first.
    pub(crate) fn create(manifest: &Path, space_id: Option<u64>) -> Result<Journal, Error> {
        let path = path_of(manifest);
        // A new file: an existing one, or a link planted at the name, is never opened.
        let file = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| {
                let message = format!("cannot start its journal, {}", path.display());
                manifest_error(manifest, &message, Some(e))
            })?;
        let mut journal = Journal {
            manifest: manifest.to_path_buf(),
            path,
            file,
        };
        let header = serde_json::to_string(&Header {
            journal: VERSION,
            space_id,
        })
        .map_err(|e| journal.error(&format!("cannot be encoded: {e}"), None))?;
        journal.write_line(header)?;
        Ok(journal)
    }

    /// Notes `path`'s entry (`None`: removed), durably, before returning.
    pub(crate) fn append(
        &mut self,
        path: &str,
        entry: Option<&ManifestEntry>,
    ) -> Result<(), Error> {
        self.write(&EntryLine { path, entry })
    }

    /// Notes that a sign for `path` is sent at `at` (`None`: that none is outstanding),
    /// durably, before returning.
    pub(crate) fn signing(&mut self, path: &str, at: Option<u64>) -> Result<(), Error> {
        self.write(&SigningLine { path, signing: at })
    }

    /// Appends `line` as one JSON line, durably, before returning.
    pub(crate) fn write(&mut self, line: &impl Serialize) -> Result<(), Error> {
        let line = serde_json::to_string(line)
            .map_err(|e| self.error(&format!("cannot be encoded: {e}"), None))?;
        self.write_line(line)
    }

    /// An error of the journal: `message` says what it could not do.
    fn error(&self, message: &str, e: Option<io::Error>) -> Error {
        let message = format!("has a journal, {}, that {message}", self.path.display());
        manifest_error(&self.manifest, &message, e)
    }

    fn write_line(&mut self, mut line: String) -> Result<(), Error> {
        line.push('\n');
        (|| {
            self.file.write_all(line.as_bytes())?;
            self.file.sync_data()
        })()
        .map_err(|e| self.error("cannot be written", Some(e)))
    }

    /// Removes the journal, once the manifest holds what it noted.
    pub(crate) fn remove(self) -> Result<(), Error> {
        drop(self.file);
        remove(&self.manifest)
    }
}

/// Removes the journal of the manifest at `manifest`, if there is one.
pub(crate) fn remove(manifest: &Path) -> Result<(), Error> {
    let path = path_of(manifest);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => {
            let message = format!("has a journal, {}, that cannot be removed", path.display());
            Err(manifest_error(manifest, &message, Some(e)))
        }
        _ => Ok(()),
    }
}
