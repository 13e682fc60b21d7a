//! Where the file's bytes come from: a path, bytes in memory, or any reader.

mod pump;

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::codec::image_size::{self, Dimensions};
use pump::{Caller, Pump};

/// The bytes to upload.
///
/// A path is streamed from disk and a reader is streamed as it reads: memory stays flat
/// whatever the size. S3 needs the exact length up front, so a reader declares it; one that
/// gives fewer bytes stops the upload with [`ErrorKind::SourceLength`](crate::ErrorKind::SourceLength)
/// (and so does a file or seekable reader that gives more; a plain reader is not read
/// past its length).
///
/// An upload that fails midway (a reset connection, S3's 500 or 503) is retried from the
/// start of the file; that needs a source that can start over: a path, bytes or a
/// [`Source::seekable`] reader. A plain [`Source::reader`] is sent once.
///
/// A reader is read on a thread of its own, so that one that stalls cannot hold the
/// upload: with no bytes for [`ClientBuilder::timeout_idle`](crate::ClientBuilder::timeout_idle),
/// or past [`ClientBuilder::timeout_upload`](crate::ClientBuilder::timeout_upload), the
/// upload fails with [`ErrorKind::Source`](crate::ErrorKind::Source) of kind
/// [`TimedOut`](std::io::ErrorKind::TimedOut). That is why a reader must be `'static`
/// (owned, such as a `File`, a `ChildStdout` or a `Cursor<Vec<u8>>`): a read that never
/// returns is left to end on its thread. Paths and bytes are read in place: a regular
/// file and memory do not stall (pipes, sockets and devices are refused as paths).
///
/// Sources are `Send`, so they can be handed to worker threads.
///
/// ```
/// use storyblok_assets::Source;
///
/// let from_disk = Source::path("assets/mars.jpg");
/// let in_memory = Source::bytes(b"hello".as_slice());
/// let streamed = Source::reader(std::io::stdin(), 3);
/// let seekable = Source::seekable(std::io::Cursor::new(vec![1u8, 2, 3]), 3);
/// # let _ = (from_disk, in_memory, streamed, seekable);
/// ```
pub struct Source<'a> {
    inner: Inner<'a>,
    progress: Option<Progress<'a>>,
}

/// A progress callback: bytes of the file sent so far, and the file's size.
type Progress<'a> = Box<dyn FnMut(u64, u64) + Send + 'a>;

/// How often, at least, the progress callback hears of an upload.
const PROGRESS_STEP: u64 = 1024 * 1024;

enum Inner<'a> {
    Path(PathBuf),
    Bytes(Cow<'a, [u8]>),
    Reader {
        reader: Box<dyn Read + Send + 'static>,
        len: u64,
    },
    Seekable {
        reader: Box<dyn ReadSeek + Send + 'static>,
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
    progress: Option<Progress<'a>>,
    /// Whether anything was read yet.
    touched: bool,
    sent: u64,
    reported: u64,
}

enum Body<'a> {
    /// A file or bytes, read in place: a retry seeks back to the start.
    Local(Box<dyn ReadSeek + Send + 'a>),
    /// A caller's reader, read on a thread of its own.
    Pumped(Pump),
}

impl Read for Opened<'_> {
    /// The bytes, from where the last rewind left them, telling the progress callback.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.touched = true;
        let n = match &mut self.body {
            Body::Local(reader) => reader.read(buf)?,
            Body::Pumped(pump) => pump.read(buf)?,
        };
        self.sent += n as u64;
        if let Some(progress) = &mut self.progress {
            let done = self.sent >= self.len && self.reported < self.len;
            if done || self.sent - self.reported >= PROGRESS_STEP {
                self.reported = self.sent;
                progress(self.sent.min(self.len), self.len);
            }
        }
        Ok(n)
    }
}

impl Opened<'_> {
    /// Whether the bytes can be read past their declared length to check that they end
    /// there: files, bytes and seekable readers can; a plain reader (a pipe, a socket) is
    /// never read past it, since that read could block for ever.
    pub(crate) fn can_probe_end(&self) -> bool {
        self.can_rewind()
    }

    /// Whether nothing has been read yet (so a retry needs no rewind).
    pub(crate) fn untouched(&self) -> bool {
        !self.touched
    }

    /// Whether [`Opened::rewind`] can start the bytes over.
    pub(crate) fn can_rewind(&self) -> bool {
        match &self.body {
            Body::Local(_) => true,
            Body::Pumped(pump) => pump.seekable(),
        }
    }

    /// How long a read may wait for a reader's next bytes, and until when at the latest;
    /// past either, it fails with [`io::ErrorKind::TimedOut`]. Files and bytes do not wait.
    pub(crate) fn bound(&mut self, idle: Duration, deadline: Option<Instant>) {
        if let Body::Pumped(pump) = &mut self.body {
            pump.bound(idle, deadline);
        }
    }

    /// Starts the bytes over, for a retry; progress starts over too.
    pub(crate) fn rewind(&mut self) -> io::Result<()> {
        match &mut self.body {
            Body::Local(reader) => {
                reader.seek(SeekFrom::Start(0))?;
            }
            Body::Pumped(pump) => pump.rewind()?,
        }
        self.touched = false;
        self.sent = 0;
        self.reported = 0;
        Ok(())
    }
}

impl<'a> Source<'a> {
    /// A file on disk, opened when the upload starts and streamed from there. Its name is
    /// the default filename of the asset.
    pub fn path(path: impl Into<PathBuf>) -> Source<'static> {
        Source {
            inner: Inner::Path(path.into()),
            progress: None,
        }
    }

    /// Bytes in memory, borrowed (`&[u8]`) or owned (`Vec<u8>`).
    pub fn bytes(bytes: impl Into<Cow<'a, [u8]>>) -> Source<'a> {
        Source {
            inner: Inner::Bytes(bytes.into()),
            progress: None,
        }
    }

    /// Any reader that will give exactly `len` bytes. It is read once, and never past its
    /// `len` bytes (a pipe whose writer stays open does not block the upload; what it
    /// holds beyond is not checked): an upload that fails midway is not retried (see
    /// [`Source::seekable`]).
    ///
    /// It is read on a thread of its own, a few chunks ahead of the upload, and must be
    /// `'static`: a read that stalls longer than the idle timeout fails the upload and is
    /// left to end on that thread (see [`Source`]).
    pub fn reader(reader: impl Read + Send + 'static, len: u64) -> Source<'a> {
        Source {
            inner: Inner::Reader {
                reader: Box::new(reader),
                len,
            },
            progress: None,
        }
    }

    /// A reader that can seek, giving exactly `len` bytes from its current position. An
    /// upload that fails midway is retried from that position.
    ///
    /// Like [`Source::reader`], it is read on a thread of its own and must be `'static`.
    pub fn seekable(reader: impl Read + Seek + Send + 'static, len: u64) -> Source<'a> {
        Source {
            inner: Inner::Seekable {
                reader: Box::new(reader),
                len,
            },
            progress: None,
        }
    }

    /// Calls `progress(sent, total)` as the file goes out: at least once per MiB and once
    /// at the end, with `sent == total`. A retried upload starts again from 0.
    ///
    /// ```
    /// use storyblok_assets::Source;
    ///
    /// let source = Source::path("video.mp4").on_progress(|sent, total| {
    ///     eprint!("\r{} of {} MiB", sent >> 20, total >> 20);
    /// });
    /// # let _ = source;
    /// ```
    pub fn on_progress(mut self, progress: impl FnMut(u64, u64) + Send + 'a) -> Self {
        self.progress = Some(Box::new(progress));
        self
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
            Inner::Path(path) => file_len(&std::fs::metadata(path)?),
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
                // Refused before opening: opening a FIFO blocks until a writer comes.
                let (file, len) = open_regular(&path)?;
                (len, Body::Local(Box::new(file)))
            }
            Inner::Bytes(bytes) => {
                let len = bytes.len() as u64;
                (len, Body::Local(Box::new(io::Cursor::new(bytes))))
            }
            Inner::Reader { reader, len } => {
                (len, Body::Pumped(Pump::new(Caller::Plain(reader), len)))
            }
            Inner::Seekable { mut reader, len } => {
                // Where it stands now is where a retry starts over.
                let start = reader.stream_position()?;
                let caller = Caller::Seekable { reader, start };
                (len, Body::Pumped(Pump::new(caller, len)))
            }
        };
        Ok(Opened {
            len,
            body,
            progress: self.progress,
            touched: false,
            sent: 0,
            reported: 0,
        })
    }
}

/// Opens a regular file, with its length from the open handle. Anything else is refused
/// as [`file_len`] says, before it is opened: opening a FIFO blocks until a writer comes.
pub(crate) fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    file_len(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    let len = file_len(&file.metadata()?)?;
    Ok((file, len))
}

/// A regular file's length. Anything else is refused: a directory (it opens, on Unix, but
/// reads as an error), a FIFO or socket (opening or reading it can block for ever), a
/// device.
pub(crate) fn file_len(meta: &std::fs::Metadata) -> io::Result<u64> {
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not a file",
        ));
    }
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is not a regular file (a pipe, socket or device)",
        ));
    }
    Ok(meta.len())
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
        opened.read_to_end(&mut out).expect("read");
        out
    }

    #[test]
    fn progress_is_told_every_mib_and_at_the_end() {
        let data = vec![7u8; 3 * 1024 * 1024 + 10];
        let seen = std::sync::Mutex::new(Vec::new());
        let mut opened = Source::bytes(&data[..])
            .on_progress(|sent, total| seen.lock().expect("lock").push((sent, total)))
            .open()
            .expect("open");
        let mut buf = vec![0u8; 64 * 1024];
        while opened.read(&mut buf).expect("read") > 0 {}
        drop(opened);
        let total = data.len() as u64;
        let seen = seen.into_inner().expect("lock");
        assert_eq!(seen.last(), Some(&(total, total)));
        assert_eq!(seen.len(), 4, "{seen:?}");
        for pair in seen.windows(2) {
            assert!(pair[1].0 - pair[0].0 <= 1024 * 1024 + 64 * 1024);
        }
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
