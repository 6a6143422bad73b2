//! Test identity provider: serves a JWKS (and an OIDC discovery document) on
//! `127.0.0.1:<port>`, counts requests per path, and can be told to misbehave.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http::Request;
use super::keys::{ISSUER, TENANT};
use super::server::{lock, Handler, Outcome, Reply, Server};

/// Path of the JWKS document.
pub const JWKS_PATH: &str = "/11111111-2222-3333-4444-555555555555/discovery/v2.0/keys";
/// Path of the OIDC discovery document.
pub const DISCOVERY_PATH: &str =
    "/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration";
/// Authority the plugin is configured with (the `idp` cluster ignores it).
pub const IDP_AUTHORITY: &str = "idp.local";

/// `http://idp.local/<tenant>/discovery/v2.0/keys`, the `remote_jwks.uri` to configure.
pub fn jwks_uri() -> String {
    format!("http://{IDP_AUTHORITY}{JWKS_PATH}")
}

/// How the IdP answers (every path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdpMode {
    /// 200 with the documents.
    Normal,
    /// 500 with a text body.
    Fail500,
    /// Never answers (holds the connection until the peer gives up).
    Hang,
    /// 200, `content-type: application/json`, body that is not JSON.
    Garbage,
    /// Sleeps, then answers normally.
    Slow(Duration),
}

struct State {
    mode: Mutex<IdpMode>,
    jwks: Mutex<Value>,
    per_path: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<(Duration, Request)>>,
    started: Instant,
    total: AtomicUsize,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
}

pub struct Idp {
    state: Arc<State>,
    server: Server,
}

impl Idp {
    /// Starts the IdP in [`IdpMode::Normal`] publishing `jwks`.
    pub fn start(jwks: Value) -> Idp {
        Idp::start_with_mode(jwks, IdpMode::Normal)
    }

    pub fn start_with_mode(jwks: Value, mode: IdpMode) -> Idp {
        let state = Arc::new(State {
            mode: Mutex::new(mode),
            jwks: Mutex::new(jwks),
            per_path: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            total: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
        });
        let handler: Handler = {
            let state = state.clone();
            Arc::new(move |req: &Request| handle(&state, req))
        };
        let server = Server::start("idp", handler);
        Idp { state, server }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    pub fn mode(&self) -> IdpMode {
        *lock(&self.state.mode)
    }

    pub fn set_mode(&self, mode: IdpMode) {
        *lock(&self.state.mode) = mode;
    }

    /// Replaces the published key set (rotation).
    pub fn set_jwks(&self, jwks: Value) {
        *lock(&self.state.jwks) = jwks;
    }

    /// Requests received for `path` (path without query string).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.state.per_path).get(path).copied().unwrap_or(0)
    }

    /// Requests received for [`JWKS_PATH`].
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests received for [`DISCOVERY_PATH`].
    pub fn discovery_requests(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// All requests received.
    pub fn total_requests(&self) -> usize {
        self.state.total.load(Ordering::SeqCst)
    }

    /// Copies of every request received so far.
    pub fn requests(&self) -> Vec<Request> {
        lock(&self.state.log)
            .iter()
            .map(|(_, r)| r.clone())
            .collect()
    }

    /// Every request received so far with its arrival time (since the IdP started).
    pub fn request_log(&self) -> Vec<(Duration, Request)> {
        lock(&self.state.log).clone()
    }

    /// When the IdP started (arrival times in [`Idp::request_log`] count from here).
    pub fn started(&self) -> Instant {
        self.state.started
    }

    /// Waits until at least `n` JWKS requests arrived; false on timeout.
    pub fn wait_for_jwks_requests(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.jwks_requests() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.jwks_requests() >= n
    }
}

fn handle(state: &State, req: &Request) -> Outcome {
    let path = req.path.split('?').next().unwrap_or("").to_string();
    state.total.fetch_add(1, Ordering::SeqCst);
    *lock(&state.per_path).entry(path.clone()).or_insert(0) += 1;
    if path == JWKS_PATH {
        state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    } else if path == DISCOVERY_PATH {
        state.discovery_hits.fetch_add(1, Ordering::SeqCst);
    }
    lock(&state.log).push((state.started.elapsed(), req.clone()));

    let mode = *lock(&state.mode);
    match mode {
        IdpMode::Normal => {}
        IdpMode::Fail500 => {
            return Outcome::Reply(Reply::new(500, "text/plain", "test idp: internal error\n"))
        }
        IdpMode::Hang => return Outcome::Hang,
        IdpMode::Garbage => {
            return Outcome::Reply(Reply::new(
                200,
                "application/json",
                "<html><body>this is not JSON {\"keys\": [</body></html>",
            ))
        }
        IdpMode::Slow(d) => std::thread::sleep(d),
    }
    if path == JWKS_PATH {
        let body = lock(&state.jwks).clone();
        Outcome::Reply(Reply::json(200, &body))
    } else if path == DISCOVERY_PATH {
        let doc = json!({
            "issuer": ISSUER,
            "jwks_uri": jwks_uri(),
            "authorization_endpoint":
                format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"),
            "token_endpoint": format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token"),
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
        });
        Outcome::Reply(Reply::json(200, &doc))
    } else {
        Outcome::Reply(Reply::new(
            404,
            "text/plain",
            "test idp: no such document\n",
        ))
    }
}
