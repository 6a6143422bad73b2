//! The wasm filter as Envoy Gateway renders an `EnvoyExtensionPolicy` for its Envoys.
//!
//! Envoy Gateway (`internal/gatewayapi/envoyextensionpolicy.go`,
//! `internal/xds/translator/wasm.go`) pulls the module itself (an OCI image or an HTTP URL),
//! keeps it in its cache and serves it from its own HTTP server. For the policy's
//! `wasm[<index>]` the listener's HTTP connection manager gets a filter named
//! `envoy.filters.http.wasm/envoyextensionpolicy/<namespace>/<policy>/wasm/<index>`,
//! **disabled**, and each targeted route enables it with a `typed_per_filter_config` entry of
//! that name (an `envoy.config.route.v3.FilterConfig` with an empty `config`). Its
//! `PluginConfig` has
//! * `name`: `wasm[].name`, or the generated name above;
//! * `root_id`: `wasm[].rootID`, only when set;
//! * `vm_config`: `vm_id` = `envoyextensionpolicy/<namespace>/<policy>/wasm/<index>` (a VM per
//!   filter), `runtime: envoy.wasm.runtime.v8`, the code as a `remote` data source: Envoy
//!   Gateway's serving URL on the cluster `wasm_cluster`, with the module's sha256 and a retry
//!   policy of 10 retries backing off from 1 s to 30 s; `env.hostKeys` as `host_env_keys`;
//! * `configuration`: `wasm[].config` as JSON in a `google.protobuf.StringValue`;
//! * `fail_open`: `wasm[].failOpen` (false unless set).
//!
//! Its route configurations set `ignore_port_in_host_matching: true`; its connection managers
//! normalize paths (`normalize_path`, `merge_slashes`, escaped slashes unescaped and
//! redirected) and reject header names with underscores. Here Envoy Gateway's HTTP server is a
//! local one serving the module over plain HTTP.

use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::bootstrap::{self, PathHandling, Site, LISTENER};
use crate::http::{Handler, Limits, Outcome, Request, Response, Server};
use crate::stack::Parts;

/// The cluster of Envoy Gateway's module server.
pub const WASM_CLUSTER: &str = "wasm_cluster";

/// Serves a module as Envoy Gateway's HTTP server does: at `/<sha256>.wasm`.
pub struct ModuleServer {
    server: Server,
    sha256: String,
}

impl ModuleServer {
    /// Starts on a free port of 127.0.0.1, serving the module at `wasm`; panics when it cannot.
    pub fn start(wasm: &Path) -> ModuleServer {
        let bytes = std::fs::read(wasm)
            .unwrap_or_else(|e| panic!("read the module {}: {e}", wasm.display()));
        let sha256: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = format!("/{sha256}.wasm");
        let bytes = Arc::new(bytes);
        let handler: Handler = Arc::new(move |req: &Request| {
            Outcome::Reply(if req.path() == path {
                Response::new(200, "application/wasm", bytes.as_slice())
            } else {
                Response::text(404, "no such module")
            })
        });
        ModuleServer {
            server: Server::on_localhost("wasm", Limits::FORWARDED, handler),
            sha256,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.port()
    }

    /// The module's sha256, as Envoy Gateway gives it to Envoy.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The URL Envoy fetches the module from.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/{}.wasm", self.port(), self.sha256)
    }

    /// The cluster [`WASM_CLUSTER`] pointing at this server.
    pub fn cluster(&self) -> Value {
        bootstrap::static_cluster(WASM_CLUSTER, self.port())
    }
}

/// `<namespace>/<policy>`'s name for `wasm[index]`: `envoyextensionpolicy/<namespace>/<policy>/wasm/<index>`.
pub fn ir_name(policy: &Value, index: usize) -> Result<String, String> {
    let text = |pointer: &str| policy.pointer(pointer).and_then(Value::as_str);
    if text("/kind") != Some("EnvoyExtensionPolicy") {
        return Err(format!("not an EnvoyExtensionPolicy: {:?}", text("/kind")));
    }
    let namespace = text("/metadata/namespace").unwrap_or("default");
    let name = text("/metadata/name").ok_or("metadata.name is missing")?;
    Ok(format!(
        "envoyextensionpolicy/{namespace}/{name}/wasm/{index}"
    ))
}

/// The name of the connection manager's filter for `wasm[index]`, which routes enable.
pub fn filter_name(policy: &Value, index: usize) -> Result<String, String> {
    Ok(format!(
        "envoy.filters.http.wasm/{}",
        ir_name(policy, index)?
    ))
}

/// The disabled HTTP filter Envoy Gateway adds for `wasm[index]` of `policy`, with `config` as
/// the plugin's configuration (`wasm[index].config`, or that with the test tenant's values) and
/// the module served by `module`.
pub fn wasm_filter(
    policy: &Value,
    index: usize,
    config: &Value,
    module: &ModuleServer,
) -> Result<Value, String> {
    let wasm = policy
        .pointer(&format!("/spec/wasm/{index}"))
        .ok_or_else(|| format!("the policy has no wasm[{index}]"))?;
    let ir_name = ir_name(policy, index)?;
    let plugin_name = wasm.get("name").and_then(Value::as_str).unwrap_or(&ir_name);
    let mut vm_config = json!({
        "vm_id": ir_name,
        "runtime": "envoy.wasm.runtime.v8",
        "code": { "remote": {
            "http_uri": { "uri": module.url(), "cluster": WASM_CLUSTER, "timeout": "10s" },
            "sha256": module.sha256(),
            "retry_policy": {
                "num_retries": 10,
                "retry_back_off": { "base_interval": "1s", "max_interval": "30s" }
            }
        }}
    });
    if let Some(keys) = wasm.pointer("/env/hostKeys") {
        if let Some(object) = vm_config.as_object_mut() {
            object.insert(
                "environment_variables".into(),
                json!({ "host_env_keys": keys }),
            );
        }
    }
    let mut plugin = json!({
        "name": plugin_name,
        "vm_config": vm_config,
        "configuration": {
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": config.to_string(),
        },
        "fail_open": wasm.get("failOpen").and_then(Value::as_bool).unwrap_or(false),
    });
    if let Some(root_id) = wasm.get("rootID").and_then(Value::as_str) {
        if let Some(object) = plugin.as_object_mut() {
            object.insert("root_id".into(), json!(root_id));
        }
    }
    Ok(json!({
        "name": filter_name(policy, index)?,
        "disabled": true,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": plugin
        }
    }))
}

/// A bootstrap with one listener as Envoy Gateway configures a Gateway's (paths normalized and
/// redirected, underscores rejected, ports ignored in host matching) whose one route to the
/// cluster `upstream` is targeted by `wasm[0]` of `policy`, configured with `config`; its
/// clusters are `upstream`, [`WASM_CLUSTER`] and `extra_clusters` (what the EnvoyProxy's
/// bootstrap adds).
pub fn bootstrap(
    parts: &Parts<'_>,
    policy: &Value,
    config: &Value,
    module: &ModuleServer,
    extra_clusters: Vec<Value>,
) -> Result<Value, String> {
    let filter = wasm_filter(policy, 0, config, module)?;
    let mut clusters = vec![
        bootstrap::static_cluster("upstream", parts.upstream_port),
        module.cluster(),
    ];
    clusters.extend(extra_clusters);
    let mut b = bootstrap::bootstrap(Site {
        listener: LISTENER,
        stat_prefix: "http-10080",
        path_handling: PathHandling::NormalizedAndRedirected,
        http_filters: vec![filter],
        route_to: "upstream",
        clusters,
        access_log: parts.access_log,
    });
    let name = filter_name(policy, 0)?;
    let hcm = bootstrap::connection_manager(&mut b);
    hcm.insert(
        "common_http_protocol_options".into(),
        json!({ "headers_with_underscores_action": "REJECT_REQUEST" }),
    );
    let route_config = hcm
        .get_mut("route_config")
        .and_then(Value::as_object_mut)
        .ok_or("no route_config")?;
    route_config.insert("ignore_port_in_host_matching".into(), json!(true));
    let route = route_config
        .get_mut("virtual_hosts")
        .and_then(|v| v.pointer_mut("/0/routes/0"))
        .and_then(Value::as_object_mut)
        .ok_or("no route")?;
    route.insert(
        "typed_per_filter_config".into(),
        json!({ name: {
            "@type": "type.googleapis.com/envoy.config.route.v3.FilterConfig",
            "config": {}
        }}),
    );
    Ok(b)
}
