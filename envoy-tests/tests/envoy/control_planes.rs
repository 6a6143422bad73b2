#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! rolegate as each control plane delivers it, from the shipped manifests, in a real Envoy:
//! a WasmPlugin as istiod 1.28/1.29 and 1.30+ render it, a TrafficExtension, and an
//! EnvoyExtensionPolicy as Envoy Gateway renders it (`testkit::istio`, `testkit::envoy_gateway`
//! say how each renders). Each makes the decisions of [`istio::assert_same_decisions`], the
//! checks `envoy-tests/tests/envoy/lifecycle.rs` runs on a WasmPlugin rendered from its own configuration. The
//! manifests' plugin configurations are used as shipped, with the test tenant's ID and
//! audiences in place of the placeholders and their key-set clusters pointing at the local IdP.
//!
//! Also: what the EnvoyProxy adds to Envoy Gateway's bootstrap passes `envoy --mode validate`.
//!
//! Prerequisites (the tests fail, never skip, without them): `make envoy` and `make build`.

use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use rolegate_testkit::bootstrap::{self, add_clusters};
use rolegate_testkit::entra::{API_APP_ID, AUDIENCE, ISSUER, TENANT};
use rolegate_testkit::envoy::{self, Bootstrap};
use rolegate_testkit::envoy_gateway::{self, ModuleServer};
use rolegate_testkit::idp;
use rolegate_testkit::istio::{self, Istiod};
use rolegate_testkit::jwks::jwks;
use rolegate_testkit::test_keys::{key_a, KID_A};
use rolegate_testkit::{workspace, Idp, Stack};

/// The documents of a shipped YAML file, as JSON values.
fn yaml_file(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(workspace::root().join(path))
        .unwrap_or_else(|e| panic!("read {path}: {e}"));
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// The manifest of `kind` in the shipped file `path`.
fn manifest(path: &str, kind: &str) -> Value {
    yaml_file(path)
        .into_iter()
        .find(|m| m["kind"] == kind)
        .unwrap_or_else(|| panic!("{path} has no {kind}"))
}

/// A shipped plugin configuration with the test tenant in place of the placeholders: every
/// provider's `azure_ad.tenant` and `audiences`.
fn with_test_tenant(config: &Value) -> Value {
    let mut config = config.clone();
    for provider in config["providers"].as_array_mut().expect("providers") {
        assert!(
            provider.get("azure_ad").is_some(),
            "the shipped examples use the azure_ad preset: {provider}"
        );
        provider["azure_ad"]["tenant"] = json!(TENANT);
        provider["audiences"] = json!([API_APP_ID, AUDIENCE]);
    }
    config
}

/// The key-set clusters a plugin configuration names.
fn key_clusters(config: &Value) -> Vec<String> {
    config["providers"]
        .as_array()
        .expect("providers")
        .iter()
        .filter_map(|p| p["azure_ad"]["cluster"].as_str().map(String::from))
        .collect()
}

/// The local IdP as Entra's `login.microsoftonline.com`, publishing key A.
fn entra_idp() -> Idp {
    let idp = Idp::start(jwks(&[(key_a(), KID_A)]));
    idp.set_discovery(ISSUER, &idp::entra_jwks_uri());
    idp
}

/// Runs the shared decisions through rolegate as `istiod` renders the Istio `manifest`.
fn through_istiod(manifest: &Value, istiod: Istiod, what: &str) {
    let config = with_test_tenant(&istio::wasm_spec(manifest).unwrap()["pluginConfig"]);
    let clusters = key_clusters(&config);
    assert_eq!(
        clusters,
        ["outbound|443||login.microsoftonline.com"],
        "{what}: the cluster of the ServiceEntry beside it"
    );
    let wasm = workspace::wasm_module().unwrap_or_else(|e| panic!("{e}"));
    let rendered = istio::render(manifest, &config, &wasm, istiod).unwrap();
    let s = Stack::start_with(entra_idp(), |p| {
        let mut b = istio::bootstrap_serving(p, &rendered);
        let keys = clusters
            .iter()
            .map(|c| bootstrap::static_cluster(c, p.idp_port));
        add_clusters(&mut b, keys.collect());
        b
    });
    assert_eq!(
        s.envoy.counter(&format!(
            "extension_config_discovery.http_filter.{}.update_success",
            rendered.resource_name
        )),
        1,
        "{what}: the filter config came over ECDS as {}",
        rendered.resource_name
    );
    istio::assert_same_decisions(&s, what);
}

#[test]
fn the_wasm_plugin_as_istiod_renders_it() {
    let plugin = manifest("envoy/istio/wasmplugin.yaml", "WasmPlugin");
    through_istiod(
        &plugin,
        Istiod::Before1_30,
        "WasmPlugin, Istio 1.28 and 1.29",
    );
    through_istiod(&plugin, Istiod::Since1_30, "WasmPlugin, Istio 1.30 on");
}

#[test]
fn the_traffic_extension_as_istiod_renders_it() {
    let extension = manifest("envoy/istio/trafficextension.yaml", "TrafficExtension");
    through_istiod(&extension, Istiod::Since1_30, "TrafficExtension");
    assert!(istio::render(&extension, &json!({}), Path::new("x"), Istiod::Before1_30).is_err());
}

#[test]
fn the_istio_manifests_filter_inbound_traffic_only() {
    for (file, kind) in [
        ("envoy/istio/wasmplugin.yaml", "WasmPlugin"),
        ("envoy/istio/trafficextension.yaml", "TrafficExtension"),
    ] {
        let m = manifest(file, kind);
        assert!(istio::applies_to(&m, "SERVER"), "{file}: inbound");
        assert!(
            !istio::applies_to(&m, "CLIENT"),
            "{file}: the sidecar's outbound listeners must not run rolegate, or every call \
             the workload makes needs a rule"
        );
        let mut without = m.clone();
        without["spec"].as_object_mut().unwrap().remove("match");
        assert!(istio::applies_to(&without, "CLIENT"), "no match: both ways");
    }
}

/// The clusters the shipped EnvoyProxy's bootstrap adds, as written.
fn envoy_proxy_clusters() -> Vec<Value> {
    let proxy = manifest(
        "envoy/envoy-gateway/envoyextensionpolicy.yaml",
        "EnvoyProxy",
    );
    let value = proxy["spec"]["bootstrap"]["value"]
        .as_str()
        .expect("bootstrap value");
    let docs: Vec<Value> = serde_norway::Deserializer::from_str(value)
        .map(|d| Value::deserialize(d).unwrap())
        .collect();
    docs[0]["static_resources"]["clusters"]
        .as_array()
        .expect("clusters")
        .clone()
}

#[test]
fn the_envoy_extension_policy_as_envoy_gateway_renders_it() {
    let file = "envoy/envoy-gateway/envoyextensionpolicy.yaml";
    let policy = manifest(file, "EnvoyExtensionPolicy");
    let config = with_test_tenant(&policy["spec"]["wasm"][0]["config"]);
    let clusters = key_clusters(&config);
    let added: Vec<String> = envoy_proxy_clusters()
        .iter()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    assert!(
        !clusters.is_empty() && clusters.iter().all(|c| added.contains(c)),
        "the EnvoyProxy adds the key-set clusters {clusters:?}: it adds {added:?}"
    );
    let module = ModuleServer::start(&workspace::wasm_module().unwrap_or_else(|e| panic!("{e}")));
    let s = Stack::start_with(entra_idp(), |p| {
        let keys = clusters
            .iter()
            .map(|c| bootstrap::static_cluster(c, p.idp_port))
            .collect();
        envoy_gateway::bootstrap(p, &policy, &config, &module, keys).unwrap()
    });
    let what = "EnvoyExtensionPolicy, fetched from Envoy Gateway's module server";
    assert!(
        s.envoy.counter("cluster.wasm_cluster.upstream_rq_200") >= 1,
        "{what}: Envoy fetched the module"
    );
    istio::assert_same_decisions(&s, what);
}

#[test]
fn what_the_envoy_proxy_adds_to_the_bootstrap_validates() {
    let validate = |clusters: Vec<Value>| {
        let b = json!({
            "admin": {"address": bootstrap::socket(0)},
            "static_resources": {"clusters": clusters},
        });
        envoy::validate_bootstrap(&Bootstrap::Json(b)).unwrap_or_else(|e| panic!("{e}"))
    };
    let shipped = envoy_proxy_clusters();
    let v = validate(shipped.clone());
    assert!(
        v.ok,
        "envoy --mode validate rejected the EnvoyProxy's clusters:\n{}",
        v.output
    );
    let mut broken = shipped;
    broken[0]["transport_socket"]["typed_config"]["sni"] = json!(["not", "a", "string"]);
    let v = validate(broken);
    assert!(!v.ok, "a broken cluster must not validate:\n{}", v.output);
}
