//! Where the file's bytes come from: a path, bytes in memory, or any reader.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::image_size::{self, Dimensions};

/// The bytes to upload.
///
/// A path is streamed from disk and a reader is streamed as it reads: memory stays flat
/// whatever the size. S3 needs the exact length up front, so a reader declares it; one that
/// gives fewer or more bytes stops the upload with [`Error::SourceLength`](crate::Error::SourceLength).
///
/// ```
/// use storyblok_assets::Source;
///
/// let from_disk = Source::path("assets/mars.jpg");
/// let in_memory = Source::bytes(b"hello".as_slice());
/// let data = [1u8, 2, 3];
/// let streamed = Source::reader(&data[..], 3);
/// # let _ = (from_disk, in_memory, streamed);
/// ```
pub struct Source<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Path(PathBuf),
    Bytes(Cow<'a, [u8]>),
    Reader {
        reader: Box<dyn Read + 'a>,
        len: u64,
    },
}

/// A source opened for sending: its length and its bytes.
pub(crate) struct Opened<'a> {
    pub(crate) len: u64,
    pub(crate) reader: Box<dyn Read + 'a>,
}

impl<'a> Source<'a> {
    /// A file on disk, opened when the upload starts and streamed from there. Its name is
    /// the default filename of the asset.
    pub fn path(path: impl Into<PathBuf>) -> Source<'static> {
        Source {
            inner: Inner::Path(path.into()),
        }
    }

    /// Bytes in memory, borrowed (`&[u8]`) or owned (`Vec<u8>`).
    pub fn bytes(bytes: impl Into<Cow<'a, [u8]>>) -> Source<'a> {
        Source {
            inner: Inner::Bytes(bytes.into()),
        }
    }

    /// Any reader that will give exactly `len` bytes.
    pub fn reader(reader: impl Read + 'a, len: u64) -> Source<'a> {
        Source {
            inner: Inner::Reader {
                reader: Box::new(reader),
                len,
            },
        }
    }

    /// The file's path, for a path source.
    pub fn file_path(&self) -> Option<&Path> {
        match &self.inner {
            Inner::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The file's name, for a path source: the default asset filename.
    pub(crate) fn file_name(&self) -> Option<String> {
        self.file_path()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
    }

    /// The number of bytes the source will give.
    pub(crate) fn len(&self) -> io::Result<u64> {
        match &self.inner {
            Inner::Path(path) => {
                let meta = std::fs::metadata(path)?;
                if meta.is_dir() {
                    return Err(io::Error::other("it is a directory, not a file"));
                }
                Ok(meta.len())
            }
            Inner::Bytes(bytes) => Ok(bytes.len() as u64),
            Inner::Reader { len, .. } => Ok(*len),
        }
    }

    /// An image's dimensions from its header bytes; `None` for anything else and for
    /// reader sources (reading their header would consume it).
    pub(crate) fn dimensions(&self) -> io::Result<Option<Dimensions>> {
        match &self.inner {
            Inner::Path(path) => image_size::detect(&mut io::BufReader::new(File::open(path)?)),
            Inner::Bytes(bytes) => Ok(image_size::detect_bytes(bytes)),
            Inner::Reader { .. } => Ok(None),
        }
    }

    /// Opens the source: a file is opened and its length taken from the open handle.
    pub(crate) fn open(self) -> io::Result<Opened<'a>> {
        match self.inner {
            Inner::Path(path) => {
                let file = File::open(&path)?;
                let meta = file.metadata()?;
                if meta.is_dir() {
                    return Err(io::Error::other("it is a directory, not a file"));
                }
                Ok(Opened {
                    len: meta.len(),
                    reader: Box::new(file),
                })
            }
            Inner::Bytes(bytes) => Ok(Opened {
                len: bytes.len() as u64,
                reader: Box::new(io::Cursor::new(bytes)),
            }),
            Inner::Reader { reader, len } => Ok(Opened { len, reader }),
        }
    }
}

impl fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Path(path) => f.debug_tuple("Source::Path").field(path).finish(),
            Inner::Bytes(bytes) => write!(f, "Source::Bytes({} bytes)", bytes.len()),
            Inner::Reader { len, .. } => write!(f, "Source::Reader({len} bytes)"),
        }
    }
}
