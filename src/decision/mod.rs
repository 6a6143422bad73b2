//! The request decision: rule, token, key, signature, claims, roles, in that order.
//!
//! Pure: the host supplies headers, keys and the clock, and carries out the outcome.

pub mod claim_condition;
pub mod decision_record;
pub mod dry_run;
pub mod enforcement;
pub mod grpc_reply;
pub mod host_pattern;
pub mod reply;
pub mod rules;

mod allow;
mod denial;
mod outcome;
mod pipeline;
mod request_headers;
mod rule_selection;

// The `decision::` paths the rest of the crate, the CLI, fuzz and tests/ name. Some have no
// user in a given build (the wasm module, or natively without `internals`).
pub use allow::{Allow, HeaderChangeFailed, HeaderEditor};
pub use denial::{Denial, DenyReason};
// Owned by keys/, which needs them without depending on the decision.
pub use crate::keys::key_wait::{WaitPermission, WaitReason};
pub use crate::keys::provider_keys::{KeySetState, ProviderKeys};
pub use outcome::Outcome;
pub use request_headers::RequestHeaders;
#[allow(unused_imports)]
pub use {
    allow::HEADER_CHANGE_FAILED,
    pipeline::{decide, decide_with, Environment, REQUIRED_CLAIM, RULE_CLAIM},
    rule_selection::{select_rule, TargetRefusal, NON_CANONICAL_PATH, PORT_CHANGES_THE_RULE},
};

#[cfg(test)]
mod allow_tests;
#[cfg(test)]
mod denial_tests;
#[cfg(test)]
mod pipeline_tests;
#[cfg(test)]
mod rule_selection_tests;
#[cfg(test)]
mod test_support;
