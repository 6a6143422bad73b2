//! Settings that are valid but probably not meant.

use crate::config::plugin_config::{Config, PathScreening};
use crate::decision::rules::{PathMatch, Requirement};

/// Something valid but probably not meant, said at start-up and by `rolegate config validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl Config {
    /// Settings that are valid but leave a door open; each names its field.
    pub fn warnings(&self) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        if self.path_screening == PathScreening::Off {
            warnings.push(ConfigWarning {
                field: "path_screening".to_string(),
                message: "is off: rules match the raw path, so /healthz/../admin is not /admin \
                    to them. Only safe when Envoy normalizes paths before rolegate \
                    (normalize_path, merge_slashes, path_with_escaped_slashes_action)"
                    .to_string(),
            });
        }
        if self.dry_run {
            warnings.push(ConfigWarning {
                field: "dry_run".to_string(),
                message: "is on: no request is denied; would-be denials are only logged and \
                    counted (rolegate.dry_run.denied.<reason>)"
                    .to_string(),
            });
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.dry_run && !self.dry_run {
                warnings.push(ConfigWarning {
                    field: format!("rules[{i}].dry_run"),
                    message: format!(
                        "is on: requests under {} are not denied; would-be denials are only \
                         logged and counted",
                        rule.label(i)
                    ),
                });
            }
            // allow_missing lets a request without a token through just as allow_anonymous
            // does, so its string prefix opens the same door.
            let tokenless = matches!(
                rule.requirement,
                Requirement::Anonymous | Requirement::TokenIfPresent
            );
            if let (true, PathMatch::Prefix(prefix)) = (tokenless, &rule.path) {
                if !prefix.ends_with('/') {
                    warnings.push(ConfigWarning {
                        field: format!("rules[{i}].match.prefix"),
                        message: format!(
                            "opens {prefix}... without a token, not only {prefix}/: \
                             a string prefix also matches {prefix}X. \
                             Use path_separated_prefix"
                        ),
                    });
                }
            }
        }
        warnings
    }
}
