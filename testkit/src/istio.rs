//! The wasm filter as istiod renders an Istio `WasmPlugin` or `TrafficExtension` for a sidecar.
//!
//! istiod (`pilot/pkg/model/extensions.go`, `pilot/pkg/networking/core/extension/`) does not
//! put the plugin into the listener. The HTTP connection manager gets a filter with only a name
//! and a `config_discovery` (ECDS) source listing the type URLs of the Wasm and RBAC filters,
//! and the proxy blocks until the config arrives. The filter and its ECDS resource are named
//! `extensions.istio.io/wasmplugin/<namespace>.<name>` for a WasmPlugin before Istio 1.30, and
//! `extensions.istio.io/trafficextension/<namespace>.<name>` for a TrafficExtension; from 1.30
//! on istiod translates every WasmPlugin into a TrafficExtension named
//! `<name>~istio-translated-wasmplugin`. The extension config it serves is an
//! `envoy.extensions.filters.http.wasm.v3.Wasm` whose `PluginConfig` has
//! * `name: "<namespace>.<name>"`;
//! * `root_id`: the `pluginName`, usually not set, so empty;
//! * `vm_config`: `runtime: envoy.wasm.runtime.v8`, the code (the agent rewrites the OCI
//!   URL to a local file), the `vmConfig.env` variables, and no `vm_id` (the agent strips the
//!   `ISTIO_META_` variables istiod adds for it before Envoy sees them);
//! * `configuration`: a `google.protobuf.StringValue` with `pluginConfig` as JSON;
//! * fail closed: `fail_open: false` before Istio 1.25, `failure_policy: FAIL_CLOSED` since.
//!
//! Here ECDS comes from a file (`path_config_source`) instead of istiod's ADS stream.

use std::path::Path;

use serde_json::{json, Value};

use crate::answers::{self, Want};
use crate::bootstrap;
use crate::entra::{CLIENT_ID, ROLE};
use crate::stack::{Parts, Stack};
use crate::test_keys::token;

/// Type URL of the Wasm HTTP filter.
pub const WASM_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
/// Type URL of the RBAC HTTP filter (istiod lists it for the deny-all fallback).
pub const RBAC_FILTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC";

/// How istiod says "fail closed".
#[derive(Clone, Copy, Debug)]
pub enum FailClosed {
    /// Istio before 1.25: `fail_open: false`.
    FailOpenFalse,
    /// Istio 1.25 and later: `failure_policy: FAIL_CLOSED`.
    FailurePolicy,
}

/// The `envoy.config.core.v3.TypedExtensionConfig` istiod serves for a WasmPlugin
/// `namespace/name` with `pluginConfig` = `plugin_config`.
pub fn extension_config(
    resource_name: &str,
    plugin_config: &Value,
    wasm: &Path,
    fail: FailClosed,
) -> Value {
    let mut config = json!({
        "name": resource_name,
        "configuration": {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": plugin_config.to_string(),
        },
        "vm_config": {
            "runtime": "envoy.wasm.runtime.v8",
            "code": { "local": { "filename": wasm.display().to_string() } }
        }
    });
    let (field, value) = match fail {
        FailClosed::FailOpenFalse => ("fail_open", json!(false)),
        FailClosed::FailurePolicy => ("failure_policy", json!("FAIL_CLOSED")),
    };
    if let Some(obj) = config.as_object_mut() {
        obj.insert(field.to_string(), value);
    }
    json!({
        "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
        "name": resource_name,
        "typed_config": { "@type": WASM_FILTER_TYPE, "config": config }
    })
}

/// The HTTP filter entry istiod puts in the connection manager: only a name and an
/// ECDS source (here the file `ecds_file`), blocking until the config is there.
pub fn ecds_filter(resource_name: &str, ecds_file: &Path) -> Value {
    json!({
        "name": resource_name,
        "config_discovery": {
            "config_source": {
                "path_config_source": { "path": ecds_file.display().to_string() },
                "resource_api_version": "V3",
                "initial_fetch_timeout": "0s"
            },
            "type_urls": [WASM_FILTER_TYPE, RBAC_FILTER_TYPE]
        }
    })
}

/// A bootstrap like the harness's standard one, but with rolegate delivered as an Istio
/// WasmPlugin `resource_name` over ECDS (written to `<dir>/ecds.json`) and an Istio-style
/// node identity (ECDS needs one).
pub fn bootstrap(
    parts: &Parts<'_>,
    resource_name: &str,
    plugin_config: &Value,
    fail: FailClosed,
) -> Value {
    let config = extension_config(resource_name, plugin_config, parts.wasm, fail);
    bootstrap_serving(
        parts,
        &Rendered {
            resource_name: resource_name.to_string(),
            extension_config: config,
        },
    )
}

/// The harness's standard bootstrap with `rendered` served over ECDS (from `<dir>/ecds.json`)
/// to the filter istiod puts in the connection manager, and a sidecar's node identity.
pub fn bootstrap_serving(parts: &Parts<'_>, rendered: &Rendered) -> Value {
    let ecds_file = parts.dir.join("ecds.json");
    let response = json!({
        "version_info": "1",
        "resources": [rendered.extension_config],
    });
    std::fs::write(&ecds_file, response.to_string())
        .unwrap_or_else(|e| panic!("write {}: {e}", ecds_file.display()));
    let mut bootstrap = bootstrap::standard(
        vec![ecds_filter(&rendered.resource_name, &ecds_file)],
        parts.idp_port,
        parts.upstream_port,
        parts.access_log,
    );
    if let Some(obj) = bootstrap.as_object_mut() {
        obj.insert(
            "node".to_string(),
            json!({
                "id": "sidecar~127.0.0.1~calc-7d4b9c8f6-x2x9z.calc~calc.svc.cluster.local",
                "cluster": "calc.calc",
            }),
        );
    }
    bootstrap
}

/// Which istiod renders a manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Istiod {
    /// 1.28 and 1.29: a WasmPlugin as itself (no TrafficExtension yet).
    Before1_30,
    /// 1.30 and later: a TrafficExtension, and a WasmPlugin translated into one.
    Since1_30,
}

/// What istiod serves for one manifest: the name of the connection manager's ECDS filter and
/// of the resource, and the `TypedExtensionConfig`.
#[derive(Clone, Debug)]
pub struct Rendered {
    pub resource_name: String,
    pub extension_config: Value,
}

/// The spec holding a manifest's Wasm settings (`spec` of a WasmPlugin, `spec.wasm` of a
/// TrafficExtension) and its `pluginConfig`.
pub fn wasm_spec(manifest: &Value) -> Result<&Value, String> {
    let kind = manifest.pointer("/kind").and_then(Value::as_str);
    let spec = match kind {
        Some("WasmPlugin") => manifest.pointer("/spec"),
        Some("TrafficExtension") => manifest.pointer("/spec/wasm"),
        other => return Err(format!("not a WasmPlugin or TrafficExtension: {other:?}")),
    };
    spec.ok_or_else(|| format!("{kind:?} without its Wasm spec"))
}

/// Renders a WasmPlugin or TrafficExtension `manifest` (its YAML as a JSON value) the way
/// `istiod` serves it to a sidecar, with `plugin_config` as the plugin's configuration (the
/// manifest's `pluginConfig`, or that with the test tenant's values) and the module at `wasm`
/// (where the agent puts the image it pulled).
pub fn render(
    manifest: &Value,
    plugin_config: &Value,
    wasm: &Path,
    istiod: Istiod,
) -> Result<Rendered, String> {
    let text = |pointer: &str| manifest.pointer(pointer).and_then(Value::as_str);
    let kind = text("/kind").unwrap_or("");
    let namespace = text("/metadata/namespace").unwrap_or("default");
    let mut name = text("/metadata/name")
        .ok_or("metadata.name is missing")?
        .to_string();
    let prefix = match (kind, istiod) {
        ("WasmPlugin", Istiod::Before1_30) => "extensions.istio.io/wasmplugin/",
        ("WasmPlugin", Istiod::Since1_30) => {
            name.push_str("~istio-translated-wasmplugin");
            "extensions.istio.io/trafficextension/"
        }
        ("TrafficExtension", Istiod::Since1_30) => "extensions.istio.io/trafficextension/",
        ("TrafficExtension", Istiod::Before1_30) => {
            return Err("TrafficExtension needs Istio 1.30 or later".to_string())
        }
        _ => return Err(format!("not a WasmPlugin or TrafficExtension: {kind}")),
    };
    let spec = wasm_spec(manifest)?;
    let plugin_name = format!("{namespace}.{name}");
    let resource_name = format!("{prefix}{plugin_name}");
    let failure_policy = match spec.pointer("/failStrategy").and_then(Value::as_str) {
        Some("FAIL_OPEN") => "FAIL_OPEN",
        Some("FAIL_RELOAD") => "FAIL_RELOAD",
        _ => "FAIL_CLOSED",
    };
    let mut vm_config = json!({
        "runtime": "envoy.wasm.runtime.v8",
        "code": { "local": { "filename": wasm.display().to_string() } },
    });
    let env = spec
        .pointer("/vmConfig/env")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    if !env.is_empty() {
        let mut inline = serde_json::Map::new();
        let mut host = Vec::new();
        for e in env {
            let var = e.get("name").and_then(Value::as_str).unwrap_or("");
            match e.get("valueFrom").and_then(Value::as_str) {
                Some("HOST") => host.push(json!(var)),
                _ => drop(inline.insert(
                    var.to_string(),
                    e.get("value").cloned().unwrap_or(json!("")),
                )),
            }
        }
        if let Some(object) = vm_config.as_object_mut() {
            object.insert(
                "environment_variables".into(),
                json!({"key_values": inline, "host_env_keys": host}),
            );
        }
    }
    let mut config = json!({
        "name": plugin_name,
        "configuration": {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": plugin_config.to_string(),
        },
        "vm_config": vm_config,
        "failure_policy": failure_policy,
    });
    if let Some(root_id) = spec.pointer("/pluginName").and_then(Value::as_str) {
        if let Some(object) = config.as_object_mut() {
            object.insert("root_id".into(), json!(root_id));
        }
    }
    Ok(Rendered {
        extension_config: json!({
            "@type": "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig",
            "name": resource_name,
            "typed_config": { "@type": WASM_FILTER_TYPE, "config": config }
        }),
        resource_name,
    })
}

/// Whether istiod puts the filter of `manifest` on the sidecar's inbound listeners (`SERVER`)
/// or outbound ones (`CLIENT`): with no `match`, on both; else when a selector's `mode` is
/// that one, `CLIENT_AND_SERVER` or unset.
pub fn applies_to(manifest: &Value, mode: &str) -> bool {
    let selectors = manifest
        .pointer("/spec/match")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    selectors.is_empty()
        || selectors
            .iter()
            .any(|s| match s.get("mode").and_then(Value::as_str) {
                None | Some("UNDEFINED") | Some("CLIENT_AND_SERVER") => true,
                Some(m) => m == mode,
            })
}

/// The host the shared decision checks send without a token; the challenge names it.
pub const HOST: &str = "calc.calc.svc.cluster.local";

/// The decisions rolegate must make however a control plane delivered it, for a plugin
/// configured like the shipped examples (`/healthz` anonymous, `/calc` needing [`ROLE`], `azp`
/// copied to `x-client-id`) with keys from the stack's IdP: a token with the role passes with
/// the claim header set and the token removed, no token gets 401 naming [`HOST`], a token
/// without the role 403, `/healthz` passes anonymously, a path no rule matches 403, only the
/// two allowed requests reach the upstream, and the key set was fetched once.
pub fn assert_same_decisions(s: &Stack, what: &str) {
    answers::upstream_saw(
        &s.get_with_token("/calc/add", &token(&[ROLE])),
        &format!("{what}: token with the role"),
        &[("x-client-id", Some(CLIENT_ID)), ("authorization", None)],
    );
    answers::missing_credentials(
        &s.envoy.get("/calc/add", &[("host", HOST)]),
        HOST,
        &format!("{what}: no token"),
    );
    s.expect(
        "/calc/add",
        &token(&["reader"]),
        Want::Scope,
        &format!("{what}: role missing"),
    );
    answers::upstream_ok(&s.envoy.get("/healthz", &[]), &format!("{what}: anonymous"));
    s.expect(
        "/admin",
        &token(&[ROLE]),
        Want::NoRule,
        &format!("{what}: no rule"),
    );
    assert_eq!(
        s.up.count(),
        2,
        "{what}: only the allowed requests reach the upstream"
    );
    assert_eq!(
        s.idp.jwks_requests(),
        1,
        "{what}: one key-set fetch:\n{}",
        s.idp.describe_requests()
    );
}
