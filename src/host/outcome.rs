//! Carries out a decision on the current (effective) request context.

use super::clock;
use super::log;
use super::request_snapshot::RequestSnapshot;
use super::worker::Worker;
use crate::decision::reply::local_reply;
use crate::decision::{
    self, Denial, DenyReason, Environment, HeaderEditor, Outcome, WaitPermission, WaitReason,
};
use crate::keys::shared_fetch_record::RefetchDecision;
use proxy_wasm::hostcalls;
use proxy_wasm::types::{Action, MapType};

/// Decides for the effective context and carries the outcome out. `resume` is set when the
/// request was paused earlier and must be continued explicitly.
pub fn decide_and_apply(
    worker: &Worker,
    context_id: u32,
    wait: WaitPermission,
    resume: bool,
) -> Action {
    let headers = RequestSnapshot::take();
    let mut outcome = decide(worker, &headers, wait);
    // An answer that turns on the state of the keys is given only after one look at the shared
    // record: another worker may have fetched since this worker's last tick.
    if depends_on_key_state(&outcome)
        && !worker
            .key_sets
            .borrow_mut()
            .sync(&worker.shared_data)
            .is_empty()
    {
        outcome = decide(worker, &headers, wait);
    }
    match outcome {
        Outcome::Allow(allow) => {
            if let Err(failed) = allow.apply(&mut RequestHeaderMap) {
                log::warn(&format!(
                    "request header {} could not be changed: request refused",
                    failed.header
                ));
                send_denial(worker, &failed.denial());
                return Action::Pause;
            }
            worker.metrics.allowed(allow.rule);
            if resume {
                let _ = hostcalls::resume_http_request();
            }
            Action::Continue
        }
        Outcome::Deny(denial) => {
            send_denial(worker, &denial);
            Action::Pause
        }
        Outcome::WaitForKeys {
            provider,
            reason,
            otherwise,
        } => {
            if hold(worker, context_id, provider, reason) {
                Action::Pause
            } else {
                send_denial(worker, &otherwise);
                Action::Pause
            }
        }
    }
}

fn decide<'w>(worker: &'w Worker, headers: &RequestSnapshot, wait: WaitPermission) -> Outcome<'w> {
    let keys = worker.key_sets.borrow();
    let env = Environment {
        keys: &*keys,
        verifier: &worker.crypto,
        cache: Some(&worker.verified_tokens),
        now: clock::now_seconds(),
        wait,
    };
    decision::decide_with(&worker.config, headers, &env)
}

/// The current request's headers in Envoy.
struct RequestHeaderMap;

impl HeaderEditor for RequestHeaderMap {
    fn remove(&mut self, name: &str) -> bool {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, None).is_ok()
    }

    fn set(&mut self, name: &str, value: &str) -> bool {
        hostcalls::set_map_value(MapType::HttpRequestHeaders, name, Some(value)).is_ok()
    }
}

fn depends_on_key_state(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::WaitForKeys { .. } => true,
        Outcome::Deny(denial) => {
            matches!(denial.reason, DenyReason::NoKeys | DenyReason::UnknownKid)
        }
        Outcome::Allow(_) => false,
    }
}

/// Parks the request until the provider's keys change; false when it must be answered now.
fn hold(worker: &Worker, context_id: u32, provider: usize, reason: WaitReason) -> bool {
    let now = clock::now_ms();
    let after_completed = match reason {
        WaitReason::FirstKeys => worker.key_sets.borrow().completed_fetches(provider),
        WaitReason::UnknownKid => {
            let (verdict, completed) =
                worker
                    .key_sets
                    .borrow()
                    .request_refetch(&worker.shared_data, provider, now);
            match verdict {
                RefetchDecision::Started => {
                    worker.metrics.unknown_kid_refetch(provider);
                    log::info(&format!(
                        "unknown kid for provider {}: fetching its key set again",
                        worker.provider_name(provider)
                    ));
                    completed
                }
                RefetchDecision::Joined => completed,
                RefetchDecision::RateLimited => return false,
            }
        }
    };
    worker.add_waiter(context_id, provider, reason, after_completed, now);
    true
}

fn send_denial(worker: &Worker, denial: &Denial) {
    let rule = denial
        .rule
        .and_then(|i| Some(worker.config.rules.get(i)?.label(i)))
        .unwrap_or_else(|| "no rule".to_string());
    log::debug(&format!(
        "denied ({}) under {rule}: {}",
        denial.reason.name(),
        denial.description
    ));
    worker.metrics.denied(denial.reason, denial.rule);
    let reply = local_reply(denial);
    let headers: Vec<(&str, &str)> = reply
        .headers
        .iter()
        .map(|(n, v)| (*n, v.as_str()))
        .collect();
    let _ = hostcalls::send_http_response(reply.status, headers, Some(reply.body.as_bytes()));
}
