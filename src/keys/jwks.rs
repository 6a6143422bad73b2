//! JSON Web Key Set parsing (RFC 7517) into the RS256 keys a token may name.
//!
//! A key set from an IdP routinely holds keys rolegate cannot use (EC, OKP, encryption keys,
//! small RSA keys). Those are remembered by `kid` with the reason, so a token naming one gets a
//! precise answer, but they never make the whole set fail.

use crate::crypto::rs256::{KeyWeakness, Rs256Key};
use crate::token::base64url;
use serde_json::Value;
use std::fmt;

/// More keys than this is not a key set any IdP publishes; refuse rather than store it.
pub const MAX_KEYS: usize = 100;
/// Deeper JSON than this is an attack on the parser, not a key set.
pub const MAX_JSON_DEPTH: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unusable {
    NotRsa(String),
    UseNotSig(String),
    AlgNotRs256(String),
    KeyOpsWithoutVerify,
    Malformed(&'static str),
    Weak(KeyWeakness),
    DuplicateKid,
    /// For a lookup by `x5t` only: more than one key carries that thumbprint.
    DuplicateX5t,
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NotRsa(kty) => write!(f, "key type {kty} is not RSA"),
            Unusable::UseNotSig(u) => write!(f, "key use {u} is not sig"),
            Unusable::AlgNotRs256(a) => write!(f, "key alg {a} is not RS256"),
            Unusable::KeyOpsWithoutVerify => write!(f, "key_ops does not allow verify"),
            Unusable::Malformed(what) => write!(f, "malformed key: {what}"),
            Unusable::Weak(w) => write!(f, "{w}"),
            Unusable::DuplicateKid => write!(f, "kid appears more than once in the key set"),
            Unusable::DuplicateX5t => write!(f, "x5t appears more than once in the key set"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Jwk {
    pub kid: Option<String>,
    pub x5t: Option<String>,
    pub key: Result<Rs256Key, Unusable>,
}

/// Why a document is not a key set at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySetError {
    NotJson,
    TooDeep,
    NoKeysArray,
    TooManyKeys(usize),
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySetError::NotJson => write!(f, "not a JSON document"),
            KeySetError::TooDeep => write!(f, "JSON nested deeper than {MAX_JSON_DEPTH}"),
            KeySetError::NoKeysArray => write!(f, "no \"keys\" array"),
            KeySetError::TooManyKeys(n) => write!(f, "{n} keys, more than {MAX_KEYS}"),
        }
    }
}

/// What looking a token's key up found.
#[derive(Debug)]
pub enum KeyLookup<'a> {
    Found(&'a Rs256Key),
    Unusable(&'a Unusable),
    NotFound,
}

#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Jwk>,
}

/// Nesting depth of a JSON text, counted without parsing (strings skipped), so a hostile
/// document never reaches the recursive parser.
pub fn json_depth_exceeds(text: &[u8], max: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

fn string_member<'a>(obj: &'a serde_json::Map<String, Value>, name: &str) -> Option<&'a str> {
    obj.get(name).and_then(Value::as_str)
}

fn parse_key(value: &Value) -> Option<Jwk> {
    let obj = value.as_object()?;
    let kid = match obj.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        // A kid that is not a string cannot be matched by any token.
        Some(_) => return None,
    };
    let x5t = string_member(obj, "x5t").map(str::to_string);
    Some(Jwk {
        kid,
        x5t,
        key: usable_rsa_key(obj),
    })
}

fn usable_rsa_key(obj: &serde_json::Map<String, Value>) -> Result<Rs256Key, Unusable> {
    match obj.get("kty") {
        Some(Value::String(kty)) if kty == "RSA" => {}
        Some(Value::String(kty)) => return Err(Unusable::NotRsa(kty.clone())),
        _ => return Err(Unusable::Malformed("kty missing or not a string")),
    }
    match obj.get("use") {
        None => {}
        Some(Value::String(u)) if u == "sig" => {}
        Some(Value::String(u)) => return Err(Unusable::UseNotSig(u.clone())),
        Some(_) => return Err(Unusable::Malformed("use is not a string")),
    }
    match obj.get("alg") {
        None => {}
        Some(Value::String(a)) if a == "RS256" => {}
        Some(Value::String(a)) => return Err(Unusable::AlgNotRs256(a.clone())),
        Some(_) => return Err(Unusable::Malformed("alg is not a string")),
    }
    match obj.get("key_ops") {
        None => {}
        Some(Value::Array(ops)) if ops.iter().any(|op| op.as_str() == Some("verify")) => {}
        Some(_) => return Err(Unusable::KeyOpsWithoutVerify),
    }
    let n = string_member(obj, "n")
        .and_then(base64url::decode_key_member)
        .ok_or(Unusable::Malformed("n missing or not base64"))?;
    let e = string_member(obj, "e")
        .and_then(base64url::decode_key_member)
        .ok_or(Unusable::Malformed("e missing or not base64"))?;
    Rs256Key::from_components(&n, &e).map_err(Unusable::Weak)
}

impl KeySet {
    /// Parses a JWKS document. Fails only when the document is not a key set; individual
    /// keys that cannot be used are kept as such.
    pub fn parse(text: &[u8]) -> Result<KeySet, KeySetError> {
        if json_depth_exceeds(text, MAX_JSON_DEPTH) {
            return Err(KeySetError::TooDeep);
        }
        let value: Value = serde_json::from_slice(text).map_err(|_| KeySetError::NotJson)?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<KeySet, KeySetError> {
        let keys = value
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(KeySetError::NoKeysArray)?;
        if keys.len() > MAX_KEYS {
            return Err(KeySetError::TooManyKeys(keys.len()));
        }
        let mut parsed: Vec<Jwk> = keys.iter().filter_map(parse_key).collect();
        // Two keys under one kid: which one the IdP meant is unknowable, so neither is used.
        let duplicated: Vec<String> = parsed
            .iter()
            .enumerate()
            .filter_map(|(i, k)| {
                let kid = k.kid.as_ref()?;
                parsed
                    .iter()
                    .skip(i + 1)
                    .any(|other| other.kid.as_ref() == Some(kid))
                    .then(|| kid.clone())
            })
            .collect();
        for jwk in &mut parsed {
            if jwk.kid.as_ref().is_some_and(|kid| duplicated.contains(kid)) {
                jwk.key = Err(Unusable::DuplicateKid);
            }
        }
        Ok(KeySet { keys: parsed })
    }

    pub fn keys(&self) -> &[Jwk] {
        &self.keys
    }

    pub fn usable_count(&self) -> usize {
        self.keys.iter().filter(|k| k.key.is_ok()).count()
    }

    /// Finds the key for a token header. Without `kid`, an `x5t` thumbprint is matched, and a
    /// set with a single usable key is used as is; anything else would mean trying keys.
    ///
    /// An `x5t` that more than one entry carries is refused, like a duplicated `kid`: which
    /// entry the IdP meant is unknowable, and taking the first would let the order of the
    /// document pick the key. As for `kid`, this holds even when the entries are the same key
    /// or one of them is unusable anyway: no IdP's key set repeats a thumbprint, so a subtler
    /// rule would buy nothing. Unlike a duplicated `kid`, the entries stay usable by their
    /// own, distinct kids: a kid names one entry whatever its thumbprint, and a token that
    /// has one is looked up by it (its `x5t` is not consulted).
    pub fn lookup(&self, kid: Option<&str>, x5t: Option<&str>) -> KeyLookup<'_> {
        static DUPLICATE_X5T: Unusable = Unusable::DuplicateX5t;
        let found = match (kid, x5t) {
            (Some(kid), _) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
            (None, Some(x5t)) => {
                let mut matching = self.keys.iter().filter(|k| k.x5t.as_deref() == Some(x5t));
                match (matching.next(), matching.next()) {
                    (_, Some(_)) => return KeyLookup::Unusable(&DUPLICATE_X5T),
                    (only, None) => only,
                }
            }
            (None, None) => {
                let mut usable = self.keys.iter().filter(|k| k.key.is_ok());
                match (usable.next(), usable.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        };
        match found.map(|k| &k.key) {
            Some(Ok(key)) => KeyLookup::Found(key),
            Some(Err(why)) => KeyLookup::Unusable(why),
            None => KeyLookup::NotFound,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const N2048: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

    fn rsa(kid: &str, extra: &str) -> String {
        format!(r#"{{"kty":"RSA","kid":"{kid}","n":"{N2048}","e":"AQAB"{extra}}}"#)
    }

    #[test]
    fn other_key_types_and_unknown_members_are_skipped_not_fatal() {
        let doc = format!(
            r#"{{"keys":[{{"kty":"EC","kid":"ec","crv":"P-256","x":"a","y":"b"}},{},{{"kty":"oct","k":"c2VjcmV0"}}],"extra":1}}"#,
            rsa("r", r#","x5c":["abc"],"issuer":"{tenantid}""#)
        );
        let set = KeySet::parse(doc.as_bytes()).expect("parses");
        assert_eq!(set.usable_count(), 1);
        assert!(matches!(set.lookup(Some("r"), None), KeyLookup::Found(_)));
        assert!(matches!(
            set.lookup(Some("ec"), None),
            KeyLookup::Unusable(Unusable::NotRsa(_))
        ));
        assert!(matches!(set.lookup(Some("zz"), None), KeyLookup::NotFound));
    }

    #[test]
    fn use_alg_and_key_ops_are_honoured() {
        let doc = format!(
            r#"{{"keys":[{},{},{},{}]}}"#,
            rsa("enc", r#","use":"enc""#),
            rsa("ps", r#","alg":"PS256""#),
            rsa("ops", r#","key_ops":["encrypt"]"#),
            rsa("ok", r#","use":"sig","alg":"RS256","key_ops":["verify"]"#)
        );
        let set = KeySet::parse(doc.as_bytes()).expect("parses");
        assert!(matches!(
            set.lookup(Some("enc"), None),
            KeyLookup::Unusable(Unusable::UseNotSig(_))
        ));
        assert!(matches!(
            set.lookup(Some("ps"), None),
            KeyLookup::Unusable(Unusable::AlgNotRs256(_))
        ));
        assert!(matches!(
            set.lookup(Some("ops"), None),
            KeyLookup::Unusable(Unusable::KeyOpsWithoutVerify)
        ));
        assert!(matches!(set.lookup(Some("ok"), None), KeyLookup::Found(_)));
    }

    #[test]
    fn a_duplicated_kid_is_unusable() {
        let doc = format!(r#"{{"keys":[{},{}]}}"#, rsa("d", ""), rsa("d", ""));
        let set = KeySet::parse(doc.as_bytes()).expect("parses");
        assert!(matches!(
            set.lookup(Some("d"), None),
            KeyLookup::Unusable(Unusable::DuplicateKid)
        ));
    }

    #[test]
    fn a_duplicated_x5t_is_unusable_for_x5t_lookups_but_kids_still_work() {
        let doc = format!(
            r#"{{"keys":[{},{},{}]}}"#,
            rsa("a", r#","x5t":"t""#),
            rsa("b", r#","x5t":"t""#),
            rsa("c", r#","x5t":"u""#)
        );
        let set = KeySet::parse(doc.as_bytes()).expect("parses");
        assert_eq!(set.usable_count(), 3);
        assert!(matches!(
            set.lookup(None, Some("t")),
            KeyLookup::Unusable(Unusable::DuplicateX5t)
        ));
        // The kid names one key whatever the thumbprint says.
        for kid in ["a", "b"] {
            assert!(matches!(set.lookup(Some(kid), None), KeyLookup::Found(_)));
            assert!(matches!(
                set.lookup(Some(kid), Some("t")),
                KeyLookup::Found(_)
            ));
        }
        assert!(matches!(set.lookup(None, Some("u")), KeyLookup::Found(_)));
        assert!(matches!(set.lookup(None, Some("v")), KeyLookup::NotFound));

        // Also when the two entries are the same key, and when one of them is not usable:
        // which entry the IdP meant is still unknowable.
        let same = format!(
            r#"{{"keys":[{},{}]}}"#,
            rsa("a", r#","x5t":"t""#),
            rsa("a2", r#","x5t":"t""#)
        );
        let ec = r#"{"kty":"EC","kid":"e","x5t":"t","crv":"P-256","x":"a","y":"b"}"#;
        let mixed = format!(r#"{{"keys":[{ec},{}]}}"#, rsa("a", r#","x5t":"t""#));
        let without_kids = format!(
            r#"{{"keys":[{},{}]}}"#,
            rsa("x", r#","x5t":"t""#).replace(r#""kid":"x","#, ""),
            rsa("y", r#","x5t":"t""#).replace(r#""kid":"y","#, "")
        );
        for doc in [same, mixed, without_kids] {
            let set = KeySet::parse(doc.as_bytes()).expect("parses");
            assert!(
                matches!(
                    set.lookup(None, Some("t")),
                    KeyLookup::Unusable(Unusable::DuplicateX5t)
                ),
                "{doc}"
            );
        }
    }

    #[test]
    fn documents_that_are_not_key_sets_fail() {
        assert_eq!(KeySet::parse(b"nope").err(), Some(KeySetError::NotJson));
        assert_eq!(KeySet::parse(b"{}").err(), Some(KeySetError::NoKeysArray));
        assert_eq!(
            KeySet::parse(b"{\"keys\":{}}").err(),
            Some(KeySetError::NoKeysArray)
        );
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(
            KeySet::parse(deep.as_bytes()).err(),
            Some(KeySetError::TooDeep)
        );
        let many = format!(r#"{{"keys":[{}]}}"#, vec!["{}"; MAX_KEYS + 1].join(","));
        assert_eq!(
            KeySet::parse(many.as_bytes()).err(),
            Some(KeySetError::TooManyKeys(MAX_KEYS + 1))
        );
        assert!(KeySet::parse(br#"{"keys":[]}"#).is_ok());
    }

    #[test]
    fn without_kid_x5t_or_a_single_key_is_used() {
        let doc = format!(r#"{{"keys":[{}]}}"#, rsa("a", r#","x5t":"thumb""#));
        let set = KeySet::parse(doc.as_bytes()).expect("parses");
        assert!(matches!(
            set.lookup(None, Some("thumb")),
            KeyLookup::Found(_)
        ));
        assert!(matches!(set.lookup(None, None), KeyLookup::Found(_)));
        let two = format!(r#"{{"keys":[{},{}]}}"#, rsa("a", ""), rsa("b", ""));
        let set = KeySet::parse(two.as_bytes()).expect("parses");
        assert!(matches!(set.lookup(None, None), KeyLookup::NotFound));
    }
}
