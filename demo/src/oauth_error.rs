//! Error answers of the token endpoint (RFC 6749 §5.2): a JSON body with `error` and
//! `error_description`, status 400, or 401 for `invalid_client` with a `WWW-Authenticate`
//! challenge when the client authenticated with an `Authorization` header.

use rolegate_testkit::http::Response;
use rolegate_testkit::idp::oauth_error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    UnsupportedGrantType,
    InvalidScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    /// Human-readable; never echoes a secret.
    pub description: String,
    /// The client used the `Authorization` header: a 401 must challenge with Basic.
    pub challenge_basic: bool,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: description.into(),
            challenge_basic: false,
        }
    }

    /// `invalid_client` for a client that authenticated with HTTP Basic.
    pub fn invalid_basic_client(description: impl Into<String>) -> OAuthError {
        OAuthError {
            challenge_basic: true,
            ..OAuthError::new(ErrorCode::InvalidClient, description)
        }
    }

    pub fn status(&self) -> u16 {
        match self.code {
            ErrorCode::InvalidClient => 401,
            _ => 400,
        }
    }

    pub fn to_response(&self) -> Response {
        let response = oauth_error(self.status(), self.code.as_str(), &self.description);
        if self.challenge_basic && self.code == ErrorCode::InvalidClient {
            response.with_header(
                "www-authenticate",
                r#"Basic realm="token", charset="UTF-8""#,
            )
        } else {
            response
        }
    }
}
