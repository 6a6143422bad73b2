//! The local identity provider, laid out like Microsoft Entra ID on `127.0.0.1:<port>`:
//!
//! - `GET /<tenant>/discovery/v2.0/keys`: the JWKS (fixed, a sequence, or computed per request);
//! - `GET /<tenant>/v2.0/.well-known/openid-configuration`: OIDC discovery;
//! - `POST /<tenant>/oauth2/v2.0/token`: a token endpoint, when one is plugged in.
//!
//! It counts and logs what it is asked, and answers the documents in the [`IdpMode`] of the
//! moment: normally, with 500s, garbage, late, never, or by dropping the connection.
//!
//! Its issuer is its own URL, `http://127.0.0.1:<port>/<tenant>/v2.0`, unless the discovery
//! document is set to say otherwise ([`Idp::set_discovery`]): the tests' IdP stands behind
//! Envoy's `idp` cluster for Entra's real issuer.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::entra::{API_APP_ID, AUDIENCE, ISSUER, TENANT};
use crate::http::server::lock;
use crate::http::{Handler, Limits, Outcome, Request, Response, Server};

/// Path of the JWKS document of [`TENANT`].
pub const JWKS_PATH: &str = "/11111111-2222-3333-4444-555555555555/discovery/v2.0/keys";
/// Path of the OIDC discovery document of [`TENANT`].
pub const DISCOVERY_PATH: &str =
    "/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration";
/// Authority the plugin is configured with (the `idp` cluster ignores it).
pub const IDP_AUTHORITY: &str = "idp.local";
/// The host of Microsoft Entra ID (public cloud).
pub const ENTRA_AUTHORITY: &str = "login.microsoftonline.com";

const KEYS_ENDPOINT: &str = "discovery/v2.0/keys";
const DISCOVERY_ENDPOINT: &str = "v2.0/.well-known/openid-configuration";
const TOKEN_ENDPOINT: &str = "oauth2/v2.0/token";

/// `http://idp.local/<tenant>/discovery/v2.0/keys`, the `remote_jwks.uri` to configure.
pub fn jwks_uri() -> String {
    format!("http://{IDP_AUTHORITY}{JWKS_PATH}")
}

/// The provider most Envoy tests configure: `aad`, the v2 issuer, both audience spellings, keys
/// from this IdP's JWKS through the `idp` cluster.
pub fn provider() -> Value {
    json!({
        "name": "aad",
        "issuer": ISSUER,
        "audiences": [API_APP_ID, AUDIENCE],
        "remote_jwks": {"cluster": "idp", "uri": jwks_uri()},
    })
}

/// A `remote_jwks` fetching [`jwks_uri`] through the `idp` cluster.
pub fn remote_jwks(cache_duration_seconds: u64, timeout_ms: u64) -> Value {
    json!({
        "cluster": "idp",
        "uri": jwks_uri(),
        "cache_duration_seconds": cache_duration_seconds,
        "timeout_ms": timeout_ms,
    })
}

/// `http://idp.local/<tenant>/v2.0/.well-known/openid-configuration`, a `discovery.uri`.
pub fn discovery_uri() -> String {
    format!("http://{IDP_AUTHORITY}{DISCOVERY_PATH}")
}

/// `https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys`: the `jwks_uri` of Entra's
/// discovery document (its path is [`JWKS_PATH`]).
pub fn entra_jwks_uri() -> String {
    format!("https://{ENTRA_AUTHORITY}{JWKS_PATH}")
}

/// How the IdP answers its documents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdpMode {
    /// 200 with the document.
    Normal,
    /// 500 with a text body.
    Fail500,
    /// Never answers (holds the connection until the peer gives up).
    Hang,
    /// 200, `content-type: application/json`, and a body that is no usable document: not
    /// JSON first, then other kinds in turn (see [`garbage`]).
    Garbage,
    /// Sleeps, then answers normally (the key set of the request's arrival).
    Slow(Duration),
    /// Closes the connection without an answer.
    Reset,
}

/// Picks the mode of each request as it arrives.
pub type ModeSchedule = Arc<dyn Fn() -> IdpMode + Send + Sync>;
/// Makes the key set of each request as it arrives.
pub type KeySetSource = Arc<dyn Fn() -> Value + Send + Sync>;
/// Answers a token request for the IdP's tenant; gets the request and the IdP's issuer.
pub type TokenEndpoint = Arc<dyn Fn(&Request, &str) -> Response + Send + Sync>;

enum Modes {
    Fixed(IdpMode),
    Scheduled(ModeSchedule),
}

enum KeySets {
    Fixed(Value),
    /// The n-th JWKS request (from 0) gets entry n, the last one repeats.
    Sequence(Vec<Value>),
    Computed(KeySetSource),
}

#[derive(Clone, Debug)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

/// A request the IdP received, when (since it started), and the status it answered (none when
/// it hung or reset, or has not answered yet).
#[derive(Clone, Debug)]
pub struct Exchange {
    pub at: Duration,
    pub request: Request,
    pub status: Option<u16>,
}

struct State {
    tenant: String,
    base_url: String,
    modes: Mutex<Modes>,
    key_sets: Mutex<KeySets>,
    /// `None`: the IdP is its own issuer.
    discovery: Mutex<Option<Discovery>>,
    token_endpoint: Mutex<Option<TokenEndpoint>>,
    /// Paths answered with the JWKS besides the tenant's (see [`Idp::serve_jwks_at`]).
    extra_jwks_paths: Mutex<Vec<String>>,
    per_path: Mutex<HashMap<String, usize>>,
    log: Mutex<Vec<Exchange>>,
    started: Instant,
    total: AtomicUsize,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    garbage_turn: AtomicUsize,
}

pub struct Idp {
    state: Arc<State>,
    server: Server,
}

impl Idp {
    /// Serves `tenant` on `addr` (port 0: a free one) as its own issuer, with an empty key set.
    pub fn serve(tenant: &str, addr: SocketAddr) -> Result<Idp, String> {
        let listener = TcpListener::bind(addr).map_err(|e| format!("bind {addr}: {e}"))?;
        let bound = listener
            .local_addr()
            .map_err(|e| format!("bind {addr}: {e}"))?;
        let state = Arc::new(State {
            tenant: tenant.to_string(),
            base_url: format!("http://{bound}"),
            modes: Mutex::new(Modes::Fixed(IdpMode::Normal)),
            key_sets: Mutex::new(KeySets::Fixed(json!({ "keys": [] }))),
            discovery: Mutex::new(None),
            token_endpoint: Mutex::new(None),
            extra_jwks_paths: Mutex::new(Vec::new()),
            per_path: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            started: Instant::now(),
            total: AtomicUsize::new(0),
            jwks_hits: AtomicUsize::new(0),
            discovery_hits: AtomicUsize::new(0),
            garbage_turn: AtomicUsize::new(0),
        });
        let handler: Handler = {
            let state = Arc::clone(&state);
            Arc::new(move |request: &Request| handle(&state, request))
        };
        let server = Server::serve("idp", listener, Limits::STRICT, handler)
            .map_err(|e| format!("serve {bound}: {e}"))?;
        Ok(Idp { state, server })
    }

    /// The tests' IdP: [`TENANT`] on a free port, publishing `jwks`, its discovery document
    /// naming Entra's issuer [`ISSUER`] and the key set at [`jwks_uri`]. Panics when it cannot
    /// listen.
    pub fn start(jwks: Value) -> Idp {
        let idp = Idp::serve(TENANT, SocketAddr::from(([127, 0, 0, 1], 0)))
            .unwrap_or_else(|e| panic!("test IdP: {e}"));
        idp.set_jwks(jwks);
        idp.set_discovery(ISSUER, &jwks_uri());
        idp
    }

    /// [`Idp::start`] in `mode`.
    pub fn start_with_mode(jwks: Value, mode: IdpMode) -> Idp {
        let idp = Idp::start(jwks);
        idp.set_mode(mode);
        idp
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// Serves until the process ends.
    pub fn run_forever(self) {
        self.server.run_forever();
    }

    pub fn tenant(&self) -> &str {
        &self.state.tenant
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The `issuer` of its discovery document: its own, `<base>/<tenant>/v2.0`, unless set.
    pub fn issuer(&self) -> String {
        issuer(&self.state)
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/{}/{DISCOVERY_ENDPOINT}", self.base_url(), self.tenant())
    }

    pub fn token_url(&self) -> String {
        format!("{}/{}/{TOKEN_ENDPOINT}", self.base_url(), self.tenant())
    }

    /// Where its own key set is (the discovery document may name another place).
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/{KEYS_ENDPOINT}", self.base_url(), self.tenant())
    }

    pub fn set_mode(&self, mode: IdpMode) {
        *lock(&self.state.modes) = Modes::Fixed(mode);
    }

    /// Asks `schedule` for the mode of each request as it arrives.
    pub fn schedule_modes(&self, schedule: ModeSchedule) {
        *lock(&self.state.modes) = Modes::Scheduled(schedule);
    }

    /// Replaces the published key set (rotation).
    pub fn set_jwks(&self, jwks: Value) {
        *lock(&self.state.key_sets) = KeySets::Fixed(jwks);
    }

    /// Answers the n-th JWKS request (counting from 0, all requests so far included) with
    /// `sets[n]`, the last one for every later request. The set is chosen when the request
    /// arrives, so with [`IdpMode::Slow`] a rotation "during" a fetch is exact.
    pub fn set_jwks_sequence(&self, sets: Vec<Value>) {
        assert!(
            !sets.is_empty(),
            "set_jwks_sequence needs at least one key set"
        );
        *lock(&self.state.key_sets) = KeySets::Sequence(sets);
    }

    /// Makes the key set of each JWKS request when it arrives.
    pub fn compute_jwks(&self, source: KeySetSource) {
        *lock(&self.state.key_sets) = KeySets::Computed(source);
    }

    /// Sets the `issuer` and `jwks_uri` of the discovery document.
    pub fn set_discovery(&self, issuer: &str, jwks_uri: &str) {
        *lock(&self.state.discovery) = Some(Discovery {
            issuer: issuer.to_string(),
            jwks_uri: jwks_uri.to_string(),
        });
    }

    /// Answers token requests with `endpoint`.
    pub fn set_token_endpoint(&self, endpoint: TokenEndpoint) {
        *lock(&self.state.token_endpoint) = Some(endpoint);
    }

    /// Also answers `path` with the JWKS (counted by [`Idp::jwks_requests`]).
    pub fn serve_jwks_at(&self, path: &str) {
        lock(&self.state.extra_jwks_paths).push(path.to_string());
    }

    /// The discovery document as it reads now.
    pub fn discovery_document(&self) -> Value {
        discovery_document(&self.state)
    }

    /// Requests received for `path` (without query string).
    pub fn count(&self, path: &str) -> usize {
        lock(&self.state.per_path).get(path).copied().unwrap_or(0)
    }

    /// Requests received for a JWKS path.
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    /// Requests received for the discovery document.
    pub fn discovery_requests(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    /// All requests received.
    pub fn total_requests(&self) -> usize {
        self.state.total.load(Ordering::SeqCst)
    }

    /// Every request received so far, with when and how it was answered.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.state.log).clone()
    }

    /// Every request received so far with its arrival time (since the IdP started).
    pub fn request_log(&self) -> Vec<(Duration, Request)> {
        lock(&self.state.log)
            .iter()
            .map(|e| (e.at, e.request.clone()))
            .collect()
    }

    /// Every request received for `path` (without query string), with its arrival time.
    pub fn requests_for(&self, path: &str) -> Vec<(Duration, Request)> {
        self.request_log()
            .into_iter()
            .filter(|(_, r)| r.path() == path)
            .collect()
    }

    /// Arrival times (since the IdP started) of the JWKS requests.
    pub fn jwks_request_times(&self) -> Vec<Duration> {
        lock(&self.state.log)
            .iter()
            .filter(|e| is_jwks_path(&self.state, e.request.path()))
            .map(|e| e.at)
            .collect()
    }

    /// One line per request received so far (`<arrival> <method> <path> host=<host>`).
    pub fn describe_requests(&self) -> String {
        lock(&self.state.log)
            .iter()
            .map(|e| {
                format!(
                    "{:?} {} {} host={}",
                    e.at,
                    e.request.method,
                    e.request.target,
                    e.request.header("host").unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// When the IdP started (arrival times count from here).
    pub fn started(&self) -> Instant {
        self.state.started
    }
}

/// Where a request goes.
enum Route {
    Keys,
    Discovery,
    Token,
    WrongMethod(&'static str),
    UnknownTenant { tenant: String, token: bool },
    NotFound,
}

fn route(state: &State, request: &Request) -> Route {
    let path = request.path();
    let (endpoint, allowed) = if is_jwks_path(state, path) {
        (Route::Keys, "GET")
    } else {
        let Some((tenant, endpoint)) = path.strip_prefix('/').and_then(|p| p.split_once('/'))
        else {
            return Route::NotFound;
        };
        let (known, allowed) = match endpoint {
            KEYS_ENDPOINT => (Route::Keys, "GET"),
            DISCOVERY_ENDPOINT => (Route::Discovery, "GET"),
            TOKEN_ENDPOINT if lock(&state.token_endpoint).is_some() => (Route::Token, "POST"),
            _ => return Route::NotFound,
        };
        if tenant != state.tenant {
            return Route::UnknownTenant {
                tenant: tenant.to_string(),
                token: endpoint == TOKEN_ENDPOINT,
            };
        }
        (known, allowed)
    };
    if request.method != allowed {
        return Route::WrongMethod(allowed);
    }
    endpoint
}

fn is_jwks_path(state: &State, path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.strip_prefix(state.tenant.as_str()))
        .and_then(|p| p.strip_prefix('/'))
        == Some(KEYS_ENDPOINT)
        || lock(&state.extra_jwks_paths).iter().any(|p| p == path)
}

fn handle(state: &State, request: &Request) -> Outcome {
    state.total.fetch_add(1, Ordering::SeqCst);
    *lock(&state.per_path)
        .entry(request.path().to_string())
        .or_insert(0) += 1;
    let route = route(state, request);
    // The key set of the request's arrival, whatever happens next.
    let key_set = match route {
        Route::Keys => Some(next_key_set(state)),
        Route::Discovery => {
            state.discovery_hits.fetch_add(1, Ordering::SeqCst);
            None
        }
        _ => None,
    };
    let entry = {
        let mut log = lock(&state.log);
        log.push(Exchange {
            at: state.started.elapsed(),
            request: request.clone(),
            status: None,
        });
        log.len() - 1
    };
    let outcome = answer(state, request, route, key_set);
    if let Outcome::Reply(response) = &outcome {
        if let Some(exchange) = lock(&state.log).get_mut(entry) {
            exchange.status = Some(response.status);
        }
    }
    outcome
}

fn next_key_set(state: &State) -> Value {
    let nth = state.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let source = match &*lock(&state.key_sets) {
        KeySets::Fixed(set) => return set.clone(),
        KeySets::Sequence(sets) => {
            return sets.get(nth).or(sets.last()).cloned().unwrap_or_default()
        }
        KeySets::Computed(source) => Arc::clone(source),
    };
    // Outside the lock: the source may take its time.
    source()
}

fn current_mode(state: &State) -> IdpMode {
    let schedule = match &*lock(&state.modes) {
        Modes::Fixed(mode) => return *mode,
        Modes::Scheduled(schedule) => Arc::clone(schedule),
    };
    schedule()
}

fn answer(state: &State, request: &Request, route: Route, key_set: Option<Value>) -> Outcome {
    let document = match route {
        Route::NotFound => return json_error(404, "not_found", "no such endpoint").into(),
        Route::WrongMethod(allowed) => {
            let answer = json_error(405, "invalid_request", &format!("use {allowed}"));
            return answer.with_header("allow", allowed).into();
        }
        Route::UnknownTenant { tenant, token } => {
            let description = format!("tenant '{tenant}' not found");
            return if token {
                oauth_error(400, "invalid_request", &description)
            } else {
                json_error(400, "invalid_tenant", &description)
            }
            .into();
        }
        Route::Keys | Route::Discovery | Route::Token => route,
    };
    let good = || match &document {
        Route::Keys => cacheable(Response::json(
            200,
            key_set.as_ref().unwrap_or(&Value::Null),
        )),
        Route::Discovery => cacheable(Response::json(200, &discovery_document(state))),
        _ => match lock(&state.token_endpoint).clone() {
            Some(endpoint) => endpoint(request, &issuer(state)),
            None => Response::text(404, "no token endpoint"),
        },
    };
    match current_mode(state) {
        IdpMode::Normal => good().into(),
        IdpMode::Fail500 => Response::text(500, "local IdP: internal error\n").into(),
        IdpMode::Hang => Outcome::Hang,
        IdpMode::Reset => Outcome::Reset,
        IdpMode::Garbage => {
            let turn = state.garbage_turn.fetch_add(1, Ordering::SeqCst);
            let good = key_set.unwrap_or_else(|| discovery_document(state));
            Response::new(200, "application/json", garbage(turn, &good)).into()
        }
        IdpMode::Slow(delay) => {
            std::thread::sleep(delay);
            good().into()
        }
    }
}

/// A 200 body that is no usable key set (nor discovery document), a different one each turn.
pub fn garbage(turn: usize, good: &Value) -> String {
    match turn % 5 {
        0 => "<html><body>this is not JSON {\"keys\": [</body></html>".to_string(),
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

/// Entra's documents may be cached for a day.
fn cacheable(response: Response) -> Response {
    response.with_header("cache-control", "max-age=86400, private")
}

/// A JSON error answer: `error` and `error_description`.
fn json_error(status: u16, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    Response::json(status, &body)
}

/// An RFC 6749 §5.2 error answer: JSON `error` and `error_description`, never cached.
pub fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json_error(status, error, description)
        .with_header("cache-control", "no-store")
        .with_header("pragma", "no-cache")
}

fn issuer(state: &State) -> String {
    match &*lock(&state.discovery) {
        Some(discovery) => discovery.issuer.clone(),
        None => format!("{}/{}/v2.0", state.base_url, state.tenant),
    }
}

/// The OpenID Provider metadata: what a client credentials server has, and Entra's
/// authorization endpoint and response types.
fn discovery_document(state: &State) -> Value {
    let own = |endpoint: &str| format!("{}/{}/{endpoint}", state.base_url, state.tenant);
    let jwks_uri = match &*lock(&state.discovery) {
        Some(discovery) => discovery.jwks_uri.clone(),
        None => own(KEYS_ENDPOINT),
    };
    json!({
        "issuer": issuer(state),
        "jwks_uri": jwks_uri,
        "authorization_endpoint": own("oauth2/v2.0/authorize"),
        "token_endpoint": own(TOKEN_ENDPOINT),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(
            serde_json::from_str::<Value>(&garbage(0, &good)).is_err(),
            "the first is not even JSON"
        );
    }
}
