//! Which rule a request falls under, or why none can be chosen.

use super::denial::{denial, Denial, DenyReason};
use super::host_pattern;
use super::request_headers::RequestHeaders;
use super::rules::{self, RequestTarget};
use crate::config::{Config, PathScreening};
use crate::request::path_screen;
use std::borrow::Cow;

pub const NON_CANONICAL_PATH: &str = "request path is not in canonical form";
pub const PORT_CHANGES_THE_RULE: &str =
    "the port in the request's authority changes which rule applies";

/// Why no rule could be chosen for a request: each of these has two readings that pick
/// different rules, and rolegate cannot know which one Envoy or the upstream takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetRefusal {
    NonCanonical(path_screen::NonCanonical),
    /// With its `;` parameters the path picks another rule than without them (Tomcat, Jetty
    /// and Spring route without them).
    ParametersChangeTheRule,
    /// With its port the authority picks another rule than without it (Envoy drops the port
    /// for virtual-host selection under `ignore_port_in_host_matching`).
    PortChangesTheRule,
}

impl TargetRefusal {
    /// The denial: 400 either way, counted as `path` or `host`.
    pub fn denial(self) -> Denial {
        match self {
            TargetRefusal::NonCanonical(_) | TargetRefusal::ParametersChangeTheRule => {
                denial(DenyReason::Path, NON_CANONICAL_PATH)
            }
            TargetRefusal::PortChangesTheRule => denial(DenyReason::Host, PORT_CHANGES_THE_RULE),
        }
    }
}

impl std::fmt::Display for TargetRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetRefusal::NonCanonical(why) => why.fmt(f),
            TargetRefusal::ParametersChangeTheRule => f.write_str(
                "the path's ;parameters change which rule applies (Tomcat and Spring route without them)",
            ),
            TargetRefusal::PortChangesTheRule => f.write_str(
                "the authority's port changes which rule applies (Envoy ignores it for virtual \
                 hosts under ignore_port_in_host_matching): list the host with its port in \
                 match.hosts, or strip ports in the connection manager (strip_any_host_port)",
            ),
        }
    }
}

/// The index of the rule for the raw `:authority`, `method` and the raw `:path`. With path
/// screening on, a path that is not canonical gets no rule, and neither does one whose `;`
/// parameters would make Tomcat route it under another rule than the one that matches it as
/// written. Nor does an authority whose port changes the rule.
pub fn select_rule(
    config: &Config,
    authority: &str,
    method: &str,
    raw_path: &[u8],
) -> Result<Option<usize>, TargetRefusal> {
    let host = host_pattern::as_written(authority);
    let host_without_port = host_pattern::without_port(authority);
    let first = |path: &str| {
        let pick = |host| {
            let target = RequestTarget { host, method, path };
            rules::first_match(&config.rules, &target)
        };
        let index = pick(host);
        match host_without_port {
            Some(other) if pick(other) != index => Err(TargetRefusal::PortChangesTheRule),
            _ => Ok(index),
        }
    };
    match config.path_screening {
        PathScreening::Off => {
            let path = std::str::from_utf8(raw_path).unwrap_or_default();
            first(rules::path_only(path))
        }
        PathScreening::Reject => {
            let screened = path_screen::screen(raw_path).map_err(TargetRefusal::NonCanonical)?;
            let index = first(&screened.matched)?;
            match &screened.without_parameters {
                Some(stripped) if first(stripped)? != index => {
                    Err(TargetRefusal::ParametersChangeTheRule)
                }
                _ => Ok(index),
            }
        }
    }
}

// Not inlined: see "Function size" in lib.rs.
#[inline(never)]
pub(super) fn match_rule(
    config: &Config,
    request: &dyn RequestHeaders,
) -> Result<Option<usize>, Denial> {
    // `:method` only matters when some rule names methods.
    let method = if config.rules.iter().any(|r| r.methods.is_some()) {
        request.header_bytes(":method")
    } else {
        None
    };
    // `:authority` only matters when some rule names hosts.
    let authority = if config.rules.iter().any(|r| r.hosts.is_some()) {
        request.header_bytes(":authority")
    } else {
        None
    };
    let path = request.header_bytes(":path");
    select_rule(
        config,
        as_text(&authority),
        as_text(&method),
        path.as_deref().unwrap_or_default(),
    )
    .map_err(TargetRefusal::denial)
}

/// A pseudo-header that is not text counts as empty: no rule matches it.
fn as_text<'v>(value: &'v Option<Cow<'_, [u8]>>) -> &'v str {
    value
        .as_deref()
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or_default()
}
