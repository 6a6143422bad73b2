//! One Envoy process under test: started with a rendered configuration and a given number of
//! workers, in its own directory; its ports read back from the admin API; its memory read from
//! `/proc`; killed on drop.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::http;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Envoy {
    child: Child,
    dir: PathBuf,
    /// The listener's port on 127.0.0.1.
    pub port: u16,
    /// The admin port on 127.0.0.1.
    pub admin_port: u16,
}

impl Envoy {
    /// Writes `config` to `<dir>/envoy.yaml`, starts `binary` on it with `concurrency` workers
    /// and waits until the admin API says LIVE and the listener accepts connections.
    pub fn start(
        binary: &Path,
        config: &str,
        dir: &Path,
        concurrency: u32,
    ) -> Result<Envoy, String> {
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let config_path = dir.join("envoy.yaml");
        fs::write(&config_path, config)
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
        let output = |name: &str| {
            File::create(dir.join(name))
                .map(Stdio::from)
                .map_err(|e| format!("cannot create {}: {e}", dir.join(name).display()))
        };
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config_path)
            .arg("--concurrency")
            .arg(concurrency.to_string())
            .arg("--disable-hot-restart")
            .args(["--log-level", "info"])
            .arg("--log-path")
            .arg(dir.join("envoy.log"))
            .arg("--admin-address-path")
            .arg(dir.join("admin.addr"))
            .stdin(Stdio::null())
            .stdout(output("stdout.txt")?)
            .stderr(output("stderr.txt")?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut envoy = Envoy {
            child,
            dir: dir.to_path_buf(),
            port: 0,
            admin_port: 0,
        };
        envoy.wait_ready()?;
        Ok(envoy)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "Envoy exited during start-up ({status}); config {}\n{}",
                    self.dir.join("envoy.yaml").display(),
                    self.log_tail(30)
                ));
            }
            if let Some((admin_port, port)) = self.probe() {
                self.admin_port = admin_port;
                self.port = port;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "Envoy was not ready after {} s\n{}",
                    STARTUP_TIMEOUT.as_secs(),
                    self.log_tail(30)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn probe(&self) -> Option<(u16, u16)> {
        let addr = fs::read_to_string(self.dir.join("admin.addr")).ok()?;
        let admin_port: u16 = addr.trim().rsplit(':').next()?.parse().ok()?;
        let ready = http::get(admin_port, "/ready", &[]).ok()?;
        if ready.status != 200 || ready.body.trim() != "LIVE" {
            return None;
        }
        let listeners = http::get(admin_port, "/listeners?format=json", &[]).ok()?;
        let v: Value = serde_json::from_str(&listeners.body).ok()?;
        let port = v
            .get("listener_statuses")?
            .as_array()?
            .iter()
            .find(|l| l.get("name").and_then(Value::as_str) == Some("main"))?
            .pointer("/local_address/socket_address/port_value")?
            .as_u64()?;
        let port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        http::get(port, "/", &[]).ok()?;
        Some((admin_port, port))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The run directory (configuration, logs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Envoy's log file (`--log-path`).
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("envoy.log")
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

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The admin API's `/stats` lines whose name matches the regular expression `filter`.
    pub fn stats(&self, filter: &str) -> Result<Vec<(String, String)>, String> {
        let reply = http::get(self.admin_port, &format!("/stats?filter={filter}"), &[])?;
        Ok(reply
            .body
            .lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(name, value)| (name.to_string(), value.trim().to_string()))
            .collect())
    }

    /// The last `n` notable lines of the Envoy log (warnings and worse; every line if there is
    /// none) and of stderr.
    pub fn log_tail(&self, n: usize) -> String {
        let mut text = String::new();
        for name in ["envoy.log", "stderr.txt"] {
            let path = self.dir.join(name);
            let content = fs::read_to_string(&path).unwrap_or_default();
            let notable: Vec<&str> = content.lines().filter(|l| is_notable(l)).collect();
            let lines = if notable.is_empty() {
                content.lines().collect()
            } else {
                notable
            };
            let tail = lines
                .get(lines.len().saturating_sub(n)..)
                .unwrap_or_default();
            if !tail.is_empty() {
                text.push_str(&format!(
                    "----- {} (last {} notable lines) -----\n{}\n",
                    path.display(),
                    tail.len(),
                    tail.join("\n")
                ));
            }
        }
        text
    }
}

/// A log line at warning level or worse.
fn is_notable(line: &str) -> bool {
    ["][warning][", "][error][", "][critical]["]
        .iter()
        .any(|level| line.contains(level))
}

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
