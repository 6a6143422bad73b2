//! `rolegate check --host` and `config validate` on the policy fields: claim conditions,
//! required claims, hosts, `allow_missing`, rule names, multi-tenant Entra ID. The token is the
//! real v2 app token of tests/data (azp 5f28c10f-..., tid 966ac572-..., idtyp app).
#![allow(clippy::unwrap_used, clippy::panic)]

mod support;

use support::{at_file, data, run, scratch, Run};

const ISSUER: &str = "https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0";
const AUDIENCE: &str = "f407babd-8d0f-4afc-a6e7-46f28612670b";
const AZP: &str = "5f28c10f-ecd5-45ef-96b8-db4311802e89";
const TID: &str = "966ac572-f5b7-4bbe-aa88-c76419c0f851";
const AT: &str = "1725266000";

/// A configuration with the token's provider (plus `provider_extra` fields) and `rules`.
fn config_file(name: &str, provider_extra: &str, rules: &str) -> String {
    let text = format!(
        r#"{{"providers": [{{"name": "entra", "issuer": "{ISSUER}", "audiences": ["{AUDIENCE}"],
             "remote_jwks": {{"cluster": "entra", "uri": "https://login.microsoftonline.com/k"}}{provider_extra}}}],
            "rules": {rules}}}"#
    );
    scratch(&format!("policy-{name}.json"), &text)
}

/// `check` of the real v2 token at [`AT`] (unless `extra` has its own `--at`).
fn check(config: &str, extra: &[&str]) -> Run {
    let token = at_file("nav-pensjonskalkulator-v2-app-roles.jwt");
    let jwks = data("entra-common-jwks-2024-09-03.json");
    let at: &[&str] = if extra.contains(&"--at") {
        &[]
    } else {
        &["--at", AT]
    };
    support::check(config, &jwks, &token, &[at, extra].concat())
}

#[test]
fn a_failing_claim_entry_is_named_with_what_the_token_holds() {
    let rules = r#"[{"name": "calc", "match": {"prefix": "/"}, "roles": ["access_as_application"],
             "claims": [{"claim": "idtyp", "values": ["app"]}, {"claim": "azp", "values": ["someone-else"]}]}]"#;
    let config = config_file("rule-claims", "", rules);
    check(&config, &[]).expect(1, &[
            "decision:  DENY",
            "status:    403",
            "reason:    claim (token lacks a claim this resource requires)",
            &format!(
                "detail:    rules[0].claims[1]: claim \"azp\" must be one of [someone-else]; the token holds [{AZP}]"
            ),
            "rule:      rules[0] calc: prefix /",
            "claims idtyp in [app] and azp in [someone-else]",
        ]);

    let required = r#", "required_claims": [{"claim": "tid", "values": ["another-tenant"]}]"#;
    let config = config_file("required", required, r#"[{"match": {"prefix": "/"}}]"#);
    check(&config, &[]).expect(1, &[
            "status:    401",
            "reason:    claim (token lacks a claim its provider requires)",
            &format!(
                "detail:    providers[0].required_claims[0]: claim \"tid\" must be one of [another-tenant]; the token holds [{TID}]"
            ),
        ]);
    let absent = r#", "required_claims": [{"claim": "xms_tier", "values": ["gold"]}]"#;
    let config = config_file("absent", absent, r#"[{"match": {"prefix": "/"}}]"#);
    check(&config, &[]).expect(1, &["the token has no such claim"]);
}

#[test]
fn host_selects_the_rule() {
    let rules = r#"[{"name": "api", "match": {"hosts": ["api.contoso.com", "*.eu.contoso.com"], "prefix": "/"},
                     "roles": ["access_as_application"]},
                    {"match": {"prefix": "/"}, "roles": ["admin"]}]"#;
    let config = config_file("hosts", "", rules);
    check(&config, &["--host", "API.contoso.com"]).expect(
        0,
        &[
            "decision:  ALLOW",
            "request:   GET / (:authority API.contoso.com;",
            "rule:      rules[0] api: hosts api.contoso.com|*.eu.contoso.com, prefix /",
        ],
    );
    check(&config, &["--host", "api.contoso.com:8443"]).expect(
        1,
        &[
            "status:    400",
            "reason:    host (the port in the request's authority changes which rule applies)",
            "detail:    host api.contoso.com:8443 is refused before any rule: the authority's port changes which rule applies",
            "rule:      none: the path or host is refused before the rules are looked at",
        ],
    );
    check(&config, &["--host", "x.eu.contoso.com"]).expect(0, &["rule:      rules[0] api"]);
    check(&config, &["--host", "www.contoso.com"])
        .expect(1, &["reason:    role", "rule:      rules[1]: prefix /"]);
    check(&config, &[]).expect(1, &["(:authority localhost;", "rule:      rules[1]"]);
    let only_api = r#"[{"match": {"hosts": ["api.contoso.com"], "prefix": "/"}}]"#;
    let config = config_file("host-only", "", only_api);
    check(&config, &["--host", "other.example"]).expect(
        1,
        &[
            "reason:    no_rule",
            "no rule matches GET / on host other.example",
        ],
    );
    check(&config, &["--host", "a b"]).expect(2, &["--host \"a b\" must be a host name"]);
}

#[test]
fn allow_missing_with_a_token_verifies_it() {
    let config = config_file(
        "allow-missing",
        "",
        r#"[{"name": "docs", "match": {"prefix": "/"}, "allow_missing": true}]"#,
    );
    check(&config, &[]).expect(
        0,
        &[
            "decision:  ALLOW",
            "reason:    the token is valid and meets the rule",
        ],
    );
    check(&config, &["--at", "1725270000"]).expect(1, &["status:    401", "reason:    expired"]);
}

#[test]
fn validate_shows_the_policy_fields() {
    let required = r#", "required_claims": [{"claim": "idtyp", "values": ["app"]}]"#;
    let rules = r#"[{"name": "docs", "match": {"hosts": ["*.contoso.com"], "path_separated_prefix": "/docs"}, "allow_missing": true},
                    {"match": {"prefix": "/"}, "roles": ["r"], "claims": [{"claim": "azp", "values": ["a", "b"]}]},
                    {"match": {"hosts": ["api.contoso.com"], "prefix": "/x/"}}]"#;
    let config = config_file("validate", required, rules);
    run(&["config", "validate", &config]).expect(0, &[
            "required:  idtyp in [app] (else 401)",
            "[0] docs: hosts *.contoso.com, path_separated_prefix /docs, any method -> allow_missing",
            "claims azp in [a, b]",
            "note: rules[2] never applies: every request it matches is matched by rules[1] first",
        ]);
    let multi = format!(
        r#"{{"providers": [{{"name": "entra", "audiences": ["{AUDIENCE}"],
             "azure_ad": {{"tenant": "organizations", "cluster": "entra", "tenants": ["{TID}"]}}}}],
            "decision_record": false, "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
    );
    let path = scratch("policy-multi.json", &multi);
    run(&["config", "validate", &path]).expect(
        0,
        &[
            "https://login.microsoftonline.com/{tid}/v2.0",
            "where {tid} is the token's tid claim",
            &format!("tenants:   {TID}"),
            "decision record: off (no wasm.rolegate filter state for the access log)",
        ],
    );
    let bad = config_file(
        "bad",
        "",
        r#"[{"match": {"prefix": "/", "hosts": ["x.com:80x"]}, "allow_missing": true, "roles": ["r"]}]"#,
    );
    run(&["config", "validate", &bad]).expect(
        2,
        &[
            "rules[0].match.hosts[0]: a port must be a number from 1 to 65535",
            "rules[0].allow_missing: cannot be combined with roles",
        ],
    );
}

#[test]
fn dry_run_shows_in_validate_and_check() {
    let rules =
        r#"[{"name": "calc", "match": {"prefix": "/"}, "roles": ["admin"], "dry_run": true}]"#;
    let config = config_file("dry-run", "", rules);
    run(&["config", "validate", &config]).expect(
        0,
        &[
            "[0] calc: prefix /, any method -> a valid token with any of the roles [admin] (dry_run: denials recorded, not enforced)",
            "rules[0].dry_run: is on",
        ],
    );
    check(&config, &[]).expect(
        1,
        &[
            "decision:  DENY, in dry run: recorded, not enforced",
            "(enforced, the answer would be 403)",
            "details:   rolegate_role",
            "reason:    role",
        ],
    );
    let enforced = config_file(
        "enforced",
        "",
        r#"[{"match": {"prefix": "/"}, "roles": ["admin"]}]"#,
    );
    check(&enforced, &[]).expect(
        1,
        &[
            "decision:  DENY\n",
            "status:    403",
            "details:   rolegate_role",
        ],
    );
}
