//! rolegate: RS256 bearer-token verification and role enforcement for Envoy, as proxy-wasm.
//!
//! Everything but `host` is plain Rust with no proxy-wasm import, tested natively; `host` binds
//! it to the proxy-wasm ABI and exists only in the wasm build.
//!
//! The layers are crate-private. What the crate offers on purpose is re-exported below: compile
//! a configuration, decide a request against it with the keys at hand, and turn a denial into
//! its HTTP answer. The white-box users, which check or explain each step (the integration
//! tests, the fuzz targets, the operator CLI), turn on the `internals` feature: it makes the
//! layers public as they are, so nothing is written twice for them.
//!
//! # Function size
//!
//! Envoy's V8 compiles every function of the module with its optimizing compiler when it loads
//! the module, and Envoy's allocator keeps the memory that compiler took for the largest ones:
//! every Envoy that runs rolegate pays for it, whether the function ever runs or not. LLVM
//! inlines a function with a single caller whatever its size, which merged the configuration
//! readers, the decision and the key-fetch answer into functions of 4 to 9 KB of Wasm. Those
//! callees are marked `#[inline(never)]` ("Not inlined: see "Function size""): every function
//! of rolegate stays under about 3.5 KB, which saves each Envoy about 5 MiB of RSS
//! (BENCHMARKS.md, Memory). On the request path that is one call more on a cache hit
//! (`match_rule`) and a few on a miss; nothing else changes.

// Natively and without `internals`, the shell that uses most of the core is not compiled, so
// most of it looks unused; the wasm build, which has the shell, still reports dead code.
#![cfg_attr(
    not(any(target_arch = "wasm32", feature = "internals")),
    allow(dead_code)
)]

#[cfg(feature = "internals")]
pub mod config;
#[cfg(not(feature = "internals"))]
mod config;

#[cfg(feature = "internals")]
pub mod crypto;
#[cfg(not(feature = "internals"))]
mod crypto;

#[cfg(feature = "internals")]
pub mod decision;
#[cfg(not(feature = "internals"))]
mod decision;

#[cfg(feature = "internals")]
pub mod keys;
#[cfg(not(feature = "internals"))]
mod keys;

#[cfg(feature = "internals")]
pub mod request;
#[cfg(not(feature = "internals"))]
mod request;

#[cfg(feature = "internals")]
pub mod token;
#[cfg(not(feature = "internals"))]
mod token;

#[cfg(target_arch = "wasm32")]
mod host;

pub use config::field_reader::ConfigError;
pub use config::{Config, ConfigWarning};
pub use decision::reply::{local_reply, LocalReply};
pub use decision::{
    decide, Allow, Denial, DenyReason, KeySetState, Outcome, ProviderKeys, RequestHeaders,
    WaitPermission, WaitReason,
};
pub use keys::jwks::KeySet;
