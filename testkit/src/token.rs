//! Compact JWS tokens (RFC 7515): RS256 signed with a [`SigningKey`], HS256 for the
//! alg-confusion tests, and decoding a token's parts without verifying anything.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::signing_key::SigningKey;

/// base64url without padding.
pub fn b64url(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// `{"alg":"RS256","typ":"JWT","kid":kid}`.
pub fn header(kid: &str) -> Value {
    json!({ "alg": "RS256", "typ": "JWT", "kid": kid })
}

/// `b64url(header).b64url(payload).b64url(RS256 signature)` over bytes that need not be JSON.
pub fn sign_compact(key: &SigningKey, header: &[u8], payload: &[u8]) -> Result<String, String> {
    let signing_input = format!("{}.{}", b64url(header), b64url(payload));
    let signature = key.sign_rs256(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", b64url(&signature)))
}

/// An RS256 token over the JSON `header` and `claims`.
pub fn sign(key: &SigningKey, header: &Value, claims: &Value) -> Result<String, String> {
    sign_compact(
        key,
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
    )
}

/// [`sign`] for tests: panics if signing fails.
pub fn mint(key: &SigningKey, header: Value, claims: Value) -> String {
    sign(key, &header, &claims).unwrap_or_else(|e| panic!("{e}"))
}

/// [`sign_compact`] for tests: panics if signing fails.
pub fn mint_raw(key: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    sign_compact(key, header, payload).unwrap_or_else(|e| panic!("{e}"))
}

/// An HS256 token (HMAC-SHA256 with `secret`).
pub fn mint_hs256(secret: &[u8], header: Value, claims: Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(e) => panic!("HMAC takes a key of any length, yet refused this one: {e}"),
    };
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&mac.finalize().into_bytes()))
}

/// Checks the RS256 signature of a compact JWS with the public key (`n`, `e`, big-endian).
pub fn verify_rs256(token: &str, n: &[u8], e: &[u8]) -> Result<(), String> {
    let (input, signature) = token.rsplit_once('.').ok_or("not a compact JWS")?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| e.to_string())?;
    let key = rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .map_err(|e| e.to_string())?;
    let digest = Sha256::digest(input.as_bytes());
    key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest, &signature)
        .map_err(|e| format!("RS256 signature does not verify: {e}"))
}

/// `Bearer <token>`.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A token's header and claims, decoded but NOT verified: each must be a JSON object.
pub fn decode_unverified(token: &str) -> Option<(Value, Value)> {
    let mut parts = token.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    Some((decode_part(header)?, decode_part(payload)?))
}

/// One base64url part of a token as a JSON object.
pub fn decode_part(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_token_decodes() {
        let key = SigningKey::generate(1024).unwrap_or_else(|e| panic!("{e}"));
        let claims = json!({"aud": "api", "exp": 1_900_000_000});
        let token = mint(&key, header("k"), claims.clone());
        let (h, c) = decode_unverified(&token).unwrap_or_else(|| panic!("{token}"));
        assert_eq!((h["alg"].as_str(), c), (Some("RS256"), claims));
    }

    #[test]
    fn decoding_refuses_what_is_not_a_compact_jws() {
        assert!(decode_unverified("a.b").is_none());
        assert!(decode_unverified("e30.e30.x.y").is_none());
        assert!(decode_unverified("e30.e30.sig").is_some());
        assert!(
            decode_unverified("W10.e30.sig").is_none(),
            "[] is not an object"
        );
    }
}
