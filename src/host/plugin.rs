//! The root context: configuration, the tick, key-set fetches (it dispatches the calls of
//! `fetch_cycle` and hands their answers back), and answering requests that wait for keys.

use super::clock;
use super::log;
use super::outcome::decide_and_apply;
use super::randomness;
use super::request::Request;
use super::shared_data::HostSharedData;
use super::worker::Worker;
use crate::config::Config;
use crate::keys::fetch_cycle::{self, CallRefusal, FetchCycle, FetchFailure, Step};
use crate::keys::jwks::KeySet;
use crate::keys::shared_data::next_worker_id;
use crate::keys::wait_queue::Resumption;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, MapType, Status};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// How often a worker looks at the shared key-set records: the delay before another worker's
/// fetch result, or an unknown-kid refetch, is acted on. One small shared-data read per
/// remote provider each time.
const TICK: Duration = Duration::from_millis(100);

pub struct Plugin {
    context_id: u32,
    worker: Option<Rc<Worker>>,
    /// Calls in flight: token -> (provider, its fetch cycle waiting for this answer).
    calls: HashMap<u32, (usize, FetchCycle)>,
}

impl Plugin {
    pub fn new(context_id: u32) -> Self {
        Plugin {
            context_id,
            worker: None,
            calls: HashMap::new(),
        }
    }

    /// Starts every fetch this worker won the lease for.
    fn start_due_fetches(&mut self, worker: &Worker) {
        let due = worker
            .key_sets
            .borrow_mut()
            .claim_due(&worker.shared_data, clock::now_ms());
        for provider in due {
            let first = worker
                .config
                .providers
                .get(provider)
                .and_then(FetchCycle::start);
            if let Some((cycle, request)) = first {
                self.call(worker, provider, cycle, request);
            }
        }
    }

    /// Dispatches a request of `provider`'s fetch cycle; its answer goes back to `cycle`.
    fn call(
        &mut self,
        worker: &Worker,
        provider: usize,
        cycle: FetchCycle,
        request: fetch_cycle::Request<'_>,
    ) {
        let sent = hostcalls::dispatch_http_call(
            &request.endpoint.cluster,
            request.headers().to_vec(),
            None,
            vec![],
            request.timeout,
        );
        match sent {
            Ok(token) => {
                self.calls.insert(token, (provider, cycle));
            }
            Err(status) => {
                // The SDK returns only these two; anything else it turns into a panic.
                let refusal = if status == Status::BadArgument {
                    CallRefusal::BadArgument
                } else {
                    CallRefusal::InternalFailure
                };
                self.fetch_failed(worker, provider, &request.refused(refusal));
            }
        }
    }

    // Not inlined: see "Function size" in lib.rs.
    #[inline(never)]
    fn fetch_failed(&self, worker: &Worker, provider: usize, why: &FetchFailure) {
        log::warn(&format!(
            "key set fetch for provider {} failed: {why}; keeping the last good keys, retrying with back-off",
            worker.provider_name(provider)
        ));
        worker.key_sets.borrow_mut().fetch_failed(
            &worker.shared_data,
            provider,
            clock::now_ms(),
            randomness::unit_interval(),
        );
        worker.metrics.fetch(provider, false);
        self.answer_waiters_of(worker, provider);
    }

    // Not inlined: see "Function size" in lib.rs.
    #[inline(never)]
    fn keys_fetched(&self, worker: &Worker, provider: usize, set: KeySet, body: &[u8]) {
        log::info(&format!(
            "key set of provider {} fetched: {} usable of {} keys",
            worker.provider_name(provider),
            set.usable_count(),
            set.keys().len()
        ));
        worker.key_sets.borrow_mut().fetch_succeeded(
            &worker.shared_data,
            provider,
            body,
            set,
            clock::now_ms(),
            randomness::unit_interval(),
        );
        worker.metrics.fetch(provider, true);
        self.answer_waiters_of(worker, provider);
    }

    /// Answers the waiting requests of `provider` that a finished fetch concerns.
    fn answer_waiters_of(&self, worker: &Worker, provider: usize) {
        let completed = worker.key_sets.borrow().completed_fetches(provider);
        let answered = worker
            .waiters
            .borrow_mut()
            .take_answered(provider, completed);
        self.resume(worker, answered);
    }

    /// Decides again for requests taken out of the wait queue, each as far as the queue lets
    /// it wait again, and resumes or answers it.
    fn resume(&self, worker: &Worker, resumptions: Vec<Resumption>) {
        if resumptions.is_empty() {
            return;
        }
        for resumption in resumptions {
            // A request whose stream is gone cannot be selected; skip it.
            if hostcalls::set_effective_context(resumption.context_id).is_ok() {
                decide_and_apply(worker, resumption.context_id, resumption.wait, true);
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }

    /// Reports the key sets' ages, and their going past `max_stale_seconds` and coming back.
    fn record_ages(&self, worker: &Worker) {
        let now = clock::now_ms();
        let mut keys = worker.key_sets.borrow_mut();
        for provider in 0..worker.config.providers.len() {
            if let Some(age) = keys.age_seconds(provider, now) {
                worker.metrics.key_set_age(provider, age);
            }
        }
        for change in keys.staleness_changes(clock::now_seconds()) {
            worker.metrics.keys_stale(change.provider, change.stale);
            let name = worker.provider_name(change.provider);
            if change.stale {
                log::warn(&format!(
                    "keys of provider {name} are older than max_stale_seconds: \
                     its tokens get 503 until a fetch succeeds"
                ));
            } else {
                log::info(&format!("keys of provider {name} are fresh again"));
            }
        }
    }
}

impl Context for Plugin {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        let Some((provider, cycle)) = self.calls.remove(&token) else {
            return;
        };
        let Some(worker) = self.worker.clone() else {
            return;
        };
        let status = if num_headers == 0 {
            None
        } else {
            hostcalls::get_map_value_bytes(MapType::HttpCallResponseHeaders, ":status")
                .ok()
                .flatten()
                .and_then(|s| std::str::from_utf8(&s).ok()?.parse::<u32>().ok())
        };
        let Some(p) = worker.config.providers.get(provider) else {
            return;
        };
        let step = cycle.answered(p, status, body_size, || {
            hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
                .ok()
                .flatten()
                .unwrap_or_default()
        });
        match step {
            Step::Call(cycle, endpoint) => {
                self.call(&worker, provider, cycle, cycle.request(&endpoint));
            }
            Step::Fetched { set, body } => self.keys_fetched(&worker, provider, set, &body),
            Step::Failed(why) => self.fetch_failed(&worker, provider, &why),
        }
        self.record_ages(&worker);
    }
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _configuration_size: usize) -> bool {
        log::read_level();
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        let config = match Config::parse(&bytes) {
            Ok(config) => config,
            Err(errors) => {
                for e in &errors {
                    log::error(&format!("configuration rejected: {e}"));
                }
                log::error(&format!(
                    "plugin not started: {} configuration problem(s)",
                    errors.len()
                ));
                return false;
            }
        };
        for warning in config.warnings() {
            log::warn(&format!("configuration warning: {warning}"));
        }
        let worker_id = next_worker_id(&HostSharedData, "rolegate/worker-seq", clock::now_ms());
        let worker = Rc::new(Worker::new(config, worker_id));
        worker.key_sets.borrow_mut().sync(&worker.shared_data);
        // Fetches start on the first tick, not here: Envoy configures a throwaway VM on the
        // main thread and destroys it at once; a lease taken there would be held by nobody.
        self.worker = Some(worker);
        self.set_tick_period(TICK);
        true
    }

    fn on_tick(&mut self) {
        log::read_level();
        let Some(worker) = self.worker.clone() else {
            return;
        };
        // Requests may have synced in between, so waiters are matched against the fetch count
        // itself, not against what this sync saw change.
        worker.key_sets.borrow_mut().sync(&worker.shared_data);
        if !worker.waiters.borrow().is_empty() {
            for provider in 0..worker.config.providers.len() {
                self.answer_waiters_of(&worker, provider);
            }
        }
        self.start_due_fetches(&worker);
        let overdue = worker.waiters.borrow_mut().take_overdue(clock::now_ms());
        self.resume(&worker, overdue);
        self.record_ages(&worker);
        worker.metrics.flush();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None, which would take the VM down: a request reaching a plugin
        // that is not configured gets a 503 instead.
        Some(Box::new(Request::new(context_id, self.worker.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
