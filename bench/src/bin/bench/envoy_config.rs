//! The Envoy set-ups under test and their configurations, rendered from the templates in
//! `envoy/bench/`: a filter chain, with or without an access log.

use std::path::{Path, PathBuf};

use rolegate_bench::template;
use serde_json::{json, Value};

/// What an Envoy under test runs in front of its direct-response route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Filter {
    /// No filter: what the listener, the connection manager and the router cost.
    Passthrough,
    /// A Wasm filter that does what rolegate does to a request it allows and decides nothing
    /// (`bench/bare-wasm --features floor`): the least a Wasm filter doing rolegate's work costs.
    Floor,
    /// Envoy's native `jwt_authn` + `rbac`.
    JwtAuthn,
    /// rolegate in V8.
    Rolegate,
    /// rolegate built from an earlier revision (or a module given by path), same configuration.
    Baseline,
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

impl Filter {
    /// The name in tables and logs, the short name (case names, run directories) and the
    /// template's file name in `envoy/bench/`.
    fn names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Filter::Passthrough => ("passthrough", "passthrough", "passthrough"),
            Filter::Floor => ("Wasm floor", "floor", "bare_wasm"),
            Filter::JwtAuthn => ("jwt_authn + rbac", "jwt_authn", "jwt_authn"),
            Filter::Rolegate => ("rolegate", "rolegate", "rolegate"),
            Filter::Baseline => ("baseline rolegate", "baseline", "rolegate"),
            Filter::RolegateUnscreened => (
                "rolegate, path_screening off",
                "rolegate_unscreened",
                "rolegate_unscreened",
            ),
            Filter::JwtAuthnClaims => (
                "jwt_authn + rbac, role + azp",
                "jwt_authn_claims",
                "jwt_authn_claims",
            ),
            Filter::RolegateClaims => {
                ("rolegate, role + azp", "rolegate_claims", "rolegate_claims")
            }
            Filter::RolegateUnrecorded => (
                "rolegate, decision_record off",
                "rolegate_unrecorded",
                "rolegate_unrecorded",
            ),
            Filter::BareWasm => ("bare Wasm filter", "bare_wasm", "bare_wasm"),
        }
    }

    pub fn label(self) -> &'static str {
        self.names().0
    }

    pub fn slug(self) -> &'static str {
        self.names().1
    }

    /// Whether the filter checks tokens (so hot and cold paths differ).
    pub fn authenticates(self) -> bool {
        !matches!(self, Filter::Passthrough | Filter::BareWasm | Filter::Floor)
    }

    /// Whether the filter takes the token header off the request and sets `x-client-id`, as
    /// every auth filter here does on the requests it lets through.
    pub fn rewrites_headers(self) -> bool {
        self.authenticates() || self == Filter::Floor
    }

    /// Whether the filter also requires the token's `azp`.
    pub fn requires_client(self) -> bool {
        matches!(self, Filter::JwtAuthnClaims | Filter::RolegateClaims)
    }

    /// Whether rolegate is the filter (its counters are read, not jwt_authn's).
    pub fn is_rolegate(self) -> bool {
        matches!(
            self,
            Filter::Rolegate
                | Filter::Baseline
                | Filter::RolegateUnscreened
                | Filter::RolegateClaims
                | Filter::RolegateUnrecorded
        )
    }

    /// The Wasm module the filter loads, if it is a Wasm filter.
    fn module(self, modules: &Modules) -> Option<Result<&Path, String>> {
        let module = match self {
            Filter::Passthrough | Filter::JwtAuthn | Filter::JwtAuthnClaims => return None,
            Filter::Rolegate
            | Filter::RolegateUnscreened
            | Filter::RolegateClaims
            | Filter::RolegateUnrecorded => return Some(Ok(&modules.rolegate)),
            Filter::Baseline => &modules.baseline,
            Filter::Floor => &modules.floor,
            Filter::BareWasm => &modules.bare,
        };
        let missing = || format!("{}: its module was not built", self.label());
        Some(module.as_deref().ok_or_else(missing))
    }

    /// The match of `rolegate.yaml`'s rule. The baseline's says `prefix`, the form every
    /// revision of rolegate reads (`path_separated_prefix` came with the path screen): the same
    /// requests match.
    fn calc_match(self) -> Value {
        match self {
            Filter::Baseline => json!({"prefix": "/calc/"}),
            _ => json!({"path_separated_prefix": "/calc"}),
        }
    }
}

/// One Envoy under test: a filter, with or without the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Setup {
    pub filter: Filter,
    pub access_log: bool,
}

impl Setup {
    pub const fn new(filter: Filter, access_log: bool) -> Setup {
        Setup { filter, access_log }
    }

    /// The filter's label, ` [log]` after it with the access log.
    pub fn label(self) -> String {
        let log = if self.access_log { " [log]" } else { "" };
        format!("{}{log}", self.filter.label())
    }

    /// The filter's short name, `-log` after it with the access log.
    pub fn slug(self) -> String {
        let log = if self.access_log { "-log" } else { "" };
        format!("{}{log}", self.filter.slug())
    }
}

/// The access log of the set-ups that write one (to /dev/null: the formatting is measured, not
/// the disk): rolegate's decision record and the response code details; "-" where the filter
/// state is absent (every filter but rolegate).
fn access_log(on: bool) -> Value {
    if !on {
        return json!([]);
    }
    json!([{
        "name": "envoy.access_loggers.file",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
            "path": "/dev/null",
            "log_format": {"text_format_source": {"inline_string":
                "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% \
                 %FILTER_STATE(wasm.rolegate:PLAIN)%\n"}}
        }
    }])
}

/// The Wasm modules the set-ups load; `None` for one no selected set-up needs.
#[derive(Debug, Clone, Default)]
pub struct Modules {
    pub rolegate: PathBuf,
    pub baseline: Option<PathBuf>,
    pub floor: Option<PathBuf>,
    /// The memory table's bare filter.
    pub bare: Option<PathBuf>,
}

/// The policy both auth set-ups enforce, and what they need to enforce it.
pub struct Policy<'a> {
    pub issuer: &'a str,
    pub audience: &'a str,
    pub role: &'a str,
    /// The `azp` the claims set-ups require (and the value the floor sets as `x-client-id`).
    pub client_id: &'a str,
    /// `{"keys": [...]}`, the public keys.
    pub jwks: &'a Value,
    pub cache_size: usize,
    pub modules: &'a Modules,
}

impl Policy<'_> {
    /// Each placeholder's JSON value for `setup`.
    fn values(&self, setup: Setup) -> Result<Vec<(&'static str, Value)>, String> {
        let mut values = vec![
            ("issuer", json!(self.issuer)),
            ("audience", json!(self.audience)),
            ("role", json!(self.role)),
            ("client_id", json!(self.client_id)),
            ("jwks_object", self.jwks.clone()),
            ("jwks_string", json!(self.jwks.to_string())),
            ("cache_size", json!(self.cache_size)),
            ("access_log", access_log(setup.access_log)),
            ("calc_match", setup.filter.calc_match()),
        ];
        if let Some(module) = setup.filter.module(self.modules) {
            values.push(("wasm_path", json!(module?.display().to_string())));
        }
        Ok(values)
    }
}

/// Reads `setup`'s template in `templates` and fills in `policy`.
pub fn render(templates: &Path, setup: Setup, policy: &Policy<'_>) -> Result<String, String> {
    let (_, _, template) = setup.filter.names();
    template::render(
        &templates.join(format!("{template}.yaml")),
        &policy.values(setup)?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVERY_FILTER: [Filter; 10] = [
        Filter::Passthrough,
        Filter::Floor,
        Filter::JwtAuthn,
        Filter::Rolegate,
        Filter::Baseline,
        Filter::RolegateUnscreened,
        Filter::JwtAuthnClaims,
        Filter::RolegateClaims,
        Filter::RolegateUnrecorded,
        Filter::BareWasm,
    ];

    #[test]
    fn every_template_renders_with_and_without_the_access_log() {
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../envoy/bench");
        let jwks = json!({"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]});
        let modules = Modules {
            rolegate: PathBuf::from("/x/rolegate.wasm"),
            baseline: Some(PathBuf::from("/x/baseline.wasm")),
            floor: Some(PathBuf::from("/x/floor.wasm")),
            bare: Some(PathBuf::from("/x/bare.wasm")),
        };
        let policy = Policy {
            issuer: "https://issuer/",
            audience: "api://a",
            role: "r",
            client_id: "c",
            jwks: &jwks,
            cache_size: 7,
            modules: &modules,
        };
        for filter in EVERY_FILTER {
            for logged in [false, true] {
                let text = render(&templates, Setup::new(filter, logged), &policy).unwrap();
                assert!(!text.contains("{{"), "{}", filter.slug());
                assert_eq!(text.contains("/dev/null"), logged, "{}", filter.slug());
            }
        }
        let baseline = render(&templates, Setup::new(Filter::Baseline, false), &policy).unwrap();
        assert!(
            baseline.contains("/x/baseline.wasm") && baseline.contains(r#"{"prefix":"/calc/"}"#)
        );
        let floor = render(&templates, Setup::new(Filter::Floor, false), &policy).unwrap();
        assert!(floor.contains("/x/floor.wasm") && floor.contains("value: \"c\""));
    }

    #[test]
    fn a_module_not_built_is_an_error() {
        let jwks = json!({"keys": []});
        let modules = Modules::default();
        let policy = Policy {
            issuer: "i",
            audience: "a",
            role: "r",
            client_id: "c",
            jwks: &jwks,
            cache_size: 1,
            modules: &modules,
        };
        let err = policy
            .values(Setup::new(Filter::Baseline, true))
            .unwrap_err();
        assert!(err.contains("baseline rolegate"), "{err}");
        assert!(policy.values(Setup::new(Filter::JwtAuthn, true)).is_ok());
    }
}
