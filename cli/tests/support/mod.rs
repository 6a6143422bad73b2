//! What the CLI tests share: the binary, the files in tests/data, scratch files, and a run's
//! exit code and output.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rolegate");

/// `tests/data/<name>`.
pub fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `@tests/data/<name>`, a token read from a file.
pub fn at_file(name: &str) -> String {
    format!("@{}", data(name))
}

pub fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// A scratch file for one test; returns its path.
pub fn scratch(name: &str, content: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

/// A finished run of the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Everything printed.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The first line of stdout starting with `prefix`.
    pub fn line(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{}", self.all()))
            .to_string()
    }

    /// Asserts that the output holds every one of `needles`.
    #[track_caller]
    pub fn has(&self, needles: &[&str]) {
        for needle in needles {
            assert!(
                self.all().contains(needle),
                "{needle:?} missing (exit {}):\n{}",
                self.code,
                self.all()
            );
        }
    }

    /// Asserts the exit code, then [`Run::has`].
    #[track_caller]
    pub fn expect(&self, code: i32, needles: &[&str]) {
        assert_eq!(self.code, code, "exit code:\n{}", self.all());
        self.has(needles);
    }
}

pub fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

pub fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

/// `rolegate check --config <config> --jwks <jwks> --token <token>`, then `extra`.
pub fn check(config: &str, jwks: &str, token: &str, extra: &[&str]) -> Run {
    run(&[
        &[
            "check", "--config", config, "--jwks", jwks, "--token", token,
        ],
        extra,
    ]
    .concat())
}
