//! The `rolegate` binary against real Microsoft Entra ID tokens (see `tests/data/README.md`).

// Test helpers may panic: a failed expectation is their job (as clippy.toml allows in tests).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use support::{at_file, check, data, read, run, run_with_stdin, scratch, Run};

// v2 app-only token: iat = nbf = 1725265453, exp = 1725269353.
const V2_TOKEN: &str = "nav-pensjonskalkulator-v2-app-roles.jwt";
const V2_CONFIG: &str = "v2-app.config.json";
const V2_JWKS: &str = "entra-common-jwks-2024-09-03.json";
const V2_OLD_JWKS: &str = "entra-common-jwks-2024-06-24.json";
const V2_AT: &str = "1725266000";
const V2_AZP: &str = "5f28c10f-ecd5-45ef-96b8-db4311802e89";

// A v1 API configuration of our own (no token of its own: the SecuredApi token of the shared
// collection is left out for its license).
const V1_CONFIG: &str = "v1-app.config.json";

// v1 ID token without kid (x5t only): iat = nbf = 1419268520, exp = 1419272420.
const ID_TOKEN: &str = "identitymodel-cyrano-v1-idtoken.jwt";
const ID_CONFIG: &str = "v1-idtoken.config.json";
const ID_JWKS: &str = "identitymodel-jwks-2014-normalized.json";
const ID_AT: &str = "1419270000";

/// `check` with the configuration, key set and token files of tests/data.
fn check_files(config: &str, jwks: &str, token: &str, extra: &[&str]) -> Run {
    check(&data(config), &data(jwks), &at_file(token), extra)
}

fn check_v2(extra: &[&str]) -> Run {
    check_files(V2_CONFIG, V2_JWKS, V2_TOKEN, extra)
}

/// `check` of `token` itself with the v2 configuration and key set.
fn check_v2_token(token: &str, extra: &[&str]) -> Run {
    check(&data(V2_CONFIG), &data(V2_JWKS), token, extra)
}

/// Asserts a denial: exit code 1, the status line's code and the reason line.
#[track_caller]
fn assert_denied(r: &Run, status: u16, reason: &str) {
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r
        .line("status:")
        .starts_with(&format!("status:    {status}")));
    assert_eq!(r.line("reason:"), format!("reason:    {reason}"));
}

const VERIFIED: &str = "claims (VERIFIED";

/// Whether anything in the output says VERIFIED other than as part of UNVERIFIED.
fn claims_called_verified(run: &Run) -> bool {
    run.all().replace("UNVERIFIED", "").contains("VERIFIED")
}
const UNVERIFIED: &str = "claims (UNVERIFIED";

// ---- check: the v2 app-only token ----

#[test]
fn v2_token_is_allowed_at_a_time_inside_its_lifetime() {
    let r = check_v2(&["--at", V2_AT, "--path", "/calc/v1/add/1/1"]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_eq!(r.line("decision:"), "decision:  ALLOW");
    assert!(r.line("status:").starts_with("status:    200"));
    r.has(&[
        &format!("set    x-client-id: {V2_AZP}"),
        "remove authorization",
        "request:   GET /calc/v1/add/1/1",
        "signature: valid (RS256, kid H9nj5AOSswMphg1SFx7jaV-lB9w, 2048-bit",
        VERIFIED,
        "\"access_as_application\"",
        "exp 1725269353 = 2024-09-02T09:29:13Z (55m 53s after the check time)",
        "clock:     1725266000 = 2024-09-02T08:33:20Z (frozen by --at)",
    ]);
    assert!(!r.all().contains(UNVERIFIED));
    // The token itself is never echoed.
    let token = read(V2_TOKEN);
    assert!(!r.all().contains(token.trim()));
}

#[test]
fn v2_token_lacking_the_required_role_gets_403_insufficient_scope() {
    let r = check_files(
        "v2-other-role.config.json",
        V2_JWKS,
        V2_TOKEN,
        &["--at", V2_AT],
    );
    assert_denied(&r, 403, "role (token lacks a required role)");
    assert_eq!(r.line("decision:"), "decision:  DENY");

    r.has(&[
        "www-authenticate: Bearer error=\"insufficient_scope\"",
        "\"error\":\"insufficient_scope\"",
        "holds [access_as_application]; rules[0] requires any of [invokeRole]",
        // Roles are checked after the signature: these claims were verified.
        VERIFIED,
    ]);
}

#[test]
fn v2_token_today_is_expired_with_401() {
    let r = check_v2(&[]);
    assert_denied(&r, 401, "expired (token expired)");

    r.has(&[
        "www-authenticate: Bearer error=\"invalid_token\", error_description=\"token expired\"",
        "(now)",
        VERIFIED,
    ]);
}

#[test]
fn expiry_and_not_before_honour_the_clock_skew() {
    // exp + 60 s skew is the first refused second; nbf - 60 s the first accepted one.
    let r = check_v2(&["--at", "1725269412"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = check_v2(&["--at", "1725269413"]);
    assert_eq!(r.line("reason:"), "reason:    expired (token expired)");
    let r = check_v2(&["--at", "1725265393"]);
    assert_eq!(r.code, 0, "{}", r.all());
    let r = check_v2(&["--at", "1725265392"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.line("reason:"),
        "reason:    not_yet_valid (token is not valid yet)"
    );
    assert!(r.all().contains(VERIFIED));
}

/// The token with one character of its payload changed, still well-formed with the same
/// issuer, audience, lifetime and kid: only the signature can tell.
fn tampered_v2_token() -> String {
    let token = read(V2_TOKEN).trim().to_string();
    let original = rolegate::token::parse(&token, 8192).unwrap();
    let (header, rest) = token.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    for i in 20..payload.len() {
        let c = payload.as_bytes()[i];
        let replacement = if c == b'A' { 'B' } else { 'A' };
        let mut changed = payload.to_string();
        changed.replace_range(i..=i, &replacement.to_string());
        let candidate = format!("{header}.{changed}.{signature}");
        let Ok(parsed) = rolegate::token::parse(&candidate, 8192) else {
            continue;
        };
        let same = ["iss", "aud", "exp", "nbf", "roles"]
            .iter()
            .all(|c| parsed.claims.get(*c) == original.claims.get(*c));
        if same && parsed.kid == original.kid {
            return candidate;
        }
    }
    panic!("no one-character change keeps the token well-formed");
}

#[test]
fn v2_token_with_a_changed_payload_fails_the_signature() {
    let tampered = tampered_v2_token();
    let r = check_v2_token(&tampered, &["--at", V2_AT]);
    assert_denied(&r, 401, "signature (token signature is invalid)");

    r.has(&["signature: INVALID with kid", UNVERIFIED]);
    assert!(!claims_called_verified(&r), "{}", r.all());
}

#[test]
fn v2_token_against_an_older_key_set_is_unknown_kid() {
    let r = check_files(V2_CONFIG, V2_OLD_JWKS, V2_TOKEN, &["--at", V2_AT]);
    assert_denied(&r, 401, "unknown_kid (token signing key is unknown)");

    r.has(&[
        "kid H9nj5AOSswMphg1SFx7jaV-lB9w is not in",
        "key set:   ",
        UNVERIFIED,
    ]);
    assert!(!claims_called_verified(&r), "{}", r.all());
}

#[test]
fn a_token_from_another_issuer_is_refused_before_its_signature() {
    let r = check_files(V2_CONFIG, ID_JWKS, ID_TOKEN, &["--at", ID_AT]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        r.line("reason:"),
        "reason:    issuer (token issuer is not trusted)"
    );
    r.has(&[
            "iss \"https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/\" is not a configured issuer",
            UNVERIFIED,
        ]);
}

#[test]
fn a_wrong_audience_is_refused_after_the_signature() {
    let config = read(V2_CONFIG).replace(
        "\"f407babd-8d0f-4afc-a6e7-46f28612670b\"",
        "\"api://another-api\"",
    );
    let r = check(
        &scratch("wrong-audience.json", &config),
        &data(V2_JWKS),
        &at_file(V2_TOKEN),
        &["--at", V2_AT],
    );
    assert_denied(&r, 401, "audience (token audience is not accepted)");

    r.has(&[VERIFIED]);
}

#[test]
fn the_token_may_come_from_stdin_and_a_custom_header() {
    let config = read(V2_CONFIG).replace(
        "\"rules\"",
        "\"from_headers\": [{\"name\": \"x-jwt\"}], \"rules\"",
    );
    let token = read(V2_TOKEN);
    let r = run_with_stdin(
        &[
            "check",
            "--config",
            &scratch("x-jwt.json", &config),
            "--jwks",
            &data(V2_JWKS),
            "--token",
            "@-",
            "--at",
            V2_AT,
        ],
        &format!("\n  {token}\n"),
    );
    r.expect(0, &["x-jwt: <token, 1282 bytes>", "remove x-jwt"]);
}

// ---- check: the v1 app-only token and the kid-less ID token ----

#[test]
fn a_token_without_kid_is_verified_by_x5t() {
    let run_id = |path: &str| {
        check_files(
            ID_CONFIG,
            ID_JWKS,
            ID_TOKEN,
            &["--at", ID_AT, "--path", path],
        )
    };
    run_id("/profile").expect(
        0,
        &[
            "x5t kriMPdmBvx68skT8-mPAB3BseeA",
            "set    x-user: bob@cyrano.onmicrosoft.com",
            "(not added: x-client-id; claim appid",
            VERIFIED,
        ],
    );
    // An ID token has no roles.
    run_id("/reports").expect(1, &["status:    403", "insufficient_scope", "holds []"]);
}

#[test]
fn a_key_set_the_filter_would_refuse_leaves_the_provider_without_keys() {
    // The original identitymodel file: "alg": "SHA256" on both keys, so no usable RS256 key.
    let r = check_files(
        ID_CONFIG,
        "identitymodel-JsonWebKeySet-original.json",
        ID_TOKEN,
        &["--at", ID_AT, "--path", "/profile"],
    );
    r.expect(
        1,
        &[
            "status:    503",
            "reason:    no_keys",
            "retry-after: 5",
            "key alg SHA256 is not RS256",
            "holds no usable RS256 key",
            UNVERIFIED,
        ],
    );
}

#[test]
fn a_malformed_token_is_denied_with_the_reason() {
    let r = check_v2_token("abc.def", &["--at", V2_AT]);
    r.expect(
        1,
        &[
            "status:    401",
            "reason:    malformed (token is not a compact JWS)",
            "claims: the payload cannot be decoded",
        ],
    );
    assert!(!claims_called_verified(&r), "{}", r.all());
}

// ---- config validate ----

#[test]
fn config_validate_lists_every_problem_with_its_field() {
    let r = run(&["config", "validate", &data("typos.config.json")]);
    r.expect(2, &[
            "rulez: unknown field",
            "providers[0].remote_jwks.timeout_ms: expected an integer from 1 to 60000, got a string",
            "rules: is required",
            "is invalid (3 problems)",
        ]);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // check refuses the same configuration before doing anything.
    check_files("typos.config.json", V2_JWKS, V2_TOKEN, &[]).expect(2, &["rulez", "timeout_ms"]);
}

#[test]
fn config_validate_summarizes_a_good_configuration() {
    run(&["config", "validate", &data(V2_CONFIG)]).expect(0, &[
            "valid",
            "[0] entra",
            "issuers:   https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0",
            "audiences: f407babd-8d0f-4afc-a6e7-46f28612670b",
            "remote_jwks: GET https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/discovery/v2.0/keys through cluster entra",
            "[0] prefix /, any method -> a valid token with any of the roles [access_as_application]",
            "azp -> x-client-id",
        ]);
    run(&["config", "validate", &data(V1_CONFIG)]).expect(
        0,
        &[
            "[0] prefix /healthz, any method -> anonymous",
            "[1] prefix /echo/, GET",
        ],
    );
}

#[test]
fn config_validate_warns_about_open_doors() {
    run(&["config", "validate", &data(V1_CONFIG)]).expect(
        0,
        &["warning: rules[0].match.prefix: opens /healthz... without a token"],
    );
    let config = read(V2_CONFIG).replacen("{", "{\"path_screening\": \"off\",", 1);
    run(&["config", "validate", &scratch("off.json", &config)])
        .expect(0, &["warning: path_screening: is off"]);
    let r = run(&["config", "validate", &data(V2_CONFIG)]);
    assert!(!r.all().contains("warning"), "{}", r.all());
}

#[test]
fn a_path_that_is_not_canonical_is_refused_before_any_rule() {
    let r = check_v2(&["--at", V2_AT, "--path", "/calc/%2e%2e/admin"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(r.line("decision:"), "decision:  DENY");
    assert!(r.line("status:").starts_with("status:    400"));
    r.has(&[
        "reason:    path (request path is not in canonical form)",
        "path /calc/%2e%2e/admin is refused before any rule: the path has a . or .. segment",
        "\"error\":\"invalid_request\"",
    ]);
}

#[test]
fn config_validate_points_out_rules_that_never_apply() {
    let config = read(V2_CONFIG).replace(
        "\"roles\": [\"access_as_application\"]}",
        "\"roles\": [\"access_as_application\"]}, {\"match\": {\"prefix\": \"/healthz\"}, \"allow_anonymous\": true}",
    );
    run(&["config", "validate", &scratch("shadowed.json", &config)])
        .expect(0, &["note: rules[1] never applies", "rules[0] first"]);
}

#[test]
fn config_validate_reports_unreadable_and_non_json_files() {
    run(&["config", "validate", &data("no-such-file.json")])
        .expect(2, &["cannot read configuration"]);
    run(&["config", "validate", &data(V2_TOKEN)]).expect(2, &["configuration is not valid JSON"]);
}

// ---- decode ----

#[test]
fn decode_shows_header_and_claims_unverified() {
    let r = run(&["decode", &at_file(V2_TOKEN)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.starts_with("UNVERIFIED"), "{}", r.stdout);
    r.has(&[
        "header (UNVERIFIED)",
        "\"kid\": \"H9nj5AOSswMphg1SFx7jaV-lB9w\"",
        "\"roles\": [",
        "\"access_as_application\"",
        "iat 1725265453 = 2024-09-02T08:24:13Z",
        "exp 1725269353 = 2024-09-02T09:29:13Z",
        "lifetime 1h 5m (3900 s)",
        "signature: 256 bytes, not checked",
    ]);
    assert!(!claims_called_verified(&r), "{}", r.all());

    run(&["decode", &at_file(ID_TOKEN)]).expect(
        0,
        &[
            "\"x5t\": \"kriMPdmBvx68skT8-mPAB3BseeA\"",
            "\"bob@cyrano.onmicrosoft.com\"",
            "nbf 1419268520 = 2014-12-22T17:15:20Z",
        ],
    );
}

#[test]
fn decode_is_lenient_and_says_so() {
    let token = read(ID_TOKEN);
    let mut parts: Vec<String> = token.trim().split('.').map(str::to_string).collect();
    // Re-pad the segments and use the standard alphabet, as some tools do.
    for part in &mut parts {
        while part.len() % 4 != 0 {
            part.push('=');
        }
        *part = part.replace('-', "+").replace('_', "/");
    }
    run(&["decode", &parts.join(".")]).expect(
        0,
        &[
            "\"x5t\": \"kriMPdmBvx68skT8-mPAB3BseeA\"",
            "bob@cyrano.onmicrosoft.com",
            "decoded leniently",
            "the filter refuses such a token as malformed",
        ],
    );

    // Any alg decodes; the filter's verdict on it is noted.
    let hs256 = format!(
        "{}.{}.c2ln",
        rolegate::token::base64url::encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        token.split('.').nth(1).unwrap()
    );
    run(&["decode", &hs256]).expect(
        0,
        &[
            "\"alg\": \"HS256\"",
            "the filter would refuse this token as malformed: token alg is not RS256",
        ],
    );
}

#[test]
fn decode_fails_on_what_is_not_a_jws() {
    run(&["decode", "abc.def"]).expect(1, &["not a compact JWS"]);
    run(&["decode", "e30.bm90IGpzb24.c2ln"]).expect(1, &["payload: not JSON"]);
}

// ---- usage ----

#[test]
fn help_is_printed_with_exit_0() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["help"],
        &["help", "check"],
        &["check", "--help"],
        &["help", "config", "validate"],
        &["decode", "--help"],
    ] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.all());
        assert!(r.stdout.contains("Usage"), "{args:?}: {}", r.stdout);
    }
    let r = run(&["--help"]);
    r.has(&[
        "rolegate check --config CONFIG.json --jwks JWKS.json --token TOKEN|@FILE",
        "rolegate config validate CONFIG.json",
        "rolegate decode TOKEN|@FILE",
    ]);
}

#[test]
fn usage_errors_exit_2() {
    let config = data(V2_CONFIG);
    let jwks = data(V2_JWKS);
    let token = at_file(V2_TOKEN);
    let all_three = [
        "check", "--config", &config, "--jwks", &jwks, "--token", &token,
    ];
    let with = |extra: &[&'static str]| [&all_three[..], extra].concat();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "a command is required"),
        (vec!["verify"], "unknown command \"verify\""),
        (vec!["help", "verify"], "no such command"),
        (vec!["config"], "a subcommand is required"),
        (vec!["config", "check", "x"], "unknown config subcommand"),
        (vec!["config", "validate"], "CONFIG.json is required"),
        (
            vec!["config", "validate", "a", "b"],
            "unexpected argument \"b\"",
        ),
        (vec!["decode"], "TOKEN|@FILE is required"),
        (vec!["decode", "Bearer abc"], "without 'Bearer '"),
        (vec!["decode", "   "], "the token is empty"),
        (
            vec!["check", "--jwks", &jwks, "--token", &token],
            "--config is required",
        ),
        (
            vec!["check", "--config", &config, "--token", &token],
            "--jwks is required",
        ),
        (
            vec!["check", "--config", &config, "--jwks", &jwks],
            "--token is required",
        ),
        (
            with(&["--at", "soon"]),
            "--at \"soon\" must be Unix seconds",
        ),
        (with(&["--at", "-5"]), "must be Unix seconds"),
        (with(&["--path", "calc"]), "must start with '/'"),
        (with(&["--method", "G T"]), "is not an HTTP method"),
        (with(&["--tokn", "x"]), "unknown option --tokn"),
        (
            vec!["check", "--config", &config, "--config", &config],
            "--config is given twice",
        ),
        (vec!["check", "--config"], "--config needs a value"),
        (with(&["extra"]), "unexpected argument \"extra\""),
    ];
    for (args, message) in cases {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(
            r.stderr.contains(message),
            "{args:?}: {message:?} missing in {}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
    }
}

#[test]
fn unreadable_inputs_exit_2() {
    let config = data(V2_CONFIG);
    let jwks = data(V2_JWKS);
    let token = at_file(V2_TOKEN);
    let missing = data("missing.json");
    let missing_token = at_file("missing.jwt");
    let not_jwks = data(V2_CONFIG);
    let files = |c, j, t| vec!["check", "--config", c, "--jwks", j, "--token", t];
    for (args, message) in [
        (files(&missing, &jwks, &token), "cannot read configuration"),
        (files(&config, &missing, &token), "cannot read key set"),
        (
            files(&config, &not_jwks, &token),
            "is not a JSON Web Key Set: no \"keys\" array",
        ),
        (
            files(&config, &jwks, &missing_token),
            "cannot read token file",
        ),
        (vec!["decode", &missing_token], "cannot read token file"),
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}
