//! rolegate: RS256 bearer-token verification and role enforcement for Envoy, as proxy-wasm.
//!
//! Everything but `host` is plain Rust with no proxy-wasm import, tested natively; `host` binds
//! it to the proxy-wasm ABI and exists only in the wasm build.

pub mod config;
pub mod crypto;
pub mod decision;
pub mod keys;
pub mod request;
pub mod token;

#[cfg(target_arch = "wasm32")]
mod host;
