//! Where the file's bytes come from: a path, bytes in memory, or any reader.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::image_size::{self, Dimensions};

/// The bytes to upload.
///
/// A path is streamed from disk and a reader is streamed as it reads: memory stays flat
/// whatever the size. S3 needs the exact length up front, so a reader declares it; one that
/// gives fewer or more bytes stops the upload with [`Error::SourceLength`](crate::Error::SourceLength).
///
/// An upload that fails midway (a reset connection, S3's 500 or 503) is retried from the
/// start of the file; that needs a source that can start over: a path, bytes or a
/// [`Source::seekable`] reader. A plain [`Source::reader`] is sent once.
///
/// Sources are `Send`, so they can be handed to worker threads.
///
/// ```
/// use storyblok_assets::Source;
///
/// let from_disk = Source::path("assets/mars.jpg");
/// let in_memory = Source::bytes(b"hello".as_slice());
/// let data = [1u8, 2, 3];
/// let streamed = Source::reader(&data[..], 3);
/// let seekable = Source::seekable(std::io::Cursor::new(&data[..]), 3);
/// # let _ = (from_disk, in_memory, streamed, seekable);
/// ```
pub struct Source<'a> {
    inner: Inner<'a>,
}

enum Inner<'a> {
    Path(PathBuf),
    Bytes(Cow<'a, [u8]>),
    Reader {
        reader: Box<dyn Read + Send + 'a>,
        len: u64,
    },
    Seekable {
        reader: Box<dyn ReadSeek + Send + 'a>,
        len: u64,
    },
}

/// Read + Seek as one trait object.
trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// A source opened for sending: its length and its bytes, rewindable for a retry when the
/// source allows.
pub(crate) struct Opened<'a> {
    pub(crate) len: u64,
    body: Body<'a>,
}

enum Body<'a> {
    /// Files, bytes and seekable readers: a retry seeks back to `start`.
    Rewindable {
        reader: Box<dyn ReadSeek + Send + 'a>,
        start: u64,
    },
    /// A plain reader: one pass only.
    Once(Box<dyn Read + Send + 'a>),
}

impl<'a> Opened<'a> {
    /// The bytes, from where the last rewind left them.
    pub(crate) fn reader(&mut self) -> &mut (dyn Read + Send + 'a) {
        match &mut self.body {
            Body::Rewindable { reader, .. } => reader,
            Body::Once(reader) => reader,
        }
    }

    /// Whether [`Opened::rewind`] can start the bytes over.
    pub(crate) fn can_rewind(&self) -> bool {
        matches!(self.body, Body::Rewindable { .. })
    }

    /// Starts the bytes over, for a retry.
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        match &mut self.body {
            Body::Rewindable { reader, start } => reader.seek(SeekFrom::Start(*start)).map(drop),
            Body::Once(_) => Err(io::Error::other("a plain reader cannot be rewound")),
        }
    }
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

    /// Any reader that will give exactly `len` bytes. It is read once: an upload that fails
    /// midway is not retried (see [`Source::seekable`]).
    pub fn reader(reader: impl Read + Send + 'a, len: u64) -> Source<'a> {
        Source {
            inner: Inner::Reader {
                reader: Box::new(reader),
                len,
            },
        }
    }

    /// A reader that can seek, giving exactly `len` bytes from its current position. An
    /// upload that fails midway is retried from that position.
    pub fn seekable(reader: impl Read + Seek + Send + 'a, len: u64) -> Source<'a> {
        Source {
            inner: Inner::Seekable {
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
            Inner::Reader { len, .. } | Inner::Seekable { len, .. } => Ok(*len),
        }
    }

    /// An image's dimensions from its header bytes; `None` for anything else and for
    /// reader sources (reading their header would consume it).
    pub(crate) fn dimensions(&self) -> io::Result<Option<Dimensions>> {
        match &self.inner {
            Inner::Path(path) => image_size::detect(&mut io::BufReader::new(File::open(path)?)),
            Inner::Bytes(bytes) => Ok(image_size::detect_bytes(bytes)),
            Inner::Reader { .. } | Inner::Seekable { .. } => Ok(None),
        }
    }

    /// Opens the source: a file is opened and its length taken from the open handle.
    pub(crate) fn open(self) -> io::Result<Opened<'a>> {
        let (len, body) = match self.inner {
            Inner::Path(path) => {
                let file = File::open(&path)?;
                let meta = file.metadata()?;
                if meta.is_dir() {
                    return Err(io::Error::other("it is a directory, not a file"));
                }
                let reader: Box<dyn ReadSeek + Send + 'a> = Box::new(file);
                (meta.len(), Body::Rewindable { reader, start: 0 })
            }
            Inner::Bytes(bytes) => {
                let len = bytes.len() as u64;
                let reader: Box<dyn ReadSeek + Send + 'a> = Box::new(io::Cursor::new(bytes));
                (len, Body::Rewindable { reader, start: 0 })
            }
            Inner::Reader { reader, len } => (len, Body::Once(reader)),
            Inner::Seekable { mut reader, len } => {
                let start = reader.stream_position()?;
                (len, Body::Rewindable { reader, start })
            }
        };
        Ok(Opened { len, body })
    }
}

impl fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Path(path) => f.debug_tuple("Source::Path").field(path).finish(),
            Inner::Bytes(bytes) => write!(f, "Source::Bytes({} bytes)", bytes.len()),
            Inner::Reader { len, .. } => write!(f, "Source::Reader({len} bytes)"),
            Inner::Seekable { len, .. } => write!(f, "Source::Seekable({len} bytes)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(opened: &mut Opened<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        opened.reader().read_to_end(&mut out).expect("read");
        out
    }

    #[test]
    fn bytes_and_seekable_readers_rewind() {
        let mut bytes = Source::bytes(&b"hello"[..]).open().expect("open");
        assert_eq!(read_all(&mut bytes), b"hello");
        bytes.rewind().expect("rewind");
        assert_eq!(read_all(&mut bytes), b"hello");

        let mut cursor = io::Cursor::new(b"skip-this".to_vec());
        cursor.set_position(5);
        let mut seekable = Source::seekable(cursor, 4).open().expect("open");
        assert_eq!(read_all(&mut seekable), b"this");
        seekable.rewind().expect("rewind to where it started");
        assert_eq!(read_all(&mut seekable), b"this");
    }

    #[test]
    fn plain_readers_do_not() {
        let mut once = Source::reader(&b"abc"[..], 3).open().expect("open");
        assert!(!once.can_rewind());
        assert!(once.rewind().is_err());
    }
}
