//! Envoy log lines (Envoy prefixes them with the plugin name). Tokens are never passed here.

use proxy_wasm::hostcalls;
use proxy_wasm::types::LogLevel;

pub fn info(message: &str) {
    let _ = hostcalls::log(LogLevel::Info, message);
}

pub fn warn(message: &str) {
    let _ = hostcalls::log(LogLevel::Warn, message);
}

pub fn error(message: &str) {
    let _ = hostcalls::log(LogLevel::Error, message);
}

pub fn debug(message: &str) {
    let _ = hostcalls::log(LogLevel::Debug, message);
}
