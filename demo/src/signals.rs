//! Ctrl-C (SIGINT) and SIGTERM handling without extra crates.
//!
//! The handler only stores into an atomic flag, which is async-signal-safe. A watcher
//! thread polls the flag, runs the cleanup it was given (stop Envoy, remove the work
//! directory) and exits with status 130. The standard library has no API to install a
//! signal handler, so this declares C's `signal()` itself: on Linux glibc and musl, and on
//! macOS, it installs a persistent handler with `SA_RESTART` semantics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status after an interruption (128 + SIGINT).
pub const INTERRUPTED_EXIT_STATUS: i32 = 130;

#[cfg(unix)]
mod unix {
    use std::os::raw::c_int;

    pub const SIGINT: c_int = 2;
    pub const SIGTERM: c_int = 15;
    /// `SIG_ERR`, `(void (*)(int)) -1`.
    pub const SIG_ERR: usize = usize::MAX;

    extern "C" {
        /// `sighandler_t signal(int signum, sighandler_t handler)`; the previous handler is
        /// returned as an address because it may be `SIG_DFL` (0) or `SIG_IGN` (1).
        pub fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    }

    pub extern "C" fn on_signal(_: c_int) {
        super::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Catches SIGINT and SIGTERM from now on.
#[cfg(unix)]
pub fn install() -> Result<(), String> {
    for signum in [unix::SIGINT, unix::SIGTERM] {
        // SAFETY: `on_signal` only performs a lock-free atomic store, which is
        // async-signal-safe, and it stays valid for the life of the process.
        let previous = unsafe { unix::signal(signum, unix::on_signal) };
        if previous == unix::SIG_ERR {
            return Err(format!("cannot install a handler for signal {signum}"));
        }
    }
    Ok(())
}

#[cfg(not(unix))]
pub fn install() -> Result<(), String> {
    Ok(())
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
