//! Hand-written argument parsing: `--name VALUE` or `--name=VALUE`, each option at most once.

use crate::CliError;

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
        let mut rest = args.iter();
        let mut only_positional = false;
        while let Some(arg) = rest.next() {
            if only_positional {
                options.positional.push(arg.clone());
                continue;
            }
            match arg.as_str() {
                "--" => only_positional = true,
                "-h" | "--help" => options.help = true,
                _ if arg.starts_with("--") => {
                    let (name, inline) = match arg.split_once('=') {
                        Some((name, value)) => (name, Some(value.to_string())),
                        None => (arg.as_str(), None),
                    };
                    let Some(&known_name) = known.iter().find(|k| **k == name) else {
                        return Err(options.usage(format!("unknown option {name}")));
                    };
                    if options.given.iter().any(|(n, _)| *n == known_name) {
                        return Err(options.usage(format!("{name} is given twice")));
                    }
                    let value = match inline {
                        Some(v) => v,
                        None => match rest.next() {
                            Some(v) => v.clone(),
                            None => return Err(options.usage(format!("{name} needs a value"))),
                        },
                    };
                    options.given.push((known_name, value));
                }
                // "-" alone is a value (stdin conventions); any other "-x" is an unknown flag.
                _ if arg.starts_with('-') && arg.len() > 1 => {
                    return Err(options.usage(format!("unknown option {arg}")));
                }
                _ => options.positional.push(arg.clone()),
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
