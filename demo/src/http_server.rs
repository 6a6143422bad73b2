//! A small HTTP/1.1 server on `std::net` with one thread per connection.
//!
//! It keeps connections alive (Envoy's async HTTP client reuses them), reads bodies framed
//! by `content-length` (no chunked request bodies: the demo's clients never send them),
//! answers `Expect: 100-continue`, and refuses oversized or malformed requests with 4xx
//! before closing the connection. Dropping the [`Server`] stops it and closes every
//! connection it holds.

use crate::http_message::{reason_phrase, Request, Response};
use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What a server does with each request.
pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// Request line and headers together may not exceed this.
const MAX_HEAD_BYTES: u64 = 16 * 1024;
/// After a refusal, input is drained for at most this long and this much.
const LINGER: Duration = Duration::from_secs(1);
const MAX_LINGER_BYTES: u64 = 1024 * 1024;
/// A larger body is refused with 413.
const MAX_BODY_BYTES: usize = 64 * 1024;
/// An idle keep-alive connection is closed after this. Longer than any pause in the demo,
/// so Envoy never sends a request on a connection the server is closing.
const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// A running server; stopped when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    stopping: AtomicBool,
    next_id: AtomicU64,
    /// Open connections, so that stopping can close them.
    connections: Mutex<HashMap<u64, TcpStream>>,
}

impl Server {
    /// Binds `addr` (port 0 picks a free port) and serves `handler` on a background thread.
    pub fn start(addr: SocketAddr, handler: Handler) -> io::Result<Server> {
        Server::serve(TcpListener::bind(addr)?, handler)
    }

    /// Serves `handler` on an already bound listener, on a background thread.
    pub fn serve(listener: TcpListener, handler: Handler) -> io::Result<Server> {
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            stopping: AtomicBool::new(false),
            next_id: AtomicU64::new(0),
            connections: Mutex::new(HashMap::new()),
        });
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("http-accept-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &handler, &accept_shared))?;
        Ok(Server {
            addr,
            shared,
            accept: Some(accept),
        })
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
        if let Ok(connections) = self.shared.connections.lock() {
            for stream in connections.values() {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
    }
}

fn accept_loop(listener: &TcpListener, handler: &Handler, shared: &Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let (Ok(copy), Ok(mut connections)) = (stream.try_clone(), shared.connections.lock()) {
            connections.insert(id, copy);
        }
        let handler = Arc::clone(handler);
        let conn_shared = Arc::clone(shared);
        let spawned = thread::Builder::new()
            .name(format!("http-conn-{id}"))
            .spawn(move || {
                serve_connection(stream, &handler);
                if let Ok(mut connections) = conn_shared.connections.lock() {
                    connections.remove(&id);
                }
            });
        if spawned.is_err() {
            if let Ok(mut connections) = shared.connections.lock() {
                if let Some(stream) = connections.remove(&id) {
                    let _ = stream.shutdown(Shutdown::Both);
                }
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

fn serve_connection(stream: TcpStream, handler: &Handler) {
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    loop {
        match read_request(&mut reader, &mut writer) {
            Ok(None) | Err(ReadError::Io) => return,
            Ok(Some((request, keep_alive))) => {
                let response = handler(&request);
                if write_response(&mut writer, &response, keep_alive).is_err() || !keep_alive {
                    return;
                }
            }
            Err(ReadError::Reject(response)) => {
                let _ = write_response(&mut writer, &response, false);
                linger_close(&mut reader, &writer);
                return;
            }
        }
    }
}

/// Reads one request; `Ok(None)` when the peer closed the connection between requests.
/// The flag says whether the connection stays open after the answer.
fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> Result<Option<(Request, bool)>, ReadError> {
    let mut budget = MAX_HEAD_BYTES;
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
    let keep_alive = keeps_alive(&request, version);
    if request.header("transfer-encoding").is_some() {
        return Err(reject(
            501,
            "transfer-encoding is not supported; send content-length",
        ));
    }
    let length = content_length(&request)?;
    if length > MAX_BODY_BYTES {
        return Err(reject(413, "request body too large"));
    }
    if length > 0 {
        let continue_expected = request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
        if continue_expected {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some((request, keep_alive)))
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

fn keeps_alive(request: &Request, version: &str) -> bool {
    let tokens: Vec<String> = request
        .headers
        .iter()
        .filter(|(n, _)| n == "connection")
        .flat_map(|(_, v)| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    if tokens.iter().any(|t| t == "close") {
        return false;
    }
    version == "HTTP/1.1" || tokens.iter().any(|t| t == "keep-alive")
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

/// Closes after a refusal without losing the answer (RFC 9112 §9.6): closing a socket
/// with unread input resets the connection, and the client may then never read the answer.
/// So: stop sending, then read and discard what the client still sends, for a short while.
fn linger_close(reader: &mut BufReader<TcpStream>, writer: &TcpStream) {
    let _ = writer.shutdown(Shutdown::Write);
    let _ = writer.set_read_timeout(Some(LINGER));
    let _ = io::copy(&mut reader.by_ref().take(MAX_LINGER_BYTES), &mut io::sink());
}

fn write_response(writer: &mut TcpStream, response: &Response, keep_alive: bool) -> io::Result<()> {
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
    bytes.extend_from_slice(&response.body);
    writer.write_all(&bytes)?;
    writer.flush()
}
