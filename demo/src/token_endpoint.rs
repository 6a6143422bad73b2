//! The token endpoint's client credentials grant (RFC 6749 §4.4), as Entra ID serves it:
//! a form POST with `grant_type=client_credentials`, the client authenticated by its secret
//! (`client_secret_post` in the form, or `client_secret_basic` in an `Authorization: Basic`
//! header, RFC 6749 §2.3.1), and `scope=<API identifier URI or app id>/.default`.
//!
//! [`authorize`] checks such a request and names the client to issue a token for, or says
//! which RFC 6749 §5.2 error to answer.

use crate::form::{self, Form};
use crate::oauth_error::{ErrorCode, OAuthError};
use crate::registrations::{Client, Registrations};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rolegate_testkit::http::Request;

const FORM_MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// The client that proved its identity and asked for a token for the registered API.
pub fn authorize<'r>(
    request: &Request,
    registrations: &'r Registrations,
) -> Result<&'r Client, OAuthError> {
    let invalid_request = |text: &str| OAuthError::new(ErrorCode::InvalidRequest, text);
    if request.header_count("content-type") != 1 || !is_form(request.header("content-type")) {
        return Err(invalid_request(
            "the request body must be application/x-www-form-urlencoded",
        ));
    }
    let form = Form::parse(&request.body).map_err(|e| invalid_request(&e.to_string()))?;
    match form.get("grant_type") {
        None => return Err(invalid_request("the request must contain grant_type")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this server issues tokens for grant_type client_credentials only",
            ))
        }
    }
    let client = authenticate(request, &form, registrations)?;
    check_scope(form.get("scope"), registrations)?;
    Ok(client)
}

fn is_form(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(FORM_MEDIA_TYPE))
}

/// Client credentials: from `Authorization: Basic` or from the form, never both (§2.3).
struct Credentials {
    client_id: String,
    secret: Option<String>,
    basic: bool,
}

fn credentials(request: &Request, form: &Form) -> Result<Credentials, OAuthError> {
    let invalid_request = |text: &str| OAuthError::new(ErrorCode::InvalidRequest, text);
    if request.header_count("authorization") > 1 {
        return Err(invalid_request("more than one Authorization header"));
    }
    let Some(authorization) = request.header("authorization") else {
        let client_id = form
            .get("client_id")
            .ok_or_else(|| invalid_request("the request must contain client_id"))?;
        return Ok(Credentials {
            client_id: client_id.to_string(),
            secret: form.get("client_secret").map(str::to_string),
            basic: false,
        });
    };
    let (scheme, encoded) = authorization.split_once(' ').unwrap_or((authorization, ""));
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_basic_client(
            "client authentication must use the Basic scheme or client_secret in the form",
        ));
    }
    let (id, secret) = decode_basic(encoded.trim()).ok_or_else(|| {
        OAuthError::invalid_basic_client("the Basic credentials are not base64(client_id:secret)")
    })?;
    if form.get("client_secret").is_some() {
        return Err(invalid_request(
            "the client authenticated twice: use Basic or client_secret, not both",
        ));
    }
    if form.get("client_id").is_some_and(|body_id| body_id != id) {
        return Err(invalid_request(
            "client_id in the form differs from the Basic credentials",
        ));
    }
    Ok(Credentials {
        client_id: id,
        secret: Some(secret),
        basic: true,
    })
}

/// RFC 6749 §2.3.1: id and secret are form-encoded, then joined by `:` and base64-encoded.
fn decode_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form::decode(id)?, form::decode(secret)?);
    (!id.is_empty()).then_some((id, secret))
}

fn authenticate<'r>(
    request: &Request,
    form: &Form,
    registrations: &'r Registrations,
) -> Result<&'r Client, OAuthError> {
    let credentials = credentials(request, form)?;
    let fail = |text: &str| {
        if credentials.basic {
            OAuthError::invalid_basic_client(text)
        } else {
            OAuthError::new(ErrorCode::InvalidClient, text)
        }
    };
    let Some(secret) = credentials.secret.as_deref() else {
        return Err(fail(
            "the request must contain client_secret (or Basic credentials)",
        ));
    };
    let Some(client) = registrations.client(&credentials.client_id) else {
        return Err(fail(
            "no application with this client_id is registered in the tenant",
        ));
    };
    if !constant_time_eq(secret.as_bytes(), client.secret.as_bytes()) {
        return Err(fail("invalid client secret"));
    }
    Ok(client)
}

/// Whether `a == b`, in a time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Client credentials requests name exactly one resource's `/.default` scope: the API's
/// identifier URI (`api://<app id>/.default`) or its bare app id (`<app id>/.default`).
fn check_scope(scope: Option<&str>, registrations: &Registrations) -> Result<(), OAuthError> {
    let invalid_scope = |text: String| OAuthError::new(ErrorCode::InvalidScope, text);
    let Some(scope) = scope else {
        return Err(OAuthError::new(
            ErrorCode::InvalidRequest,
            "the request must contain scope",
        ));
    };
    let values: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    let [value] = values.as_slice() else {
        return Err(invalid_scope(
            "a client credentials request names exactly one scope, <resource>/.default".to_string(),
        ));
    };
    let api = &registrations.api;
    let (resource, permission) = value.rsplit_once('/').unwrap_or((value, ""));
    if resource != api.identifier_uri && resource != api.app_id {
        return Err(invalid_scope(format!(
            "scope {value} names no API registered in this tenant; expected {}/.default",
            api.identifier_uri
        )));
    }
    if permission != ".default" {
        return Err(invalid_scope(format!(
            "a client credentials request must use the /.default scope ({}/.default); \
             app roles are granted by consent, not requested",
            api.identifier_uri
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrations::BUILT_IN;

    fn registrations() -> Registrations {
        Registrations::parse(BUILT_IN).unwrap()
    }

    fn post(body: &str, headers: &[(&str, &str)]) -> Request {
        let headers = [&[("content-type", FORM_MEDIA_TYPE)], headers].concat();
        Request::new("POST", "/t/oauth2/v2.0/token", &headers, body.as_bytes())
    }

    fn calc_form(r: &Registrations) -> String {
        let c = r.client_named("calc-client").unwrap();
        form::encode_pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", &c.app_id),
            ("client_secret", &c.secret),
            ("scope", &format!("{}/.default", r.api.identifier_uri)),
        ])
    }

    fn code(result: Result<&Client, OAuthError>) -> (ErrorCode, bool) {
        let e = result.unwrap_err();
        (e.code, e.challenge_basic)
    }

    #[test]
    fn the_api_app_id_form_of_the_scope_is_accepted() {
        let r = registrations();
        let body = calc_form(&r).replace("api%3A%2F%2F", "");
        assert_eq!(
            authorize(&post(&body, &[]), &r).unwrap().display_name,
            "calc-client"
        );
    }

    #[test]
    fn scopes_other_than_one_default_scope_are_refused() {
        let r = registrations();
        let good = calc_form(&r);
        for bad in [
            "api%3A%2F%2Fother%2F.default",
            "https%3A%2F%2Fgraph.microsoft.com%2F.default",
            "openid",
        ] {
            let body = good.replace(
                &form::encode(&format!("{}/.default", r.api.identifier_uri)),
                bad,
            );
            assert_ne!(body, good);
            let e = authorize(&post(&body, &[]), &r).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidScope, "{bad}");
        }
        for scope in ["invokeRole", ".default+openid"] {
            let body = good.replace(".default", scope);
            assert_eq!(
                code(authorize(&post(&body, &[]), &r)).0,
                ErrorCode::InvalidScope
            );
        }
    }

    #[test]
    fn content_type_parameters_and_case_are_accepted_other_media_types_are_not() {
        let r = registrations();
        let mut request = post(&calc_form(&r), &[]);
        request.headers[0].1 = "Application/X-WWW-Form-Urlencoded; charset=UTF-8".into();
        assert!(authorize(&request, &r).is_ok());
        request.headers[0].1 = "application/json".into();
        assert_eq!(code(authorize(&request, &r)).0, ErrorCode::InvalidRequest);
        request.headers.remove(0);
        assert_eq!(code(authorize(&request, &r)).0, ErrorCode::InvalidRequest);
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
