//! Where things are: the repository, Envoy, the module, the templates in `envoy/bench/`, and a
//! driver's working directory under `target/`.

use std::path::{Path, PathBuf};

pub struct Paths {
    pub root: PathBuf,
    pub envoy: PathBuf,
    pub wasm: PathBuf,
    /// `envoy/bench/`: configuration templates and wrk scripts.
    pub templates: PathBuf,
    /// `target/<driver>/`: rendered configurations, logs, token files; emptied each run.
    pub work: PathBuf,
}

impl Paths {
    /// Finds Envoy and the module (`ROLEGATE_ENVOY` / `ROLEGATE_WASM` override the defaults);
    /// `work` names the driver's directory under `target/`.
    pub fn find(work: &str) -> Result<Paths, String> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().unwrap_or(manifest).to_path_buf();
        let from_env = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join(default))
        };
        let paths = Paths {
            envoy: from_env("ROLEGATE_ENVOY", ".envoy/envoy/_bin/envoy"),
            wasm: from_env("ROLEGATE_WASM", "dist/rolegate.wasm"),
            templates: root.join("envoy/bench"),
            work: root.join("target").join(work),
            root,
        };
        for (what, path) in [("Envoy 1.40", &paths.envoy), ("the module", &paths.wasm)] {
            if !path.is_file() {
                return Err(format!(
                    "{what} is missing at {}: run `make build envoy` first",
                    path.display()
                ));
            }
        }
        Ok(paths)
    }

    /// Empties and recreates the working directory.
    pub fn fresh_work_dir(&self) -> Result<(), String> {
        let _ = std::fs::remove_dir_all(&self.work);
        std::fs::create_dir_all(&self.work)
            .map_err(|e| format!("cannot create {}: {e}", self.work.display()))
    }

    /// A file or directory under `target/`, kept between runs.
    pub fn target(&self, name: &str) -> PathBuf {
        self.root.join("target").join(name)
    }
}
