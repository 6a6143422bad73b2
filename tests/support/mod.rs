//! What the tests that run the core's decision directly share: a request made of a few
//! headers, and provider keys that are the configuration's own `local_jwks`.
#![allow(dead_code)]

use rolegate::config::{Config, KeySource};
use rolegate::decision::{
    self, KeySetState, Outcome, ProviderKeys, RequestHeaders, WaitPermission,
};

/// A request: its headers, pseudo-headers included.
pub struct Request(pub Vec<(&'static str, String)>);

impl Request {
    /// `GET /api` on `api.example`, with `authorization` if any.
    pub fn get(authorization: Option<String>) -> Request {
        let mut headers = vec![
            (":method", "GET".to_string()),
            (":path", "/api".to_string()),
            (":authority", "api.example".to_string()),
        ];
        headers.extend(authorization.map(|value| ("authorization", value)));
        Request(headers)
    }

    /// [`Request::get`] with `authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Request {
        Request::get(Some(format!("Bearer {token}")))
    }
}

impl RequestHeaders for Request {
    fn header(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// The keys of `local_jwks` providers, as configured; other providers have none.
pub struct LocalKeys<'c>(pub &'c Config);

impl ProviderKeys for LocalKeys<'_> {
    fn keys(&self, provider: usize) -> KeySetState<'_> {
        match self.0.providers.get(provider).map(|p| &p.keys) {
            Some(KeySource::Local(set)) => KeySetState::Ready(set),
            _ => KeySetState::Unavailable,
        }
    }
}

/// The decision on `request` at `now`, with the configuration's own keys.
pub fn decide_at<'c>(config: &'c Config, request: &Request, now: i64) -> Outcome<'c> {
    let keys = LocalKeys(config);
    decision::decide(config, request, &keys, now, WaitPermission::default())
}
