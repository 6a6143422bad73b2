//! The `rolegate` binary against real Microsoft Entra ID tokens (see `tests/data/README.md`).

// Test helpers may panic: a failed expectation is their job (as clippy.toml allows in tests).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_rolegate");

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

fn data(name: &str) -> String {
    format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn at_file(name: &str) -> String {
    format!("@{}", data(name))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// A scratch file for one test.
fn scratch(name: &str, content: &str) -> String {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::write(&path, content).unwrap();
    path.to_string_lossy().into_owned()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    fn line(&self, prefix: &str) -> String {
        self.stdout
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix:?} in:\n{}", self.all()))
            .to_string()
    }
}

fn run_with_stdin(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run(args: &[&str]) -> Run {
    run_with_stdin(args, "")
}

fn check(config: &str, jwks: &str, token: &str, extra: &[&str]) -> Run {
    let mut args = vec![
        "check", "--config", config, "--jwks", jwks, "--token", token,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

fn check_v2(extra: &[&str]) -> Run {
    check(&data(V2_CONFIG), &data(V2_JWKS), &at_file(V2_TOKEN), extra)
}

fn assert_has(run: &Run, needles: &[&str]) {
    for needle in needles {
        assert!(
            run.all().contains(needle),
            "{needle:?} missing (exit {}):\n{}",
            run.code,
            run.all()
        );
    }
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
    assert_has(
        &r,
        &[
            &format!("set    x-client-id: {V2_AZP}"),
            "remove authorization",
            "request:   GET /calc/v1/add/1/1",
            "signature: valid (RS256, kid H9nj5AOSswMphg1SFx7jaV-lB9w, 2048-bit",
            VERIFIED,
            "\"access_as_application\"",
            "exp 1725269353 = 2024-09-02T09:29:13Z (55m 53s after the check time)",
            "clock:     1725266000 = 2024-09-02T08:33:20Z (frozen by --at)",
        ],
    );
    assert!(!r.all().contains(UNVERIFIED));
    // The token itself is never echoed.
    let token = read(V2_TOKEN);
    assert!(!r.all().contains(token.trim()));
}

#[test]
fn v2_token_lacking_the_required_role_gets_403_insufficient_scope() {
    let r = check(
        &data("v2-other-role.config.json"),
        &data(V2_JWKS),
        &at_file(V2_TOKEN),
        &["--at", V2_AT],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(r.line("decision:"), "decision:  DENY");
    assert!(r.line("status:").starts_with("status:    403"));
    assert_eq!(
        r.line("reason:"),
        "reason:    role (token lacks a required role)"
    );
    assert_has(
        &r,
        &[
            "www-authenticate: Bearer error=\"insufficient_scope\"",
            "\"error\":\"insufficient_scope\"",
            "holds [access_as_application]; rules[0] requires any of [invokeRole]",
            // Roles are checked after the signature: these claims were verified.
            VERIFIED,
        ],
    );
}

#[test]
fn v2_token_today_is_expired_with_401() {
    let r = check_v2(&[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.line("status:").starts_with("status:    401"));
    assert_eq!(r.line("reason:"), "reason:    expired (token expired)");
    assert_has(
        &r,
        &[
            "www-authenticate: Bearer error=\"invalid_token\", error_description=\"token expired\"",
            "(now)",
            VERIFIED,
        ],
    );
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
    let r = check(
        &data(V2_CONFIG),
        &data(V2_JWKS),
        &tampered,
        &["--at", V2_AT],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.line("status:").starts_with("status:    401"));
    assert_eq!(
        r.line("reason:"),
        "reason:    signature (token signature is invalid)"
    );
    assert_has(&r, &["signature: INVALID with kid", UNVERIFIED]);
    assert!(!claims_called_verified(&r), "{}", r.all());
}

#[test]
fn v2_token_against_an_older_key_set_is_unknown_kid() {
    let r = check(
        &data(V2_CONFIG),
        &data(V2_OLD_JWKS),
        &at_file(V2_TOKEN),
        &["--at", V2_AT],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.line("status:").starts_with("status:    401"));
    assert_eq!(
        r.line("reason:"),
        "reason:    unknown_kid (token signing key is unknown)"
    );
    assert_has(
        &r,
        &[
            "kid H9nj5AOSswMphg1SFx7jaV-lB9w is not in",
            "key set:   ",
            UNVERIFIED,
        ],
    );
    assert!(!claims_called_verified(&r), "{}", r.all());
}

#[test]
fn a_token_from_another_issuer_is_refused_before_its_signature() {
    let r = check(
        &data(V2_CONFIG),
        &data(ID_JWKS),
        &at_file(ID_TOKEN),
        &["--at", ID_AT],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(
        r.line("reason:"),
        "reason:    issuer (token issuer is not trusted)"
    );
    assert_has(
        &r,
        &[
            "iss \"https://sts.windows.net/add29489-7269-41f4-8841-b63c95564420/\" is not a configured issuer",
            UNVERIFIED,
        ],
    );
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
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(r.line("status:").starts_with("status:    401"));
    assert_eq!(
        r.line("reason:"),
        "reason:    audience (token audience is not accepted)"
    );
    assert_has(&r, &[VERIFIED]);
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
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["x-jwt: <token, 1282 bytes>", "remove x-jwt"]);
}

// ---- check: the v1 app-only token and the kid-less ID token ----

#[test]
fn a_token_without_kid_is_verified_by_x5t() {
    let run_id = |path: &str| {
        check(
            &data(ID_CONFIG),
            &data(ID_JWKS),
            &at_file(ID_TOKEN),
            &["--at", ID_AT, "--path", path],
        )
    };
    let r = run_id("/profile");
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "x5t kriMPdmBvx68skT8-mPAB3BseeA",
            "set    x-user: bob@cyrano.onmicrosoft.com",
            "(not added: x-client-id; claim appid",
            VERIFIED,
        ],
    );
    // An ID token has no roles.
    let r = run_id("/reports");
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["status:    403", "insufficient_scope", "holds []"]);
}

#[test]
fn a_key_set_the_filter_would_refuse_leaves_the_provider_without_keys() {
    // The original identitymodel file: "alg": "SHA256" on both keys, so no usable RS256 key.
    let r = check(
        &data(ID_CONFIG),
        &data("identitymodel-JsonWebKeySet-original.json"),
        &at_file(ID_TOKEN),
        &["--at", ID_AT, "--path", "/profile"],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(
        &r,
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
    let r = check(
        &data(V2_CONFIG),
        &data(V2_JWKS),
        "abc.def",
        &["--at", V2_AT],
    );
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(
        &r,
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
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(
        &r,
        &[
            "rulez: unknown field",
            "providers[0].remote_jwks.timeout_ms: expected an integer from 1 to 60000, got a string",
            "rules: is required",
            "is invalid (3 problems)",
        ],
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    // check refuses the same configuration before doing anything.
    let r = check(
        &data("typos.config.json"),
        &data(V2_JWKS),
        &at_file(V2_TOKEN),
        &[],
    );
    assert_eq!(r.code, 2, "{}", r.all());
    assert_has(&r, &["rulez", "timeout_ms"]);
}

#[test]
fn config_validate_summarizes_a_good_configuration() {
    let r = run(&["config", "validate", &data(V2_CONFIG)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "valid",
            "[0] entra",
            "issuers:   https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/v2.0",
            "audiences: f407babd-8d0f-4afc-a6e7-46f28612670b",
            "remote_jwks: GET https://login.microsoftonline.com/966ac572-f5b7-4bbe-aa88-c76419c0f851/discovery/v2.0/keys through cluster entra",
            "[0] prefix /, any method -> a valid token with any of the roles [access_as_application]",
            "azp -> x-client-id",
        ],
    );
    let r = run(&["config", "validate", &data(V1_CONFIG)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "[0] prefix /healthz, any method -> anonymous",
            "[1] prefix /echo/, GET",
        ],
    );
}

#[test]
fn config_validate_warns_about_open_doors() {
    let r = run(&["config", "validate", &data(V1_CONFIG)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &["warning: rules[0].match.prefix: opens /healthz... without a token"],
    );
    let config = read(V2_CONFIG).replacen("{", "{\"path_screening\": \"off\",", 1);
    let r = run(&["config", "validate", &scratch("off.json", &config)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["warning: path_screening: is off"]);
    let r = run(&["config", "validate", &data(V2_CONFIG)]);
    assert!(!r.all().contains("warning"), "{}", r.all());
}

#[test]
fn a_path_that_is_not_canonical_is_refused_before_any_rule() {
    let r = check_v2(&["--at", V2_AT, "--path", "/calc/%2e%2e/admin"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_eq!(r.line("decision:"), "decision:  DENY");
    assert!(r.line("status:").starts_with("status:    400"));
    assert_has(
        &r,
        &[
            "reason:    path (request path is not in canonical form)",
            "path /calc/%2e%2e/admin is refused before any rule: the path has a . or .. segment",
            "\"error\":\"invalid_request\"",
        ],
    );
}

#[test]
fn config_validate_points_out_rules_that_never_apply() {
    let config = read(V2_CONFIG).replace(
        "\"roles\": [\"access_as_application\"]}",
        "\"roles\": [\"access_as_application\"]}, {\"match\": {\"prefix\": \"/healthz\"}, \"allow_anonymous\": true}",
    );
    let r = run(&["config", "validate", &scratch("shadowed.json", &config)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(&r, &["note: rules[1] never applies", "rules[0] first"]);
}

#[test]
fn config_validate_reports_unreadable_and_non_json_files() {
    let r = run(&["config", "validate", &data("no-such-file.json")]);
    assert_eq!(r.code, 2);
    assert_has(&r, &["cannot read configuration"]);
    let r = run(&["config", "validate", &data(V2_TOKEN)]);
    assert_eq!(r.code, 2);
    assert_has(&r, &["configuration is not valid JSON"]);
}

// ---- decode ----

#[test]
fn decode_shows_header_and_claims_unverified() {
    let r = run(&["decode", &at_file(V2_TOKEN)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert!(r.stdout.starts_with("UNVERIFIED"), "{}", r.stdout);
    assert_has(
        &r,
        &[
            "header (UNVERIFIED)",
            "\"kid\": \"H9nj5AOSswMphg1SFx7jaV-lB9w\"",
            "\"roles\": [",
            "\"access_as_application\"",
            "iat 1725265453 = 2024-09-02T08:24:13Z",
            "exp 1725269353 = 2024-09-02T09:29:13Z",
            "lifetime 1h 5m (3900 s)",
            "signature: 256 bytes, not checked",
        ],
    );
    assert!(!claims_called_verified(&r), "{}", r.all());

    let r = run(&["decode", &at_file(ID_TOKEN)]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
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
    let r = run(&["decode", &parts.join(".")]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
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
    let r = run(&["decode", &hs256]);
    assert_eq!(r.code, 0, "{}", r.all());
    assert_has(
        &r,
        &[
            "\"alg\": \"HS256\"",
            "the filter would refuse this token as malformed: token alg is not RS256",
        ],
    );
}

#[test]
fn decode_fails_on_what_is_not_a_jws() {
    let r = run(&["decode", "abc.def"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["not a compact JWS"]);
    let r = run(&["decode", "e30.bm90IGpzb24.c2ln"]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert_has(&r, &["payload: not JSON"]);
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
    assert_has(
        &r,
        &[
            "rolegate check --config CONFIG.json --jwks JWKS.json --token TOKEN|@FILE",
            "rolegate config validate CONFIG.json",
            "rolegate decode TOKEN|@FILE",
        ],
    );
}

#[test]
fn usage_errors_exit_2() {
    let config = data(V2_CONFIG);
    let jwks = data(V2_JWKS);
    let token = at_file(V2_TOKEN);
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
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "--at", "soon",
            ],
            "--at \"soon\" must be Unix seconds",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "--at", "-5",
            ],
            "must be Unix seconds",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "--path", "calc",
            ],
            "must start with '/'",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "--method", "G T",
            ],
            "is not an HTTP method",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "--tokn", "x",
            ],
            "unknown option --tokn",
        ),
        (
            vec!["check", "--config", &config, "--config", &config],
            "--config is given twice",
        ),
        (vec!["check", "--config"], "--config needs a value"),
        (
            vec![
                "check", "--config", &config, "--jwks", &jwks, "--token", &token, "extra",
            ],
            "unexpected argument \"extra\"",
        ),
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
    for (args, message) in [
        (
            vec![
                "check", "--config", &missing, "--jwks", &jwks, "--token", &token,
            ],
            "cannot read configuration",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &missing, "--token", &token,
            ],
            "cannot read key set",
        ),
        (
            vec![
                "check", "--config", &config, "--jwks", &not_jwks, "--token", &token,
            ],
            "is not a JSON Web Key Set: no \"keys\" array",
        ),
        (
            vec![
                "check",
                "--config",
                &config,
                "--jwks",
                &jwks,
                "--token",
                &missing_token,
            ],
            "cannot read token file",
        ),
        (vec!["decode", &missing_token], "cannot read token file"),
    ] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.all());
        assert!(r.stderr.contains(message), "{args:?}: {}", r.stderr);
    }
}
