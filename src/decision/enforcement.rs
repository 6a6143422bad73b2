//! How a decision is carried out under the configuration's dry runs: the request goes on with
//! its header changes, is refused, is let through with its denial recorded (dry run), or waits
//! for keys. The host carries the answer out as it is (`host/outcome.rs`).

use crate::config::Config;
use crate::decision::{
    dry_run, Allow, Denial, DenyReason, HeaderChangeFailed, HeaderEditor, Outcome, RequestHeaders,
    WaitReason,
};

/// What becomes of a request once it is decided, or once its wait for keys ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'c> {
    /// It goes on with the allow's header changes.
    Continue(Allow<'c>),
    /// It gets rolegate's reply for the denial.
    Refuse(Denial),
    /// Dry run: the denial is counted, logged and recorded, and the request goes on with
    /// `pass`'s header changes: no claim header, its token in place (`Allow::without_token`).
    Rehearse { denial: Denial, pass: Allow<'c> },
}

/// What the host does with a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enforcement<'c> {
    Now(Verdict<'c>),
    /// The request waits until the provider's keys change and is then decided again; a request
    /// the host cannot hold gets `otherwise` at once.
    Park {
        provider: usize,
        reason: WaitReason,
        otherwise: Verdict<'c>,
    },
}

impl<'c> Enforcement<'c> {
    pub fn of(config: &'c Config, outcome: Outcome<'c>) -> Self {
        match outcome {
            Outcome::Allow(allow) => Enforcement::Now(Verdict::Continue(allow)),
            Outcome::Deny(denial) => Enforcement::Now(Verdict::of_denial(config, denial)),
            Outcome::WaitForKeys {
                provider,
                reason,
                otherwise,
            } => Enforcement::Park {
                provider,
                reason,
                otherwise: Verdict::of_denial(config, otherwise),
            },
        }
    }

    /// Whether the answer turns on this worker's view of the keys (a wait, or a denial for
    /// missing keys or an unknown `kid`): another worker may have fetched since this worker's
    /// last tick, so the host looks at the shared record once and decides again if it moved.
    pub fn depends_on_key_state(&self) -> bool {
        match self {
            Enforcement::Park { .. } => true,
            Enforcement::Now(Verdict::Refuse(denial) | Verdict::Rehearse { denial, .. }) => {
                matches!(denial.reason, DenyReason::NoKeys | DenyReason::UnknownKid)
            }
            Enforcement::Now(Verdict::Continue(_)) => false,
        }
    }
}

impl<'c> Verdict<'c> {
    /// A denial refused, or rehearsed when a dry run covers it (see `dry_run::rehearses`).
    // Not inlined: see "Function size" in lib.rs (`Enforcement::of` has two calls).
    #[inline(never)]
    pub fn of_denial(config: &'c Config, denial: Denial) -> Self {
        if !dry_run::rehearses(config, &denial) {
            return Verdict::Refuse(denial);
        }
        // The pass's rule index only names counters on the allowed path, and a rehearsal is
        // counted under dry_run instead: a denial without a rule may take the first.
        let pass = Allow::without_token(config, denial.rule.unwrap_or_default());
        Verdict::Rehearse { denial, pass }
    }

    /// Makes the header changes of a request that goes on (allowed or rehearsed). When the
    /// host refuses one, the request is refused instead, dry run or not, for it would go on
    /// with a client-sent claim header or an unverified token in place; the refused change is
    /// returned for the log.
    pub fn change_headers(
        &mut self,
        editor: &mut dyn HeaderEditor,
        request: &dyn RequestHeaders,
    ) -> Option<HeaderChangeFailed<'c>> {
        let pass = match self {
            Verdict::Continue(allow) => allow,
            Verdict::Rehearse { pass, .. } => pass,
            Verdict::Refuse(_) => return None,
        };
        let failed = pass.apply(editor, request).err()?;
        *self = Verdict::Refuse(failed.denial());
        Some(failed)
    }
}

/// The debug log line of a refusal: the reason, the rule (name, else index) and the fixed
/// description. It holds no request content.
pub fn refusal_log_line(config: &Config, denial: &Denial) -> String {
    let rule = denial
        .rule
        .and_then(|i| Some(config.rules.get(i)?.label(i)))
        .unwrap_or_else(|| "no rule".to_string());
    format!(
        "denied ({}) under {rule}: {}",
        denial.reason.name(),
        denial.description
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::HEADER_CHANGE_FAILED;
    use std::rc::Rc;

    /// Rule 0 `calc` and rule 1 (unnamed); `dry_run` for the whole plugin or for `calc` alone.
    fn config(dry_run: bool, calc_dry_run: bool) -> Config {
        let text = format!(
            r#"{{"providers":[{{"name":"p","issuer":"i","audiences":["a"],
                 "remote_jwks":{{"cluster":"c","uri":"https://login/keys"}}}}],
                 "dry_run":{dry_run},
                 "claim_to_headers":[{{"claim":"azp","header":"x-client-id"}}],
                 "rules":[{{"name":"calc","match":{{"prefix":"/calc/"}},"roles":["r"],"dry_run":{calc_dry_run}}},
                          {{"match":{{"prefix":"/admin/"}},"roles":["admin"]}}]}}"#
        );
        match Config::parse(text.as_bytes()) {
            Ok(c) => c,
            Err(e) => panic!("{e:?}"),
        }
    }

    fn denial(reason: DenyReason, rule: Option<usize>) -> Denial {
        Denial {
            reason,
            description: "token lacks a required role",
            realm: None,
            rule,
            condition: None,
            provider: Some(0),
            client_id: Some(Rc::from("client")),
        }
    }

    /// Records every change; refuses those to `refused`.
    struct Editor {
        changes: Vec<String>,
        refused: Option<&'static str>,
    }

    impl Editor {
        fn accepting() -> Self {
            Editor {
                changes: Vec::new(),
                refused: None,
            }
        }
        fn refusing(header: &'static str) -> Self {
            Editor {
                changes: Vec::new(),
                refused: Some(header),
            }
        }
    }

    impl HeaderEditor for Editor {
        fn remove(&mut self, name: &str) -> bool {
            self.changes.push(format!("-{name}"));
            Some(name) != self.refused
        }
        fn set(&mut self, name: &str, value: &str) -> bool {
            self.changes.push(format!("+{name}: {value}"));
            Some(name) != self.refused
        }
    }

    fn no_headers() -> Vec<(&'static str, &'static str)> {
        Vec::new()
    }

    #[test]
    fn an_allowed_request_continues_with_its_header_changes() {
        let config = config(true, true);
        let allow = Allow::without_token(&config, 1);
        let enforcement = Enforcement::of(&config, Outcome::Allow(allow.clone()));
        assert_eq!(
            enforcement,
            Enforcement::Now(Verdict::Continue(allow.clone()))
        );
        assert!(!enforcement.depends_on_key_state());

        let Enforcement::Now(mut verdict) = enforcement else {
            panic!("not parked")
        };
        let mut editor = Editor::accepting();
        assert_eq!(verdict.change_headers(&mut editor, &no_headers()), None);
        assert_eq!(verdict, Verdict::Continue(allow));
        assert_eq!(editor.changes, vec!["-x-client-id"]);
    }

    #[test]
    fn a_denial_is_refused_without_a_dry_run() {
        let config = config(false, false);
        for reason in DenyReason::ALL {
            for rule in [None, Some(0), Some(1)] {
                let refused = denial(reason, rule);
                let enforcement = Enforcement::of(&config, Outcome::Deny(refused.clone()));
                assert_eq!(enforcement, Enforcement::Now(Verdict::Refuse(refused)));
            }
        }
        let Enforcement::Now(mut verdict) =
            Enforcement::of(&config, Outcome::Deny(denial(DenyReason::Role, Some(0))))
        else {
            panic!("not parked")
        };
        let mut editor = Editor::accepting();
        assert_eq!(verdict.change_headers(&mut editor, &no_headers()), None);
        assert!(matches!(verdict, Verdict::Refuse(_)));
        assert!(
            editor.changes.is_empty(),
            "a refused request's headers stay"
        );
    }

    #[test]
    fn a_rehearsed_denial_goes_on_without_claim_headers_under_its_rule() {
        let config = config(true, false);
        let rehearsed = denial(DenyReason::Role, Some(1));
        let Enforcement::Now(mut verdict) =
            Enforcement::of(&config, Outcome::Deny(rehearsed.clone()))
        else {
            panic!("not parked")
        };
        assert_eq!(
            verdict,
            Verdict::Rehearse {
                denial: rehearsed.clone(),
                pass: Allow::without_token(&config, 1),
            }
        );
        let mut editor = Editor::accepting();
        assert_eq!(verdict.change_headers(&mut editor, &no_headers()), None);
        assert!(matches!(verdict, Verdict::Rehearse { denial, .. } if denial == rehearsed));
        assert_eq!(
            editor.changes,
            vec!["-x-client-id"],
            "claim headers go, the token stays"
        );

        // No rule matched: nothing to name counters by, the pass takes the first rule.
        let Enforcement::Now(Verdict::Rehearse { pass, .. }) =
            Enforcement::of(&config, Outcome::Deny(denial(DenyReason::NoRule, None)))
        else {
            panic!("rehearsed under the top-level dry run")
        };
        assert_eq!(pass, Allow::without_token(&config, 0));
    }

    #[test]
    fn a_rule_dry_run_rehearses_only_that_rules_denials() {
        let config = config(false, true);
        let rehearsed = |reason, rule| {
            matches!(
                Enforcement::of(&config, Outcome::Deny(denial(reason, rule))),
                Enforcement::Now(Verdict::Rehearse { .. })
            )
        };
        assert!(rehearsed(DenyReason::Role, Some(0)));
        assert!(rehearsed(DenyReason::Missing, Some(0)));
        assert!(rehearsed(DenyReason::NoKeys, Some(0)));
        assert!(!rehearsed(DenyReason::Role, Some(1)), "another rule");
        assert!(!rehearsed(DenyReason::NoRule, None), "no rule matched");
        assert!(!rehearsed(DenyReason::Path, None), "no rule matched");
        assert!(!rehearsed(DenyReason::Internal, Some(0)), "internal");
    }

    #[test]
    fn a_refused_header_change_is_never_rehearsed() {
        for config in [config(true, false), config(false, true), config(true, true)] {
            let internal = HeaderChangeFailed {
                header: "x-client-id",
            }
            .denial();
            assert_eq!(
                Enforcement::of(&config, Outcome::Deny(internal.clone())),
                Enforcement::Now(Verdict::Refuse(internal.clone())),
                "an internal denial is enforced under any dry run"
            );

            let mut rehearsal = Verdict::of_denial(&config, denial(DenyReason::Role, Some(0)));
            assert!(matches!(rehearsal, Verdict::Rehearse { .. }));
            let mut editor = Editor::refusing("x-client-id");
            assert_eq!(
                rehearsal.change_headers(&mut editor, &no_headers()),
                Some(HeaderChangeFailed {
                    header: "x-client-id"
                })
            );
            assert_eq!(rehearsal, Verdict::Refuse(internal.clone()));

            let mut allowed = Verdict::Continue(Allow::without_token(&config, 0));
            let mut editor = Editor::refusing("x-client-id");
            assert!(allowed.change_headers(&mut editor, &no_headers()).is_some());
            assert_eq!(allowed, Verdict::Refuse(internal));
        }
        assert_eq!(
            HeaderChangeFailed { header: "x" }.denial().description,
            HEADER_CHANGE_FAILED
        );
    }

    #[test]
    fn a_wait_parks_with_its_fallback_refused_or_rehearsed() {
        fn wait(config: &Config) -> Enforcement<'_> {
            Enforcement::of(
                config,
                Outcome::WaitForKeys {
                    provider: 0,
                    reason: WaitReason::UnknownKid,
                    otherwise: denial(DenyReason::UnknownKid, Some(0)),
                },
            )
        }
        let enforced = config(false, false);
        let parked = wait(&enforced);
        assert!(parked.depends_on_key_state());
        assert_eq!(
            parked,
            Enforcement::Park {
                provider: 0,
                reason: WaitReason::UnknownKid,
                otherwise: Verdict::Refuse(denial(DenyReason::UnknownKid, Some(0))),
            }
        );
        let rehearsing = config(false, true);
        assert!(matches!(
            wait(&rehearsing),
            Enforcement::Park {
                otherwise: Verdict::Rehearse { .. },
                ..
            }
        ));
    }

    #[test]
    fn only_answers_about_missing_or_unknown_keys_depend_on_the_key_state() {
        for config in [config(false, false), config(true, false)] {
            for reason in DenyReason::ALL {
                let enforcement = Enforcement::of(&config, Outcome::Deny(denial(reason, Some(0))));
                assert_eq!(
                    enforcement.depends_on_key_state(),
                    matches!(reason, DenyReason::NoKeys | DenyReason::UnknownKid),
                    "{reason:?}"
                );
            }
        }
    }

    #[test]
    fn the_refusal_log_line_names_reason_and_rule_and_nothing_of_the_request() {
        let config = config(false, false);
        assert_eq!(
            refusal_log_line(&config, &denial(DenyReason::Role, Some(0))),
            "denied (role) under calc: token lacks a required role"
        );
        assert_eq!(
            refusal_log_line(&config, &denial(DenyReason::RequiredClaim, Some(1))),
            "denied (claim) under rules[1]: token lacks a required role"
        );
        assert_eq!(
            refusal_log_line(&config, &denial(DenyReason::NoRule, None)),
            "denied (no_rule) under no rule: token lacks a required role"
        );
        assert_eq!(
            refusal_log_line(&config, &denial(DenyReason::Role, Some(7))),
            "denied (role) under no rule: token lacks a required role",
            "an index past the rules names none"
        );
    }
}
