//! JWKS documents (RFC 7517 §5): `{"keys": [...]}`.

use serde_json::{json, Value};

use crate::signing_key::SigningKey;

/// The key set publishing each key's public JWK under its `kid`.
pub fn jwks(entries: &[(&SigningKey, &str)]) -> Value {
    key_set(
        entries
            .iter()
            .map(|(key, kid)| key.public_jwk(kid))
            .collect(),
    )
}

/// `{"keys": keys}`.
pub fn key_set(keys: Vec<Value>) -> Value {
    json!({ "keys": keys })
}
