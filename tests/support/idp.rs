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

/// `http://idp.local/<tenant>/v2.0/.well-known/openid-configuration`, a `discovery.uri` to configure.
pub fn discovery_uri() -> String {
    format!("http://{IDP_AUTHORITY}{DISCOVERY_PATH}")
}

/// The host of Microsoft Entra ID (public cloud). The IdP's paths follow its layout.
pub const ENTRA_AUTHORITY: &str = "login.microsoftonline.com";

/// `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`: the `jwks_uri` of
/// Entra's discovery document (its path is [`JWKS_PATH`]).
pub fn entra_jwks_uri() -> String {
    format!("https://{ENTRA_AUTHORITY}{JWKS_PATH}")
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
    /// Sleeps, then answers normally (the JWKS as of the request's arrival).
    Slow(Duration),
}

/// What the discovery document at [`DISCOVERY_PATH`] says.
#[derive(Clone, Debug)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

struct State {
    mode: Mutex<IdpMode>,
    jwks: Mutex<Value>,
    discovery: Mutex<Discovery>,
    /// When set, the n-th JWKS request (from 0) gets entry n (the last one repeats)
    /// instead of `jwks`; chosen when the request arrives.
    jwks_sequence: Mutex<Option<Vec<Value>>>,
    /// Paths answered with the JWKS ([`JWKS_PATH`] and any added by [`Idp::serve_jwks_at`]).
    jwks_paths: Mutex<Vec<String>>,
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
            jwks_sequence: Mutex::new(None),
            discovery: Mutex::new(Discovery {
                issuer: ISSUER.to_string(),
                jwks_uri: jwks_uri(),
            }),
            jwks_paths: Mutex::new(vec![JWKS_PATH.to_string()]),
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

    /// Replaces the published key set (rotation); ends a [`Idp::set_jwks_sequence`].
    pub fn set_jwks(&self, jwks: Value) {
        *lock(&self.state.jwks_sequence) = None;
        *lock(&self.state.jwks) = jwks;
    }

    /// Answers the n-th JWKS request (counting from 0, all requests so far included) with
    /// `sets[n]`, the last one for every later request. The set is chosen when the request
    /// arrives, so with [`IdpMode::Slow`] a rotation "during" a fetch is exact.
    pub fn set_jwks_sequence(&self, sets: Vec<Value>) {
        assert!(
            !sets.is_empty(),
            "set_jwks_sequence needs at least one key set"
        );
        *lock(&self.state.jwks_sequence) = Some(sets);
    }

    /// Sets the `issuer` and `jwks_uri` of the discovery document (by default
    /// [`ISSUER`] and [`jwks_uri`]).
    pub fn set_discovery(&self, issuer: &str, jwks_uri: &str) {
        *lock(&self.state.discovery) = Discovery {
            issuer: issuer.to_string(),
            jwks_uri: jwks_uri.to_string(),
        };
    }

    /// Also answers `path` with the JWKS (counted by [`Idp::jwks_requests`]).
    pub fn serve_jwks_at(&self, path: &str) {
        lock(&self.state.jwks_paths).push(path.to_string());
    }

    /// Requests received for `path` (path without query string).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.state.per_path).get(path).copied().unwrap_or(0)
    }

    /// Requests received for a JWKS path ([`JWKS_PATH`] and those of [`Idp::serve_jwks_at`]).
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

    /// Every request received for `path` (without query string), with its arrival time.
    pub fn requests_for(&self, path: &str) -> Vec<(Duration, Request)> {
        lock(&self.state.log)
            .iter()
            .filter(|(_, r)| r.path.split('?').next() == Some(path))
            .cloned()
            .collect()
    }

    /// Arrival times (since the IdP started) of the JWKS requests.
    pub fn jwks_request_times(&self) -> Vec<Duration> {
        let paths = lock(&self.state.jwks_paths).clone();
        lock(&self.state.log)
            .iter()
            .filter(|(_, r)| paths.iter().any(|p| r.path.split('?').next() == Some(p)))
            .map(|(at, _)| *at)
            .collect()
    }

    /// One line per request received so far (`<arrival> <method> <path> host=<host>`),
    /// for messages.
    pub fn describe_requests(&self) -> String {
        lock(&self.state.log)
            .iter()
            .map(|(at, r)| {
                format!(
                    "{at:?} {} {} host={}",
                    r.method,
                    r.path,
                    r.header("host").unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
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
    let is_jwks = lock(&state.jwks_paths).contains(&path);
    state.total.fetch_add(1, Ordering::SeqCst);
    *lock(&state.per_path).entry(path.clone()).or_insert(0) += 1;
    let mut jwks_body = None;
    if is_jwks {
        let nth = state.jwks_hits.fetch_add(1, Ordering::SeqCst);
        jwks_body = Some(match lock(&state.jwks_sequence).as_ref() {
            Some(sets) => sets
                .get(nth)
                .or_else(|| sets.last())
                .cloned()
                .unwrap_or_default(),
            None => lock(&state.jwks).clone(),
        });
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
    if let Some(body) = jwks_body {
        Outcome::Reply(Reply::json(200, &body))
    } else if path == DISCOVERY_PATH {
        let discovery = lock(&state.discovery).clone();
        let doc = json!({
            "issuer": discovery.issuer,
            "jwks_uri": discovery.jwks_uri,
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
