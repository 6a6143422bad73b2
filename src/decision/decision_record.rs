//! The decision as Envoy's access log reads it, `%FILTER_STATE(wasm.rolegate:PLAIN)%`: one
//! line of space-separated `key=value` fields, in this order, each only when known.
//!
//! ```text
//! decision=allowed|denied|dry_run_denied reason=<reason> rule=<rule> provider=<provider> client=<client id>
//! ```
//!
//! - `reason`: the denial's metric name (`role`, `expired`, ...); absent when allowed.
//! - `rule`: the matching rule's `name`, else `rules[<index>]`; absent when no rule matched.
//! - `provider`: the provider whose issuer the token names, once looked up.
//! - `client`: `azp`, else `appid`, only from a token whose signature was found good;
//!   percent-encoded outside `A-Z a-z 0-9 - . _ ~ : @ /`, at most 128 bytes of it.
//!
//! Rule and provider names are letters, digits, `_` and `-` (the configuration refuses others),
//! so no field holds a space or an `=` of its own.

use crate::config::Config;
use crate::decision::{Allow, Denial, DenyReason};

/// Bytes of a client id written at most; the rest is dropped.
pub const MAX_CLIENT_ID_BYTES: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied,
    /// Denied under `dry_run`, and let through.
    DryRunDenied,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allowed => "allowed",
            Decision::Denied => "denied",
            Decision::DryRunDenied => "dry_run_denied",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecisionRecord<'a> {
    pub decision: Decision,
    pub reason: Option<DenyReason>,
    pub rule: Option<usize>,
    pub provider: Option<usize>,
    pub client_id: Option<&'a str>,
}

impl<'a> DecisionRecord<'a> {
    pub fn allowed(allow: &'a Allow<'_>) -> Self {
        DecisionRecord {
            decision: Decision::Allowed,
            reason: None,
            rule: Some(allow.rule),
            provider: allow.provider,
            client_id: allow.client_id.as_deref(),
        }
    }

    /// `rehearsed`: the denial was recorded under `dry_run`, not enforced.
    pub fn denied(denial: &'a Denial, rehearsed: bool) -> Self {
        DecisionRecord {
            decision: if rehearsed {
                Decision::DryRunDenied
            } else {
                Decision::Denied
            },
            reason: Some(denial.reason),
            rule: denial.rule,
            provider: denial.provider,
            client_id: denial.client_id.as_deref(),
        }
    }

    /// Writes the filter-state value into `out`, which is cleared first (the host keeps one
    /// buffer per worker, so a request allocates nothing for its record).
    pub fn encode_into(&self, config: &Config, out: &mut String) {
        out.clear();
        out.push_str("decision=");
        out.push_str(self.decision.name());
        if let Some(reason) = self.reason {
            out.push_str(" reason=");
            out.push_str(reason.name());
        }
        if let Some((index, rule)) = self.rule.and_then(|i| Some((i, config.rules.get(i)?))) {
            out.push_str(" rule=");
            rule.push_label(index, out);
        }
        if let Some(provider) = self.provider.and_then(|p| config.providers.get(p)) {
            out.push_str(" provider=");
            out.push_str(&provider.name);
        }
        if let Some(client) = self.client_id {
            out.push_str(" client=");
            push_client_id(out, client);
        }
    }
}

/// Appends a client id, percent-encoded outside a safe set and cut at `MAX_CLIENT_ID_BYTES`:
/// it comes from a token, so it must not be able to forge fields or log lines.
pub fn push_client_id(out: &mut String, client: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let safe = |b: u8| b.is_ascii_alphanumeric() || b"-._~:@/".contains(&b);
    if client.len() <= MAX_CLIENT_ID_BYTES && client.bytes().all(safe) {
        out.push_str(client);
        return;
    }
    for b in client.bytes().take(MAX_CLIENT_ID_BYTES) {
        if safe(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(
                HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'),
            ));
            out.push(char::from(
                HEX.get(usize::from(b & 15)).copied().unwrap_or(b'0'),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = r#"{"providers":[{"name":"aad","issuer":"i","audiences":["a"],
                 "remote_jwks":{"cluster":"c","uri":"https://login/keys"}}],
                 "rules":[{"name":"calc","match":{"prefix":"/calc/"},"roles":["r"]},
                          {"match":{"prefix":"/"}}]}"#;
        match Config::parse(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn record(
        decision: Decision,
        reason: Option<DenyReason>,
        rule: Option<usize>,
        provider: Option<usize>,
        client_id: Option<&str>,
    ) -> String {
        // A used buffer, as the host's is: what it held must not show.
        let mut out = String::from("decision=allowed stale");
        DecisionRecord {
            decision,
            reason,
            rule,
            provider,
            client_id,
        }
        .encode_into(&config(), &mut out);
        out
    }

    #[test]
    fn fields_in_order_each_only_when_known() {
        assert_eq!(
            record(
                Decision::Allowed,
                None,
                Some(0),
                Some(0),
                Some("5f28c10f-ecd5")
            ),
            "decision=allowed rule=calc provider=aad client=5f28c10f-ecd5"
        );
        assert_eq!(
            record(Decision::Allowed, None, Some(1), None, None),
            "decision=allowed rule=rules[1]"
        );
        assert_eq!(
            record(
                Decision::Denied,
                Some(DenyReason::Missing),
                Some(0),
                None,
                None
            ),
            "decision=denied reason=missing rule=calc"
        );
        assert_eq!(
            record(Decision::Denied, Some(DenyReason::NoRule), None, None, None),
            "decision=denied reason=no_rule"
        );
        assert_eq!(
            record(
                Decision::DryRunDenied,
                Some(DenyReason::Role),
                Some(0),
                Some(0),
                Some("app")
            ),
            "decision=dry_run_denied reason=role rule=calc provider=aad client=app"
        );
        assert_eq!(
            record(
                Decision::Denied,
                Some(DenyReason::RequiredClaim),
                Some(7),
                Some(9),
                None
            ),
            "decision=denied reason=claim",
            "indexes outside the configuration are left out"
        );
    }

    #[test]
    fn a_client_id_cannot_forge_a_field() {
        assert_eq!(
            record(
                Decision::Allowed,
                None,
                None,
                None,
                Some("x decision=denied\n%")
            ),
            "decision=allowed client=x%20decision%3Ddenied%0A%25"
        );
        let long = "a".repeat(300);
        let encoded = record(Decision::Allowed, None, None, None, Some(&long));
        assert_eq!(
            encoded.len(),
            "decision=allowed client=".len() + MAX_CLIENT_ID_BYTES
        );
        assert_eq!(
            record(Decision::Allowed, None, None, None, Some("é")),
            "decision=allowed client=%C3%A9"
        );
    }
}
