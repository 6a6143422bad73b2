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

/// The cases of one round. Rounds are interleaved (every set-up once per round, then the next
/// round), so drift in the machine's load spreads over all set-ups instead of landing on one.
/// The passthrough sends the hot token too, so every set-up gets the same bytes.
pub const ROUND: [Case; 9] = [
    Case::new(Setup::Passthrough, TokenPath::Hot),
    Case::new(Setup::JwtAuthn, TokenPath::Hot),
    Case::new(Setup::Rolegate, TokenPath::Hot),
    Case::new(Setup::RolegateUnscreened, TokenPath::Hot),
    Case::new(Setup::JwtAuthnClaims, TokenPath::Hot),
    Case::new(Setup::RolegateClaims, TokenPath::Hot),
    Case::new(Setup::RolegateUnrecorded, TokenPath::Hot),
    Case::new(Setup::JwtAuthn, TokenPath::Cold),
    Case::new(Setup::Rolegate, TokenPath::Cold),
];

/// The order of round `number`: every other round runs backwards. A run measured right after
/// another set-up's run was seen to gain or lose up to 9% by its place alone (two identical
/// rolegate set-ups back to back differed by 0.91x in one order, 1.00x when alternated), so no
/// set-up may always come second.
pub fn round_order(number: u32) -> impl Iterator<Item = Case> {
    let backwards = number.is_multiple_of(2);
    (0..ROUND.len()).filter_map(move |i| {
        let at = if backwards { ROUND.len() - 1 - i } else { i };
        ROUND.get(at).copied()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_round_runs_backwards() {
        let forwards: Vec<Case> = round_order(1).collect();
        let mut backwards: Vec<Case> = round_order(2).collect();
        assert_eq!(forwards, ROUND.to_vec());
        backwards.reverse();
        assert_eq!(backwards, ROUND.to_vec());
    }
}
