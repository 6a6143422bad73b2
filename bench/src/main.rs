//! `make bench`: rolegate against Envoy's native jwt_authn + rbac and against no auth filter, in
//! the same Envoy binary, driven by wrk on a hot (cached) and a cold (uncached) token path.
//! Prints a table of medians over interleaved rounds and writes it to `BENCHMARKS.md`.

mod counters;
mod envoy;
mod envoy_config;
mod fleet;
mod http;
mod machine;
mod plan;
mod preflight;
mod report;
mod runner;
mod settings;
mod token_store;
mod tokens;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use envoy_config::Policy;
use fleet::Fleet;
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

/// Where things are.
struct Paths {
    root: PathBuf,
    envoy: PathBuf,
    wasm: PathBuf,
    /// `envoy/bench/`: configuration templates and the wrk script.
    templates: PathBuf,
    /// `target/rolegate-bench/`: rendered configurations, logs, token files; emptied each run.
    work: PathBuf,
    /// `target/rolegate-bench-tokens/`: cold tokens kept between runs.
    token_store: PathBuf,
}

impl Paths {
    fn find() -> Result<Paths, String> {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().unwrap_or(manifest).to_path_buf();
        let from_env = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join(default))
        };
        let paths = Paths {
            envoy: from_env("ROLEGATE_ENVOY", ".envoy/envoy/_bin/envoy"),
            wasm: from_env("ROLEGATE_WASM", "dist/rolegate.wasm"),
            templates: root.join("envoy/bench"),
            work: root.join("target/rolegate-bench"),
            token_store: root.join("target/rolegate-bench-tokens"),
            root,
        };
        for (what, path) in [("Envoy 1.40", &paths.envoy), ("the module", &paths.wasm)] {
            if !path.is_file() {
                return Err(format!(
                    "{what} is missing at {}: run `make build envoy` first",
                    path.display()
                ));
            }
        }
        Ok(paths)
    }
}

fn run(settings: &Settings) -> Result<(), String> {
    let paths = Paths::find()?;
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
    let _ = std::fs::remove_dir_all(&paths.work);
    std::fs::create_dir_all(&paths.work)
        .map_err(|e| format!("cannot create {}: {e}", paths.work.display()))?;

    let key = tokens::SigningKey::load(&paths.root.join("tests/keys/key-a.json"))?;
    let jwks = key.public_jwks();
    let probes = preflight::Probes::mint(&key)?;
    let files = write_token_files(&paths, &key, &probes, settings)?;

    let policy = Policy {
        issuer: tokens::ISSUER,
        audience: tokens::AUDIENCE,
        role: tokens::ROLE,
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
    let (cold, reused) = token_store::cold_tokens(&paths.token_store, key, settings.tokens)?;
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
