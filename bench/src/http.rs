//! A minimal HTTP/1.1 client for the admin API and the drivers' checks: one request per
//! connection, `Connection: close`, the answer read as far as its framing says (Envoy waits up
//! to its `delayed_close_timeout`, 1 s, for the client to close first, so reading until the
//! server closes would cost a second per request).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on 127.0.0.1:`port` with extra `headers`.
pub fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> Result<Response, String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT)
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
        .map_err(|e| format!("{addr}: {e}"))?;
    let mut request =
        format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !is_complete(&raw) {
        let n = stream
            .read(&mut buf)
            .map_err(|e| format!("read from {addr}: {e}"))?;
        if n == 0 {
            break;
        }
        raw.extend_from_slice(buf.get(..n).unwrap_or_default());
    }
    parse(&String::from_utf8_lossy(&raw))
}

/// Whether `raw` holds a whole response: the head, and a body as long as `content-length` says
/// or ending with the last chunk. Without either, the body ends when the server closes.
fn is_complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(raw.get(..end).unwrap_or_default()).to_ascii_lowercase();
    let body = raw.get(end + 4..).unwrap_or_default();
    for (name, value) in head.split("\r\n").skip(1).filter_map(|l| l.split_once(':')) {
        match (name.trim(), value.trim()) {
            ("content-length", n) => return n.parse().is_ok_and(|n: usize| body.len() >= n),
            ("transfer-encoding", "chunked") => return body.ends_with(b"0\r\n\r\n"),
            _ => {}
        }
    }
    false
}

fn parse(raw: &str) -> Result<Response, String> {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("not an HTTP response: {:?}", raw.get(..80).unwrap_or(raw)))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<Vec<_>>();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// Joins the chunks of a chunked body (sizes in hex, each followed by CRLF).
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(after.get(..size).unwrap_or(after));
        rest = after.get(size + 2..).unwrap_or_default();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked() {
        let r = parse("HTTP/1.1 200 OK\r\nX-A: b\r\ncontent-length: 2\r\n\r\nok").unwrap();
        assert_eq!(
            (r.status, r.header("x-a"), r.body.as_str()),
            (200, Some("b"), "ok")
        );
        let r = parse(
            "HTTP/1.1 401 U\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "abcde"));
    }

    #[test]
    fn knows_when_a_response_is_complete() {
        assert!(!is_complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"));
        assert!(!is_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no"
        ));
        assert!(is_complete(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        ));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n";
        assert!(!is_complete(chunked));
        assert!(is_complete(&[chunked.as_slice(), b"0\r\n\r\n"].concat()));
        // No framing: read until the server closes.
        assert!(!is_complete(b"HTTP/1.1 200 OK\r\n\r\nok"));
    }
}
