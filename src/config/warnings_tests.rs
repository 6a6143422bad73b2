// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of configuration warnings.

use super::test_support::*;
use super::*;

#[test]
fn open_doors_are_warned_about() {
    let c = Config::parse(
        with_rules(
            r#"[{"match": {"prefix": "/healthz"}, "allow_anonymous": true},
                {"match": {"prefix": "/docs/"}, "allow_anonymous": true},
                {"match": {"prefix": "/calc"}, "roles": ["r"]}]"#,
        )
        .replace(r#""rules""#, r#""path_screening": "off", "rules""#)
        .as_bytes(),
    )
    .expect("valid");
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("path_screening: is off"));
    assert!(
        warnings[1].starts_with("rules[0].match.prefix: opens /healthz...")
            && warnings[1].contains("/healthzX"),
        "{warnings:?}"
    );
}

#[test]
fn allow_missing_with_a_bare_prefix_is_warned_about_as_allow_anonymous_is() {
    let c = Config::parse(
        with_rules(
            r#"[{"match": {"prefix": "/public"}, "allow_missing": true},
                {"match": {"prefix": "/docs/"}, "allow_missing": true},
                {"match": {"path_separated_prefix": "/open"}, "allow_missing": true},
                {"match": {"prefix": "/calc"}, "roles": ["r"]},
                {"match": {"prefix": "/any"}}]"#,
        )
        .as_bytes(),
    )
    .expect("valid");
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "rules[0].match.prefix: opens /public... without a token, not only /public/: \
             a string prefix also matches /publicX. Use path_separated_prefix"
        ],
        "rules that need a token (roles or any valid one) open nothing"
    );
}

#[test]
fn dry_run_for_the_plugin_and_for_one_rule() {
    let c = Config::parse(
        with_rules(
            r#"[{"name": "calc", "match": {"prefix": "/calc/"}, "roles": ["r"], "dry_run": true},
                {"match": {"prefix": "/"}}]"#,
        )
        .as_bytes(),
    )
    .expect("valid");
    assert!(!c.dry_run);
    assert_eq!((c.rules[0].dry_run, c.rules[1].dry_run), (true, false));
    let warnings: Vec<String> = c.warnings().iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "rules[0].dry_run: is on: requests under calc are not denied; would-be denials \
              are only logged and counted"
        ]
    );
    let top = Config::parse(
        with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": false}]"#)
            .replace(r#""rules""#, r#""dry_run": true, "rules""#)
            .as_bytes(),
    )
    .expect("valid");
    assert!(top.dry_run && !top.rules[0].dry_run);
    assert!(top.warnings()[0].to_string().starts_with("dry_run: is on"));
    assert_eq!(
        errors(
            &with_rules(r#"[{"match": {"prefix": "/"}, "dry_run": "yes"}]"#)
                .replace(r#""rules""#, r#""dry_run": 1, "rules""#)
        ),
        vec![
            "rules[0].dry_run: expected true or false, got a string",
            "dry_run: expected true or false, got a number",
        ]
    );
    assert!(errors(&with_rules(
        r#"[{"match": {"prefix": "/"}, "dryrun": true}]"#
    ))
    .iter()
    .any(|e| e.starts_with("rules[0].dryrun: unknown field") && e.contains("dry_run")));
}
