//! A tiny threaded HTTP/1.1 server on `127.0.0.1:0` used by the test IdP and
//! the echo upstream.
//!
//! Keep-alive: every reply carries `content-length`; the connection stays open
//! and further requests are read from it until the peer closes it or asks for
//! `connection: close`. Idle connections are never closed by the server (that
//! would race with Envoy reusing a pooled connection); they are shut down when
//! the [`Server`] is dropped.

use std::io::{BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::http::{read_request, reason, Request};

/// What a handler wants done with a request.
pub enum Outcome {
    Reply(Reply),
    /// Never answer; hold the connection until the peer closes it (or the
    /// server is dropped).
    Hang,
}

/// A reply; `content-length` is added by the server.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: vec![("content-type".to_string(), content_type.to_string())],
            body: body.into(),
        }
    }

    pub fn json(status: u16, value: &serde_json::Value) -> Reply {
        Reply::new(status, "application/json", value.to_string())
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Outcome + Send + Sync + 'static>;

pub struct Server {
    name: String,
    port: u16,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(name: &str, handler: Handler) -> Server {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .unwrap_or_else(|e| panic!("{name}: cannot bind 127.0.0.1:0: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("{name}: local_addr: {e}"))
            .port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns: Arc<Mutex<Vec<TcpStream>>> = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let stop = stop.clone();
            let conns = conns.clone();
            let name = name.to_string();
            std::thread::Builder::new()
                .name(format!("{name}-accept"))
                .spawn(move || {
                    for stream in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let Ok(stream) = stream else { continue };
                        if let Ok(clone) = stream.try_clone() {
                            lock(&conns).push(clone);
                        }
                        let handler = handler.clone();
                        let stop = stop.clone();
                        let _ = std::thread::Builder::new()
                            .name(format!("{name}-conn"))
                            .spawn(move || serve_connection(stream, handler, stop));
                    }
                })
                .unwrap_or_else(|e| panic!("spawn accept thread: {e}"))
        };
        Server {
            name: name.to_string(),
            port,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for c in lock(&self.conns).drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Wake the accept loop.
        let _ = TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], self.port)));
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn serve_connection(stream: TcpStream, handler: Handler, stop: Arc<AtomicBool>) {
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Ok(Some(req)) = read_request(&mut reader, &mut writer) {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let close = req.wants_close();
        match handler(&req) {
            Outcome::Hang => {
                // Swallow whatever arrives until the peer gives up.
                let mut sink = [0u8; 4096];
                loop {
                    match reader.read(&mut sink) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                break;
            }
            Outcome::Reply(reply) => {
                if write_reply(&mut writer, &reply, close, &req.method).is_err() || close {
                    break;
                }
            }
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

fn write_reply(w: &mut TcpStream, reply: &Reply, close: bool, method: &str) -> std::io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    if close {
        head.push_str("connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut wire = head.into_bytes();
    if !method.eq_ignore_ascii_case("HEAD") {
        wire.extend_from_slice(&reply.body);
    }
    w.write_all(&wire)?;
    w.flush()
}
