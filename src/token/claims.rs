//! Checks on verified claims: lifetime, audience, roles, and the values forwarded as headers.

use crate::decision::claim_condition::{ClaimSlots, ClaimTexts};
use serde_json::{Map, Value};
use std::rc::Rc;

/// 9999-12-31T23:59:59Z. A NumericDate beyond it is garbage, and refusing it keeps every
/// `exp + skew` sum far from overflow.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;
/// A claim forwarded as a header longer than this is dropped, not truncated.
pub const MAX_CLAIM_HEADER_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifetimeError {
    ExpMissingOrInvalid,
    NbfInvalid,
    Expired,
    NotYetValid,
}

/// A NumericDate as JSON writes it: a whole, non-negative number of seconds. Fractions,
/// exponents, strings and huge values are refused rather than rounded or wrapped.
fn numeric_date(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    n.as_i64().filter(|t| (0..=MAX_NUMERIC_DATE).contains(t))
}

/// A token's validity period as its claims state it, read once when the token is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    exp: i64,
    nbf: NotBefore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotBefore {
    Absent,
    At(i64),
    /// Reported only for a token that has not expired, as a fresh check would.
    Invalid,
}

impl Lifetime {
    /// `exp` is required: a token that never expires is a password.
    pub fn from_claims(claims: &Map<String, Value>) -> Result<Lifetime, LifetimeError> {
        let exp = claims
            .get("exp")
            .and_then(numeric_date)
            .ok_or(LifetimeError::ExpMissingOrInvalid)?;
        let nbf = match claims.get("nbf") {
            None => NotBefore::Absent,
            Some(value) => numeric_date(value).map_or(NotBefore::Invalid, NotBefore::At),
        };
        Ok(Lifetime { exp, nbf })
    }

    pub fn check(&self, now: i64, skew: i64) -> Result<(), LifetimeError> {
        // Saturating: the configured skew is small, but this must hold for any caller.
        if self.exp.saturating_add(skew) <= now {
            return Err(LifetimeError::Expired);
        }
        match self.nbf {
            NotBefore::Absent => Ok(()),
            NotBefore::Invalid => Err(LifetimeError::NbfInvalid),
            NotBefore::At(nbf) if nbf.saturating_sub(skew) > now => Err(LifetimeError::NotYetValid),
            NotBefore::At(_) => Ok(()),
        }
    }
}

/// The lifetime check straight from claims, for tests that probe it without a token around it.
#[cfg(any(test, feature = "internals"))]
pub fn check_lifetime(
    claims: &Map<String, Value>,
    now: i64,
    skew: i64,
) -> Result<(), LifetimeError> {
    Lifetime::from_claims(claims)?.check(now, skew)
}

/// What every use of a verified token checks or forwards, taken from its claims once: a
/// cached token is admitted without walking its JSON again. Built for one configuration
/// (its roles claim and claim headers), so a token cache must not outlive its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFacts {
    pub lifetime: Result<Lifetime, LifetimeError>,
    /// Shared, as the header values and the client id are, by token cache entries that hold
    /// the same (`VerifiedTokenCache::insert`).
    pub roles: Rc<[Box<str>]>,
    /// One per configured claim header, in order: the value to set, or `None` to remove it.
    /// Shared, so each allowed request takes a reference rather than a copy.
    pub header_values: Rc<[Option<Rc<str>>]>,
    /// The token's texts for each claim a condition names, by `ClaimSlots` slot; empty when
    /// the configuration has no claim conditions.
    pub claim_texts: Box<[ClaimTexts]>,
    /// The client the token was issued to: `azp` (Entra ID v2, OIDC), else `appid` (v1).
    /// Shared, so a decision's record takes a reference rather than a copy.
    pub client_id: Option<Rc<str>>,
}

impl TokenFacts {
    pub fn from_claims<'c>(
        claims: &Map<String, Value>,
        roles_claim: &str,
        header_claims: impl Iterator<Item = &'c str>,
        slots: &ClaimSlots,
    ) -> TokenFacts {
        let header_values: Rc<[Option<Rc<str>>]> = header_claims
            .map(|c| header_value(claims, c).map(Rc::from))
            .collect::<Vec<_>>()
            .into();
        // Most often the client id is also a header value (azp -> x-client-id): one copy.
        let client_id = client_id(claims).map(|id| {
            header_values
                .iter()
                .flatten()
                .find(|value| &***value == id)
                .map_or_else(|| Rc::from(id), Rc::clone)
        });
        TokenFacts {
            claim_texts: slots.texts_of(claims),
            lifetime: Lifetime::from_claims(claims),
            roles: roles(claims, roles_claim)
                .into_iter()
                .map(Box::from)
                .collect(),
            header_values,
            client_id,
        }
    }
}

/// `azp`, else `appid`, when it is a string.
pub fn client_id(claims: &Map<String, Value>) -> Option<&str> {
    ["azp", "appid"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
}

/// `aud` may be one string or an array of strings; one of them must be allowed.
pub fn audience_allowed(claims: &Map<String, Value>, allowed: &[String]) -> bool {
    let matches = |v: &Value| v.as_str().is_some_and(|a| allowed.iter().any(|x| x == a));
    match claims.get("aud") {
        Some(Value::Array(items)) => items.iter().any(matches),
        Some(single) => matches(single),
        None => false,
    }
}

/// Roles from an array of strings or a space-separated string (as `scp` is written).
pub fn roles<'a>(claims: &'a Map<String, Value>, claim: &str) -> Vec<&'a str> {
    match claims.get(claim) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(s)) => s.split(' ').filter(|r| !r.is_empty()).collect(),
        _ => Vec::new(),
    }
}

pub fn roles_satisfied<H: AsRef<str>>(held: &[H], required: &[String], require_all: bool) -> bool {
    let has = |r: &String| held.iter().any(|h| h.as_ref() == r);
    if require_all {
        required.iter().all(has)
    } else {
        required.iter().any(has)
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The header value for a claim: arrays of scalars joined with ",". `None` when the claim is
/// absent, an object, too long, or holds characters a header must not carry.
pub fn header_value(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    let text = match claims.get(claim)? {
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(scalar_text).collect();
            parts?.join(",")
        }
        other => scalar_text(other)?,
    };
    let safe = text.len() <= MAX_CLAIM_HEADER_BYTES
        && text.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    safe.then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn lifetime_edges_and_number_shapes() {
        let c = claims(json!({"exp": 1000, "nbf": 900}));
        assert_eq!(check_lifetime(&c, 939, 60), Ok(()));
        assert_eq!(check_lifetime(&c, 839, 60), Err(LifetimeError::NotYetValid));
        assert_eq!(check_lifetime(&c, 840, 60), Ok(()));
        assert_eq!(check_lifetime(&c, 1059, 60), Ok(()));
        assert_eq!(check_lifetime(&c, 1060, 60), Err(LifetimeError::Expired));
        for exp in [
            json!("1000"),
            json!(1000.5),
            json!(-1),
            json!(1e3),
            json!(u64::MAX),
            json!(null),
        ] {
            let c = claims(json!({ "exp": exp }));
            assert_eq!(
                check_lifetime(&c, 0, 60),
                Err(LifetimeError::ExpMissingOrInvalid),
                "{exp}"
            );
        }
        let huge = serde_json::from_str::<Value>(r#"{"exp": 1, "nbf": 18446744073709551616}"#)
            .unwrap_or(Value::Null);
        assert_eq!(
            check_lifetime(&claims(huge), 0, 60),
            Err(LifetimeError::NbfInvalid)
        );
        assert_eq!(
            check_lifetime(&Map::new(), 0, 60),
            Err(LifetimeError::ExpMissingOrInvalid)
        );
    }

    #[test]
    fn audience_string_or_array() {
        let allowed = vec!["a".to_string(), "api://a".to_string()];
        assert!(audience_allowed(&claims(json!({"aud": "a"})), &allowed));
        assert!(audience_allowed(
            &claims(json!({"aud": ["x", "api://a"]})),
            &allowed
        ));
        assert!(!audience_allowed(&claims(json!({"aud": ["x"]})), &allowed));
        assert!(!audience_allowed(&claims(json!({"aud": 1})), &allowed));
        assert!(!audience_allowed(&claims(json!({})), &allowed));
    }

    #[test]
    fn roles_from_array_or_spaced_string() {
        let c = claims(json!({"roles": ["r1", "r2", 3], "scp": "read  write"}));
        assert_eq!(roles(&c, "roles"), vec!["r1", "r2"]);
        assert_eq!(roles(&c, "scp"), vec!["read", "write"]);
        assert!(roles(&c, "none").is_empty());
        let req = vec!["r2".to_string(), "r9".to_string()];
        assert!(roles_satisfied(&["r2"], &req, false));
        assert!(!roles_satisfied(&["r2"], &req, true));
        assert!(roles_satisfied(&["r9", "r2"], &req, true));
    }

    #[test]
    fn the_client_id_and_its_header_value_are_one_copy() {
        let c = claims(json!({"azp": "app", "appid": "old", "roles": "a b"}));
        let slots = ClaimSlots::default();
        let facts = TokenFacts::from_claims(&c, "roles", ["tid", "azp"].into_iter(), &slots);
        let (Some(id), Some(Some(header))) = (&facts.client_id, facts.header_values.get(1)) else {
            panic!("client id and azp header expected: {facts:?}");
        };
        assert!(Rc::ptr_eq(id, header));
        assert_eq!(facts.header_values.first(), Some(&None));
        assert_eq!(&*facts.roles, &[Box::from("a"), Box::from("b")]);
        let alone = TokenFacts::from_claims(&c, "roles", ["appid"].into_iter(), &slots);
        assert_eq!(alone.client_id.as_deref(), Some("app"));
    }

    #[test]
    fn header_values_are_safe() {
        let c = claims(
            json!({"azp": "abc", "groups": ["g1", 2, true], "bad": "a\r\nb", "obj": {}, "long": "x".repeat(5000)}),
        );
        assert_eq!(header_value(&c, "azp").as_deref(), Some("abc"));
        assert_eq!(header_value(&c, "groups").as_deref(), Some("g1,2,true"));
        assert_eq!(header_value(&c, "bad"), None);
        assert_eq!(header_value(&c, "obj"), None);
        assert_eq!(header_value(&c, "long"), None);
        assert_eq!(header_value(&c, "missing"), None);
    }
}
