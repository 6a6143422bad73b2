//! What `make bench` (`src/bin/bench/`) and `make soak` (`src/bin/soak/`) share: finding Envoy
//! and the module, starting and watching one Envoy, a small HTTP client, the test keys and the
//! tokens they sign, configuration templates, and running wrk with a Lua script.

pub mod envoy;
pub mod http;
pub mod knob;
pub mod machine;
pub mod paths;
pub mod template;
pub mod token_store;
pub mod tokens;
pub mod wrk;
