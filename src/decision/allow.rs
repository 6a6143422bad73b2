//! An allowed request, and the header changes it makes.

use super::denial::{denial, Denial, DenyReason};
use super::request_headers::RequestHeaders;
use crate::config::{ClaimToHeader, Config};
use std::rc::Rc;

/// What an allowed request's headers become. Names are borrowed from the configuration and
/// values shared with the token cache: allowing a request copies neither.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allow<'c> {
    /// The index of the rule that allowed the request.
    pub rule: usize,
    /// The verified token's provider; `None` when no token was verified (see `verified`).
    pub provider: Option<usize>,
    /// The verified token's client (`azp`/`appid`).
    pub client_id: Option<Rc<str>>,
    pub(super) claim_headers: &'c [ClaimToHeader],
    /// The token's value for each claim header, by position; a header without one is removed,
    /// so a client cannot supply it. `None` for an anonymous request: all are removed.
    pub(super) values: Option<Rc<[Option<Rc<str>>]>>,
    /// Every header a token may come in, removed unless `forward` is set; none for an
    /// anonymous request, which has no verified token to protect.
    pub(super) token_headers: &'c [String],
}

impl<'c> Allow<'c> {
    /// A pass under rule `rule` with no accepted token: an anonymous rule, or a request that
    /// goes on only because a dry run recorded its denial. Every claim header is removed (so a
    /// client cannot supply one) and the token headers stay.
    pub fn without_token(config: &'c Config, rule: usize) -> Self {
        Allow {
            rule,
            provider: None,
            client_id: None,
            claim_headers: &config.claim_to_headers,
            values: None,
            token_headers: &[],
        }
    }

    /// Whether a token was verified (false for an anonymous rule or a dry-run pass): only a
    /// verified token has a provider.
    pub fn verified(&self) -> bool {
        self.provider.is_some()
    }

    fn claim_values(&self) -> impl Iterator<Item = (&'c str, Option<&Rc<str>>)> + '_ {
        self.claim_headers.iter().enumerate().map(|(i, c)| {
            let value = self.values.as_ref().and_then(|v| v.get(i)?.as_ref());
            (c.header.as_str(), value)
        })
    }

    /// Set, replacing every client-sent value of the same name.
    pub fn add_headers(&self) -> impl Iterator<Item = (&'c str, &Rc<str>)> + '_ {
        self.claim_values()
            .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Removed: claim headers that get no verified value, and the token unless forwarded.
    pub fn remove_headers(&self) -> impl Iterator<Item = &'c str> + '_ {
        self.claim_values()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name)
            .chain(self.token_headers.iter().map(String::as_str))
    }
}

/// The request's header map, as far as an allowed request changes it.
pub trait HeaderEditor {
    /// Removes every value of `name`; false when the host refused.
    fn remove(&mut self, name: &str) -> bool;
    /// Replaces every value of `name` with `value`; false when the host refused.
    fn set(&mut self, name: &str, value: &str) -> bool;
}

/// A header change the host refused: the request must not go on with a client-sent claim
/// header or an unverified token still in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderChangeFailed<'c> {
    pub header: &'c str,
}

pub const HEADER_CHANGE_FAILED: &str = "request headers could not be changed";

impl HeaderChangeFailed<'_> {
    pub fn denial(&self) -> Denial {
        denial(DenyReason::Internal, HEADER_CHANGE_FAILED)
    }
}

impl<'c> Allow<'c> {
    /// Makes the header changes to `request`, removals first, then removes the underscore
    /// twins of every header changed; stops at the first change the host refuses.
    pub fn apply(
        &self,
        editor: &mut dyn HeaderEditor,
        request: &dyn RequestHeaders,
    ) -> Result<(), HeaderChangeFailed<'c>> {
        for header in self.remove_headers() {
            if !editor.remove(header) {
                return Err(HeaderChangeFailed { header });
            }
        }
        for (header, value) in self.add_headers() {
            if !editor.set(header, value) {
                return Err(HeaderChangeFailed { header });
            }
        }
        self.remove_underscore_twins(editor, request)
    }

    /// Every header this pass may set or remove: the claim headers, and the token headers
    /// when they go.
    fn changed_names(&self) -> impl Iterator<Item = &'c str> + '_ {
        let claim_headers = self.claim_headers;
        let token_headers = self.token_headers;
        claim_headers
            .iter()
            .map(|c| c.header.as_str())
            .chain(token_headers.iter().map(String::as_str))
    }

    /// CGI, WSGI and Rack upstreams read `x_client_id` as `HTTP_X_CLIENT_ID`, just as they
    /// read `x-client-id`, and Envoy passes names with underscores on by default
    /// (`headers_with_underscores_action: ALLOW`). So a client-sent header that names one
    /// rolegate changes, once `_` and `-` are read alike, goes too: otherwise a client could
    /// supply a claim header after all. When the host cannot list the request's headers, the
    /// request is refused rather than let through with a twin in place.
    fn remove_underscore_twins(
        &self,
        editor: &mut dyn HeaderEditor,
        request: &dyn RequestHeaders,
    ) -> Result<(), HeaderChangeFailed<'c>> {
        let Some(twinnable) = self.changed_names().find(|name| name.contains(['-', '_'])) else {
            return Ok(());
        };
        let mut twins: Vec<(String, &'c str)> = Vec::new();
        let listed = request.each_name(&mut |name| {
            if let Some(changed) = self.changed_names().find(|c| is_underscore_twin(name, c)) {
                // A twin of an ASCII name is ASCII.
                let text = String::from_utf8_lossy(name).into_owned();
                twins.push((text, changed));
            }
        });
        if !listed {
            return Err(HeaderChangeFailed { header: twinnable });
        }
        for (twin, changed) in twins {
            if !editor.remove(&twin) {
                return Err(HeaderChangeFailed { header: changed });
            }
        }
        Ok(())
    }
}

/// Whether the request header `name` is another spelling of `changed` once `_` and `-` are
/// read alike (and case is ignored), without being `changed` itself.
fn is_underscore_twin(name: &[u8], changed: &str) -> bool {
    let alike = |a: u8, b: u8| {
        a.eq_ignore_ascii_case(&b) || (matches!(a, b'-' | b'_') && matches!(b, b'-' | b'_'))
    };
    name.len() == changed.len()
        && name != changed.as_bytes()
        && name.iter().zip(changed.bytes()).all(|(&a, b)| alike(a, b))
}
