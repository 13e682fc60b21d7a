//! A tiny std-only HTTP/1.1 server: one thread per connection, keep-alive, whole bodies in
//! memory. Just enough for the emulator; not for the open internet, though it bounds what a
//! client can make it hold: a head of at most 64 KiB, a body of at most what the handler
//! allows, and a connection idle for longer than the idle timeout is closed.
//!
//! The handler sees each request twice: its head first, when it decides whether to answer
//! right away or read the body ([`Plan`]), then, if it chose to read, the whole request.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The most bytes a request line plus headers may take.
const MAX_HEAD: usize = 64 * 1024;
/// The longest chunk-size or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;
/// After answering a request whose body it did not read, the server reads and discards at
/// most this much of it before closing, so the answer is not lost to a TCP reset...
const LINGER_BYTES: u64 = 1 << 20;
/// ...for at most this long.
const LINGER_TIME: Duration = Duration::from_secs(2);

/// A request line and headers, read before the body.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub(crate) method: String,
    /// The request target, query included.
    pub(crate) target: String,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    /// The declared `Content-Length`; `None` when absent or when the body is chunked.
    pub(crate) content_length: Option<u64>,
    /// Whether the body is `Transfer-Encoding: chunked`.
    pub(crate) chunked: bool,
}

impl Head {
    /// The first header called `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether a body follows the head.
    pub(crate) fn has_body(&self) -> bool {
        self.chunked || self.content_length.is_some_and(|n| n > 0)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// A whole request as read from the socket (the handler saw its method in the [`Head`]).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The request target, query included.
    pub(crate) target: String,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    /// The body; empty when it was too large to read.
    pub(crate) body: Vec<u8>,
    /// The body was longer than the plan allowed: declared so (then none of it was read) or
    /// found so while reading a chunked body. The connection is closed after the answer.
    pub(crate) too_large: bool,
}

impl Request {
    /// The first header called `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// A response to write.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    /// Shared, so that serving a stored object does not copy it.
    pub(crate) body: Arc<Vec<u8>>,
    /// Send the headers (`Content-Length` included) but not the body: the answer to `HEAD`.
    pub(crate) head_only: bool,
    /// Send the head at once, then the body one byte at a time, each after this pause.
    pub(crate) drip: Option<Duration>,
    /// Send the head and about half the body, then close the connection.
    pub(crate) cut: bool,
}

impl Response {
    /// A response with a `Content-Type` and a body.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: Arc::new(body.into()),
            head_only: false,
            drip: None,
            cut: false,
        }
    }

    /// A response with no body and no `Content-Type`, such as a 204.
    pub(crate) fn empty(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Arc::default(),
            head_only: false,
            drip: None,
            cut: false,
        }
    }
}

/// What the handler wants done with a request.
pub(crate) enum Outcome {
    /// Answer it.
    Respond(Response),
    /// Close the connection without answering.
    Drop,
}

/// The second half of handling a request, once its body is read: the request, or the answer
/// the server gives a body it cannot read (a malformed chunked body: 400, or 431 for a chunk
/// line too long), which the handler passes on (or drops) as its outcome.
pub(crate) type Then = Box<dyn FnOnce(Result<Request, Response>) -> Outcome>;

/// What the handler wants done with a request once it has seen its head.
pub(crate) enum Plan {
    /// Read the body, at most `max_body` bytes, then hand the request to `then`. A body
    /// declared longer is not read at all, and a chunked body is read no further than the
    /// limit: `then` sees [`Request::too_large`], and the connection closes after the answer.
    /// A malformed body: `then` sees the server's refusal instead, and the connection closes.
    Read { max_body: u64, then: Then },
    /// Answer from the head alone. A body, if the request has one, is not read, and the
    /// connection closes after the answer.
    Respond(Response),
    /// Read at most this many bytes of the body, then close the connection without answering.
    Cut(u64),
}

/// The function every request head goes through.
pub(crate) type Handler = Arc<dyn Fn(&Head) -> Plan + Send + Sync>;

/// A running server; dropping it stops the listener and closes every open connection.
pub(crate) struct Server {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `handler` on a background thread, on a bound `listener` (bound first, so that
    /// the handler can be built knowing the address). A connection on which no byte arrives
    /// for `idle_timeout`, or whose request head takes longer than that to arrive, or that
    /// does not take a response for that long, is closed.
    pub(crate) fn start(
        listener: TcpListener,
        idle_timeout: Duration,
        handler: Handler,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let idle_timeout = idle_timeout.max(Duration::from_millis(1));
        let acceptor = {
            let stopping = Arc::clone(&stopping);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("storyblok-emulator".into())
                .spawn(move || {
                    accept_loop(&listener, &stopping, &connections, &handler, idle_timeout);
                })?
        };
        Ok(Server {
            addr,
            stopping,
            connections,
            acceptor: Some(acceptor),
        })
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many connections are open (their threads running).
    #[cfg(test)]
    pub(crate) fn open_connections(&self) -> usize {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the thread sees the flag.
        let woke = TcpStream::connect(self.addr).is_ok();
        for stream in self
            .connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
        {
            let _ = stream.shutdown(Shutdown::Both);
        }
        if let Some(acceptor) = self.acceptor.take() {
            if woke {
                let _ = acceptor.join();
            }
        }
    }
}

fn accept_loop(
    listener: &TcpListener,
    stopping: &AtomicBool,
    connections: &Arc<Mutex<HashMap<u64, TcpStream>>>,
    handler: &Handler,
    idle_timeout: Duration,
) {
    static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(0);
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
        if let Ok(clone) = stream.try_clone() {
            connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id, clone);
        }
        let forget = Forget {
            connections: Arc::clone(connections),
            id,
        };
        let handler = Arc::clone(handler);
        // Out of threads, the closure is dropped unrun, and the stream and `forget` with it.
        let _ = std::thread::Builder::new()
            .name("storyblok-emulator-conn".into())
            .spawn(move || {
                // Forgotten however the thread ends, a panic included.
                let _forget = forget;
                let _ = serve_connection(stream, &handler, idle_timeout);
            });
    }
}

/// Removes a connection's stream from the open ones when its thread ends, however it ends:
/// the clone kept there would otherwise hold the socket open, and a client whose request
/// panicked the handler would wait for an answer forever.
struct Forget {
    connections: Arc<Mutex<HashMap<u64, TcpStream>>>,
    id: u64,
}

impl Drop for Forget {
    fn drop(&mut self) {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// The read half of a connection: every read waits at most the idle timeout, and none goes
/// past the deadline, when one is set.
struct Conn {
    stream: TcpStream,
    idle: Duration,
    deadline: Option<Instant>,
    /// The read timeout currently set on the socket.
    current: Option<Duration>,
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = match self.deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::ErrorKind::TimedOut.into());
                }
                left.min(self.idle)
            }
            None => self.idle,
        };
        if self.current != Some(timeout) {
            self.stream.set_read_timeout(Some(timeout))?;
            self.current = Some(timeout);
        }
        self.stream.read(buf)
    }
}

type Reader = BufReader<Conn>;

/// Why a request could not be read.
enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// A socket error, or a timeout.
    Io,
    /// A request the server refuses, answered with this status before closing.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Io
    }
}

/// What to do with the connection after answering.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum After {
    /// Keep it open for the next request.
    KeepAlive,
    /// Close it.
    Close,
    /// Close it, first reading a little of the body the server left unread.
    Linger,
}

/// The keep-alive loop of one connection.
fn serve_connection(stream: TcpStream, handler: &Handler, idle: Duration) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    stream.set_write_timeout(Some(idle))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(Conn {
        stream,
        idle,
        deadline: None,
        current: None,
    });
    loop {
        let (outcome, after) = match exchange(&mut reader, &mut writer, handler) {
            Ok(exchanged) => exchanged,
            Err(ReadError::Closed | ReadError::Io) => return Ok(()),
            Err(ReadError::Bad(status)) => {
                write_response(&mut writer, &refusal(status), false)?;
                linger(&mut reader, &writer);
                return Ok(());
            }
        };
        match outcome {
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Outcome::Respond(response) => {
                write_response(&mut writer, &response, after == After::KeepAlive)?;
                match after {
                    After::KeepAlive => {}
                    After::Close => {
                        let _ = writer.shutdown(Shutdown::Write);
                        return Ok(());
                    }
                    After::Linger => {
                        linger(&mut reader, &writer);
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Closes a connection whose request body was not read, without losing the answer: a close
/// with unread data in the receive buffer sends a TCP reset, which can destroy the answer in
/// flight. So: stop writing, then read and discard a bounded amount for a bounded time.
fn linger(reader: &mut Reader, writer: &TcpStream) {
    let _ = writer.shutdown(Shutdown::Write);
    reader.get_mut().deadline = Some(Instant::now() + LINGER_TIME);
    let _ = io::copy(&mut reader.by_ref().take(LINGER_BYTES), &mut io::sink());
}

/// Reads one request, as far as the handler's plan says, and returns what to do with it and
/// with the connection afterwards.
fn exchange(
    reader: &mut Reader,
    writer: &mut TcpStream,
    handler: &Handler,
) -> Result<(Outcome, After), ReadError> {
    // The next head must arrive, whole, within the idle timeout.
    let idle = reader.get_ref().idle;
    reader.get_mut().deadline = Some(Instant::now() + idle);
    let incoming = read_head(reader)?;
    reader.get_mut().deadline = None;
    let keep_alive = if incoming.keep_alive {
        After::KeepAlive
    } else {
        After::Close
    };
    let has_body = incoming.head.has_body();
    let is_head = incoming.head.method == "HEAD";
    match handler(&incoming.head) {
        Plan::Cut(limit) => {
            if limit > 0 {
                send_continue(writer, &incoming)?;
            }
            // Errors do not matter: the connection is closed either way.
            let _ = io::copy(&mut reader.by_ref().take(limit), &mut io::sink());
            Ok((Outcome::Drop, After::Close))
        }
        Plan::Respond(response) => {
            let after = if has_body { After::Linger } else { keep_alive };
            Ok((for_head(Outcome::Respond(response), is_head), after))
        }
        Plan::Read { max_body, then } => {
            let declared_too_large = incoming.head.content_length.is_some_and(|n| n > max_body);
            let body = if declared_too_large {
                None
            } else {
                send_continue(writer, &incoming)?;
                match read_body(reader, &incoming, max_body) {
                    Ok(body) => body,
                    // A malformed body: the handler sees the refusal, which closes the
                    // connection.
                    Err(ReadError::Bad(status)) => {
                        let outcome = then(Err(refusal(status)));
                        return Ok((for_head(outcome, is_head), After::Linger));
                    }
                    Err(error) => return Err(error),
                }
            };
            let head = incoming.head;
            let too_large = body.is_none();
            let request = Request {
                target: head.target,
                headers: head.headers,
                body: body.unwrap_or_default(),
                too_large,
            };
            let after = if too_large { After::Linger } else { keep_alive };
            Ok((for_head(then(Ok(request)), is_head), after))
        }
    }
}

/// The answer to a `HEAD` request carries no body, whatever the handler said.
fn for_head(outcome: Outcome, is_head: bool) -> Outcome {
    match outcome {
        Outcome::Respond(mut response) if is_head => {
            response.head_only = true;
            Outcome::Respond(response)
        }
        other => other,
    }
}

/// A request head plus how its body is framed.
struct Incoming {
    head: Head,
    keep_alive: bool,
    expects_continue: bool,
}

/// Reads a request line and headers.
fn read_head(reader: &mut Reader) -> Result<Incoming, ReadError> {
    let mut head_len = 0usize;
    // The request line; empty lines before it are ignored (RFC 9112 §2.2).
    let request_line = loop {
        let line = read_line(reader, MAX_HEAD.saturating_sub(head_len))?;
        let Some(line) = line else {
            return Err(if head_len == 0 {
                ReadError::Closed
            } else {
                ReadError::Io
            });
        };
        head_len += line.len() + 2;
        if !line.is_empty() {
            break line;
        }
    };
    let mut pieces = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (pieces.next(), pieces.next(), pieces.next(), pieces.next())
    else {
        return Err(ReadError::Bad(400));
    };
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(ReadError::Bad(505)),
    };
    if method.is_empty() || !target.starts_with('/') {
        return Err(ReadError::Bad(400));
    }
    let mut headers = Vec::new();
    loop {
        let Some(line) = read_line(reader, MAX_HEAD.saturating_sub(head_len))? else {
            return Err(ReadError::Io);
        };
        head_len += line.len() + 2;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Bad(400));
        };
        if name.is_empty() || name.ends_with([' ', '\t']) {
            return Err(ReadError::Bad(400));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    let connection = header(&headers, "connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !connection.split(',').any(|t| t.trim() == "close")
    };
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let content_length = if chunked {
        None
    } else {
        let mut lengths = headers.iter().filter(|(n, _)| n == "content-length");
        match lengths.next() {
            None => None,
            Some((_, first)) => {
                let n: u64 = first.parse().map_err(|_| ReadError::Bad(400))?;
                if lengths.any(|(_, v)| v != first) {
                    return Err(ReadError::Bad(400));
                }
                Some(n)
            }
        }
    };
    let expects_continue =
        header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    Ok(Incoming {
        head: Head {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            content_length,
            chunked,
        },
        keep_alive,
        expects_continue,
    })
}

/// Answers `Expect: 100-continue` when the request has a body to send.
fn send_continue(writer: &mut TcpStream, incoming: &Incoming) -> Result<(), ReadError> {
    if incoming.expects_continue && incoming.head.has_body() {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    Ok(())
}

/// Reads the whole body of a request whose head was read; `None` if a chunked body turns out
/// longer than `max` (a declared length was checked before).
fn read_body(
    reader: &mut Reader,
    incoming: &Incoming,
    max: u64,
) -> Result<Option<Vec<u8>>, ReadError> {
    if incoming.head.chunked {
        return read_chunked(reader, max);
    }
    let Some(length) = incoming.head.content_length else {
        return Ok(Some(Vec::new()));
    };
    let mut body = Vec::with_capacity(usize::try_from(length.min(1 << 20)).unwrap_or(0));
    reader.by_ref().take(length).read_to_end(&mut body)?;
    if (body.len() as u64) < length {
        return Err(ReadError::Io);
    }
    Ok(Some(body))
}

/// Reads a line of at most `limit` bytes (CRLF or bare LF), without its terminator. `None` at
/// end of stream before any byte.
fn read_line(reader: &mut Reader, limit: usize) -> Result<Option<String>, ReadError> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(limit as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        // Either the limit was hit or the peer hung up mid-line.
        return Err(if line.len() > limit {
            ReadError::Bad(431)
        } else {
            ReadError::Io
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| ReadError::Bad(400))
}

/// Reads a `Transfer-Encoding: chunked` body, discarding extensions and trailers; `None` as
/// soon as it would grow past `max` bytes.
fn read_chunked(reader: &mut Reader, max: u64) -> Result<Option<Vec<u8>>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader, MAX_CHUNK_LINE)?.ok_or(ReadError::Io)?;
        let size = line.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| ReadError::Bad(400))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(reader, MAX_CHUNK_LINE)?
                .ok_or(ReadError::Io)?
                .is_empty()
            {}
            return Ok(Some(body));
        }
        let before = body.len() as u64;
        if before.saturating_add(size) > max {
            return Ok(None);
        }
        reader.by_ref().take(size).read_to_end(&mut body)?;
        if body.len() as u64 - before < size {
            return Err(ReadError::Io);
        }
        if !read_line(reader, 2)?.ok_or(ReadError::Io)?.is_empty() {
            return Err(ReadError::Bad(400));
        }
    }
}

/// Writes a response with an exact `Content-Length` (none for 1xx, 204 and 304).
fn write_response(writer: &mut TcpStream, response: &Response, keep_alive: bool) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nDate: {}\r\nServer: storyblok-assets-emulator\r\n",
        response.status,
        reason(response.status),
        crate::clock::format_http_date(std::time::SystemTime::now())
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let bodyless = matches!(response.status, 100..=199 | 204 | 304);
    if !bodyless {
        head.push_str(&format!("Content-Length: {}\r\n", response.body.len()));
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let body = !bodyless && !response.head_only;
    if response.cut && body {
        let half = crate::fault::cut_point(Some(response.body.len() as u64));
        let sent = response.body.get(..half as usize).unwrap_or_default();
        writer.write_all(head.as_bytes())?;
        writer.write_all(sent)?;
        writer.flush()?;
        let _ = writer.shutdown(Shutdown::Both);
        return Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "answer cut",
        ));
    }
    if let Some(pause) = response.drip.filter(|_| body) {
        writer.write_all(head.as_bytes())?;
        writer.flush()?;
        for byte in response.body.iter() {
            std::thread::sleep(pause);
            // A client that gave up closed the connection: the write fails and this ends.
            writer.write_all(&[*byte])?;
            writer.flush()?;
        }
        return Ok(());
    }
    if bodyless || response.head_only || response.body.len() <= 64 * 1024 {
        let mut out = head.into_bytes();
        if !bodyless && !response.head_only {
            out.extend_from_slice(&response.body);
        }
        writer.write_all(&out)?;
    } else {
        // A large body goes out as it is, not copied behind the head.
        writer.write_all(head.as_bytes())?;
        writer.write_all(&response.body)?;
    }
    writer.flush()
}

/// The server's own answer to a request it cannot read: the status and its reason phrase.
fn refusal(status: u16) -> Response {
    Response::new(
        status,
        "text/plain; charset=utf-8",
        reason(status).as_bytes(),
    )
}

/// The reason phrase of the statuses the emulator is likely to send.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDLE: Duration = Duration::from_secs(5);

    fn echo_server() -> Server {
        echo_server_with(IDLE)
    }

    fn echo_server_with(idle: Duration) -> Server {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binds");
        Server::start(
            listener,
            idle,
            Arc::new(|head: &Head| {
                if head.target == "/cut" {
                    return Plan::Cut(head.content_length.unwrap_or(0) / 2);
                }
                if head.target == "/panic" {
                    panic!("the handler panics (expected by a test)");
                }
                if head.target == "/now" {
                    return Plan::Respond(Response::new(401, "text/plain", "no"));
                }
                let method = head.method.clone();
                Plan::Read {
                    max_body: 100,
                    then: Box::new(move |req: Result<Request, Response>| {
                        let req = match req {
                            Ok(req) => req,
                            Err(refusal) => return Outcome::Respond(refusal),
                        };
                        if req.target == "/drop" {
                            return Outcome::Drop;
                        }
                        if req.too_large {
                            return Outcome::Respond(Response::new(413, "text/plain", "big"));
                        }
                        let body = format!(
                            "{} {} {} {}",
                            method,
                            req.target,
                            req.body.len(),
                            req.header("content-length").is_some()
                        );
                        Outcome::Respond(Response::new(200, "text/plain", body))
                    }),
                }
            }),
        )
        .expect("binds")
    }

    fn exchange(server: &Server, raw: &[u8]) -> String {
        let mut s = TcpStream::connect(server.addr()).expect("connects");
        s.write_all(raw).expect("writes");
        let _ = s.shutdown(Shutdown::Write);
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    #[test]
    fn keep_alive_then_close() {
        let server = echo_server();
        let out = exchange(
            &server,
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabcGET /never HTTP/1.1\r\n\r\n",
        );
        assert!(out.contains("GET /a 0 false"), "{out}");
        assert!(out.contains("POST /b 3 true"), "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        assert!(!out.contains("/never"), "{out}");
    }

    #[test]
    fn chunked_and_continue() {
        let server = echo_server();
        let out = exchange(
            &server,
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
        );
        assert!(
            out.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"),
            "{out}"
        );
        assert!(out.contains("POST /c 5 false"), "{out}");
    }

    #[test]
    fn oversized_head_and_garbage() {
        let server = echo_server();
        let mut raw = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        raw.extend_from_slice(b"\r\n\r\n");
        assert!(exchange(&server, &raw).starts_with("HTTP/1.1 431 "));
        assert!(exchange(&server, b"nonsense\r\n\r\n").starts_with("HTTP/1.1 400 "));
        assert!(exchange(&server, b"GET / HTTP/2\r\n\r\n").starts_with("HTTP/1.1 505 "));
    }

    #[test]
    fn drop_closes_without_answer() {
        let server = echo_server();
        assert_eq!(exchange(&server, b"GET /drop HTTP/1.1\r\n\r\n"), "");
    }

    #[test]
    fn cut_closes_mid_body_without_answer() {
        let server = echo_server();
        let mut s = TcpStream::connect(server.addr()).expect("connects");
        s.write_all(b"POST /cut HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n")
            .expect("writes the head");
        let chunk = [b'x'; 16 * 1024];
        // Writing fails once the server has closed, or reading ends right away: no answer.
        let _ = (0..1_000_000 / chunk.len()).try_for_each(|_| s.write_all(&chunk));
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
        // The server goes on serving other connections.
        assert!(
            exchange(&server, b"GET /a HTTP/1.1\r\nConnection: close\r\n\r\n").contains("GET /a 0")
        );
    }

    #[test]
    fn bodies_over_the_limit_are_refused() {
        let server = echo_server();
        // Declared too long: answered without reading, and the connection is closed.
        let out = exchange(
            &server,
            b"POST /a HTTP/1.1\r\nContent-Length: 101\r\nExpect: 100-continue\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        assert!(!out.contains("100 Continue"), "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        // At the limit: read.
        let mut raw =
            b"POST /a HTTP/1.1\r\nContent-Length: 100\r\nConnection: close\r\n\r\n".to_vec();
        raw.extend([b'x'; 100]);
        assert!(exchange(&server, &raw).contains("POST /a 100 true"));
        // Chunked: read until it grows past the limit.
        let mut raw = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..3 {
            raw.extend_from_slice(b"28\r\n");
            raw.extend([b'y'; 40]);
            raw.extend_from_slice(b"\r\n");
        }
        raw.extend_from_slice(b"0\r\n\r\nGET /next HTTP/1.1\r\n\r\n");
        let out = exchange(&server, &raw);
        assert!(out.starts_with("HTTP/1.1 413 "), "{out}");
        assert!(out.contains("Connection: close"), "{out}");
        assert!(!out.contains("/next"), "{out}");
        // Chunked within the limit.
        let out = exchange(
            &server,
            b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n64\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n0\r\n\r\n",
        );
        assert!(out.contains("POST /a 100 false"), "{out}");
    }

    #[test]
    fn answers_from_the_head_close_only_when_a_body_is_left_unread() {
        let server = echo_server();
        // No body: the connection stays open for the next request.
        let out = exchange(
            &server,
            b"GET /now HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert!(out.starts_with("HTTP/1.1 401 "), "{out}");
        assert!(out.contains("GET /b 0"), "{out}");
        // A body it did not read: the answer still arrives whole, then the connection closes
        // without a reset even though the client sent a large body.
        let mut s = TcpStream::connect(server.addr()).expect("connects");
        s.write_all(b"POST /now HTTP/1.1\r\nContent-Length: 300000\r\n\r\n")
            .expect("head");
        let _ = s.write_all(&[b'z'; 300_000]);
        let mut out = String::new();
        s.read_to_string(&mut out).expect("an answer, not a reset");
        assert!(out.starts_with("HTTP/1.1 401 "), "{out}");
        assert!(
            out.contains("Connection: close") && out.ends_with("no"),
            "{out}"
        );
    }

    #[test]
    fn head_only_responses_declare_the_length_without_the_body() {
        let server = echo_server();
        let out = exchange(&server, b"HEAD /h HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.contains("Content-Length: 15\r\n"), "{out}"); // "HEAD /h 0 false"
        assert!(out.ends_with("\r\n\r\n"), "{out}");
        // Also an answer given from the head, whatever the handler set.
        let out = exchange(&server, b"HEAD /now HTTP/1.1\r\nConnection: close\r\n\r\n");
        assert!(out.starts_with("HTTP/1.1 401 "), "{out}");
        assert!(out.contains("Content-Length: 2\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "{out}");
    }

    #[test]
    fn a_dripped_body_comes_whole_a_byte_at_a_time() {
        let mut response = Response::new(200, "application/json", &b"{\"id\":1}"[..]);
        response.drip = Some(Duration::from_millis(1));
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binds");
        let addr = listener.local_addr().expect("addr");
        let reader = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connects");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out
        });
        let (mut stream, _) = listener.accept().expect("accepts");
        write_response(&mut stream, &response, false).expect("writes");
        drop(stream);
        let out = reader.join().expect("reader");
        assert!(out.ends_with(b"\r\n\r\n{\"id\":1}"), "{out:?}");
        assert!(String::from_utf8_lossy(&out).contains("Content-Length: 8\r\n"));
    }

    #[test]
    fn large_bodies_are_written_whole() {
        let body = vec![b'q'; 300_000];
        let mut response = Response::new(200, "application/octet-stream", body.clone());
        response.head_only = false;
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("binds");
        let addr = listener.local_addr().expect("addr");
        let reader = std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).expect("connects");
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            out
        });
        let (mut stream, _) = listener.accept().expect("accepts");
        write_response(&mut stream, &response, false).expect("writes");
        drop(stream);
        let out = reader.join().expect("reader");
        assert!(out.ends_with(&body));
        assert!(String::from_utf8_lossy(&out[..200]).contains("Content-Length: 300000"));
    }

    #[test]
    fn idle_and_slow_connections_are_closed() {
        let server = echo_server_with(Duration::from_millis(200));
        let started = Instant::now();
        // An idle keep-alive connection.
        let mut idle = TcpStream::connect(server.addr()).expect("connects");
        idle.write_all(b"GET /a HTTP/1.1\r\n\r\n").expect("writes");
        let mut buf = [0u8; 1024];
        assert!(idle.read(&mut buf).expect("answer") > 0);
        // A slow client that trickles its head, one byte at a time, never finishing it.
        let mut slow = TcpStream::connect(server.addr()).expect("connects");
        let trickle = std::thread::spawn(move || {
            let started = Instant::now();
            for byte in b"GET /never-ending HTTP/1.1\r\nX-Slow: "
                .iter()
                .cycle()
                .take(200)
            {
                if slow.write_all(&[*byte]).is_err() {
                    return started.elapsed();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let mut rest = Vec::new();
            let _ = slow.read_to_end(&mut rest);
            started.elapsed()
        });
        let mut rest = Vec::new();
        let _ = idle.read_to_end(&mut rest);
        assert!(rest.is_empty());
        assert!(started.elapsed() < Duration::from_secs(3));
        // Cut off at the head's deadline (200 ms), long before its 200 bytes at 20 ms each
        // (4 s) were sent.
        let cut_after = trickle.join().expect("trickle");
        assert!(cut_after < Duration::from_secs(2), "{cut_after:?}");
        // Both threads are gone.
        let deadline = Instant::now() + Duration::from_secs(2);
        while server.open_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.open_connections(), 0);
    }

    #[test]
    fn a_panicking_handler_closes_its_connection() {
        let server = echo_server();
        let mut s = TcpStream::connect(server.addr()).expect("connects");
        s.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        s.write_all(b"GET /panic HTTP/1.1\r\n\r\n").expect("writes");
        let mut out = Vec::new();
        // Closed without an answer, not left open until the read times out.
        assert_eq!(s.read_to_end(&mut out).map_err(|e| e.kind()), Ok(0));
        let deadline = Instant::now() + Duration::from_secs(2);
        while server.open_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(server.open_connections(), 0);
    }

    #[test]
    fn stops_on_drop() {
        let server = echo_server();
        let addr = server.addr();
        let mut idle = TcpStream::connect(addr).expect("connects");
        idle.write_all(b"GET /a HTTP/1.1\r\n\r\n").expect("writes");
        let mut buf = [0u8; 1024];
        let n = idle.read(&mut buf).expect("answer");
        assert!(n > 0);
        drop(server);
        // The idle keep-alive connection is closed by the server, and the listener is gone.
        let mut rest = Vec::new();
        let _ = idle.read_to_end(&mut rest);
        assert!(TcpStream::connect(addr).is_err());
    }
}
