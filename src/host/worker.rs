//! What one worker VM holds for one plugin configuration: the compiled configuration, its view
//! of the shared key sets, the requests waiting for keys, and the metrics.

use super::crypto::{host_crypto, HostCrypto};
use super::metrics::Metrics;
use super::shared_data::HostSharedData;
use super::{log, randomness};
use crate::config::Config;
use crate::crypto::siphash::SipKey;
use crate::keys::wait_queue::WaitQueue;
use crate::keys::worker_key_sets::WorkerKeySets;
use crate::token::verified_token_cache::VerifiedTokenCache;
use std::cell::RefCell;

pub struct Worker {
    pub config: Config,
    pub key_sets: RefCell<WorkerKeySets>,
    pub shared_data: HostSharedData,
    pub waiters: RefCell<WaitQueue>,
    pub metrics: Metrics,
    pub crypto: HostCrypto,
    pub verified_tokens: VerifiedTokenCache,
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
            waiters: RefCell::new(WaitQueue::default()),
            metrics,
            crypto: host_crypto(),
            verified_tokens,
            record_buffer: RefCell::new(String::with_capacity(128)),
        }
    }

    pub fn provider_name(&self, provider: usize) -> &str {
        self.config
            .providers
            .get(provider)
            .map_or("?", |p| p.name.as_str())
    }
}
