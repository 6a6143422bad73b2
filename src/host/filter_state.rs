//! The decision in Envoy's filter state, for the access log: `%FILTER_STATE(wasm.rolegate:PLAIN)%`
//! (format in `decision::decision_record`).
//!
//! One `proxy_set_property` call per request. Envoy stores a property set by a plugin under
//! `wasm.<path>`, as a mutable bytes value living as long as the filter chain; PLAIN prints it
//! as it is. The SDK's `set_property` builds the path in a new vector on every call; the path
//! here is a constant.

use super::worker::Worker;
use crate::decision::decision_record::DecisionRecord;
use proxy_wasm::types::Status;

extern "C" {
    fn proxy_set_property(
        path_data: *const u8,
        path_size: usize,
        value_data: *const u8,
        value_size: usize,
    ) -> Status;
}

/// The property path: the filter state key becomes `wasm.rolegate`.
const PATH: &[u8] = b"rolegate";

/// Sets the current request's decision record, unless `decision_record` is off; a host that
/// refuses is ignored (the record is for the access log only).
pub fn record(worker: &Worker, record: &DecisionRecord<'_>) {
    if !worker.config.decision_record {
        return;
    }
    let mut value = worker.record_buffer.borrow_mut();
    record.encode_into(&worker.config, &mut value);
    // SAFETY: both pointers are valid for their lengths for the whole call; the host copies
    // the bytes and keeps neither pointer.
    let _ = unsafe { proxy_set_property(PATH.as_ptr(), PATH.len(), value.as_ptr(), value.len()) };
}
