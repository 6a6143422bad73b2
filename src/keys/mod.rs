//! Signing keys: key sets and discovery documents as an IdP publishes them, one fetch as a
//! state machine, and how the workers of one Envoy share a fetch and its result (the shared
//! record, the shared data it lives in, each worker's view, the schedule of the next fetch).

pub mod backoff;
pub mod discovery;
pub mod fetch_cycle;
pub mod jwks;
pub mod key_wait;
pub mod provider_keys;
pub mod shared_data;
pub mod shared_fetch_record;
pub mod wait_queue;
pub mod worker_key_sets;
