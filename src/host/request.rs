//! One HTTP request: decide on its headers, or wait for keys.

use super::local_response;
use super::outcome::decide_and_apply;
use super::worker::Worker;
use crate::decision::reply::NOT_CONFIGURED_DETAILS;
use crate::decision::WaitPermission;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use std::rc::Rc;

/// `worker` is `None` when the plugin has no valid configuration (Envoy normally refuses to
/// start such a plugin): every request gets a 503, fail closed. One context type for both
/// cases: each type brings its own copies of the SDK's trait methods into the module.
pub struct Request {
    context_id: u32,
    worker: Option<Rc<Worker>>,
}

impl Request {
    pub fn new(context_id: u32, worker: Option<Rc<Worker>>) -> Self {
        Request { context_id, worker }
    }
}

impl Context for Request {}

/// The SDK drops a request when Envoy deletes its context (right after the stream is done):
/// a client that gave up must not be answered later. Drop rather than `on_done`, so the module
/// need not export `proxy_on_done`: one call into the VM less per request.
impl Drop for Request {
    fn drop(&mut self) {
        if let Some(worker) = &self.worker {
            worker.waiters.borrow_mut().forget(self.context_id);
        }
    }
}

impl HttpContext for Request {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        let Some(worker) = &self.worker else {
            let body = br#"{"error":"temporarily_unavailable","error_description":"rolegate is not configured"}"#;
            local_response::send_raw(
                503,
                NOT_CONFIGURED_DETAILS,
                body,
                &[("content-type", b"application/json")],
                -1,
            );
            return Action::Pause;
        };
        let wait = WaitPermission {
            for_first_keys: true,
            for_refetch: true,
        };
        decide_and_apply(worker, self.context_id, wait, false)
    }

    /// Envoy continues a stream whose headers it was told to hold as soon as a later callback
    /// says Continue (or is not exported): a request waiting for keys would reach the upstream
    /// with its first body chunk, undecided. So body and trailers are held while it waits.
    fn on_http_request_body(&mut self, _body_size: usize, _end_of_stream: bool) -> Action {
        self.hold_while_waiting()
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.hold_while_waiting()
    }
}

impl Request {
    /// Pause (buffer the body) while the request waits for keys, or has no configuration to be
    /// decided by (it was answered 503); continue once it was allowed.
    fn hold_while_waiting(&self) -> Action {
        match &self.worker {
            Some(worker) if !worker.waiters.borrow().is_parked(self.context_id) => Action::Continue,
            _ => Action::Pause,
        }
    }
}
