//! What the soak collects: wrk's per-class counts, Envoy's stats, Envoy's memory over time, and
//! what Envoy's log says about the Wasm VM, the key-set fetches and the dry run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rolegate_bench::wrk;
use rolegate_testkit::Envoy;

use crate::corpus::Class;

/// wrk's counts for one class of request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KindCount {
    /// The class's name ([`Class::name`]).
    pub kind: String,
    pub sent: u64,
    pub right: u64,
    pub wrong: u64,
}

/// What `soak.lua` reported.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub kinds: Vec<KindCount>,
    /// The first wrong answers, described.
    pub wrong: Vec<String>,
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    pub timeouts: u64,
    /// Responses that arrived when no request was waiting (there must be none).
    pub stray: u64,
}

impl Load {
    pub fn requests_per_second(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 * 1e6 / self.duration_us as f64
    }

    /// wrk's counts of `class`.
    pub fn of(&self, class: Class) -> Option<&KindCount> {
        self.kinds.iter().find(|k| k.kind == class.name())
    }

    pub fn wrong_count(&self) -> u64 {
        self.kinds.iter().map(|k| k.wrong).sum()
    }

    pub fn socket_errors(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }

    /// Requests sent but never answered: one per connection still waiting when wrk stopped,
    /// wrk's own check of the script's first request, and any lost to a closed connection.
    pub fn unanswered(&self) -> u64 {
        self.kinds
            .iter()
            .map(|k| k.sent.saturating_sub(k.right + k.wrong))
            .sum()
    }
}

const KIND_TAG: &str = "ROLEGATE_SOAK_KIND ";
const WRONG_TAG: &str = "ROLEGATE_SOAK_WRONG ";
const TOTAL_TAG: &str = "ROLEGATE_SOAK_TOTAL ";

/// `key=value` fields of a tagged line.
fn fields(line: &str) -> impl Iterator<Item = (&str, &str)> {
    line.split(' ').filter_map(|f| f.split_once('='))
}

fn number(key: &str, value: &str) -> Result<u64, String> {
    value
        .parse()
        .map_err(|_| format!("bad wrk result {key}={value:?}"))
}

/// Reads `soak.lua`'s lines out of wrk's output.
pub fn parse_load(output: &wrk::Output) -> Result<Load, String> {
    let mut load = Load::default();
    let total = output
        .tagged(TOTAL_TAG)
        .next()
        .ok_or_else(|| format!("no result line from {}", output.describe()))?;
    for (key, value) in fields(total) {
        let slot = match key {
            "requests" => &mut load.requests,
            "duration_us" => &mut load.duration_us,
            "p50_us" => &mut load.p50_us,
            "p99_us" => &mut load.p99_us,
            "max_us" => &mut load.max_us,
            "connect" => &mut load.connect_errors,
            "read" => &mut load.read_errors,
            "write" => &mut load.write_errors,
            "timeout" => &mut load.timeouts,
            "stray" => &mut load.stray,
            _ => continue,
        };
        *slot = number(key, value)?;
    }
    for line in output.tagged(KIND_TAG) {
        let mut count = KindCount::default();
        for (key, value) in fields(line) {
            match key {
                "kind" => count.kind = value.to_string(),
                "sent" => count.sent = number(key, value)?,
                "right" => count.right = number(key, value)?,
                "wrong" => count.wrong = number(key, value)?,
                _ => {}
            }
        }
        load.kinds.push(count);
    }
    load.wrong = output.tagged(WRONG_TAG).map(str::to_string).collect();
    Ok(load)
}

/// Envoy's stats at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(Vec<(String, String)>);

impl Snapshot {
    /// The stats of rolegate and of the Wasm runtime.
    pub fn take(envoy: &Envoy) -> Result<Snapshot, String> {
        envoy.stats("rolegate|wasm").map(Snapshot)
    }

    /// A stat's value (0 when Envoy does not have it).
    pub fn get(&self, name: &str) -> u64 {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0)
    }

    /// The names of the stats starting with `prefix`.
    pub fn names(&self, prefix: &str) -> Vec<&str> {
        self.0
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with(prefix))
            .collect()
    }
}

pub const FETCH_SUCCESS: &str = "wasmcustom.rolegate.jwks.aad.fetch_success";
pub const FETCH_FAILURE: &str = "wasmcustom.rolegate.jwks.aad.fetch_failure";
pub const REFETCH: &str = "wasmcustom.rolegate.jwks.aad.unknown_kid_refetch";
pub const KEY_SET_AGE: &str = "wasmcustom.rolegate.jwks.aad.key_set_age_seconds";
pub const VMS_CREATED: &str = "wasm.envoy.wasm.runtime.v8.created";
pub const VMS_ACTIVE: &str = "wasm.envoy.wasm.runtime.v8.active";
/// Envoy's counters of VM reloads after a failure (`wasm.<plugin>.vm_reload*`).
pub const VM_RELOAD_PREFIX: &str = "wasm.rolegate.vm_reload";

/// rolegate's own stats.
pub const DECISIONS_PREFIX: &str = "wasmcustom.rolegate.";

/// Whether a stat counts decisions: `allowed`, `denied.<reason>`, `dry_run.denied.<reason>`,
/// `rule.<name>.allowed` and `.denied`.
pub fn is_decision_counter(name: &str) -> bool {
    let Some(rest) = name.strip_prefix(DECISIONS_PREFIX) else {
        return false;
    };
    rest == "allowed"
        || rest.starts_with("denied.")
        || rest.starts_with("dry_run.denied.")
        || (rest.starts_with("rule.") && (rest.ends_with(".allowed") || rest.ends_with(".denied")))
}

/// The decision counters a request of `class` raises (README "Rolling out"): a would-be denial
/// under the dry-run rule counts only `dry_run.denied.<reason>`, neither `denied` nor its rule's
/// `denied`, and it is not `allowed`.
pub fn decision_counters(class: Class) -> Vec<String> {
    let rule = class.rule.name();
    let stat = |name: String| format!("{DECISIONS_PREFIX}{name}");
    match (class.kind.reason(), class.rule.dry_run()) {
        (None, _) => vec![stat("allowed".into()), stat(format!("rule.{rule}.allowed"))],
        (Some(reason), false) => vec![
            stat(format!("denied.{reason}")),
            stat(format!("rule.{rule}.denied")),
        ],
        (Some(reason), true) => vec![stat(format!("dry_run.denied.{reason}"))],
    }
}

/// What was seen while the load ran.
#[derive(Debug, Default)]
pub struct Watch {
    /// (seconds since the load started, Envoy's resident memory in KiB), every 10 s.
    pub rss: Vec<(u64, u64)>,
    /// The oldest the filter's key set got, from its `key_set_age_seconds` gauge (each second).
    pub max_key_set_age: u64,
    /// When it was oldest, seconds since the load started.
    pub max_key_set_age_at: u64,
    /// Envoy was gone at some point.
    pub envoy_exited: bool,
    /// Stats reads that failed.
    pub stat_errors: u64,
}

const RSS_EVERY: Duration = Duration::from_secs(10);

/// Samples Envoy every second until `done()`: the key set's age each second, memory every 10 s
/// and once more at the end.
pub fn watch(envoy: &mut Envoy, done: impl Fn() -> bool) -> Watch {
    let started = Instant::now();
    let mut w = Watch::default();
    let mut next_rss = Duration::ZERO;
    while !done() {
        let elapsed = started.elapsed();
        if !envoy.is_running() {
            w.envoy_exited = true;
            break;
        }
        if elapsed >= next_rss {
            if let Ok(kib) = envoy.rss_kib() {
                w.rss.push((next_rss.as_secs(), kib));
            }
            next_rss += RSS_EVERY;
        }
        match Snapshot::take(envoy) {
            Ok(stats) => {
                let age = stats.get(KEY_SET_AGE);
                if age > w.max_key_set_age {
                    w.max_key_set_age = age;
                    w.max_key_set_age_at = elapsed.as_secs();
                }
            }
            Err(_) => w.stat_errors += 1,
        }
        let next_second = Duration::from_secs(elapsed.as_secs() + 1);
        std::thread::sleep(next_second.saturating_sub(started.elapsed()).min(RSS_EVERY));
    }
    if let Ok(kib) = envoy.rss_kib() {
        w.rss.push((started.elapsed().as_secs(), kib));
    }
    w
}

/// Strings in Envoy's log that mean the Wasm VM failed or was replaced: a trap or a panic in
/// the module (V8 reports "Function: proxy_on_... failed: Uncaught RuntimeError: ..." with an
/// in-VM backtrace), a VM marked failed, a plugin that failed to load, a restart.
pub const VM_FAILURE_MARKERS: [&str; 10] = [
    "panicked at",
    "Function: proxy_on_",
    "Uncaught RuntimeError",
    "in-VM backtrace",
    "Wasm VM failed",
    "wasm trap",
    "failed to load",
    "VM restart",
    "vm_reload",
    "][critical][",
];

/// What Envoy's log says.
#[derive(Debug, Default)]
pub struct LogScan {
    /// Lines with a [`VM_FAILURE_MARKERS`] string: how many, and the first few.
    pub vm_failures: usize,
    pub vm_failure_lines: Vec<String>,
    /// Other error-level lines: how many, and the first few.
    pub errors: usize,
    pub error_lines: Vec<String>,
    /// rolegate's "key set fetch ... failed: <why>" warnings, by why.
    pub fetch_failures: Vec<(String, u64)>,
    /// rolegate's "key set ... fetched" lines.
    pub fetched: u64,
    /// rolegate's "dry run: would deny (<reason>)" lines, by reason.
    pub dry_run_lines: BTreeMap<String, u64>,
}

const KEPT_LINES: usize = 10;
const FETCH_FAILED: &str = "key set fetch for provider aad failed: ";
const FETCH_FAILED_END: &str = "; keeping the last good keys";
const WOULD_DENY: &str = "dry run: would deny (";

pub fn scan_log(text: &str) -> LogScan {
    let mut scan = LogScan::default();
    for line in text.lines() {
        if VM_FAILURE_MARKERS.iter().any(|m| line.contains(m)) {
            scan.vm_failures += 1;
            if scan.vm_failure_lines.len() < KEPT_LINES {
                scan.vm_failure_lines.push(line.to_string());
            }
        } else if line.contains("][error][") {
            scan.errors += 1;
            if scan.error_lines.len() < KEPT_LINES {
                scan.error_lines.push(line.to_string());
            }
        }
        if let Some((_, rest)) = line.split_once(FETCH_FAILED) {
            let why = rest.split(FETCH_FAILED_END).next().unwrap_or(rest).trim();
            match scan.fetch_failures.iter_mut().find(|(w, _)| w == why) {
                Some((_, n)) => *n += 1,
                None => scan.fetch_failures.push((why.to_string(), 1)),
            }
        }
        if line.contains("key set of provider aad fetched") {
            scan.fetched += 1;
        }
        if let Some((_, rest)) = line.split_once(WOULD_DENY) {
            let reason = rest.split(')').next().unwrap_or(rest);
            *scan.dry_run_lines.entry(reason.to_string()).or_default() += 1;
        }
    }
    scan.fetch_failures
        .sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    scan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_scripts_lines() {
        let output = wrk::Output {
            stdout: "Running 1m test\n\
                     ROLEGATE_SOAK_WRONG expired (kid slot 3) at t=5 s: status 200\n\
                     ROLEGATE_SOAK_KIND kind=expired sent=10 right=8 wrong=1\n\
                     ROLEGATE_SOAK_KIND kind=valid_hot sent=20 right=20 wrong=0\n\
                     ROLEGATE_SOAK_TOTAL requests=29 duration_us=1000000 p50_us=300 p99_us=900 \
                     max_us=1200 connect=0 read=1 write=0 timeout=0 stray=0\n"
                .to_string(),
            stderr: String::new(),
            status: std::process::Command::new("true").status().unwrap(),
        };
        let load = parse_load(&output).unwrap();
        assert_eq!(
            (load.requests, load.read_errors, load.max_us),
            (29, 1, 1200)
        );
        assert_eq!(load.wrong_count(), 1);
        assert_eq!(load.unanswered(), 1);
        assert_eq!(load.wrong.len(), 1);
        assert_eq!(load.requests_per_second(), 29.0);
    }

    #[test]
    fn sorts_log_lines() {
        let log = "\
[2026-01-01 00:00:00.000][1][warning][wasm] [context.cc:1] wasm log rolegate rolegate: key set fetch for provider aad failed: status 500; keeping the last good keys, retrying with back-off
[2026-01-01 00:00:01.000][1][warning][wasm] [context.cc:1] wasm log rolegate rolegate: key set fetch for provider aad failed: status 500; keeping the last good keys, retrying with back-off
[2026-01-01 00:00:02.000][1][info][wasm] [context.cc:1] wasm log rolegate rolegate: key set of provider aad fetched: 4 usable of 4 keys
[2026-01-01 00:00:02.500][1][info][wasm] [context.cc:1] wasm log rolegate rolegate: dry run: would deny (role) under rule trial, client c1: token lacks a required role
[2026-01-01 00:00:02.600][1][info][wasm] [context.cc:1] wasm log rolegate rolegate: dry run: would deny (missing) under rule trial: a Bearer token is required
[2026-01-01 00:00:02.700][1][info][wasm] [context.cc:1] wasm log rolegate rolegate: dry run: would deny (role) under rule trial, client c1: token lacks a required role
[2026-01-01 00:00:03.000][1][error][wasm] [wasm.cc:1] Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable
[2026-01-01 00:00:04.000][1][error][upstream] [x.cc:1] something else
";
        let scan = scan_log(log);
        assert_eq!(scan.fetch_failures, vec![("status 500".to_string(), 2)]);
        assert_eq!(scan.fetched, 1);
        assert_eq!((scan.vm_failures, scan.errors), (1, 1));
        assert_eq!(
            scan.dry_run_lines,
            BTreeMap::from([("missing".to_string(), 1), ("role".to_string(), 2)])
        );
    }

    #[test]
    fn a_would_be_denial_counts_only_under_dry_run() {
        use crate::corpus::{Kind, Rule};
        let trial = |kind| {
            decision_counters(Class {
                kind,
                rule: Rule::Trial,
            })
        };
        assert_eq!(
            trial(Kind::Expired),
            vec!["wasmcustom.rolegate.dry_run.denied.expired"]
        );
        assert_eq!(
            trial(Kind::ValidHot),
            vec![
                "wasmcustom.rolegate.allowed",
                "wasmcustom.rolegate.rule.trial.allowed"
            ]
        );
        let calc = decision_counters(Class {
            kind: Kind::Tampered,
            rule: Rule::Calc,
        });
        assert_eq!(
            calc,
            vec![
                "wasmcustom.rolegate.denied.signature",
                "wasmcustom.rolegate.rule.calc.denied"
            ]
        );
        assert!(is_decision_counter("wasmcustom.rolegate.rule.trial.denied"));
        assert!(!is_decision_counter(FETCH_SUCCESS));
    }
}
