//! Changes to the effective request's headers, through the proxy-wasm ABI directly: the SDK's
//! `set_map_value` panics when the host answers anything but Ok, and a panic kills the VM, so
//! the 500 a refused change must get (`HeaderChangeFailed`) could never be sent.

use crate::decision::HeaderEditor;
use proxy_wasm::types::{MapType, Status};

extern "C" {
    fn proxy_replace_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
    fn proxy_remove_header_map_value(
        map_type: MapType,
        key_data: *const u8,
        key_size: usize,
    ) -> Status;
}

/// The current request's headers in Envoy.
pub struct RequestHeaderMap;

impl HeaderEditor for RequestHeaderMap {
    fn remove(&mut self, name: &str) -> bool {
        // SAFETY: the pointer is valid for its length for the whole call; the host copies it.
        let status = unsafe {
            proxy_remove_header_map_value(MapType::HttpRequestHeaders, name.as_ptr(), name.len())
        };
        status == Status::Ok
    }

    fn set(&mut self, name: &str, value: &str) -> bool {
        // SAFETY: both pointers are valid for their lengths for the whole call; the host copies
        // them.
        let status = unsafe {
            proxy_replace_header_map_value(
                MapType::HttpRequestHeaders,
                name.as_ptr(),
                name.len(),
                value.as_ptr(),
                value.len(),
            )
        };
        status == Status::Ok
    }
}
