// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of rule selection: path screening, hosts and ports.

use super::denial::denial;
use super::test_support::*;
use super::*;
use crate::config::Config;

/// What a request without a token gets: the rule it reached shows as allowed (anonymous)
/// or missing (a token is needed).
fn answer(config: &Config, path: &'static str) -> Result<(), DenyReason> {
    match decide(
        config,
        &Anonymous(path),
        &keys(KEYS_WITH_KID, 1),
        DURING,
        WaitPermission::default(),
    ) {
        Outcome::Allow(_) => Ok(()),
        Outcome::Deny(d) => Err(d.reason),
        Outcome::WaitForKeys { .. } => Err(DenyReason::NoKeys),
    }
}

#[test]
fn a_path_that_is_not_canonical_gets_no_rule() {
    let config = path_config("reject");
    for path in [
        "/healthz/../calc/v1/add/1/1",
        "/healthz/%2e%2e/calc/v1",
        "/healthz%2f..%2fcalc/v1",
        "/healthz\\..\\calc",
        "/healthz/..;/calc",
        "//calc",
        "calc",
        "",
    ] {
        assert_eq!(answer(&config, path), Err(DenyReason::Path), "{path:?}");
    }
    let reply = crate::decision::reply::local_reply(&denial(DenyReason::Path, NON_CANONICAL_PATH));
    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.body,
        r#"{"error":"invalid_request","error_description":"request path is not in canonical form"}"#
    );
}

#[test]
fn canonical_paths_get_the_rule_of_the_path_the_upstream_routes() {
    let config = path_config("reject");
    assert_eq!(answer(&config, "/healthz"), Ok(()));
    assert_eq!(answer(&config, "/healthz/live?x=/../"), Ok(()));
    assert_eq!(
        answer(&config, "/healthzX"),
        Err(DenyReason::Missing),
        "a separated prefix stops at the segment: /healthzX falls to the admin rule"
    );
    assert_eq!(
        answer(&config, "/c%61lc/v1"),
        Err(DenyReason::Missing),
        "unreserved escapes are decoded: this is /calc"
    );
    assert_eq!(
        answer(&config, "/%68ealthz"),
        Ok(()),
        "decoding goes both ways: an encoded /healthz is /healthz"
    );
    // ;parameters: allowed while both readings pick the same rule.
    assert_eq!(answer(&config, "/healthz/live;v=1"), Ok(()));
    assert_eq!(
        answer(&config, "/public;x/admin"),
        Err(DenyReason::Path),
        "Tomcat routes /public/admin (anonymous), Go /public;x/admin (admin rule)"
    );
    assert_eq!(
        answer(&config, "/admin;x/panel"),
        Err(DenyReason::Missing),
        "both readings fall to the admin rule"
    );
}

#[test]
fn with_screening_off_rules_see_the_raw_path() {
    let config = path_config("off");
    assert_eq!(
        answer(&config, "/healthz/../calc/v1"),
        Ok(()),
        "the door path screening closes: only safe behind a normalizing Envoy"
    );
    assert_eq!(answer(&config, "/c%61lc/v1"), Err(DenyReason::Missing));
    assert_eq!(config.warnings().len(), 1);
}

#[test]
fn hosts_and_allow_missing() {
    let config = policy(
        "",
        r#"[{"match":{"hosts":["api.contoso.com"],"prefix":"/"},"roles":["admin"]},
            {"match":{"hosts":["*.contoso.com"],"prefix":"/"},"allow_missing":true},
            {"match":{"prefix":"/calc/"},"roles":["access_as_application"]}]"#,
    );
    let at = |authority: &'static str, token: Option<&'static str>| {
        outcome_of(&config, &Addressed { authority, token })
    };
    assert_eq!(
        at("API.contoso.com", Some(TOKEN)),
        Err((DenyReason::Role, None))
    );
    assert_eq!(
        at("API.contoso.com:443", Some(TOKEN)),
        Err((DenyReason::Host, None)),
        "with its port no host rule applies, without it the first: refused, not guessed"
    );
    assert_eq!(
        at("api.contoso.com.", None),
        Err((DenyReason::Missing, None)),
        "a trailing dot is another name to Envoy: not the api.contoso.com rule"
    );
    assert_eq!(
        at("x.contoso.com", Some(TOKEN)),
        Ok((1, true)),
        "a valid token is verified"
    );
    assert_eq!(at("x.contoso.com", None), Ok((1, false)), "no token passes");
    assert_eq!(
        at("x.contoso.com", Some("a.b.c")),
        Err((DenyReason::Malformed, None))
    );
    assert_eq!(at("contoso.com", None), Err((DenyReason::Missing, None)));
    assert_eq!(at("other", Some(TOKEN)), Ok((2, true)));
    assert_eq!(
        at("", Some(TOKEN)),
        Ok((2, true)),
        "no host: only rules without hosts"
    );
    assert_eq!(
        at("other:8443", Some(TOKEN)),
        Ok((2, true)),
        "a port that picks the same rule either way is fine"
    );
}

#[test]
fn a_host_listed_with_its_port_is_read_alike_with_and_without_it() {
    let config = policy(
        "",
        r#"[{"match":{"hosts":["public.contoso.com","public.contoso.com:8443"],"prefix":"/"},"allow_anonymous":true},
            {"match":{"prefix":"/"},"roles":["admin"]}]"#,
    );
    let at = |authority: &'static str| {
        outcome_of(
            &config,
            &Addressed {
                authority,
                token: None,
            },
        )
    };
    assert_eq!(at("public.contoso.com:8443"), Ok((0, false)));
    assert_eq!(at("public.contoso.com"), Ok((0, false)));
    assert_eq!(
        at("public.contoso.com:9443"),
        Err((DenyReason::Host, None)),
        "a port the rule does not list"
    );
    assert_eq!(
        at("public.contoso.com."),
        Err((DenyReason::Missing, None)),
        "another virtual host to Envoy: the catch-all"
    );
    assert_eq!(
        at("public.contoso.com.:1"),
        Err((DenyReason::Missing, None)),
        "dotted with a port: the catch-all either way"
    );
    let reply = reply::local_reply(&TargetRefusal::PortChangesTheRule.denial());
    assert_eq!((reply.status, DenyReason::Host.name()), (400, "host"));
    assert!(reply.body.contains("invalid_request"));
}
