//! The host's clock. A host that cannot tell the time gets 0, which makes every token look
//! expired: fail closed.

use proxy_wasm::hostcalls;
use std::time::UNIX_EPOCH;

pub fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

pub fn now_seconds() -> i64 {
    i64::try_from(now_ms() / 1000).unwrap_or(0)
}
