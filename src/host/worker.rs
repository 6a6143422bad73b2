//! What one worker VM holds for one plugin configuration: the compiled configuration, the key
//! cache, the requests waiting for keys, and the metrics.

use super::metrics::Metrics;
use crate::config::Config;
use crate::key_cache::KeyCache;
use std::cell::RefCell;

/// A paused request waiting for a provider's keys.
pub struct Waiter {
    pub context_id: u32,
    pub provider: usize,
    pub deadline_ms: u64,
}

/// How long past the fetch timeout a request may still wait, so the fetch's own failure
/// (which answers the waiter with a precise 503) arrives first.
pub const WAIT_MARGIN_MS: u64 = 500;

pub struct Worker {
    pub config: Config,
    pub keys: RefCell<KeyCache>,
    pub waiters: RefCell<Vec<Waiter>>,
    pub metrics: Metrics,
}

impl Worker {
    pub fn new(config: Config, now_ms: u64) -> Self {
        let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
        let metrics = Metrics::define(&names);
        let keys = RefCell::new(KeyCache::new(&config, now_ms));
        Worker {
            config,
            keys,
            waiters: RefCell::new(Vec::new()),
            metrics,
        }
    }

    pub fn add_waiter(&self, context_id: u32, provider: usize, now_ms: u64) {
        let timeout = self.keys.borrow().timeout_ms(provider);
        self.waiters.borrow_mut().push(Waiter {
            context_id,
            provider,
            deadline_ms: now_ms
                .saturating_add(timeout)
                .saturating_add(WAIT_MARGIN_MS),
        });
    }

    pub fn remove_waiter(&self, context_id: u32) {
        self.waiters
            .borrow_mut()
            .retain(|w| w.context_id != context_id);
    }

    /// Removes and returns the waiters selected by `take`.
    pub fn take_waiters(&self, take: impl Fn(&Waiter) -> bool) -> Vec<u32> {
        let mut waiters = self.waiters.borrow_mut();
        let (taken, kept): (Vec<Waiter>, Vec<Waiter>) = waiters.drain(..).partition(|w| take(w));
        *waiters = kept;
        taken.into_iter().map(|w| w.context_id).collect()
    }
}
