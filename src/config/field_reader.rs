//! Walks a `serde_json::Value` field by field so configuration errors name the exact path
//! (`providers[0].remote_jwks.timeout_ms`) and every problem is reported, not just the first.

use serde_json::{Map, Value};
use std::fmt;

/// One problem in a configuration, located by its JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

/// Collects errors while a configuration is read.
#[derive(Default)]
pub struct Problems {
    errors: Vec<ConfigError>,
}

impl Problems {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }
}

pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

pub fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Reads the members of one JSON object; members never asked for are unknown fields.
pub struct ObjectReader<'a> {
    path: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// `None` (with a problem recorded) when `value` is not an object.
    pub fn new(path: &str, value: &'a Value, problems: &mut Problems) -> Option<Self> {
        match value {
            Value::Object(map) => Some(ObjectReader {
                path: path.to_string(),
                map,
                seen: Vec::new(),
            }),
            other => {
                problems.add(path, format!("expected an object, got {}", describe(other)));
                None
            }
        }
    }

    pub fn path_of(&self, key: &str) -> String {
        child_path(&self.path, key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// The raw member, marking it as known.
    pub fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key)
    }

    pub fn string(&mut self, key: &'static str, problems: &mut Problems) -> Option<String> {
        let value = self.get(key)?;
        match value {
            Value::String(s) => Some(s.clone()),
            other => {
                problems.add(
                    &self.path_of(key),
                    format!("expected a string, got {}", describe(other)),
                );
                None
            }
        }
    }

    pub fn required_string(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<String> {
        if !self.has(key) {
            self.seen.push(key);
            problems.add(&self.path_of(key), "is required");
            return None;
        }
        let s = self.string(key, problems)?;
        if s.is_empty() {
            problems.add(&self.path_of(key), "must not be empty");
            return None;
        }
        Some(s)
    }

    pub fn bool(&mut self, key: &'static str, problems: &mut Problems) -> Option<bool> {
        let value = self.get(key)?;
        match value {
            Value::Bool(b) => Some(*b),
            other => {
                problems.add(
                    &self.path_of(key),
                    format!("expected true or false, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// An integer within `min..=max`; fractions, negatives and strings are refused, not coerced.
    pub fn integer(
        &mut self,
        key: &'static str,
        min: u64,
        max: u64,
        problems: &mut Problems,
    ) -> Option<u64> {
        let value = self.get(key)?;
        match value.as_u64() {
            Some(n) if (min..=max).contains(&n) => Some(n),
            _ => {
                let got = match value {
                    Value::Number(n) => format!("{n}"),
                    other => describe(other).to_string(),
                };
                problems.add(
                    &self.path_of(key),
                    format!("expected an integer from {min} to {max}, got {got}"),
                );
                None
            }
        }
    }

    pub fn array(&mut self, key: &'static str, problems: &mut Problems) -> Option<&'a [Value]> {
        let value = self.get(key)?;
        match value {
            Value::Array(items) => Some(items.as_slice()),
            other => {
                problems.add(
                    &self.path_of(key),
                    format!("expected an array, got {}", describe(other)),
                );
                None
            }
        }
    }

    /// A list of non-empty strings; `None` when absent or wrong.
    pub fn string_list(
        &mut self,
        key: &'static str,
        problems: &mut Problems,
    ) -> Option<Vec<String>> {
        let items = self.array(key, problems)?;
        let path = self.path_of(key);
        let mut out = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) if !s.is_empty() => out.push(s.clone()),
                Value::String(_) => {
                    problems.add(&index_path(&path, i), "must not be empty");
                    ok = false;
                }
                other => {
                    problems.add(
                        &index_path(&path, i),
                        format!("expected a string, got {}", describe(other)),
                    );
                    ok = false;
                }
            }
        }
        ok.then_some(out)
    }

    /// Records every member that no `get` asked for: typos must not become silent defaults.
    pub fn finish(self, problems: &mut Problems) {
        let mut unknown: Vec<&String> = self
            .map
            .keys()
            .filter(|k| !self.seen.contains(&k.as_str()))
            .collect();
        unknown.sort();
        for key in unknown {
            let mut known = self.seen.clone();
            known.sort_unstable();
            known.dedup();
            problems.add(
                &child_path(&self.path, key),
                format!("unknown field (known fields here: {})", known.join(", ")),
            );
        }
    }
}
