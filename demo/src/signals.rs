//! Ctrl-C (SIGINT) and SIGTERM handling.
//!
//! ctrlc's handler only stores into an atomic flag. A watcher thread polls the flag, runs the
//! cleanup it was given (stop Envoy, remove the work directory) and exits with status 130;
//! the flag also lets long waits elsewhere give up early.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status after an interruption (128 + SIGINT).
pub const INTERRUPTED_EXIT_STATUS: i32 = 130;

/// Catches SIGINT and SIGTERM (ctrlc's `termination` feature) from now on.
pub fn install() -> Result<(), String> {
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst))
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))
}

/// Whether SIGINT or SIGTERM arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Starts a thread that, once a signal arrives, runs `cleanup` and ends the process.
pub fn on_interrupt(cleanup: impl FnOnce() + Send + 'static) -> Result<(), String> {
    thread::Builder::new()
        .name("interrupt-watcher".into())
        .spawn(move || {
            while !interrupted() {
                thread::sleep(Duration::from_millis(50));
            }
            eprintln!("\ninterrupted: stopping the demo's processes");
            cleanup();
            std::process::exit(INTERRUPTED_EXIT_STATUS);
        })
        .map(|_| ())
        .map_err(|e| format!("cannot start the interrupt watcher: {e}"))
}
