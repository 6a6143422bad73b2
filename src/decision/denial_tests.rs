// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of deny reasons.

use super::*;

#[test]
fn each_reason_names_one_stage_and_metric_names_stay() {
    assert_eq!(DenyReason::Malformed.name(), "malformed");
    assert_eq!(DenyReason::BadTimeClaim.name(), "malformed");
    assert!(
        !DenyReason::Malformed.after_signature(),
        "a token that does not parse"
    );
    assert!(
        DenyReason::BadTimeClaim.after_signature(),
        "exp/nbf are read from verified claims"
    );
    let after: Vec<&str> = DenyReason::ALL
        .iter()
        .filter(|r| r.after_signature())
        .map(|r| r.name())
        .collect();
    assert_eq!(
        after,
        vec![
            "malformed",
            "expired",
            "not_yet_valid",
            "audience",
            "role",
            "claim",
            "claim"
        ]
    );
}
