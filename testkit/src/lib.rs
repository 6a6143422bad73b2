//! rolegate's test kit, for development only: what the tests, `make demo`, `make bench`,
//! `make soak` and the fuzz targets need to run rolegate and talk to it.
//!
//! - Envoy: [`bootstrap`] renders its configuration, [`envoy`] runs the process (start, wait
//!   until ready, read stats and logs, stop when dropped; `envoy --mode validate`), [`istio`]
//!   and [`envoy_gateway`] deliver the filter the way istiod and Envoy Gateway do.
//! - HTTP/1.1: [`http`], a server for the local IdPs and upstreams that can also hang or reset a
//!   connection, and a client (ureq).
//! - HTTP/2: [`h2`], requests with prior knowledge (as gRPC clients make them) through curl.
//! - Tokens: [`signing_key`] signs RS256, [`token`] makes and reads compact JWS, [`jwks`] key
//!   sets, [`entra`] the tenant and claims of Entra ID tokens, [`test_keys`] the keys in
//!   `tests/keys/`.
//! - Stand-ins: [`idp`] the local IdP (JWKS, discovery, token endpoint, faults), [`upstream`]
//!   an echo upstream.
//! - For the tests: [`stack`] (IdP, upstream and Envoy together, request patterns) and
//!   [`answers`] (assertions on rolegate's answers).
//! - The module's binary: [`wasm`] reads its exports and function sizes.
//!
//! [`workspace`] finds the Envoy binary, the modules (refusing one older than its sources), the
//! test keys and, for [`vectors`], the test vectors.

// The helpers made for tests (a stack that starts, a key that loads, an answer that must be
// what it is) panic when they cannot, as each one's documentation says: a test that cannot set
// up fails where it stands. The workspace's other rules hold: no unwrap, expect or indexing.
#![allow(clippy::panic)]

pub mod answers;
pub mod bootstrap;
pub mod entra;
pub mod envoy;
pub mod envoy_gateway;
pub mod h2;
pub mod http;
pub mod idp;
pub mod istio;
pub mod jwks;
pub mod signing_key;
pub mod stack;
pub mod test_keys;
pub mod token;
pub mod upstream;
pub mod vectors;
pub mod wasm;
pub mod workspace;

pub use envoy::Envoy;
pub use http::Response;
pub use idp::{Idp, IdpMode};
pub use signing_key::SigningKey;
pub use stack::Stack;
pub use upstream::Echo;
