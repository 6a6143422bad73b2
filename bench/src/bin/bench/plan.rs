//! What is measured, and in which order: one round drives every selected case once.

use crate::envoy_config::{Filter, Setup};
use Filter::*;
use TokenPath::{Cold, Hot};

/// Which tokens the requests carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPath {
    /// One token, sent again and again: served from the filter's verified-token cache.
    Hot,
    /// Many distinct tokens, more than the cache holds: every request is verified afresh.
    Cold,
}

/// One set-up driven with one kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Case {
    pub setup: Setup,
    pub path: TokenPath,
}

impl Case {
    pub const fn new(filter: Filter, access_log: bool, path: TokenPath) -> Case {
        Case {
            setup: Setup::new(filter, access_log),
            path,
        }
    }

    /// `hot`, `cold`, or `-` for a filter that does not look at tokens.
    pub fn path_label(self) -> &'static str {
        match (self.setup.filter.authenticates(), self.path) {
            (false, _) => "-",
            (true, TokenPath::Hot) => "hot",
            (true, TokenPath::Cold) => "cold",
        }
    }

    /// The name `BENCH_CASES` knows it by: `rolegate-log-cold`, `floor`.
    pub fn name(self) -> String {
        match self.path_label() {
            "-" => self.setup.slug(),
            path => format!("{}-{path}", self.setup.slug()),
        }
    }
}

/// Every case, in the order of a forward round. Rounds are interleaved (every case once per
/// round, then the next round), so drift in the machine's load spreads over all cases instead
/// of landing on one. Set-ups that do not look at tokens send the hot token too, so every
/// set-up gets the same bytes.
///
/// The main comparisons (jwt_authn + rbac, the baseline, passthrough) run without and with the
/// access log: a log line costs every set-up the same few microseconds, which brings every
/// ratio closer to 1. The floor and the feature costs (path screen, a claim) run without it;
/// the decision record is measured with it, as the log is what prints the record.
pub const ALL: [Case; 19] = [
    Case::new(Passthrough, false, Hot),
    Case::new(Floor, false, Hot),
    Case::new(JwtAuthn, false, Hot),
    Case::new(Rolegate, false, Hot),
    Case::new(Baseline, false, Hot),
    Case::new(RolegateUnscreened, false, Hot),
    Case::new(JwtAuthnClaims, false, Hot),
    Case::new(RolegateClaims, false, Hot),
    Case::new(JwtAuthn, false, Cold),
    Case::new(Rolegate, false, Cold),
    Case::new(Baseline, false, Cold),
    Case::new(Passthrough, true, Hot),
    Case::new(JwtAuthn, true, Hot),
    Case::new(Rolegate, true, Hot),
    Case::new(Baseline, true, Hot),
    Case::new(RolegateUnrecorded, true, Hot),
    Case::new(JwtAuthn, true, Cold),
    Case::new(Rolegate, true, Cold),
    Case::new(Baseline, true, Cold),
];

/// A named subset of the cases for `BENCH_CASES`, with the cases its comparisons need.
struct Group {
    name: &'static str,
    help: &'static str,
    member: fn(Case) -> bool,
}

const fn group(name: &'static str, help: &'static str, member: fn(Case) -> bool) -> Group {
    Group { name, help, member }
}

const GROUPS: [Group; 7] = [
    group("all", "every case", |_| true),
    group("nolog", "every case without the access log", |c| {
        !c.setup.access_log
    }),
    group("log", "every case with the access log", |c| {
        c.setup.access_log
    }),
    group(
        "main",
        "passthrough, jwt_authn + rbac and rolegate, with and without the log",
        |c| matches!(c.setup.filter, Passthrough | JwtAuthn | Rolegate),
    ),
    group(
        "baseline",
        "rolegate and the baseline, with and without the log",
        |c| matches!(c.setup.filter, Rolegate | Baseline),
    ),
    group(
        "wasm",
        "passthrough, the floor and rolegate, hot, no log",
        |c| {
            !c.setup.access_log
                && c.path == Hot
                && matches!(c.setup.filter, Passthrough | Floor | Rolegate)
        },
    ),
    group(
        "features",
        "path screen, role + azp and decision record, with rolegate hot",
        |c| {
            c.path == Hot
                && matches!(
                    c.setup.filter,
                    Rolegate
                        | RolegateUnscreened
                        | JwtAuthnClaims
                        | RolegateClaims
                        | RolegateUnrecorded
                )
        },
    ),
];

/// `BENCH_CASES`: case names and group names, separated by commas or spaces; the cases any of
/// them names, in the order of [`ALL`].
pub fn select(text: &str, source: &str) -> Result<Vec<Case>, String> {
    let mut wanted: Vec<Case> = Vec::new();
    for item in text.split([',', ' ']).filter(|i| !i.is_empty()) {
        let group = GROUPS.iter().find(|g| g.name == item);
        let named: Vec<Case> = match group {
            Some(g) => ALL.into_iter().filter(|c| (g.member)(*c)).collect(),
            None => ALL.into_iter().filter(|c| c.name() == item).collect(),
        };
        if named.is_empty() {
            return Err(format!(
                "{source}: no case or group {item:?}\n\n{}",
                describe_choices()
            ));
        }
        wanted.extend(named);
    }
    let cases: Vec<Case> = ALL.into_iter().filter(|c| wanted.contains(c)).collect();
    if cases.is_empty() {
        return Err(format!("{source}: no cases\n\n{}", describe_choices()));
    }
    Ok(cases)
}

/// The groups and case names, for `--help` and errors.
pub fn describe_choices() -> String {
    let mut text = String::from("groups:\n");
    for g in GROUPS {
        text.push_str(&format!("  {:<10} {}\n", g.name, g.help));
    }
    let names: Vec<String> = ALL.iter().map(|c| c.name()).collect();
    text.push_str(&format!("cases: {}\n", names.join(", ")));
    text
}

/// The order of round `number`: every other round runs backwards. A run measured right after
/// another set-up's run was seen to gain or lose up to 9% by its place alone (two identical
/// rolegate set-ups back to back differed by 0.91x in one order, 1.00x when alternated), so no
/// set-up may always come second.
pub fn round_order(cases: &[Case], number: u32) -> impl Iterator<Item = Case> + '_ {
    let backwards = number.is_multiple_of(2);
    (0..cases.len()).filter_map(move |i| {
        let at = if backwards { cases.len() - 1 - i } else { i };
        cases.get(at).copied()
    })
}

/// The set-ups `cases` drive, each once, in their order.
pub fn setups(cases: &[Case]) -> Vec<Setup> {
    let mut setups: Vec<Setup> = Vec::new();
    for case in cases {
        if !setups.contains(&case.setup) {
            setups.push(case.setup);
        }
    }
    setups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_other_round_runs_backwards() {
        let forwards: Vec<Case> = round_order(&ALL, 1).collect();
        let mut backwards: Vec<Case> = round_order(&ALL, 2).collect();
        assert_eq!(forwards, ALL.to_vec());
        backwards.reverse();
        assert_eq!(backwards, ALL.to_vec());
    }

    #[test]
    fn case_and_group_names_are_unique() {
        let mut names: Vec<String> = ALL.iter().map(|c| c.name()).collect();
        assert!(
            names.contains(&"rolegate-log-cold".to_string()),
            "{names:?}"
        );
        assert!(names.contains(&"floor".to_string()), "{names:?}");
        names.extend(GROUPS.iter().map(|g| g.name.to_string()));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ALL.len() + GROUPS.len(), "a name used twice");
    }

    #[test]
    fn selects_names_and_groups_in_round_order() {
        let cases = select("rolegate-cold, floor", "X").unwrap();
        let names: Vec<String> = cases.iter().map(|c| c.name()).collect();
        assert_eq!(names, ["floor", "rolegate-cold"]);
        assert_eq!(select("all", "X").unwrap(), ALL.to_vec());
        assert_eq!(select("wasm", "X").unwrap().len(), 3);
        assert_eq!(setups(&select("baseline", "X").unwrap()).len(), 4);
        let err = select("rolegate-hot,nope", "BENCH_CASES").unwrap_err();
        assert!(
            err.starts_with("BENCH_CASES: no case or group \"nope\""),
            "{err}"
        );
        assert!(select(" , ", "X").is_err());
    }
}
