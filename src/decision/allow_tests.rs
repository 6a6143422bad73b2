// Compiled only for tests: declared `#[cfg(test)] mod` in this folder's mod.rs.
//! Tests of an allowed request's header changes.

use super::test_support::*;
use super::*;
use crate::config::Config;

/// The real token in `authorization`, and something else in a second token header.
struct TwoTokenHeaders(String);

impl RequestHeaders for TwoTokenHeaders {
    fn header(&self, name: &str) -> Option<String> {
        match name {
            "x-jwt-assertion" => Some("forged.token.here".into()),
            other => Request(self.0.clone()).header(other),
        }
    }
}

fn two_locations(forward: bool) -> Config {
    let mut config = config();
    config.forward = forward;
    config
        .from_headers
        .push(crate::request::extract::TokenLocation {
            name: "x-jwt-assertion".into(),
            value_prefix: String::new(),
        });
    config.token_headers = vec!["authorization".into(), "x-jwt-assertion".into()];
    config
}

fn allow_of<'c>(config: &'c Config) -> Allow<'c> {
    match decide(
        config,
        &TwoTokenHeaders(TOKEN.trim().to_string()),
        &keys(KEYS_WITH_KID, 1),
        DURING,
        WaitPermission::default(),
    ) {
        Outcome::Allow(allow) => allow,
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_token_header_is_removed_not_only_the_verified_one() {
    let config = two_locations(false);
    let removed: Vec<&str> = allow_of(&config).remove_headers().collect();
    assert_eq!(removed, vec!["authorization", "x-jwt-assertion"]);
    let config = two_locations(true);
    assert_eq!(
        allow_of(&config).remove_headers().count(),
        0,
        "forward: true keeps every token header"
    );
    let parsed = Config::parse(
        br#"{"providers":[{"name":"p","issuer":"i","audiences":["a"],
             "remote_jwks":{"cluster":"c","uri":"https://login/keys"}}],
             "from_headers":[{"name":"Authorization","value_prefix":"Bearer "},
                             {"name":"authorization","value_prefix":"JWT "},
                             {"name":"x-jwt-assertion"}],
             "rules":[{"match":{"prefix":"/"}}]}"#,
    )
    .expect("config");
    assert_eq!(
        parsed.token_headers,
        vec!["authorization", "x-jwt-assertion"]
    );
}

/// Refuses the change to one header; records the others.
struct RefusingEditor {
    refuse: &'static str,
    done: Vec<String>,
}

impl HeaderEditor for RefusingEditor {
    fn remove(&mut self, name: &str) -> bool {
        self.done.push(format!("-{name}"));
        name != self.refuse
    }
    fn set(&mut self, name: &str, value: &str) -> bool {
        self.done.push(format!("+{name}: {value}"));
        name != self.refuse
    }
}

#[test]
fn a_header_change_the_host_refuses_fails_the_request_closed() {
    let config = two_locations(false);
    let allow = allow_of(&config);
    let mut editor = RefusingEditor {
        refuse: "none",
        done: Vec::new(),
    };
    assert_eq!(
        allow.apply(&mut editor, &Vec::<(&str, &str)>::new()),
        Ok(())
    );
    assert_eq!(
        editor.done,
        vec![
            "-authorization",
            "-x-jwt-assertion",
            "+x-client-id: 5f28c10f-ecd5-45ef-96b8-db4311802e89"
        ]
    );
    for refuse in ["authorization", "x-jwt-assertion", "x-client-id"] {
        let mut editor = RefusingEditor {
            refuse,
            done: Vec::new(),
        };
        let failed = allow
            .apply(&mut editor, &Vec::<(&str, &str)>::new())
            .expect_err("refused");
        assert_eq!(failed.header, refuse);
        let reply = crate::decision::reply::local_reply(&failed.denial());
        assert_eq!(reply.status, 500);
        assert_eq!(
            reply.body,
            r#"{"error":"internal_error","error_description":"request headers could not be changed"}"#
        );
        assert_eq!(failed.denial().reason.name(), "internal");
    }
}

#[test]
fn underscore_twins_of_changed_headers_are_removed_too() {
    let config = two_locations(false);
    let allow = allow_of(&config);
    let request = vec![
        (":path", "/calc"),
        ("x_client_id", "victim"),
        ("x_client-id", "victim"),
        ("X-CLIENT_ID", "victim"),
        ("x_jwt_assertion", "unverified"),
        ("x_request_id", "kept: names no changed header"),
        ("x_client_idx", "kept: another name"),
        ("authorization", "Bearer t"),
    ];
    let mut editor = RefusingEditor {
        refuse: "none",
        done: Vec::new(),
    };
    assert_eq!(allow.apply(&mut editor, &request), Ok(()));
    assert_eq!(
        editor.done,
        vec![
            "-authorization",
            "-x-jwt-assertion",
            "+x-client-id: 5f28c10f-ecd5-45ef-96b8-db4311802e89",
            "-x_client_id",
            "-x_client-id",
            "-X-CLIENT_ID",
            "-x_jwt_assertion",
        ]
    );
    let anonymous = Allow::without_token(&config, 0);
    let mut editor = RefusingEditor {
        refuse: "none",
        done: Vec::new(),
    };
    assert_eq!(anonymous.apply(&mut editor, &request), Ok(()));
    assert_eq!(
        editor.done,
        vec![
            "-x-client-id",
            "-x_client_id",
            "-x_client-id",
            "-X-CLIENT_ID"
        ],
        "an anonymous pass keeps the token headers, twins included, and drops claim twins"
    );
    let mut refusing = RefusingEditor {
        refuse: "x_client_id",
        done: Vec::new(),
    };
    assert_eq!(
        allow.apply(&mut refusing, &request),
        Err(HeaderChangeFailed {
            header: "x-client-id"
        }),
        "a twin that cannot be removed fails the request closed"
    );
}

#[test]
fn a_host_that_cannot_list_headers_gets_no_pass_a_twin_could_ride() {
    let config = two_locations(false);
    let allow = allow_of(&config);
    let mut editor = RefusingEditor {
        refuse: "none",
        done: Vec::new(),
    };
    assert_eq!(
        allow.apply(&mut editor, &Anonymous("/calc")),
        Err(HeaderChangeFailed {
            header: "x-client-id"
        })
    );
    let mut plain = two_locations(false);
    plain.claim_to_headers.clear();
    plain.token_headers = vec!["authorization".into()];
    let allow = allow_of(&plain);
    assert_eq!(
        allow.apply(&mut editor, &Anonymous("/calc")),
        Ok(()),
        "authorization has no twin: nothing to list"
    );
}
