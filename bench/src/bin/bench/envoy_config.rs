//! The four Envoy set-ups under test and their configurations, rendered from the templates in
//! `envoy/bench/`.

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
}

impl Setup {
    pub const ALL: [Setup; 4] = [
        Setup::Passthrough,
        Setup::JwtAuthn,
        Setup::Rolegate,
        Setup::RolegateUnscreened,
    ];

    /// The name in tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Setup::Passthrough => "passthrough",
            Setup::JwtAuthn => "jwt_authn + rbac",
            Setup::Rolegate => "rolegate",
            Setup::RolegateUnscreened => "rolegate, path_screening off",
        }
    }

    /// The template's file name in `envoy/bench/`, also the name of its run directory.
    pub fn slug(self) -> &'static str {
        match self {
            Setup::Passthrough => "passthrough",
            Setup::JwtAuthn => "jwt_authn",
            Setup::Rolegate => "rolegate",
            Setup::RolegateUnscreened => "rolegate_unscreened",
        }
    }

    /// Whether the set-up checks tokens (so hot and cold paths differ).
    pub fn authenticates(self) -> bool {
        self != Setup::Passthrough
    }
}

/// The policy both auth set-ups enforce, and what they need to enforce it.
pub struct Policy<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub role: &'a str,
    /// `{"keys": [...]}`, the public keys.
    pub jwks: &'a Value,
    pub cache_size: usize,
    pub wasm: &'a Path,
}

impl Policy<'_> {
    /// Each placeholder's JSON value.
    fn values(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("issuer", json!(self.issuer)),
            ("audience", json!(self.audience)),
            ("role", json!(self.role)),
            ("jwks_object", self.jwks.clone()),
            ("jwks_string", json!(self.jwks.to_string())),
            ("cache_size", json!(self.cache_size)),
            ("wasm_path", json!(self.wasm.display().to_string())),
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
            jwks: &jwks,
            cache_size: 7,
            wasm: Path::new("/x/rolegate.wasm"),
        };
        for setup in Setup::ALL {
            let text = render(&templates, setup, &policy).unwrap();
            assert!(!text.contains("{{"), "{}", setup.slug());
        }
    }
}
