//! The test suite's RSA keys (`tests/keys/`, see its README), each loaded once, the `kid`s the
//! test IdP publishes them under, and the tokens the tests sign with them.

use std::sync::OnceLock;

use serde_json::Value;

use crate::entra::{claims, claims_with, ROLE};
use crate::jwks::jwks;
use crate::signing_key::SigningKey;
use crate::token::{header, mint};
use crate::workspace;

/// `kid`s under which the keys are published by [`standard_jwks`].
pub const KID_A: &str = "kid-a";
pub const KID_B: &str = "kid-b";
pub const KID_C: &str = "kid-c";
pub const KID_WEAK: &str = "kid-weak-1024";

/// The `kid` of RFC 7520 §3.4's example key.
pub const RFC7520_KID: &str = "bilbo.baggins@hobbiton.example";
/// RFC 7520 §3.4 (`bilbo.baggins@hobbiton.example`), a 2048-bit private JWK that protects
/// nothing; built in, so that the fuzz targets need no file at run time.
pub const RFC7520_PRIVATE_JWK: &str = include_str!("../../tests/keys/rfc7520_3_4_private.json");

/// Loads `tests/keys/<name>.json`; panics when it cannot.
pub fn load(name: &str) -> SigningKey {
    let file = workspace::test_keys_dir().join(format!("{name}.json"));
    SigningKey::load(&file).unwrap_or_else(|e| panic!("{e}"))
}

/// `key-a` (2048 bit).
pub fn key_a() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| load("key-a"))
}

/// `key-b` (2048 bit).
pub fn key_b() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| load("key-b"))
}

/// `key-c` (3072 bit).
pub fn key_c() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| load("key-c"))
}

/// `weak-1024` (1024 bit).
pub fn key_weak() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| load("weak-1024"))
}

/// RFC 7520 §3.4's key.
pub fn rfc7520() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| {
        let jwk: Value = serde_json::from_str(RFC7520_PRIVATE_JWK).unwrap_or(Value::Null);
        SigningKey::from_jwk(&jwk, "rfc7520-3.4").unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The JWKS the test IdP normally publishes: key-a, key-c and the weak key (key-b is
/// deliberately absent).
pub fn standard_jwks() -> Value {
    jwks(&[(key_a(), KID_A), (key_c(), KID_C), (key_weak(), KID_WEAK)])
}

/// A valid token signed by key-a (`kid-a`) with the given roles.
pub fn token(roles: &[&str]) -> String {
    mint(key_a(), header(KID_A), claims(roles))
}

/// [`token`] with some claims replaced (see [`claims_with`]; `null` removes a claim).
pub fn token_with(roles: &[&str], changes: Value) -> String {
    mint(key_a(), header(KID_A), claims_with(roles, changes))
}

/// A valid token with [`ROLE`] signed by `key` under `kid`.
pub fn signed_by(key: &SigningKey, kid: &str) -> String {
    mint(key, header(kid), claims(&[ROLE]))
}
