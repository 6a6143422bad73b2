//! Runs Envoy with the demo's bootstrap: starts it, waits until it is ready, reads its
//! counters, and stops it (also when dropped).
//!
//! Envoy binds the listener and admin ports itself (port 0) and reports them
//! (`--admin-address-path`, admin `/listeners`), so no port can be taken in between. It
//! runs with `--disable-hot-restart`: no shared memory and no hot-restart socket, so no
//! base id is needed and several demos (or the tests) can run at once.

use crate::bootstrap::LISTENER;
use crate::console::shorten;
use crate::form;
use crate::http_client;
use crate::signals;
use serde_json::Value;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long Envoy gets to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running Envoy; stopped when dropped.
pub struct Envoy {
    child: Mutex<Option<Child>>,
    dir: PathBuf,
    port: u16,
    admin_port: u16,
}

impl Envoy {
    /// Writes `bootstrap` to `<dir>/envoy.json`, starts `binary` (2 workers, log in
    /// `<dir>/envoy.log`) and waits until it is ready.
    pub fn start(binary: &Path, bootstrap: &Value, dir: &Path) -> Result<Envoy, String> {
        let config = dir.join("envoy.json");
        let text = serde_json::to_string_pretty(bootstrap).map_err(|e| e.to_string())?;
        fs::write(&config, text).map_err(|e| format!("write {}: {e}", config.display()))?;
        let output = |name: &str| {
            File::create(dir.join(name))
                .map_err(|e| format!("create {name} in {}: {e}", dir.display()))
        };
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args(["--concurrency", "2", "--disable-hot-restart"])
            .args(["--log-level", "info", "--component-log-level", "wasm:debug"])
            .arg("--log-path")
            .arg(dir.join("envoy.log"))
            .arg("--admin-address-path")
            .arg(dir.join("admin.addr"))
            // The log is read after a failure: write it out promptly (default 10 s).
            .args(["--file-flush-interval-msec", "100"])
            .stdin(Stdio::null())
            .stdout(output("stdout.txt")?)
            .stderr(output("stderr.txt")?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut envoy = Envoy {
            child: Mutex::new(Some(child)),
            dir: dir.to_path_buf(),
            port: 0,
            admin_port: 0,
        };
        let (admin_port, port) = envoy.wait_until_ready()?;
        envoy.admin_port = admin_port;
        envoy.port = port;
        Ok(envoy)
    }

    fn wait_until_ready(&self) -> Result<(u16, u16), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if signals::interrupted() {
                return Err("interrupted while Envoy was starting".to_string());
            }
            if let Some(status) = self.exit_status() {
                return Err(format!("Envoy exited during startup ({status})"));
            }
            if let Some(ports) = self.probe() {
                return Ok(ports);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Envoy was not ready within {}s",
                    STARTUP_TIMEOUT.as_secs()
                ));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The admin and listener ports once admin `/ready` says LIVE and the listener is bound.
    fn probe(&self) -> Option<(u16, u16)> {
        let address = fs::read_to_string(self.dir.join("admin.addr")).ok()?;
        let admin_port: u16 = address.trim().rsplit(':').next()?.parse().ok()?;
        let ready = http_client::get(admin_port, "/ready").ok()?;
        if ready.status != 200 || ready.text_body().trim() != "LIVE" {
            return None;
        }
        let listeners = http_client::get(admin_port, "/listeners?format=json").ok()?;
        let port = listeners
            .json_body()?
            .get("listener_statuses")?
            .as_array()?
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some(LISTENER))?
            .pointer("/local_address/socket_address/port_value")?
            .as_u64()?;
        let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        Some((admin_port, port))
    }

    fn exit_status(&self) -> Option<String> {
        let mut child = self.child.lock().ok()?;
        let status = child.as_mut()?.try_wait().ok()??;
        Some(status.to_string())
    }

    /// The listener's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin interface's port on 127.0.0.1.
    pub fn admin_port(&self) -> u16 {
        self.admin_port
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("envoy.log")
    }

    /// Envoy's counters and gauges whose names match `filter`, as `(name, value)`.
    pub fn stats(&self, filter: &str) -> Result<Vec<(String, String)>, String> {
        let target = format!("/stats?filter={}", form::encode(filter));
        let answer =
            http_client::get(self.admin_port, &target).map_err(|e| format!("admin /stats: {e}"))?;
        if answer.status != 200 {
            return Err(format!("admin /stats answered {}", answer.status));
        }
        Ok(answer
            .text_body()
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect())
    }

    /// The value of one counter or gauge, if Envoy has it.
    pub fn stat(&self, name: &str) -> Option<u64> {
        self.stats(&format!("^{}$", name.replace('.', "\\.")))
            .ok()?
            .into_iter()
            .find(|(n, _)| n == name)?
            .1
            .parse()
            .ok()
    }

    /// Stops Envoy (SIGKILL) and reaps it; does nothing the second time.
    pub fn stop(&self) {
        if let Ok(mut guard) = self.child.lock() {
            if let Some(mut child) = guard.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Envoy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last `lines` lines Envoy logged about the plugin, or warned about (the whole log
/// when there are none), then anything it wrote to stderr or stdout.
pub fn log_tail(dir: &Path, lines: usize) -> String {
    // Give Envoy's periodic log flush (100 ms) a chance to write the latest lines.
    thread::sleep(Duration::from_millis(300));
    let log = fs::read_to_string(dir.join("envoy.log")).unwrap_or_default();
    let relevant: Vec<&str> = log
        .lines()
        .filter(|l| {
            ["][wasm]", "][warning]", "][error]", "][critical]"]
                .iter()
                .any(|m| l.contains(m))
        })
        .collect();
    let chosen: Vec<&str> = if relevant.is_empty() {
        log.lines().collect()
    } else {
        relevant
    };
    let mut text = String::from("----- envoy.log (plugin, warnings and errors) -----\n");
    for line in chosen.iter().skip(chosen.len().saturating_sub(lines)) {
        text.push_str(&shorten(line, 400));
        text.push('\n');
    }
    for name in ["stderr.txt", "stdout.txt"] {
        let content = fs::read_to_string(dir.join(name)).unwrap_or_default();
        if !content.trim().is_empty() {
            text.push_str(&format!("----- {name} -----\n{content}"));
        }
    }
    text.trim_end().to_string()
}
