//! The wasm filter as istiod renders an Istio `WasmPlugin` for a sidecar.
//!
//! istiod (`pilot/pkg/model/extensions.go`, `networking/core/extension/wasmplugin.go`)
//! does not put the plugin into the listener. The HTTP connection manager gets a filter
//! named `<namespace>.<name>` with a `config_discovery` (ECDS) source and the type URLs
//! of the Wasm and RBAC filters, and the proxy blocks until the config arrives. The
//! extension config it serves is an `envoy.extensions.filters.http.wasm.v3.Wasm` whose
//! `PluginConfig` has
//! * `name: "<namespace>.<name>"`;
//! * `root_id`: the WasmPlugin's `pluginName`, usually not set, so empty;
//! * `vm_config`: `runtime: envoy.wasm.runtime.v8`, the code (the agent rewrites the OCI
//!   URL to a local file), environment variables, and no `vm_id`;
//! * `configuration`: a `google.protobuf.StringValue` with `pluginConfig` as JSON;
//! * fail closed: `fail_open: false` before Istio 1.25, `failure_policy: FAIL_CLOSED` since.
//!
//! Here ECDS comes from a file (`path_config_source`) instead of istiod's ADS stream.

use std::path::Path;

use serde_json::{json, Value};

use crate::bootstrap;
use crate::stack::Parts;

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
            "code": { "local": { "filename": wasm.display().to_string() } },
            "environment_variables": {
                "key_values": { "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION": "1" }
            }
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
    let ecds_file = parts.dir.join("ecds.json");
    let response = json!({
        "version_info": "1",
        "resources": [extension_config(resource_name, plugin_config, parts.wasm, fail)],
    });
    std::fs::write(&ecds_file, response.to_string())
        .unwrap_or_else(|e| panic!("write {}: {e}", ecds_file.display()));
    let mut bootstrap = bootstrap::standard(
        vec![ecds_filter(resource_name, &ecds_file)],
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
