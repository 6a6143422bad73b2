//! The three Envoy set-ups under test and their configurations, rendered from the templates in
//! `envoy/bench/`.

use std::path::Path;

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
}

impl Setup {
    pub const ALL: [Setup; 3] = [Setup::Passthrough, Setup::JwtAuthn, Setup::Rolegate];

    /// The name in tables and logs.
    pub fn label(self) -> &'static str {
        match self {
            Setup::Passthrough => "passthrough",
            Setup::JwtAuthn => "jwt_authn + rbac",
            Setup::Rolegate => "rolegate",
        }
    }

    /// The template's file name in `envoy/bench/`, also the name of its run directory.
    pub fn slug(self) -> &'static str {
        match self {
            Setup::Passthrough => "passthrough",
            Setup::JwtAuthn => "jwt_authn",
            Setup::Rolegate => "rolegate",
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
    let file = templates.join(format!("{}.yaml", setup.slug()));
    let template = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    fill(&template, &policy.values()).map_err(|e| format!("{}: {e}", file.display()))
}

/// Replaces every `{{name}}` with the compact JSON text of its value. Each value is one line, so
/// it keeps the indentation of a YAML block scalar. A placeholder without a value is an error.
fn fill(template: &str, values: &[(&str, Value)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let end = from
            .find("}}")
            .ok_or("a placeholder opened with {{ is not closed")?;
        let name = from.get(2..end).unwrap_or_default().trim();
        let value = values
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value)
            .ok_or_else(|| format!("unknown placeholder {{{{{name}}}}}"))?;
        out.push_str(&value.to_string());
        rest = from.get(end + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_json_values() {
        let values = [
            ("a", json!("x\"y")),
            ("n", json!(3)),
            ("o", json!({"k": [1]})),
        ];
        let got = fill("s: {{a}}\nn: {{ n }}\no: {{o}}\n", &values).unwrap();
        assert_eq!(got, "s: \"x\\\"y\"\nn: 3\no: {\"k\":[1]}\n");
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        assert!(fill("{{nope}}", &[]).unwrap_err().contains("{{nope}}"));
        assert!(fill("x {{a", &[("a", json!(1))]).is_err());
    }

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
