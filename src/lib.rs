//! rolegate: RS256 bearer-token verification and role enforcement for Envoy, as proxy-wasm.
//!
//! Everything but `host` is plain Rust with no proxy-wasm import, tested natively; `host` binds
//! it to the proxy-wasm ABI and exists only in the wasm build.

pub mod backoff;
pub mod base64url;
pub mod claim_condition;
pub mod claims;
pub mod config;
pub mod decision;
pub mod discovery;
pub mod extract;
pub mod fetch_cycle;
pub mod field_reader;
pub mod foreign_verify;
pub mod header_pairs;
pub mod host_pattern;
pub mod jwks;
pub mod key_cache;
pub mod key_set_record;
pub mod path_screen;
pub mod reply;
pub mod rs256;
pub mod rsa_public;
pub mod rules;
pub mod shared_store;
pub mod spki;
pub mod token;
pub mod token_cache;

#[cfg(target_arch = "wasm32")]
mod host;
