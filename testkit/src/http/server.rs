//! A small HTTP/1.1 server on `std::net`, one thread per connection, for the local IdPs and
//! upstreams.
//!
//! It keeps connections alive (Envoy's connection pools reuse them) and reads pipelined
//! requests in order, answers `Expect: 100-continue`, and refuses what is over its [`Limits`]
//! or malformed with a 4xx before closing. A handler may also leave a request unanswered
//! ([`Outcome::Hang`]) or drop the connection without an answer ([`Outcome::Reset`]): the
//! faults an IdP has. Idle connections are closed only after a long timeout, so that Envoy
//! never sends a request on a connection the server is closing; dropping the [`Server`] stops
//! it and closes every connection it holds.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::request::Request;
use super::response::{reason_phrase, Response};

/// What a handler wants done with a request.
pub enum Outcome {
    Reply(Response),
    /// Never answer; hold the connection until the peer closes it (or the server stops).
    Hang,
    /// Close the connection without an answer.
    Reset,
}

impl From<Response> for Outcome {
    fn from(response: Response) -> Outcome {
        Outcome::Reply(response)
    }
}

/// What a server does with each request.
pub type Handler = Arc<dyn Fn(&Request) -> Outcome + Send + Sync>;

/// What a server accepts.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Request line and headers together; more is refused with 431.
    pub head_bytes: u64,
    /// A larger body is refused with 413.
    pub body_bytes: usize,
    /// Whether `transfer-encoding: chunked` bodies are read; refused with 501 otherwise.
    pub chunked_bodies: bool,
}

impl Limits {
    /// For upstreams behind Envoy, which forwards what its clients send (large and chunked
    /// bodies included).
    pub const FORWARDED: Limits = Limits {
        head_bytes: 1 << 20,
        body_bytes: 16 << 20,
        chunked_bodies: true,
    };
    /// For a server that only the demo's own clients call: small heads and bodies, framed by
    /// `content-length`.
    pub const STRICT: Limits = Limits {
        head_bytes: 16 * 1024,
        body_bytes: 64 * 1024,
        chunked_bodies: false,
    };
}

/// After a refusal, input is drained for at most this long and this much.
const LINGER: Duration = Duration::from_secs(1);
const MAX_LINGER_BYTES: u64 = 1024 * 1024;
/// An idle keep-alive connection is closed after this: longer than any pause in a run.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A running server; stopped when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    name: String,
    limits: Limits,
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Open connections, so that stopping can close them.
    connections: Mutex<HashMap<u64, TcpStream>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves `handler` on background threads
    /// named after `name`.
    pub fn start(
        name: &str,
        addr: SocketAddr,
        limits: Limits,
        handler: Handler,
    ) -> io::Result<Server> {
        Server::serve(name, TcpListener::bind(addr)?, limits, handler)
    }

    /// Serves `handler` on an already bound listener.
    pub fn serve(
        name: &str,
        listener: TcpListener,
        limits: Limits,
        handler: Handler,
    ) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            name: name.to_string(),
            limits,
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("{name}-accept"))
            .spawn(move || accept_loop(&listener, &handler, &accept_shared))?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// Binds a free port on 127.0.0.1; panics when it cannot (tests).
    pub fn on_localhost(name: &str, limits: Limits, handler: Handler) -> Server {
        Server::start(name, SocketAddr::from(([127, 0, 0, 1], 0)), limits, handler)
            .unwrap_or_else(|e| panic!("{name}: cannot serve on 127.0.0.1: {e}"))
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves until the process ends.
    pub fn run_forever(mut self) {
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop, which then sees `stopping`.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        for stream in lock(&self.shared.connections).values() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A lock that a panicking holder did not poison for the others.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(listener: &TcpListener, handler: &Handler, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(copy) = stream.try_clone() {
            lock(&shared.connections).insert(id, copy);
        }
        let handler = Arc::clone(handler);
        let conn_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("{}-conn-{id}", shared.name))
            .spawn(move || {
                serve_connection(stream, &handler, &conn_shared);
                lock(&conn_shared.connections).remove(&id);
            });
        if spawned.is_err() {
            if let Some(stream) = lock(&shared.connections).remove(&id) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Why no request could be read.
enum ReadError {
    /// The connection failed or timed out: close it without an answer.
    Io,
    /// The request is unacceptable: send this answer, then close.
    Reject(Response),
}

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

fn reject(status: u16, message: &str) -> ReadError {
    ReadError::Reject(Response::text(status, message))
}

fn serve_connection(stream: TcpStream, handler: &Handler, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        match read_request(&mut reader, &mut writer, &shared.limits) {
            Ok(None) | Err(ReadError::Io) => break,
            Ok(Some(request)) => {
                if shared.stopping.load(Ordering::SeqCst) {
                    break;
                }
                match handler(&request) {
                    Outcome::Reply(response) => {
                        let keep_alive = request.keeps_alive() && !asks_to_close(&response);
                        let written = write_response(&mut writer, &response, keep_alive, &request);
                        if written.is_err() || !keep_alive {
                            break;
                        }
                    }
                    Outcome::Hang => {
                        // Swallow whatever arrives until the peer gives up.
                        let _ = io::copy(&mut reader, &mut io::sink());
                        break;
                    }
                    Outcome::Reset => break,
                }
            }
            Err(ReadError::Reject(response)) => {
                let _ = write_response(&mut writer, &response, false, &Request::default());
                linger_close(&mut reader, &writer);
                return;
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

fn asks_to_close(response: &Response) -> bool {
    response
        .header("connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("close"))
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
    limits: &Limits,
) -> Result<Option<Request>, ReadError> {
    let mut budget = limits.head_bytes;
    // RFC 9112 §2.2: ignore empty lines before the request line.
    let request_line = loop {
        match read_line(reader, &mut budget)? {
            None => return Ok(None),
            Some(line) if line.is_empty() => continue,
            Some(line) => break line,
        }
    };
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(reject(400, "malformed request line"));
    };
    let valid_method = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    if !valid_method || !target.starts_with('/') {
        return Err(reject(400, "malformed request line"));
    }
    if *version != "HTTP/1.1" && *version != "HTTP/1.0" {
        return Err(reject(400, "only HTTP/1.0 and HTTP/1.1 are served"));
    }
    let mut request = Request {
        method: (*method).to_string(),
        target: (*target).to_string(),
        version: (*version).to_string(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    loop {
        let Some(line) = read_line(reader, &mut budget)? else {
            return Err(ReadError::Io);
        };
        if line.is_empty() {
            break;
        }
        request.headers.push(parse_header(&line)?);
    }
    let chunked = match request.header("transfer-encoding") {
        None => false,
        Some(coding) if limits.chunked_bodies && coding.eq_ignore_ascii_case("chunked") => true,
        Some(_) => {
            return Err(reject(
                501,
                "transfer-encoding is not supported; send content-length",
            ))
        }
    };
    let length = if chunked {
        0
    } else {
        content_length(&request)?
    };
    if length > limits.body_bytes {
        return Err(reject(413, "request body too large"));
    }
    let continue_expected = request
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    if continue_expected && (chunked || length > 0) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    if chunked {
        request.body = read_chunked(reader, limits)?;
    } else if length > 0 {
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

/// One line without its line ending; `None` at end of stream before any byte.
fn read_line(
    reader: &mut BufReader<TcpStream>,
    budget: &mut u64,
) -> Result<Option<String>, ReadError> {
    let mut raw = Vec::new();
    let n = reader.by_ref().take(*budget).read_until(b'\n', &mut raw)?;
    if n == 0 {
        return if *budget == 0 {
            Err(reject(431, "request head too large"))
        } else {
            Ok(None)
        };
    }
    *budget = budget.saturating_sub(n as u64);
    if raw.last() != Some(&b'\n') {
        return Err(if *budget == 0 {
            reject(431, "request head too large")
        } else {
            ReadError::Io
        });
    }
    raw.pop();
    if raw.last() == Some(&b'\r') {
        raw.pop();
    }
    String::from_utf8(raw)
        .map(Some)
        .map_err(|_| reject(400, "request head is not UTF-8"))
}

fn parse_header(line: &str) -> Result<(String, String), ReadError> {
    if line.starts_with([' ', '\t']) {
        return Err(reject(400, "obsolete header line folding"));
    }
    let Some((name, value)) = line.split_once(':') else {
        return Err(reject(400, "malformed header line"));
    };
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(reject(400, "malformed header name"));
    }
    Ok((
        name.to_ascii_lowercase(),
        value.trim_matches([' ', '\t']).to_string(),
    ))
}

/// The body length: every `content-length` value must be the same number (RFC 9112 §6.3).
fn content_length(request: &Request) -> Result<usize, ReadError> {
    let mut length = None;
    for value in request
        .headers
        .iter()
        .filter(|(n, _)| n == "content-length")
        .flat_map(|(_, v)| v.split(','))
    {
        let value = value.trim();
        let parsed = value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<usize>().ok())
            .flatten()
            .ok_or_else(|| reject(400, "malformed content-length"))?;
        if length.is_some_and(|l| l != parsed) {
            return Err(reject(400, "conflicting content-length values"));
        }
        length = Some(parsed);
    }
    Ok(length.unwrap_or(0))
}

/// A chunked body (RFC 9112 §7.1); chunk extensions and trailers are read and dropped.
fn read_chunked(reader: &mut BufReader<TcpStream>, limits: &Limits) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    let mut budget = limits.head_bytes;
    loop {
        let Some(line) = read_line(reader, &mut budget)? else {
            return Err(ReadError::Io);
        };
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| reject(400, "malformed chunk size"))?;
        if size == 0 {
            while read_line(reader, &mut budget)?.is_some_and(|trailer| !trailer.is_empty()) {}
            return Ok(body);
        }
        if body.len() + size > limits.body_bytes {
            return Err(reject(413, "request body too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(body.get_mut(start..).unwrap_or_default())?;
        if read_line(reader, &mut budget)?.is_none_or(|rest| !rest.is_empty()) {
            return Err(reject(400, "chunk not followed by CRLF"));
        }
    }
}

/// Closes after a refusal without losing the answer (RFC 9112 §9.6): closing a socket
/// with unread input resets the connection, and the client may then never read the answer.
/// So: stop sending, then read and discard what the client still sends, for a short while.
fn linger_close(reader: &mut BufReader<TcpStream>, writer: &TcpStream) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(LINGER));
    let _ = io::copy(&mut reader.by_ref().take(MAX_LINGER_BYTES), &mut io::sink());
}

fn write_response(
    writer: &mut TcpStream,
    response: &Response,
    keep_alive: bool,
    request: &Request,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason_phrase(response.status)
    );
    for (name, value) in &response.headers {
        if name != "content-length" && name != "connection" {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("content-length: {}\r\n", response.body.len()));
    if !keep_alive {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    if !request.method.eq_ignore_ascii_case("HEAD") {
        bytes.extend_from_slice(&response.body);
    }
    writer.write_all(&bytes)?;
    writer.flush()
}
