//! What `make bench` (`src/bin/bench/`) and `make soak` (`src/bin/soak/`) share beyond the test
//! kit (Envoy, HTTP, keys): where things are, the bench's tokens and their store,
//! configuration templates, and running wrk with a Lua script.

pub mod knob;
pub mod machine;
pub mod paths;
pub mod template;
pub mod token_store;
pub mod tokens;
pub mod wrk;
