//! Runs wrk with a Lua script from `envoy/bench/` and reads back the tagged lines the script
//! prints: `tokens.lua` (the bench) prints one, `soak.lua` several.

use std::path::{Path, PathBuf};
use std::process::Command;

/// How to run wrk.
pub struct Wrk {
    /// The Lua script, e.g. `envoy/bench/tokens.lua`.
    pub script: PathBuf,
    pub threads: u32,
    pub connections: u32,
}

/// What one wrk run measured.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// Completed responses.
    pub requests: u64,
    pub duration_us: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Responses whose status was not 200.
    pub non200: u64,
    /// Connect, read, write errors and timeouts.
    pub socket_errors: u64,
    /// Non-200 statuses and their counts, `401:3,503:1` (`-` when none).
    pub codes: String,
    /// Status and start of the body of the first non-200 response.
    pub first_bad: String,
}

impl Measurement {
    pub fn requests_per_second(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 * 1e6 / self.duration_us as f64
    }

    /// `3 of 100 responses not 200 [401:3], 0 socket errors`, for an error message.
    pub fn failures(&self) -> String {
        format!(
            "{} of {} responses not 200 [{}], {} socket errors",
            self.non200, self.requests, self.codes, self.socket_errors
        )
    }

    /// Whether every request got a 200.
    pub fn all_ok(&self) -> bool {
        self.non200 == 0 && self.socket_errors == 0 && self.requests > 0
    }
}

const RESULT_TAG: &str = "ROLEGATE_BENCH ";

/// Fails with an install hint when wrk is not on PATH.
pub fn check_installed() -> Result<(), String> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!(
            "wrk is not installed ({e}); install it with `apt-get install -y wrk` \
             (`make bench` does so)"
        )),
    }
}

/// What wrk printed.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

impl Output {
    /// The rest of every stdout line that starts with `tag`.
    pub fn tagged<'a>(&'a self, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.stdout.lines().filter_map(move |l| l.strip_prefix(tag))
    }

    /// Everything wrk printed, for an error message.
    pub fn describe(&self) -> String {
        format!(
            "wrk ({})\nstdout:\n{}\nstderr:\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

impl Wrk {
    /// Drives `url` for `seconds` with the script, passing it `script_args` (after `--`).
    pub fn run_script(
        &self,
        url: &str,
        seconds: u32,
        script_args: &[String],
    ) -> Result<Output, String> {
        let output = Command::new("wrk")
            .arg(format!("-t{}", self.threads))
            .arg(format!("-c{}", self.connections))
            .arg(format!("-d{seconds}s"))
            .args(["--timeout", "5s"])
            .arg("-s")
            .arg(&self.script)
            .arg(url)
            .arg("--")
            .args(script_args)
            .output()
            .map_err(|e| format!("cannot run wrk: {e}"))?;
        Ok(Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            status: output.status,
        })
    }

    /// Drives `url` for `seconds` with `tokens.lua`, cycling through the tokens in `token_file`
    /// from `offset`.
    pub fn run(
        &self,
        url: &str,
        seconds: u32,
        token_file: &Path,
        offset: usize,
    ) -> Result<Measurement, String> {
        let args = [
            token_file.display().to_string(),
            offset.to_string(),
            self.threads.to_string(),
        ];
        let output = self.run_script(url, seconds, &args)?;
        let line = output
            .tagged(RESULT_TAG)
            .next()
            .ok_or_else(|| format!("no result line from {}", output.describe()))?;
        parse(line)
    }
}

fn parse(line: &str) -> Result<Measurement, String> {
    let mut m = Measurement::default();
    for field in line.split(' ') {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| format!("bad wrk result field {field:?}"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("bad wrk result {key}={value:?}"))
        };
        match key {
            "requests" => m.requests = number()?,
            "duration_us" => m.duration_us = number()?,
            "p50_us" => m.p50_us = number()?,
            "p99_us" => m.p99_us = number()?,
            "non200" => m.non200 = number()?,
            "socket_errors" => m.socket_errors = number()?,
            "codes" => m.codes = value.to_string(),
            "first_bad" => m.first_bad = value.to_string(),
            _ => {}
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_result_line() {
        let m = parse(
            "requests=1000 duration_us=2000000 p50_us=310 p99_us=990 non200=2 socket_errors=0 \
             codes=503:2 first_bad=503_{\"error\":\"x\"}",
        )
        .unwrap();
        assert_eq!(
            (m.requests, m.p50_us, m.p99_us, m.non200),
            (1000, 310, 990, 2)
        );
        assert_eq!(m.requests_per_second(), 500.0);
        assert_eq!(m.codes, "503:2");
        assert!(!m.all_ok());
    }
}
