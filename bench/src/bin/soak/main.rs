//! `make soak`: Envoy (`--concurrency 2`) with rolegate under wrk for `SOAK_SECONDS` (default
//! 120), with a mix of valid, wrong-role, expired, forged, tampered, retired-key, malformed and
//! missing tokens, sent to an enforced rule and to a `dry_run` rule, while the IdP it fetches
//! keys from rotates them every 20 s and flaps (500s, hangs past the timeout, garbage, dropped
//! connections).
//!
//! Every response wrk gets is checked against the answer its request must get (`soak.lua`), and
//! a checker thread checks sampled requests of every kind and rule in full. It passes with no
//! wrong answer, rolegate's decision counters matching what was sent, no Wasm VM failure or
//! restart, Envoy still running, and Envoy's memory growing less than 10% from the end of the
//! warm-up to the end. It prints the figures and exits non-zero on any failure.

mod checker;
mod corpus;
mod evidence;
mod idp;
mod keyring;
mod schedule;
mod settings;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use rolegate_bench::machine::Machine;
use rolegate_bench::paths::Paths;
use rolegate_bench::{knob, template, tokens, wrk};
use rolegate_testkit::envoy::{Bootstrap, Launch};
use rolegate_testkit::Envoy;

use checker::Checker;
use corpus::{Class, Corpus, Rule};
use evidence::{Load, LogScan, Snapshot, Watch};
use idp::Idp;
use keyring::Keyring;
use settings::Settings;

/// Envoy workers.
const CONCURRENCY: u32 = 2;
/// Verified tokens each worker caches (the filter's default).
const CACHE_SIZE: usize = 1000;
/// The checker's pause between two requests.
const CHECK_PAUSE: Duration = Duration::from_millis(50);
/// Envoy's memory may grow less than this from the end of the warm-up to the end.
const RSS_GROWTH_LIMIT: f64 = 0.10;
/// How long the first key set may take to arrive.
const FIRST_KEYS_TIMEOUT: Duration = Duration::from_secs(15);
/// Signed tokens kept between runs, under `target/`.
const TOKEN_STORE: &str = "rolegate-soak-tokens";
/// wrk's output, in the working directory.
const WRK_OUTPUT: &str = "wrk.txt";
/// Wrong answers shown, from wrk and from the checker each.
const SHOWN_SAMPLES: usize = 10;
/// Waited before reading the decision counters: each worker hands its counts to Envoy only on
/// its tick (100 ms).
const COUNTS_SETTLE: Duration = Duration::from_secs(1);

fn main() -> ExitCode {
    knob::main("soak", Settings::parse, run)
}

/// Runs the soak; `Ok(false)` when it ran but did not pass.
fn run(settings: &Settings) -> Result<bool, String> {
    let paths = Paths::find("rolegate-soak")?;
    wrk::check_installed()?;
    let machine = Machine::describe(&paths.envoy, &paths.wasm);
    println!(
        "rolegate soak: Envoy {} ({}), {} ({} bytes), {} × {}\n\
         {} s of load (memory baseline after {} s), wrk -t{c} -c{c}, Envoy --concurrency \
         {CONCURRENCY}, token cache {CACHE_SIZE} per worker\n\
         IdP: keys rotate every {} s; once the load starts it cycles: {}\n",
        machine.envoy_version,
        paths.envoy.display(),
        paths.wasm.display(),
        machine.module_bytes,
        machine.cores,
        machine.cpu_model,
        settings.seconds,
        settings.warmup_seconds,
        schedule::ROTATE_SECONDS,
        schedule::describe_cycle(),
        c = settings.connections,
    );
    paths.fresh_work_dir()?;

    let keyring = Keyring::load(&paths.root.join("tests/keys"))?;
    let started = Instant::now();
    let (corpus, reused) = Corpus::build(&keyring, &paths.target(TOKEN_STORE))?;
    println!(
        "{} the signed tokens in {:.1} s; distinct requests: {}",
        if reused { "loaded" } else { "minted" },
        started.elapsed().as_secs_f64(),
        corpus
            .counts()
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let origin = tokens::now();
    let idp = Idp::start(keyring.public_jwks_by_slot(), origin)?;
    let config = template::render(
        &paths.templates.join("soak.yaml"),
        &envoy_values(&paths, idp.port()),
    )?;
    let mut envoy = Launch::new(&paths.envoy, &paths.work.join("envoy"))
        .concurrency(CONCURRENCY)
        .start(&Bootstrap::Yaml(config))
        .map_err(|e| e.to_string())?;
    println!(
        "Envoy pid {}, port {}, admin {}; IdP port {}",
        envoy.pid(),
        envoy.port(),
        envoy.admin_port(),
        idp.port()
    );
    wait_for_first_keys(&envoy)?;
    checker::probe_every_class(&corpus, envoy.port(), origin)
        .map_err(|e| format!("pre-flight: {e}\n{}", envoy.notable_log_tail(20)))?;
    println!("pre-flight: one request of every kind to every rule got its answer\n");

    let measured = drive(settings, &paths, &mut envoy, &idp, corpus, origin)?;
    let figures = Figures {
        settings,
        measured: &measured,
        idp: &idp,
    };
    figures.print();
    let passed = figures.verdict();
    println!(
        "\n(Envoy's configuration and log: {})",
        envoy.dir().display()
    );
    Ok(passed)
}

/// Everything the load produced.
struct Measured {
    load: Load,
    tally: checker::Tally,
    watch: Watch,
    scan: LogScan,
    /// rolegate's and the Wasm runtime's stats before and after the load.
    before: Snapshot,
    after: Snapshot,
    envoy_running: bool,
}

/// Starts the flapping, wrk and the checker, watches Envoy until wrk is done, then collects
/// the evidence.
fn drive(
    settings: &Settings,
    paths: &Paths,
    envoy: &mut Envoy,
    idp: &Idp,
    corpus: Corpus,
    origin: i64,
) -> Result<Measured, String> {
    let host = format!("127.0.0.1:{}", envoy.port());
    let requests_file = paths.work.join("requests.tsv");
    corpus.write_lua_file(&requests_file, origin, &host)?;
    let wrk = wrk::Wrk {
        script: paths.templates.join("soak.lua"),
        threads: settings.connections,
        connections: settings.connections,
    };
    let url = format!("http://{host}{}", Rule::Calc.path());
    let args = [
        requests_file.display().to_string(),
        settings.connections.to_string(),
    ];
    std::thread::sleep(COUNTS_SETTLE);
    let before = Snapshot::take(envoy)?;

    let flap_from = tokens::now();
    idp.start_flapping(flap_from);
    let checker = Checker::start(Arc::new(corpus), envoy.port(), origin, CHECK_PAUSE)?;
    println!(
        "load started (t+{} s after the rotation origin)",
        flap_from - origin
    );
    let (output, watch) = std::thread::scope(|scope| {
        let load = scope.spawn(|| wrk.run_script(&url, settings.seconds, &args));
        let watch = evidence::watch(envoy, || load.is_finished());
        let output = load
            .join()
            .unwrap_or_else(|_| Err("the wrk thread panicked".into()));
        (output, watch)
    });
    let tally = checker.finish()?;
    let output = output?;
    let wrk_file = paths.work.join(WRK_OUTPUT);
    std::fs::write(&wrk_file, format!("{}{}", output.stdout, output.stderr))
        .map_err(|e| format!("cannot write {}: {e}", wrk_file.display()))?;
    let load = evidence::parse_load(&output)?;
    std::thread::sleep(COUNTS_SETTLE);
    let envoy_running = envoy.is_running();
    let after = if envoy_running {
        Snapshot::take(envoy)?
    } else {
        Snapshot::default()
    };
    let log = std::fs::read_to_string(envoy.log_path()).unwrap_or_default();
    Ok(Measured {
        load,
        tally,
        watch,
        scan: evidence::scan_log(&log),
        before,
        after,
        envoy_running,
    })
}

fn envoy_values(paths: &Paths, idp_port: u16) -> Vec<(&'static str, Value)> {
    vec![
        ("issuer", json!(tokens::ISSUER)),
        ("audience", json!(tokens::AUDIENCE)),
        ("role", json!(tokens::ROLE)),
        ("jwks_uri", json!(idp::jwks_uri())),
        ("cache_seconds", json!(schedule::REFRESH_SECONDS)),
        ("timeout_ms", json!(schedule::FETCH_TIMEOUT_MS)),
        ("cache_size", json!(CACHE_SIZE)),
        ("idp_port", json!(idp_port)),
        ("wasm_path", json!(paths.wasm.display().to_string())),
    ]
}

fn wait_for_first_keys(envoy: &Envoy) -> Result<(), String> {
    let deadline = Instant::now() + FIRST_KEYS_TIMEOUT;
    loop {
        if Snapshot::take(envoy)?.get(evidence::FETCH_SUCCESS) > 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "rolegate fetched no key set within {} s\n{}",
                FIRST_KEYS_TIMEOUT.as_secs(),
                envoy.notable_log_tail(20)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The figures the soak prints, and its verdict.
struct Figures<'a> {
    settings: &'a Settings,
    measured: &'a Measured,
    idp: &'a Idp,
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

impl Figures<'_> {
    fn increase(&self, name: &str) -> u64 {
        let m = self.measured;
        m.after.get(name).saturating_sub(m.before.get(name))
    }

    /// wrk's and the checker's (sent, answered) requests of `class`.
    fn sent(&self, class: Class) -> (u64, u64) {
        let m = self.measured;
        let wrk = m.load.of(class);
        let (wrk_sent, wrk_answered) = wrk.map_or((0, 0), |k| (k.sent, k.right + k.wrong));
        let (checked, checked_right) = m.tally.of(class);
        (wrk_sent + checked, wrk_answered + checked_right)
    }

    /// Every decision counter: (name, rise during the load, least and most it may have risen).
    /// Requests answered were decided; requests sent but unanswered (in flight when wrk stopped,
    /// wrk's own check of the script) may or may not have been.
    fn decision_counters(&self) -> Vec<(String, u64, u64, u64)> {
        let mut rows: Vec<(String, u64, u64, u64)> = self
            .measured
            .after
            .names(evidence::DECISIONS_PREFIX)
            .iter()
            .filter(|n| evidence::is_decision_counter(n))
            .map(|n| (n.to_string(), self.increase(n), 0, 0))
            .collect();
        for class in Class::all() {
            let (sent, answered) = self.sent(class);
            for name in evidence::decision_counters(class) {
                // A counter Envoy does not have rose by 0, which fails its range.
                if !rows.iter().any(|(n, ..)| *n == name) {
                    rows.push((name.clone(), 0, 0, 0));
                }
                if let Some((_, _, least, most)) = rows.iter_mut().find(|(n, ..)| *n == name) {
                    *least += answered;
                    *most += sent;
                }
            }
        }
        rows
    }

    /// Memory at the end of the warm-up and at the end, and the growth between them.
    fn rss_growth(&self) -> Option<(u64, u64, f64)> {
        let m = self.measured;
        let warmup = u64::from(self.settings.warmup_seconds);
        let (_, base) = m.watch.rss.iter().find(|(t, _)| *t >= warmup)?;
        let (_, last) = m.watch.rss.last()?;
        let growth = (*last as f64 - *base as f64) / (*base).max(1) as f64;
        Some((*base, *last, growth))
    }

    fn print(&self) {
        let m = self.measured;
        let l = &m.load;
        println!(
            "\nload: {} responses in {:.1} s = {:.0} req/s; latency p50 {:.2} ms, p99 {:.2} ms, \
             max {:.0} ms; socket errors {} (connect {}, read {}, write {}, timeout {}); \
             unanswered {} (wrk's check of the script's first request, requests in flight when \
             wrk stopped)",
            l.requests,
            l.duration_us as f64 / 1e6,
            l.requests_per_second(),
            l.p50_us as f64 / 1000.0,
            l.p99_us as f64 / 1000.0,
            l.max_us as f64 / 1000.0,
            l.socket_errors(),
            l.connect_errors,
            l.read_errors,
            l.write_errors,
            l.timeouts,
            l.unanswered()
        );
        println!(
            "\nanswers: every wrk response checked against its request's expected answer; the \
             checker's requests checked in full (and timed, from connect to the last byte):"
        );
        println!(
            "  {:<11} {:<5} {:>10} {:>10} {:>7}   {:>8} {:>6} {:>8} {:>8}",
            "kind", "rule", "sent", "right", "wrong", "checker", "wrong", "p50 ms", "max ms"
        );
        for class in Class::all() {
            let w = l.of(class);
            let (sent, right, wrong) = w.map_or((0, 0, 0), |k| (k.sent, k.right, k.wrong));
            let (checked, checked_right) = m.tally.of(class);
            let (median_us, max_us) = m.tally.latency_us(class);
            println!(
                "  {:<11} {:<5} {sent:>10} {right:>10} {wrong:>7}   {checked:>8} {:>6} {:>8.1} {:>8.1}",
                class.kind.name(),
                class.rule.name(),
                checked - checked_right,
                median_us as f64 / 1000.0,
                max_us as f64 / 1000.0
            );
        }
        for line in l.wrong.iter().take(SHOWN_SAMPLES) {
            println!("  wrong (wrk): {line}");
        }
        if l.wrong.len() > SHOWN_SAMPLES {
            println!(
                "  ... {} more first wrong answers of wrk's threads in {WRK_OUTPUT}",
                l.wrong.len() - SHOWN_SAMPLES
            );
        }
        for line in m.tally.wrong.iter().take(SHOWN_SAMPLES) {
            println!("  wrong (checker): {line}");
        }

        let served: Vec<String> = self
            .idp
            .served()
            .iter()
            .map(|(phase, n)| format!("{} {n}", phase.label()))
            .collect();
        println!(
            "\nIdP: key-set requests answered by phase: {}; requests for other paths: {}",
            served.join(", "),
            self.idp.strays()
        );
        println!(
            "rolegate during the load: fetch_success +{}, fetch_failure +{}, \
             unknown_kid_refetch +{}; key set at most {} s old (at t+{} s; outcomes stay certain \
             below {} s)",
            self.increase(evidence::FETCH_SUCCESS),
            self.increase(evidence::FETCH_FAILURE),
            self.increase(evidence::REFETCH),
            m.watch.max_key_set_age,
            m.watch.max_key_set_age_at,
            schedule::MAX_STALENESS_SECONDS
        );
        println!(
            "rolegate decisions during the load (rise; the range the requests sent allow: \
             answered .. sent):"
        );
        for (name, rise, least, most) in self.decision_counters() {
            if rise > 0 || most > 0 {
                let mark = if (least..=most).contains(&rise) {
                    ""
                } else {
                    "   <- out of range"
                };
                println!(
                    "  {:<36} +{rise:<9} {least} .. {most}{mark}",
                    name.trim_start_matches(evidence::DECISIONS_PREFIX)
                );
            }
        }
        let rehearsed: Vec<String> = m
            .scan
            .dry_run_lines
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        println!(
            "Envoy log: dry-run lines (\"would deny\") by reason: {} (Envoy writes its log out \
             in blocks: the last few may not be in the file yet)",
            if rehearsed.is_empty() {
                "none".to_string()
            } else {
                rehearsed.join(", ")
            }
        );
        let failures: Vec<String> = m
            .scan
            .fetch_failures
            .iter()
            .map(|(why, n)| format!("{n} × {why}"))
            .collect();
        println!(
            "Envoy log: {} key sets fetched; failed fetches: {}",
            m.scan.fetched,
            if failures.is_empty() {
                "none".to_string()
            } else {
                failures.join("; ")
            }
        );
        println!(
            "Wasm VMs: created {} -> {}, active {} -> {}, {}",
            m.before.get(evidence::VMS_CREATED),
            m.after.get(evidence::VMS_CREATED),
            m.before.get(evidence::VMS_ACTIVE),
            m.after.get(evidence::VMS_ACTIVE),
            m.after
                .names(evidence::VM_RELOAD_PREFIX)
                .iter()
                .map(|n| format!(
                    "{} {}",
                    n.trim_start_matches("wasm.rolegate."),
                    m.after.get(n)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        );
        println!(
            "Envoy log: {} line(s) of VM failure, {} other error line(s)",
            m.scan.vm_failures, m.scan.errors
        );
        for line in m.scan.vm_failure_lines.iter().chain(&m.scan.error_lines) {
            println!("  {line}");
        }
        let series: Vec<String> = m
            .watch
            .rss
            .iter()
            .map(|(t, kib)| format!("{t} s {}", mib(*kib)))
            .collect();
        println!("\nEnvoy RSS (MiB): {}", series.join(", "));
        if let Some((base, last, growth)) = self.rss_growth() {
            println!(
                "Envoy RSS from the end of the warm-up to the end: {} -> {} MiB ({:+.1}%)",
                mib(base),
                mib(last),
                growth * 100.0
            );
        }
        println!("checker: {} requests, each checked in full", m.tally.sent());
    }

    /// Prints each criterion; true if all hold.
    fn verdict(&self) -> bool {
        let m = self.measured;
        let l = &m.load;
        let every_class = Class::all()
            .into_iter()
            .all(|class| l.of(class).is_some_and(|k| k.right > 0) && m.tally.of(class).1 > 0);
        let counters = self.decision_counters();
        let counted = counters
            .iter()
            .all(|(_, rise, least, most)| (least..=most).contains(&rise));
        // The counters' bounds already hold each dry-run reason above zero; this checks the
        // other record of a would-be denial, Envoy's log (its last lines may lag, not all).
        let rehearsed = Class::all()
            .iter()
            .filter(|c| c.rule.dry_run())
            .filter_map(|c| c.kind.reason())
            .all(|reason| m.scan.dry_run_lines.get(reason).is_some_and(|n| *n > 0));
        let reloads: u64 = m
            .after
            .names(evidence::VM_RELOAD_PREFIX)
            .iter()
            .map(|n| m.after.get(n))
            .sum();
        let growth = self.rss_growth();
        let checks = [
            (
                "zero wrong answers (wrk and checker)".to_string(),
                l.wrong_count() == 0 && m.tally.wrong_count() == 0,
            ),
            (
                "every kind was sent to every rule and answered right (wrk and checker)"
                    .to_string(),
                every_class,
            ),
            (
                "every decision counter rose by the requests answered, at most by those sent \
                 (would-be denials under the dry-run rule only in dry_run.denied)"
                    .to_string(),
                counted,
            ),
            (
                "Envoy's log has a \"would deny\" line for every reason sent to the dry-run rule"
                    .to_string(),
                rehearsed,
            ),
            (
                "every request was answered (no socket errors, no stray responses)".to_string(),
                l.socket_errors() == 0 && l.stray == 0,
            ),
            (
                "no Wasm VM failure in Envoy's log".to_string(),
                m.scan.vm_failures == 0,
            ),
            (
                "no VM reload and no new VM (wasm.rolegate.vm_reload*, v8.created)".to_string(),
                reloads == 0
                    && m.after.get(evidence::VMS_CREATED) == m.before.get(evidence::VMS_CREATED),
            ),
            (
                "Envoy ran to the end".to_string(),
                m.envoy_running && !m.watch.envoy_exited,
            ),
            (
                format!(
                    "Envoy RSS grew less than {:.0}% after the warm-up",
                    RSS_GROWTH_LIMIT * 100.0
                ),
                growth.is_some_and(|(_, _, g)| g < RSS_GROWTH_LIMIT),
            ),
            (
                "the IdP flapped under rolegate (failed and good fetches during the load)"
                    .to_string(),
                self.increase(evidence::FETCH_FAILURE) > 0
                    && self.increase(evidence::FETCH_SUCCESS) > 0,
            ),
            (
                format!(
                    "rolegate's key set never got {} s old (keys rotate every {} s)",
                    schedule::MAX_STALENESS_SECONDS,
                    schedule::ROTATE_SECONDS
                ),
                m.watch.max_key_set_age
                    < u64::try_from(schedule::MAX_STALENESS_SECONDS).unwrap_or(0),
            ),
        ];
        println!("\nverdict:");
        for (what, ok) in &checks {
            println!("  [{}] {what}", if *ok { "pass" } else { "FAIL" });
        }
        let passed = checks.iter().all(|(_, ok)| *ok);
        println!("soak {}", if passed { "PASSED" } else { "FAILED" });
        passed
    }
}
