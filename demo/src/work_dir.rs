//! A fresh directory under the system's temporary directory for one demo run (Envoy's
//! bootstrap and logs); removed when dropped unless [`WorkDir::keep`] was called.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    keep: AtomicBool,
}

impl WorkDir {
    pub fn create() -> Result<WorkDir, String> {
        // tempfile picks an unguessable name and creates it 0700; removal stays ours, since
        // the interrupt handler removes it through a shared reference and `keep` may spare it.
        let path = tempfile::Builder::new()
            .prefix("rolegate-demo-")
            .tempdir()
            .map_err(|e| {
                format!(
                    "create a directory under {}: {e}",
                    std::env::temp_dir().display()
                )
            })?
            .keep();
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
