//! `rules[].claims` and `providers[].required_claims`: `[{"claim": NAME, "values": [...]}]`.

use crate::config::field_reader::{describe, index_path, ObjectReader, Problems};
use crate::config::Provider;
use crate::decision::claim_condition::{ClaimCondition, ClaimSlots};
use crate::decision::rules::Rule;
use serde_json::Value;

/// A non-empty array of conditions. Each gets slot 0 here; `assign_slots` numbers them once the
/// whole configuration is read.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub fn read_claim_conditions(
    path: &str,
    value: &Value,
    problems: &mut Problems,
) -> Option<Vec<ClaimCondition>> {
    let Value::Array(items) = value else {
        problems.add(
            path,
            format!(
                "expected an array of {{\"claim\": ..., \"values\": [...]}}, got {}",
                describe(value)
            ),
        );
        return None;
    };
    if items.is_empty() {
        problems.add(
            path,
            "must list at least one claim (or leave the field out)",
        );
        return None;
    }
    let conditions: Vec<ClaimCondition> = items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| read_condition(&index_path(path, i), item, problems))
        .collect();
    (conditions.len() == items.len()).then_some(conditions)
}

fn read_condition(path: &str, value: &Value, problems: &mut Problems) -> Option<ClaimCondition> {
    let mut obj = ObjectReader::new(path, value, problems)?;
    let claim = obj.required_string("claim", problems);
    if claim.as_deref() == Some("") {
        problems.add(&obj.path_of("claim"), "must not be empty");
    }
    let values = if obj.has("values") {
        match obj.string_list("values", problems) {
            Some(list) if list.is_empty() => {
                problems.add(
                    &obj.path_of("values"),
                    "must list at least one value (numbers and booleans as text: \"42\", \"true\")",
                );
                None
            }
            other => other,
        }
    } else {
        problems.add(&obj.path_of("values"), "is required");
        None
    };
    obj.finish(problems);
    Some(ClaimCondition {
        claim: claim.filter(|c| !c.is_empty())?,
        values: values?,
        slot: 0,
    })
}

/// Gives every condition the slot of its claim name, so a verified token's claims are read once
/// per name, whichever rules and providers ask for them.
pub fn assign_slots(providers: &mut [Provider], rules: &mut [Rule]) -> ClaimSlots {
    let mut slots = ClaimSlots::default();
    let conditions = providers
        .iter_mut()
        .flat_map(|p| p.required_claims.iter_mut())
        .chain(rules.iter_mut().flat_map(|r| r.claims.iter_mut()));
    for condition in conditions {
        condition.slot = slots.slot(&condition.claim);
    }
    slots
}
