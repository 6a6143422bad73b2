//! The authorization server over HTTP, without Envoy: the client credentials grant, its
//! RFC 6749 §5.2 error answers, and the discovery document and key set that the issued
//! tokens verify against.

// Tests may panic: a failed assertion is their job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rolegate_demo::form;
use rolegate_demo::idp::Idp;
use rolegate_demo::registrations::{Client, Registrations, BUILT_IN};
use rolegate_testkit::http::{self, Response};
use rolegate_testkit::token::{decode_unverified, verify_rs256};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::OnceLock;

/// One server for every test in this file (key generation takes a moment in debug builds).
fn idp() -> &'static Idp {
    static IDP: OnceLock<Idp> = OnceLock::new();
    IDP.get_or_init(|| {
        let registrations = Registrations::parse(BUILT_IN).unwrap();
        Idp::start(registrations, SocketAddr::from(([127, 0, 0, 1], 0))).unwrap()
    })
}

fn client(name: &str) -> Client {
    idp().registrations().client_named(name).unwrap().clone()
}

fn token_path() -> String {
    format!("/{}/oauth2/v2.0/token", idp().registrations().tenant_id)
}

fn default_scope() -> String {
    format!("{}/.default", idp().registrations().api.identifier_uri)
}

/// The form for calc-client with `changes` applied (an empty value removes the field).
fn calc_form(changes: &[(&str, &str)]) -> String {
    let calc = client("calc-client");
    let scope = default_scope();
    let mut fields = vec![
        ("grant_type", "client_credentials"),
        ("client_id", calc.app_id.as_str()),
        ("client_secret", calc.secret.as_str()),
        ("scope", scope.as_str()),
    ];
    for (name, value) in changes {
        fields.retain(|(n, _)| n != name);
        if !value.is_empty() {
            fields.push((name, value));
        }
    }
    form::encode_pairs(&fields)
}

fn post_with(body: &str, headers: &[(&str, &str)]) -> Response {
    http::send(
        idp().port(),
        "POST",
        &token_path(),
        headers,
        Some(body.as_bytes()),
    )
    .unwrap()
}

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

fn post(body: &str) -> Response {
    post_with(body, &[FORM])
}

/// A form post with `authorization`.
fn post_authorized(body: &str, authorization: &str) -> Response {
    post_with(body, &[FORM, ("authorization", authorization)])
}

/// The discovery document of the IdP's tenant.
fn discovery() -> Value {
    let idp = idp();
    let tenant = &idp.registrations().tenant_id;
    let path = format!("/{tenant}/v2.0/.well-known/openid-configuration");
    let answer = http::client::get(idp.port(), &path).unwrap();
    assert_eq!(answer.status, 200);
    answer.json_body().unwrap()
}

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", form::encode(id), form::encode(secret)))
    )
}

/// Asserts an RFC 6749 §5.2 answer and returns its description.
#[track_caller]
fn assert_error(answer: &Response, status: u16, error: &str) -> String {
    let body = answer.json_body().unwrap_or(Value::Null);
    assert_eq!(
        (answer.status, body["error"].as_str()),
        (status, Some(error)),
        "{}",
        answer.body_text()
    );
    assert!(answer
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/json")));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    let description = body["error_description"].as_str().unwrap().to_string();
    for c in &idp().registrations().clients {
        assert!(
            !answer.body_text().contains(&c.secret),
            "an answer must not echo a secret"
        );
    }
    description
}

fn access_token(answer: &Response) -> String {
    assert_eq!(answer.status, 200, "{}", answer.body_text());
    let body = answer.json_body().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["ext_expires_in"], 3600);
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    body["access_token"].as_str().unwrap().to_string()
}

/// Verifies `token` with the key that discovery leads to; returns its claims.
fn verify(token: &str) -> Value {
    let idp = idp();
    let document = discovery();
    let jwks_uri = document["jwks_uri"].as_str().unwrap();
    let jwks_path = jwks_uri.strip_prefix(idp.base_url()).unwrap();
    let jwks = http::client::get(idp.port(), jwks_path)
        .unwrap()
        .json_body()
        .unwrap();

    let (header, claims) = decode_unverified(token).expect("a JWS with a JSON header and claims");
    assert_eq!(
        (&header["typ"], &header["alg"]),
        (&json!("JWT"), &json!("RS256"))
    );
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is in the key set");
    assert_eq!((&key["kty"], &key["use"]), (&json!("RSA"), &json!("sig")));
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "RSA-2048");
    verify_rs256(token, &n, &e).expect("RS256 signature verifies");
    assert_eq!(claims["iss"], document["issuer"]);
    claims
}

#[test]
fn client_secret_post_gets_an_entra_shaped_token_that_verifies() {
    let calc = client("calc-client");
    let claims = verify(&access_token(&post(&calc_form(&[]))));
    let r = idp().registrations();
    let want = json!({
        "iss": idp().issuer(), "aud": r.api.app_id, "azp": calc.app_id, "azpacr": "1",
        "roles": ["invokeRole"], "tid": r.tenant_id, "oid": calc.service_principal_object_id,
        "sub": claims["oid"], "idtyp": "app", "ver": "2.0",
    });
    for (name, value) in want.as_object().unwrap() {
        assert_eq!(&claims[name], value, "{name}");
    }
    let iat = claims["iat"].as_u64().unwrap();
    assert_eq!(claims["nbf"].as_u64(), Some(iat));
    assert_eq!(claims["exp"].as_u64(), Some(iat + 3600));
}

#[test]
fn client_secret_basic_works_and_the_api_app_id_scope_too() {
    let calc = client("calc-client");
    let body = calc_form(&[
        ("client_id", ""),
        ("client_secret", ""),
        (
            "scope",
            &format!("{}/.default", idp().registrations().api.app_id),
        ),
    ]);
    let answer = post_with(
        &body,
        &[
            (
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("authorization", &basic(&calc.app_id, &calc.secret)),
        ],
    );
    verify(&access_token(&answer));
    // The client_id may be repeated in the form when it is the same.
    let same_id = calc_form(&[("client_secret", "")]);
    access_token(&post_authorized(
        &same_id,
        &basic(&calc.app_id, &calc.secret),
    ));
}

#[test]
fn form_fields_are_percent_decoded() {
    let calc = client("calc-client");
    let encoded_secret: String = calc.secret.bytes().map(|b| format!("%{b:02x}")).collect();
    let body = format!(
        "grant_type=client_credentials&client_id={}&client_secret={encoded_secret}&scope={}",
        calc.app_id,
        form::encode(&default_scope())
    );
    access_token(&post(&body));
}

#[test]
fn a_client_without_granted_roles_gets_a_token_without_a_roles_claim() {
    let reporting = client("reporting-client");
    let body = calc_form(&[
        ("client_id", &reporting.app_id),
        ("client_secret", &reporting.secret),
    ]);
    let claims = verify(&access_token(&post(&body)));
    assert_eq!(claims["azp"], reporting.app_id.as_str());
    assert!(claims.get("roles").is_none(), "{claims}");
}

#[test]
fn invalid_client() {
    let calc = client("calc-client");
    let reporting = client("reporting-client");
    let cases = [
        calc_form(&[("client_secret", "wrong")]),
        calc_form(&[("client_secret", &reporting.secret)]),
        calc_form(&[("client_secret", "")]),
        calc_form(&[("client_id", "00000000-0000-4000-8000-000000000000")]),
    ];
    for body in &cases {
        let answer = post(body);
        assert_error(&answer, 401, "invalid_client");
        assert_eq!(
            answer.header("www-authenticate"),
            None,
            "no Authorization header was used: {body}"
        );
    }
    assert!(!calc.secret.is_empty());
}

#[test]
fn invalid_client_with_basic_auth_challenges_basic() {
    let calc = client("calc-client");
    let body = calc_form(&[("client_id", ""), ("client_secret", "")]);
    for authorization in [
        basic(&calc.app_id, "wrong"),
        basic("00000000-0000-4000-8000-000000000000", &calc.secret),
        "Basic not*base64".to_string(),
        format!("Basic {}", STANDARD.encode("no-colon")),
        "Bearer abc".to_string(),
    ] {
        let answer = post_authorized(&body, &authorization);
        assert_error(&answer, 401, "invalid_client");
        let challenge = answer.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Basic realm="),
            "{authorization}: {challenge}"
        );
    }
}

#[test]
fn invalid_scope() {
    let api = &idp().registrations().api;
    for scope in [
        "api://00000000-0000-4000-8000-000000000000/.default".to_string(),
        "https://graph.microsoft.com/.default".to_string(),
        format!("{}/invokeRole", api.identifier_uri),
        api.identifier_uri.clone(),
        format!("{}/.default openid", api.identifier_uri),
        "openid".to_string(),
    ] {
        let answer = post(&calc_form(&[("scope", &scope)]));
        let description = assert_error(&answer, 400, "invalid_scope");
        assert!(!description.is_empty(), "{scope}");
    }
}

#[test]
fn unsupported_grant_type() {
    for grant in [
        "password",
        "authorization_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
    ] {
        let answer = post(&calc_form(&[("grant_type", grant)]));
        assert_error(&answer, 400, "unsupported_grant_type");
    }
}

/// What is wrong, the form, and headers besides the content type.
type Case<'a> = (&'a str, String, Vec<(&'a str, String)>);

#[test]
fn invalid_request() {
    let calc = client("calc-client");
    let cases: Vec<Case> = vec![
        ("no grant_type", calc_form(&[("grant_type", "")]), vec![]),
        ("no client_id", calc_form(&[("client_id", "")]), vec![]),
        ("no scope", calc_form(&[("scope", "")]), vec![]),
        (
            "grant_type twice",
            format!("{}&grant_type=client_credentials", calc_form(&[])),
            vec![],
        ),
        (
            "client_id twice",
            format!("{}&client_id={}", calc_form(&[]), calc.app_id),
            vec![],
        ),
        (
            "bad percent-encoding",
            format!("{}&x=%zz", calc_form(&[])),
            vec![],
        ),
        (
            "Basic and client_secret",
            calc_form(&[]),
            vec![("authorization", basic(&calc.app_id, &calc.secret))],
        ),
        (
            "Basic and another client_id",
            calc_form(&[
                ("client_id", "00000000-0000-4000-8000-000000000000"),
                ("client_secret", ""),
            ]),
            vec![("authorization", basic(&calc.app_id, &calc.secret))],
        ),
    ];
    for (what, body, extra) in &cases {
        let mut headers = vec![FORM];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        let answer = post_with(body, &headers);
        let description = assert_error(&answer, 400, "invalid_request");
        assert!(!description.is_empty(), "{what}");
    }
    for content_type in [None, Some("application/json"), Some("text/plain")] {
        let headers: Vec<(&str, &str)> = content_type
            .map(|t| vec![("content-type", t)])
            .unwrap_or_default();
        let answer = post_with(&calc_form(&[]), &headers);
        assert_error(&answer, 400, "invalid_request");
    }
}

#[test]
fn wrong_method_and_unknown_tenant() {
    let idp = idp();
    let answer = http::client::get(idp.port(), &token_path()).unwrap();
    assert_eq!((answer.status, answer.header("allow")), (405, Some("POST")));
    let other_tenant = "/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token";
    let body = calc_form(&[]);
    let answer = http::send(
        idp.port(),
        "POST",
        other_tenant,
        &[FORM],
        Some(body.as_bytes()),
    )
    .unwrap();
    assert_error(&answer, 400, "invalid_request");
    let answer = http::client::get(
        idp.port(),
        "/00000000-0000-4000-8000-000000000000/v2.0/.well-known/openid-configuration",
    )
    .unwrap();
    assert_eq!(answer.status, 400);
    assert_eq!(
        http::client::get(idp.port(), "/nowhere").unwrap().status,
        404
    );
}

#[test]
fn discovery_names_the_issuer_the_token_endpoint_and_the_keys() {
    let idp = idp();
    let document = discovery();
    assert_eq!(document["issuer"], idp.issuer().as_str());
    assert_eq!(
        format!("{}/.well-known/openid-configuration", idp.issuer()),
        idp.discovery_url(),
        "OIDC Discovery §4.3: the issuer is the discovery URL's prefix"
    );
    assert_eq!(document["token_endpoint"], idp.token_url().as_str());
    assert_eq!(document["jwks_uri"], idp.jwks_url().as_str());
    assert!(document["jwks_uri"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:"));
    assert_eq!(
        document["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    assert_eq!(
        document["grant_types_supported"],
        json!(["client_credentials"])
    );
}
