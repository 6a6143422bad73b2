//! The files of `tests/vectors/` (sources and licenses in its README), for the tests that run
//! them through the core natively and through Envoy.

use crate::workspace;

/// `tests/vectors/<rel>`; panics when it cannot be read.
pub fn read(rel: &str) -> Vec<u8> {
    let path = workspace::test_vectors_dir().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// `tests/vectors/<rel>` as JSON; panics when it cannot be read or is not JSON.
pub fn read_json(rel: &str) -> serde_json::Value {
    serde_json::from_slice(&read(rel)).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
}
