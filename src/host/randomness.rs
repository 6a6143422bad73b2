//! Randomness from the host: WASI `random_get` (in Envoy, BoringSSL's `RAND_bytes`). Refreshes
//! and retries must fall apart between proxies that started together, and the low bits of
//! clocks that agree do not; the token cache's key must be secret.

use super::clock;
use crate::crypto::siphash::SipKey;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, buf_len: usize) -> i32;
}

/// A secret key straight from the host's random source, not derived from std's hash keys: the
/// schedules spread below show a function of those. `None` if the host refuses.
pub fn secret_key() -> Option<SipKey> {
    let mut bytes = [0u8; 16];
    // SAFETY: the pointer is valid for 16 writable bytes for the whole call; the host writes
    // at most that many and keeps no pointer.
    let errno = unsafe { random_get(bytes.as_mut_ptr(), bytes.len()) };
    (errno == 0).then(|| SipKey::from_bytes(bytes))
}

/// A number in [0, 1); spreads schedules, is no secret.
pub fn unit_interval() -> f64 {
    // The first RandomState of the VM takes its keys from random_get, later ones step them:
    // each hashes the clock to a fresh value.
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(clock::now_ms());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}
