// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of reading the configuration as a whole: rules, defaults, problems.

use super::test_support::*;
use super::*;
use crate::decision::host_pattern::HostPattern;
use crate::decision::rules::{PathMatch, Requirement};

#[test]
fn path_matchers_and_their_canonical_form() {
    let c = Config::parse(GOOD.as_bytes()).expect("valid");
    assert_eq!(c.path_screening, PathScreening::Reject, "on by default");
    assert_eq!(
        c.rules[0].path,
        PathMatch::SeparatedPrefix("/healthz".into())
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    for (rules, field, message) in [
        (
            r#"[{"match": {"path_separated_prefix": "/calc/"}}]"#,
            "rules[0].match.path_separated_prefix",
            "must not end with '/'",
        ),
        (
            r#"[{"match": {"path_separated_prefix": "/"}}]"#,
            "rules[0].match.path_separated_prefix",
            "must not end with '/'",
        ),
        (
            r#"[{"match": {"path_separated_prefix": "calc"}}]"#,
            "rules[0].match.path_separated_prefix",
            "must start with '/'",
        ),
        (
            r#"[{"match": {"prefix": "/calc", "path": "/calc"}}]"#,
            "rules[0].match.path",
            "give one of",
        ),
        (
            r#"[{"match": {"methods": ["GET"]}}]"#,
            "rules[0].match.path_separated_prefix",
            "is required",
        ),
        (
            r#"[{"match": {"prefix": "/calc/../admin"}}]"#,
            "rules[0].match.prefix",
            "not in canonical form: the path has a . or .. segment",
        ),
        (
            r#"[{"match": {"path": "/a//b"}}]"#,
            "rules[0].match.path",
            "empty segment",
        ),
        (
            r#"[{"match": {"prefix": "/%7euser"}}]"#,
            "rules[0].match.prefix",
            "write /~user",
        ),
        (
            r#"[{"match": {"prefix": "/calc?x=1"}}]"#,
            "rules[0].match.prefix",
            "query",
        ),
    ] {
        let errs = errors(&with_rules(rules));
        assert!(
            errs.iter()
                .any(|e| e.starts_with(field) && e.contains(message)),
            "{rules}: {errs:?}"
        );
    }
    assert!(errors(&with_rules(
        r#"[{"match": {"path_separated_prefix": "/caf\u00e9"}}]"#
    ))
    .is_empty());
    let bad = GOOD.replace(r#""rules""#, r#""path_screening": "normalize", "rules""#);
    assert!(errors(&bad)
        .iter()
        .any(|e| e.starts_with("path_screening: expected")));
}

#[test]
fn claims_hosts_names_and_allow_missing() {
    let c = Config::parse(
        with_rules(
            r#"[{"name": "calc", "match": {"hosts": ["API.contoso.com", "*.t.contoso.com"],
                  "path_separated_prefix": "/calc"}, "roles": ["r"],
                  "claims": [{"claim": "azp", "values": ["a", "b"]}, {"claim": "tid", "values": ["t"]}]},
                {"match": {"prefix": "/docs/"}, "allow_missing": true}]"#,
        )
        .as_bytes(),
    )
    .expect("valid");
    let rule = &c.rules[0];
    assert_eq!(rule.name.as_deref(), Some("calc"));
    let hosts: Vec<String> = rule.hosts.iter().flatten().map(HostPattern::text).collect();
    assert_eq!(hosts, ["api.contoso.com", "*.t.contoso.com"]);
    assert_eq!(rule.claims.len(), 2);
    assert_eq!(
        (rule.claims[0].slot, rule.claims[1].slot),
        (0, 1),
        "each claim name its slot"
    );
    assert_eq!(c.rules[1].requirement, Requirement::TokenIfPresent);
    assert!(c.rules[1].hosts.is_none() && c.rules[1].name.is_none());

    for (rules, want) in [
        (
            r#"[{"match": {"prefix": "/"}, "allow_missing": true, "roles": ["r"]}]"#,
            "rules[0].allow_missing: cannot be combined with roles",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "allow_missing": true, "claims": [{"claim": "a", "values": ["b"]}]}]"#,
            "rules[0].allow_missing: cannot be combined with claims",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "allow_missing": true, "allow_anonymous": true}]"#,
            "rules[0].allow_missing: cannot be combined with allow_anonymous",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "allow_anonymous": true, "claims": [{"claim": "a", "values": ["b"]}]}]"#,
            "rules[0].allow_anonymous: cannot be combined with claims",
        ),
        (
            r#"[{"name": "a", "match": {"prefix": "/a/"}}, {"name": "a", "match": {"prefix": "/b/"}}]"#,
            "rules[1].name: rule name a is used twice",
        ),
        (
            r#"[{"name": "a.b", "match": {"prefix": "/"}}]"#,
            "rules[0].name: use letters, digits",
        ),
        (
            r#"[{"match": {"prefix": "/", "hosts": []}}]"#,
            "rules[0].match.hosts: must list at least one host",
        ),
        (
            r#"[{"match": {"prefix": "/", "hosts": ["api.contoso.com:0"]}}]"#,
            "rules[0].match.hosts[0]: a port must be a number from 1 to 65535",
        ),
        (
            r#"[{"match": {"prefix": "/", "hosts": ["a.*.com"]}}]"#,
            "rules[0].match.hosts[0]: a wildcard may only be a whole leading label",
        ),
        (
            r#"[{"match": {"prefix": "/", "hosts": "a.com"}}]"#,
            "rules[0].match.hosts: expected an array",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": []}]"#,
            "rules[0].claims: must list at least one claim",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a"}]}]"#,
            "rules[0].claims[0].values: is required",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": []}]}]"#,
            "rules[0].claims[0].values: must list at least one value",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": [42]}]}]"#,
            "rules[0].claims[0].values",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "", "values": ["x"]}]}]"#,
            "rules[0].claims[0].claim: must not be empty",
        ),
        (
            r#"[{"match": {"prefix": "/"}, "claims": [{"claim": "a", "values": ["x"], "value": "y"}]}]"#,
            "rules[0].claims[0].value",
        ),
    ] {
        let e = errors(&with_rules(rules));
        assert!(
            e.iter().any(|line| line.starts_with(want)),
            "{rules}: want {want}, got {e:?}"
        );
    }
}

#[test]
fn the_documented_example_parses_with_defaults() {
    let c = Config::parse(GOOD.as_bytes()).expect("valid");
    assert_eq!(c.clock_skew_seconds, 60);
    assert_eq!(c.max_token_bytes, 8192);
    assert!(!c.forward);
    assert_eq!(c.roles_claim, "roles");
    assert_eq!(
        c.from_headers.first().map(|f| f.name.as_str()),
        Some("authorization")
    );
    let KeySource::Remote { jwks, fetch } = &c.providers[0].keys else {
        panic!("remote expected")
    };
    assert_eq!(jwks.authority, "login.microsoftonline.com");
    assert_eq!(jwks.path, "/t/discovery/v2.0/keys");
    assert_eq!(jwks.cluster, "idp");
    assert_eq!(fetch.min_refetch_interval_seconds, 30);
    assert_eq!(fetch.max_jwks_bytes, 256 * 1024);
    assert_eq!(c.provider_for_issuer("https://sts.windows.net/t/"), Some(0));
    assert_eq!(c.provider_for_issuer("https://sts.windows.net/x/"), None);
}

#[test]
fn typos_and_wrong_types_name_their_field() {
    let e = errors(&GOOD.replacen("\"rules\"", "\"rulez\"", 1));
    assert!(
        e.iter().any(|m| m.starts_with("rulez: unknown field")),
        "{e:?}"
    );
    assert!(
        e.iter().any(|m| m.starts_with("rules: is required")),
        "{e:?}"
    );
    let e = errors(&GOOD.replace("\"timeout_ms\": 5000", "\"timeout_ms\": \"5s\""));
    assert_eq!(e, vec!["providers[0].remote_jwks.timeout_ms: expected an integer from 1 to 60000, got a string"]);
    let e = errors(&GOOD.replace(
        "\"cache_duration_seconds\": 600",
        "\"cache_duration_seconds\": 1.5",
    ));
    assert!(
        e[0].starts_with("providers[0].remote_jwks.cache_duration_seconds"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace(
        "\"path_separated_prefix\": \"/calc\"}",
        "\"path_separated_prefix\": \"/calc\", \"method\": [\"GET\"]}",
    ));
    assert!(
        e[0].starts_with("rules[1].match.method: unknown field"),
        "{e:?}"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let bad = r#"{"providers":[{"name":"p p","issuer":1,"audiences":"a","remote_jwks":{"cluster":"c","uri":"ftp://x"}}],
                  "rules":[{"match":{"prefix":"calc"},"allow_anonymous":true,"roles":["r"]}],
                  "clock_skew_seconds":-1,"forward":"yes"}"#;
    let e = errors(bad);
    for field in [
        "providers[0].name",
        "providers[0].issuer",
        "providers[0].audiences",
        "providers[0].remote_jwks.uri",
        "rules[0].match.prefix",
        "rules[0].allow_anonymous",
        "clock_skew_seconds",
        "forward",
    ] {
        assert!(
            e.iter().any(|m| m.starts_with(field)),
            "{field} missing in {e:?}"
        );
    }
}

#[test]
fn decision_record_is_on_unless_switched_off() {
    let on = Config::parse(with_rules(r#"[{"match": {"prefix": "/"}}]"#).as_bytes());
    assert!(on.expect("valid").decision_record);
    let off = with_rules(r#"[{"match": {"prefix": "/"}}]"#)
        .replace(r#""rules""#, r#""decision_record": false, "rules""#);
    assert!(
        !Config::parse(off.as_bytes())
            .expect("valid")
            .decision_record
    );
    assert_eq!(
        errors(&off.replace("false", "\"no\"")),
        vec!["decision_record: expected true or false, got a string"]
    );
}
