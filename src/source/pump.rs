//! A caller's reader, read on a thread of its own so that a read that stalls can be timed
//! out.
//!
//! The HTTP client pulls the upload's body on the thread that writes the socket, so a
//! caller's `read` that blocks (a pipe whose writer hangs, a network stream that stalls)
//! would hold the upload past every timeout, for ever if it never returns. Here the
//! reader runs on a helper thread that hands its bytes over a channel of one chunk; the
//! upload waits on that channel for at most the idle timeout (and no later than the
//! upload's deadline), then fails with [`io::ErrorKind::TimedOut`]. A read that never
//! returns leaves its thread behind, blocked in the caller's own `read`; it ends when
//! that read returns. Memory stays flat: at most three chunks (one being filled, one in
//! the channel, one being sent).

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use super::ReadSeek;

/// The most bytes the helper reads at once.
const CHUNK: usize = 64 * 1024;

/// The caller's reader, and whether it can start over.
pub(super) enum Caller {
    /// Read once.
    Plain(Box<dyn Read + Send + 'static>),
    /// Seeks back to `start` to start over.
    Seekable {
        reader: Box<dyn ReadSeek + Send + 'static>,
        start: u64,
    },
}

impl Caller {
    fn reader(&mut self) -> &mut dyn Read {
        match self {
            Caller::Plain(reader) => reader,
            Caller::Seekable { reader, .. } => reader,
        }
    }
}

/// What the helper thread hands over.
enum Message {
    Bytes(Vec<u8>),
    /// The reader ended, or gave all the bytes a pass reads.
    End,
    Failed(io::Error),
}

/// A caller's reader behind a helper thread: `Read` gives its bytes, waiting at most the
/// idle timeout for each chunk.
pub(super) struct Pump {
    /// The reader, while no helper thread holds it.
    caller: Option<Caller>,
    seekable: bool,
    /// The most bytes one pass reads: the declared length, and one more for a seekable
    /// reader, to see that it ends there.
    limit: u64,
    idle: Duration,
    deadline: Option<Instant>,
    pass: Option<Pass>,
}

/// One pass over the reader, on a helper thread.
struct Pass {
    chunks: Receiver<Message>,
    /// The helper gives the reader back here when it stops.
    back: Receiver<Caller>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Pump {
    /// A pump for `caller`, which declared `len` bytes. It waits without bound until
    /// [`Pump::bound`] sets the limits.
    pub(super) fn new(caller: Caller, len: u64) -> Pump {
        let seekable = matches!(caller, Caller::Seekable { .. });
        Pump {
            caller: Some(caller),
            seekable,
            limit: len.saturating_add(u64::from(seekable)),
            idle: Duration::MAX,
            deadline: None,
            pass: None,
        }
    }

    /// Whether the reader can start over.
    pub(super) fn seekable(&self) -> bool {
        self.seekable
    }

    /// How long a read may wait for the reader's next bytes, and until when at the latest.
    pub(super) fn bound(&mut self, idle: Duration, deadline: Option<Instant>) {
        self.idle = idle;
        self.deadline = deadline;
    }

    /// Starts the reader over from where it started, for a retry: the helper thread stops
    /// and gives it back (within the idle timeout), and it seeks back.
    pub(super) fn rewind(&mut self) -> io::Result<()> {
        if let Some(pass) = self.pass.take() {
            // A helper waiting to hand a chunk over sees the channel closed and stops.
            drop(pass.chunks);
            let caller = pass.back.recv_timeout(self.idle).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the source's reader did not return from a read within {:?} (the idle timeout), so it could not start over",
                        self.idle
                    ),
                )
            })?;
            self.caller = Some(caller);
        }
        match &mut self.caller {
            Some(Caller::Seekable { reader, start }) => {
                reader.seek(SeekFrom::Start(*start))?;
                Ok(())
            }
            Some(Caller::Plain(_)) => Err(io::Error::other("a plain reader cannot be rewound")),
            None => Err(io::Error::other("the source's reader was lost")),
        }
    }

    /// Hands the reader to a new helper thread.
    fn start(&mut self) -> io::Result<&mut Pass> {
        let caller = self
            .caller
            .take()
            .ok_or_else(|| io::Error::other("the source's reader was lost"))?;
        let (to_upload, chunks) = mpsc::sync_channel(1);
        let (give_back, back) = mpsc::channel();
        let limit = self.limit;
        std::thread::Builder::new()
            .name("storyblok-assets-source".into())
            .spawn(move || {
                let caller = read_ahead(caller, limit, &to_upload);
                let _ = give_back.send(caller);
            })?;
        Ok(self.pass.insert(Pass {
            chunks,
            back,
            chunk: Vec::new(),
            at: 0,
            ended: false,
        }))
    }
}

/// The helper thread: reads at most `limit` bytes of `caller` into chunks, handing each
/// over, until the reader ends or fails or the upload stops taking them; returns the
/// reader.
fn read_ahead(mut caller: Caller, limit: u64, to_upload: &SyncSender<Message>) -> Caller {
    let mut left = limit;
    loop {
        let message = if left == 0 {
            Message::End
        } else {
            let mut chunk = vec![0; usize::try_from(left).map_or(CHUNK, |left| left.min(CHUNK))];
            match read_some(caller.reader(), &mut chunk) {
                Ok(0) => Message::End,
                Ok(n) => {
                    chunk.truncate(n);
                    left -= n as u64;
                    Message::Bytes(chunk)
                }
                Err(error) => Message::Failed(error),
            }
        };
        let last = !matches!(message, Message::Bytes(_));
        if to_upload.send(message).is_err() || last {
            return caller;
        }
    }
}

/// One read, tried again when interrupted.
fn read_some(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl Read for Pump {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let (idle, deadline) = (self.idle, self.deadline);
        let pass = match self.pass {
            Some(ref mut pass) => pass,
            None => self.start()?,
        };
        loop {
            if pass.at < pass.chunk.len() {
                let n = buf.len().min(pass.chunk.len() - pass.at);
                buf[..n].copy_from_slice(&pass.chunk[pass.at..pass.at + n]);
                pass.at += n;
                return Ok(n);
            }
            if pass.ended {
                return Ok(0);
            }
            let left = deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()));
            let wait = left.map_or(idle, |left| left.min(idle));
            match pass.chunks.recv_timeout(wait) {
                Ok(Message::Bytes(chunk)) => {
                    pass.chunk = chunk;
                    pass.at = 0;
                }
                Ok(Message::End) => pass.ended = true,
                Ok(Message::Failed(error)) => {
                    pass.ended = true;
                    return Err(error);
                }
                Err(RecvTimeoutError::Timeout) => {
                    let message = if left.is_some_and(|left| left < idle) {
                        "the upload's time budget (ClientBuilder::timeout_upload) ran out while waiting for the source's bytes".to_owned()
                    } else {
                        format!(
                            "the source gave no bytes for {idle:?} (the idle timeout, ClientBuilder::timeout_idle)"
                        )
                    };
                    return Err(io::Error::new(io::ErrorKind::TimedOut, message));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(io::Error::other("the source's reader panicked"));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that blocks until its `release` is dropped, then fails.
    struct Blocked(Receiver<()>);

    impl Read for Blocked {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            let _ = self.0.recv();
            Err(io::Error::other("released"))
        }
    }

    fn read_all(pump: &mut Pump) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        pump.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gives_the_bytes_in_order_and_no_more_than_declared() {
        let data: Vec<u8> = (0..=255).cycle().take(200_000).collect();
        let mut pump = Pump::new(
            Caller::Plain(Box::new(io::Cursor::new(data.clone()))),
            150_000,
        );
        assert_eq!(read_all(&mut pump).expect("read"), &data[..150_000]);
        assert!(pump.rewind().is_err(), "a plain reader does not start over");
    }

    #[test]
    fn a_seekable_reader_is_read_one_byte_past_and_starts_over() {
        let mut cursor = io::Cursor::new(b"skip-this!".to_vec());
        cursor.set_position(5);
        let caller = Caller::Seekable {
            reader: Box::new(cursor),
            start: 5,
        };
        let mut pump = Pump::new(caller, 4);
        // The fifth byte shows the reader is longer than declared.
        assert_eq!(read_all(&mut pump).expect("read"), b"this!");
        pump.rewind().expect("rewind");
        let mut first = [0u8; 2];
        pump.read_exact(&mut first).expect("read");
        assert_eq!(&first, b"th");
        // Rewound midway: the helper stops and gives the reader back.
        pump.rewind().expect("rewind midway");
        assert_eq!(read_all(&mut pump).expect("read"), b"this!");
    }

    #[test]
    fn a_stalled_read_times_out_and_its_thread_ends_when_it_returns() {
        let (release, blocked) = mpsc::channel();
        let mut pump = Pump::new(Caller::Plain(Box::new(Blocked(blocked))), 10);
        pump.bound(Duration::from_millis(50), None);
        let err = pump.read(&mut [0u8; 4]).expect_err("stalled");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("idle timeout"), "{err}");
        // The deadline, when it comes first, is what the error names.
        let (_release, blocked) = mpsc::channel();
        let mut pump = Pump::new(Caller::Plain(Box::new(Blocked(blocked))), 10);
        pump.bound(Duration::from_secs(60), Some(Instant::now()));
        let err = pump.read(&mut [0u8; 4]).expect_err("past the deadline");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(err.to_string().contains("timeout_upload"), "{err}");
        // The first read returns (with its error) once released.
        drop(release);
    }

    #[test]
    fn reads_at_most_three_chunks_ahead() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering};
        /// Endless bytes, counting how many were read.
        struct Counted(Arc<AtomicU64>);
        impl Read for Counted {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                buf.fill(7);
                self.0.fetch_add(buf.len() as u64, Ordering::SeqCst);
                Ok(buf.len())
            }
        }
        let produced = Arc::new(AtomicU64::new(0));
        let len = 40 * CHUNK as u64;
        let mut pump = Pump::new(Caller::Plain(Box::new(Counted(Arc::clone(&produced)))), len);
        let mut consumed = 0u64;
        let mut buf = vec![0u8; 4096];
        let mut ahead = 0;
        loop {
            let n = pump.read(&mut buf).expect("read");
            if n == 0 {
                break;
            }
            consumed += n as u64;
            // Give the helper time to run ahead as far as it can.
            if consumed.is_multiple_of(CHUNK as u64 * 4) {
                std::thread::sleep(Duration::from_millis(5));
            }
            ahead = ahead.max(produced.load(Ordering::SeqCst) - consumed);
        }
        assert_eq!(consumed, len);
        assert_eq!(
            produced.load(Ordering::SeqCst),
            len,
            "not read past its length"
        );
        assert!(ahead <= 3 * CHUNK as u64, "{ahead} bytes read ahead");
    }

    #[test]
    fn a_reader_that_panics_is_an_error() {
        struct Panics;
        impl Read for Panics {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                panic!("a caller's bug");
            }
        }
        let mut pump = Pump::new(Caller::Plain(Box::new(Panics)), 10);
        pump.bound(Duration::from_secs(5), None);
        let err = pump.read(&mut [0u8; 4]).expect_err("panicked");
        assert!(err.to_string().contains("panicked"), "{err}");
    }
}
