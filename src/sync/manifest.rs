//! The sync manifest: which local file is which Storyblok asset.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::codec::random;
use crate::error::{Error, ErrorKind};

/// The current manifest format.
const VERSION: u32 = 1;
/// The most of a manifest file that is read: far more than any real one holds.
const MAX_MANIFEST: u64 = 1 << 30;

/// The record [`Client::sync`](crate::Client::sync) keeps of what it uploaded: for each
/// file, by its path relative to the synced folder, the asset's id and URL and what the
/// file held. JSON, sorted, indented: meant to be committed next to the files.
///
/// ```json
/// {
///   "version": 1,
///   "space_id": 184738,
///   "assets": {
///     "img/logo.png": {
///       "id": 123456,
///       "url": "https://a.storyblok.com/f/184738/512x512/9fe59e1868/logo.png",
///       "size": 20311,
///       "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
///       "dimensions": "512x512"
///     }
///   }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The format version, 1.
    pub version: u32,
    /// The space the assets live in; a manifest is never applied to another space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space_id: Option<u64>,
    /// The files, by relative path with `/` separators, in sorted order.
    #[serde(default)]
    pub assets: BTreeMap<String, ManifestEntry>,
    /// Files whose sign call (which creates a record) was sent, at this Unix time in
    /// seconds, without its answer noted: the process was killed, or the answer lost. The
    /// next sync of such a file first looks for that record (same name and folder, no
    /// entry names it, no file uploaded) and uploads into it, rather than leaving it
    /// behind. Normally empty, and then not written.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) signing: BTreeMap<String, u64>,
}

/// One file of a [`Manifest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// The asset's id.
    pub id: u64,
    /// The asset's CDN URL; it stays the same when the file is replaced.
    pub url: String,
    /// The file's size in bytes when it was uploaded.
    pub size: u64,
    /// The SHA-256 of the file's bytes when it was uploaded, as `sha256sum` prints it.
    pub sha256: String,
    /// `"{width}x{height}"` for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<String>,
    /// The record was created but the upload did not complete; the next sync replaces
    /// this asset rather than creating another. A pending entry has no constant in
    /// [`Manifest::rust_consts`].
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
    /// The record of this file's next version, created by a sync with
    /// [`OnChange::NewAsset`](crate::OnChange::NewAsset) whose upload did not complete.
    /// The entry keeps the previous asset (its id, URL and constant) until the new one is
    /// finished; the next sync uploads into this record rather than creating another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_version: Option<u64>,
    /// The asset folder the file was put in, when the sync places files in folders.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folder: Option<u64>,
    /// The SHA-256 of the metadata last sent (see [`AssetMeta`](crate::AssetMeta)), when
    /// the sync manages the file's metadata.
    #[serde(rename = "meta", default, skip_serializing_if = "Option::is_none")]
    pub metadata_hash: Option<String>,
    /// The file's modification time (nanoseconds since the Unix epoch) as a sync on this
    /// machine last saw it: a file of the same size and time is not hashed again. A time
    /// once recorded is not rewritten for a file found unchanged (on another machine times
    /// differ, and the manifest would change on every checkout); a file modified less than
    /// 2 seconds before the sync looked at it gets no time (a rewrite of the same size
    /// within the file system's clock tick would keep it), and the next sync that finds it
    /// unchanged records one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<u64>,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: VERSION,
            space_id: None,
            assets: BTreeMap::new(),
            signing: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Reads a manifest, as the last sync left it: with the progress its journal holds
    /// when that sync did not end (a crash, a kill), the journal being the file
    /// `.{name}.journal` beside it. A missing file is an empty manifest; an unreadable or
    /// corrupt one, or one that gives two files one asset id (a bad merge), is an
    /// [`ErrorKind::Manifest`], never silently replaced.
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, Error> {
        let path = path.as_ref();
        let mut manifest = Manifest::load_file(path)?;
        super::journal::apply(path, &mut manifest)?;
        manifest.check_ids(path)?;
        Ok(manifest)
    }

    /// Reads the manifest file alone.
    fn load_file(path: &Path) -> Result<Manifest, Error> {
        let mut text = String::new();
        match fs::File::open(path) {
            Ok(file) => {
                file.take(MAX_MANIFEST + 1)
                    .read_to_string(&mut text)
                    .map_err(|e| manifest_error(path, "cannot be read", Some(e)))?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(manifest_error(path, "cannot be read", Some(e))),
        }
        if text.len() as u64 > MAX_MANIFEST {
            return Err(manifest_error(
                path,
                "is larger than 1 GiB, more than any manifest holds: check the path",
                None,
            ));
        }
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            manifest_error(
                path,
                &format!("is not a valid manifest ({e}); fix or remove it"),
                None,
            )
        })?;
        if manifest.version != VERSION {
            return Err(manifest_error(
                path,
                &format!(
                    "has format version {}, this library reads version {VERSION}",
                    manifest.version
                ),
                None,
            ));
        }
        Ok(manifest)
    }

    /// Fails when two entries name one asset (as its id or as a pending new version): the
    /// sync would treat one file's asset as the other's, replacing or deleting it.
    fn check_ids(&self, path: &Path) -> Result<(), Error> {
        let mut owners: std::collections::HashMap<u64, &str> = std::collections::HashMap::new();
        for (file, entry) in &self.assets {
            for id in std::iter::once(entry.id).chain(entry.new_version) {
                if let Some(other) = owners.insert(id, file) {
                    let message = if other == file {
                        format!(
                            "gives {file:?} asset {id} twice (as its asset and its new version)"
                        )
                    } else {
                        format!("gives asset {id} to both {other:?} and {file:?}")
                    };
                    return Err(manifest_error(
                        path,
                        &format!(
                            "{message}: one file's asset would be taken for the other's; fix the entry that is wrong (a bad merge?)"
                        ),
                        None,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Writes the manifest atomically: to a temporary file beside it, flushed to disk,
    /// then renamed over it, so a crash leaves the old manifest or the new one, whole.
    ///
    /// The temporary file is `.{name}.{random}.tmp` (for `assets.json`,
    /// `.assets.json.3f9a0c2e7b1d4a65.tmp`), created new: an existing file or a symlink
    /// planted at that name is never opened or followed; another random name is tried.
    ///
    /// A file that already holds exactly this text is left untouched (not even its
    /// modification time changes), so tools that watch it, such as cargo's
    /// `rerun-if-changed`, see no change.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let fail = |e: io::Error| manifest_error(path, "cannot be written", Some(e));
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| manifest_error(path, &format!("cannot be encoded: {e}"), None))?;
        text.push('\n');
        if holds(path, &text) {
            return Ok(());
        }
        let (temporary, mut file) = create_temporary(|| temporary_name(path)).map_err(fail)?;
        let written = (|| {
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            drop(file);
            fs::rename(&temporary, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(fail(e));
        }
        // Make the rename itself durable where directories can be synced (not Windows).
        if let Ok(dir) = fs::File::open(folder_of(path)) {
            let _ = dir.sync_all();
        }
        Ok(())
    }

    /// The CDN URL of a file, by its relative path.
    pub fn url(&self, path: &str) -> Option<&str> {
        self.assets
            .get(path)
            .filter(|entry| !entry.pending)
            .map(|entry| entry.url.as_str())
    }

    /// Rust source with one `pub const` per complete file, its URL as a `&str`, for a
    /// build script to write into `OUT_DIR` and `include!`:
    ///
    /// ```text
    /// // Generated from the Storyblok asset manifest. Do not edit.
    /// #[doc = "`img/logo.png`"]
    /// #[allow(dead_code)]
    /// pub const IMG_LOGO_PNG: &str = "https://a.storyblok.com/f/184738/512x512/9fe59e1868/logo.png";
    /// ```
    ///
    /// Paths and URLs appear only inside string literals, escaped: `"` and `\` with a
    /// backslash, newline, CR and tab as `\n`, `\r`, `\t`, and every other character
    /// outside printable ASCII (control characters, all non-ASCII) as `\u{…}`, so any file
    /// name gives valid Rust. Each constant is `#[allow(dead_code)]`, so unused ones do not
    /// warn. Entries still pending are left out.
    ///
    /// A constant's name depends on its path alone:
    ///
    /// - each ASCII letter or digit is upper-cased, and every other character (`/`, `.`,
    ///   `-`, a space, each non-ASCII character such as `é`) becomes one `_`; runs of `_`
    ///   are kept as they are, not collapsed. A character is a Unicode scalar value, so an
    ///   `é` written as `e` and a combining accent gives `E_`;
    /// - a name that then starts with a digit, or is nothing but `_`, gets one more `_` in
    ///   front.
    ///
    /// So `img/logo.png` is `IMG_LOGO_PNG`, `3d.glb` is `_3D_GLB`, `café.png` is
    /// `CAF__PNG`. Adding or removing a file never renames another file's constant.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] when two files' paths give the same name (say
    /// `img-logo.png` and `img/logo.png` both give `IMG_LOGO_PNG`; rename one of them), or
    /// a path is empty.
    ///
    /// ```
    /// # let manifest: storyblok_assets::Manifest = serde_json::from_str(
    /// #     r#"{"version": 1, "assets": {"img/logo.png": {"id": 1, "url": "https://a.storyblok.com/f/1/logo.png", "size": 3, "sha256": "ab"}}}"#,
    /// # ).unwrap();
    /// let code = manifest.rust_consts()?;
    /// assert!(code.contains(r#"pub const IMG_LOGO_PNG: &str = "https://a.storyblok.com/f/1/logo.png";"#));
    /// # Ok::<_, storyblok_assets::Error>(())
    /// ```
    pub fn rust_consts(&self) -> Result<String, Error> {
        let mut out =
            String::from("// Generated from the Storyblok asset manifest. Do not edit.\n");
        let mut taken: BTreeMap<String, &str> = BTreeMap::new();
        for (path, entry) in &self.assets {
            if entry.pending {
                continue;
            }
            let name = const_name(path)?;
            if let Some(other) = taken.insert(name.clone(), path) {
                return Err(Error::invalid(format!(
                    "{other:?} and {path:?} both become the constant {name}: rename one of them"
                )));
            }
            out.push_str(&format!(
                "#[doc = {}]\n#[allow(dead_code)]\npub const {name}: &str = {};\n",
                rust_str(&code_span(path)),
                rust_str(&entry.url)
            ));
        }
        Ok(out)
    }
}

/// The constant [`Manifest::rust_consts`] names `path` with: a function of the path alone.
fn const_name(path: &str) -> Result<String, Error> {
    if path.is_empty() {
        return Err(Error::invalid(
            "the manifest has an entry with an empty path, which names no file: remove it",
        ));
    }
    let mut name: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.chars().all(|c| c == '_') {
        name.insert(0, '_');
    }
    Ok(name)
}

/// `text` as a Rust string literal, quotes included, in printable ASCII only.
fn rust_str(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            _ => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// `text` as a Markdown code span: fenced with more backticks than it holds in a row,
/// padded with a space when it starts or ends with one.
fn code_span(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The folder a file at `path` is in: `.` for a bare name such as `assets.manifest.json`.
fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Whether the file at `path` holds exactly `text` (a larger file is not read whole).
fn holds(path: &Path, text: &str) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut found = Vec::with_capacity(text.len());
    let read = file.take(text.len() as u64 + 1).read_to_end(&mut found);
    read.is_ok() && found == text.as_bytes()
}

/// How many random names [`create_temporary`] tries before it gives up.
const TEMPORARY_ATTEMPTS: usize = 8;

/// A fresh, unpredictable name for a temporary file of the file at `path` (a manifest, a
/// pulled file): `.assets.json.{16 hex digits}.tmp`, hidden from a sync.
pub(crate) fn temporary_name(path: &Path) -> PathBuf {
    path.with_file_name(format!(
        "{}{:016x}.tmp",
        temporary_prefix(path),
        random::next_u64()
    ))
}

/// Creates a new file at the first of the names `name` gives that is free. A name that
/// exists, as a file or as a symlink, is never opened or followed.
pub(crate) fn create_temporary(
    mut name: impl FnMut() -> PathBuf,
) -> io::Result<(PathBuf, fs::File)> {
    let mut attempt = 1;
    loop {
        let temporary = name();
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => return Ok((temporary, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < TEMPORARY_ATTEMPTS => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The start of the name of a manifest's temporary files: `.assets.json.`.
pub(crate) fn temporary_prefix(path: &Path) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "manifest".into(), |n| n.to_string_lossy().into_owned());
    format!(".{name}.")
}

pub(crate) fn manifest_error(path: &Path, message: &str, source: Option<io::Error>) -> Error {
    let error = Error::new(ErrorKind::Manifest {
        path: path.to_path_buf(),
        message: message.to_owned(),
    });
    match source {
        Some(source) => error.caused_by(source),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, url: &str) -> ManifestEntry {
        ManifestEntry {
            id,
            url: url.into(),
            size: 3,
            sha256: "ab".into(),
            dimensions: None,
            pending: false,
            new_version: None,
            folder: None,
            metadata_hash: None,
            modified: None,
        }
    }

    /// A manifest of these files.
    fn manifest_of<const N: usize>(files: [(&str, ManifestEntry); N]) -> Manifest {
        Manifest {
            assets: files
                .into_iter()
                .map(|(path, entry)| (path.to_owned(), entry))
                .collect(),
            ..Manifest::default()
        }
    }

    #[test]
    fn writes_sorted_readable_json() {
        let manifest = Manifest {
            space_id: Some(7),
            ..manifest_of([
                ("z.png", entry(2, "https://a/z")),
                ("a.png", entry(1, "https://a/a")),
            ])
        };
        let dir = std::env::temp_dir().join(format!("sb-manifest-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("assets.json");
        manifest.save(&path).expect("save");
        let text = fs::read_to_string(&path).expect("read");
        assert!(text.find("a.png") < text.find("z.png"), "{text}");
        assert!(text.contains("\n  \"version\": 1"), "{text}");
        assert!(!text.contains("pending"), "{text}");
        assert_eq!(Manifest::load(&path).expect("load"), manifest);
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn missing_is_empty_and_corrupt_is_an_error() {
        let missing = Manifest::load("/nonexistent/dir/assets.json").expect("missing is fine");
        assert!(missing.assets.is_empty());
        let dir = std::env::temp_dir().join(format!("sb-corrupt-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("assets.json");
        for bad in [
            "{not json",
            r#"{"version": 99, "assets": {}}"#,
            r#"{"assets": 5}"#,
        ] {
            fs::write(&path, bad).expect("write");
            let err = Manifest::load(&path).expect_err(bad);
            assert!(matches!(err.kind(), ErrorKind::Manifest { .. }), "{err:?}");
            assert!(err.to_string().contains("assets.json"), "{err}");
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn rust_constants() {
        let mut pending = entry(4, "https://a/p");
        pending.pending = true;
        let manifest = manifest_of([
            ("img/logo.png", entry(1, "https://a/logo")),
            ("3d.glb", entry(3, "https://a/3d")),
            ("p.png", pending),
            // A pending entry takes no name, so it clashes with nothing.
            ("p-png", entry(5, "https://a/p-png")),
        ]);
        let code = manifest.rust_consts().expect("no clash");
        assert_eq!(
            code,
            "// Generated from the Storyblok asset manifest. Do not edit.\n\
             #[doc = \"`3d.glb`\"]\n#[allow(dead_code)]\n\
             pub const _3D_GLB: &str = \"https://a/3d\";\n\
             #[doc = \"`img/logo.png`\"]\n#[allow(dead_code)]\n\
             pub const IMG_LOGO_PNG: &str = \"https://a/logo\";\n\
             #[doc = \"`p-png`\"]\n#[allow(dead_code)]\n\
             pub const P_PNG: &str = \"https://a/p-png\";\n"
        );
        assert_eq!(manifest.url("p.png"), None);
        assert_eq!(manifest.url("3d.glb"), Some("https://a/3d"));
    }

    #[test]
    fn a_name_clash_is_an_error_naming_both_paths() {
        let manifest = manifest_of([
            ("img/logo.png", entry(1, "https://a/logo")),
            ("img-logo.png", entry(2, "https://a/other")),
        ]);
        let err = manifest.rust_consts().expect_err("a clash");
        let ErrorKind::InvalidInput { message } = err.kind() else {
            panic!("{err:?}");
        };
        assert_eq!(
            message,
            "\"img-logo.png\" and \"img/logo.png\" both become the constant IMG_LOGO_PNG: \
             rename one of them"
        );
        // A leading-digit prefix can clash too, and says so.
        let manifest = manifest_of([
            ("3d", entry(1, "https://a/1")),
            ("_3d", entry(2, "https://a/2")),
        ]);
        let err = manifest.rust_consts().expect_err("a clash");
        assert!(err.to_string().contains("constant _3D"), "{err}");
    }

    #[test]
    fn names_are_a_function_of_the_path_alone() {
        for (path, name) in [
            ("img/logo.png", "IMG_LOGO_PNG"),
            ("Img/Logo.PNG", "IMG_LOGO_PNG"),
            ("a--b", "A__B"),
            ("3d.glb", "_3D_GLB"),
            ("_3d.glb", "_3D_GLB"),
            ("_x", "_X"),
            ("café.png", "CAF__PNG"),
            ("日本", "___"),
            ("-", "__"),
            ("_", "__"),
            ("a\nb\rc", "A_B_C"),
        ] {
            assert_eq!(const_name(path).expect(path), name, "{path:?}");
        }
        let err = const_name("").expect_err("empty");
        assert!(
            matches!(err.kind(), ErrorKind::InvalidInput { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn string_literals_are_escaped_printable_ascii() {
        assert_eq!(rust_str("plain/path.png"), r#""plain/path.png""#);
        assert_eq!(rust_str("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(rust_str("\n\r\t\0\u{7f}"), r#""\n\r\t\u{0}\u{7f}""#);
        assert_eq!(rust_str("é\u{202e}😀"), r#""\u{e9}\u{202e}\u{1f600}""#);
        assert_eq!(rust_str("*/ // }"), r#""*/ // }""#);
    }

    #[test]
    fn paths_become_code_spans() {
        assert_eq!(code_span("a.png"), "`a.png`");
        assert_eq!(code_span("a`b``c"), "```a`b``c```");
        assert_eq!(code_span("`a"), "`` `a ``");
    }

    #[test]
    fn the_folder_synced_after_a_rename_is_that_of_the_path() {
        // A bare name is in the working folder: its rename is made durable there too.
        assert_eq!(folder_of(Path::new("assets.manifest.json")), Path::new("."));
        assert_eq!(folder_of(Path::new("a/b.json")), Path::new("a"));
        assert_eq!(folder_of(Path::new("/b.json")), Path::new("/"));
    }

    #[test]
    fn temporary_names_are_fresh_and_recognised_by_sync() {
        let path = Path::new("some/dir/assets.json");
        let (a, b) = (temporary_name(path), temporary_name(path));
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert_eq!(name.parent(), path.parent());
            let file = name.file_name().and_then(|n| n.to_str()).expect("a name");
            let random = file
                .strip_prefix(&temporary_prefix(path))
                .and_then(|rest| rest.strip_suffix(".tmp"))
                .unwrap_or_else(|| panic!("{file}"));
            assert_eq!(random.len(), 16, "{file}");
            assert!(random.bytes().all(|b| b.is_ascii_hexdigit()), "{file}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_taken_temporary_name_is_skipped_never_followed() {
        let dir = std::env::temp_dir().join(format!("sb-tmpname-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("dir");
        let target = dir.join("target");
        fs::write(&target, "untouched").expect("write");
        let planted = dir.join(".assets.json.planted.tmp");
        std::os::unix::fs::symlink(&target, &planted).expect("symlink");
        let free = dir.join(".assets.json.free.tmp");
        let mut names = [planted.clone(), free.clone()].into_iter();
        let (name, mut file) =
            create_temporary(|| names.next().expect("a name")).expect("the free name");
        assert_eq!(name, free);
        file.write_all(b"new").expect("write");
        assert_eq!(fs::read_to_string(&target).expect("read"), "untouched");
        // Every name taken: an error after a few tries, still nothing followed.
        let err = create_temporary(|| planted.clone()).expect_err("all taken");
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read_to_string(&target).expect("read"), "untouched");
        let _ = fs::remove_dir_all(&dir);
    }
}
