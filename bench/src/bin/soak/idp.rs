//! The flapping IdP: an HTTP server on 127.0.0.1 that serves the key set of the current epoch
//! (see [`crate::schedule`]) and, once the load has started, cycles through outages: 500s, hangs
//! past the filter's timeout, garbage, and connections closed without an answer.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use rolegate_bench::tokens::{self, TENANT};

use crate::keyring::published_set;
use crate::schedule::{self, Phase, HANG_MS};

/// The path of the key set (Entra ID's layout) and the authority the filter sends.
pub const AUTHORITY: &str = "idp.local";

pub fn jwks_path() -> String {
    format!("/{TENANT}/discovery/v2.0/keys")
}

/// `remote_jwks.uri` for the filter.
pub fn jwks_uri() -> String {
    format!("http://{AUTHORITY}{}", jwks_path())
}

const NOT_STARTED: i64 = i64::MAX;

struct State {
    /// The public JWK of every key slot.
    jwks_by_slot: Vec<Value>,
    /// The rotation origin (Unix seconds).
    origin: i64,
    /// When flapping started (Unix seconds), or [`NOT_STARTED`].
    flap_from: AtomicI64,
    stop: AtomicBool,
    /// Requests answered, by phase ([`Phase::ALL`] order).
    served: [AtomicU64; Phase::ALL.len()],
    /// Requests for another path.
    strays: AtomicU64,
    /// Picks the next kind of garbage.
    garbage_turn: AtomicUsize,
}

pub struct Idp {
    pub port: u16,
    state: Arc<State>,
    acceptor: Option<JoinHandle<()>>,
}

impl Idp {
    /// Listens on 127.0.0.1 (a free port) and serves, normally until [`Idp::start_flapping`].
    pub fn start(jwks_by_slot: Vec<Value>, origin: i64) -> Result<Idp, String> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| format!("IdP: cannot listen: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("IdP: {e}"))?
            .port();
        let state = Arc::new(State {
            jwks_by_slot,
            origin,
            flap_from: AtomicI64::new(NOT_STARTED),
            stop: AtomicBool::new(false),
            served: Default::default(),
            strays: AtomicU64::new(0),
            garbage_turn: AtomicUsize::new(0),
        });
        let shared = Arc::clone(&state);
        let acceptor = std::thread::Builder::new()
            .name("idp".into())
            .spawn(move || accept_loop(&listener, &shared))
            .map_err(|e| format!("IdP: cannot start its thread: {e}"))?;
        Ok(Idp {
            port,
            state,
            acceptor: Some(acceptor),
        })
    }

    /// From Unix second `at` on, the IdP cycles through [`schedule::CYCLE`].
    pub fn start_flapping(&self, at: i64) {
        self.state.flap_from.store(at, Ordering::SeqCst);
    }

    /// Requests answered in each phase.
    pub fn served(&self) -> Vec<(Phase, u64)> {
        Phase::ALL
            .iter()
            .zip(&self.state.served)
            .map(|(phase, n)| (*phase, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Requests for a path other than the key set's (there should be none).
    pub fn strays(&self) -> u64 {
        self.state.strays.load(Ordering::Relaxed)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor.
        let _ = TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], self.port)),
            Duration::from_secs(1),
        );
        if let Some(handle) = self.acceptor.take() {
            let _ = handle.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, state: &Arc<State>) {
    for stream in listener.incoming() {
        if state.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            continue;
        };
        let state = Arc::clone(state);
        // One thread per connection: a hanging answer must not hold up the next request.
        let _ = std::thread::Builder::new()
            .name("idp-conn".into())
            .spawn(move || serve(stream, &state));
    }
}

/// Reads the request head; `None` if the peer sent none.
fn read_head(stream: &mut TcpStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 || head.len() > 64 * 1024 {
            return None;
        }
        head.extend_from_slice(buf.get(..n)?);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

fn serve(mut stream: TcpStream, state: &State) {
    let Some(head) = read_head(&mut stream) else {
        return;
    };
    let path = head
        .lines()
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .unwrap_or_default();
    if path != jwks_path() {
        state.strays.fetch_add(1, Ordering::Relaxed);
        respond(&mut stream, "404 Not Found", "text/plain", "no such path\n");
        return;
    }
    let now = tokens::now();
    let flap_from = state.flap_from.load(Ordering::SeqCst);
    let phase = if flap_from == NOT_STARTED {
        Phase::Normal
    } else {
        schedule::phase_at(now - flap_from)
    };
    if let Some(n) = Phase::ALL
        .iter()
        .position(|p| *p == phase)
        .and_then(|i| state.served.get(i))
    {
        n.fetch_add(1, Ordering::Relaxed);
    }
    match phase {
        Phase::Normal => {
            let body = published_set(&state.jwks_by_slot, schedule::epoch(state.origin, now));
            respond(&mut stream, "200 OK", "application/json", &body.to_string());
        }
        Phase::Status500 => respond(
            &mut stream,
            "500 Internal Server Error",
            "text/plain",
            "the IdP is having a bad day\n",
        ),
        Phase::Hang => {
            std::thread::sleep(Duration::from_millis(HANG_MS));
            // Far too late: the filter gave up long ago. The key set of the moment it asked.
            let body = published_set(&state.jwks_by_slot, schedule::epoch(state.origin, now));
            respond(&mut stream, "200 OK", "application/json", &body.to_string());
        }
        Phase::Garbage => {
            let turn = state.garbage_turn.fetch_add(1, Ordering::Relaxed);
            let good = published_set(&state.jwks_by_slot, schedule::epoch(state.origin, now));
            respond(
                &mut stream,
                "200 OK",
                "application/json",
                &garbage(turn, &good),
            );
        }
        Phase::Reset => {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

/// A 200 body that is no usable key set, a different one each turn.
fn garbage(turn: usize, good: &Value) -> String {
    match turn % 5 {
        0 => "<html><body>Service Unavailable</body></html>".to_string(),
        1 => json!({"keys": "rotating, come back later"}).to_string(),
        2 => {
            let text = good.to_string();
            text.get(..text.len() / 2).unwrap_or_default().to_string()
        }
        // Only keys the filter skips: an EC key, an encryption key.
        3 => json!({"keys": [
            {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "RSA", "kid": "enc-1", "use": "enc", "n": "AQAB", "e": "AQAB"}
        ]})
        .to_string(),
        _ => String::new(),
    }
}

fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;
    use rolegate_bench::http;

    fn jwks_by_slot() -> Vec<Value> {
        (0..schedule::SLOTS)
            .map(|s| json!({"kid": crate::keyring::kid(s)}))
            .collect()
    }

    #[test]
    fn serves_the_current_set_then_flaps() {
        let origin = tokens::now();
        let idp = Idp::start(jwks_by_slot(), origin).unwrap();
        let reply = http::get(idp.port, &jwks_path(), &[]).unwrap();
        assert_eq!(reply.status, 200);
        let set: Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(set["keys"].as_array().unwrap().len(), 4);
        assert_eq!(http::get(idp.port, "/other", &[]).unwrap().status, 404);
        assert_eq!(idp.strays(), 1);
        // 9 s into the cycle: the 500s.
        idp.start_flapping(tokens::now() - 9);
        assert_eq!(http::get(idp.port, &jwks_path(), &[]).unwrap().status, 500);
        // 45 s into the cycle: the connection is closed without an answer.
        idp.start_flapping(tokens::now() - 45);
        assert!(http::get(idp.port, &jwks_path(), &[]).is_err());
        let served = idp.served();
        assert_eq!(served[0], (Phase::Normal, 1));
        assert_eq!(served[1], (Phase::Status500, 1));
        assert_eq!(served[4], (Phase::Reset, 1));
    }

    #[test]
    fn garbage_is_never_a_usable_key_set() {
        let good = json!({"keys": [{"kty": "RSA", "kid": "k", "n": "AQAB", "e": "AQAB"}]});
        for turn in 0..5 {
            let body = garbage(turn, &good);
            let usable = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["keys"].as_array().cloned())
                .is_some_and(|keys| {
                    keys.iter()
                        .any(|k| k["kty"] == "RSA" && k.get("use").is_none())
                });
            assert!(!usable, "turn {turn}: {body}");
        }
    }
}
