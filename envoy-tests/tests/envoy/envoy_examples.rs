#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The Envoy configurations shipped under `envoy/` are accepted by the real Envoy, and
//! Envoy's own validation catches a broken plugin configuration, naming the field.

use std::path::Path;

use rolegate_testkit::{envoy, workspace};

fn repo() -> std::path::PathBuf {
    workspace::root()
}

/// `envoy --mode validate` (from the repository root); returns success and the combined output.
fn validate(config: &Path) -> (bool, String) {
    let v = envoy::validate(config).unwrap_or_else(|e| panic!("{e}"));
    (v.ok, v.output)
}

/// Every Envoy configuration under `envoy/` (not its subdirectories: templates and manifests).
fn examples() -> Vec<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir(repo().join("envoy"))
        .expect("read envoy/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    found.sort();
    found
}

#[test]
fn the_example_envoy_configurations_validate() {
    let examples = examples();
    for name in ["envoy.yaml", "azure-ad.yaml"] {
        assert!(
            examples.contains(&repo().join("envoy").join(name)),
            "envoy/{name}: {examples:?}"
        );
    }
    for example in &examples {
        let (ok, log) = validate(example);
        let example = example.display();
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
