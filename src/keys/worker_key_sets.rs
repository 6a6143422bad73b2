//! One worker's view of every provider's keys, kept in step with the record all workers share.
//!
//! Workers parse a key set only when its shared generation moves. At most one fetch per
//! provider runs in the whole Envoy: the worker that wins the lease in the shared record
//! fetches and publishes; the others pick the result up on their next sync. Good keys are only
//! ever replaced by a key set that holds usable keys.

use crate::config::{Config, FetchSettings, KeySource, Provider};
use crate::keys::backoff::next_success_within_ms;
use crate::keys::jwks::KeySet;
use crate::keys::key_wait::WaitReason;
use crate::keys::provider_keys::{KeySetState, ProviderKeys};
use crate::keys::shared_data::{load_record, update_record, SharedData};
use crate::keys::shared_fetch_record::{RefetchDecision, SharedFetchRecord};
use crate::keys::wait_queue::KeyWait;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

/// How long past its own timeout a fetch may hold the lease before others take over.
pub const LEASE_MARGIN_MS: u64 = 1_000;

/// Hex digits of the SHA-256 that name a shared key set: 64 bits, so distinct configurations
/// in one Envoy do not meet by chance, in a key every worker passes to the host on every sync.
const FETCH_ID_HEX_DIGITS: usize = 16;

/// The shared-data name of a provider's key set, without the `/record` or `/jwks` suffix:
/// `rolegate/keys/<provider name>/<fetch id>`. Workers, and configurations, share a key set
/// only when every one of them would have accepted it, so the fetch id covers everything
/// that decides a fetch and its answer: the kind of source, the clusters, the URI, the issuers
/// a discovery document must state, the limits, and the build, whose code judges the answers.
/// Two configurations that differ in any of them (a cluster switched to another IdP, a lower
/// `max_jwks_bytes`, one issuer fewer) keep apart, and a changed configuration starts with a
/// fetch of its own instead of keys fetched the old way. The name is hashed too, so the
/// readable part decides nothing.
///
/// Each worker parses the shared body with its own code and `max_jwks_bytes` (`sync`); what no
/// reader can check again is what the document said, hence the issuers.
fn shared_key_base(provider: &Provider) -> String {
    // Length-prefixed fields: no two different inputs give the same description.
    let mut description = String::from("rolegate key set v2");
    let mut field = |value: &str| {
        let _ = write!(description, "|{}:{value}", value.len());
    };
    // Another release may judge answers differently (two builds of one version still meet).
    field(env!("CARGO_PKG_VERSION"));
    field(&provider.name);
    match &provider.keys {
        KeySource::Local(_) => field("local"),
        KeySource::Remote { jwks, .. } => {
            field("remote_jwks");
            field(&jwks.cluster);
            field(&jwks.uri);
        }
        KeySource::Discovery {
            document,
            jwks_cluster,
            ..
        } => {
            field("discovery");
            field(&document.cluster);
            field(&document.uri);
            field(jwks_cluster);
            // Sorted: the order of the list decides nothing. Counted, so a list cannot run
            // into the fields after it.
            let mut issuers: Vec<&str> = provider
                .document_issuers
                .iter()
                .map(String::as_str)
                .collect();
            issuers.sort_unstable();
            issuers.dedup();
            field(&issuers.len().to_string());
            for issuer in issuers {
                field(issuer);
            }
        }
    }
    // Destructured, not read field by field: a limit added to FetchSettings must be added
    // here too, or this stops compiling.
    if let Some(&FetchSettings {
        cache_duration_seconds,
        timeout_ms,
        min_refetch_interval_seconds,
        max_jwks_bytes,
        // How long kept keys may be used is each worker's own check against the record's
        // fetch time; it changes nothing about what is fetched or shared.
        max_stale_seconds: _,
    }) = provider.keys.fetch_settings()
    {
        for limit in [
            cache_duration_seconds,
            timeout_ms,
            min_refetch_interval_seconds,
            u64::try_from(max_jwks_bytes).unwrap_or(u64::MAX),
        ] {
            field(&limit.to_string());
        }
    }
    let mut base = format!("rolegate/keys/{}/", provider.name);
    for byte in Sha256::digest(description.as_bytes())
        .iter()
        .take(FETCH_ID_HEX_DIGITS / 2)
    {
        let _ = write!(base, "{byte:02x}");
    }
    base
}

/// How long one fetch may hold the lease: every call's timeout and a margin.
fn lease_ms_of(fetch: &FetchSettings, calls_per_fetch: u64) -> u64 {
    fetch
        .timeout_ms
        .saturating_mul(calls_per_fetch)
        .saturating_add(LEASE_MARGIN_MS)
}

/// The shortest `max_stale_seconds` the refresh beats whenever the IdP answers one of two
/// tries (see `backoff::next_success_within_ms`). `usable_until` counts from the whole second
/// of the last fetch, up to 999 ms early, so one second more. `None` for inline keys.
pub fn shortest_max_stale_seconds(source: &KeySource) -> Option<u64> {
    let fetch = source.fetch_settings()?;
    let cache_duration_ms = fetch.cache_duration_seconds.saturating_mul(1000);
    let lease_ms = lease_ms_of(fetch, source.calls_per_fetch());
    let within_ms = next_success_within_ms(cache_duration_ms, lease_ms);
    Some(within_ms.div_ceil(1000).saturating_add(1))
}

struct RemoteSlot {
    record_key: String,
    body_key: String,
    fetch: FetchSettings,
    lease_ms: u64,
    /// The shared record as last read.
    record: SharedFetchRecord,
    /// Whether the keys were past `max_stale_seconds` when `staleness_changes` last looked.
    reported_stale: bool,
}

impl RemoteSlot {
    fn usable_until(&self) -> Option<i64> {
        let limit = self.fetch.max_stale_seconds;
        (limit > 0 && self.record.has_keys()).then(|| {
            let until = (self.record.fetched_at_ms / 1000).saturating_add(limit);
            i64::try_from(until).unwrap_or(i64::MAX)
        })
    }
}

/// A provider's keys went past `max_stale_seconds` (`stale`), or were fetched again after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StalenessChange {
    pub provider: usize,
    pub stale: bool,
}

struct ProviderSlot {
    set: Option<KeySet>,
    generation: u64,
    /// `None` for a provider with inline keys: nothing to fetch or share.
    remote: Option<RemoteSlot>,
}

pub struct WorkerKeySets {
    worker: u64,
    providers: Vec<ProviderSlot>,
}

impl WorkerKeySets {
    /// `worker` must differ between the workers sharing one store (it names lease holders).
    pub fn new(config: &Config, worker: u64) -> Self {
        let providers = config
            .providers
            .iter()
            .map(|p| {
                let fetch = match &p.keys {
                    KeySource::Local(set) => {
                        return ProviderSlot {
                            set: Some(set.clone()),
                            generation: 1,
                            remote: None,
                        }
                    }
                    KeySource::Remote { fetch, .. } | KeySource::Discovery { fetch, .. } => *fetch,
                };
                let base = shared_key_base(p);
                ProviderSlot {
                    set: None,
                    generation: 0,
                    remote: Some(RemoteSlot {
                        record_key: format!("{base}/record"),
                        body_key: format!("{base}/jwks"),
                        fetch,
                        lease_ms: lease_ms_of(&fetch, p.keys.calls_per_fetch()),
                        record: SharedFetchRecord::default(),
                        reported_stale: false,
                    }),
                }
            })
            .collect();
        WorkerKeySets { worker, providers }
    }

    /// Reads the shared records; re-parses a key set only when its generation moved. Returns
    /// the providers whose record changed, so their waiting requests can be looked at again.
    pub fn sync(&mut self, store: &dyn SharedData) -> Vec<usize> {
        let mut changed = Vec::new();
        for (i, p) in self.providers.iter_mut().enumerate() {
            let Some(remote) = p.remote.as_mut() else {
                continue;
            };
            let Some(record) = load_record(store, &remote.record_key) else {
                continue;
            };
            if record.generation != p.generation {
                let parsed = store
                    .get(&remote.body_key)
                    .filter(|(body, _)| body.len() <= remote.fetch.max_jwks_bytes)
                    .and_then(|(body, _)| KeySet::parse(&body).ok())
                    .filter(|set| set.usable_count() > 0);
                if let Some(set) = parsed {
                    p.set = Some(set);
                    p.generation = record.generation;
                }
            }
            if record != remote.record {
                remote.record = record;
                changed.push(i);
            }
        }
        changed
    }

    /// Takes the fetch lease of every provider whose fetch is due and not running anywhere;
    /// the caller must then fetch each returned provider and report back.
    pub fn claim_due(&mut self, store: &dyn SharedData, now_ms: u64) -> Vec<usize> {
        let worker = self.worker;
        let mut claimed = Vec::new();
        for (i, p) in self.providers.iter_mut().enumerate() {
            let Some(remote) = p.remote.as_mut() else {
                continue;
            };
            let lease_ms = remote.lease_ms;
            if let Some((record, true)) = update_record(store, &remote.record_key, |r| {
                let won = r.try_claim(worker, now_ms, lease_ms);
                (won, won)
            }) {
                remote.record = record;
                claimed.push(i);
            }
        }
        claimed
    }

    /// Gives up the leases this worker holds (it is shutting down; its fetches die with it).
    pub fn release_leases(&mut self, store: &dyn SharedData) {
        let worker = self.worker;
        for remote in self.providers.iter_mut().filter_map(|p| p.remote.as_mut()) {
            if let Some((record, ())) = update_record(store, &remote.record_key, |r| {
                let mine = r.lease_holder == worker;
                if mine {
                    r.lease_holder = 0;
                    r.lease_expires_ms = 0;
                }
                (mine, ())
            }) {
                remote.record = record;
            }
        }
    }

    /// Publishes a good key set fetched under this worker's lease. `jitter` in [0, 1) spreads
    /// the next refresh.
    pub fn fetch_succeeded(
        &mut self,
        store: &dyn SharedData,
        provider: usize,
        body: &[u8],
        set: KeySet,
        now_ms: u64,
        jitter: f64,
    ) {
        let worker = self.worker;
        let Some(p) = self.providers.get_mut(provider) else {
            return;
        };
        let Some(remote) = p.remote.as_mut() else {
            return;
        };
        let stored = store.get(&remote.body_key).map(|(b, _)| b);
        let changed = stored.as_deref() != Some(body);
        // The body goes first: a worker that sees the new generation must find the new body.
        if changed {
            store.set(&remote.body_key, body, 0);
        }
        let refresh_ms = remote.fetch.cache_duration_seconds.saturating_mul(1000);
        if let Some((record, ())) = update_record(store, &remote.record_key, |r| {
            r.succeeded(worker, now_ms, refresh_ms, changed, jitter);
            (true, ())
        }) {
            remote.record = record;
            p.generation = record.generation;
        }
        p.set = Some(set);
    }

    /// Records a failed fetch: the last good keys stay, the next attempt backs off.
    pub fn fetch_failed(
        &mut self,
        store: &dyn SharedData,
        provider: usize,
        now_ms: u64,
        jitter: f64,
    ) {
        let worker = self.worker;
        let Some(remote) = self
            .providers
            .get_mut(provider)
            .and_then(|p| p.remote.as_mut())
        else {
            return;
        };
        if let Some((record, ())) = update_record(store, &remote.record_key, |r| {
            r.failed(worker, now_ms, jitter);
            (true, ())
        }) {
            remote.record = record;
        }
    }

    /// A token named a `kid` this provider's keys lack. Returns the decision and the fetch
    /// count to wait beyond.
    pub fn request_refetch(
        &self,
        store: &dyn SharedData,
        provider: usize,
        now_ms: u64,
    ) -> (RefetchDecision, u64) {
        let Some(remote) = self.providers.get(provider).and_then(|p| p.remote.as_ref()) else {
            return (RefetchDecision::RateLimited, 0);
        };
        let interval_ms = remote
            .fetch
            .min_refetch_interval_seconds
            .saturating_mul(1000);
        match update_record(store, &remote.record_key, |r| {
            let decision = r.request_refetch(now_ms, interval_ms);
            (decision == RefetchDecision::Started, decision)
        }) {
            Some((record, decision)) => (decision, record.completed),
            None => (RefetchDecision::RateLimited, 0),
        }
    }

    /// How a request that must wait for `provider`'s keys for `reason` waits: for the fetch
    /// after those finished so far, or, for an unknown `kid`, for the refetch it starts or
    /// joins. `None` when that refetch is rate-limited: the request is answered now.
    pub fn wait_for(
        &self,
        store: &dyn SharedData,
        provider: usize,
        reason: WaitReason,
        now_ms: u64,
    ) -> Option<KeyWait> {
        let (after_completed, started_refetch) = match reason {
            WaitReason::FirstKeys => (self.completed_fetches(provider), false),
            WaitReason::UnknownKid => match self.request_refetch(store, provider, now_ms) {
                (RefetchDecision::Started, completed) => (completed, true),
                (RefetchDecision::Joined, completed) => (completed, false),
                (RefetchDecision::RateLimited, _) => return None,
            },
        };
        Some(KeyWait {
            after_completed,
            lease_ms: self.lease_ms(provider),
            started_refetch,
        })
    }

    /// The providers whose keys went past `max_stale_seconds` at `now_seconds`, or came back
    /// within it, since the last call: each change is reported once (gauge and log line).
    pub fn staleness_changes(&mut self, now_seconds: i64) -> Vec<StalenessChange> {
        let mut changes = Vec::new();
        for (provider, p) in self.providers.iter_mut().enumerate() {
            let Some(remote) = p.remote.as_mut() else {
                continue;
            };
            let stale = remote
                .usable_until()
                .is_some_and(|until| now_seconds >= until);
            if stale != remote.reported_stale {
                remote.reported_stale = stale;
                changes.push(StalenessChange { provider, stale });
            }
        }
        changes
    }

    /// Fetches finished so far for this provider, as last synced.
    pub fn completed_fetches(&self, provider: usize) -> u64 {
        self.remote(provider).map_or(0, |r| r.record.completed)
    }

    /// How long one fetch cycle (with discovery, two calls) may take before its lease lapses.
    pub fn lease_ms(&self, provider: usize) -> u64 {
        self.remote(provider).map_or(0, |r| r.lease_ms)
    }

    /// Seconds since the provider's keys were last fetched; `None` before the first success.
    pub fn age_seconds(&self, provider: usize, now_ms: u64) -> Option<u64> {
        let record = &self.remote(provider)?.record;
        record
            .has_keys()
            .then(|| now_ms.saturating_sub(record.fetched_at_ms) / 1000)
    }

    /// The shared-data key of the provider's record (lease, schedule, generation); `None` for
    /// inline keys. Tests plant hostile records under it.
    #[cfg(any(test, feature = "internals"))]
    pub fn record_key(&self, provider: usize) -> Option<&str> {
        self.remote(provider).map(|r| r.record_key.as_str())
    }

    /// The shared-data key of the provider's last good key set body.
    #[cfg(any(test, feature = "internals"))]
    pub fn body_key(&self, provider: usize) -> Option<&str> {
        self.remote(provider).map(|r| r.body_key.as_str())
    }

    fn remote(&self, provider: usize) -> Option<&RemoteSlot> {
        self.providers.get(provider)?.remote.as_ref()
    }
}

impl ProviderKeys for WorkerKeySets {
    fn generation(&self, provider: usize) -> u64 {
        self.providers.get(provider).map_or(0, |p| p.generation)
    }

    fn usable_until(&self, provider: usize) -> Option<i64> {
        self.remote(provider)?.usable_until()
    }

    /// Requests may wait for the first keys only until a fetch has failed: after that an IdP
    /// outage must answer at once (503), not pile requests up.
    fn keys(&self, provider: usize) -> KeySetState<'_> {
        let Some(p) = self.providers.get(provider) else {
            return KeySetState::Unavailable;
        };
        match (&p.set, &p.remote) {
            (Some(set), _) => KeySetState::Ready(set),
            (None, Some(remote)) if remote.record.consecutive_failures == 0 => KeySetState::Pending,
            _ => KeySetState::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::backoff::START_SLACK_MS;
    use crate::keys::fetch_cycle::key_set_from_response;
    use crate::keys::shared_data::MemorySharedData;

    const CONFIG: &str = r#"{"providers":[{"name":"p","issuer":"i","audiences":["a"],
        "remote_jwks":{"cluster":"idp","uri":"http://idp/keys","cache_duration_seconds":10,"timeout_ms":1000}}],
        "rules":[{"match":{"prefix":"/"}}]}"#;
    const N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

    fn body(kid: &str) -> String {
        format!(r#"{{"keys":[{{"kty":"RSA","kid":"{kid}","n":"{N}","e":"AQAB"}}]}}"#)
    }

    fn workers(n: u64) -> Vec<WorkerKeySets> {
        let config = Config::parse(CONFIG.as_bytes()).expect("config");
        (1..=n).map(|w| WorkerKeySets::new(&config, w)).collect()
    }

    fn good(kid: &str) -> (String, KeySet) {
        let b = body(kid);
        let set = key_set_from_response(Some(200), b.as_bytes(), 1 << 20).expect("set");
        (b, set)
    }

    fn kid_known(key_sets: &WorkerKeySets, kid: &str) -> bool {
        match key_sets.keys(0) {
            KeySetState::Ready(set) => matches!(
                set.lookup(Some(kid), None),
                crate::keys::jwks::KeyLookup::Found(_)
            ),
            _ => false,
        }
    }

    #[test]
    fn one_fetch_for_all_workers_and_every_worker_picks_the_keys_up() {
        let store = MemorySharedData::default();
        let mut ws = workers(3);
        for w in &mut ws {
            w.sync(&store);
            assert!(matches!(w.keys(0), KeySetState::Pending));
        }
        let first: Vec<usize> = ws
            .iter_mut()
            .map(|w| w.claim_due(&store, 0).len())
            .collect();
        assert_eq!(first, vec![1, 0, 0], "one worker wins the lease");
        let again: usize = ws.iter_mut().map(|w| w.claim_due(&store, 50).len()).sum();
        assert_eq!(again, 0, "nobody else while it is held");
        let (b, set) = good("k1");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 100, 0.5);
        for w in &mut ws[1..] {
            assert_eq!(w.sync(&store), vec![0]);
            assert!(kid_known(w, "k1"));
        }
        assert_eq!(ws[2].age_seconds(0, 5_100), Some(5));
    }

    #[test]
    fn kept_keys_are_usable_until_max_stale_seconds_after_the_last_success() {
        let config = Config::parse(
            CONFIG
                .replace(
                    "\"timeout_ms\":1000",
                    "\"timeout_ms\":1000,\"max_stale_seconds\":60",
                )
                .as_bytes(),
        )
        .expect("config");
        let store = MemorySharedData::default();
        let mut key_sets = WorkerKeySets::new(&config, 1);
        assert_eq!(key_sets.usable_until(0), None, "no keys yet");
        let (body, set) = good("k1");
        assert_eq!(key_sets.claim_due(&store, 5_000_000), vec![0]);
        key_sets.fetch_succeeded(&store, 0, body.as_bytes(), set, 5_000_000, 0.5);
        assert_eq!(key_sets.usable_until(0), Some(5_000 + 60));
        // A failed refresh (an empty set, say) does not move the limit.
        assert_eq!(key_sets.claim_due(&store, 5_010_000), vec![0]);
        key_sets.fetch_failed(&store, 0, 5_010_000, 0.5);
        assert_eq!(key_sets.usable_until(0), Some(5_060));
        let unlimited = WorkerKeySets::new(&Config::parse(CONFIG.as_bytes()).expect("config"), 2);
        assert_eq!(unlimited.usable_until(0), None);
    }

    fn with_max_stale_seconds(limit: u64) -> Config {
        let text = CONFIG.replace(
            "\"timeout_ms\":1000",
            &format!("\"timeout_ms\":1000,\"max_stale_seconds\":{limit}"),
        );
        Config::parse(text.as_bytes()).expect("config")
    }

    #[test]
    fn keys_going_stale_and_coming_back_are_reported_once_each() {
        let config = with_max_stale_seconds(60);
        let store = MemorySharedData::default();
        let mut fetcher = WorkerKeySets::new(&config, 1);
        let mut other = WorkerKeySets::new(&config, 2);
        let stale = |stale| vec![StalenessChange { provider: 0, stale }];
        assert!(
            fetcher.staleness_changes(i64::MAX).is_empty(),
            "no keys yet: nothing to go stale"
        );

        assert_eq!(fetcher.claim_due(&store, 5_000_000), vec![0]);
        let (body, set) = good("k1");
        fetcher.fetch_succeeded(&store, 0, body.as_bytes(), set, 5_000_000, 0.5);
        other.sync(&store);
        assert!(fetcher.staleness_changes(5_059).is_empty());
        assert_eq!(fetcher.staleness_changes(5_060), stale(true));
        assert!(
            fetcher.staleness_changes(5_061).is_empty(),
            "reported once, not on every look"
        );
        assert_eq!(
            other.staleness_changes(5_100),
            stale(true),
            "each worker reports its own view"
        );

        assert_eq!(fetcher.claim_due(&store, 5_100_000), vec![0]);
        fetcher.fetch_failed(&store, 0, 5_100_000, 0.5);
        assert!(
            fetcher.staleness_changes(5_101).is_empty(),
            "a failed fetch keeps them stale"
        );

        assert_eq!(fetcher.claim_due(&store, 5_200_000), vec![0]);
        let (body, set) = good("k1");
        fetcher.fetch_succeeded(&store, 0, body.as_bytes(), set, 5_200_000, 0.5);
        assert_eq!(fetcher.staleness_changes(5_200), stale(false));
        assert!(fetcher.staleness_changes(5_201).is_empty());
        assert!(
            other.staleness_changes(5_200).is_empty(),
            "not synced yet: still stale in its view, and that was reported"
        );
        other.sync(&store);
        assert_eq!(
            other.staleness_changes(5_200),
            stale(false),
            "another worker's fetch brings them back"
        );

        let mut unlimited =
            WorkerKeySets::new(&Config::parse(CONFIG.as_bytes()).expect("config"), 3);
        unlimited.sync(&store);
        assert!(unlimited.staleness_changes(i64::MAX).is_empty());
    }

    #[test]
    fn a_request_waits_for_the_next_fetch_or_for_the_refetch_of_its_unknown_kid() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        let wait = |after_completed, started_refetch| {
            Some(KeyWait {
                after_completed,
                lease_ms: 2_000,
                started_refetch,
            })
        };
        assert_eq!(
            ws[1].wait_for(&store, 0, WaitReason::FirstKeys, 0),
            wait(0, false),
            "the first keys: answered after the first fetch, within its lease"
        );

        ws[0].claim_due(&store, 0);
        let (b, set) = good("k1");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 100, 0.5);
        ws[1].sync(&store);
        assert_eq!(
            ws[1].wait_for(&store, 0, WaitReason::UnknownKid, 2_000),
            wait(1, true),
            "an unknown kid starts a refetch"
        );
        assert_eq!(
            ws[0].wait_for(&store, 0, WaitReason::UnknownKid, 2_010),
            wait(1, false),
            "and later ones join it"
        );
        assert_eq!(ws[0].claim_due(&store, 2_100), vec![0]);
        let (b, set) = good("k2");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 2_200, 0.5);
        assert_eq!(
            ws[0].wait_for(&store, 0, WaitReason::UnknownKid, 3_000),
            None,
            "within min_refetch_interval_seconds: answered now"
        );
        assert_eq!(
            ws[0].wait_for(&store, 0, WaitReason::FirstKeys, 3_000),
            wait(2, false)
        );
    }

    /// The largest number `randomness::unit_interval` draws, (2^53 - 1) / 2^53: the latest
    /// refresh and the longest retry delay.
    const WORST_JITTER: f64 = 1.0 - f64::EPSILON / 2.0;

    /// Runs the latest schedule the draws allow after a success at the last millisecond of a
    /// second (the one `usable_until` rounds furthest): the refresh at the top of its spread,
    /// starting `START_SLACK_MS` late, a first try that fails only when its lease runs out,
    /// the longest first retry delay, and a retry that succeeds at the end of its lease.
    /// Returns whether the keys were stale when that retry landed.
    fn stale_before_the_worst_refresh_lands(config: &Config) -> bool {
        let store = MemorySharedData::default();
        let mut key_sets = WorkerKeySets::new(config, 1);
        let record = |key_sets: &WorkerKeySets| {
            load_record(&store, key_sets.record_key(0).expect("remote")).expect("record")
        };
        let lease = key_sets.lease_ms(0);
        let last_good = 5_000_999;
        assert_eq!(key_sets.claim_due(&store, last_good), vec![0]);
        let (b, set) = good("k1");
        key_sets.fetch_succeeded(&store, 0, b.as_bytes(), set, last_good, WORST_JITTER);

        let refresh_due = record(&key_sets).next_fetch_ms;
        assert!(
            refresh_due - last_good >= 10_999,
            "the top of the 10 s +-10% spread: {}",
            refresh_due - last_good
        );
        let first_try = refresh_due + START_SLACK_MS;
        assert_eq!(key_sets.claim_due(&store, first_try), vec![0]);
        let first_try_failed = first_try + lease;
        key_sets.fetch_failed(&store, 0, first_try_failed, WORST_JITTER);

        let retry_due = record(&key_sets).next_fetch_ms;
        assert!(
            retry_due - first_try_failed >= 1_249,
            "the top of the 1 s +-25% first retry: {}",
            retry_due - first_try_failed
        );
        let retry = retry_due + START_SLACK_MS;
        assert_eq!(key_sets.claim_due(&store, retry), vec![0]);
        let retry_landed = retry + lease;

        let until = key_sets.usable_until(0).expect("a stale limit");
        let stale = i64::try_from(retry_landed / 1000).expect("seconds") >= until;
        let (b, set) = good("k1");
        key_sets.fetch_succeeded(&store, 0, b.as_bytes(), set, retry_landed, WORST_JITTER);
        assert!(
            key_sets.usable_until(0) > Some(until),
            "the retry's success moves the limit"
        );
        stale
    }

    #[test]
    fn the_shortest_accepted_stale_limit_outlasts_the_latest_refresh_and_its_retry() {
        // 11 s refresh at the latest, 1 s + 2 s failed try, 1.25 s retry delay, 1 s + 2 s
        // retry: 18.25 s, and one second for the rounding of the last good fetch.
        let with_limit = |limit: u64| {
            CONFIG.replace(
                "\"timeout_ms\":1000",
                &format!("\"timeout_ms\":1000,\"max_stale_seconds\":{limit}"),
            )
        };
        let mut config = Config::parse(with_limit(20).as_bytes()).expect("the shortest limit");
        assert!(
            Config::parse(with_limit(19).as_bytes()).is_err(),
            "one second less is refused"
        );
        assert!(!stale_before_the_worst_refresh_lands(&config));

        // The schedule is tight: a limit one second shorter (as configuration refuses) is
        // past before the retry lands.
        if let KeySource::Remote { fetch, .. } = &mut config.providers[0].keys {
            fetch.max_stale_seconds = 19;
        }
        assert!(stale_before_the_worst_refresh_lands(&config));
    }

    #[test]
    fn failures_keep_good_keys_and_end_first_key_waits() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        assert_eq!(ws[0].claim_due(&store, 0), vec![0]);
        ws[0].fetch_failed(&store, 0, 10, 0.5);
        ws[1].sync(&store);
        assert!(matches!(ws[1].keys(0), KeySetState::Unavailable));
        assert!(ws[1].claim_due(&store, 500).is_empty(), "backing off");
        assert_eq!(ws[1].claim_due(&store, 1_010), vec![0]);
        let (b, set) = good("k1");
        ws[1].fetch_succeeded(&store, 0, b.as_bytes(), set, 1_100, 0.5);
        ws[0].sync(&store);
        assert!(kid_known(&ws[0], "k1"));
        assert_eq!(ws[0].claim_due(&store, 11_100), vec![0], "refresh due");
        ws[0].fetch_failed(&store, 0, 11_200, 0.5);
        ws[1].sync(&store);
        assert!(
            kid_known(&ws[1], "k1"),
            "good keys survive a failed refresh"
        );
    }

    #[test]
    fn a_worker_going_away_releases_its_lease() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        assert_eq!(ws[0].claim_due(&store, 0), vec![0]);
        ws[1].release_leases(&store);
        assert!(
            ws[1].claim_due(&store, 10).is_empty(),
            "only the holder releases"
        );
        ws[0].release_leases(&store);
        assert_eq!(ws[1].claim_due(&store, 20), vec![0]);
    }

    #[test]
    fn a_lost_lease_is_taken_over_after_it_expires() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        assert_eq!(ws[0].claim_due(&store, 0), vec![0]);
        assert!(ws[1].claim_due(&store, 1_999).is_empty());
        assert_eq!(ws[1].claim_due(&store, 2_000), vec![0]);
    }

    #[test]
    fn unknown_kids_refetch_once_then_are_rate_limited() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        ws[0].claim_due(&store, 0);
        let (b, set) = good("k1");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 100, 0.5);
        ws[1].sync(&store);
        let (d, baseline) = ws[1].request_refetch(&store, 0, 2_000);
        assert_eq!((d, baseline), (RefetchDecision::Started, 1));
        assert_eq!(
            ws[0].request_refetch(&store, 0, 2_010).0,
            RefetchDecision::Joined
        );
        assert_eq!(
            ws[0].claim_due(&store, 2_100),
            vec![0],
            "a granted refetch is due at once"
        );
        let (b, set) = good("k2");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 2_200, 0.5);
        assert_eq!(ws[1].sync(&store), vec![0]);
        assert!(
            kid_known(&ws[1], "k2") && !kid_known(&ws[1], "k1"),
            "rotated out"
        );
        assert_eq!(ws[1].completed_fetches(0), 2);
        assert_eq!(
            ws[1].request_refetch(&store, 0, 3_000).0,
            RefetchDecision::RateLimited
        );
        assert_eq!(
            ws[1].request_refetch(&store, 0, 32_000).0,
            RefetchDecision::Started
        );
    }

    fn record_key_of(config: &str) -> String {
        let config = Config::parse(config.as_bytes()).expect("config");
        let key_sets = WorkerKeySets::new(&config, 1);
        let key = key_sets.record_key(0).expect("remote").to_string();
        let body = key_sets.body_key(0).expect("remote");
        assert_eq!(key.strip_suffix("/record"), body.strip_suffix("/jwks"));
        key
    }

    /// A shared key set is one fetch: every input of that fetch must be part of its name, or
    /// two configurations that fetch differently share keys (and a change of cluster or limit
    /// keeps the keys fetched the old way).
    #[test]
    fn the_shared_record_is_named_by_every_fetch_input() {
        let base = record_key_of(CONFIG);
        assert_eq!(base, record_key_of(CONFIG), "same inputs, same record");
        assert!(base.starts_with("rolegate/keys/p/"), "{base}");
        assert!(base.ends_with("/record"), "{base}");
        let variants = [
            (
                "cluster",
                CONFIG.replace(r#""cluster":"idp""#, r#""cluster":"idp2""#),
            ),
            (
                "uri",
                CONFIG.replace("http://idp/keys", "http://idp/other-keys"),
            ),
            (
                "cache_duration_seconds",
                CONFIG.replace(
                    r#""cache_duration_seconds":10"#,
                    r#""cache_duration_seconds":11"#,
                ),
            ),
            (
                "timeout_ms",
                CONFIG.replace(r#""timeout_ms":1000"#, r#""timeout_ms":1001"#),
            ),
            (
                "min_refetch_interval_seconds",
                CONFIG.replace(
                    r#""timeout_ms":1000"#,
                    r#""timeout_ms":1000,"min_refetch_interval_seconds":7"#,
                ),
            ),
            (
                "max_jwks_bytes",
                CONFIG.replace(
                    r#""timeout_ms":1000"#,
                    r#""timeout_ms":1000,"max_jwks_bytes":4096"#,
                ),
            ),
            (
                "discovery instead of a key set URI",
                CONFIG.replace("remote_jwks", "discovery"),
            ),
        ];
        let mut seen = vec![base];
        for (what, config) in variants {
            assert_ne!(config, CONFIG, "{what}: the variant must change the text");
            let key = record_key_of(&config);
            assert!(!seen.contains(&key), "{what}: {key} shared");
            seen.push(key);
        }
        // Discovery: the cluster that carries the key set's GET is an input too.
        let discovery = CONFIG.replace("remote_jwks", "discovery");
        let own_jwks_cluster = discovery.replace(
            r#""cluster":"idp""#,
            r#""cluster":"idp","jwks_cluster":"keys""#,
        );
        let same_jwks_cluster = discovery.replace(
            r#""cluster":"idp""#,
            r#""cluster":"idp","jwks_cluster":"idp""#,
        );
        assert_ne!(record_key_of(&discovery), record_key_of(&own_jwks_cluster));
        assert_eq!(record_key_of(&discovery), record_key_of(&same_jwks_cluster));
    }

    /// A discovery document is accepted only if it states one of the provider's issuers, and
    /// a worker reading the shared key set cannot check the document again: configurations
    /// that accept different issuers must not share what one of them fetched.
    #[test]
    fn discovery_key_sets_are_shared_only_between_the_same_document_issuers() {
        let discovery = CONFIG.replace("remote_jwks", "discovery");
        let issuers = |list: &str| discovery.replace(r#""issuer":"i""#, list);
        let one = record_key_of(&issuers(r#""issuers":["i"]"#));
        assert_eq!(one, record_key_of(&discovery), "issuer and issuers alike");
        assert_eq!(one, record_key_of(&issuers(r#""issuers":["i"]"#)));
        let two = record_key_of(&issuers(r#""issuers":["i","j"]"#));
        assert_ne!(one, two, "one issuer more accepts one document more");
        assert_ne!(one, record_key_of(&issuers(r#""issuers":["j"]"#)));
        assert_eq!(
            two,
            record_key_of(&issuers(r#""issuers":["j","i"]"#)),
            "the order of the list decides nothing"
        );

        // A key set fetched from its URI is not checked against any issuer: sharing it
        // between issuers is safe.
        let remote_two = CONFIG.replace(r#""issuer":"i""#, r#""issuers":["i","j"]"#);
        assert_eq!(record_key_of(CONFIG), record_key_of(&remote_two));

        // Multi-tenant Entra ID checks the common document against the cloud's `{tenantid}`
        // issuer, whichever tenants its tokens may come from.
        let azure = |extra: &str| {
            format!(
                r#"{{"providers":[{{"name":"p","audiences":["a"],"azure_ad":{{"tenant":"organizations",
                    "cluster":"entra"{extra}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
            )
        };
        let t = "11111111-2222-3333-4444-555555555555";
        let any_tenant = azure(r#","allow_any_tenant":true"#);
        let listed = azure(&format!(r#","tenants":["{t}"]"#));
        assert_eq!(
            record_key_of(&any_tenant),
            record_key_of(&listed),
            "tenants are checked per token, not per document"
        );
    }

    #[test]
    fn an_unchanged_key_set_is_not_parsed_again() {
        let store = MemorySharedData::default();
        let mut ws = workers(2);
        ws[0].claim_due(&store, 0);
        let (b, set) = good("k1");
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set.clone(), 100, 0.5);
        ws[1].sync(&store);
        ws[0].claim_due(&store, 10_100);
        ws[0].fetch_succeeded(&store, 0, b.as_bytes(), set, 10_200, 0.5);
        let record = load_record(&store, ws[0].record_key(0).expect("remote")).expect("record");
        assert_eq!(record.generation, 1);
    }
}
