//! Shared end-to-end test harness: test keys and token minting, a test
//! identity provider, an echo upstream, an Envoy runner and an HTTP client.
//!
//! Use from `tests/<name>.rs` with `mod support;`.
#![allow(dead_code, unused_imports)]

pub mod envoy;
pub mod http;
pub mod idp;
pub mod keys;
pub mod server;
pub mod upstream;

pub use envoy::Envoy;
pub use http::{request, Response};
pub use idp::{Idp, IdpMode};
pub use keys::{mint, TestKey};
pub use upstream::Echo;
