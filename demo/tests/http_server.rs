//! The HTTP/1.1 server on the wire: keep-alive and pipelined requests on one connection
//! (as Envoy's connection pool sends them), `Expect: 100-continue`, and refusals.

// Tests may panic: a failed assertion is their job.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use rolegate_demo::calc;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads one response framed by content-length: (status line, headers, body).
fn read_response(reader: &mut BufReader<TcpStream>) -> (String, Vec<String>, String) {
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut headers = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end().to_string();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length: ") {
            length = v.parse().unwrap();
        }
        headers.push(line);
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (
        status.trim_end().to_string(),
        headers,
        String::from_utf8(body).unwrap(),
    )
}

#[test]
fn one_connection_carries_several_requests_even_pipelined() {
    let server = calc::start(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let mut stream = connect(server.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream
        .write_all(b"GET /calc/v1/add/1/1 HTTP/1.1\r\nhost: calc\r\n\r\n")
        .unwrap();
    let (status, _, body) = read_response(&mut reader);
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "2"));
    // Two more at once, the second with a body.
    stream
        .write_all(
            b"GET /calc/v1/mul/6/7 HTTP/1.1\r\nhost: calc\r\n\r\n\
              GET /healthz HTTP/1.1\r\nhost: calc\r\ncontent-length: 3\r\n\r\nabc",
        )
        .unwrap();
    assert_eq!(read_response(&mut reader).2, "42");
    assert_eq!(read_response(&mut reader).2, "ok");
    stream
        .write_all(b"GET /calc/v1/sub/1/2 HTTP/1.1\r\nhost: calc\r\nconnection: close\r\n\r\n")
        .unwrap();
    let (_, headers, body) = read_response(&mut reader);
    assert_eq!(body, "-1");
    assert!(headers.iter().any(|h| h == "connection: close"));
    let mut rest = Vec::new();
    assert_eq!(
        reader.read_to_end(&mut rest).unwrap(),
        0,
        "closed after close"
    );
}

#[test]
fn expect_100_continue_is_answered() {
    let server = calc::start(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let mut stream = connect(server.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: c\r\nexpect: 100-continue\r\ncontent-length: 2\r\n\r\n")
        .unwrap();
    let mut interim = String::new();
    reader.read_line(&mut interim).unwrap();
    assert_eq!(interim.trim_end(), "HTTP/1.1 100 Continue");
    reader.read_line(&mut interim).unwrap();
    stream.write_all(b"hi").unwrap();
    assert_eq!(read_response(&mut reader).2, "ok");
}

#[test]
fn malformed_requests_are_refused_and_the_connection_closed() {
    let server = calc::start(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    for (request, status) in [
        (&b"GARBAGE\r\n\r\n"[..], "HTTP/1.1 400 Bad Request"),
        (b"GET /healthz HTTP/2.0\r\n\r\n", "HTTP/1.1 400 Bad Request"),
        (
            b"GET /healthz HTTP/1.1\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
        (
            b"POST /healthz HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n",
            "HTTP/1.1 501 Not Implemented",
        ),
        (
            b"POST /healthz HTTP/1.1\r\ncontent-length: 999999\r\n\r\n",
            "HTTP/1.1 413 Content Too Large",
        ),
        (
            b"GET /healthz HTTP/1.1\r\n folded: x\r\n\r\n",
            "HTTP/1.1 400 Bad Request",
        ),
    ] {
        let mut stream = connect(server.port());
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        stream.write_all(request).unwrap();
        let (line, headers, _) = read_response(&mut reader);
        assert_eq!(line, status, "{}", String::from_utf8_lossy(request));
        assert!(headers.iter().any(|h| h == "connection: close"));
    }
    let mut stream = connect(server.port());
    let long_header = format!("GET /healthz HTTP/1.1\r\nx: {}\r\n\r\n", "a".repeat(20_000));
    stream.write_all(long_header.as_bytes()).unwrap();
    let (line, _, _) = read_response(&mut BufReader::new(stream));
    assert_eq!(line, "HTTP/1.1 431 Request Header Fields Too Large");
}

#[test]
fn dropping_the_server_closes_idle_connections() {
    let server = calc::start(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let mut stream = connect(server.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: c\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut reader).2, "ok");
    drop(server);
    let mut rest = Vec::new();
    assert_eq!(reader.read_to_end(&mut rest).unwrap_or(0), 0);
}
