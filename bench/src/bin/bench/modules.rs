//! The modules the set-ups load besides `dist/rolegate.wasm`: the bench's own filters
//! (`make bench-wasm`) and the baseline, rolegate as an earlier revision built it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/bench-wasm/<name>.wasm`, which `make bench-wasm` builds from `bench/bare-wasm`.
pub fn bench_wasm(root: &Path, name: &str) -> Result<PathBuf, String> {
    let wasm = root.join("target/bench-wasm").join(format!("{name}.wasm"));
    if wasm.is_file() {
        Ok(wasm)
    } else {
        Err(format!(
            "{} not found: run `make bench-wasm` (`make bench` does)",
            wasm.display()
        ))
    }
}

/// Where the baseline comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaselineSource {
    /// A revision of this repository (`BENCH_BASELINE_REV`), built with its own Makefile.
    Revision(String),
    /// A module as it is (`BENCH_BASELINE_WASM`).
    Module(PathBuf),
}

/// The baseline module and what it is, for the report.
pub struct Baseline {
    pub wasm: PathBuf,
    /// `rolegate at 62ef52d (62ef52da0010, "subject")` or the module's path.
    pub description: String,
}

/// Built modules, one per commit: `<commit>.wasm`, with the log of its build.
const BASELINE_CACHE: &str = "target/bench-baseline";

/// Finds or builds the baseline.
pub fn baseline(root: &Path, source: &BaselineSource) -> Result<Baseline, String> {
    match source {
        BaselineSource::Module(path) => {
            let wasm = root.join(path);
            if !wasm.is_file() {
                return Err(format!(
                    "BENCH_BASELINE_WASM: {} is not a file",
                    wasm.display()
                ));
            }
            Ok(Baseline {
                description: format!("`{}`", wasm.display()),
                wasm,
            })
        }
        BaselineSource::Revision(rev) => build_revision(root, rev),
    }
}

/// Builds `rev` as that revision builds itself (`make build`, its own Cargo.lock, Makefile and
/// cargo configuration) from `git archive` in a scratch tree, unless its module is cached. The
/// cache is keyed by commit, so a branch name that moved builds again and a tag or hash does not.
///
/// The tree is outside the repository: cargo reads the `.cargo/config.toml` of every directory
/// above the one it runs in, and this repository's would build the old revision with today's
/// flags (a tree under `target/` came out 7 KB smaller than the revision builds itself).
fn build_revision(root: &Path, rev: &str) -> Result<Baseline, String> {
    let commit = git(
        root,
        &[
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ],
    )
    .map_err(|e| {
        format!(
            "BENCH_BASELINE_REV={rev} is not a commit of this repository ({e}); a shallow \
                 clone may lack it (`git fetch --unshallow`). BENCH_BASELINE_WASM=path compares \
                 with a module instead, BENCH_CASES without the baseline leaves it out"
        )
    })?;
    let subject = git(root, &["log", "-1", "--format=%s", &commit]).unwrap_or_default();
    let short = commit.get(..12).unwrap_or(&commit);
    let description = format!("rolegate at `{rev}` ({short}, \"{subject}\")");
    let cache = root.join(BASELINE_CACHE);
    let wasm = cache.join(format!("{commit}.wasm"));
    if wasm.is_file() {
        println!("baseline: {description}, built before: {}", wasm.display());
        return Ok(Baseline { wasm, description });
    }
    let tree = std::env::temp_dir().join(format!("rolegate-bench-baseline-{commit}"));
    let log = cache.join(format!("{commit}.log"));
    println!(
        "baseline: building {description} in {} (make build; log {})",
        tree.display(),
        log.display()
    );
    // A tree left by a build that failed or was interrupted starts over.
    let _ = std::fs::remove_dir_all(&tree);
    for dir in [&tree, &cache] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let archive = tree.join("source.tar");
    git(
        root,
        &[
            "archive",
            "--format=tar",
            "-o",
            &archive.display().to_string(),
            &commit,
        ],
    )?;
    let unpacked = run(
        Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&tree),
        "tar",
    );
    let _ = std::fs::remove_file(&archive);
    unpacked?;
    let log_file =
        std::fs::File::create(&log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let log_err = log_file
        .try_clone()
        .map_err(|e| format!("cannot write {}: {e}", log.display()))?;
    // The revision's own Makefile in a make of its own: the outer make's jobserver and the
    // bench's target directory are not its.
    let status = Command::new("make")
        .arg("-C")
        .arg(&tree)
        .arg("build")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("MAKELEVEL")
        .env_remove("CARGO_TARGET_DIR")
        .stdout(log_file)
        .stderr(log_err)
        .status()
        .map_err(|e| format!("cannot run make: {e}"))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!(
            "building the baseline ({description}) failed ({status}); tree kept in {}, last \
             lines of {}:\n{}",
            tree.display(),
            log.display(),
            rolegate_testkit::envoy::tail(&text, 30)
        ));
    }
    let built = tree.join("dist/rolegate.wasm");
    let partial = cache.join(format!("{commit}.wasm.partial"));
    std::fs::copy(&built, &partial)
        .and_then(|_| std::fs::rename(&partial, &wasm))
        .map_err(|e| format!("cannot keep {} as {}: {e}", built.display(), wasm.display()))?;
    // The module is what is kept: the tree and its target directory are a few hundred MB.
    let _ = std::fs::remove_dir_all(&tree);
    Ok(Baseline { wasm, description })
}

/// `git -C root <args>`'s first line of output.
fn git(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = match stderr.trim() {
            "" => String::new(),
            text => format!(": {text}"),
        };
        return Err(format!(
            "git {} failed ({}){said}",
            args.join(" "),
            output.status
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.lines().next().unwrap_or_default().trim().to_string())
}

fn run(command: &mut Command, name: &str) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot run {name}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{name} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
