//! rolegate's decisions in Envoy's access log: the filter state `wasm.rolegate` (read as
//! `%FILTER_STATE(wasm.rolegate:PLAIN)%`) on every request rolegate decides, and
//! `%RESPONSE_CODE_DETAILS%` = `rolegate_<reason>` on rolegate's own answers.
//!
//! Prerequisites: `make envoy` and `make build` (the tests fail without them).

use std::time::Duration;

use serde_json::json;

use rolegate_testkit::answers as check;
use rolegate_testkit::entra::{CLIENT_ID, ROLE};
use rolegate_testkit::idp;
use rolegate_testkit::stack::Stack;
use rolegate_testkit::test_keys::{standard_jwks, token};
use rolegate_testkit::Idp;

#[test]
fn allowed_denied_and_dry_run_requests_each_leave_their_line() {
    let config = json!({
        "providers": [idp::provider()],
        "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
        "rules": [
            {"match": {"path_separated_prefix": "/healthz"}, "allow_anonymous": true},
            {"name": "calc", "match": {"path_separated_prefix": "/calc"}, "roles": [ROLE]},
            {"name": "trial", "match": {"path_separated_prefix": "/trial"}, "roles": ["admin"],
             "dry_run": true},
        ],
    });
    let s = Stack::start_logging_decisions(&config, Idp::start(standard_jwks()));
    let token = token(&[ROLE]);

    check::upstream_ok(&s.get_with_token("/calc/add/1", &token), "allowed");
    check::upstream_ok(&s.get("/healthz", &[]), "anonymous");
    check::missing_credentials(&s.get("/calc/add/2", &[]), "rolegate.test", "missing");
    check::local_reply(
        &s.get("/calc/add/3", &[("authorization", "Bearer a.b.c")]),
        401,
        "malformed",
    );
    check::local_reply(&s.get_with_token("/nowhere", &token), 403, "no rule");
    check::upstream_ok(&s.get_with_token("/trial/x", &token), "dry run");

    let want = [
        format!("/calc/add/1 200 via_upstream decision=allowed rule=calc provider=aad client={CLIENT_ID}"),
        "/healthz 200 via_upstream decision=allowed rule=rules[0]".to_string(),
        "/calc/add/2 401 rolegate_missing decision=denied reason=missing rule=calc".to_string(),
        "/calc/add/3 401 rolegate_malformed decision=denied reason=malformed rule=calc".to_string(),
        "/nowhere 403 rolegate_no_rule decision=denied reason=no_rule".to_string(),
        format!("/trial/x 200 via_upstream decision=dry_run_denied reason=role rule=trial provider=aad client={CLIENT_ID}"),
    ];
    let complete = |log: &str| log.lines().count() >= want.len();
    let log = s
        .envoy
        .wait_for_access_log(Duration::from_secs(5), complete);
    assert_eq!(log.lines().collect::<Vec<_>>(), want);
    s.assert_no_token_logged(&[token]);
}

#[test]
fn decision_record_off_leaves_the_filter_state_unset_and_the_details_in_place() {
    let config = json!({
        "providers": [idp::provider()],
        "decision_record": false,
        "rules": [{"match": {"path_separated_prefix": "/calc"}, "roles": [ROLE]}],
    });
    let s = Stack::start_logging_decisions(&config, Idp::start(standard_jwks()));

    check::upstream_ok(&s.get_with_token("/calc/add/1", &token(&[ROLE])), "allowed");
    check::missing_credentials(&s.get("/calc/add/2", &[]), "rolegate.test", "missing");

    let want = [
        "/calc/add/1 200 via_upstream -",
        "/calc/add/2 401 rolegate_missing -",
    ];
    let complete = |log: &str| log.lines().count() >= want.len();
    let log = s
        .envoy
        .wait_for_access_log(Duration::from_secs(5), complete);
    assert_eq!(log.lines().collect::<Vec<_>>(), want);
}
