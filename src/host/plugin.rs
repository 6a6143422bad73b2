//! The root context: configuration, the tick, JWKS fetches, and answering waiting requests.

use super::clock;
use super::log;
use super::outcome::decide_and_apply;
use super::request::Request;
use super::worker::Worker;
use crate::config::{Config, KeySource};
use crate::decision::WaitPermission;
use crate::key_cache::{key_set_from_response, FetchError, MAX_JWKS_BYTES};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{ContextType, MapType};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// Often enough to answer waiters on time and start retries promptly; cheap when idle.
const TICK: Duration = Duration::from_millis(200);

pub struct Plugin {
    context_id: u32,
    worker: Option<Rc<Worker>>,
    /// Dispatched JWKS calls: token -> provider index.
    fetches: HashMap<u32, usize>,
}

impl Plugin {
    pub fn new(context_id: u32) -> Self {
        Plugin {
            context_id,
            worker: None,
            fetches: HashMap::new(),
        }
    }

    fn start_due_fetches(&mut self, worker: &Worker) {
        let now = clock::now_ms();
        let due = worker.keys.borrow_mut().due_fetches(now);
        for provider in due {
            let Some(KeySource::Remote(remote)) =
                worker.config.providers.get(provider).map(|p| &p.keys)
            else {
                continue;
            };
            let headers = vec![
                (":method", "GET"),
                (":path", remote.path.as_str()),
                (":authority", remote.authority.as_str()),
                ("accept", "application/json"),
                ("user-agent", "rolegate"),
            ];
            let timeout = Duration::from_millis(remote.timeout_ms);
            match hostcalls::dispatch_http_call(&remote.cluster, headers, None, vec![], timeout) {
                Ok(token) => {
                    self.fetches.insert(token, provider);
                    worker.keys.borrow_mut().fetch_started(provider, now);
                }
                Err(status) => {
                    log::warn(&format!(
                        "cannot fetch key set of provider {} from cluster {} ({status:?}); is the cluster defined?",
                        provider_name(worker, provider),
                        remote.cluster
                    ));
                    let mut keys = worker.keys.borrow_mut();
                    keys.fetch_started(provider, now);
                    keys.fetch_finished(
                        provider,
                        now,
                        Err(FetchError::NoResponse),
                        clock::jitter(),
                    );
                    drop(keys);
                    worker.metrics.fetch(provider, false);
                    self.answer_waiters(worker, |w| w.provider == provider);
                }
            }
        }
    }

    /// Decides again for the selected waiting requests, now without waiting, and resumes or
    /// answers each one.
    fn answer_waiters(&self, worker: &Worker, select: impl Fn(&super::worker::Waiter) -> bool) {
        let waiting = worker.take_waiters(select);
        if waiting.is_empty() {
            return;
        }
        for context_id in waiting {
            // A request whose stream is gone cannot be selected; skip it.
            if hostcalls::set_effective_context(context_id).is_ok() {
                decide_and_apply(worker, context_id, WaitPermission::default(), true);
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }

    fn record_ages(&self, worker: &Worker) {
        let now = clock::now_ms();
        let keys = worker.keys.borrow();
        for provider in 0..worker.config.providers.len() {
            if let Some(age) = keys.age_seconds(provider, now) {
                worker.metrics.key_set_age(provider, age);
            }
        }
    }
}

fn provider_name(worker: &Worker, provider: usize) -> &str {
    worker
        .config
        .providers
        .get(provider)
        .map_or("?", |p| p.name.as_str())
}

impl Context for Plugin {
    fn on_http_call_response(
        &mut self,
        token: u32,
        num_headers: usize,
        body_size: usize,
        _: usize,
    ) {
        let Some(provider) = self.fetches.remove(&token) else {
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
        let result = if body_size > MAX_JWKS_BYTES {
            Err(FetchError::TooLarge(body_size))
        } else {
            let body = hostcalls::get_buffer(
                proxy_wasm::types::BufferType::HttpCallResponseBody,
                0,
                body_size,
            )
            .ok()
            .flatten()
            .unwrap_or_default();
            key_set_from_response(status, &body)
        };
        let name = provider_name(&worker, provider);
        match &result {
            Ok(set) => log::info(&format!(
                "key set of provider {name} fetched: {} usable of {} keys",
                set.usable_count(),
                set.keys().len()
            )),
            Err(e) => log::warn(&format!(
                "key set fetch for provider {name} failed: {e}; keeping the last good keys and retrying with back-off"
            )),
        }
        let succeeded = result.is_ok();
        worker
            .keys
            .borrow_mut()
            .fetch_finished(provider, clock::now_ms(), result, clock::jitter());
        worker.metrics.fetch(provider, succeeded);
        self.answer_waiters(&worker, |w| w.provider == provider);
        self.record_ages(&worker);
    }
}

impl RootContext for Plugin {
    fn on_configure(&mut self, _configuration_size: usize) -> bool {
        let bytes = hostcalls::get_buffer(
            proxy_wasm::types::BufferType::PluginConfiguration,
            0,
            usize::MAX,
        )
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
        let worker = Rc::new(Worker::new(config, clock::now_ms()));
        self.start_due_fetches(&worker);
        self.worker = Some(worker);
        self.set_tick_period(TICK);
        true
    }

    fn on_tick(&mut self) {
        let Some(worker) = self.worker.clone() else {
            return;
        };
        self.start_due_fetches(&worker);
        let now = clock::now_ms();
        self.answer_waiters(&worker, |w| w.deadline_ms <= now);
        self.record_ages(&worker);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let worker = self.worker.clone()?;
        Some(Box::new(Request::new(context_id, worker)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
