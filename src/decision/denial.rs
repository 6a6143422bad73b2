//! Why a request was refused, before it becomes an HTTP answer.

use std::rc::Rc;

/// Why a request was denied; each reason belongs to one stage of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// The path is not in canonical form (see `path_screen`).
    Path,
    /// The authority's port changes which rule applies (see `host_pattern`).
    Host,
    NoRule,
    Missing,
    /// The token does not parse: structure, encoding, `alg`, `crit`, size.
    Malformed,
    /// A verified token whose `exp` or `nbf` is not a NumericDate (counted as `malformed`).
    BadTimeClaim,
    Signature,
    Expired,
    NotYetValid,
    Issuer,
    Audience,
    UnknownKid,
    WeakKey,
    Role,
    /// A provider's `required_claims` entry does not hold (401, counted as `claim`).
    RequiredClaim,
    /// A rule's `claims` entry does not hold (403, counted as `claim`).
    Claim,
    NoKeys,
    /// The request's headers could not be changed as an allowed request needs.
    Internal,
}

impl DenyReason {
    pub const ALL: [DenyReason; 18] = [
        DenyReason::Path,
        DenyReason::Host,
        DenyReason::NoRule,
        DenyReason::Missing,
        DenyReason::Malformed,
        DenyReason::BadTimeClaim,
        DenyReason::Signature,
        DenyReason::Expired,
        DenyReason::NotYetValid,
        DenyReason::Issuer,
        DenyReason::Audience,
        DenyReason::UnknownKid,
        DenyReason::WeakKey,
        DenyReason::Role,
        DenyReason::RequiredClaim,
        DenyReason::Claim,
        DenyReason::NoKeys,
        DenyReason::Internal,
    ];

    /// Whether a denial for this reason comes after the signature was checked and found good:
    /// only then do the token's claims deserve any trust.
    pub fn after_signature(self) -> bool {
        matches!(
            self,
            DenyReason::Audience
                | DenyReason::Expired
                | DenyReason::NotYetValid
                | DenyReason::BadTimeClaim
                | DenyReason::Role
                | DenyReason::RequiredClaim
                | DenyReason::Claim
        )
    }

    /// The metric name: `rolegate.denied.<name>`.
    pub fn name(self) -> &'static str {
        self.details().strip_prefix("rolegate_").unwrap_or_default()
    }

    /// Envoy's response code details of rolegate's answer: `rolegate_` and the metric name.
    /// One table for both, so they cannot drift apart.
    pub fn details(self) -> &'static str {
        match self {
            DenyReason::Path => "rolegate_path",
            DenyReason::Host => "rolegate_host",
            DenyReason::NoRule => "rolegate_no_rule",
            DenyReason::Missing => "rolegate_missing",
            DenyReason::Malformed | DenyReason::BadTimeClaim => "rolegate_malformed",
            DenyReason::Signature => "rolegate_signature",
            DenyReason::Expired => "rolegate_expired",
            DenyReason::NotYetValid => "rolegate_not_yet_valid",
            DenyReason::Issuer => "rolegate_issuer",
            DenyReason::Audience => "rolegate_audience",
            DenyReason::UnknownKid => "rolegate_unknown_kid",
            DenyReason::WeakKey => "rolegate_weak_key",
            DenyReason::Role => "rolegate_role",
            DenyReason::RequiredClaim | DenyReason::Claim => "rolegate_claim",
            DenyReason::NoKeys => "rolegate_no_keys",
            DenyReason::Internal => "rolegate_internal",
        }
    }
}

/// A refusal, before it is turned into an HTTP answer (see `reply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    /// Short, fixed text: it goes into a header, so it never echoes request content.
    pub description: &'static str,
    /// For `WWW-Authenticate: Bearer realm=...` on a missing token.
    pub realm: Option<String>,
    /// The index of the rule that matched, if one did.
    pub rule: Option<usize>,
    /// For `RequiredClaim` and `Claim`: the index of the entry that failed, in the provider's
    /// `required_claims` or the rule's `claims`.
    pub condition: Option<usize>,
    /// The provider whose issuer the token names, once it was looked up.
    pub provider: Option<usize>,
    /// The token's client (`azp`/`appid`), only when its signature was found good.
    pub client_id: Option<Rc<str>>,
}

pub(super) fn denial(reason: DenyReason, description: &'static str) -> Denial {
    Denial {
        reason,
        description,
        realm: None,
        rule: None,
        condition: None,
        provider: None,
        client_id: None,
    }
}
