// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! What the configuration's tests share: a valid configuration and its problems as text.

use super::*;

pub(super) const GOOD: &str = r#"{
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

pub(super) fn with_rules(rules: &str) -> String {
    let start = GOOD.find(r#""rules""#).expect("rules");
    format!("{}\"rules\": {rules}}}", &GOOD[..start])
}

pub(super) fn errors(text: &str) -> Vec<String> {
    match Config::parse(text.as_bytes()) {
        Ok(_) => Vec::new(),
        Err(errs) => errs.iter().map(ToString::to_string).collect(),
    }
}
