//! The Envoy set-ups under test and their configurations, rendered from the templates in
//! `envoy/bench/`: seven for speed, and a bare Wasm filter that only the memory table uses.

use std::path::Path;

use rolegate_bench::template;
use serde_json::{json, Value};

/// One Envoy configuration under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// No auth filter: the baseline.
    Passthrough,
    /// Envoy's native `jwt_authn` + `rbac`.
    JwtAuthn,
    /// rolegate in V8.
    Rolegate,
    /// rolegate with `path_screening: "off"`: what the path screen costs.
    RolegateUnscreened,
    /// `JwtAuthn` whose rbac policy also requires the token's `azp`.
    JwtAuthnClaims,
    /// `Rolegate` whose rule also requires the token's `azp` (`claims`).
    RolegateClaims,
    /// `Rolegate` with `decision_record: false`: what the access log's filter state costs.
    RolegateUnrecorded,
    /// A Wasm filter that reads one header (`bench/bare-wasm`): the memory table's yardstick.
    BareWasm,
}

impl Setup {
    /// The set-ups the speed rounds drive.
    pub const ALL: [Setup; 7] = [
        Setup::Passthrough,
        Setup::JwtAuthn,
        Setup::Rolegate,
        Setup::RolegateUnscreened,
        Setup::JwtAuthnClaims,
        Setup::RolegateClaims,
        Setup::RolegateUnrecorded,
    ];

    /// The name in tables and logs, and the template's file name in `envoy/bench/` (also the
    /// name of its run directory).
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Setup::Passthrough => ("passthrough", "passthrough"),
            Setup::JwtAuthn => ("jwt_authn + rbac", "jwt_authn"),
            Setup::Rolegate => ("rolegate", "rolegate"),
            Setup::RolegateUnscreened => ("rolegate, path_screening off", "rolegate_unscreened"),
            Setup::JwtAuthnClaims => ("jwt_authn + rbac, role + azp", "jwt_authn_claims"),
            Setup::RolegateClaims => ("rolegate, role + azp", "rolegate_claims"),
            Setup::RolegateUnrecorded => ("rolegate, decision_record off", "rolegate_unrecorded"),
            Setup::BareWasm => ("bare Wasm filter", "bare_wasm"),
        }
    }

    pub fn label(self) -> &'static str {
        self.names().0
    }

    pub fn slug(self) -> &'static str {
        self.names().1
    }

    /// Whether the set-up checks tokens (so hot and cold paths differ).
    pub fn authenticates(self) -> bool {
        !matches!(self, Setup::Passthrough | Setup::BareWasm)
    }

    /// Whether the set-up also requires the token's `azp`.
    pub fn requires_client(self) -> bool {
        matches!(self, Setup::JwtAuthnClaims | Setup::RolegateClaims)
    }

    /// Whether rolegate is the filter (its counters are read, not jwt_authn's).
    pub fn is_rolegate(self) -> bool {
        matches!(
            self,
            Setup::Rolegate
                | Setup::RolegateUnscreened
                | Setup::RolegateClaims
                | Setup::RolegateUnrecorded
        )
    }
}

/// The policy both auth set-ups enforce, and what they need to enforce it.
pub struct Policy<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub role: &'a str,
    /// The `azp` the claims set-ups require.
    pub client_id: &'a str,
    /// `{"keys": [...]}`, the public keys.
    pub jwks: &'a Value,
    pub cache_size: usize,
    pub wasm: &'a Path,
    /// The bare filter's module (`bench/bare-wasm`).
    pub bare_wasm: &'a Path,
}

impl Policy<'_> {
    /// Each placeholder's JSON value.
    fn values(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("issuer", json!(self.issuer)),
            ("audience", json!(self.audience)),
            ("role", json!(self.role)),
            ("client_id", json!(self.client_id)),
            ("jwks_object", self.jwks.clone()),
            ("jwks_string", json!(self.jwks.to_string())),
            ("cache_size", json!(self.cache_size)),
            ("wasm_path", json!(self.wasm.display().to_string())),
            (
                "bare_wasm_path",
                json!(self.bare_wasm.display().to_string()),
            ),
        ]
    }
}

/// Reads `<templates>/<setup>.yaml` and fills in `policy`.
pub fn render(templates: &Path, setup: Setup, policy: &Policy<'_>) -> Result<String, String> {
    template::render(
        &templates.join(format!("{}.yaml", setup.slug())),
        &policy.values(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_renders() {
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../envoy/bench");
        let jwks = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        let policy = Policy {
            issuer: "https://issuer/",
            audience: "api://a",
            role: "r",
            client_id: "c",
            jwks: &jwks,
            cache_size: 7,
            wasm: Path::new("/x/rolegate.wasm"),
            bare_wasm: Path::new("/x/bare_wasm.wasm"),
        };
        for setup in Setup::ALL.into_iter().chain([Setup::BareWasm]) {
            let text = render(&templates, setup, &policy).unwrap();
            assert!(!text.contains("{{"), "{}", setup.slug());
        }
    }
}
