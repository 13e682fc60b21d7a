//! A tiny std-only HTTP/1.1 server: one thread per connection, keep-alive, whole bodies in
//! memory. Just enough for the emulator; not for the open internet.
//!
//! The handler sees each request twice: its head first, when it decides whether to read the
//! body ([`Plan`]), then, if it chose to, the whole request.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// The most bytes a request line plus headers may take.
const MAX_HEAD: usize = 64 * 1024;
/// The longest chunk-size or trailer line accepted in a chunked body.
const MAX_CHUNK_LINE: usize = 4096;

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
}

/// A whole request as read from the socket (the handler saw its method in the [`Head`]).
#[derive(Clone, Debug)]
pub(crate) struct Request {
    /// The request target, query included.
    pub(crate) target: String,
    /// Header names lower-cased, in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    /// Whether the request declared a `Content-Length` (and was not chunked).
    pub(crate) has_content_length: bool,
}

impl Request {
    /// The first header called `name` (lower-case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A response to write.
#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// A response with a `Content-Type` and a body.
    pub(crate) fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.into(),
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

/// What the handler wants done with a request once it has seen its head.
pub(crate) enum Plan {
    /// Read the whole body, then hand the request to this.
    Read(Box<dyn FnOnce(Request) -> Outcome>),
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
    /// Binds `127.0.0.1:0` and serves `handler` on a background thread.
    pub(crate) fn start(handler: Handler) -> io::Result<Server> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<HashMap<u64, TcpStream>>> = Arc::default();
        let acceptor = {
            let stopping = Arc::clone(&stopping);
            let connections = Arc::clone(&connections);
            std::thread::Builder::new()
                .name("storyblok-emulator".into())
                .spawn(move || accept_loop(&listener, &stopping, &connections, &handler))?
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
        let connections = Arc::clone(connections);
        let handler = Arc::clone(handler);
        let spawned = std::thread::Builder::new()
            .name("storyblok-emulator-conn".into())
            .spawn(move || {
                let _ = serve_connection(stream, &handler);
                connections
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&id);
            });
        if spawned.is_err() {
            // Out of threads: the stream was moved into the closure and is dropped with it.
            continue;
        }
    }
}

/// Why a request could not be read.
enum ReadError {
    /// The peer closed the connection between requests.
    Closed,
    /// A socket error.
    Io,
    /// A request the server refuses, answered with this status before closing.
    Bad(u16),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> ReadError {
        ReadError::Io
    }
}

/// The keep-alive loop of one connection.
fn serve_connection(stream: TcpStream, handler: &Handler) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let (outcome, keep_alive) = match exchange(&mut reader, &mut writer, handler) {
            Ok(exchanged) => exchanged,
            Err(ReadError::Closed | ReadError::Io) => return Ok(()),
            Err(ReadError::Bad(status)) => {
                let mut response = Response::new(status, "text/plain; charset=utf-8", "");
                response.body = reason(status).as_bytes().to_vec();
                write_response(&mut writer, &response, false)?;
                return Ok(());
            }
        };
        match outcome {
            Outcome::Drop => {
                let _ = writer.shutdown(Shutdown::Both);
                return Ok(());
            }
            Outcome::Respond(response) => {
                write_response(&mut writer, &response, keep_alive)?;
                if !keep_alive {
                    let _ = writer.shutdown(Shutdown::Write);
                    return Ok(());
                }
            }
        }
    }
}

/// Reads one request, as far as the handler's plan says, and returns what to do with it and
/// whether the connection stays open afterwards.
fn exchange(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    handler: &Handler,
) -> Result<(Outcome, bool), ReadError> {
    let incoming = read_head(reader)?;
    match handler(&incoming.head) {
        Plan::Cut(limit) => {
            if limit > 0 {
                send_continue(writer, &incoming)?;
            }
            // Errors do not matter: the connection is closed either way.
            let _ = io::copy(&mut reader.by_ref().take(limit), &mut io::sink());
            Ok((Outcome::Drop, false))
        }
        Plan::Read(then) => {
            send_continue(writer, &incoming)?;
            let body = read_body(reader, &incoming)?;
            let head = incoming.head;
            let request = Request {
                has_content_length: head.content_length.is_some(),
                target: head.target,
                headers: head.headers,
                body,
            };
            Ok((then(request), incoming.keep_alive))
        }
    }
}

/// A request head plus how its body is framed.
struct Incoming {
    head: Head,
    keep_alive: bool,
    chunked: bool,
    expects_continue: bool,
}

/// Reads a request line and headers.
fn read_head(reader: &mut BufReader<TcpStream>) -> Result<Incoming, ReadError> {
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
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let connection = header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep_alive = if http10 {
        connection.split(',').any(|t| t.trim() == "keep-alive")
    } else {
        !connection.split(',').any(|t| t.trim() == "close")
    };
    let chunked =
        header("transfer-encoding").is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
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
    let expects_continue = header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
    Ok(Incoming {
        head: Head {
            method: method.to_string(),
            target: target.to_string(),
            headers,
            content_length,
        },
        keep_alive,
        chunked,
        expects_continue,
    })
}

/// Answers `Expect: 100-continue` when the request has a body to send.
fn send_continue(writer: &mut TcpStream, incoming: &Incoming) -> Result<(), ReadError> {
    let has_body = incoming.chunked || incoming.head.content_length.is_some_and(|n| n > 0);
    if incoming.expects_continue && has_body {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        writer.flush()?;
    }
    Ok(())
}

/// Reads the whole body of a request whose head was read.
fn read_body(reader: &mut BufReader<TcpStream>, incoming: &Incoming) -> Result<Vec<u8>, ReadError> {
    if incoming.chunked {
        return read_chunked(reader);
    }
    let Some(length) = incoming.head.content_length else {
        return Ok(Vec::new());
    };
    let mut body = Vec::with_capacity(usize::try_from(length.min(1 << 20)).unwrap_or(0));
    reader.by_ref().take(length).read_to_end(&mut body)?;
    if (body.len() as u64) < length {
        return Err(ReadError::Io);
    }
    Ok(body)
}

/// Reads a line of at most `limit` bytes (CRLF or bare LF), without its terminator. `None` at
/// end of stream before any byte.
fn read_line(reader: &mut BufReader<TcpStream>, limit: usize) -> Result<Option<String>, ReadError> {
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

/// Reads a `Transfer-Encoding: chunked` body, discarding extensions and trailers.
fn read_chunked(reader: &mut BufReader<TcpStream>) -> Result<Vec<u8>, ReadError> {
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
            return Ok(body);
        }
        let before = body.len() as u64;
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
    let mut out = head.into_bytes();
    if !bodyless {
        out.extend_from_slice(&response.body);
    }
    writer.write_all(&out)?;
    writer.flush()
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

    fn echo_server() -> Server {
        Server::start(Arc::new(|head: &Head| {
            if head.target == "/cut" {
                return Plan::Cut(head.content_length.unwrap_or(0) / 2);
            }
            let method = head.method.clone();
            Plan::Read(Box::new(move |req: Request| {
                if req.target == "/drop" {
                    return Outcome::Drop;
                }
                let body = format!(
                    "{} {} {} {}",
                    method,
                    req.target,
                    req.body.len(),
                    req.has_content_length
                );
                Outcome::Respond(Response::new(200, "text/plain", body))
            }))
        }))
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
