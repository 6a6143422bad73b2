//! The options of one command: `--name VALUE` or `--name=VALUE`, each at most once. lexopt
//! splits the words (`=`, `--`, `-` alone); the messages and the usage exit stay ours, so
//! every command reports a mistake the same way.

use crate::CliError;
use lexopt::Arg;

/// The options one command accepts, and what was given.
pub struct Options {
    command: &'static str,
    given: Vec<(&'static str, String)>,
    pub positional: Vec<String>,
    pub help: bool,
}

impl Options {
    /// Reads `args` (everything after the command words). `--help`/`-h` sets `help`; `--`
    /// ends the options.
    pub fn parse(
        command: &'static str,
        known: &'static [&'static str],
        args: &[String],
    ) -> Result<Options, CliError> {
        let mut options = Options {
            command,
            given: Vec::new(),
            positional: Vec::new(),
            help: false,
        };
        let mut parser = lexopt::Parser::from_args(args);
        while let Some(arg) = parser.next().map_err(|e| options.usage(e.to_string()))? {
            match arg {
                Arg::Short('h') | Arg::Long("help") => options.help = true,
                Arg::Long(name) => {
                    let name = format!("--{name}");
                    let Some(&known_name) = known.iter().find(|k| **k == name) else {
                        return Err(options.usage(format!("unknown option {name}")));
                    };
                    if options.given.iter().any(|(n, _)| *n == known_name) {
                        return Err(options.usage(format!("{name} is given twice")));
                    }
                    let value = parser
                        .value()
                        .map_err(|_| options.usage(format!("{name} needs a value")))?;
                    options.given.push((known_name, os_string(value)));
                }
                // "-" alone arrives as a value (stdin conventions); any other "-x" is unknown.
                Arg::Short(flag) => return Err(options.usage(format!("unknown option -{flag}"))),
                Arg::Value(value) => options.positional.push(os_string(value)),
            }
        }
        Ok(options)
    }

    pub fn usage(&self, message: String) -> CliError {
        CliError::Usage {
            message,
            command: self.command,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn required(&self, name: &str) -> Result<&str, CliError> {
        self.get(name)
            .ok_or_else(|| self.usage(format!("{name} is required")))
    }

    /// Exactly `n` positional arguments, named in the message when missing.
    pub fn positional_exactly(&self, names: &[&str]) -> Result<&[String], CliError> {
        match self.positional.len().cmp(&names.len()) {
            std::cmp::Ordering::Less => {
                let missing = names
                    .get(self.positional.len())
                    .copied()
                    .unwrap_or("argument");
                Err(self.usage(format!("{missing} is required")))
            }
            std::cmp::Ordering::Greater => {
                let extra = self
                    .positional
                    .get(names.len())
                    .map(String::as_str)
                    .unwrap_or_default();
                Err(self.usage(format!("unexpected argument {extra:?}")))
            }
            std::cmp::Ordering::Equal => Ok(&self.positional),
        }
    }
}

/// `main` hands over only UTF-8 arguments, so the lossy branch never replaces anything.
fn os_string(value: std::ffi::OsString) -> String {
    value
        .into_string()
        .unwrap_or_else(|v| v.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn message(e: CliError) -> String {
        match e {
            CliError::Usage { message, .. } => message,
            other => format!("not a usage error: {other:?}"),
        }
    }

    const KNOWN: &[&str] = &["--config", "--at"];

    #[test]
    fn both_value_forms_and_positionals() {
        let o = Options::parse("check", KNOWN, &args(&["--config", "a", "--at=5", "x"])).unwrap();
        assert_eq!(o.get("--config"), Some("a"));
        assert_eq!(o.get("--at"), Some("5"));
        assert_eq!(o.positional, vec!["x"]);
        let o = Options::parse("check", KNOWN, &args(&["--", "--config"])).unwrap();
        assert_eq!(o.positional, vec!["--config"]);
        assert_eq!(o.get("--config"), None);
    }

    #[test]
    fn mistakes_are_usage_errors() {
        let e = |l: &[&str]| message(Options::parse("check", KNOWN, &args(l)).err().unwrap());
        assert_eq!(e(&["--conf", "a"]), "unknown option --conf");
        assert_eq!(e(&["--at", "1", "--at", "2"]), "--at is given twice");
        assert_eq!(e(&["--config"]), "--config needs a value");
        assert_eq!(e(&["-x"]), "unknown option -x");
        assert_eq!(
            e(&["--config=a", "--config", "b"]),
            "--config is given twice"
        );
        let o = Options::parse("check", KNOWN, &args(&[])).unwrap();
        assert_eq!(
            message(o.required("--config").unwrap_err()),
            "--config is required"
        );
        assert_eq!(
            message(o.positional_exactly(&["FILE"]).unwrap_err()),
            "FILE is required"
        );
    }
}
