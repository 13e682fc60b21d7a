//! The sync manifest: which local file is which Storyblok asset.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind};

/// The current manifest format.
const VERSION: u32 = 1;

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
    /// this asset rather than creating another.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pending: bool,
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest {
            version: VERSION,
            space_id: None,
            assets: BTreeMap::new(),
        }
    }
}

impl Manifest {
    /// Reads a manifest. A missing file is an empty manifest; an unreadable or corrupt one
    /// is an [`ErrorKind::Manifest`], never silently replaced.
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, Error> {
        let path = path.as_ref();
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(e) => return Err(manifest_error(path, "cannot be read", Some(e))),
        };
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

    /// Writes the manifest atomically: to a temporary file beside it, flushed to disk,
    /// then renamed over it, so a crash leaves the old manifest or the new one, whole.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        let fail = |e: io::Error| manifest_error(path, "cannot be written", Some(e));
        let mut text = serde_json::to_string_pretty(self)
            .map_err(|e| manifest_error(path, &format!("cannot be encoded: {e}"), None))?;
        text.push('\n');
        static SAVES: AtomicU64 = AtomicU64::new(0);
        let temporary = path.with_file_name(format!(
            "{}{}-{}.tmp",
            temporary_prefix(path),
            std::process::id(),
            SAVES.fetch_add(1, Ordering::Relaxed)
        ));
        let written = (|| {
            let mut file = fs::File::create(&temporary)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&temporary, path)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&temporary);
            return Err(fail(e));
        }
        // Make the rename itself durable where directories can be synced (not Windows).
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(dir) = fs::File::open(dir) {
                let _ = dir.sync_all();
            }
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
    /// build script to write into `OUT_DIR` and `include!`. `img/logo.png` becomes
    /// `IMG_LOGO_PNG`; a name that would clash or start with a digit gets `_` in front.
    pub fn rust_consts(&self) -> String {
        let mut out =
            String::from("// Generated from the Storyblok asset manifest. Do not edit.\n");
        let mut taken = std::collections::BTreeSet::new();
        for (path, entry) in &self.assets {
            if entry.pending {
                continue;
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
            if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
                name.insert(0, '_');
            }
            while !taken.insert(name.clone()) {
                name.insert(0, '_');
            }
            out.push_str(&format!(
                "/// `{}`\npub const {name}: &str = {:?};\n",
                path.replace('`', "'"),
                entry.url
            ));
        }
        out
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
        }
    }

    #[test]
    fn writes_sorted_readable_json() {
        let mut manifest = Manifest {
            space_id: Some(7),
            ..Manifest::default()
        };
        manifest
            .assets
            .insert("z.png".into(), entry(2, "https://a/z"));
        manifest
            .assets
            .insert("a.png".into(), entry(1, "https://a/a"));
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
        let mut manifest = Manifest::default();
        manifest
            .assets
            .insert("img/logo.png".into(), entry(1, "https://a/logo"));
        manifest
            .assets
            .insert("img-logo.png".into(), entry(2, "https://a/other"));
        manifest
            .assets
            .insert("3d.glb".into(), entry(3, "https://a/3d"));
        let mut pending = entry(4, "https://a/p");
        pending.pending = true;
        manifest.assets.insert("p.png".into(), pending);
        let code = manifest.rust_consts();
        assert!(
            code.contains("pub const _3D_GLB: &str = \"https://a/3d\";"),
            "{code}"
        );
        assert!(
            code.contains("pub const IMG_LOGO_PNG: &str = \"https://a/other\";"),
            "{code}"
        );
        assert!(
            code.contains("pub const _IMG_LOGO_PNG: &str = \"https://a/logo\";"),
            "{code}"
        );
        assert!(!code.contains("https://a/p"), "{code}");
        assert_eq!(manifest.url("p.png"), None);
        assert_eq!(manifest.url("3d.glb"), Some("https://a/3d"));
    }
}
