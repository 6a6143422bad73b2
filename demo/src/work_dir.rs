//! A fresh directory under the system's temporary directory for one demo run (Envoy's
//! bootstrap and logs); removed when dropped unless [`WorkDir::keep`] was called.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    keep: AtomicBool,
}

impl WorkDir {
    pub fn create() -> Result<WorkDir, String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let path =
            std::env::temp_dir().join(format!("rolegate-demo-{}-{nanos:09}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
        Ok(WorkDir {
            path,
            keep: AtomicBool::new(false),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Leaves the directory in place (for a look at the logs after a failure).
    pub fn keep(&self) {
        self.keep.store(true, Ordering::SeqCst);
    }

    /// Removes the directory now, unless it is kept.
    pub fn remove(&self) {
        if !self.keep.load(Ordering::SeqCst) {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        self.remove();
    }
}
