// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of providers: issuers, tenants, key sources, required claims.

use super::test_support::*;
use super::*;

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
