//! What one worker VM holds for one plugin configuration: the compiled configuration, its view
//! of the shared key sets, the requests waiting for keys, and the metrics.

use super::crypto::{host_crypto, HostCrypto};
use super::metrics::Metrics;
use super::shared_data::HostSharedData;
use super::{log, randomness};
use crate::config::Config;
use crate::crypto::siphash::SipKey;
use crate::decision::WaitReason;
use crate::keys::worker_key_sets::WorkerKeySets;
use crate::token::verified_token_cache::VerifiedTokenCache;
use std::cell::RefCell;

/// A paused request waiting for a provider's keys to change.
pub struct Waiter {
    pub context_id: u32,
    pub provider: usize,
    pub reason: WaitReason,
    /// Answered once more fetches than this have finished for the provider.
    pub after_completed: u64,
    pub deadline_ms: u64,
}

/// Slack past the fetch lease: a waiting request gets the fetch's own result, not a timeout.
pub const WAIT_MARGIN_MS: u64 = 500;

pub struct Worker {
    pub config: Config,
    pub key_sets: RefCell<WorkerKeySets>,
    pub shared_data: HostSharedData,
    pub waiters: RefCell<Vec<Waiter>>,
    pub metrics: Metrics,
    pub crypto: HostCrypto,
    pub verified_tokens: VerifiedTokenCache,
    /// Per provider: whether its keys were past `max_stale_seconds` at the last tick.
    pub keys_stale: RefCell<Vec<bool>>,
    /// The decision record's text, rewritten for each request.
    pub record_buffer: RefCell<String>,
}

/// A worker goes away when its VM shuts down (the SDK drops the root context on
/// `proxy_on_delete`) or when a new configuration replaces it.
impl Drop for Worker {
    fn drop(&mut self) {
        // Others must not wait for this worker's fetch leases to lapse.
        self.key_sets.borrow_mut().release_leases(&self.shared_data);
        self.metrics.flush();
    }
}

impl Worker {
    pub fn new(config: Config, worker_id: u64) -> Self {
        let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
        let providers = names.len();
        let rule_names: Vec<Option<&str>> =
            config.rules.iter().map(|r| r.name.as_deref()).collect();
        let dry_run = config.dry_run || config.rules.iter().any(|r| r.dry_run);
        let metrics = Metrics::define(&names, &rule_names, dry_run);
        let key_sets = RefCell::new(WorkerKeySets::new(&config, worker_id));
        // Without a secret key the cache could be fooled: every token is verified instead.
        let verified_tokens = match randomness::secret_key() {
            Some(key) => VerifiedTokenCache::new(config.token_cache_size, key),
            None => {
                log::warn("the host gave no random key: token cache off, every token is verified");
                VerifiedTokenCache::new(0, SipKey::from_bytes([0; 16]))
            }
        };
        Worker {
            config,
            key_sets,
            shared_data: HostSharedData,
            waiters: RefCell::new(Vec::new()),
            metrics,
            crypto: host_crypto(),
            verified_tokens,
            keys_stale: RefCell::new(vec![false; providers]),
            record_buffer: RefCell::new(String::with_capacity(128)),
        }
    }

    pub fn provider_name(&self, provider: usize) -> &str {
        self.config
            .providers
            .get(provider)
            .map_or("?", |p| p.name.as_str())
    }

    pub fn add_waiter(
        &self,
        context_id: u32,
        provider: usize,
        reason: WaitReason,
        after_completed: u64,
        now_ms: u64,
    ) {
        let wait_ms = self.key_sets.borrow().lease_ms(provider);
        self.waiters.borrow_mut().push(Waiter {
            context_id,
            provider,
            reason,
            after_completed,
            deadline_ms: now_ms
                .saturating_add(wait_ms)
                .saturating_add(WAIT_MARGIN_MS),
        });
    }

    pub fn is_waiting(&self, context_id: u32) -> bool {
        self.waiters
            .borrow()
            .iter()
            .any(|w| w.context_id == context_id)
    }

    pub fn remove_waiter(&self, context_id: u32) {
        self.waiters
            .borrow_mut()
            .retain(|w| w.context_id != context_id);
    }

    /// Removes and returns the waiters selected by `take`.
    pub fn take_waiters(&self, take: impl Fn(&Waiter) -> bool) -> Vec<Waiter> {
        let mut waiters = self.waiters.borrow_mut();
        let (taken, kept): (Vec<Waiter>, Vec<Waiter>) = waiters.drain(..).partition(|w| take(w));
        *waiters = kept;
        taken
    }
}
