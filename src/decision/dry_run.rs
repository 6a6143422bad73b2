//! Dry run (`dry_run` for the whole plugin, `rules[].dry_run` for one rule): the decision is
//! made in full, and a denial is recorded (counted, logged, written to the access log) instead
//! of enforced.
//!
//! A request that passes only because of the dry run has no accepted token: its header changes
//! are those of `Allow::without_token` (no claim header, every client-sent copy of one removed,
//! its token headers in place).

use crate::config::Config;
use crate::decision::decision_record::push_client_id;
use crate::decision::{Denial, DenyReason};

/// Whether `denial` is only recorded. A denial without a rule (`no_rule`, `path`) is rehearsed
/// only under the top-level `dry_run`. `internal` (the host refused a header change) is always
/// enforced: the request would go on with a client-sent claim header in place.
pub fn rehearses(config: &Config, denial: &Denial) -> bool {
    if denial.reason == DenyReason::Internal {
        return false;
    }
    config.dry_run
        || denial
            .rule
            .and_then(|i| config.rules.get(i))
            .is_some_and(|rule| rule.dry_run)
}

/// The info log line of a would-be denial: the rule (name, else index), the reason, and the
/// client id when the token's signature was found good. It holds no request content but that
/// verified client id: never the token.
pub fn log_line(config: &Config, denial: &Denial) -> String {
    let mut line = String::with_capacity(128);
    line.push_str("dry run: would deny (");
    line.push_str(denial.reason.name());
    line.push_str(") under ");
    match denial.rule.and_then(|i| Some((i, config.rules.get(i)?))) {
        Some((i, rule)) => {
            line.push_str("rule ");
            line.push_str(&rule.label(i));
        }
        None => line.push_str("no rule"),
    }
    if let Some(client) = &denial.client_id {
        line.push_str(", client ");
        push_client_id(&mut line, client);
    }
    line.push_str(": ");
    line.push_str(denial.description);
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Allow, HeaderChangeFailed, HeaderEditor};
    use std::rc::Rc;

    fn config(top: bool, rule_dry_run: bool) -> Config {
        let text = format!(
            r#"{{"providers":[{{"name":"p","issuer":"i","audiences":["a"],
                 "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
                 "dry_run":{top},
                 "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}},
                                     {{"claim":"tid","header":"x-tenant"}}],
                 "rules":[{{"name":"calc","match":{{"prefix":"/calc/"}},"roles":["r"],"dry_run":{rule_dry_run}}},
                          {{"match":{{"prefix":"/admin/"}},"roles":["admin"]}}]}}"#
        );
        match Config::parse(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn denial(reason: DenyReason, rule: Option<usize>, client: Option<&str>) -> Denial {
        Denial {
            reason,
            description: "token lacks a required role",
            realm: None,
            rule,
            condition: None,
            provider: Some(0),
            client_id: client.map(Rc::from),
        }
    }

    #[test]
    fn a_rule_rehearses_its_own_denials_and_the_top_level_all_but_internal() {
        let one_rule = config(false, true);
        assert!(rehearses(
            &one_rule,
            &denial(DenyReason::Role, Some(0), None)
        ));
        assert!(rehearses(
            &one_rule,
            &denial(DenyReason::Missing, Some(0), None)
        ));
        assert!(!rehearses(
            &one_rule,
            &denial(DenyReason::Role, Some(1), None)
        ));
        assert!(!rehearses(
            &one_rule,
            &denial(DenyReason::NoRule, None, None)
        ));
        assert!(!rehearses(
            &one_rule,
            &denial(DenyReason::Internal, Some(0), None)
        ));
        let all = config(true, false);
        for reason in DenyReason::ALL {
            for rule in [None, Some(0), Some(1)] {
                assert_eq!(
                    rehearses(&all, &denial(reason, rule, None)),
                    reason != DenyReason::Internal,
                    "{reason:?} {rule:?}"
                );
            }
        }
        let off = config(false, false);
        for reason in DenyReason::ALL {
            assert!(!rehearses(&off, &denial(reason, Some(0), None)));
        }
    }

    struct Recorder(Vec<String>, Option<&'static str>);

    impl HeaderEditor for Recorder {
        fn remove(&mut self, name: &str) -> bool {
            self.0.push(format!("-{name}"));
            Some(name) != self.1
        }
        fn set(&mut self, name: &str, value: &str) -> bool {
            self.0.push(format!("+{name}: {value}"));
            Some(name) != self.1
        }
    }

    #[test]
    fn a_rehearsed_request_loses_every_claim_header_and_keeps_its_token() {
        let config = config(true, false);
        let pass = Allow::without_token(&config, 0);
        let mut editor = Recorder(Vec::new(), None);
        assert_eq!(pass.apply(&mut editor, &Vec::<(&str, &str)>::new()), Ok(()));
        assert_eq!(editor.0, vec!["-x-client-id", "-x-tenant"]);
        let mut refusing = Recorder(Vec::new(), Some("x-tenant"));
        assert_eq!(
            pass.apply(&mut refusing, &Vec::<(&str, &str)>::new()),
            Err(HeaderChangeFailed { header: "x-tenant" })
        );
    }

    #[test]
    fn the_log_line_names_rule_reason_and_verified_client() {
        let config = config(false, true);
        assert_eq!(
            log_line(&config, &denial(DenyReason::Role, Some(0), Some("5f28c10f"))),
            "dry run: would deny (role) under rule calc, client 5f28c10f: token lacks a required role"
        );
        assert_eq!(
            log_line(&config, &denial(DenyReason::Role, Some(1), None)),
            "dry run: would deny (role) under rule rules[1]: token lacks a required role"
        );
        assert_eq!(
            log_line(&config, &denial(DenyReason::NoRule, None, Some("a b\n"))),
            "dry run: would deny (no_rule) under no rule, client a%20b%0A: token lacks a required role"
        );
    }
}
