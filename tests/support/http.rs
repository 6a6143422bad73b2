//! Minimal HTTP/1.1 wire code shared by the test servers and the test client.
//!
//! Only what the end-to-end tests need: request/response heads, bodies framed
//! by `content-length`, `transfer-encoding: chunked` or (responses only) the
//! end of the connection.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Largest head (start line + headers) we accept, to fail fast on garbage.
const MAX_HEAD_BYTES: usize = 1 << 20;

/// Read timeout of [`request`].
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Default `host` sent by [`request`] when the caller does not pass one.
pub const DEFAULT_HOST: &str = "rolegate.test";

/// A request as received by one of the test servers.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The request target exactly as sent (path and query).
    pub path: String,
    pub version: String,
    /// Header names lowercased, in arrival order, repeats kept.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client asked to close the connection after this exchange.
    pub fn wants_close(&self) -> bool {
        let conn = self
            .headers
            .iter()
            .filter(|(n, _)| n == "connection")
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(",");
        let tokens: Vec<&str> = conn.split(',').map(str::trim).collect();
        if tokens.contains(&"close") {
            return true;
        }
        self.version == "HTTP/1.0" && !tokens.contains(&"keep-alive")
    }
}

/// A response as received by [`request`].
#[derive(Clone)]
pub struct Response {
    pub status: u16,
    /// Lowercased header name → every value, in arrival order.
    pub headers: BTreeMap<String, Vec<String>>,
    pub body: Vec<u8>,
}

impl Response {
    /// First value of a header (name case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Every value of a header (name case-insensitive).
    pub fn header_all(&self, name: &str) -> &[String] {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the whole response when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        match serde_json::from_slice(&self.body) {
            Ok(v) => v,
            Err(e) => panic!("response body is not JSON ({e}): {self:?}"),
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut body = self.text();
        if body.len() > 2000 {
            let mut cut = 2000;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &body)
            .finish()
    }
}

/// A message head: start line and (lowercased name, value) header pairs.
pub type Head = (String, Vec<(String, String)>);

/// Reads one head (start line and header lines, up to the empty line).
/// `Ok(None)` when the peer closed the connection before sending anything.
pub fn read_head<R: BufRead>(r: &mut R) -> io::Result<Option<Head>> {
    let mut total = 0usize;
    let mut start = String::new();
    // Tolerate stray empty lines before a request (RFC 9112 §2.2).
    loop {
        start.clear();
        let n = read_line(r, &mut start, &mut total)?;
        if n == 0 {
            return Ok(None);
        }
        if !start.trim_end_matches(['\r', '\n']).is_empty() {
            break;
        }
    }
    let start = start.trim_end_matches(['\r', '\n']).to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        let n = read_line(r, &mut line, &mut total)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed inside a message head",
            ));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(bad_data(format!("malformed header line {line:?}")));
        };
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Some((start, headers)))
}

fn read_line<R: BufRead>(r: &mut R, buf: &mut String, total: &mut usize) -> io::Result<usize> {
    let mut bytes = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_HEAD_BYTES as u64)
        .read_until(b'\n', &mut bytes)?;
    *total += n;
    if *total > MAX_HEAD_BYTES {
        return Err(bad_data("message head too large".to_string()));
    }
    buf.push_str(&String::from_utf8_lossy(&bytes));
    Ok(n)
}

fn bad_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn header_values<'a>(headers: &'a [(String, String)], name: &str) -> impl Iterator<Item = &'a str> {
    let name = name.to_string();
    headers
        .iter()
        .filter(move |(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

fn is_chunked(headers: &[(String, String)]) -> bool {
    header_values(headers, "transfer-encoding")
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("chunked"))
}

fn content_length(headers: &[(String, String)]) -> io::Result<Option<usize>> {
    match header_values(headers, "content-length").next() {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map(Some)
            .map_err(|_| bad_data(format!("bad content-length {v:?}"))),
    }
}

/// How a body is delimited when neither chunked nor content-length is present.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum NoLength {
    /// Requests: no body.
    Empty,
    /// Responses: body runs to the end of the connection.
    UntilClose,
}

/// Reads a message body framed as the headers say.
pub fn read_body<R: BufRead>(
    r: &mut R,
    headers: &[(String, String)],
    no_length: NoLength,
) -> io::Result<Vec<u8>> {
    if is_chunked(headers) {
        return read_chunked(r);
    }
    if let Some(len) = content_length(headers)? {
        let mut body = vec![0u8; len];
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    match no_length {
        NoLength::Empty => Ok(Vec::new()),
        NoLength::UntilClose => {
            let mut body = Vec::new();
            r.read_to_end(&mut body)?;
            Ok(body)
        }
    }
}

fn read_chunked<R: BufRead>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    let mut total = 0usize;
    loop {
        let mut line = String::new();
        if read_line(r, &mut line, &mut total)? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "eof in chunk size",
            ));
        }
        let size_text = line.trim_end_matches(['\r', '\n']);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| bad_data(format!("bad chunk size {size_text:?}")))?;
        if size == 0 {
            // Trailer section, up to the empty line.
            loop {
                let mut t = String::new();
                if read_line(r, &mut t, &mut total)? == 0 {
                    return Ok(body);
                }
                if t.trim_end_matches(['\r', '\n']).is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        r.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        read_line(r, &mut crlf, &mut total)?;
        if !crlf.trim_end_matches(['\r', '\n']).is_empty() {
            return Err(bad_data("chunk not followed by CRLF".to_string()));
        }
    }
}

/// Reads one full request (head and body). `Ok(None)` on a clean close.
/// Answers `expect: 100-continue` on `w` before reading the body.
pub fn read_request<R: BufRead, W: Write>(r: &mut R, w: &mut W) -> io::Result<Option<Request>> {
    let Some((start, headers)) = read_head(r)? else {
        return Ok(None);
    };
    let mut parts = start.split(' ');
    let (Some(method), Some(path), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_data(format!("malformed request line {start:?}")));
    };
    if header_values(&headers, "expect").any(|v| v.eq_ignore_ascii_case("100-continue")) {
        w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        w.flush()?;
    }
    let body = read_body(r, &headers, NoLength::Empty)?;
    Ok(Some(Request {
        method: method.to_string(),
        path: path.to_string(),
        version: version.to_string(),
        headers,
        body,
    }))
}

/// Standard reason phrase (cosmetic).
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// Sends one request to `127.0.0.1:port` on a fresh connection (`connection: close`)
/// and reads the whole response. Panics on any I/O error (10 s read timeout).
///
/// * A `host` header is added (`rolegate.test`) unless `headers` has one.
/// * With a body, `content-length` is added unless `headers` already has
///   `content-length` or `transfer-encoding`; if `headers` says
///   `transfer-encoding: chunked`, the body is sent chunked (in two chunks).
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Response {
    match try_request(port, method, path, headers, body) {
        Ok(r) => r,
        Err(e) => panic!("HTTP {method} {path} to 127.0.0.1:{port} failed: {e}"),
    }
}

/// Like [`request`] but returns I/O errors instead of panicking.
pub fn try_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> io::Result<Response> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.to_ascii_lowercase().contains("chunked")
    });
    let mut head = format!("{method} {path} HTTP/1.1\r\n");
    if !has("host") {
        head.push_str(&format!("host: {DEFAULT_HOST}\r\n"));
    }
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has("connection") {
        head.push_str("connection: close\r\n");
    }
    if let Some(b) = body {
        if !has("content-length") && !has("transfer-encoding") {
            head.push_str(&format!("content-length: {}\r\n", b.len()));
        }
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    if let Some(b) = body {
        if chunked {
            let (first, second) = b.split_at(b.len() / 2);
            for part in [first, second] {
                if !part.is_empty() {
                    wire.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    wire.extend_from_slice(part);
                    wire.extend_from_slice(b"\r\n");
                }
            }
            wire.extend_from_slice(b"0\r\n\r\n");
        } else {
            wire.extend_from_slice(b);
        }
    }
    send_raw(port, &wire, method.eq_ignore_ascii_case("HEAD"))
}

/// Writes `wire` verbatim to `127.0.0.1:port` and reads one response.
pub fn send_raw(port: u16, wire: &[u8], head_request: bool) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    stream.set_nodelay(true)?;
    (&stream).write_all(wire)?;
    (&stream).flush()?;
    let mut r = BufReader::new(&stream);
    loop {
        let Some((start, headers)) = read_head(&mut r)? else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a response",
            ));
        };
        let mut parts = start.splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad_data(format!("malformed status line {start:?}")))?;
        if (100..200).contains(&status) {
            continue; // interim response
        }
        let body = if head_request || status == 204 || status == 304 {
            Vec::new()
        } else {
            read_body(&mut r, &headers, NoLength::UntilClose)?
        };
        let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (n, v) in headers {
            map.entry(n).or_default().push(v);
        }
        return Ok(Response {
            status,
            headers: map,
            body,
        });
    }
}
