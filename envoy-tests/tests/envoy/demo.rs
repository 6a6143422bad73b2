//! `rolegate-demo run` end to end, with the real Envoy and the real rolegate module. The demo
//! runs as this package's copy of the program (`rolegate-demo-under-test`, see Cargo.toml):
//! the tests interrupt it with SIGINT and read its exit status.
//!
//! Never skipped: without Envoy or the module these tests fail and say to run
//! `make build envoy`. They are found as `workspace::envoy_binary` and `wasm_module` find
//! them. Without Envoy the demo fails as setup: demo/tests/setup_failure.rs.

// Tests may panic: a failed assertion is their job.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rolegate_testkit::workspace;

/// The whole demo takes a few seconds; this only bounds a hang.
const RUN_TIMEOUT: Duration = Duration::from_secs(120);
const STEPS: u32 = 9;

/// A running `rolegate-demo run`, its output going to files.
struct Demo {
    child: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Demo {
    fn start(name: &str, extra: &[&str]) -> Demo {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{name}"));
        fs::create_dir_all(&dir).unwrap();
        let (stdout, stderr) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
        let child = Command::new(env!("CARGO_BIN_EXE_rolegate-demo-under-test"))
            .arg("run")
            .arg("--envoy")
            .arg(workspace::envoy_binary().unwrap())
            .arg("--wasm")
            .arg(workspace::wasm_module().unwrap())
            .arg("--registrations")
            .arg(workspace::root().join("envoy/demo/registrations.json"))
            .args(extra)
            .current_dir(workspace::root())
            .stdin(Stdio::null())
            .stdout(fs::File::create(&stdout).unwrap())
            .stderr(fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Demo {
            child,
            stdout,
            stderr,
        }
    }

    fn output(&self) -> String {
        format!(
            "{}\n----- stderr -----\n{}",
            fs::read_to_string(&self.stdout).unwrap_or_default(),
            fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// Waits until `done(stdout)` holds.
    fn wait_for_output(&mut self, done: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + RUN_TIMEOUT;
        while !done(&fs::read_to_string(&self.stdout).unwrap_or_default()) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the demo ended early ({status}):\n{}", self.output());
            }
            assert!(Instant::now() < deadline, "timed out:\n{}", self.output());
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + RUN_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!(
                    "the demo did not end within {RUN_TIMEOUT:?}:\n{}",
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The run's work directory, named in the intro.
fn work_dir(output: &str) -> PathBuf {
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with("bootstrap and log"))
        .unwrap_or_else(|| panic!("no work directory in the output:\n{output}"));
    PathBuf::from(
        line.trim_start()
            .trim_start_matches("bootstrap and log")
            .trim(),
    )
}

/// Processes whose command line mentions `needle` (Linux /proc).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            found.push(format!(
                "{}: {cmdline}",
                entry.file_name().to_string_lossy()
            ));
        }
    }
    found
}

#[test]
fn every_step_of_the_demo_passes() {
    let started = Instant::now();
    let mut demo = Demo::start("run", &[]);
    let status = demo.wait();
    let output = demo.output();
    println!("{output}");
    assert!(status.success(), "exit status {status}:\n{output}");
    for step in 1..=STEPS {
        assert!(
            output.contains(&format!("[PASS] Step {step}:")),
            "step {step} did not print PASS:\n{output}"
        );
    }
    assert!(!output.contains("[FAIL]"), "{output}");
    assert!(
        output.contains(&format!("{STEPS} of {STEPS} steps passed")),
        "{output}"
    );
    let dir = work_dir(&output);
    assert!(!dir.exists(), "{} was not removed", dir.display());
    assert!(
        processes_mentioning(&dir.display().to_string()).is_empty(),
        "Envoy outlived the demo"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn ctrl_c_stops_envoy_and_cleans_up() {
    let mut demo = Demo::start("interrupt", &["--keep-running"]);
    demo.wait_for_output(|out| out.contains("Ctrl-C stops it"));
    let output = demo.output();
    let dir = work_dir(&output);
    let envoys = processes_mentioning(&dir.display().to_string());
    assert!(!envoys.is_empty(), "Envoy should be running:\n{output}");
    let killed = Command::new("kill")
        .args(["-INT", &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = demo.wait();
    assert_eq!(status.code(), Some(130), "{}", demo.output());
    assert!(
        processes_mentioning(&dir.display().to_string()).is_empty(),
        "Envoy survived Ctrl-C: {envoys:?}"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}
