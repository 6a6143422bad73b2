//! Randomness from the host: WASI `random_get`, from which std draws its hash keys. Refreshes
//! and retries must fall apart between proxies that started together, and the low bits of
//! clocks that agree do not.

use super::clock;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// A number in [0, 1); spreads schedules, is no secret.
pub fn unit_interval() -> f64 {
    // The first RandomState of the VM takes its keys from random_get, later ones step them:
    // each hashes the clock to a fresh value.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(clock::now_ms());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
