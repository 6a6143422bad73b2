//! A one-request-per-connection HTTP/1.1 client for 127.0.0.1, used by the demo driver
//! and the tests. It reads responses framed by `content-length`, `transfer-encoding:
//! chunked` (Envoy's admin pages) or the end of the connection.

use crate::http_message::Response;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// Connect and read timeout of one request.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one request to `127.0.0.1:port` and reads the whole answer.
///
/// `host` is added unless `headers` has one; `content-length` is added when there is a body
/// or the method is POST; the connection is closed after the answer.
pub fn send(
    port: u16,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<Response> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        head.push_str(&format!("host: 127.0.0.1:{port}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        head.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    head.push_str("connection: close\r\n\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)?;
    // Stop as soon as the answer is complete: Envoy delays closing a connection (up to
    // `delayed_close_timeout`, 1 s) after its own replies, waiting for the client to close.
    let mut raw = Vec::new();
    let mut buffer = [0; 16 * 1024];
    loop {
        let n = stream.read(&mut buffer)?;
        let at_end = n == 0;
        raw.extend_from_slice(buffer.get(..n).unwrap_or_default());
        if let Some(response) = parse_response(&raw, at_end) {
            return Ok(response);
        }
        if at_end {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("malformed or truncated HTTP response from {addr}"),
            ));
        }
    }
}

/// Sends a GET and returns the answer's status and body text.
pub fn get(port: u16, target: &str) -> io::Result<Response> {
    send(port, "GET", target, &[], &[])
}

/// The response in `raw` once it is complete; a body without framing ends with the
/// connection (`at_end`).
fn parse_response(raw: &[u8], at_end: bool) -> Option<Response> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..end)?).ok()?;
    let rest = raw.get(end + 4..)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next()?;
    if !version.starts_with("HTTP/1.") {
        return None;
    }
    let status: u16 = parts.next()?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .map(|line| {
            let (name, value) = line.split_once(':')?;
            Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
        })
        .collect::<Option<_>>()?;
    let mut response = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let chunked = response
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    response.body = if matches!(status, 100..=199 | 204 | 304) {
        Vec::new()
    } else if chunked {
        decode_chunked(rest)?
    } else if let Some(length) = response.header("content-length") {
        rest.get(..length.parse::<usize>().ok()?)?.to_vec()
    } else if at_end {
        rest.to_vec()
    } else {
        return None;
    };
    Some(response)
}

/// Decodes a chunked body (RFC 9112 §7.1); trailers are ignored.
fn decode_chunked(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_line = std::str::from_utf8(rest.get(..line_end)?).ok()?;
        let size_text = size_line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_text, 16).ok()?;
        rest = rest.get(line_end + 2..)?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_content_length_chunked_and_close_delimited_bodies() {
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", false).is_none());
        let fixed = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
            false,
        )
        .unwrap();
        assert_eq!((fixed.status, fixed.body.as_slice()), (200, &b"ok"[..]));
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!(chunked.body, b"abcde");
        let unframed = b"HTTP/1.1 404 Not Found\r\nx-a: 1\r\n\r\nnope";
        assert!(
            parse_response(unframed, false).is_none(),
            "ends with the connection"
        );
        let closed = parse_response(unframed, true).unwrap();
        assert_eq!((closed.status, closed.header("X-A")), (404, Some("1")));
        assert_eq!(closed.body, b"nope");
        assert!(parse_response(b"SSH-2.0\r\n\r\n", true).is_none());
    }
}
