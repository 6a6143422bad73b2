//! The results: a table of medians over rounds, the comparisons between set-ups (req/s and
//! Envoy CPU per request, paired by round), and `BENCHMARKS.md`.

use crate::counters::Tally;
use crate::envoy_config::Filter::{self, *};
use crate::plan::{self, Case, TokenPath};
use rolegate_bench::machine::Machine;
use rolegate_bench::wrk::Measurement;
use TokenPath::{Cold, Hot};

/// One measured wrk run.
#[derive(Debug, Clone)]
pub struct Sample {
    pub case: Case,
    /// 1-based.
    pub round: u32,
    pub measurement: Measurement,
    /// Envoy's resident memory (KiB) just before and just after the run.
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    /// Envoy's CPU time (user + system, every thread) over the run, in µs.
    pub cpu_us: f64,
}

impl Sample {
    /// Envoy's CPU time per request wrk counted, in µs; 0 for a run without requests.
    pub fn cpu_us_per_request(&self) -> f64 {
        match self.measurement.requests {
            0 => 0.0,
            n => self.cpu_us / n as f64,
        }
    }
}

/// The median; the mean of the two middle values for an even count; 0 for none.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let at = |i: usize| values.get(i).copied().unwrap_or(0.0);
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => at(n / 2),
        _ => (at(n / 2 - 1) + at(n / 2)) / 2.0,
    }
}

fn samples_of(samples: &[Sample], case: Case) -> Vec<&Sample> {
    samples.iter().filter(|s| s.case == case).collect()
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1000.0)
}

/// Thousands separated by spaces: `12 345`.
fn grouped(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn yes_no(on: bool) -> &'static str {
    if on {
        "yes"
    } else {
        "no"
    }
}

/// The results table (Markdown): per set-up and path, medians over rounds.
pub fn table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "| set-up | access log | tokens | req/s | Envoy CPU per request | p50 | p99 | non-200 | \
         Envoy RSS per round, start→end (MiB) |\n\
         |---|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for case in plan::ALL {
        let runs = samples_of(samples, case);
        if runs.is_empty() {
            continue;
        }
        let median_of =
            |f: fn(&Measurement) -> f64| median(runs.iter().map(|s| f(&s.measurement)).collect());
        let rps = median_of(Measurement::requests_per_second);
        let p50 = median_of(|m| m.p50_us as f64);
        let p99 = median_of(|m| m.p99_us as f64);
        let cpu = median(runs.iter().map(|s| s.cpu_us_per_request()).collect());
        let bad: u64 = runs
            .iter()
            .map(|s| s.measurement.non200 + s.measurement.socket_errors)
            .sum();
        let rss = runs
            .iter()
            .map(|s| format!("{}→{}", mib(s.rss_start_kib), mib(s.rss_end_kib)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | {} | {} | {cpu:.1} µs | {} | {} | {} | {} |\n",
            case.setup.filter.label(),
            yes_no(case.setup.access_log),
            case.path_label(),
            grouped(rps),
            ms(p50),
            ms(p99),
            bad,
            rss
        ));
    }
    out
}

/// Two cases compared round by round: `top` over `bottom`.
struct Pair {
    label: &'static str,
    top: Case,
    bottom: Case,
}

const fn pair(label: &'static str, top: Case, bottom: Case) -> Pair {
    Pair { label, top, bottom }
}

const fn case(filter: Filter, access_log: bool, path: TokenPath) -> Case {
    Case::new(filter, access_log, path)
}

/// The comparisons: the main pair, the baseline, the floor and the feature costs, without the
/// access log first, then with it.
const PAIRS: [Pair; 16] = [
    pair(
        "rolegate / jwt_authn + rbac, hot",
        case(Rolegate, false, Hot),
        case(JwtAuthn, false, Hot),
    ),
    pair(
        "rolegate / jwt_authn + rbac, cold",
        case(Rolegate, false, Cold),
        case(JwtAuthn, false, Cold),
    ),
    pair(
        "rolegate / baseline, hot",
        case(Rolegate, false, Hot),
        case(Baseline, false, Hot),
    ),
    pair(
        "rolegate / baseline, cold",
        case(Rolegate, false, Cold),
        case(Baseline, false, Cold),
    ),
    pair(
        "rolegate / floor, hot (what deciding costs)",
        case(Rolegate, false, Hot),
        case(Floor, false, Hot),
    ),
    pair(
        "floor / passthrough (what a Wasm filter costs)",
        case(Floor, false, Hot),
        case(Passthrough, false, Hot),
    ),
    pair(
        "rolegate / passthrough, hot",
        case(Rolegate, false, Hot),
        case(Passthrough, false, Hot),
    ),
    pair(
        "rolegate / rolegate with path_screening off, hot (the path screen's cost)",
        case(Rolegate, false, Hot),
        case(RolegateUnscreened, false, Hot),
    ),
    pair(
        "rolegate / jwt_authn + rbac, role + one claim (azp), hot",
        case(RolegateClaims, false, Hot),
        case(JwtAuthnClaims, false, Hot),
    ),
    pair(
        "rolegate / jwt_authn + rbac, hot",
        case(Rolegate, true, Hot),
        case(JwtAuthn, true, Hot),
    ),
    pair(
        "rolegate / jwt_authn + rbac, cold",
        case(Rolegate, true, Cold),
        case(JwtAuthn, true, Cold),
    ),
    pair(
        "rolegate / baseline, hot",
        case(Rolegate, true, Hot),
        case(Baseline, true, Hot),
    ),
    pair(
        "rolegate / baseline, cold",
        case(Rolegate, true, Cold),
        case(Baseline, true, Cold),
    ),
    pair(
        "rolegate / passthrough, hot",
        case(Rolegate, true, Hot),
        case(Passthrough, true, Hot),
    ),
    pair(
        "rolegate / rolegate with decision_record off, hot (the record's cost, as logged)",
        case(Rolegate, true, Hot),
        case(RolegateUnrecorded, true, Hot),
    ),
    pair(
        "passthrough with the access log / without (the log's own cost)",
        case(Passthrough, true, Hot),
        case(Passthrough, false, Hot),
    ),
];

/// A comparison's figures, round by round (rounds where both cases ran).
pub struct Comparison {
    pub label: &'static str,
    /// `no`, `yes` or `yes / no`.
    pub access_log: &'static str,
    /// req/s of top over bottom.
    pub rps_ratio: Vec<f64>,
    /// CPU per request of top and of bottom, µs.
    pub cpu_top: Vec<f64>,
    pub cpu_bottom: Vec<f64>,
}

impl Comparison {
    fn between(samples: &[Sample], pair: &Pair) -> Comparison {
        let mut c = Comparison {
            label: pair.label,
            access_log: match (pair.top.setup.access_log, pair.bottom.setup.access_log) {
                (false, false) => "no",
                (true, true) => "yes",
                _ => "yes / no",
            },
            rps_ratio: Vec::new(),
            cpu_top: Vec::new(),
            cpu_bottom: Vec::new(),
        };
        for top in samples_of(samples, pair.top) {
            let Some(bottom) = samples
                .iter()
                .find(|s| s.case == pair.bottom && s.round == top.round)
            else {
                continue;
            };
            let below = bottom.measurement.requests_per_second();
            if below > 0.0 {
                c.rps_ratio
                    .push(top.measurement.requests_per_second() / below);
                c.cpu_top.push(top.cpu_us_per_request());
                c.cpu_bottom.push(bottom.cpu_us_per_request());
            }
        }
        c
    }

    pub fn rps_median(&self) -> f64 {
        median(self.rps_ratio.clone())
    }

    /// CPU per request of top over bottom, the median of the rounds' ratios.
    pub fn cpu_ratio_median(&self) -> f64 {
        let ratios = self
            .cpu_top
            .iter()
            .zip(&self.cpu_bottom)
            .filter(|(_, b)| **b > 0.0)
            .map(|(t, b)| t / b)
            .collect();
        median(ratios)
    }

    /// CPU per request of top minus bottom, µs, the median of the rounds' differences.
    pub fn cpu_difference_median(&self) -> f64 {
        let differences = self
            .cpu_top
            .iter()
            .zip(&self.cpu_bottom)
            .map(|(t, b)| t - b)
            .collect();
        median(differences)
    }
}

/// Every comparison whose two cases ran in the same round at least once.
pub fn comparisons(samples: &[Sample]) -> Vec<Comparison> {
    PAIRS
        .iter()
        .map(|pair| Comparison::between(samples, pair))
        .filter(|c| !c.rps_ratio.is_empty())
        .collect()
}

/// The comparisons as a Markdown table: medians of the per-round figures, each round's req/s
/// ratio.
pub fn comparison_table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "| comparison | access log | req/s ratio | req/s ratio per round | Envoy CPU per request \
         | CPU ratio | CPU difference |\n|---|---|---:|---|---:|---:|---:|\n",
    );
    for c in comparisons(samples) {
        let rounds = c
            .rps_ratio
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!(
            "| {} | {} | **{:.2}** | {rounds} | {:.1} / {:.1} µs | {:.2} | {:+.1} µs |\n",
            c.label,
            c.access_log,
            c.rps_median(),
            median(c.cpu_top.clone()),
            median(c.cpu_bottom.clone()),
            c.cpu_ratio_median(),
            c.cpu_difference_median(),
        ));
    }
    out
}

/// The one line the floor is there for: what rolegate's hot path costs over it.
pub fn floor_line(samples: &[Sample]) -> Option<String> {
    let floor = PAIRS.iter().find(|p| p.bottom.setup.filter == Floor)?;
    let c = Comparison::between(samples, floor);
    (!c.rps_ratio.is_empty()).then(|| {
        format!(
            "rolegate's hot path over the Wasm floor (no access log): {:+.1} µs of Envoy CPU per \
             request ({:.1} against {:.1} µs), req/s {:.2}×.",
            c.cpu_difference_median(),
            median(c.cpu_top.clone()),
            median(c.cpu_bottom.clone()),
            c.rps_median()
        )
    })
}

/// The filters' counters as sentences: `rolegate, cold: 246 871 responses counted by wrk;
/// rolegate allowed 246 917`.
pub fn counter_lines(tally: &Tally) -> Vec<String> {
    tally
        .rows()
        .map(|row| {
            let counters = row
                .counters
                .iter()
                .map(|(label, n)| format!("{label} {}", grouped(*n as f64)))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{}, {}: {} responses counted by wrk; {counters}",
                row.case.setup.label(),
                row.case.path_label(),
                grouped(row.requests as f64)
            )
        })
        .collect()
}

/// Everything `BENCHMARKS.md` says.
pub struct Document<'a> {
    pub machine: &'a Machine,
    pub settings: String,
    /// What the baseline set-up loaded, if it ran.
    pub baseline: Option<String>,
    pub samples: &'a [Sample],
    /// Counter evidence that the hot path hit and the cold path missed the caches.
    pub cache_evidence: &'a [String],
    /// The `## Memory` section, if it was measured.
    pub memory: Option<&'a str>,
}

impl Document<'_> {
    pub fn markdown(&self) -> String {
        let m = self.machine;
        let evidence: String = self
            .cache_evidence
            .iter()
            .map(|line| format!("- {line}\n"))
            .collect();
        let floor = floor_line(self.samples)
            .map(|line| format!("{line}\n\n"))
            .unwrap_or_default();
        let baseline = self
            .baseline
            .as_deref()
            .map(|b| format!("| baseline | {b} |\n"))
            .unwrap_or_default();
        format!(
            "# rolegate benchmarks\n\
             \n\
             Generated by `make bench` (driver in `bench/`, Envoy configurations and wrk script in \
             `envoy/bench/`). Do not edit by hand: run it again.\n\
             \n\
             > **Read the ratios, not the figures.** These figures come from one run on a shared, \
             noisy machine (other jobs were running on its {cores} cores). Absolute req/s and \
             latencies say little about your hardware; the ratios between set-ups, measured in \
             interleaved rounds on the same Envoy binary, are what is meaningful.\n\
             \n\
             ## Results\n\
             \n\
             Median over rounds. p50 and p99 are wrk's request latencies. **Envoy CPU per \
             request** is the Envoy process's user + system time over the run (every thread, \
             `/proc/<pid>/stat`) divided by the responses wrk counted: other load on the machine \
             takes req/s from a set-up but hardly changes the CPU it spends on a request. \
             \"non-200\" counts responses other than 200 plus socket errors over all rounds; the \
             bench fails if it is not 0.\n\
             \n\
             {table}\n\
             Comparisons, computed round by round (each round runs every case once, back to \
             back, every other round in reverse order so that no set-up always runs second), \
             then the median: req/s of the first set-up over the second, each round's req/s \
             ratio, both CPU figures per request, their ratio and their difference. Dividing \
             the medians in the table above can give other numbers; the spread of the per-round \
             ratios shows how much other load disturbed the run. Without the access log the \
             ratios are the filters' own; with it each request also pays for a log line, the \
             same for every set-up, and the ratios move towards 1.\n\
             \n\
             {comparisons}\n\
             {floor}\
             The filters' own counters over the measured runs (Envoy counts the few requests \
             still in flight when wrk stops; wrk does not). jwt_authn counts its cache hits and \
             misses; rolegate has no cache counters, but its hot and cold paths differ as \
             jwt_authn's do:\n\
             \n\
             {evidence}\n\
             {memory}\
             ## What was measured\n\
             \n\
             The same Envoy binary runs every set-up, each with `--concurrency 1` and a \
             direct-response route (no upstream), so only the filter chain differs. The main \
             set-ups run twice, in two Envoys: without an access log and with the one below \
             (\"access log: yes\"):\n\
             \n\
             1. **passthrough**: no auth filter ([`envoy/bench/passthrough.yaml`](envoy/bench/passthrough.yaml)).\n\
             2. **jwt_authn + rbac**: Envoy's native filters, `local_jwks` with the key inline, \
             `jwt_cache_config.jwt_cache_size` set, `payload_in_metadata` read by an rbac policy \
             that requires the `roles` claim to hold `invokeRole` on `/calc/`, `azp` copied to \
             `x-client-id` ([`envoy/bench/jwt_authn.yaml`](envoy/bench/jwt_authn.yaml)).\n\
             3. **rolegate**: `dist/rolegate.wasm` in V8 with the same key in `local_jwks`, \
             `token_cache_size` set, rule `/calc/` roles `invokeRole`, `claim_to_headers` azp → \
             x-client-id ([`envoy/bench/rolegate.yaml`](envoy/bench/rolegate.yaml)).\n\
             4. **baseline rolegate**: set-up 3 with the module of an earlier revision \
             (`BENCH_BASELINE_REV`, built by the bench from this repository with that \
             revision's own `make build` and kept under `target/bench-baseline/` by commit; or \
             `BENCH_BASELINE_WASM`). Its rule says `\"prefix\": \"/calc/\"`, the form every \
             revision reads, where set-up 3's says `\"path_separated_prefix\": \"/calc\"`: the \
             same requests match. rolegate over it is what the module's changes since that \
             revision did to the speed.\n\
             \n\
             Without the access log only:\n\
             \n\
             5. **Wasm floor**: [`bench/bare-wasm`](bench/bare-wasm) with `--features floor`, \
             built as rolegate is (`make bench-wasm`: rolegate's release profile, then \
             wasm-metadce keeping rolegate's exports less its tick and HTTP callout, then \
             wasm-opt with the same flags) and loaded with the same `vm_config` \
             ([`envoy/bench/bare_wasm.yaml`](envoy/bench/bare_wasm.yaml)). It does to each \
             request what rolegate does to one it allows: it takes every request header in one \
             `proxy_get_header_map_pairs`, removes `authorization` and sets `x-client-id`, and \
             decides nothing. It is the least a Rust proxy-wasm filter doing this work costs: \
             rolegate over it is what rolegate's decision costs, the floor over the passthrough \
             what running a Wasm filter at all costs.\n\
             6. **rolegate, path_screening off**: set-up 3 with `\"path_screening\": \"off\"` \
             ([`envoy/bench/rolegate_unscreened.yaml`](envoy/bench/rolegate_unscreened.yaml)), \
             driven hot only: set-up 3 over this one is what screening `/calc/add` costs.\n\
             7. **jwt_authn + rbac, role + azp**: set-up 2 whose rbac principal also requires \
             the token's `azp` (a second metadata matcher, ANDed) \
             ([`envoy/bench/jwt_authn_claims.yaml`](envoy/bench/jwt_authn_claims.yaml)), hot only.\n\
             8. **rolegate, role + azp**: set-up 3 whose rule also has `claims: [{{\"claim\": \"azp\", ...}}]` \
             ([`envoy/bench/rolegate_claims.yaml`](envoy/bench/rolegate_claims.yaml)), hot only: \
             set-up 8 over set-up 7 is the comparison with a claim on top of the role.\n\
             \n\
             With the access log only:\n\
             \n\
             9. **rolegate, decision_record off**: set-up 3 with `\"decision_record\": false` \
             ([`envoy/bench/rolegate_unrecorded.yaml`](envoy/bench/rolegate_unrecorded.yaml)), \
             hot only: set-up 3 over this one is what setting the `wasm.rolegate` filter state \
             and printing it in the access log costs per request.\n\
             \n\
             The access log goes to `/dev/null` (the formatting is measured, not the disk) and \
             prints `%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% \
             %FILTER_STATE(wasm.rolegate:PLAIN)%`: rolegate's decision record, `-` for the other \
             filters.\n\
             \n\
             Tokens are RS256 with a 2048-bit key, shaped like Entra ID application tokens \
             (issuer, audience `api://calc`, `roles: [\"invokeRole\"]`, `azp`). **hot**: one \
             token, sent on every request (the caches serve it). **cold**: distinct tokens \
             cycled by [`envoy/bench/tokens.lua`](envoy/bench/tokens.lua), many more than either \
             cache holds, so every request is verified afresh. Before measuring, the driver checks \
             that every auth set-up answers 200 to a good token (with `x-client-id` set and the \
             token header gone), 401 to no token and to a bad signature, and 403 to a token \
             without the role (and, for 7 and 8, to a token of another client); that the floor \
             lets a bad signature through with `x-client-id` set and the token header gone; \
             and that the passthrough leaves the token header in place.\n\
             \n\
             | | |\n\
             |---|---|\n\
             | machine | {cpu}, {cores} cores |\n\
             | date | {date} |\n\
             | Envoy | {envoy} (V8) |\n\
             | module | `dist/rolegate.wasm`, {size} bytes ({kib:.0} KiB) |\n\
             {baseline}\
             | settings | {settings} |\n\
             \n\
             Re-run with `make bench`; `BENCH_ROUNDS`, `BENCH_SECONDS`, `BENCH_WARMUP_SECONDS`, \
             `BENCH_CONNECTIONS`, `BENCH_THREADS`, `BENCH_TOKENS` and `BENCH_CACHE_SIZE` change \
             the settings, `BENCH_CASES` runs a subset of the cases, `BENCH_BASELINE_REV` and \
             `BENCH_BASELINE_WASM` choose the baseline (`cargo run --release -p rolegate-bench \
             -- --help`).\n",
            cores = m.cores,
            table = table(self.samples),
            comparisons = comparison_table(self.samples),
            cpu = m.cpu_model,
            date = m.date,
            envoy = m.envoy_version,
            size = m.module_bytes,
            kib = m.module_bytes as f64 / 1024.0,
            settings = self.settings,
            memory = self.memory.map_or(String::new(), |m| format!("{}\n\n", m.trim_end())),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(filter: Filter, path: TokenPath, round: u32, requests: u64, cpu_us: f64) -> Sample {
        Sample {
            case: Case::new(filter, false, path),
            round,
            measurement: Measurement {
                requests,
                duration_us: 1_000_000,
                p50_us: 500,
                p99_us: 1500,
                ..Measurement::default()
            },
            rss_start_kib: 40 * 1024,
            rss_end_kib: 41 * 1024,
            cpu_us,
        }
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(1234567.4), "1 234 567");
        assert_eq!(grouped(999.0), "999");
    }

    #[test]
    fn comparisons_pair_rounds() {
        let samples = vec![
            sample(JwtAuthn, Hot, 1, 1000, 40_000.0),
            sample(Rolegate, Hot, 1, 900, 27_000.0),
            sample(JwtAuthn, Hot, 2, 2000, 80_000.0),
            sample(Rolegate, Hot, 2, 2200, 66_000.0),
            // Its partner never ran in round 3.
            sample(Rolegate, Hot, 3, 5000, 1.0),
        ];
        let c = comparisons(&samples);
        assert_eq!(c.len(), 1, "only the pair that ran");
        let hot = c.first().unwrap();
        assert_eq!(hot.label, "rolegate / jwt_authn + rbac, hot");
        assert_eq!(hot.rps_ratio, vec![0.9, 1.1]);
        assert!((hot.rps_median() - 1.0).abs() < 1e-9);
        assert_eq!(hot.cpu_top, vec![30.0, 30.0]);
        assert!((hot.cpu_ratio_median() - 0.75).abs() < 1e-9);
        assert!((hot.cpu_difference_median() + 10.0).abs() < 1e-9);
        let t = table(&samples);
        assert!(
            t.contains("| rolegate | no | hot | 2 200 | 30.0 µs | 0.50 ms | 1.50 ms | 0 |"),
            "{t}"
        );
        let ct = comparison_table(&samples);
        assert!(
            ct.contains(
                "| rolegate / jwt_authn + rbac, hot | no | **1.00** | 0.90, 1.10 | 30.0 / 40.0 µs \
                 | 0.75 | -10.0 µs |"
            ),
            "{ct}"
        );
    }

    #[test]
    fn the_floor_line_gives_rolegates_cost_over_it() {
        let samples = vec![
            sample(Floor, Hot, 1, 1000, 20_000.0),
            sample(Rolegate, Hot, 1, 800, 24_000.0),
        ];
        let line = floor_line(&samples).unwrap();
        assert!(
            line.contains("+10.0 µs") && line.contains("0.80×"),
            "{line}"
        );
        assert!(floor_line(&samples[..1]).is_none());
    }
}
