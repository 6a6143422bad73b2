//! Shared end-to-end test harness: test keys and token minting, a test
//! identity provider, an echo upstream, an Envoy runner and an HTTP client;
//! assertions on rolegate's answers, a running stack with request patterns
//! (bursts, every-worker coverage, polling) and the Istio rendering of the filter.
//!
//! Use from `tests/<name>.rs` with `mod support;`.
#![allow(dead_code, unused_imports)]

pub mod check;
pub mod envoy;
pub mod http;
pub mod idp;
pub mod istio;
pub mod keys;
pub mod server;
pub mod stack;
pub mod upstream;

pub use envoy::Envoy;
pub use http::{request, Response};
pub use idp::{Idp, IdpMode};
pub use keys::{mint, TestKey};
pub use stack::Stack;
pub use upstream::Echo;
