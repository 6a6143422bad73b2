//! The HTTP/1.1 server on the wire: keep-alive and pipelined requests on one connection
//! (as Envoy's connection pool sends them), `Expect: 100-continue`, refusals, and the faults a
//! handler asks for.

// Tests may panic: a failed assertion is their job.
#![allow(clippy::unwrap_used)]

use rolegate_testkit::http::{Handler, Limits, Outcome, Request, Response, Server};
use rolegate_testkit::jwks::jwks;
use rolegate_testkit::test_keys::{key_b, KID_B};
use rolegate_testkit::{idp, Idp};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

/// Answers the path's last segment, `ok` for `/healthz`; hangs on `/hang`, resets on `/reset`.
fn start(limits: Limits) -> Server {
    let handler: Handler = Arc::new(|request: &Request| match request.path() {
        "/hang" => Outcome::Hang,
        "/reset" => Outcome::Reset,
        "/healthz" => Response::text(200, "ok").into(),
        "/echo" => Response::text(200, &String::from_utf8_lossy(&request.body)).into(),
        path => Response::text(200, path.rsplit('/').next().unwrap_or_default()).into(),
    });
    Server::on_localhost("test", limits, handler)
}

fn connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
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
    let server = start(Limits::STRICT);
    let mut stream = connect(server.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream
        .write_all(b"GET /calc/v1/add/1/1 HTTP/1.1\r\nhost: calc\r\n\r\n")
        .unwrap();
    let (status, _, body) = read_response(&mut reader);
    assert_eq!((status.as_str(), body.as_str()), ("HTTP/1.1 200 OK", "1"));
    // Two more at once, the second with a body.
    stream
        .write_all(
            b"GET /calc/v1/mul/6/7 HTTP/1.1\r\nhost: calc\r\n\r\n\
              GET /healthz HTTP/1.1\r\nhost: calc\r\ncontent-length: 3\r\n\r\nabc",
        )
        .unwrap();
    assert_eq!(read_response(&mut reader).2, "7");
    assert_eq!(read_response(&mut reader).2, "ok");
    stream
        .write_all(b"GET /calc/v1/sub/1/2 HTTP/1.1\r\nhost: calc\r\nconnection: close\r\n\r\n")
        .unwrap();
    let (_, headers, body) = read_response(&mut reader);
    assert_eq!(body, "2");
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
    let server = start(Limits::STRICT);
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
    let server = start(Limits::STRICT);
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
    let server = start(Limits::STRICT);
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

#[test]
fn forwarded_limits_read_chunked_and_large_bodies() {
    let server = start(Limits::FORWARDED);
    let mut stream = connect(server.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    stream
        .write_all(
            b"POST /echo HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n\
              3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\ntrailer: x\r\n\r\n",
        )
        .unwrap();
    assert_eq!(read_response(&mut reader).2, "abcde");
    let big = "z".repeat(200_000);
    stream
        .write_all(
            format!(
                "POST /echo HTTP/1.1\r\ncontent-length: {}\r\n\r\n{big}",
                big.len()
            )
            .as_bytes(),
        )
        .unwrap();
    assert_eq!(read_response(&mut reader).2, big);
}

#[test]
fn a_handler_can_hang_or_reset_the_connection() {
    let server = start(Limits::STRICT);
    let mut stream = connect(server.port());
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    stream.write_all(b"GET /hang HTTP/1.1\r\n\r\n").unwrap();
    let mut buf = [0u8; 16];
    let err = stream
        .read(&mut buf)
        .expect_err("a hanging handler must not answer");
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ));
    let mut stream = connect(server.port());
    stream.write_all(b"GET /reset HTTP/1.1\r\n\r\n").unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        stream.read_to_end(&mut rest).unwrap_or(0),
        0,
        "closed without an answer"
    );
}

#[test]
fn the_idp_answers_pipelined_requests_on_one_connection() {
    let idp = Idp::start(jwks(&[(key_b(), KID_B)]));
    let mut stream = connect(idp.port());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let one = format!("GET {} HTTP/1.1\r\nhost: x\r\n\r\n", idp::JWKS_PATH);
    stream.write_all(format!("{one}{one}").as_bytes()).unwrap();
    for _ in 0..2 {
        let (status, _, body) = read_response(&mut reader);
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            jwks(&[(key_b(), KID_B)])
        );
    }
    assert_eq!(idp.jwks_requests(), 2);
}
