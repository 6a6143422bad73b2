//! `rolegate-demo run` without Envoy or the module: a setup failure (exit status 2) that says
//! what to run. The demo's runs with Envoy are in envoy-tests/tests/envoy/demo.rs.

// Tests may panic: a failed assertion is their job.
#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn a_missing_envoy_is_a_setup_failure_that_says_what_to_do() {
    let out = Command::new(env!("CARGO_BIN_EXE_rolegate-demo"))
        .args([
            "run",
            "--envoy",
            "/nonexistent/envoy",
            "--wasm",
            "/nonexistent.wasm",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("make build envoy"), "{stderr}");
}
