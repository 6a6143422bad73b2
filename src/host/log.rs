//! Envoy log lines (Envoy prefixes them with the plugin name). Tokens are never passed here.
//!
//! Through the proxy-wasm ABI directly: the SDK's `log` and `get_log_level` panic on a status
//! they do not expect, and its `LogLevel` cannot hold every level Envoy reports (`off` is 6).

use std::sync::atomic::{AtomicU32, Ordering};

extern "C" {
    fn proxy_log(level: u32, message_data: *const u8, message_size: usize) -> u32;
    fn proxy_get_log_level(return_level: *mut u32) -> u32;
}

const OK: u32 = 0;

/// Envoy's (spdlog's) levels, as `proxy_log` takes them and `proxy_get_log_level` reports the
/// level of Envoy's `wasm` logger.
#[derive(Clone, Copy)]
#[repr(u32)]
pub enum Level {
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
}

/// The lowest level Envoy prints, as last read; until then every line is handed over.
static LOWEST_PRINTED: AtomicU32 = AtomicU32::new(0);

/// Reads the level Envoy prints from (once per tick: an operator may change it at run time,
/// and a line built per request must not cost a host call to find out whether it prints).
/// A host that does not answer leaves the last level read.
pub fn read_level() {
    let mut level = 0;
    // SAFETY: the pointer is valid for one writable u32 for the whole call; the host keeps it
    // no longer.
    if unsafe { proxy_get_log_level(&mut level) } == OK {
        LOWEST_PRINTED.store(level, Ordering::Relaxed);
    }
}

/// Whether a line at `level` prints: build a line only when it does.
pub fn prints(level: Level) -> bool {
    level as u32 >= LOWEST_PRINTED.load(Ordering::Relaxed)
}

fn log(level: Level, message: &str) {
    // SAFETY: the pointer is valid for its length for the whole call; the host copies it.
    let _ = unsafe { proxy_log(level as u32, message.as_ptr(), message.len()) };
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}
