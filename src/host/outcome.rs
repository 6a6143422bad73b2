//! Carries out a decision on the current (effective) request context.

use super::clock;
use super::filter_state;
use super::header_editor::RequestHeaderMap;
use super::local_response;
use super::log;
use super::request_snapshot::RequestSnapshot;
use super::worker::Worker;
use crate::decision::decision_record::DecisionRecord;
use crate::decision::dry_run;
use crate::decision::reply::reply_to;
use crate::decision::{
    self, Allow, Denial, DenyReason, Environment, Outcome, RequestHeaders, WaitPermission,
    WaitReason,
};
use crate::keys::shared_fetch_record::RefetchDecision;
use proxy_wasm::hostcalls;
use proxy_wasm::types::Action;

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
            if !changed_headers(worker, &headers, &allow) {
                return Action::Pause;
            }
            worker.metrics.allowed(allow.rule);
            filter_state::record(worker, &DecisionRecord::allowed(&allow));
            go_on(resume)
        }
        Outcome::Deny(denial) => deny(worker, &headers, &denial, resume),
        Outcome::WaitForKeys {
            provider,
            reason,
            otherwise,
        } => {
            if hold(worker, context_id, provider, reason) {
                Action::Pause
            } else {
                deny(worker, &headers, &otherwise, resume)
            }
        }
    }
}

/// Makes an allowed request's header changes; when the host refuses one, refuses the request
/// (it must not go on with a client-sent claim header or an unverified token in place).
fn changed_headers(worker: &Worker, headers: &RequestSnapshot, allow: &Allow<'_>) -> bool {
    match allow.apply(&mut RequestHeaderMap, headers) {
        Ok(()) => true,
        Err(failed) => {
            log::warn(&format!(
                "request header {} could not be changed: request refused",
                failed.header
            ));
            refuse(worker, headers, &failed.denial());
            false
        }
    }
}

/// Lets the request go on (resuming it if it was paused).
fn go_on(resume: bool) -> Action {
    if resume {
        let _ = hostcalls::resume_http_request();
    }
    Action::Continue
}

/// Enforces `denial`, or under a dry run records it and lets the request go on without claim
/// headers.
fn deny(worker: &Worker, headers: &RequestSnapshot, denial: &Denial, resume: bool) -> Action {
    let config = &worker.config;
    if !dry_run::rehearses(config, denial) {
        refuse(worker, headers, denial);
        return Action::Pause;
    }
    // The rule index only names counters on the allowed path; this pass counts under dry_run.
    let rule = denial.rule.unwrap_or_default();
    if !changed_headers(worker, headers, &Allow::without_token(config, rule)) {
        return Action::Pause;
    }
    worker.metrics.dry_run_denied(denial.reason);
    log::info(&dry_run::log_line(config, denial));
    filter_state::record(worker, &DecisionRecord::denied(denial, true));
    go_on(resume)
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

/// Answers the request with rolegate's reply for `denial` (gRPC for a gRPC request).
fn refuse(worker: &Worker, headers: &RequestSnapshot, denial: &Denial) {
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
    filter_state::record(worker, &DecisionRecord::denied(denial, false));
    let content_type = headers.header_bytes("content-type");
    local_response::send(&reply_to(denial, content_type.as_deref()));
}
