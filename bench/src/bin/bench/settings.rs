//! The benchmark's knobs: environment variables (`BENCH_ROUNDS=5`), overridden by command-line
//! arguments (`--rounds 5`).

use std::path::PathBuf;

use lexopt::prelude::*;
use rolegate_bench::knob::{self, Command, Knob};

use crate::modules::BaselineSource;
use crate::plan::{self, Case};

/// How long and how hard to drive each set-up.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Interleaved rounds; the table shows the median over them.
    pub rounds: u32,
    /// Length of one measured wrk run, in seconds.
    pub seconds: u32,
    /// Length of the warm-up run of each set-up and path, in seconds (0: none).
    pub warmup_seconds: u32,
    /// wrk connections (`-c`).
    pub connections: u32,
    /// wrk threads (`-t`).
    pub threads: u32,
    /// Distinct tokens cycled through on the cold path.
    pub tokens: u32,
    /// Verified-token cache size of both filters, per worker.
    pub cache_size: u32,
    /// Where the report goes; `None` when `--no-write`.
    pub output: Option<PathBuf>,
    /// Only the memory table: no speed rounds, and only the `## Memory` section of the report
    /// is rewritten (`--memory`, `BENCH_MEMORY_ONLY=1`).
    pub memory_only: bool,
    /// `--concurrency` values of the memory table; empty: no memory table.
    pub memory_workers: Vec<u32>,
    /// Envoys started per set-up and worker count in the memory table; the median is shown.
    pub memory_repeats: u32,
    /// The cases of each round (`BENCH_CASES`), in the order of [`plan::ALL`].
    pub cases: Vec<Case>,
    /// What the baseline set-up loads (`BENCH_BASELINE_REV`, `BENCH_BASELINE_WASM`).
    pub baseline: BaselineSource,
}

/// The numeric settings.
const KNOBS: [Knob<Settings>; 8] = [
    Knob {
        field: |s| &mut s.rounds,
        env: "BENCH_ROUNDS",
        arg: "--rounds",
        help: "interleaved rounds; the table shows the median",
        min: 1,
        max: 100,
    },
    Knob {
        field: |s| &mut s.seconds,
        env: "BENCH_SECONDS",
        arg: "--seconds",
        help: "seconds per measured wrk run",
        min: 1,
        max: 3600,
    },
    Knob {
        field: |s| &mut s.warmup_seconds,
        env: "BENCH_WARMUP_SECONDS",
        arg: "--warmup",
        help: "seconds of warm-up per set-up and path, before round 1",
        min: 0,
        max: 600,
    },
    Knob {
        field: |s| &mut s.connections,
        env: "BENCH_CONNECTIONS",
        arg: "--connections",
        help: "wrk connections (-c)",
        min: 1,
        max: 10_000,
    },
    Knob {
        field: |s| &mut s.threads,
        env: "BENCH_THREADS",
        arg: "--threads",
        help: "wrk threads (-t)",
        min: 1,
        max: 64,
    },
    Knob {
        field: |s| &mut s.tokens,
        env: "BENCH_TOKENS",
        arg: "--tokens",
        help: "distinct tokens on the cold path (more than the cache size)",
        min: 2,
        max: 1_000_000,
    },
    Knob {
        field: |s| &mut s.cache_size,
        env: "BENCH_CACHE_SIZE",
        arg: "--cache-size",
        help: "verified-token cache size of both filters",
        min: 1,
        max: 100_000,
    },
    Knob {
        field: |s| &mut s.memory_repeats,
        env: "BENCH_MEMORY_REPEATS",
        arg: "--memory-repeats",
        help: "Envoys per cell of the memory table (the median is shown)",
        min: 1,
        max: 9,
    },
];

/// The memory table's worker counts when none are given.
const MEMORY_WORKERS: [u32; 3] = [1, 2, 4];

/// The baseline when none is given (issue 21): 2026-11-26, before the path screen, the policy
/// breadth (claims, hosts, tenants), the decision record and the hashed token cache.
const BASELINE_REV: &str = "62ef52d";

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rounds: 5,
            seconds: 8,
            warmup_seconds: 2,
            connections: 16,
            threads: 1,
            tokens: 20_000,
            cache_size: 1000,
            output: Some(PathBuf::from("BENCHMARKS.md")),
            memory_only: false,
            memory_workers: MEMORY_WORKERS.to_vec(),
            memory_repeats: 1,
            cases: plan::ALL.to_vec(),
            baseline: BaselineSource::Revision(BASELINE_REV.to_string()),
        }
    }
}

impl Settings {
    /// Reads the environment, then `args` (without the program name).
    pub fn parse(args: &[String]) -> Result<Command<Settings>, String> {
        let mut s = Settings::default();
        knob::read_env(&mut s, &KNOBS)?;
        if let Ok(path) = std::env::var("BENCH_OUTPUT") {
            s.output = Some(PathBuf::from(path));
        }
        if let Ok(flag) = std::env::var("BENCH_MEMORY_ONLY") {
            s.memory_only = !matches!(flag.trim(), "" | "0" | "false" | "no");
        }
        if let Ok(text) = std::env::var("BENCH_MEMORY_WORKERS") {
            s.memory_workers = parse_workers(&text, "BENCH_MEMORY_WORKERS")?;
        }
        if let Ok(text) = std::env::var("BENCH_CASES") {
            s.cases = plan::select(&text, "BENCH_CASES")?;
        }
        if let Some(rev) = non_empty_var("BENCH_BASELINE_REV") {
            s.baseline = BaselineSource::Revision(rev);
        }
        // A module given by path wins over a revision, from wherever each came.
        if let Some(path) = non_empty_var("BENCH_BASELINE_WASM") {
            s.baseline = BaselineSource::Module(PathBuf::from(path));
        }
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| e.to_string())? {
            match arg {
                Short('h') | Long("help") => return Ok(Command::Help(usage())),
                Long("no-write") => s.output = None,
                Long("memory") => s.memory_only = true,
                Long("memory-workers") => {
                    let text = string_value(&mut parser, "--memory-workers needs a list")?;
                    s.memory_workers = parse_workers(&text, "--memory-workers")?;
                }
                Long("cases") => {
                    let text = string_value(&mut parser, "--cases needs a list")?;
                    s.cases = plan::select(&text, "--cases")?;
                }
                Long("baseline-rev") => {
                    let rev = string_value(&mut parser, "--baseline-rev needs a revision")?;
                    if !matches!(s.baseline, BaselineSource::Module(_)) {
                        s.baseline = BaselineSource::Revision(rev);
                    }
                }
                Long("baseline-wasm") => {
                    let path = string_value(&mut parser, "--baseline-wasm needs a path")?;
                    s.baseline = BaselineSource::Module(PathBuf::from(path));
                }
                Long("output") => {
                    let path = parser.value().map_err(|_| "--output needs a path")?;
                    s.output = Some(PathBuf::from(path));
                }
                Long(name) => knob::read_arg(&mut s, &KNOBS, name.into(), &mut parser, usage)?,
                other => return Err(format!("{}\n\n{}", other.unexpected(), usage())),
            }
        }
        if s.tokens <= s.cache_size {
            return Err(format!(
                "the cold path needs more tokens ({}) than the cache holds ({}), or it would hit",
                s.tokens, s.cache_size
            ));
        }
        if s.memory_only && s.memory_workers.is_empty() {
            return Err("--memory with no worker counts (BENCH_MEMORY_WORKERS=none)".to_string());
        }
        Ok(Command::Run(s))
    }

    /// One line for the report: what was run.
    pub fn describe(&self) -> String {
        let warmup = match self.warmup_seconds {
            0 => "no warm-up".to_string(),
            s => format!("after a {s} s warm-up per case"),
        };
        let cases = if self.cases.len() == plan::ALL.len() {
            format!("{} cases per round", self.cases.len())
        } else {
            let names: Vec<String> = self.cases.iter().map(|c| c.name()).collect();
            format!(
                "{} of the {} cases per round ({})",
                self.cases.len(),
                plan::ALL.len(),
                names.join(", ")
            )
        };
        format!(
            "{} round{} × {} s per run ({warmup}), {cases}, wrk -t{} -c{}, {} distinct cold \
             tokens, token caches of {} on both sides, Envoy --concurrency 1",
            self.rounds,
            if self.rounds == 1 { "" } else { "s" },
            self.seconds,
            self.threads,
            self.connections,
            self.tokens,
            self.cache_size
        )
    }

    /// One line for the memory section: what it was measured with.
    pub fn describe_memory(&self) -> String {
        format!(
            "wrk -t{} -c{} over distinct tokens, token caches of {} per worker, {} Envoy{} per \
             cell",
            self.threads,
            self.connections,
            self.cache_size,
            self.memory_repeats,
            if self.memory_repeats == 1 {
                ""
            } else {
                "s (median)"
            }
        )
    }
}

/// The value after an argument, as text; `missing` when there is none.
fn string_value(parser: &mut lexopt::Parser, missing: &str) -> Result<String, String> {
    parser
        .value()
        .map_err(|_| missing.to_string())?
        .string()
        .map_err(|e| e.to_string())
}

fn non_empty_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// `1,2,4` (or spaces between): worker counts, 1 to 64, ascending; `none`: no memory table.
fn parse_workers(text: &str, source: &str) -> Result<Vec<u32>, String> {
    if text.trim() == "none" {
        return Ok(Vec::new());
    }
    let mut workers = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let n = knob::parse_bounded(part, source, 1, 64)?;
        workers.push(u32::try_from(n).map_err(|_| format!("{source}: {n} is too large"))?);
    }
    if workers.is_empty() || !workers.windows(2).all(|w| w.first() < w.get(1)) {
        return Err(format!(
            "{source}: {text:?} is not a list of worker counts in ascending order, e.g. 1,2,4"
        ));
    }
    Ok(workers)
}

fn usage() -> String {
    let mut text = String::from(
        "rolegate-bench: rolegate against jwt_authn + rbac, an earlier rolegate, a Wasm floor \
         and no auth filter, in the same Envoy, without and with an access log\n\n\
         usage: rolegate-bench [options]\n\n",
    );
    text.push_str(&knob::usage(&KNOBS, Settings::default()));
    text.push_str(&format!(
        "  --cases L          the cases of each round: names and groups, below (env \
         BENCH_CASES, default all)\n\
         \x20 --baseline-rev R   the revision the baseline is built from (env \
         BENCH_BASELINE_REV, default {BASELINE_REV}); built once per commit under \
         target/bench-baseline/\n\
         \x20 --baseline-wasm P  a module to load as the baseline instead, relative to the \
         repository root (env BENCH_BASELINE_WASM)\n\
         \x20 --output PATH      report file, relative to the repository root (env \
         BENCH_OUTPUT, default BENCHMARKS.md)\n\
         \x20 --no-write         print the table only\n\
         \x20 --memory           only the memory table; rewrites only the report's Memory \
         section (env BENCH_MEMORY_ONLY=1)\n\
         \x20 --memory-workers L Envoy --concurrency values of the memory table (env \
         BENCH_MEMORY_WORKERS, default 1,2,4; none: skip it)\n\n\
         {}\n\
         Needs .envoy/envoy/_bin/envoy, dist/rolegate.wasm and target/bench-wasm/ (`make build \
         envoy bench-wasm`; ROLEGATE_ENVOY / ROLEGATE_WASM override the first two), git and \
         make for the baseline, and wrk on PATH.\n",
        plan::describe_choices()
    ));
    text
}
