//! The bench's yardsticks, one crate so they share the SDK, the profile and the root context.
//!
//! - Without features, a bare filter: reads the `authorization` header of each request and lets
//!   it through. What any Rust proxy-wasm filter costs Envoy in memory, so rolegate's own memory
//!   is what it adds on top.
//! - With `floor`, the floor of the speed table: what rolegate does to every request it allows,
//!   and nothing else. It takes all request headers in one `proxy_get_header_map_pairs` (as
//!   rolegate's `src/host/request_snapshot.rs` does), removes `authorization` and sets
//!   `x-client-id` to the plugin configuration, deciding nothing. rolegate's speed over this
//!   one is what its decision costs.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(Root::default()) });
}}

#[derive(Default)]
struct Root {
    /// The floor's `x-client-id` value: the plugin configuration, read once.
    #[cfg(feature = "floor")]
    client_id: std::rc::Rc<str>,
}

impl Context for Root {}

impl RootContext for Root {
    #[cfg(feature = "floor")]
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let configuration = self.get_plugin_configuration().unwrap_or_default();
        self.client_id = String::from_utf8_lossy(&configuration).trim().into();
        true
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(Filter {
            #[cfg(feature = "floor")]
            client_id: self.client_id.clone(),
        }))
    }
}

struct Filter {
    #[cfg(feature = "floor")]
    client_id: std::rc::Rc<str>,
}

impl Context for Filter {}

#[cfg(not(feature = "floor"))]
impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let _authorization = self.get_http_request_header("authorization");
        Action::Continue
    }
}

#[cfg(feature = "floor")]
impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        use proxy_wasm::hostcalls::set_map_value;
        use proxy_wasm::types::MapType::HttpRequestHeaders;
        // A failed change lets the request through unchanged: the floor decides nothing, and
        // the bench's pre-flight sees the header still there.
        if floor::request_headers().is_some_and(|map| floor::has_header(&map, b"authorization")) {
            let _ = set_map_value(HttpRequestHeaders, "authorization", None);
        }
        let _ = set_map_value(HttpRequestHeaders, "x-client-id", Some(&self.client_id));
        Action::Continue
    }
}

#[cfg(feature = "floor")]
mod floor {
    use proxy_wasm::types::{MapType, Status};

    extern "C" {
        // The SDK reads this map only into owned pairs (two allocations per header); rolegate
        // takes the bytes as they come, and so does the floor.
        fn proxy_get_header_map_pairs(
            map_type: MapType,
            return_map_data: *mut *mut u8,
            return_map_size: *mut usize,
        ) -> Status;
    }

    /// The request headers, serialized as the host hands them over.
    pub fn request_headers() -> Option<Vec<u8>> {
        let mut data: *mut u8 = std::ptr::null_mut();
        let mut size: usize = 0;
        // SAFETY: the host writes a pointer it obtained from the SDK's allocator export
        // (`proxy_on_memory_allocate`, a `Vec<u8>` of exactly `size` bytes it forgot) and its
        // size; ownership passes to us, as in the SDK's own `get_map_bytes`.
        let status = unsafe {
            proxy_get_header_map_pairs(MapType::HttpRequestHeaders, &mut data, &mut size)
        };
        if status != Status::Ok || data.is_null() {
            return None;
        }
        // SAFETY: see above; the buffer is `size` bytes long with capacity `size`.
        Some(unsafe { Vec::from_raw_parts(data, size, size) })
    }

    fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
        let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(word)).ok()
    }

    /// Whether the serialized map (a little-endian `u32` count, a `u32` name and value length
    /// per header, then each name and value followed by a NUL) holds a header `name`.
    pub fn has_header(map: &[u8], name: &[u8]) -> bool {
        let Some(count) = read_u32(map, 0) else {
            return false;
        };
        let mut at = count.saturating_mul(8).saturating_add(4);
        for entry in 0..count {
            let table = entry.saturating_mul(8).saturating_add(4);
            let (Some(name_len), Some(value_len)) =
                (read_u32(map, table), read_u32(map, table.saturating_add(4)))
            else {
                return false;
            };
            if map.get(at..at.saturating_add(name_len)) == Some(name) {
                return true;
            }
            at = at
                .saturating_add(name_len)
                .saturating_add(value_len)
                .saturating_add(2);
        }
        false
    }
}
