//! Each provider's current key set, its fetch schedule, and how fetch answers are judged.
//!
//! Good keys are only ever replaced by a key set that holds usable keys: an IdP answering
//! 500, garbage, or an empty set leaves the last good keys in force.

use crate::config::{Config, KeySource};
use crate::decision::{KeyStore, Keys};
use crate::fetch_schedule::{FetchResult, FetchSchedule};
use crate::jwks::{KeySet, KeySetError};
use std::fmt;

/// A JWKS body larger than this is refused (real key sets are a few KiB).
pub const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// No HTTP answer: connect failure, reset or timeout.
    NoResponse,
    Status(u32),
    TooLarge(usize),
    NotKeySet(KeySetError),
    NoUsableKeys,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoResponse => write!(f, "no response (connect failure, reset or timeout)"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::TooLarge(n) => write!(f, "body of {n} bytes exceeds {MAX_JWKS_BYTES}"),
            FetchError::NotKeySet(e) => write!(f, "body is not a key set: {e}"),
            FetchError::NoUsableKeys => write!(f, "key set holds no usable RS256 key"),
        }
    }
}

/// Judges a JWKS answer. `status` is `None` when the host got no HTTP answer at all.
pub fn key_set_from_response(status: Option<u32>, body: &[u8]) -> Result<KeySet, FetchError> {
    match status {
        None => return Err(FetchError::NoResponse),
        Some(200) => {}
        Some(other) => return Err(FetchError::Status(other)),
    }
    if body.len() > MAX_JWKS_BYTES {
        return Err(FetchError::TooLarge(body.len()));
    }
    let set = KeySet::parse(body).map_err(FetchError::NotKeySet)?;
    if set.usable_count() == 0 {
        return Err(FetchError::NoUsableKeys);
    }
    Ok(set)
}

struct ProviderKeys {
    set: Option<KeySet>,
    fetched_at_ms: Option<u64>,
    /// `None` for a provider with inline keys: nothing to fetch.
    schedule: Option<FetchSchedule>,
    timeout_ms: u64,
    first_fetch_failed: bool,
}

pub struct KeyCache {
    providers: Vec<ProviderKeys>,
}

impl KeyCache {
    pub fn new(config: &Config, now_ms: u64) -> Self {
        let providers = config
            .providers
            .iter()
            .map(|p| match &p.keys {
                KeySource::Local(set) => ProviderKeys {
                    set: Some(set.clone()),
                    fetched_at_ms: Some(now_ms),
                    schedule: None,
                    timeout_ms: 0,
                    first_fetch_failed: false,
                },
                KeySource::Remote(remote) => ProviderKeys {
                    set: None,
                    fetched_at_ms: None,
                    schedule: Some(FetchSchedule::new(
                        now_ms,
                        remote.cache_duration_seconds.saturating_mul(1000),
                    )),
                    timeout_ms: remote.timeout_ms,
                    first_fetch_failed: false,
                },
            })
            .collect();
        KeyCache { providers }
    }

    /// Providers whose key set should be fetched now. A fetch that never answered is written
    /// off first, so a lost callout cannot stop refreshes for good.
    pub fn due_fetches(&mut self, now_ms: u64) -> Vec<usize> {
        let mut due = Vec::new();
        for (i, p) in self.providers.iter_mut().enumerate() {
            let Some(schedule) = p.schedule.as_mut() else {
                continue;
            };
            if schedule.is_stuck(now_ms, p.timeout_ms) {
                schedule.finished(now_ms, FetchResult::Failed, 0.5);
            }
            if schedule.is_due(now_ms) {
                due.push(i);
            }
        }
        due
    }

    pub fn fetch_started(&mut self, provider: usize, now_ms: u64) {
        if let Some(s) = self.schedule_mut(provider) {
            s.started(now_ms);
        }
    }

    /// Records a fetch's result; returns whether the keys changed.
    pub fn fetch_finished(
        &mut self,
        provider: usize,
        now_ms: u64,
        result: Result<KeySet, FetchError>,
        jitter: f64,
    ) -> bool {
        let Some(p) = self.providers.get_mut(provider) else {
            return false;
        };
        let Some(schedule) = p.schedule.as_mut() else {
            return false;
        };
        match result {
            Ok(set) => {
                schedule.finished(now_ms, FetchResult::Succeeded, jitter);
                p.set = Some(set);
                p.fetched_at_ms = Some(now_ms);
                true
            }
            Err(_) => {
                schedule.finished(now_ms, FetchResult::Failed, jitter);
                if p.set.is_none() {
                    p.first_fetch_failed = true;
                }
                false
            }
        }
    }

    pub fn fetch_in_flight(&self, provider: usize) -> bool {
        self.providers
            .get(provider)
            .and_then(|p| p.schedule.as_ref())
            .is_some_and(FetchSchedule::in_flight)
    }

    pub fn timeout_ms(&self, provider: usize) -> u64 {
        self.providers.get(provider).map_or(0, |p| p.timeout_ms)
    }

    /// Seconds since the provider's keys were last obtained; `None` before the first success.
    pub fn age_seconds(&self, provider: usize, now_ms: u64) -> Option<u64> {
        let fetched = self.providers.get(provider)?.fetched_at_ms?;
        Some(now_ms.saturating_sub(fetched) / 1000)
    }

    fn schedule_mut(&mut self, provider: usize) -> Option<&mut FetchSchedule> {
        self.providers.get_mut(provider)?.schedule.as_mut()
    }
}

impl KeyStore for KeyCache {
    /// Requests may wait for keys only while the first fetch has not failed: after that an IdP
    /// outage must answer at once (503), not pile requests up.
    fn keys(&self, provider: usize) -> Keys<'_> {
        match self.providers.get(provider) {
            Some(ProviderKeys { set: Some(set), .. }) => Keys::Ready(set),
            Some(ProviderKeys {
                first_fetch_failed: false,
                ..
            }) => Keys::Pending,
            _ => Keys::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"providers":[{"name":"p","issuer":"i","audiences":["a"],
        "remote_jwks":{"cluster":"idp","uri":"http://idp/keys","cache_duration_seconds":10,"timeout_ms":1000}}],
        "rules":[{"match":{"prefix":"/"}}]}"#;
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

    fn good_body() -> String {
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"k","n":"{N}","e":"AQAB"}}]}}"#)
    }

    #[test]
    fn answers_are_judged_strictly() {
        assert_eq!(
            key_set_from_response(None, b"").err(),
            Some(FetchError::NoResponse)
        );
        assert_eq!(
            key_set_from_response(Some(500), b"").err(),
            Some(FetchError::Status(500))
        );
        assert!(matches!(
            key_set_from_response(Some(200), b"<html>"),
            Err(FetchError::NotKeySet(_))
        ));
        assert_eq!(
            key_set_from_response(Some(200), br#"{"keys":[]}"#).err(),
            Some(FetchError::NoUsableKeys)
        );
        let big = vec![b' '; MAX_JWKS_BYTES + 1];
        assert!(matches!(
            key_set_from_response(Some(200), &big),
            Err(FetchError::TooLarge(_))
        ));
        assert!(key_set_from_response(Some(200), good_body().as_bytes()).is_ok());
    }

    #[test]
    fn failures_keep_good_keys_and_end_first_key_waits() {
        let config = Config::parse(CONFIG.as_bytes()).expect("config");
        let mut cache = KeyCache::new(&config, 0);
        assert_eq!(cache.due_fetches(0), vec![0]);
        assert!(matches!(cache.keys(0), Keys::Pending));
        cache.fetch_started(0, 0);
        assert!(cache.due_fetches(100).is_empty());
        cache.fetch_finished(0, 100, Err(FetchError::Status(500)), 0.5);
        assert!(matches!(cache.keys(0), Keys::Unavailable));
        assert_eq!(cache.due_fetches(1_100), vec![0]);
        cache.fetch_started(0, 1_100);
        let set = key_set_from_response(Some(200), good_body().as_bytes()).expect("set");
        assert!(cache.fetch_finished(0, 1_200, Ok(set), 0.5));
        assert!(matches!(cache.keys(0), Keys::Ready(_)));
        assert_eq!(cache.age_seconds(0, 4_200), Some(3));
        cache.fetch_started(0, 11_200);
        cache.fetch_finished(0, 11_300, Err(FetchError::NoUsableKeys), 0.5);
        assert!(
            matches!(cache.keys(0), Keys::Ready(_)),
            "good keys survive a bad answer"
        );
    }

    #[test]
    fn a_lost_fetch_is_written_off() {
        let config = Config::parse(CONFIG.as_bytes()).expect("config");
        let mut cache = KeyCache::new(&config, 0);
        cache.fetch_started(0, 0);
        assert!(cache.due_fetches(1_500).is_empty());
        // stuck after timeout + 1 s, then due after the first back-off
        assert!(cache.due_fetches(2_001).is_empty());
        assert!(!cache.fetch_in_flight(0));
        assert_eq!(cache.due_fetches(3_001), vec![0]);
    }
}
