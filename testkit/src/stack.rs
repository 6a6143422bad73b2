//! A running stack (test IdP, echo upstream, Envoy with rolegate) and the request
//! patterns the key-lifecycle tests need: timed requests, concurrent bursts, requests
//! until every Envoy worker has answered, and polling with a deadline.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::answers::{self, Want};
use crate::bootstrap;
use crate::envoy::{rolegate_bootstrap, Envoy};
use crate::http::{self, Response};
use crate::idp::Idp;
use crate::token::bearer;
use crate::upstream::Echo;
use crate::workspace;

/// What a bootstrap builder gets to work with.
pub struct Parts<'a> {
    pub idp_port: u16,
    pub upstream_port: u16,
    pub access_log: &'a Path,
    /// The instance directory (holds envoy.json, envoy.log, ...); extra files may go here.
    pub dir: &'a Path,
    pub wasm: &'a Path,
}

impl Parts<'_> {
    /// The harness's standard bootstrap with the rolegate filter configured with `plugin_config`.
    pub fn standard(&self, plugin_config: &Value) -> Value {
        rolegate_bootstrap(
            plugin_config,
            self.wasm,
            self.dir,
            self.idp_port,
            self.upstream_port,
        )
    }
}

pub struct Stack {
    // Field order = drop order: Envoy goes first.
    pub envoy: Envoy,
    pub up: Echo,
    pub idp: Idp,
}

impl Stack {
    /// The standard bootstrap (clusters `idp` and `upstream`) with rolegate configured with `config`.
    pub fn start(config: &Value, idp: Idp) -> Stack {
        Stack::start_with(idp, |p| p.standard(config))
    }

    /// [`Stack::start`] with the access log in [`bootstrap::DECISION_LOG_FORMAT`].
    pub fn start_logging_decisions(config: &Value, idp: Idp) -> Stack {
        Stack::start_with(idp, |p| {
            let mut bootstrap = p.standard(config);
            bootstrap::set_access_log_format(&mut bootstrap, bootstrap::DECISION_LOG_FORMAT);
            bootstrap
        })
    }

    /// Like [`Stack::start`] with extra static clusters, each pointing at the IdP.
    pub fn start_with_idp_clusters(config: &Value, idp: Idp, names: &[&str]) -> Stack {
        Stack::start_with(idp, |p| {
            let mut bootstrap = p.standard(config);
            let clusters = names
                .iter()
                .map(|n| bootstrap::static_cluster(n, p.idp_port))
                .collect();
            bootstrap::add_clusters(&mut bootstrap, clusters);
            bootstrap
        })
    }

    /// Starts the upstream and Envoy with the bootstrap `make` builds.
    pub fn start_with(idp: Idp, make: impl FnOnce(&Parts<'_>) -> Value) -> Stack {
        let up = Echo::start();
        let wasm = workspace::wasm_module().unwrap_or_else(|e| panic!("{e}"));
        let (idp_port, upstream_port) = (idp.port(), up.port());
        let envoy = Envoy::start_with(|dir| {
            make(&Parts {
                idp_port,
                upstream_port,
                access_log: &dir.join("access.log"),
                dir,
                wasm: &wasm,
            })
        });
        Stack { envoy, up, idp }
    }

    /// `GET path` through Envoy.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.envoy.get(path, headers)
    }

    /// `GET path` with `headers`, and `authorization: Bearer <token>` when there is a token.
    pub fn get_as(&self, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Response {
        let auth = token.map(bearer);
        let mut all = headers.to_vec();
        all.extend(auth.iter().map(|auth| ("authorization", auth.as_str())));
        self.get(path, &all)
    }

    /// `GET path` with `authorization: Bearer <token>`.
    /// Neither Envoy's log nor its access log holds any part of these tokens (parts of eight
    /// bytes or less, such as a short header, could appear by chance and are not looked for).
    pub fn assert_no_token_logged<T: AsRef<str>>(&self, tokens: &[T]) {
        let logs = format!("{}\n{}", self.envoy.log(), self.envoy.access_log());
        for token in tokens {
            for part in token.as_ref().split('.').filter(|p| p.len() > 8) {
                assert!(!logs.contains(part), "a log holds part of a token: {part}");
            }
        }
    }

    pub fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.timed_get_with_token(path, token).0
    }

    /// `GET path` with `token` gets `want` (see [`answers::answer`]).
    pub fn expect(&self, path: &str, token: &str, want: Want<'_>, what: &str) {
        answers::answer(&self.get_with_token(path, token), want, what);
    }

    /// Like [`Stack::get_with_token`], also returning how long the answer took.
    pub fn timed_get_with_token(&self, path: &str, token: &str) -> (Response, Duration) {
        let auth = bearer(token);
        let started = Instant::now();
        let r = self.envoy.get(path, &[("authorization", auth.as_str())]);
        (r, started.elapsed())
    }

    /// Sends `tokens.len()` requests at once, one connection each, request `i` to
    /// `path(i)` with `tokens[i]`; returns each answer and how long it took, in order.
    pub fn burst(
        &self,
        tokens: &[String],
        path: impl Fn(usize) -> String,
    ) -> Vec<(Response, Duration)> {
        let port = self.envoy.port();
        let handles: Vec<_> = tokens
            .iter()
            .enumerate()
            .map(|(i, token)| {
                let auth = bearer(token);
                let path = path(i);
                std::thread::spawn(move || {
                    let started = Instant::now();
                    let r = http::request(port, "GET", &path, &[("authorization", &auth)], None);
                    (r, started.elapsed())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("a burst client thread panicked"))
            })
            .collect()
    }

    /// Calls `send(i)` for i = 0, 1, ... (each call should make one request on a new
    /// connection and check its answer) until every Envoy worker has accepted at least
    /// `min_each` connections since this call started. Panics after `max_calls` calls.
    /// Returns the number of calls.
    pub fn on_every_worker(
        &self,
        min_each: u64,
        max_calls: usize,
        mut send: impl FnMut(usize),
    ) -> usize {
        let base = self.envoy.worker_connections();
        for i in 0..max_calls {
            send(i);
            let now = self.envoy.worker_connections();
            let new: Vec<u64> = now
                .iter()
                .enumerate()
                .map(|(w, n)| n - base.get(w).copied().unwrap_or(0))
                .collect();
            if new.iter().all(|n| *n >= min_each) {
                return i + 1;
            }
        }
        panic!(
            "after {max_calls} requests not every worker accepted {min_each} connections: \
             before {base:?}, now {:?}",
            self.envoy.worker_connections()
        );
    }
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout` (`f` runs at
/// least once, and once more at the deadline).
pub fn eventually<T>(
    timeout: Duration,
    every: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(every.min(deadline - now));
    }
}

/// Waits (up to 2 s) for a per-request counter, which workers hand to Envoy on each tick, to
/// read exactly `want`.
pub fn assert_counter_reaches(s: &Stack, name: &str, want: u64) {
    let reached = eventually(Duration::from_secs(2), Duration::from_millis(50), || {
        (s.envoy.counter(name) == want).then_some(())
    });
    assert!(
        reached.is_some(),
        "{name} is {}, want {want}",
        s.envoy.counter(name)
    );
}
