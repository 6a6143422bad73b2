//! `rules[].claims` and `providers[].required_claims`: values a verified token's claims must hold.
//!
//! A claim is named by its top-level name, exactly: `realm_access.roles` is a claim called
//! that, not a path into an object. Namespaced claims (`https://contoso.com/tier`, as Auth0
//! writes them) have dots in their names, and one name must never mean two claims.
//!
//! The texts a claim offers are taken from the token once, when it is verified (see
//! `TokenFacts`), into the slot the configuration gave the claim's name; a cached token is
//! checked without walking its JSON again.

use serde_json::{Map, Value};

/// What one claim of a token offers for comparison; `None` when it can never hold.
pub type ClaimTexts = Option<Box<[Box<str>]>>;

/// One `{"claim": NAME, "values": [...]}` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimCondition {
    pub claim: String,
    pub values: Vec<String>,
    /// Where `ClaimSlots` keeps this claim's texts.
    pub slot: usize,
}

impl ClaimCondition {
    /// Holds when one of the claim's texts equals one of `values`. A missing claim never holds.
    pub fn holds(&self, texts: &[ClaimTexts]) -> bool {
        texts
            .get(self.slot)
            .and_then(Option::as_ref)
            .is_some_and(|offered| {
                offered
                    .iter()
                    .any(|t| self.values.iter().any(|v| **v == **t))
            })
    }
}

/// The index of the first condition that does not hold, if any.
pub fn first_failing(conditions: &[ClaimCondition], texts: &[ClaimTexts]) -> Option<usize> {
    conditions.iter().position(|c| !c.holds(texts))
}

/// The distinct claim names any condition of a configuration refers to, in slot order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimSlots {
    names: Vec<String>,
}

impl ClaimSlots {
    /// The slot for `name`, added if new.
    pub fn slot(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(slot) => slot,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Each slot's texts from a verified token's claims.
    pub fn texts_of(&self, claims: &Map<String, Value>) -> Box<[ClaimTexts]> {
        self.names
            .iter()
            .map(|name| claim_texts(claims, name))
            .collect()
    }
}

/// What a claim offers for comparison: a string as itself, a number or boolean as its JSON text
/// (`42`, `true`), an array as each such element. `None` when the claim is absent or is an
/// object or null, so it can never hold.
pub fn claim_texts(claims: &Map<String, Value>, name: &str) -> ClaimTexts {
    fn scalar(value: &Value) -> Option<Box<str>> {
        match value {
            Value::String(s) => Some(s.as_str().into()),
            Value::Number(n) => Some(n.to_string().into()),
            Value::Bool(b) => Some(b.to_string().into()),
            _ => None,
        }
    }
    match claims.get(name)? {
        Value::Array(items) => Some(items.iter().filter_map(scalar).collect()),
        other => scalar(other).map(|text| Box::from([text])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn condition(slots: &mut ClaimSlots, claim: &str, values: &[&str]) -> ClaimCondition {
        ClaimCondition {
            claim: claim.to_string(),
            values: values.iter().map(|v| v.to_string()).collect(),
            slot: slots.slot(claim),
        }
    }

    fn claims(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn strings_arrays_numbers_booleans() {
        let mut slots = ClaimSlots::default();
        let azp = condition(&mut slots, "azp", &["client-a", "client-b"]);
        let groups = condition(&mut slots, "groups", &["g2"]);
        let tier = condition(&mut slots, "tier", &["42"]);
        let verified = condition(&mut slots, "email_verified", &["true"]);
        let nested = condition(&mut slots, "realm_access.roles", &["admin"]);
        let azp_again = condition(&mut slots, "azp", &["client-c"]);
        assert_eq!(azp.slot, azp_again.slot, "one slot per claim name");

        let token = claims(json!({
            "azp": "client-b", "groups": ["g1", "g2"], "tier": 42, "email_verified": true,
            "realm_access": {"roles": ["admin"]}
        }));
        let texts = slots.texts_of(&token);
        assert!(azp.holds(&texts));
        assert!(!azp_again.holds(&texts));
        assert!(groups.holds(&texts));
        assert!(tier.holds(&texts));
        assert!(verified.holds(&texts));
        assert!(!nested.holds(&texts), "a dotted name is not a path");
        let all = [azp.clone(), groups.clone(), tier.clone()];
        assert_eq!(first_failing(&all, &texts), None);
        let with_failing = [azp.clone(), azp_again.clone(), groups.clone()];
        assert_eq!(first_failing(&with_failing, &texts), Some(1));
    }

    #[test]
    fn missing_null_objects_and_shapes_never_hold() {
        let mut slots = ClaimSlots::default();
        let c = condition(&mut slots, "x", &["1", "true", "null", "{}", "a"]);
        for value in [
            json!(null),
            json!({}),
            json!({"a": "a"}),
            json!([]),
            json!([["a"]]),
            json!([{"a": 1}]),
            json!(1.0),
            json!("A"),
            json!(false),
        ] {
            let texts = slots.texts_of(&claims(json!({ "x": value })));
            assert!(!c.holds(&texts), "{value}");
        }
        assert!(!c.holds(&slots.texts_of(&Map::new())), "missing");
        for value in [
            json!(1),
            json!(true),
            json!("a"),
            json!([null, "a"]),
            json!([2, 1]),
        ] {
            let texts = slots.texts_of(&claims(json!({ "x": value })));
            assert!(c.holds(&texts), "{value}");
        }
        assert!(!c.holds(&[]), "no slot, no claim");
    }
}
