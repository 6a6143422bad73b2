//! Carries out a decision on the current (effective) request context, as the core's
//! `Enforcement` says.

use super::clock;
use super::filter_state;
use super::header_editor::RequestHeaderMap;
use super::local_response;
use super::log;
use super::request_snapshot::RequestSnapshot;
use super::worker::Worker;
use crate::decision::decision_record::DecisionRecord;
use crate::decision::dry_run;
use crate::decision::enforcement::{refusal_log_line, Enforcement, Verdict};
use crate::decision::reply::reply_to;
use crate::decision::{
    self, Denial, Environment, HeaderChangeFailed, RequestHeaders, WaitPermission, WaitReason,
};
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
    let mut enforcement = decide(worker, &headers, wait);
    if enforcement.depends_on_key_state()
        && !worker
            .key_sets
            .borrow_mut()
            .sync(&worker.shared_data)
            .is_empty()
    {
        enforcement = decide(worker, &headers, wait);
    }
    let mut verdict = match enforcement {
        Enforcement::Now(verdict) => verdict,
        Enforcement::Park {
            provider,
            reason,
            otherwise,
        } => {
            if hold(worker, context_id, provider, reason) {
                return Action::Pause;
            }
            otherwise
        }
    };
    if let Some(failed) = verdict.change_headers(&mut RequestHeaderMap, &headers) {
        log_refused_change(&failed);
    }
    match verdict {
        Verdict::Continue(allow) => {
            worker.metrics.allowed(allow.rule);
            filter_state::record(worker, &DecisionRecord::allowed(&allow));
            go_on(resume)
        }
        Verdict::Rehearse { denial, .. } => rehearse(worker, &denial, resume),
        Verdict::Refuse(denial) => {
            refuse(worker, &headers, &denial);
            Action::Pause
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn log_refused_change(failed: &HeaderChangeFailed<'_>) {
    log::warn(&format!(
        "request header {} could not be changed: request refused",
        failed.header
    ));
}

/// Records a denial a dry run lets through (its header changes are made).
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn rehearse(worker: &Worker, denial: &Denial, resume: bool) -> Action {
    worker.metrics.dry_run_denied(denial.reason);
    if log::prints(log::Level::Info) {
        log::info(&dry_run::log_line(&worker.config, denial));
    }
    filter_state::record(worker, &DecisionRecord::denied(denial, true));
    go_on(resume)
}

/// Lets the request go on (resuming it if it was paused).
fn go_on(resume: bool) -> Action {
    if resume {
        let _ = hostcalls::resume_http_request();
    }
    Action::Continue
}

fn decide<'w>(
    worker: &'w Worker,
    headers: &RequestSnapshot,
    wait: WaitPermission,
) -> Enforcement<'w> {
    let keys = worker.key_sets.borrow();
    let env = Environment {
        keys: &*keys,
        verifier: &worker.crypto,
        cache: Some(&worker.verified_tokens),
        now: clock::now_seconds(),
        wait,
    };
    let outcome = decision::decide_with(&worker.config, headers, &env);
    Enforcement::of(&worker.config, outcome)
}

/// Parks the request until the provider's keys change; false when it must be answered now.
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn hold(worker: &Worker, context_id: u32, provider: usize, reason: WaitReason) -> bool {
    let now = clock::now_ms();
    let wait = worker
        .key_sets
        .borrow()
        .wait_for(&worker.shared_data, provider, reason, now);
    let Some(wait) = wait else {
        return false;
    };
    if wait.started_refetch {
        worker.metrics.unknown_kid_refetch(provider);
        log::info(&format!(
            "unknown kid for provider {}: fetching its key set again",
            worker.provider_name(provider)
        ));
    }
    worker
        .waiters
        .borrow_mut()
        .park(context_id, provider, reason, wait, now);
    true
}

/// Answers the request with rolegate's reply for `denial` (gRPC for a gRPC request).
// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
fn refuse(worker: &Worker, headers: &RequestSnapshot, denial: &Denial) {
    if log::prints(log::Level::Debug) {
        log::debug(&refusal_log_line(&worker.config, denial));
    }
    worker.metrics.denied(denial.reason, denial.rule);
    filter_state::record(worker, &DecisionRecord::denied(denial, false));
    let content_type = headers.header_bytes("content-type");
    local_response::send(&reply_to(denial, content_type.as_deref()));
}
