//! `make bench`: rolegate against Envoy's native jwt_authn + rbac and against no auth filter, in
//! the same Envoy binary, driven by wrk on a hot (cached) and a cold (uncached) token path.
//! Prints a table of medians over interleaved rounds and writes it to `BENCHMARKS.md`.

mod counters;
mod envoy_config;
mod fleet;
mod plan;
mod preflight;
mod report;
mod runner;
mod settings;

use std::process::ExitCode;
use std::time::Instant;

use envoy_config::Policy;
use fleet::Fleet;
use rolegate_bench::paths::Paths;
use rolegate_bench::{machine, token_store, tokens, wrk};
use runner::TokenFiles;
use settings::{Command, Settings};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Settings::parse(&args) {
        Ok(Command::Help(text)) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Ok(Command::Run(settings)) => match run(&settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("\nbench FAILED: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
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

    let policy = Policy {
        issuer: tokens::ISSUER,
        audience: tokens::AUDIENCE,
        role: tokens::ROLE,
        client_id: tokens::CLIENT_ID,
        jwks: &jwks,
        cache_size: settings.cache_size,
        wasm: &paths.wasm,
    };
    let mut fleet = Fleet::start(
        &paths.envoy,
        &paths.templates,
        &paths.work,
        &policy,
        &probes,
    )?;
    let wrk = wrk::Wrk {
        script: paths.templates.join("tokens.lua"),
        threads: settings.threads,
        connections: settings.connections,
    };
    let results = runner::run_rounds(&mut fleet, &wrk, &files, settings)?;

    let evidence = report::counter_lines(&results.tally);
    println!("\n{}", report::table(&results.samples));
    print!("{}", report::ratio_lines(&results.samples));
    println!();
    for line in &evidence {
        println!("{line}");
    }
    if !results.failures.is_empty() {
        return Err(runner::describe_failures(&fleet, &results.failures));
    }
    let Some(output) = &settings.output else {
        println!("\n(--no-write: report not written)");
        return Ok(());
    };
    let output = paths.root.join(output);
    let document = report::Document {
        machine: &machine,
        settings: settings.describe(),
        samples: &results.samples,
        cache_evidence: &evidence,
    };
    std::fs::write(&output, document.markdown())
        .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!("\nwrote {}", output.display());
    Ok(())
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
        token_store::cold_tokens(&paths.target(TOKEN_STORE), key, settings.tokens)?;
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
