//! `make bench`: rolegate against Envoy's native jwt_authn + rbac, an earlier rolegate (the
//! baseline), a Wasm floor that decides nothing and no auth filter, in the same Envoy binary,
//! without and with an access log, driven by wrk on a hot (cached) and a cold (uncached) token
//! path. Prints a table of medians over interleaved rounds (req/s and Envoy CPU per request)
//! and writes it to `BENCHMARKS.md`, with a memory table (Envoy's RSS per set-up at 1, 2 and 4
//! workers; `memory.rs`). `--memory` measures only the memory and rewrites only that section.

mod counters;
mod cpu;
mod envoy_config;
mod fleet;
mod memory;
mod modules;
mod plan;
mod preflight;
mod report;
mod runner;
mod settings;

use std::process::ExitCode;
use std::time::Instant;

use envoy_config::{Filter, Modules, Policy};
use fleet::Fleet;
use rolegate_bench::paths::Paths;
use rolegate_bench::{knob, machine, token_store, tokens, wrk};
use runner::TokenFiles;
use settings::Settings;

fn main() -> ExitCode {
    knob::main("bench", Settings::parse, |settings| {
        run(settings).map(|()| true)
    })
}

/// Cold tokens kept between runs, under `target/`.
const TOKEN_STORE: &str = "rolegate-bench-tokens";

fn run(settings: &Settings) -> Result<(), String> {
    let paths = Paths::find("rolegate-bench")?;
    wrk::check_installed()?;
    let machine = machine::Machine::describe(&paths.envoy, &paths.wasm);
    println!(
        "rolegate bench: Envoy {} ({}), {} ({} bytes)\n{}\n",
        machine.envoy_version,
        paths.envoy.display(),
        paths.wasm.display(),
        machine.module_bytes,
        settings.describe()
    );
    paths.fresh_work_dir()?;

    let key = tokens::SigningKey::load(&paths.root.join("tests/keys/key-a.json"))?;
    let jwks = tokens::public_jwks(&key);
    let probes = preflight::Probes::mint(&key)?;
    let files = write_token_files(&paths, &key, &probes, settings)?;

    // Only the modules a selected set-up loads: a run without the baseline builds none.
    let speed_filters: Vec<Filter> = if settings.memory_only {
        Vec::new()
    } else {
        plan::setups(&settings.cases)
            .iter()
            .map(|s| s.filter)
            .collect()
    };
    let baseline = if speed_filters.contains(&Filter::Baseline) {
        Some(modules::baseline(&paths.root, &settings.baseline)?)
    } else {
        None
    };
    let bench_wasm = |wanted: bool, name: &str| {
        wanted
            .then(|| modules::bench_wasm(&paths.root, name))
            .transpose()
    };
    let modules = Modules {
        rolegate: paths.wasm.clone(),
        baseline: baseline.as_ref().map(|b| b.wasm.clone()),
        floor: bench_wasm(speed_filters.contains(&Filter::Floor), "floor")?,
        bare: bench_wasm(!settings.memory_workers.is_empty(), "bare")?,
    };
    for (what, module) in [
        ("baseline", &modules.baseline),
        ("Wasm floor", &modules.floor),
        ("bare Wasm filter", &modules.bare),
    ] {
        if let Some(wasm) = module {
            println!(
                "{what}: {} ({} bytes)",
                wasm.display(),
                std::fs::metadata(wasm).map_or(0, |m| m.len())
            );
        }
    }
    let policy = Policy {
        issuer: tokens::ISSUER,
        audience: tokens::AUDIENCE,
        role: tokens::ROLE,
        client_id: tokens::CLIENT_ID,
        jwks: &jwks,
        cache_size: settings.cache_size as usize,
        modules: &modules,
    };
    let wrk = wrk::Wrk {
        script: paths.templates.join("tokens.lua"),
        threads: settings.threads,
        connections: settings.connections,
    };
    let speed = if settings.memory_only {
        None
    } else {
        Some(speed(&paths, &policy, &probes, &wrk, &files, settings)?)
    };
    let memory_points = if settings.memory_workers.is_empty() {
        Vec::new()
    } else {
        println!("\nmemory: --concurrency {:?}", settings.memory_workers);
        memory::measure(&memory::Plan {
            binary: &paths.envoy,
            templates: &paths.templates,
            work: &paths.work,
            policy: &policy,
            probes: &probes,
            wrk: &wrk,
            cold_tokens: &files.cold,
            token_count: settings.tokens as usize,
            workers: &settings.memory_workers,
            repeats: settings.memory_repeats,
        })?
    };
    let memory_section = (!memory_points.is_empty()).then(|| {
        memory::section(
            &memory_points,
            &settings.memory_workers,
            &settings.describe_memory(),
            machine.module_bytes,
        )
    });
    if let Some(section) = &memory_section {
        println!("\n{section}");
    }
    let Some(output) = &settings.output else {
        println!("\n(--no-write: report not written)");
        return Ok(());
    };
    let output = paths.root.join(output);
    let text = match (&speed, &memory_section) {
        (Some((samples, evidence)), _) => report::Document {
            machine: &machine,
            settings: settings.describe(),
            baseline: baseline.as_ref().map(|b| {
                let bytes = std::fs::metadata(&b.wasm).map_or(0, |m| m.len());
                format!("{}, {bytes} bytes", b.description)
            }),
            samples,
            cache_evidence: evidence,
            memory: memory_section.as_deref(),
        }
        .markdown(),
        (None, Some(section)) => {
            let old = std::fs::read_to_string(&output).unwrap_or_default();
            memory::splice(&old, section)
        }
        (None, None) => return Ok(()),
    };
    std::fs::write(&output, text).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!("\nwrote {}", output.display());
    Ok(())
}

/// The speed rounds: their samples and the counter evidence. Their Envoys are stopped on return.
fn speed(
    paths: &Paths,
    policy: &Policy<'_>,
    probes: &preflight::Probes,
    wrk: &wrk::Wrk,
    files: &TokenFiles,
    settings: &Settings,
) -> Result<(Vec<report::Sample>, Vec<String>), String> {
    let fleet = Fleet::start(
        &paths.envoy,
        &paths.templates,
        &paths.work,
        policy,
        probes,
        &plan::setups(&settings.cases),
    )?;
    let started = Instant::now();
    let results = runner::run_rounds(&fleet, wrk, files, settings)?;
    println!(
        "\nwarm-up and {} measured runs in {:.0} s",
        results.samples.len(),
        started.elapsed().as_secs_f64()
    );
    let evidence = report::counter_lines(&results.tally);
    println!("\n{}", report::table(&results.samples));
    println!("{}", report::comparison_table(&results.samples));
    if let Some(line) = report::floor_line(&results.samples) {
        println!("{line}\n");
    }
    for line in &evidence {
        println!("{line}");
    }
    if !results.failures.is_empty() {
        return Err(runner::describe_failures(&fleet, &results.failures));
    }
    Ok((results.samples, evidence))
}

/// The hot token (the pre-flight's good token) and the cold tokens, one file each.
fn write_token_files(
    paths: &Paths,
    key: &tokens::SigningKey,
    probes: &preflight::Probes,
    settings: &Settings,
) -> Result<TokenFiles, String> {
    let started = Instant::now();
    let (cold, reused) =
        token_store::cold_tokens(&paths.target(TOKEN_STORE), key, settings.tokens as usize)?;
    println!(
        "{} {} cold tokens in {:.1} s",
        if reused { "loaded" } else { "minted" },
        cold.len(),
        started.elapsed().as_secs_f64()
    );
    let files = TokenFiles {
        hot: paths.work.join("hot-token.txt"),
        cold: paths.work.join("cold-tokens.txt"),
    };
    tokens::write_token_file(&files.hot, std::slice::from_ref(&probes.good))?;
    tokens::write_token_file(&files.cold, &cold)?;
    Ok(files)
}
