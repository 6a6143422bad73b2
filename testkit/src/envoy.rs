//! One Envoy process: started on a bootstrap in a directory of its own, waited for until it is
//! ready, read through its admin interface (stats) and log files, and stopped when dropped.
//!
//! The directory holds the bootstrap (`envoy.json` or `envoy.yaml`), Envoy's log
//! (`envoy.log`), its stdout and stderr, and whatever the bootstrap writes there (an access
//! log). Ports: admin and listener are bound by Envoy itself on `127.0.0.1:0` and read back
//! (`--admin-address-path`, admin `/listeners`), so no port can be taken in between. Envoy runs
//! with `--disable-hot-restart`: no shared-memory segment and no hot-restart socket, so
//! instances cannot collide on a base id and nothing is left in /dev/shm after a kill.

use std::fmt;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bootstrap::LISTENER;
use crate::http::{self, Response};
use crate::stack::eventually;
use crate::workspace;

/// Lines of the log quoted in failure messages.
pub const LOG_TAIL_LINES: usize = 60;
/// A notable log line is cut to this many characters.
const NOTABLE_LINE_CHARS: usize = 400;

/// The configuration Envoy starts on.
pub enum Bootstrap {
    Json(Value),
    Yaml(String),
}

/// How to start Envoy: [`Launch::new`], the settings that differ from the defaults, then
/// [`Launch::start`].
pub struct Launch {
    binary: PathBuf,
    dir: PathBuf,
    scratch: bool,
    concurrency: u32,
    wasm_debug_log: bool,
    listener: String,
    startup_timeout: Duration,
    interrupted: Option<fn() -> bool>,
}

impl Launch {
    /// Envoy `binary` in `dir` (created if missing, left in place afterwards): 2 workers,
    /// listener [`LISTENER`], 30 s to become ready.
    pub fn new(binary: &Path, dir: &Path) -> Launch {
        Launch {
            binary: binary.to_path_buf(),
            dir: dir.to_path_buf(),
            scratch: false,
            concurrency: 2,
            wasm_debug_log: false,
            listener: LISTENER.to_string(),
            startup_timeout: Duration::from_secs(30),
            interrupted: None,
        }
    }

    /// The workspace's Envoy in a fresh directory under `target/tmp/`, removed when the
    /// [`Envoy`] is dropped unless the thread is panicking (a failing test): then its path
    /// and the tail of its log are printed. 20 s to become ready, plugin logs at debug level.
    pub fn scratch() -> Result<Launch, String> {
        let binary = workspace::envoy_binary()?;
        let base = workspace::target_dir("tmp");
        fs::create_dir_all(&base).map_err(|e| format!("create {}: {e}", base.display()))?;
        let dir = tempfile::Builder::new()
            .prefix("rolegate-envoy-")
            .tempdir_in(&base)
            .map_err(|e| format!("create a directory in {}: {e}", base.display()))?
            .keep();
        let mut launch = Launch::new(&binary, &dir).wasm_debug_log();
        launch.scratch = true;
        launch.startup_timeout = Duration::from_secs(20);
        Ok(launch)
    }

    pub fn concurrency(mut self, workers: u32) -> Launch {
        self.concurrency = workers;
        self
    }

    /// The plugin's log lines at debug level (`wasm:debug`), and the log written out every
    /// 100 ms instead of every 10 s, since it is read while Envoy runs.
    pub fn wasm_debug_log(mut self) -> Launch {
        self.wasm_debug_log = true;
        self
    }

    /// The name of the listener whose port [`Envoy::port`] is.
    pub fn listener(mut self, name: &str) -> Launch {
        self.listener = name.to_string();
        self
    }

    /// Stops waiting for Envoy once `interrupted()` says so.
    pub fn until(mut self, interrupted: fn() -> bool) -> Launch {
        self.interrupted = Some(interrupted);
        self
    }

    /// The directory Envoy runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bootstrap` into the directory, starts Envoy and waits until the admin interface
    /// says LIVE and the listener accepts connections.
    pub fn start(self, bootstrap: &Bootstrap) -> Result<Envoy, StartError> {
        let mut envoy = self.spawn(bootstrap).map_err(|e| StartError {
            failure: StartFailure::Spawn(e),
            dir: self.dir.clone(),
            log: String::new(),
        })?;
        let failure = match self.wait(&envoy) {
            Ok((admin_port, port)) => {
                envoy.admin_port = admin_port;
                envoy.port = port;
                return Ok(envoy);
            }
            Err(failure) => failure,
        };
        envoy.stop();
        // The files are what the error reports: keep them.
        envoy.scratch = false;
        Err(StartError {
            failure,
            dir: self.dir.clone(),
            log: envoy.log(),
        })
    }

    fn spawn(&self, bootstrap: &Bootstrap) -> Result<Envoy, String> {
        let dir = &self.dir;
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let (file, text) = match bootstrap {
            Bootstrap::Json(value) => (
                "envoy.json",
                serde_json::to_string_pretty(value).map_err(|e| e.to_string())?,
            ),
            Bootstrap::Yaml(text) => ("envoy.yaml", text.clone()),
        };
        let config = dir.join(file);
        fs::write(&config, text).map_err(|e| format!("cannot write {}: {e}", config.display()))?;
        let output = |name: &str| {
            File::create(dir.join(name))
                .map(Stdio::from)
                .map_err(|e| format!("cannot create {}: {e}", dir.join(name).display()))
        };
        let mut command = Command::new(&self.binary);
        command
            .arg("-c")
            .arg(&config)
            .arg("--concurrency")
            .arg(self.concurrency.to_string())
            .arg("--disable-hot-restart")
            .args(["--log-level", "info"])
            .arg("--log-path")
            .arg(dir.join("envoy.log"))
            .arg("--admin-address-path")
            .arg(dir.join("admin.addr"));
        if self.wasm_debug_log {
            command
                .args(["--component-log-level", "wasm:debug"])
                .args(["--file-flush-interval-msec", "100"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(output("stdout.txt")?)
            .stderr(output("stderr.txt")?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.binary.display()))?;
        Ok(Envoy {
            child: Mutex::new(Some(child)),
            dir: dir.clone(),
            scratch: self.scratch,
            port: 0,
            admin_port: 0,
        })
    }

    fn wait(&self, envoy: &Envoy) -> Result<(u16, u16), StartFailure> {
        let deadline = Instant::now() + self.startup_timeout;
        loop {
            if self.interrupted.is_some_and(|interrupted| interrupted()) {
                return Err(StartFailure::Interrupted);
            }
            if let Some(status) = envoy.exit_status() {
                return Err(StartFailure::Exited(status));
            }
            if let Some(ports) = self.probe() {
                return Ok(ports);
            }
            if Instant::now() >= deadline {
                return Err(StartFailure::NotReady(self.startup_timeout));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin and listener ports once admin `/ready` says LIVE and the listener accepts.
    fn probe(&self) -> Option<(u16, u16)> {
        let address = fs::read_to_string(self.dir.join("admin.addr")).ok()?;
        let admin_port: u16 = address.trim().rsplit(':').next()?.parse().ok()?;
        let ready = http::client::get(admin_port, "/ready").ok()?;
        if ready.status != 200 || ready.body_text().trim() != "LIVE" {
            return None;
        }
        let listeners = http::client::get(admin_port, "/listeners?format=json").ok()?;
        let port = listeners
            .json_body()?
            .get("listener_statuses")?
            .as_array()?
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some(self.listener.as_str()))?
            .pointer("/local_address/socket_address/port_value")?
            .as_u64()?;
        let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        TcpStream::connect_timeout(
            &SocketAddr::from(([127, 0, 0, 1], port)),
            Duration::from_secs(1),
        )
        .ok()?;
        Some((admin_port, port))
    }
}

/// Why Envoy did not become ready.
#[derive(Debug)]
pub enum StartFailure {
    /// It could not be started at all.
    Spawn(String),
    /// It exited (a configuration it refused, most often).
    Exited(ExitStatus),
    NotReady(Duration),
    Interrupted,
}

/// A failed start: why, where its files are, and everything it logged.
#[derive(Debug)]
pub struct StartError {
    pub failure: StartFailure,
    pub dir: PathBuf,
    /// `envoy.log`, then stderr and stdout.
    pub log: String,
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            StartFailure::Spawn(e) => return write!(f, "{e}"),
            StartFailure::Exited(status) => write!(f, "Envoy exited during startup ({status})")?,
            StartFailure::NotReady(timeout) => {
                write!(f, "Envoy was not ready within {}s", timeout.as_secs())?
            }
            StartFailure::Interrupted => write!(f, "interrupted while Envoy was starting")?,
        }
        write!(
            f,
            "; files in {}\n{}",
            self.dir.display(),
            tail(&self.log, LOG_TAIL_LINES)
        )
    }
}

/// A running Envoy; stopped (and reaped) when dropped.
pub struct Envoy {
    child: Mutex<Option<Child>>,
    dir: PathBuf,
    scratch: bool,
    port: u16,
    admin_port: u16,
}

impl Envoy {
    /// The listener's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin interface's port on 127.0.0.1.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    /// The process id (0 once stopped).
    pub fn pid(&self) -> u32 {
        http::server::lock(&self.child)
            .as_ref()
            .map_or(0, Child::id)
    }

    /// The directory holding the bootstrap and the logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Envoy's log file (`--log-path`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("envoy.log")
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

    /// `GET path` through the listener (see [`http::request`]).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Response {
        self.request("GET", path, headers, None)
    }

    /// `GET path` on the admin interface: the body text of a 200.
    pub fn admin_get(&self, path: &str) -> Result<String, String> {
        let answer =
            http::client::get(self.admin_port, path).map_err(|e| format!("admin {path}: {e}"))?;
        if answer.status != 200 {
            return Err(format!(
                "admin GET {path} answered {}: {}",
                answer.status,
                answer.body_text()
            ));
        }
        Ok(answer.body_text())
    }

    /// Counters and gauges whose name matches the regular expression `filter`, as
    /// (name, value) pairs.
    pub fn stats(&self, filter: &str) -> Result<Vec<(String, String)>, String> {
        let text = self.admin_get(&format!("/stats?filter={}", url_escape(filter)))?;
        Ok(text
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect())
    }

    /// A counter or gauge by exact name, if Envoy has it.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats(&exact(name))
            .ok()?
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// A counter or gauge that must exist: panics (with the `rolegate` stats) otherwise, so a
    /// misspelt name cannot pass as 0.
    pub fn counter(&self, name: &str) -> u64 {
        self.stat(name).unwrap_or_else(|| {
            let known: Vec<String> = self
                .stats("rolegate")
                .unwrap_or_default()
                .into_iter()
                .map(|(n, v)| format!("{n}: {v}"))
                .collect();
            panic!("stat {name:?} not found; rolegate stats: {known:#?}")
        })
    }

    /// Connections accepted so far by each worker thread on the listener, indexed by worker
    /// (`listener.<address>.worker_<n>.downstream_cx_total`); panics without them.
    pub fn worker_connections(&self) -> Vec<u64> {
        let stats = self
            .stats(r"^listener\..*\.worker_[0-9]+\.downstream_cx_total$")
            .unwrap_or_else(|e| panic!("{e}"));
        let mut per_worker: Vec<u64> = Vec::new();
        for (name, value) in stats {
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
            if let Some(count) = per_worker.get_mut(worker) {
                *count += value;
            }
        }
        if per_worker.is_empty() {
            panic!("no listener.*.worker_<n>.downstream_cx_total stats");
        }
        per_worker
    }

    /// Everything Envoy logged so far: `envoy.log`, then stderr and stdout.
    pub fn log(&self) -> String {
        read_logs(&self.dir)
    }

    /// The access log so far (a bootstrap that writes `access.log` in the directory).
    pub fn access_log(&self) -> String {
        fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }

    /// The last `n` lines of the log, for messages.
    pub fn log_tail(&self, n: usize) -> String {
        tail(&self.log(), n)
    }

    /// The last `n` notable lines of `envoy.log`: the plugin's, and warnings and worse (every
    /// line when there is none), then whatever Envoy wrote to stderr or stdout.
    pub fn notable_log_tail(&self, n: usize) -> String {
        // Give Envoy's periodic log flush a chance to write the latest lines.
        thread::sleep(Duration::from_millis(300));
        notable_tail(&self.dir, n)
    }

    /// Waits up to `timeout` until the log contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let found = || self.log().contains(needle).then_some(());
        eventually(timeout, Duration::from_millis(50), found).is_some()
    }

    /// Waits up to `timeout` for a log line containing `needle`; fails the test with the log's
    /// tail otherwise.
    pub fn assert_logged(&self, needle: &str, timeout: Duration) {
        assert!(
            self.wait_for_log(needle, timeout),
            "no log line containing {needle:?}\n{}",
            self.log_tail(40)
        );
    }

    /// Waits up to `timeout` until `complete` holds for the access log, which Envoy writes out
    /// a little later than it answers; returns the access log then, or at the deadline.
    pub fn wait_for_access_log(
        &self,
        timeout: Duration,
        complete: impl Fn(&str) -> bool,
    ) -> String {
        let log = || Some(self.access_log()).filter(|log| complete(log));
        eventually(timeout, Duration::from_millis(50), log).unwrap_or_else(|| self.access_log())
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.exit_status().is_none() && http::server::lock(&self.child).is_some()
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        http::server::lock(&self.child)
            .as_mut()?
            .try_wait()
            .ok()
            .flatten()
    }

    /// Resident memory in KiB (`VmRSS` in `/proc/<pid>/status`).
    pub fn rss_kib(&self) -> Result<u64, String> {
        let file = format!("/proc/{}/status", self.pid());
        let text = fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
        text.lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .ok_or_else(|| format!("{file} has no VmRSS line"))
    }

    /// Stops Envoy (SIGKILL) and reaps it; does nothing the second time.
    pub fn stop(&self) {
        if let Some(mut child) = http::server::lock(&self.child).take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.stop();
        if !self.scratch {
            return;
        }
        if thread::panicking() {
            eprintln!(
                "Envoy files kept in {}\n{}\n----- access.log -----\n{}",
                self.dir.display(),
                self.log_tail(LOG_TAIL_LINES),
                self.access_log()
            );
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Everything Envoy wrote in `dir`: `envoy.log`, then stderr and stdout.
fn read_logs(dir: &Path) -> String {
    let log = fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
    format!("{log}\n{}", stdio(dir))
}

/// What Envoy wrote to stderr and stdout in `dir`, each under a header line when not empty.
fn stdio(dir: &Path) -> String {
    let mut text = String::new();
    for name in ["stderr.txt", "stdout.txt"] {
        let content = fs::read_to_string(dir.join(name)).unwrap_or_default();
        if !content.trim().is_empty() {
            text.push_str(&format!("----- {name} -----\n{}\n", content.trim_end()));
        }
    }
    text
}

/// The last `n` lines of `text`, with a header line.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let last = lines
        .get(lines.len().saturating_sub(n)..)
        .unwrap_or_default();
    format!("----- last {} lines -----\n{}", last.len(), last.join("\n"))
}

/// See [`Envoy::notable_log_tail`].
fn notable_tail(dir: &Path, n: usize) -> String {
    let log = fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
    let notable: Vec<&str> = log
        .lines()
        .filter(|l| {
            ["][wasm]", "][warning]", "][error]", "][critical]"]
                .iter()
                .any(|m| l.contains(m))
        })
        .collect();
    let chosen: Vec<&str> = if notable.is_empty() {
        log.lines().collect()
    } else {
        notable
    };
    let mut text = String::from("----- envoy.log (plugin, warnings and errors) -----\n");
    for line in chosen.iter().skip(chosen.len().saturating_sub(n)) {
        match line.char_indices().nth(NOTABLE_LINE_CHARS) {
            Some((cut, _)) => text.push_str(&format!("{}…", line.get(..cut).unwrap_or(line))),
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text.push_str(&stdio(dir));
    text.trim_end().to_string()
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

/// A regular expression matching exactly `name`.
fn exact(name: &str) -> String {
    let mut out = String::from("^");
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('$');
    out
}

/// Starting Envoy in tests: in a scratch directory ([`Launch::scratch`]), panicking with the
/// tail of its log when it does not become ready.
impl Envoy {
    /// Starts Envoy on the bootstrap `make(dir)` builds for the instance directory `dir`.
    pub fn start_with(make: impl FnOnce(&Path) -> Value) -> Envoy {
        let launch = Launch::scratch().unwrap_or_else(|e| panic!("{e}"));
        let bootstrap = make(launch.dir());
        launch
            .start(&Bootstrap::Json(bootstrap))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts Envoy without any wasm filter (the harness's self-checks).
    pub fn start_without_plugin(idp_port: u16, upstream_port: u16) -> Envoy {
        Envoy::start_with(|dir| {
            crate::bootstrap::standard(Vec::new(), idp_port, upstream_port, &dir.join("access.log"))
        })
    }

    /// Starts Envoy with a plugin configuration that must be rejected and returns everything
    /// Envoy logged.
    ///
    /// Envoy 1.40 loads the static listener at startup; when the plugin's `on_configure`
    /// returns false it logs the plugin's own messages, then `Wasm VM failed Failed to
    /// configure base Wasm plugin`, `Plugin configured to fail closed failed to load` and
    /// `error `Unable to create Wasm plugin rolegate` initializing config`, and exits with
    /// status 1. Panics if Envoy instead becomes ready, exits successfully, or neither
    /// happens in time.
    pub fn start_expect_failure(
        plugin_config: &Value,
        idp_port: u16,
        upstream_port: u16,
    ) -> String {
        let wasm = workspace::wasm_module().unwrap_or_else(|e| panic!("{e}"));
        let launch = Launch::scratch().unwrap_or_else(|e| panic!("{e}"));
        let bootstrap =
            rolegate_bootstrap(plugin_config, &wasm, launch.dir(), idp_port, upstream_port);
        match launch.start(&Bootstrap::Json(bootstrap)) {
            Err(StartError {
                failure: StartFailure::Exited(status),
                dir,
                log,
            }) if !status.success() => {
                let _ = fs::remove_dir_all(&dir);
                log
            }
            Err(e) => panic!("Envoy did not refuse the configuration {plugin_config}: {e}"),
            Ok(envoy) => panic!(
                "Envoy started and became ready although the plugin configuration should have \
                 been rejected: {plugin_config}; files in {}\n{}",
                envoy.dir().display(),
                envoy.log_tail(LOG_TAIL_LINES)
            ),
        }
    }
}

/// The tests' standard bootstrap with rolegate configured with `plugin_config`.
pub fn rolegate_bootstrap(
    plugin_config: &Value,
    wasm: &Path,
    dir: &Path,
    idp_port: u16,
    upstream_port: u16,
) -> Value {
    crate::bootstrap::standard(
        vec![crate::bootstrap::wasm_filter(
            &plugin_config.to_string(),
            wasm,
        )],
        idp_port,
        upstream_port,
        &dir.join("access.log"),
    )
}

/// What `envoy --mode validate` said of a configuration.
#[derive(Debug)]
pub struct Validation {
    /// Envoy accepted it (exit status 0).
    pub ok: bool,
    /// Envoy's stdout and stderr.
    pub output: String,
}

/// Runs `envoy --mode validate -c config` from the repository root, where the shipped examples'
/// `dist/rolegate.wasm` resolves. An error when Envoy or the module is missing or Envoy cannot
/// be run.
pub fn validate(config: &Path) -> Result<Validation, String> {
    workspace::wasm_module()?;
    let out = Command::new(workspace::envoy_binary()?)
        .current_dir(workspace::root())
        .args(["--mode", "validate", "-c"])
        .arg(config)
        .output()
        .map_err(|e| format!("run envoy --mode validate: {e}"))?;
    Ok(Validation {
        ok: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

/// [`validate`] of a bootstrap given as a value, written to a scratch file first.
pub fn validate_bootstrap(bootstrap: &Bootstrap) -> Result<Validation, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("scratch directory: {e}"))?;
    let (name, text) = match bootstrap {
        Bootstrap::Json(value) => ("envoy.json", value.to_string()),
        Bootstrap::Yaml(text) => ("envoy.yaml", text.clone()),
    };
    let path = dir.path().join(name);
    fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    validate(&path)
}
