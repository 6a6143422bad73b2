//! Compact JWS parsing (RFC 7515 §7.1) for RS256 tokens: structure first, crypto later.

pub mod base64url;
pub mod claims;
pub mod verified_token_cache;

use crate::keys::jwks::{json_depth_exceeds, MAX_JSON_DEPTH};
use serde_json::{Map, Value};
use std::fmt;

/// Why a token is refused before any key is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    TooLong,
    NotThreeSegments,
    BadBase64(Segment),
    NotJsonObject(Segment),
    AlgNotRs256,
    CritHeader,
    BadKid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    Header,
    Payload,
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

impl TokenError {
    /// The fixed text a client is told (it goes into a header: no request content).
    pub fn description(&self) -> &'static str {
        match self {
            TokenError::TooLong => "token too long",
            TokenError::NotThreeSegments => "token is not a compact JWS",
            TokenError::BadBase64(_) => "token is not base64url",
            TokenError::NotJsonObject(_) => "token header or payload is not a JSON object",
            TokenError::AlgNotRs256 => "token alg is not RS256",
            TokenError::CritHeader => "token crit header is not supported",
            TokenError::BadKid => "token kid is not a string",
        }
    }
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::TooLong => write!(f, "token too long"),
            TokenError::NotThreeSegments => write!(f, "token is not three dot-separated segments"),
            TokenError::BadBase64(s) => write!(f, "token {s} is not base64url"),
            TokenError::NotJsonObject(s) => write!(f, "token {s} is not a JSON object"),
            TokenError::AlgNotRs256 => write!(f, "token alg is not RS256"),
            TokenError::CritHeader => write!(f, "token has a crit header"),
            TokenError::BadKid => write!(f, "token kid is not a string"),
        }
    }
}

/// A structurally valid RS256 token whose signature is still unchecked.
#[derive(Debug)]
pub struct UnverifiedToken<'a> {
    pub kid: Option<String>,
    pub x5t: Option<String>,
    pub claims: Map<String, Value>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

fn json_object(bytes: &[u8], segment: Segment) -> Result<Map<String, Value>, TokenError> {
    if json_depth_exceeds(bytes, MAX_JSON_DEPTH) {
        return Err(TokenError::NotJsonObject(segment));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::NotJsonObject(segment)),
    }
}

fn decode_segment(text: &str, segment: Segment) -> Result<Vec<u8>, TokenError> {
    base64url::decode(text).ok_or(TokenError::BadBase64(segment))
}

/// Splits and decodes a compact token. Only `alg: "RS256"` (exact bytes) passes; `crit` is
/// refused because no extension is understood (RFC 7515 §4.1.11).
pub fn parse(token: &str, max_bytes: usize) -> Result<UnverifiedToken<'_>, TokenError> {
    if token.len() > max_bytes {
        return Err(TokenError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::NotThreeSegments);
    };
    let header = json_object(
        &decode_segment(header_b64, Segment::Header)?,
        Segment::Header,
    )?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenError::AlgNotRs256);
    }
    if header.contains_key("crit") {
        return Err(TokenError::CritHeader);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(TokenError::BadKid),
    };
    let x5t = header
        .get("x5t")
        .and_then(Value::as_str)
        .map(str::to_string);
    let claims = json_object(
        &decode_segment(payload_b64, Segment::Payload)?,
        Segment::Payload,
    )?;
    let signature = decode_segment(signature_b64, Segment::Signature)?;
    let signing_input = token
        .get(..header_b64.len() + 1 + payload_b64.len())
        .ok_or(TokenError::NotThreeSegments)?;
    Ok(UnverifiedToken {
        kid,
        x5t,
        claims,
        signing_input,
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64url::encode(s.as_bytes())
    }

    fn token(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    #[test]
    fn a_well_formed_token_parses() {
        let t = token(
            r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
            r#"{"iss":"x"}"#,
        );
        let parsed = parse(&t, 8192).expect("parses");
        assert_eq!(parsed.kid.as_deref(), Some("k1"));
        assert_eq!(parsed.claims.get("iss").and_then(Value::as_str), Some("x"));
        assert_eq!(parsed.signature, b"sig");
        assert_eq!(parsed.signing_input.matches('.').count(), 1);
    }

    #[test]
    fn structure_problems_are_named() {
        let ok_header = r#"{"alg":"RS256"}"#;
        assert_eq!(parse("a.b", 100).err(), Some(TokenError::NotThreeSegments));
        assert_eq!(
            parse("a.b.c.d", 100).err(),
            Some(TokenError::NotThreeSegments)
        );
        let long = token(ok_header, "{}");
        assert_eq!(parse(&long, 10).err(), Some(TokenError::TooLong));
        let padded = format!("{}=.{}.{}", b64(ok_header), b64("{}"), b64("s"));
        assert_eq!(
            parse(&padded, 8192).err(),
            Some(TokenError::BadBase64(Segment::Header))
        );
        assert_eq!(
            parse(&token(ok_header, "[1]"), 8192).err(),
            Some(TokenError::NotJsonObject(Segment::Payload))
        );
        assert_eq!(
            parse(&token("null", "{}"), 8192).err(),
            Some(TokenError::NotJsonObject(Segment::Header))
        );
    }

    #[test]
    fn only_exact_rs256_without_crit_passes() {
        for alg in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"HS256"}"#,
            r#"{"alg":"rs256"}"#,
            r#"{"alg":"RS256 "}"#,
            r#"{"alg":["RS256"]}"#,
            r#"{}"#,
        ] {
            assert_eq!(
                parse(&token(alg, "{}"), 8192).err(),
                Some(TokenError::AlgNotRs256),
                "{alg}"
            );
        }
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","crit":["exp"]}"#, "{}"), 8192).err(),
            Some(TokenError::CritHeader)
        );
        assert_eq!(
            parse(&token(r#"{"alg":"RS256","kid":7}"#, "{}"), 8192).err(),
            Some(TokenError::BadKid)
        );
    }
}
