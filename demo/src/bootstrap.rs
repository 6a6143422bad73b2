//! The demo's Envoy bootstrap and rolegate's plugin configuration.
//!
//! One listener on 127.0.0.1 (port 0: Envoy picks a free port) whose HTTP connection manager
//! normalizes paths, runs rolegate (`envoy.filters.http.wasm`, V8, failing closed) and routes
//! everything to cluster `calc`; cluster `idp` carries rolegate's discovery and JWKS GETs to
//! the demo's authorization server. The admin interface also listens on 127.0.0.1:0.

use crate::registrations::Api;
use rolegate_testkit::bootstrap::{self, PathHandling, Site};
use serde_json::Value;
use std::path::Path;

/// The provider name in the plugin configuration; it names the JWKS metrics.
pub const PROVIDER: &str = "entra";
/// The listener's name, to find its port in the admin interface.
pub const LISTENER: &str = "demo";

/// rolegate's configuration as JSON text, laid out for reading: tokens from `issuer` for
/// the API, keys found through OIDC discovery at `discovery_url` (fetched through cluster
/// `idp`), the caller's app id and roles passed upstream, and `/calc` open only to the clients
/// `calc_clients` (by `azp`) holding `invokeRole`.
pub fn plugin_config(
    issuer: &str,
    api: &Api,
    discovery_url: &str,
    calc_clients: &[&str],
) -> String {
    let quote = |text: &str| Value::String(text.to_string()).to_string();
    format!(
        r#"{{
  "providers": [{{
    "name": "{PROVIDER}",
    "issuer": {issuer},
    "audiences": [{app_id}, {identifier_uri}],
    "discovery": {{"cluster": "idp", "uri": {discovery_url}, "timeout_ms": 2000}}
  }}],
  "claim_to_headers": [
    {{"claim": "azp", "header": "x-client-id"}},
    {{"claim": "roles", "header": "x-client-roles"}}
  ],
  "rules": [
    {{"match": {{"path_separated_prefix": "/healthz"}}, "allow_anonymous": true}},
    {{"name": "calc", "match": {{"path_separated_prefix": "/calc"}}, "roles": ["invokeRole"],
     "claims": [{{"claim": "azp", "values": {calc_clients}}}]}}
  ]
}}"#,
        calc_clients = Value::from(calc_clients.to_vec()),
        issuer = quote(issuer),
        app_id = quote(&api.app_id),
        identifier_uri = quote(&api.identifier_uri),
        discovery_url = quote(discovery_url),
    )
}

/// The full bootstrap.
pub fn bootstrap(
    plugin_config: &str,
    wasm: &Path,
    idp_port: u16,
    calc_port: u16,
    access_log: &Path,
) -> Value {
    let mut b = bootstrap::bootstrap(Site {
        listener: LISTENER,
        stat_prefix: "demo",
        // rolegate's rules match the path Envoy forwards: normalize it first.
        path_handling: PathHandling::NormalizedAndRedirected,
        http_filters: vec![bootstrap::wasm_filter(plugin_config, wasm)],
        route_to: "calc",
        clusters: vec![
            bootstrap::static_cluster("idp", idp_port),
            bootstrap::static_cluster("calc", calc_port),
        ],
        access_log,
    });
    // Each request's rolegate decision and Envoy's response code details (step 9).
    bootstrap::set_access_log_format(&mut b, bootstrap::DECISION_LOG_FORMAT);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrations::{Registrations, BUILT_IN};
    use serde_json::json;

    #[test]
    fn the_plugin_configuration_is_the_documented_one() {
        let r = Registrations::parse(BUILT_IN).unwrap();
        let text = plugin_config(
            "http://i/t/v2.0",
            &r.api,
            "http://i/t/v2.0/.well-known/openid-configuration",
            &["client-a"],
        );
        let c: Value = serde_json::from_str(&text).unwrap();
        let expected = json!({
            "providers": [{
                "name": "entra",
                "issuer": "http://i/t/v2.0",
                "audiences": [r.api.app_id, format!("api://{}", r.api.app_id)],
                "discovery": {"cluster": "idp", "uri": "http://i/t/v2.0/.well-known/openid-configuration", "timeout_ms": 2000}
            }],
            "claim_to_headers": [
                {"claim": "azp", "header": "x-client-id"},
                {"claim": "roles", "header": "x-client-roles"}
            ],
            "rules": [
                {"match": {"path_separated_prefix": "/healthz"}, "allow_anonymous": true},
                {"name": "calc", "match": {"path_separated_prefix": "/calc"}, "roles": ["invokeRole"],
                 "claims": [{"claim": "azp", "values": ["client-a"]}]}
            ]
        });
        assert_eq!(c, expected);
        let b = bootstrap(&text, Path::new("/m.wasm"), 1, 2, Path::new("/a.log"));
        let manager = &b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
            ["typed_config"];
        let config = &manager["http_filters"][0]["typed_config"]["config"];
        assert_eq!(config["configuration"]["value"], text.as_str());
        assert_eq!(config["vm_config"]["code"]["local"]["filename"], "/m.wasm");
        assert_eq!(config["fail_open"], false);
        assert_eq!(b["static_resources"]["clusters"][0]["name"], "idp");
        assert_eq!(
            manager["path_with_escaped_slashes_action"],
            "UNESCAPE_AND_REDIRECT"
        );
    }
}
