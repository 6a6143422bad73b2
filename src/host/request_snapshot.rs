//! The effective request's headers, copied into the VM in one host call.
//!
//! One `proxy_get_header_map_pairs` call costs less than a `proxy_get_header_map_value` per
//! header the decision reads (`:path`, the token header, sometimes `:method` or `:authority`):
//! each host call that returns data also calls back into the VM to allocate.

use crate::decision::RequestHeaders;
use crate::request::header_pairs::HeaderPairs;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{MapType, Status};
use std::borrow::Cow;

extern "C" {
    // The SDK reads this map only into owned pairs, which costs two allocations per header.
    fn proxy_get_header_map_pairs(
        map_type: MapType,
        return_map_data: *mut *mut u8,
        return_map_size: *mut usize,
    ) -> Status;
}

pub enum RequestSnapshot {
    /// The serialized map, its lengths checked once.
    Pairs(HeaderPairs<Vec<u8>>),
    /// The host gave no usable map: headers are read one at a time instead.
    OneByOne,
}

impl RequestSnapshot {
    pub fn take() -> RequestSnapshot {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer it obtained from the SDK's allocator export
        // (`proxy_on_memory_allocate`, a `Vec<u8>` of exactly `size` bytes it forgot) and its
        // size; ownership passes to us, as in the SDK's own `get_map_bytes`.
        let status = unsafe {
            proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size)
        };
        if status != Status::Ok || data.is_null() {
            return RequestSnapshot::OneByOne;
        }
        // SAFETY: see above; the buffer is `size` bytes long with capacity `size`.
        let bytes = unsafe { Vec::from_raw_parts(data, size, size) };
        HeaderPairs::parse(bytes).map_or(RequestSnapshot::OneByOne, RequestSnapshot::Pairs)
    }
}

impl RequestHeaders for RequestSnapshot {
    fn header(&self, name: &str) -> Option<String> {
        String::from_utf8(self.header_bytes(name)?.into_owned()).ok()
    }

    fn header_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        match self {
            RequestSnapshot::Pairs(pairs) => pairs.get(name).map(Cow::Borrowed),
            // The bytes variant: the string one panics on a non-UTF-8 value, which a client
            // controls.
            RequestSnapshot::OneByOne => {
                hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, name)
                    .ok()?
                    .map(Cow::Owned)
            }
        }
    }

    fn each_name(&self, each: &mut dyn FnMut(&[u8])) -> bool {
        match self {
            RequestSnapshot::Pairs(pairs) => {
                pairs.iter().for_each(|(name, _)| each(name));
                true
            }
            // The SDK's own listing makes the same host call that just failed, and panics.
            RequestSnapshot::OneByOne => false,
        }
    }
}
