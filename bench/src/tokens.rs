//! The drivers' tokens: Entra ID application tokens signed with the test keys in `tests/keys/`
//! (the test kit's signer), the key set the filters trust, and minting thousands of them.

use std::path::Path;

use rolegate_testkit::entra;
use rolegate_testkit::token;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use rolegate_testkit::entra::{now, AUDIENCE, CLIENT_ID, ISSUER, ROLE, TENANT};
pub use rolegate_testkit::SigningKey;

/// The `kid` the bench's key is published under.
pub const KID: &str = "bench-key-a";
/// How long the tokens stay valid: far beyond any run.
const LIFETIME_SECONDS: i64 = 30 * 24 * 3600;

/// The public key as a JWK published under `kid`, naming its algorithm.
pub fn public_jwk(key: &SigningKey, kid: &str) -> Value {
    with_member(key.public_jwk(kid), "alg", json!("RS256"))
}

/// The JSON object `object` with `name` set to `value`.
pub fn with_member(mut object: Value, name: &str, value: Value) -> Value {
    if let Some(members) = object.as_object_mut() {
        members.insert(name.into(), value);
    }
    object
}

/// The public key set the bench's filters are given: `{"keys": [key as KID]}`.
pub fn public_jwks(key: &SigningKey) -> Value {
    json!({ "keys": [public_jwk(key, KID)] })
}

/// A compact JWS over `claims`: RS256, `kid` [`KID`].
pub fn mint(key: &SigningKey, claims: &Value) -> Result<String, String> {
    sign_as(key, KID, claims)
}

/// A compact JWS over `claims`: RS256 with `kid` in the header.
pub fn sign_as(key: &SigningKey, kid: &str, claims: &Value) -> Result<String, String> {
    token::sign(key, &token::header(kid), claims)
}

/// The claims of token number `serial`: an Entra ID v2.0 application token holding `roles`.
/// Tokens differ only in `jti` (fixed width, so every token has the same length).
pub fn claims(serial: usize, roles: &[&str], now: i64) -> Value {
    let claims = entra::app_token_claims(roles, now, LIFETIME_SECONDS);
    with_member(claims, "jti", json!(format!("bench-{serial:010}")))
}

/// `count` distinct valid tokens, numbered from `first`, signed on every core.
pub fn mint_many(key: &SigningKey, first: usize, count: usize) -> Result<Vec<String>, String> {
    let now = now();
    let serials: Vec<usize> = (first..first + count).collect();
    on_every_core(&serials, |&serial| mint(key, &claims(serial, &[ROLE], now)))
}

/// `make(item)` for each of `items`, in order, spread over every core (RSA signing is slow).
pub fn on_every_core<T, F>(items: &[T], make: F) -> Result<Vec<String>, String>
where
    T: Sync,
    F: Fn(&T) -> Result<String, String> + Sync,
{
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = items.len().div_ceil(workers).max(1);
    let make = &make;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per_worker)
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(make)
                        .collect::<Result<Vec<String>, String>>()
                })
            })
            .collect();
        let mut tokens = Vec::with_capacity(items.len());
        for handle in handles {
            let part = handle
                .join()
                .map_err(|_| "a token-minting thread panicked".to_string())??;
            tokens.extend(part);
        }
        Ok(tokens)
    })
}

/// A short hex digest of the claim layout (`claims` with fixed inputs): it changes whenever the
/// claims a token carries change.
pub fn layout_fingerprint() -> String {
    Sha256::digest(claims(0, &[ROLE], 0).to_string())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Writes one token per line (the format envoy/bench/tokens.lua reads).
pub fn write_token_file(path: &Path, tokens: &[String]) -> Result<(), String> {
    let mut text = tokens.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}
