// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of key sources and their fetch settings.

use super::test_support::*;
use super::*;

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
