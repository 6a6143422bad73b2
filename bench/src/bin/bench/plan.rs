//! What is measured, and in which order: one round drives every set-up and path once.

use crate::envoy_config::Setup;

/// Which tokens the requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPath {
    /// One token, sent again and again: served from the filter's verified-token cache.
    Hot,
    /// Many distinct tokens, more than the cache holds: every request is verified afresh.
    Cold,
}

/// One set-up driven with one kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Case {
    pub setup: Setup,
    pub path: TokenPath,
}

impl Case {
    const fn new(setup: Setup, path: TokenPath) -> Case {
        Case { setup, path }
    }

    /// `hot`, `cold`, or `-` for the passthrough, which does not look at tokens.
    pub fn path_label(self) -> &'static str {
        match (self.setup.authenticates(), self.path) {
            (false, _) => "-",
            (true, TokenPath::Hot) => "hot",
            (true, TokenPath::Cold) => "cold",
        }
    }
}

/// The order of one round. Rounds are interleaved (every set-up once per round, then the next
/// round), so drift in the machine's load spreads over all set-ups instead of landing on one.
/// The passthrough sends the hot token too, so every set-up gets the same bytes.
pub const ROUND: [Case; 6] = [
    Case::new(Setup::Passthrough, TokenPath::Hot),
    Case::new(Setup::JwtAuthn, TokenPath::Hot),
    Case::new(Setup::Rolegate, TokenPath::Hot),
    Case::new(Setup::RolegateUnscreened, TokenPath::Hot),
    Case::new(Setup::JwtAuthn, TokenPath::Cold),
    Case::new(Setup::Rolegate, TokenPath::Cold),
];
