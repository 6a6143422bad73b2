//! OpenID Connect discovery (OIDC Discovery 1.0 §4): the document names the issuer and the
//! key set's URI. Its issuer must be one rolegate trusts, or a spoofed document could point
//! the proxy at an attacker's keys.

use crate::keys::jwks::{json_depth_exceeds, MAX_JSON_DEPTH};
use serde_json::Value;
use std::fmt;

/// A discovery document larger than this is refused (real ones are a few KiB).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    NotJson,
    TooLarge(usize),
    IssuerMismatch(String),
    NoJwksUri,
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::NotJson => write!(f, "discovery document is not a JSON object"),
            DiscoveryError::TooLarge(n) => {
                write!(
                    f,
                    "discovery document of {n} bytes exceeds {MAX_DOCUMENT_BYTES}"
                )
            }
            DiscoveryError::IssuerMismatch(found) => write!(
                f,
                "discovery document issuer {found:?} is not a configured issuer"
            ),
            DiscoveryError::NoJwksUri => write!(f, "discovery document has no usable jwks_uri"),
        }
    }
}

/// The `jwks_uri` of a discovery document whose `issuer` is one of `issuers`.
pub fn jwks_uri(document: &[u8], issuers: &[String]) -> Result<String, DiscoveryError> {
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(DiscoveryError::TooLarge(document.len()));
    }
    if json_depth_exceeds(document, MAX_JSON_DEPTH) {
        return Err(DiscoveryError::NotJson);
    }
    let value: Value = serde_json::from_slice(document).map_err(|_| DiscoveryError::NotJson)?;
    let obj = value.as_object().ok_or(DiscoveryError::NotJson)?;
    let issuer = obj
        .get("issuer")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !issuers.iter().any(|i| i == issuer) {
        // Shown in a log line: keep it short.
        return Err(DiscoveryError::IssuerMismatch(
            issuer.chars().take(200).collect(),
        ));
    }
    obj.get("jwks_uri")
        .and_then(Value::as_str)
        .filter(|uri| crate::config::split_uri(uri).is_some())
        .map(str::to_string)
        .ok_or(DiscoveryError::NoJwksUri)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuers() -> Vec<String> {
        vec!["https://login.example/t/v2.0".to_string()]
    }

    #[test]
    fn the_issuer_must_match_and_jwks_uri_must_be_a_url() {
        let good = br#"{"issuer":"https://login.example/t/v2.0","jwks_uri":"https://login.example/t/keys"}"#;
        assert_eq!(
            jwks_uri(good, &issuers()).as_deref(),
            Ok("https://login.example/t/keys")
        );
        let other = br#"{"issuer":"https://evil/","jwks_uri":"https://evil/keys"}"#;
        assert!(matches!(
            jwks_uri(other, &issuers()),
            Err(DiscoveryError::IssuerMismatch(_))
        ));
        let relative = br#"{"issuer":"https://login.example/t/v2.0","jwks_uri":"/keys"}"#;
        assert_eq!(
            jwks_uri(relative, &issuers()),
            Err(DiscoveryError::NoJwksUri)
        );
        assert_eq!(jwks_uri(b"[]", &issuers()), Err(DiscoveryError::NotJson));
        assert_eq!(
            jwks_uri(b"<html>", &issuers()),
            Err(DiscoveryError::NotJson)
        );
    }
}
