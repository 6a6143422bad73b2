#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Envoy configurations shipped under `envoy/` are accepted by the real Envoy, and
//! Envoy's own validation catches a broken plugin configuration, naming the field.

use std::path::{Path, PathBuf};
use std::process::Command;

use rolegate_testkit::workspace;

fn repo() -> PathBuf {
    workspace::root()
}

/// Runs `envoy --mode validate` from the repository root (the examples name
/// `dist/rolegate.wasm` relative to it); returns success and the combined output.
fn validate(config: &Path) -> (bool, String) {
    workspace::wasm_module().unwrap();
    let out = Command::new(workspace::envoy_binary().unwrap())
        .current_dir(repo())
        .args(["--mode", "validate", "-c"])
        .arg(config)
        .output()
        .expect("run envoy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_example_envoy_configurations_validate() {
    for example in ["envoy/envoy.yaml", "envoy/azure-ad.yaml"] {
        let (ok, log) = validate(&repo().join(example));
        assert!(ok, "envoy --mode validate rejected {example}:\n{log}");
        assert!(log.contains("OK"), "{example}: {log}");
    }
}

#[test]
fn the_example_envoy_configuration_validates_unchanged() {
    let (ok, log) = validate(&repo().join("envoy/envoy.yaml"));
    assert!(
        ok,
        "envoy --mode validate rejected envoy/envoy.yaml:\n{log}"
    );
    assert!(log.contains("OK"), "{log}");
}

#[test]
fn envoy_validation_names_a_mistyped_plugin_field() {
    let example = std::fs::read_to_string(repo().join("envoy/envoy.yaml")).expect("read example");
    let broken = example.replacen("\"rules\"", "\"rulez\"", 1);
    assert_ne!(broken, example, "the example must hold a rules field");
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("broken.yaml");
    std::fs::write(&path, broken).expect("write");
    let (ok, log) = validate(&path);
    assert!(
        !ok,
        "a plugin configuration with an unknown field must not validate:\n{log}"
    );
    assert!(
        log.contains("configuration rejected: rulez: unknown field"),
        "the log must name the field:\n{log}"
    );
    assert!(
        log.contains("configuration rejected: rules: is required"),
        "{log}"
    );
}
