//! The root context: configuration, the tick, key-set fetches (JWKS, with OIDC discovery first
//! where configured), and answering requests that wait for keys.

use super::clock;
use super::log;
use super::outcome::decide_and_apply;
use super::randomness;
use super::request::{Request, Unconfigured};
use super::shared_data::HostSharedData;
use super::worker::{Waiter, Worker};
use crate::config::{Config, Endpoint, KeySource};
use crate::decision::{KeyStore, WaitPermission, WaitReason};
use crate::discovery;
use crate::key_cache::{check_status, key_set_from_response, FetchError};
use crate::shared_store::next_worker_id;
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{BufferType, ContextType, MapType};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// How often a worker looks at the shared key-set records: the delay before another worker's
/// fetch result, or an unknown-kid refetch, is acted on. One small shared-data read per
/// remote provider each time.
const TICK: Duration = Duration::from_millis(100);

/// Which call of a fetch cycle an answer belongs to.
#[derive(Clone, Copy)]
enum Stage {
    Document,
    Keys,
}

pub struct Plugin {
    context_id: u32,
    worker: Option<Rc<Worker>>,
    /// Calls in flight: token -> (provider, stage).
    calls: HashMap<u32, (usize, Stage)>,
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
            .keys
            .borrow_mut()
            .claim_due(&worker.store, clock::now_ms());
        for provider in due {
            let first_call = match worker.config.providers.get(provider).map(|p| &p.keys) {
                Some(KeySource::Remote { jwks, fetch }) => {
                    self.call(provider, Stage::Keys, jwks, fetch.timeout_ms)
                }
                Some(KeySource::Discovery {
                    document, fetch, ..
                }) => self.call(provider, Stage::Document, document, fetch.timeout_ms),
                _ => Ok(()),
            };
            if let Err(e) = first_call {
                self.fetch_failed(worker, provider, &e);
            }
        }
    }

    fn call(
        &mut self,
        provider: usize,
        stage: Stage,
        endpoint: &Endpoint,
        timeout_ms: u64,
    ) -> Result<(), String> {
        let headers = vec![
            (":method", "GET"),
            (":path", endpoint.path.as_str()),
            (":authority", endpoint.authority.as_str()),
            ("accept", "application/json"),
            ("user-agent", "rolegate"),
        ];
        let timeout = Duration::from_millis(timeout_ms);
        match hostcalls::dispatch_http_call(&endpoint.cluster, headers, None, vec![], timeout) {
            Ok(token) => {
                self.calls.insert(token, (provider, stage));
                Ok(())
            }
            Err(status) => Err(format!(
                "cannot call cluster {} ({status:?}); is the cluster defined?",
                endpoint.cluster
            )),
        }
    }

    fn fetch_failed(&self, worker: &Worker, provider: usize, why: &str) {
        log::warn(&format!(
            "key set fetch for provider {} failed: {why}; keeping the last good keys, retrying with back-off",
            worker.provider_name(provider)
        ));
        worker.keys.borrow_mut().fetch_failed(
            &worker.store,
            provider,
            clock::now_ms(),
            randomness::unit_interval(),
        );
        worker.metrics.fetch(provider, false);
        self.answer_waiters_of(worker, provider);
    }

    fn keys_fetched(&self, worker: &Worker, provider: usize, status: Option<u32>, body: &[u8]) {
        let max = worker
            .keys
            .borrow()
            .fetch_settings(provider)
            .map_or(0, |f| f.max_jwks_bytes);
        match key_set_from_response(status, body, max) {
            Ok(set) => {
                log::info(&format!(
                    "key set of provider {} fetched: {} usable of {} keys",
                    worker.provider_name(provider),
                    set.usable_count(),
                    set.keys().len()
                ));
                worker.keys.borrow_mut().fetch_succeeded(
                    &worker.store,
                    provider,
                    body,
                    set,
                    clock::now_ms(),
                    randomness::unit_interval(),
                );
                worker.metrics.fetch(provider, true);
                self.answer_waiters_of(worker, provider);
            }
            Err(e) => self.fetch_failed(worker, provider, &e.to_string()),
        }
    }

    fn document_fetched(
        &mut self,
        worker: &Worker,
        provider: usize,
        status: Option<u32>,
        body: &[u8],
    ) {
        let Some(p) = worker.config.providers.get(provider) else {
            return;
        };
        let KeySource::Discovery {
            jwks_cluster,
            fetch,
            ..
        } = &p.keys
        else {
            return;
        };
        let next = check_status(status)
            .and_then(|()| discovery::jwks_uri(body, &p.issuers).map_err(FetchError::Discovery))
            .map_err(|e| format!("discovery document: {e}"))
            .and_then(|uri| {
                Endpoint::new(jwks_cluster, &uri).ok_or_else(|| "bad jwks_uri".to_string())
            })
            .and_then(|endpoint| self.call(provider, Stage::Keys, &endpoint, fetch.timeout_ms));
        if let Err(e) = next {
            self.fetch_failed(worker, provider, &e);
        }
    }

    /// Answers the waiting requests of `provider` that a finished fetch concerns.
    fn answer_waiters_of(&self, worker: &Worker, provider: usize) {
        let completed = worker.keys.borrow().completed_fetches(provider);
        let done = worker.take_waiters(|w| w.provider == provider && completed > w.after_completed);
        self.answer(worker, done, false);
    }

    /// Decides again for parked requests and resumes or answers each. A request that waited
    /// for the first keys may still find its `kid` missing (keys fetched before a rotation):
    /// it may then start or join one refetch. Nothing waits twice for the same reason, and a
    /// request past its deadline waits no more.
    fn answer(&self, worker: &Worker, waiters: Vec<Waiter>, overdue: bool) {
        if waiters.is_empty() {
            return;
        }
        for waiter in waiters {
            let wait = WaitPermission {
                for_first_keys: false,
                for_refetch: !overdue && waiter.reason == WaitReason::FirstKeys,
            };
            // A request whose stream is gone cannot be selected; skip it.
            if hostcalls::set_effective_context(waiter.context_id).is_ok() {
                decide_and_apply(worker, waiter.context_id, wait, true);
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }

    fn record_ages(&self, worker: &Worker) {
        let now = clock::now_ms();
        let now_seconds = clock::now_seconds();
        let keys = worker.keys.borrow();
        let mut was_stale = worker.keys_stale.borrow_mut();
        for provider in 0..worker.config.providers.len() {
            if let Some(age) = keys.age_seconds(provider, now) {
                worker.metrics.key_set_age(provider, age);
            }
            let stale = keys
                .usable_until(provider)
                .is_some_and(|until| now_seconds >= until);
            if let Some(before) = was_stale.get_mut(provider) {
                if *before != stale {
                    *before = stale;
                    worker.metrics.keys_stale(provider, stale);
                    let name = worker.provider_name(provider);
                    if stale {
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
        let Some((provider, stage)) = self.calls.remove(&token) else {
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
        let limit = match stage {
            Stage::Document => discovery::MAX_DOCUMENT_BYTES,
            Stage::Keys => worker
                .keys
                .borrow()
                .fetch_settings(provider)
                .map_or(0, |f| f.max_jwks_bytes),
        };
        if body_size > limit {
            let e = FetchError::TooLarge(body_size);
            self.fetch_failed(&worker, provider, &e.to_string());
            return;
        }
        let body = hostcalls::get_buffer(BufferType::HttpCallResponseBody, 0, body_size)
            .ok()
            .flatten()
            .unwrap_or_default();
        match stage {
            Stage::Document => self.document_fetched(&worker, provider, status, &body),
            Stage::Keys => self.keys_fetched(&worker, provider, status, &body),
        }
        self.record_ages(&worker);
    }
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _configuration_size: usize) -> bool {
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
        worker.keys.borrow_mut().sync(&worker.store);
        // Fetches start on the first tick, not here: Envoy configures a throwaway VM on the
        // main thread and destroys it at once; a lease taken there would be held by nobody.
        self.worker = Some(worker);
        self.set_tick_period(TICK);
        true
    }

    fn on_tick(&mut self) {
        let Some(worker) = self.worker.clone() else {
            return;
        };
        // Requests may have synced in between, so waiters are matched against the fetch count
        // itself, not against what this sync saw change.
        worker.keys.borrow_mut().sync(&worker.store);
        if !worker.waiters.borrow().is_empty() {
            for provider in 0..worker.config.providers.len() {
                self.answer_waiters_of(&worker, provider);
            }
        }
        self.start_due_fetches(&worker);
        let now = clock::now_ms();
        let overdue = worker.take_waiters(|w| w.deadline_ms <= now);
        self.answer(&worker, overdue, true);
        self.record_ages(&worker);
        worker.metrics.flush();
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        // The SDK panics on None, which would take the VM down: a request reaching a plugin
        // that is not configured gets a 503 instead.
        Some(match self.worker.clone() {
            Some(worker) => Box::new(Request::new(context_id, worker)),
            None => Box::new(Unconfigured),
        })
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
