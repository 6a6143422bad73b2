//! What a decision comes to: allow, deny, or wait for keys.

use super::allow::Allow;
use super::denial::{denial, Denial, DenyReason};
use crate::keys::key_wait::WaitReason;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<'c> {
    Allow(Allow<'c>),
    Deny(Denial),
    /// Hold the request until this provider's keys change, then decide again; if the host
    /// cannot hold it, answer `otherwise`.
    WaitForKeys {
        provider: usize,
        reason: WaitReason,
        otherwise: Denial,
    },
}

impl Outcome<'_> {
    /// Changes the denial, or the fallback denial of a wait; an allow stays as it is.
    pub(super) fn map_denial(self, change: impl FnOnce(Denial) -> Denial) -> Self {
        match self {
            Outcome::Deny(denial) => Outcome::Deny(change(denial)),
            Outcome::WaitForKeys {
                provider,
                reason,
                otherwise,
            } => Outcome::WaitForKeys {
                provider,
                reason,
                otherwise: change(otherwise),
            },
            allow => allow,
        }
    }
}

pub(super) fn deny(reason: DenyReason, description: &'static str) -> Outcome<'static> {
    Outcome::Deny(denial(reason, description))
}
