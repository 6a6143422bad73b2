use super::*;
use crate::decision::host_pattern::HostPattern;
use crate::decision::rules::{PathMatch, Requirement};

const GOOD: &str = r#"{
  "providers": [{
    "name": "aad",
    "issuers": ["https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/"],
    "audiences": ["app", "api://app"],
    "remote_jwks": {"cluster": "idp", "uri": "https://login.microsoftonline.com/t/discovery/v2.0/keys",
                    "cache_duration_seconds": 600, "timeout_ms": 5000}
  }],
  "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
  "rules": [
    {"match": {"path_separated_prefix": "/healthz"}, "allow_anonymous": true},
    {"match": {"path_separated_prefix": "/calc"}, "roles": ["invokeRole"]}
  ]
}"#;

fn with_rules(rules: &str) -> String {
    let start = GOOD.find(r#""rules""#).expect("rules");
    format!("{}\"rules\": {rules}}}", &GOOD[..start])
}

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
fn max_stale_seconds_must_outlast_a_refresh() {
    let c = Config::parse(GOOD.as_bytes()).expect("valid");
    let fetch = c.providers[0].keys.fetch_settings().expect("remote");
    assert_eq!(fetch.max_stale_seconds, 0, "no limit by default");
    let with = |value: &str| {
        GOOD.replace(
            "\"timeout_ms\": 5000",
            &format!("\"timeout_ms\": 5000, \"max_stale_seconds\": {value}"),
        )
    };
    let c = Config::parse(with("86400").as_bytes()).expect("valid");
    let fetch = c.providers[0].keys.fetch_settings().expect("remote");
    assert_eq!(fetch.max_stale_seconds, 86400);
    assert!(errors(&with("-1"))[0].starts_with("providers[0].remote_jwks.max_stale_seconds"));
}

/// 600 s +10% = 660 s for the latest refresh; a try that times out holds its lease for
/// 5 s (per call) + 1 s and may start 1 s late; the first retry waits up to 1.25 s; the
/// retry takes as long as the try. One second more for the rounding of the fetch time.
#[test]
fn max_stale_seconds_must_outlast_the_latest_refresh_and_a_retry() {
    let remote = |value: u64| {
        GOOD.replace(
            "\"timeout_ms\": 5000",
            &format!("\"timeout_ms\": 5000, \"max_stale_seconds\": {value}"),
        )
    };
    // 660 + (1 + 6) + 1.25 + (1 + 6) = 675.25 s, rounded up, + 1.
    assert!(
        errors(&remote(677)).is_empty(),
        "{:?}",
        errors(&remote(677))
    );
    let refused = "providers[0].remote_jwks.max_stale_seconds: must be at least 677 with \
         these settings, or 0 for no limit: the next refresh may come up to 10% past \
         cache_duration_seconds (600) and, with a healthy IdP, still need a retry after a \
         timed-out try (timeout_ms 5000 per call, 1 call(s) per try); keys would go stale \
         before it lands";
    assert_eq!(errors(&remote(676)), vec![refused]);
    // The limit the old check let through: a refresh drawn late left 503s for up to a
    // minute.
    let short = GOOD.replace(
        "\"cache_duration_seconds\": 600,",
        "\"cache_duration_seconds\": 600, \"max_stale_seconds\": 601,",
    );
    assert_eq!(errors(&short), vec![refused]);

    // Discovery makes two calls per try: 660 + (1 + 11) + 1.25 + (1 + 11) = 685.25 s.
    let discovery = |value: u64| {
        format!(
            r#"{{"providers":[{{"name":"p","issuer":"https://idp/","audiences":["a"],
                "discovery":{{"cluster":"c","uri":"http://idp/.well-known/openid-configuration",
                "max_stale_seconds":{value}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
        )
    };
    assert!(errors(&discovery(687)).is_empty());
    let e = errors(&discovery(686));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "providers[0].discovery.max_stale_seconds: must be at least 687 with these settings"
        ) && e[0].contains("timeout_ms 5000 per call, 2 call(s) per try"),
        "{e:?}"
    );
    let azure = |value: u64| {
        format!(
            r#"{{"providers":[{{"name":"aad","audiences":["a"],"azure_ad":{{"tenant":"11111111-2222-3333-4444-555555555555",
                "cluster":"entra","max_stale_seconds":{value}}}}}],"rules":[{{"match":{{"prefix":"/"}}}}]}}"#
        )
    };
    assert!(errors(&azure(687)).is_empty());
    assert!(
        errors(&azure(686))[0]
            .starts_with("providers[0].azure_ad.max_stale_seconds: must be at least 687"),
        "{:?}",
        errors(&azure(686))
    );
    // A shorter refresh and timeout lower the bar: 11 + (1 + 2) + 1.25 + (1 + 2) = 18.25 s.
    let quick = GOOD
        .replace(
            "\"cache_duration_seconds\": 600",
            "\"cache_duration_seconds\": 10",
        )
        .replace(
            "\"timeout_ms\": 5000",
            "\"timeout_ms\": 1000, \"max_stale_seconds\": 19",
        );
    assert!(
        errors(&quick)[0].contains("must be at least 20"),
        "{:?}",
        errors(&quick)
    );
    assert!(errors(&quick.replace(": 19", ": 20")).is_empty());
}

#[test]
fn open_doors_are_warned_about() {
    let c = Config::parse(
        with_rules(
            r#"[{"match": {"prefix": "/healthz"}, "allow_anonymous": true},
                {"match": {"prefix": "/docs/"}, "allow_anonymous": true},
                {"match": {"prefix": "/calc"}, "roles": ["r"]}]"#,
        )
        .replace(r#""rules""#, r#""path_screening": "off", "rules""#)
        .as_bytes(),
    )
    .expect("valid");
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("path_screening: is off"));
    assert!(
        warnings[1].starts_with("rules[0].match.prefix: opens /healthz...")
            && warnings[1].contains("/healthzX"),
        "{warnings:?}"
    );
}

#[test]
fn allow_missing_with_a_bare_prefix_is_warned_about_as_allow_anonymous_is() {
    let c = Config::parse(
        with_rules(
            r#"[{"match": {"prefix": "/public"}, "allow_missing": true},
                {"match": {"prefix": "/docs/"}, "allow_missing": true},
                {"match": {"path_separated_prefix": "/open"}, "allow_missing": true},
                {"match": {"prefix": "/calc"}, "roles": ["r"]},
                {"match": {"prefix": "/any"}}]"#,
        )
        .as_bytes(),
    )
    .expect("valid");
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "rules[0].match.prefix: opens /public... without a token, not only /public/: \
             a string prefix also matches /publicX. Use path_separated_prefix"
        ],
        "rules that need a token (roles or any valid one) open nothing"
    );
}

fn errors(text: &str) -> Vec<String> {
    match Config::parse(text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
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
fn required_claims_share_slots_with_rule_claims() {
    let text = GOOD.replace(
        r#""audiences": ["app", "api://app"],"#,
        r#""audiences": ["app", "api://app"],
           "required_claims": [{"claim": "tid", "values": ["t1"]}, {"claim": "idtyp", "values": ["app"]}],"#,
    );
    let text = text.replace(
        r#""roles": ["invokeRole"]}"#,
        r#""roles": ["invokeRole"], "claims": [{"claim": "tid", "values": ["t2"]}]}"#,
    );
    let c = Config::parse(text.as_bytes()).expect("valid");
    let required = &c.providers[0].required_claims;
    assert_eq!((required[0].slot, required[1].slot), (0, 1));
    assert_eq!(c.rules[1].claims[0].slot, 0, "tid is read once");
    let e = errors(&GOOD.replace(
        r#""audiences": ["app", "api://app"],"#,
        r#""audiences": ["app", "api://app"], "required_claims": {"claim": "tid"},"#,
    ));
    assert!(
        e[0].starts_with("providers[0].required_claims: expected an array"),
        "{e:?}"
    );
}

#[test]
fn multi_tenant_azure_ad() {
    let provider = |azure: &str| {
        format!(
            r#"{{"providers": [{{"name": "entra", "audiences": ["api://app"],
                "azure_ad": {{"tenant": "organizations", "cluster": "entra"{azure}}}}}],
                "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
        )
    };
    let t1 = "11111111-2222-3333-4444-555555555555";
    let t2 = "AAAAAAAA-2222-3333-4444-555555555555";
    let c = Config::parse(provider(&format!(r#","tenants": ["{t1}", "{t2}"]"#)).as_bytes())
        .expect("valid");
    let p = &c.providers[0];
    assert!(p.issuers.is_empty());
    let tenants = p.tenant_issuers.as_ref().expect("multi-tenant");
    assert_eq!(
        p.document_issuers,
        ["https://login.microsoftonline.com/{tenantid}/v2.0"]
    );
    let v2 = format!("https://login.microsoftonline.com/{t1}/v2.0");
    let v1 = format!("https://sts.windows.net/{t1}/");
    assert_eq!(c.provider_for_issuer(&v2), Some(0));
    assert_eq!(c.provider_for_issuer(&v1), Some(0));
    assert!(tenants.admits(&v2, Some(t1)));
    assert!(tenants.admits(&v1, Some(t1)));
    let second = format!(
        "https://login.microsoftonline.com/{}/v2.0",
        t2.to_lowercase()
    );
    assert!(tenants.admits(&second, Some(&t2.to_lowercase())));
    let other = "99999999-2222-3333-4444-555555555555";
    let foreign = format!("https://login.microsoftonline.com/{other}/v2.0");
    assert_eq!(
        c.provider_for_issuer(&foreign),
        Some(0),
        "picked, then refused"
    );
    assert!(!tenants.admits(&foreign, Some(other)));
    assert!(!tenants.admits(&v2, Some(other)), "iss and tid disagree");
    assert!(!tenants.admits(&v2, None));
    for not_a_tenant in [
        "https://login.microsoftonline.com/{tenantid}/v2.0",
        "https://login.microsoftonline.com/organizations/v2.0",
        "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/x",
    ] {
        assert_eq!(c.provider_for_issuer(not_a_tenant), None, "{not_a_tenant}");
    }
    let KeySource::Discovery { document, .. } = &p.keys else {
        panic!("discovery")
    };
    assert_eq!(
        document.uri,
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration"
    );

    let any = Config::parse(provider(r#","allow_any_tenant": true"#).as_bytes()).expect("valid");
    let any = any.providers[0]
        .tenant_issuers
        .as_ref()
        .expect("multi-tenant");
    assert!(any.admits(&foreign, Some(other)));

    for (azure, want) in [
        ("", "providers[0].azure_ad.tenants: is required"),
        (
            r#","tenants": []"#,
            "providers[0].azure_ad.tenants: must list at least one",
        ),
        (
            r#","tenants": ["contoso.com"]"#,
            "providers[0].azure_ad.tenants: expected tenant ids",
        ),
        (
            &format!(r#","tenants": ["{t1}"], "allow_any_tenant": true"#),
            "providers[0].azure_ad.allow_any_tenant: give tenants or allow_any_tenant",
        ),
    ] {
        let e = errors(&provider(azure));
        assert!(e[0].starts_with(want), "{azure}: {e:?}");
    }
    let single = provider(&format!(r#","tenants": ["{t1}"]"#)).replace("organizations", t1);
    let e = errors(&single);
    assert!(
        e[0].starts_with("providers[0].azure_ad.tenants: only applies with"),
        "{e:?}"
    );
    let two = format!(
        r#"{{"providers": [
            {{"name": "a", "audiences": ["x"], "azure_ad": {{"tenant": "organizations", "cluster": "c", "allow_any_tenant": true}}}},
            {{"name": "b", "audiences": ["y"], "azure_ad": {{"tenant": "organizations", "cluster": "c", "tenants": ["{t1}"]}}}}],
            "rules": [{{"match": {{"prefix": "/"}}}}]}}"#
    );
    let e = errors(&two);
    assert!(
        e[0].starts_with("providers[1].azure_ad.tenant: two multi-tenant providers"),
        "{e:?}"
    );
}

/// An issuer one provider lists exactly picks that provider, even where a multi-tenant
/// provider's templates fit it too and come first: that tenant's own provider (its
/// audiences, its required claims) must decide.
#[test]
fn an_exact_issuer_wins_over_a_multi_tenant_provider_that_fits_it() {
    let t1 = "11111111-2222-3333-4444-555555555555";
    let t2 = "22222222-2222-3333-4444-555555555555";
    let multi = r#"{"name": "multi", "audiences": ["api://multi"],
        "azure_ad": {"tenant": "organizations", "cluster": "entra", "allow_any_tenant": true}}"#;
    let single = format!(
        r#"{{"name": "single", "audiences": ["api://single"],
            "azure_ad": {{"tenant": "{t1}", "cluster": "entra"}}}}"#
    );
    let v2 = format!("https://login.microsoftonline.com/{t1}/v2.0");
    let v1 = format!("https://sts.windows.net/{t1}/");
    let other = format!("https://login.microsoftonline.com/{t2}/v2.0");
    for (providers, multi_at, single_at) in [
        (format!("[{multi}, {single}]"), 0, 1),
        (format!("[{single}, {multi}]"), 1, 0),
    ] {
        let text =
            format!(r#"{{"providers": {providers}, "rules": [{{"match": {{"prefix": "/"}}}}]}}"#);
        let c = Config::parse(text.as_bytes()).expect("valid");
        assert_eq!(c.providers[single_at].name, "single");
        let tenants = c.providers[multi_at]
            .tenant_issuers
            .as_ref()
            .expect("multi-tenant");
        assert!(tenants.tenant_of(&v2).is_some(), "the template fits {v2}");
        assert_eq!(c.provider_for_issuer(&v2), Some(single_at), "{providers}");
        assert_eq!(c.provider_for_issuer(&v1), Some(single_at), "{providers}");
        assert_eq!(c.provider_for_issuer(&other), Some(multi_at), "{providers}");
    }
}

/// Headers that frame the request or route it: a claim written there would change what
/// Envoy or the upstream does with the request, not just tell it who called.
#[test]
fn claims_cannot_be_written_to_framing_or_pseudo_headers() {
    let with_header = |header: &str| GOOD.replace("x-client-id", header);
    assert!(errors(&with_header("x-tenant")).is_empty());
    for header in [
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "te",
        "upgrade",
        "keep-alive",
        "proxy-connection",
    ] {
        for written in [header.to_string(), header.to_ascii_uppercase()] {
            assert_eq!(
                errors(&with_header(&written)),
                vec![format!(
                    "claim_to_headers[0].header: {header} cannot carry a claim"
                )],
                "{written}"
            );
        }
    }
    for header in [
        ":authority",
        ":path",
        ":method",
        ":scheme",
        ":status",
        "x client",
    ] {
        assert_eq!(
            errors(&with_header(header)),
            vec![format!(
                "claim_to_headers[0].header: {header} is not a header name"
            )],
        );
    }
    assert_eq!(
        errors(&with_header("")),
        vec!["claim_to_headers[0].header: must not be empty"]
    );
}

/// A claim header that is also a token header would replace the token the request came
/// with, or hand the upstream a claim where it looks for a credential.
#[test]
fn a_claim_header_cannot_be_a_token_header_or_set_twice() {
    let with_header = |header: &str| GOOD.replace("x-client-id", header);
    for header in ["authorization", "Authorization"] {
        assert_eq!(
            errors(&with_header(header)),
            vec!["claim_to_headers[0].header: header authorization also carries the token"],
            "the default token header, {header}"
        );
    }
    let own_token_headers = GOOD.replace(
        r#""rules""#,
        r#""from_headers": [{"name": "authorization", "value_prefix": "Bearer "},
                            {"name": "X-Token"}], "rules""#,
    );
    assert!(errors(&own_token_headers).is_empty());
    assert_eq!(
        errors(&own_token_headers.replace("x-client-id", "x-TOKEN")),
        vec!["claim_to_headers[0].header: header x-token also carries the token"]
    );
    let twice = GOOD.replace(
        r#"[{"claim": "azp", "header": "x-client-id"}]"#,
        r#"[{"claim": "azp", "header": "x-client-id"}, {"claim": "oid", "header": "X-Client-Id"}]"#,
    );
    assert_eq!(
        errors(&twice),
        vec!["claim_to_headers[1].header: header x-client-id is set twice"]
    );
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
fn missing_key_source_and_empty_lists_are_refused() {
    let no_source = r#"{"providers":[{"name":"p","issuer":"i","audiences":["a"]}],"rules":[{"match":{"prefix":"/"}}]}"#;
    let e = errors(no_source);
    assert!(
        e.iter()
            .any(|m| m.starts_with("providers[0].remote_jwks: a key source is required")),
        "{e:?}"
    );
    let e = errors(&GOOD.replace(
        r#""issuers": ["https://login.microsoftonline.com/t/v2.0", "https://sts.windows.net/t/"]"#,
        r#""issuers": []"#,
    ));
    assert_eq!(
        e,
        vec!["providers[0].issuers: must list at least one issuer"]
    );
    let e = errors(&GOOD.replace(r#""audiences": ["app", "api://app"],"#, ""));
    assert!(
        e[0].starts_with("providers[0].audiences: is required"),
        "{e:?}"
    );
    let e = errors(&GOOD.replace(r#""roles": ["invokeRole"]"#, r#""roles": []"#));
    assert!(e[0].starts_with("rules[1].roles: must list"), "{e:?}");
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
fn discovery_and_the_azure_preset() {
    let discovery = r#"{"providers":[{"name":"p","issuer":"https://idp/","audiences":["a"],
        "discovery":{"cluster":"c","uri":"http://idp/.well-known/openid-configuration","timeout_ms":700}}],
        "rules":[{"match":{"prefix":"/"}}]}"#;
    let c = Config::parse(discovery.as_bytes()).expect("valid");
    let KeySource::Discovery {
        document,
        jwks_cluster,
        fetch,
    } = &c.providers[0].keys
    else {
        panic!("discovery expected")
    };
    assert_eq!(
        (
            document.path.as_str(),
            jwks_cluster.as_str(),
            fetch.timeout_ms
        ),
        ("/.well-known/openid-configuration", "c", 700)
    );

    let azure = r#"{"providers":[{"name":"aad","audiences":["a"],
        "azure_ad":{"tenant":"11111111-2222-3333-4444-555555555555","cluster":"entra"}}],"rules":[{"match":{"prefix":"/"}}]}"#;
    let c = Config::parse(azure.as_bytes()).expect("valid");
    assert_eq!(
        c.providers[0].issuers,
        vec![
            "https://sts.windows.net/11111111-2222-3333-4444-555555555555/",
            "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0"
        ]
    );
    let KeySource::Discovery { document, .. } = &c.providers[0].keys else {
        panic!("discovery expected")
    };
    assert_eq!(
        document.uri,
        "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0/.well-known/openid-configuration"
    );

    let china = azure.replace(
        r#""cluster":"entra""#,
        r#""cluster":"entra","cloud":"china","versions":["v2"]"#,
    );
    let c = Config::parse(china.as_bytes()).expect("valid");
    assert_eq!(
        c.providers[0].issuers,
        vec![
            "https://login.partner.microsoftonline.cn/11111111-2222-3333-4444-555555555555/v2.0",
            "https://login.chinacloudapi.cn/11111111-2222-3333-4444-555555555555/v2.0"
        ]
    );
    for (versions, want) in [
        (
            "[]",
            "providers[0].azure_ad.versions: must list v1, v2 or both",
        ),
        (
            r#"["v2","v3"]"#,
            r#"providers[0].azure_ad.versions: expected "v1" and/or "v2", got ["v3"]"#,
        ),
    ] {
        let bad = azure.replace(
            r#""cluster":"entra""#,
            &format!(r#""cluster":"entra","versions":{versions}"#),
        );
        assert_eq!(errors(&bad), vec![want]);
    }
    let e = errors(&azure.replace("11111111-2222-3333-4444-555555555555", "contoso.com"));
    assert!(
        e[0].starts_with("providers[0].azure_ad.tenant: expected the tenant id"),
        "{e:?}"
    );
    let e = errors(&azure.replace("11111111-2222-3333-4444-555555555555", "common"));
    assert!(
        e[0].starts_with("providers[0].azure_ad.tenant: common is not supported"),
        "{e:?}"
    );
    let e = errors(&azure.replace(
        r#""cluster":"entra""#,
        r#""cluster":"entra","cloud":"mars""#,
    ));
    assert!(e[0].starts_with("providers[0].azure_ad.cloud"), "{e:?}");
    let e = errors(&azure.replace(r#""audiences""#, r#""issuer":"x","audiences""#));
    assert!(
        e[0].starts_with("providers[0].issuer: azure_ad derives"),
        "{e:?}"
    );
    let both = discovery.replace(r#""discovery""#, r#""local_jwks":{"keys":[]},"discovery""#);
    let e = errors(&both);
    assert!(e.iter().any(|m| m.contains("give one key source")), "{e:?}");
}

#[test]
fn uri_splitting() {
    assert_eq!(
        split_uri("http://127.0.0.1:9000/keys?x=1"),
        Some(("127.0.0.1:9000".into(), "/keys?x=1".into()))
    );
    assert_eq!(split_uri("https://host"), Some(("host".into(), "/".into())));
    assert_eq!(split_uri("host/keys"), None);
    assert_eq!(split_uri("https:///keys"), None);
}

#[test]
fn dry_run_for_the_plugin_and_for_one_rule() {
    let c = Config::parse(
        with_rules(
            r#"[{"name": "calc", "match": {"prefix": "/calc/"}, "roles": ["r"], "dry_run": true},
                {"match": {"prefix": "/"}}]"#,
        )
        .as_bytes(),
    )
    .expect("valid");
    assert!(!c.dry_run);
    assert_eq!((c.rules[0].dry_run, c.rules[1].dry_run), (true, false));
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "rules[0].dry_run: is on: requests under calc are not denied; would-be denials \
              are only logged and counted"
        ]
    );
    let top = Config::parse(
        with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": false}]"#)
            .replace(r#""rules""#, r#""dry_run": true, "rules""#)
            .as_bytes(),
    )
    .expect("valid");
    assert!(top.dry_run && !top.rules[0].dry_run);
    assert!(top.warnings()[0].to_string().starts_with("dry_run: is on"));
    assert_eq!(
        errors(
            &with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": "yes"}]"#)
                .replace(r#""rules""#, r#""dry_run": 1, "rules""#)
        ),
        vec![
            "rules[0].dry_run: expected true or false, got a string",
            "dry_run: expected true or false, got a number",
        ]
    );
    assert!(errors(&with_rules(
        r#"[{"match": {"prefix": "/"}, "dryrun": true}]"#
    ))
    .iter()
    .any(|e| e.starts_with("rules[0].dryrun: unknown field") && e.contains("dry_run")));
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
