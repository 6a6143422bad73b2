//! What a decision comes to: allow, deny, or wait for keys.

use super::allow::Allow;
use super::denial::{denial, Denial, DenyReason};

/// What the host may do instead of answering at once.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitPermission {
    /// Hold the request until the first key set arrives.
    pub for_first_keys: bool,
    /// Hold the request while the key set is fetched again for an unknown `kid`.
    pub for_refetch: bool,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// No key set yet; the first fetch is under way.
    FirstKeys,
    /// The token's `kid` is not in the key set: it may have just been rotated in.
    UnknownKid,
}

pub(super) fn deny(reason: DenyReason, description: &'static str) -> Outcome<'static> {
    Outcome::Deny(denial(reason, description))
}
