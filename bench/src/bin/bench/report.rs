//! The results: a table of medians over rounds, the ratios between set-ups, and `BENCHMARKS.md`.

use crate::counters::Tally;
use crate::envoy_config::Setup;
use crate::plan::{Case, TokenPath, ROUND};
use rolegate_bench::machine::Machine;
use rolegate_bench::wrk::Measurement;

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

/// The results table (Markdown): per set-up and path, medians over rounds.
pub fn table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "| set-up | tokens | req/s | p50 | p99 | non-200 | Envoy RSS per round, start→end (MiB) |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for case in ROUND {
        let runs = samples_of(samples, case);
        if runs.is_empty() {
            continue;
        }
        let median_of =
            |f: fn(&Measurement) -> f64| median(runs.iter().map(|s| f(&s.measurement)).collect());
        let rps = median_of(Measurement::requests_per_second);
        let p50 = median_of(|m| m.p50_us as f64);
        let p99 = median_of(|m| m.p99_us as f64);
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
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            case.setup.label(),
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

/// A ratio of req/s between two cases, round by round.
pub struct Ratio {
    pub label: String,
    pub per_round: Vec<f64>,
}

impl Ratio {
    fn between(samples: &[Sample], label: &str, top: Case, bottom: Case) -> Ratio {
        let per_round = samples_of(samples, top)
            .iter()
            .filter_map(|t| {
                let b = samples
                    .iter()
                    .find(|s| s.case == bottom && s.round == t.round)?;
                let below = b.measurement.requests_per_second();
                (below > 0.0).then(|| t.measurement.requests_per_second() / below)
            })
            .collect();
        Ratio {
            label: label.to_string(),
            per_round,
        }
    }

    pub fn median(&self) -> f64 {
        median(self.per_round.clone())
    }
}

/// rolegate / jwt_authn (hot, cold), rolegate / passthrough (hot), rolegate / rolegate
/// without the path screen (hot), rolegate / jwt_authn with a claim on top of the role (hot) and
/// rolegate / rolegate without the decision record (hot),
/// paired by round.
pub fn ratios(samples: &[Sample]) -> Vec<Ratio> {
    use Setup::*;
    use TokenPath::{Cold, Hot};
    const PAIRS: [(&str, Setup, Setup, TokenPath); 6] = [
        ("rolegate / jwt_authn + rbac, hot", Rolegate, JwtAuthn, Hot),
        (
            "rolegate / jwt_authn + rbac, cold",
            Rolegate,
            JwtAuthn,
            Cold,
        ),
        ("rolegate / passthrough, hot", Rolegate, Passthrough, Hot),
        (
            "rolegate / rolegate with path_screening off, hot (the path screen's cost)",
            Rolegate,
            RolegateUnscreened,
            Hot,
        ),
        (
            "rolegate / jwt_authn + rbac, role + one claim (azp), hot",
            RolegateClaims,
            JwtAuthnClaims,
            Hot,
        ),
        (
            "rolegate / rolegate with decision_record off, hot (the access log record's cost)",
            Rolegate,
            RolegateUnrecorded,
            Hot,
        ),
    ];
    PAIRS
        .iter()
        .map(|&(label, top, bottom, path)| {
            let case = |setup| Case { setup, path };
            Ratio::between(samples, label, case(top), case(bottom))
        })
        .collect()
}

/// The ratios as a Markdown list: median, then each round.
pub fn ratio_lines(samples: &[Sample]) -> String {
    ratios(samples)
        .iter()
        .map(|r| {
            let rounds = r
                .per_round
                .iter()
                .map(|v| format!("{v:.2}"))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "- {} (req/s): **{:.2}** (rounds: {rounds})\n",
                r.label,
                r.median()
            )
        })
        .collect()
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
             Median over rounds. p50 and p99 are wrk's request latencies. \"non-200\" counts \
             responses other than 200 plus socket errors over all rounds; the bench fails if it \
             is not 0.\n\
             \n\
             {table}\n\
             Ratios of req/s, computed round by round (each round runs every set-up once, \
             back to back, every other round in reverse order so that no set-up always runs \
             second), then the median. Dividing the medians in the table can give another \
             number; the spread of the per-round ratios shows how much other load disturbed the \
             run.\n\
             \n\
             {ratios}\n\
             The filters' own counters over the measured runs (Envoy counts the few requests \
             still in flight when wrk stops; wrk does not). jwt_authn counts its cache hits and \
             misses; rolegate has no cache counters, but its hot and cold paths differ as \
             jwt_authn's do:\n\
             \n\
             {evidence}\n\
             {memory}\
             ## What was measured\n\
             \n\
             The same Envoy binary runs seven set-ups, each with `--concurrency 1` and a \
             direct-response route (no upstream), so only the filter chain differs:\n\
             \n\
             1. **passthrough**: no auth filter ([`envoy/bench/passthrough.yaml`](envoy/bench/passthrough.yaml)).\n\
             2. **jwt_authn + rbac**: Envoy's native filters, `local_jwks` with the key inline, \
             `jwt_cache_config.jwt_cache_size` set, `payload_in_metadata` read by an rbac policy \
             that requires the `roles` claim to hold `invokeRole` on `/calc/`, `azp` copied to \
             `x-client-id` ([`envoy/bench/jwt_authn.yaml`](envoy/bench/jwt_authn.yaml)).\n\
             3. **rolegate**: `dist/rolegate.wasm` in V8 with the same key in `local_jwks`, \
             `token_cache_size` set, rule `/calc/` roles `invokeRole`, `claim_to_headers` azp → \
             x-client-id ([`envoy/bench/rolegate.yaml`](envoy/bench/rolegate.yaml)).\n\
             4. **rolegate, path_screening off**: set-up 3 with `\"path_screening\": \"off\"` \
             ([`envoy/bench/rolegate_unscreened.yaml`](envoy/bench/rolegate_unscreened.yaml)), \
             driven hot only: set-up 3 over this one is what screening `/calc/add` costs.\n\
             5. **jwt_authn + rbac, role + azp**: set-up 2 whose rbac principal also requires \
             the token's `azp` (a second metadata matcher, ANDed) \
             ([`envoy/bench/jwt_authn_claims.yaml`](envoy/bench/jwt_authn_claims.yaml)), hot only.\n\
             6. **rolegate, role + azp**: set-up 3 whose rule also has `claims: [{{\"claim\": \"azp\", ...}}]` \
             ([`envoy/bench/rolegate_claims.yaml`](envoy/bench/rolegate_claims.yaml)), hot only: \
             set-up 6 over set-up 5 is the comparison with a claim on top of the role.\n\
             7. **rolegate, decision_record off**: set-up 3 with `\"decision_record\": false` \
             ([`envoy/bench/rolegate_unrecorded.yaml`](envoy/bench/rolegate_unrecorded.yaml)), \
             hot only: set-up 3 over this one is what setting the `wasm.rolegate` filter state \
             (and printing it in the access log every set-up writes) costs per request.\n\
             \n\
             Tokens are RS256 with a 2048-bit key, shaped like Entra ID application tokens \
             (issuer, audience `api://calc`, `roles: [\"invokeRole\"]`, `azp`). **hot**: one \
             token, sent on every request (the caches serve it). **cold**: distinct tokens \
             cycled by [`envoy/bench/tokens.lua`](envoy/bench/tokens.lua), many more than either \
             cache holds, so every request is verified afresh. Before measuring, the driver checks \
             that every auth set-up answers 200 to a good token (with `x-client-id` set), 401 to \
             no token and to a bad signature, and 403 to a token without the role (and, for \
             5 and 6, to a token of another client).\n\
             \n\
             | | |\n\
             |---|---|\n\
             | machine | {cpu}, {cores} cores |\n\
             | date | {date} |\n\
             | Envoy | {envoy} (V8) |\n\
             | module | `dist/rolegate.wasm`, {size} bytes ({kib:.0} KiB) |\n\
             | settings | {settings} |\n\
             \n\
             Re-run with `make bench`; `BENCH_ROUNDS`, `BENCH_SECONDS`, `BENCH_WARMUP_SECONDS`, \
             `BENCH_CONNECTIONS`, `BENCH_THREADS`, `BENCH_TOKENS` and `BENCH_CACHE_SIZE` change \
             the settings (`cargo run --release -p rolegate-bench -- --help`).\n",
            cores = m.cores,
            table = table(self.samples),
            ratios = ratio_lines(self.samples),
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

    fn sample(setup: Setup, path: TokenPath, round: u32, requests: u64) -> Sample {
        Sample {
            case: Case { setup, path },
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
    fn ratios_pair_rounds() {
        let samples = vec![
            sample(Setup::JwtAuthn, TokenPath::Hot, 1, 1000),
            sample(Setup::Rolegate, TokenPath::Hot, 1, 900),
            sample(Setup::JwtAuthn, TokenPath::Hot, 2, 2000),
            sample(Setup::Rolegate, TokenPath::Hot, 2, 2200),
        ];
        let r = ratios(&samples);
        let hot = r.first().unwrap();
        assert_eq!(hot.per_round, vec![0.9, 1.1]);
        assert!((hot.median() - 1.0).abs() < 1e-9);
        assert!(r.get(1).unwrap().per_round.is_empty());
        let t = table(&samples);
        assert!(
            t.contains("| rolegate | hot | 1 550 | 0.50 ms | 1.50 ms | 0 | 40.0→41.0, 40.0→41.0 |"),
            "{t}"
        );
    }
}
