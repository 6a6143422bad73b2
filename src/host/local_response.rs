//! rolegate's own answers, through the proxy-wasm ABI directly: the SDK's
//! `send_http_response` passes neither response code details nor a gRPC status.
//!
//! Envoy copies the headers, replaces white space in the details with `_`, and sends the reply
//! once the VM call returns. A gRPC status in 0..=16 makes Envoy answer a gRPC request in gRPC
//! form (HTTP 200, `grpc-status`, `grpc-message` = the body); -1 means none.

use crate::decision::reply::LocalReply;
use crate::request::header_pairs;
use proxy_wasm::types::Status;

extern "C" {
    fn proxy_send_local_response(
        status_code: u32,
        status_code_details_data: *const u8,
        status_code_details_size: usize,
        body_data: *const u8,
        body_size: usize,
        headers_data: *const u8,
        headers_size: usize,
        grpc_status: i32,
    ) -> Status;
}

/// Sends `reply`; false when the host refused.
pub fn send(reply: &LocalReply) -> bool {
    let headers: Vec<(&str, &[u8])> = reply
        .headers
        .iter()
        .map(|(name, value)| (*name, value.as_bytes()))
        .collect();
    send_raw(
        reply.status,
        reply.details,
        reply.body.as_bytes(),
        &headers,
        reply
            .grpc_status
            .and_then(|s| i32::try_from(s).ok())
            .unwrap_or(-1),
    )
}

pub fn send_raw(
    status: u32,
    details: &str,
    body: &[u8],
    headers: &[(&str, &[u8])],
    grpc_status: i32,
) -> bool {
    let headers = header_pairs::serialize(headers);
    // SAFETY: every pointer is valid for its length for the whole call; the host copies what it
    // needs before returning and keeps no pointer.
    let status = unsafe {
        proxy_send_local_response(
            status,
            details.as_ptr(),
            details.len(),
            body.as_ptr(),
            body.len(),
            headers.as_ptr(),
            headers.len(),
            grpc_status,
        )
    };
    status == Status::Ok
}
