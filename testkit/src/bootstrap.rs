//! Envoy bootstraps as JSON: admin and one listener on 127.0.0.1 port 0 (Envoy picks the ports
//! and [`crate::envoy::Envoy`] reads them back), an HTTP connection manager running the given
//! filters then the router, every path routed to one cluster, and static clusters on 127.0.0.1.

use std::path::Path;

use serde_json::{json, Map, Value};

/// The listener's name in [`standard`], by which its port is found.
pub const LISTENER: &str = "main";

/// `127.0.0.1:port` as an Envoy address.
pub fn socket(port: u16) -> Value {
    json!({ "socket_address": { "address": "127.0.0.1", "port_value": port } })
}

/// A STATIC cluster `name` with the one endpoint 127.0.0.1:`port` (plain HTTP/1.1).
pub fn static_cluster(name: &str, port: u16) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": socket(port) } }] }]
        }
    })
}

/// The `envoy.filters.http.wasm` filter running rolegate from `wasm` with the configuration
/// text `plugin_config`, failing closed.
pub fn wasm_filter(plugin_config: &str, wasm: &Path) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "rolegate",
                "root_id": "rolegate",
                // A filter that cannot start must not let requests through.
                "fail_open": false,
                "vm_config": {
                    "vm_id": "rolegate",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": { "local": { "filename": wasm.display().to_string() } }
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": plugin_config
                }
            }
        }
    })
}

/// What the HTTP connection manager does to `:path` before the filters see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathHandling {
    /// Envoy's defaults: the path reaches the filters as the client wrote it.
    Raw,
    /// `normalize_path` and `merge_slashes` (Istio's MERGE_SLASHES).
    Normalized,
    /// Also `path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`: Istio's
    /// DECODE_AND_MERGE_SLASHES.
    NormalizedAndUnescaped,
    /// Also `path_with_escaped_slashes_action: UNESCAPE_AND_REDIRECT`, as the README advises.
    NormalizedAndRedirected,
}

/// One listener's site: what [`bootstrap`] builds.
pub struct Site<'a> {
    pub listener: &'a str,
    /// Prefix of the connection manager's stats.
    pub stat_prefix: &'a str,
    pub path_handling: PathHandling,
    /// Run before the router, in order.
    pub http_filters: Vec<Value>,
    /// The cluster every path is routed to.
    pub route_to: &'a str,
    pub clusters: Vec<Value>,
    pub access_log: &'a Path,
}

/// The bootstrap of `site`.
pub fn bootstrap(site: Site<'_>) -> Value {
    let mut filters = site.http_filters;
    filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    }));
    let mut bootstrap = json!({
        "admin": { "address": socket(0) },
        "static_resources": {
            "listeners": [{
                "name": site.listener,
                "address": socket(0),
                "filter_chains": [{ "filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": site.stat_prefix,
                        "access_log": [{
                            "name": "envoy.access_loggers.file",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                                "path": site.access_log.display().to_string()
                            }
                        }],
                        "route_config": {
                            "name": "local",
                            "virtual_hosts": [{
                                "name": "all",
                                "domains": ["*"],
                                "routes": [{ "match": { "prefix": "/" }, "route": { "cluster": site.route_to } }]
                            }]
                        },
                        "http_filters": filters
                    }
                }]}]
            }],
            "clusters": site.clusters
        }
    });
    set_path_handling(&mut bootstrap, site.path_handling);
    bootstrap
}

/// The tests' bootstrap: listener [`LISTENER`] with normalized paths, `http_filters`, every
/// path to cluster `upstream`; static clusters `upstream` and `idp`.
pub fn standard(
    http_filters: Vec<Value>,
    idp_port: u16,
    upstream_port: u16,
    access_log: &Path,
) -> Value {
    bootstrap(Site {
        listener: LISTENER,
        stat_prefix: "ingress",
        path_handling: PathHandling::Normalized,
        http_filters,
        route_to: "upstream",
        clusters: vec![
            static_cluster("upstream", upstream_port),
            static_cluster("idp", idp_port),
        ],
        access_log,
    })
}

const CONNECTION_MANAGER: &str =
    "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config";

/// The listener's connection manager (its `typed_config`) in a bootstrap made by [`bootstrap`].
pub fn connection_manager(bootstrap: &mut Value) -> &mut Map<String, Value> {
    let text = bootstrap.to_string();
    match bootstrap.pointer_mut(CONNECTION_MANAGER) {
        Some(Value::Object(hcm)) => hcm,
        _ => panic!("bootstrap has no connection manager at {CONNECTION_MANAGER}: {text}"),
    }
}

/// Sets the path handling of the listener's connection manager in a bootstrap made by
/// [`bootstrap`].
pub fn set_path_handling(bootstrap: &mut Value, handling: PathHandling) {
    let hcm = connection_manager(bootstrap);
    for field in [
        "normalize_path",
        "merge_slashes",
        "path_with_escaped_slashes_action",
    ] {
        hcm.remove(field);
    }
    if handling != PathHandling::Raw {
        hcm.insert("normalize_path".into(), json!(true));
        hcm.insert("merge_slashes".into(), json!(true));
    }
    let escaped_slashes = match handling {
        PathHandling::NormalizedAndUnescaped => "UNESCAPE_AND_FORWARD",
        PathHandling::NormalizedAndRedirected => "UNESCAPE_AND_REDIRECT",
        PathHandling::Raw | PathHandling::Normalized => return,
    };
    hcm.insert(
        "path_with_escaped_slashes_action".into(),
        json!(escaped_slashes),
    );
}

/// Appends `clusters` to `static_resources.clusters` of a bootstrap made by [`bootstrap`].
pub fn add_clusters(bootstrap: &mut Value, clusters: Vec<Value>) {
    match bootstrap
        .pointer_mut("/static_resources/clusters")
        .and_then(Value::as_array_mut)
    {
        Some(list) => list.extend(clusters),
        None => panic!("bootstrap has no static_resources.clusters array: {bootstrap}"),
    }
}

/// The access-log format of rolegate's decisions: the path, the status, the response code
/// details and the decision record rolegate leaves in the filter state.
pub const DECISION_LOG_FORMAT: &str =
    "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% %FILTER_STATE(wasm.rolegate:PLAIN)%\n";

/// Gives the access log of a bootstrap made by [`bootstrap`] the text `format` (end it with
/// a newline).
pub fn set_access_log_format(bootstrap: &mut Value, format: &str) {
    let pointer = format!("{CONNECTION_MANAGER}/access_log/0/typed_config");
    let Some(Value::Object(log)) = bootstrap.pointer_mut(&pointer) else {
        panic!("bootstrap has no access log at {pointer}: {bootstrap}");
    };
    log.insert(
        "log_format".into(),
        json!({"text_format_source": {"inline_string": format}}),
    );
}
