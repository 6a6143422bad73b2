//! The signing keys the decision verifies with, per provider.

use crate::keys::jwks::KeySet;

/// The state of one provider's key set.
pub enum KeySetState<'a> {
    Ready(&'a KeySet),
    /// The first fetch has not finished yet: worth waiting for.
    Pending,
    /// No key set was ever obtained and fetching has failed: answer 503 at once.
    Unavailable,
}

/// Each configured provider's signing keys, by the provider's index in the configuration: what
/// the decision verifies with. A worker answers from its view of the shared key sets
/// (`WorkerKeySets`); the CLI and tests from key sets they were given.
pub trait ProviderKeys {
    fn keys(&self, provider: usize) -> KeySetState<'_>;

    /// Changes whenever the provider's key set does; cached tokens are re-checked then.
    fn generation(&self, _provider: usize) -> u64 {
        0
    }

    /// Unix seconds from which the provider's keys no longer verify (`max_stale_seconds` after
    /// the last successful fetch); `None`: no limit.
    fn usable_until(&self, _provider: usize) -> Option<i64> {
        None
    }
}

/// Whether the provider's keys have outlived `max_stale_seconds` at `now`.
pub(crate) fn keys_too_old(keys: &dyn ProviderKeys, provider: usize, now: i64) -> bool {
    keys.usable_until(provider)
        .is_some_and(|until| now >= until)
}
