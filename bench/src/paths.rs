//! Where things are: the repository, Envoy, the module, the templates in `envoy/bench/`, and a
//! driver's working directory under `target/`.

use std::path::PathBuf;

use rolegate_testkit::workspace;

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
        let root = workspace::root();
        Ok(Paths {
            envoy: workspace::envoy_binary()?,
            wasm: workspace::wasm_module()?,
            templates: root.join("envoy/bench"),
            work: workspace::target_dir(work),
            root,
        })
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
