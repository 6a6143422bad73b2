//! What the tests that run the core directly share: the data files of tests/vectors, hex, a
//! request made of a few headers, and provider keys that are the configuration's own
//! `local_jwks`.
// Each test binary uses its own part of this module.
#![allow(dead_code, unused_imports)]

use rolegate::config::{Config, KeySource};
use rolegate::decision::{self, KeySetState, Outcome, ProviderKeys, WaitPermission};

/// `tests/vectors/<rel>`, raw and as JSON (the test kit reads them for the Envoy tests too).
pub use rolegate_testkit::vectors::{read, read_json};

/// Bytes from hex digits.
pub fn hex(digits: &str) -> Vec<u8> {
    assert!(digits.len().is_multiple_of(2), "odd hex length");
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).expect("hex digit"))
        .collect()
}

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
    decision::decide(config, &request.0, &keys, now, WaitPermission::default())
}
