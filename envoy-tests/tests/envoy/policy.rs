//! What a rule can require beyond roles, in real Envoy: claim values (an `azp` allow-list),
//! a provider's required claims (`tid`, `idtyp`), hosts, `allow_missing`, named rules and their
//! counters, and multi-tenant Entra ID through the `azure_ad` preset.
//!
//! Prerequisites: `make envoy` and `make build` (the tests fail without them).

use serde_json::{json, Value};

use rolegate_testkit::answers::{self as check, UNTRUSTED_ISSUER};
use rolegate_testkit::bootstrap;
use rolegate_testkit::entra::{API_APP_ID, AUDIENCE, CLIENT_ID, ISSUER, ISSUER_V1, ROLE, TENANT};
use rolegate_testkit::idp::{self, ENTRA_AUTHORITY};
use rolegate_testkit::jwks::jwks;
use rolegate_testkit::stack::{assert_counter_reaches, Stack};
use rolegate_testkit::test_keys::{self, key_a, standard_jwks, KID_A};
use rolegate_testkit::Idp;

const OTHER_CLIENT: &str = "c11e47a0-aaaa-bbbb-cccc-000000000002";
const OTHER_TENANT: &str = "99999999-8888-7777-6666-555555555555";
const SECOND_TENANT: &str = "22222222-3333-4444-5555-666666666666";
const REQUIRED_CLAIM: &str = "token lacks a claim its provider requires";

fn remote_jwks() -> Value {
    json!({"cluster": "idp", "uri": idp::jwks_uri()})
}

/// A token signed by key A: the standard claims (`invokeRole`, `azp` = CLIENT_ID, `tid` =
/// TENANT) with `changes` applied (`null` removes a claim).
fn token_with(changes: Value) -> String {
    test_keys::token_with(&[ROLE], changes)
}

fn get(s: &Stack, path: &str, host: &str, token: Option<&str>) -> rolegate_testkit::Response {
    s.get_as(path, token, &[("host", host)])
}

#[test]
fn claim_values_and_required_claims_decide_after_the_signature() {
    let config = json!({
        "providers": [{
            "name": "aad",
            "issuers": [ISSUER, ISSUER_V1],
            "audiences": [API_APP_ID, AUDIENCE],
            "remote_jwks": remote_jwks(),
            "required_claims": [
                {"claim": "tid", "values": [TENANT]},
                {"claim": "idtyp", "values": ["app"]},
            ],
        }],
        "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
        "rules": [
            {"name": "calc", "match": {"path_separated_prefix": "/calc"}, "roles": [ROLE],
             "claims": [{"claim": "azp", "values": [CLIENT_ID, "c11e47a0-aaaa-bbbb-cccc-00000000000f"]}]},
        ],
    });
    let s = Stack::start(&config, Idp::start(standard_jwks()));
    let app = token_with(json!({"idtyp": "app"}));
    check::upstream_saw(
        &get(&s, "/calc/add", "calc", Some(&app)),
        "listed azp, app token",
        &[("x-client-id", Some(CLIENT_ID))],
    );

    // The provider's claims fail first, with 401, whatever the rule says.
    let cases = json!({
        "a delegated (user) token carrying roles": {"idtyp": "user"},
        "no idtyp claim": {"idtyp": null},
        "another tenant": {"idtyp": "app", "tid": OTHER_TENANT},
        "arrays hold when an element does": {"idtyp": ["app"], "tid": [TENANT]},
    });
    for (what, changes) in cases.as_object().unwrap() {
        let r = get(&s, "/calc/add", "calc", Some(&token_with(changes.clone())));
        if what.starts_with("arrays") {
            check::upstream_ok(&r, what);
        } else {
            check::invalid_token(&r, REQUIRED_CLAIM, what);
        }
    }
    // The rule's claims: 403 once the role is there.
    let other_client = token_with(json!({"idtyp": "app", "azp": OTHER_CLIENT}));
    check::insufficient_scope(
        &get(&s, "/calc/add", "calc", Some(&other_client)),
        "an azp not on the rule's list",
    );
    let no_role = test_keys::token_with(&[], json!({"idtyp": "app", "azp": OTHER_CLIENT}));
    let r = get(&s, "/calc/add", "calc", Some(&no_role));
    check::insufficient_scope(&r, "no role and a foreign azp");
    assert_eq!(
        check::local_reply(&r, 403, "role first")["error_description"],
        "token lacks a required role",
        "roles are checked before the rule's claims"
    );
    assert!(s.up.count() >= 2);
    // Provider and rule claims count under one reason; the named rule has its own counters.
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.claim", 4);
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.role", 1);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.allowed", 2);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.calc.denied", 5);
}

#[test]
fn hosts_pick_the_rule_case_insensitively_port_and_dot_included() {
    let config = json!({
        "providers": [{"name": "aad", "issuers": [ISSUER], "audiences": [AUDIENCE],
                       "remote_jwks": remote_jwks()}],
        "rules": [
            {"match": {"hosts": ["api.contoso.com", "api.contoso.com:10000"], "path_separated_prefix": "/calc"}, "roles": [ROLE]},
            {"match": {"hosts": ["*.tenants.contoso.com"], "prefix": "/"}, "roles": ["tenantRole"]},
            {"match": {"hosts": ["*"], "path_separated_prefix": "/healthz"}, "allow_anonymous": true},
        ],
    });
    let s = Stack::start(&config, Idp::start(standard_jwks()));
    let invoke = token_with(json!({}));
    for (host, path, want, what) in [
        ("api.contoso.com", "/calc/1", None, "exact host"),
        (
            "API.Contoso.COM:10000",
            "/calc/1",
            None,
            "case, and a port the rule lists",
        ),
        (
            "api.contoso.com.",
            "/calc/1",
            Some("access_denied"),
            "fully qualified: another name to Envoy's virtual hosts",
        ),
        (
            "www.contoso.com",
            "/calc/1",
            Some("access_denied"),
            "another host: no rule",
        ),
        (
            "a.tenants.contoso.com",
            "/calc/1",
            Some("insufficient_scope"),
            "subdomain rule wants tenantRole",
        ),
        (
            "x.y.tenants.contoso.com",
            "/x",
            Some("insufficient_scope"),
            "two labels",
        ),
        (
            "tenants.contoso.com",
            "/x",
            Some("access_denied"),
            "the bare domain is no subdomain",
        ),
        ("anything.example", "/healthz", None, "the * host"),
    ] {
        let r = get(&s, path, host, Some(&invoke));
        let what = format!("{what} ({host}{path})");
        match want {
            None => {
                check::upstream_ok(&r, &what);
            }
            Some(code) => {
                let body = check::local_reply(&r, 403, &what);
                assert_eq!(check::error_code(&body), code, "{what}");
            }
        }
    }
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.no_rule", 3);
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.role", 2);
    let r = get(&s, "/x", "a.tenants.contoso.com:443", Some(&invoke));
    let body = check::local_reply(&r, 400, "a port that changes the rule");
    assert_eq!(check::error_code(&body), "invalid_request");
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.host", 1);
}

/// The review's bypass: an anonymous rule for one host and a catch-all that needs a role, in an
/// Envoy with two virtual hosts, `public.contoso.com` and `*`. Each route adds `x-vhost`, so the
/// answer shows which virtual host served it.
fn two_virtual_hosts(config: &Value, strip: bool, ignore_port: bool) -> Stack {
    Stack::start_with(Idp::start(standard_jwks()), |p| {
        let mut bootstrap = p.standard(config);
        let hcm = bootstrap::connection_manager(&mut bootstrap);
        let vhost = |name: &str, domains: Value| {
            json!({
                "name": name,
                "domains": domains,
                "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "upstream"},
                            "request_headers_to_add": [{"header": {"key": "x-vhost", "value": name}}]}]
            })
        };
        let route_config = json!({
            "name": "two",
            "ignore_port_in_host_matching": ignore_port,
            "virtual_hosts": [vhost("public", json!(["public.contoso.com"])), vhost("internal", json!(["*"]))]
        });
        hcm.insert("route_config".into(), route_config);
        hcm.insert("strip_any_host_port".into(), json!(strip));
        hcm.insert("strip_trailing_host_dot".into(), json!(strip));
        bootstrap
    })
}

fn public_and_internal(public_hosts: Value) -> Value {
    json!({
        "providers": [idp::provider()],
        "rules": [
            {"match": {"prefix": "/", "hosts": public_hosts}, "allow_anonymous": true},
            {"match": {"prefix": "/"}, "roles": ["admin"]},
        ],
    })
}

/// What one request must get in [`two_virtual_hosts`].
#[derive(Debug, Clone, Copy)]
enum Served {
    /// 200 from this virtual host.
    By(&'static str),
    /// rolegate's 401: the catch-all needs a token.
    TokenRequired,
    /// rolegate's 400: the port changes the rule, and rolegate cannot know Envoy's reading.
    PortRefused,
}

fn expect_served(s: &Stack, host: &str, want: Served) {
    let before = s.up.count();
    let r = get(s, "/internal/data", host, None);
    let what = format!("Host: {host}");
    match want {
        Served::By(vhost) => {
            check::upstream_saw(&r, &what, &[("x-vhost", Some(vhost))]);
        }
        Served::TokenRequired => {
            check::local_reply(&r, 401, &what);
            assert_eq!(s.up.count(), before, "{what}: reached the upstream");
        }
        Served::PortRefused => {
            let body = check::local_reply(&r, 400, &what);
            assert_eq!(check::error_code(&body), "invalid_request", "{what}");
            assert_eq!(s.up.count(), before, "{what}: reached the upstream");
        }
    }
}

#[test]
fn a_host_rule_never_opens_a_virtual_host_envoy_picks_for_another_host() {
    use Served::*;
    let config = public_and_internal(json!(["public.contoso.com"]));
    // Envoy's defaults: the port and the trailing dot are part of the host it routes on.
    let s = two_virtual_hosts(&config, false, false);
    for (host, want) in [
        ("public.contoso.com", By("public")),
        ("PUBLIC.contoso.com", By("public")),
        ("public.contoso.com:8443", PortRefused),
        ("public.contoso.com.", TokenRequired),
        ("public.contoso.com.:1", TokenRequired),
        ("internal.contoso.com", TokenRequired),
    ] {
        expect_served(&s, host, want);
    }
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.host", 1);
    drop(s);

    // The connection manager strips port and dot before any filter: rolegate and the routes
    // read the same stripped host.
    let s = two_virtual_hosts(&config, true, false);
    for (host, want) in [
        ("public.contoso.com:8443", By("public")),
        ("public.contoso.com.", By("public")),
        ("public.contoso.com.:1", By("public")),
        ("internal.contoso.com:8443", TokenRequired),
    ] {
        expect_served(&s, host, want);
    }
    drop(s);

    // ignore_port_in_host_matching leaves the header alone and drops the port for the lookup
    // only: a port the rule lists is read alike either way, any other is refused.
    let config = public_and_internal(json!(["public.contoso.com", "public.contoso.com:8443"]));
    let s = two_virtual_hosts(&config, false, true);
    for (host, want) in [
        ("public.contoso.com:8443", By("public")),
        ("public.contoso.com:9443", PortRefused),
        ("public.contoso.com", By("public")),
        ("internal.contoso.com:8443", TokenRequired),
    ] {
        expect_served(&s, host, want);
    }
}

#[test]
fn allow_missing_passes_no_token_but_refuses_a_bad_one() {
    let config = json!({
        "providers": [{"name": "aad", "issuers": [ISSUER], "audiences": [AUDIENCE],
                       "remote_jwks": remote_jwks()}],
        "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
        "rules": [
            {"name": "docs", "match": {"path_separated_prefix": "/docs"}, "allow_missing": true},
        ],
    });
    let s = Stack::start(&config, Idp::start(standard_jwks()));
    // No token: through, and a client-sent claim header does not pass.
    let r = s.get("/docs/a", &[("host", "docs"), ("x-client-id", "forged")]);
    check::upstream_saw(&r, "no token", &[("x-client-id", None)]);
    // A valid token: through, with its claim headers set and the token removed.
    check::upstream_saw(
        &get(&s, "/docs/a", "docs", Some(&token_with(json!({})))),
        "valid token",
        &[("x-client-id", Some(CLIENT_ID)), ("authorization", None)],
    );
    // A token that is there must be valid.
    let expired = token_with(json!({"exp": 1_000_000_000, "nbf": 999_000_000, "iat": 999_000_000}));
    check::some_invalid_token(&get(&s, "/docs/a", "docs", Some(&expired)), "expired token");
    let foreign = token_with(json!({"iss": "https://elsewhere.example/"}));
    check::invalid_token(
        &get(&s, "/docs/a", "docs", Some(&foreign)),
        UNTRUSTED_ISSUER,
        "untrusted issuer",
    );
    check::some_invalid_token(&get(&s, "/docs/a", "docs", Some("not-a-jwt")), "garbage");
    assert_eq!(s.up.count(), 2);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.docs.allowed", 2);
    assert_counter_reaches(&s, "wasmcustom.rolegate.rule.docs.denied", 3);
}

#[test]
fn multi_tenant_entra_accepts_listed_tenants_only() {
    // Entra's common key set: discovery for `organizations` names `{tenantid}` as its issuer.
    const CLUSTER: &str = "entra";
    let idp = Idp::serve(
        "organizations",
        std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
    )
    .unwrap();
    idp.set_jwks(jwks(&[(key_a(), KID_A)]));
    idp.set_discovery(
        "https://login.microsoftonline.com/{tenantid}/v2.0",
        &format!("https://{ENTRA_AUTHORITY}/organizations/discovery/v2.0/keys"),
    );
    let config = json!({
        "providers": [{
            "name": "entra",
            "audiences": [API_APP_ID, AUDIENCE],
            "azure_ad": {"tenant": "organizations", "cluster": CLUSTER,
                         "tenants": [TENANT, SECOND_TENANT.to_uppercase()]},
        }],
        "claim_to_headers": [{"claim": "tid", "header": "x-tenant"}],
        "rules": [{"match": {"path_separated_prefix": "/calc"}, "roles": [ROLE]}],
    });
    let s = Stack::start_with_idp_clusters(&config, idp, &[CLUSTER]);
    let v2 = |tid: &str| format!("https://login.microsoftonline.com/{tid}/v2.0");
    let v1 = |tid: &str| format!("https://sts.windows.net/{tid}/");
    for (iss, tid, allowed, what) in [
        (v2(TENANT), TENANT, true, "first tenant, v2"),
        (v1(TENANT), TENANT, true, "first tenant, v1"),
        (
            v2(SECOND_TENANT),
            SECOND_TENANT,
            true,
            "second tenant (listed in upper case)",
        ),
        (v2(OTHER_TENANT), OTHER_TENANT, false, "a tenant not listed"),
        (
            v2(TENANT),
            SECOND_TENANT,
            false,
            "iss and tid name different tenants",
        ),
        (v2("organizations"), TENANT, false, "not a tenant id in iss"),
        (
            "https://login.microsoftonline.com/{tenantid}/v2.0".to_string(),
            TENANT,
            false,
            "the discovery document's template as iss",
        ),
    ] {
        let token = token_with(json!({"iss": iss, "tid": tid}));
        let r = get(&s, "/calc/1", "calc", Some(&token));
        if allowed {
            check::upstream_saw(&r, what, &[("x-tenant", Some(tid))]);
        } else {
            check::invalid_token(&r, UNTRUSTED_ISSUER, what);
        }
    }
    let no_tid = token_with(json!({"iss": v2(TENANT), "tid": null}));
    check::invalid_token(
        &get(&s, "/calc/1", "calc", Some(&no_tid)),
        UNTRUSTED_ISSUER,
        "no tid claim",
    );
    assert_eq!(s.idp.discovery_requests(), 1);
    assert_eq!(
        s.idp
            .requests_for("/organizations/v2.0/.well-known/openid-configuration")
            .len(),
        1,
        "discovery for organizations"
    );
    assert_eq!(s.up.count(), 3);
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.issuer", 5);
}
