//! Dry run in real Envoy: with `dry_run` for the whole plugin every kind of denial lets the
//! request through, counted under `rolegate.dry_run.denied.<reason>` and logged once at info
//! level, with no claim header and the token left in place; with `rules[].dry_run` only that
//! rule's denials are rehearsed. No log line holds a token.
//!
//! Prerequisites: `make envoy` and `make build` (the tests fail without them).

use std::time::Duration;

use serde_json::{json, Value};

use rolegate_testkit::answers as check;
use rolegate_testkit::entra::{
    now, API_APP_ID, AUDIENCE, CLIENT_ID, ISSUER, OTHER_AUDIENCE, OTHER_ISSUER, ROLE, TENANT,
};
use rolegate_testkit::idp;
use rolegate_testkit::stack::{assert_counter_reaches, Stack};
use rolegate_testkit::test_keys::{
    key_b, key_weak, signed_by, standard_jwks, token, token_with, KID_A, KID_B, KID_WEAK,
};
use rolegate_testkit::token::bearer;
use rolegate_testkit::{Idp, Response};

const OTHER_CLIENT: &str = "c11e47a0-aaaa-bbbb-cccc-000000000002";
/// A provider whose key set cannot be fetched: its tokens get `no_keys`.
const DOWN_ISSUER: &str = "https://down.example/v2.0";

fn config(dry_run: bool, calc_dry_run: bool) -> Value {
    json!({
        "dry_run": dry_run,
        "providers": [
            {
                "name": "aad",
                "issuer": ISSUER,
                "audiences": [API_APP_ID, AUDIENCE],
                "remote_jwks": {"cluster": "idp", "uri": idp::jwks_uri()},
                "required_claims": [{"claim": "tid", "values": [TENANT]}],
            },
            {
                "name": "down",
                "issuer": DOWN_ISSUER,
                "audiences": [AUDIENCE],
                "remote_jwks": {"cluster": "idp", "uri": "https://idp.local/no/such/keys"},
            },
        ],
        "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
        "rules": [
            {"name": "calc", "match": {"path_separated_prefix": "/calc"}, "roles": [ROLE],
             "claims": [{"claim": "azp", "values": [CLIENT_ID, OTHER_CLIENT]}],
             "dry_run": calc_dry_run},
            {"name": "admin", "match": {"path_separated_prefix": "/admin"}, "roles": ["admin"]},
        ],
    })
}

fn signed(changes: Value) -> String {
    token_with(&[ROLE], changes)
}

/// Each kind of denial the policy above can reach on /calc: (reason, token, client id
/// expected in the log line: the verified token's, for denials after the signature).
fn would_be_denials() -> Vec<(&'static str, Option<String>, Option<&'static str>)> {
    let t = now();
    let dead_client = "c11e47a0-aaaa-bbbb-cccc-00000000dead";
    let before = |reason, token| (reason, Some(token), None);
    let after = |reason, changes| (reason, Some(signed(changes)), Some(CLIENT_ID));
    vec![
        ("missing", None, None),
        before("malformed", "a.b.c".to_string()),
        before("signature", signed_by(key_b(), KID_A)),
        before("unknown_kid", signed_by(key_b(), KID_B)),
        before("weak_key", signed_by(key_weak(), KID_WEAK)),
        before("issuer", signed(json!({"iss": OTHER_ISSUER}))),
        before("no_keys", signed(json!({"iss": DOWN_ISSUER}))),
        after("audience", json!({"aud": OTHER_AUDIENCE})),
        after(
            "expired",
            json!({"iat": t - 7200, "nbf": t - 7200, "exp": t - 3600}),
        ),
        after("not_yet_valid", json!({"nbf": t + 3600, "exp": t + 7200})),
        ("role", Some(token(&["other"])), Some(CLIENT_ID)),
        (
            "claim",
            Some(signed(json!({"azp": dead_client}))),
            Some(dead_client),
        ),
    ]
}

fn get(s: &Stack, path: &str, token: Option<&str>) -> Response {
    // A client-sent claim header: it must never reach the upstream.
    s.get_as(path, token, &[("x-client-id", "forged")])
}

/// The plugin's log lines that report a would-be denial.
fn dry_run_lines(s: &Stack) -> Vec<String> {
    s.envoy
        .log()
        .lines()
        .filter(|l| l.contains("dry run: would deny"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_plugin_wide_dry_run_lets_every_kind_of_denial_through_and_records_it() {
    let s = Stack::start(&config(true, false), Idp::start(standard_jwks()));
    let good = signed(json!({}));
    // An accepted token is removed as usual.
    let want = [("x-client-id", Some(CLIENT_ID)), ("authorization", None)];
    check::upstream_saw(&get(&s, "/calc/add", Some(&good)), "a valid token", &want);

    let cases = would_be_denials();
    let mut tokens = vec![good];
    for (reason, token, _) in &cases {
        let what = format!("would-be {reason}");
        // No claim header (and the client's copy removed); the token stays in place.
        let auth = token.as_deref().map(bearer);
        let want = [("x-client-id", None), ("authorization", auth.as_deref())];
        check::upstream_saw(&get(&s, "/calc/add", token.as_deref()), &what, &want);
        tokens.extend(token.clone());
    }
    // No rule matches: rehearsed only by the plugin-wide dry run.
    check::upstream_ok(&get(&s, "/elsewhere", None), "would-be no_rule");

    assert_counter_reaches(&s, "wasmcustom.rolegate.allowed", 1);
    for (reason, _, _) in &cases {
        assert_counter_reaches(
            &s,
            &format!("wasmcustom.rolegate.dry_run.denied.{reason}"),
            1,
        );
        assert_counter_reaches(&s, &format!("wasmcustom.rolegate.denied.{reason}"), 0);
    }
    assert_counter_reaches(&s, "wasmcustom.rolegate.dry_run.denied.no_rule", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.allowed", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.denied", 0);

    s.envoy
        .assert_logged("would deny (no_rule) under no rule", Duration::from_secs(3));
    let lines = dry_run_lines(&s);
    assert_eq!(
        lines.len(),
        cases.len() + 1,
        "one line per would-be denial: {lines:#?}"
    );
    for (reason, _, client) in &cases {
        let needle = format!("dry run: would deny ({reason}) under rule calc");
        let matching: Vec<&String> = lines.iter().filter(|l| l.contains(&needle)).collect();
        assert_eq!(matching.len(), 1, "{needle}: {lines:#?}");
        let line = matching[0];
        assert!(line.contains("[info]"), "info level: {line}");
        match client {
            Some(id) => assert!(line.contains(&format!(", client {id}:")), "{line}"),
            None => assert!(!line.contains("client"), "unverified, no client: {line}"),
        }
    }
    s.assert_no_token_logged(&tokens);
}

#[test]
fn a_rule_dry_run_rehearses_only_that_rule() {
    let s = Stack::start(&config(false, true), Idp::start(standard_jwks()));
    let other_role = token(&["other"]);
    let auth = bearer(&other_role);
    check::upstream_saw(
        &get(&s, "/calc/add", Some(&other_role)),
        "a wrong role under the dry-run rule",
        &[("x-client-id", None), ("authorization", Some(&auth))],
    );
    check::upstream_ok(
        &get(&s, "/calc/add", None),
        "no token under the dry-run rule",
    );
    check::insufficient_scope(
        &get(&s, "/admin/x", Some(&other_role)),
        "a wrong role under an enforced rule",
    );
    check::local_reply(&get(&s, "/elsewhere", None), 403, "no rule: enforced");
    let good = signed(json!({}));
    let want = [("x-client-id", Some(CLIENT_ID))];
    check::upstream_saw(&get(&s, "/calc/add", Some(&good)), "a valid token", &want);
    assert_eq!(s.up.count(), 3);

    assert_counter_reaches(&s, "wasmcustom.rolegate.dry_run.denied.role", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.dry_run.denied.missing", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.role", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.no_rule", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.admin.denied", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.denied", 0);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.allowed", 1);
    s.envoy.assert_logged(
        "would deny (missing) under rule calc",
        Duration::from_secs(3),
    );
    let lines = dry_run_lines(&s);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    assert!(lines[0].contains(&format!(
        "would deny (role) under rule calc, client {CLIENT_ID}: token lacks a required role"
    )));
    assert!(
        s.envoy
            .log()
            .contains("configuration warning: rules[0].dry_run: is on"),
        "start-up says the rule is in dry run"
    );
    s.assert_no_token_logged(&[other_role, good]);
}
