//! Path tricks in real Envoy: every way of writing a path that the rules and the upstream could
//! read differently, through a connection manager with Envoy's defaults (no normalization) and
//! through normalizing ones (Istio's MERGE_SLASHES and DECODE_AND_MERGE_SLASHES). Each case
//! checks rolegate's answer and, when the request goes through, the path the upstream received.
//!
//! Prerequisites: `make envoy` and `make build` (the tests fail without them).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Duration;

use serde_json::{json, Value};

use rolegate_testkit::answers as check;
use rolegate_testkit::bootstrap::{self, PathHandling};
use rolegate_testkit::entra::ROLE;
use rolegate_testkit::stack::{assert_counter_reaches, Stack};
use rolegate_testkit::test_keys::{standard_jwks, token};
use rolegate_testkit::token::bearer;
use rolegate_testkit::{idp, Idp, Response};

const HOST: &str = "calc.example.com";

/// `/healthz` anonymous, `/calc` needs invokeRole, `/admin` needs admin. `/v1` is the review's
/// API (issue #27): anonymous, but `POST /v1/items:purge`, `/v1/@me` and `/v1/café` need
/// invokeRole, so a spelling that misses their rules lands on the anonymous one. Nothing else
/// is allowed.
fn config() -> Value {
    json!({
        "providers": [idp::provider()],
        "rules": [
            {"match": {"path_separated_prefix": "/healthz"}, "allow_anonymous": true},
            {"match": {"path_separated_prefix": "/calc"}, "roles": [ROLE]},
            {"match": {"path_separated_prefix": "/admin"}, "roles": ["admin"]},
            {"match": {"path": "/v1/items:purge", "methods": ["POST"]}, "roles": [ROLE]},
            {"match": {"path_separated_prefix": "/v1/@me"}, "roles": [ROLE]},
            {"match": {"path_separated_prefix": "/v1/caf\u{e9}"}, "roles": [ROLE]},
            {"match": {"path_separated_prefix": "/v1"}, "allow_anonymous": true},
        ],
    })
}

/// What a request must get.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// rolegate's 400: the path is not in canonical form.
    Refused,
    /// Envoy's own 400, before rolegate runs.
    EnvoyRefuses,
    /// Through to the upstream, which receives this path.
    Upstream(&'static str),
    /// 401: the rule that covers the path needs a token.
    Missing,
    /// 403 insufficient_scope: the rule that covers the path needs a role the token lacks.
    Scope,
    /// 403 access_denied: no rule covers the path.
    NoRule,
    /// `..;` under normalize_path: Envoy resolves it from 1.36.10, 1.37.6, 1.38.4 and 1.39.1 on
    /// (CVE-2026-73511, GHSA-m745-gh6x-349x), and the request gets what the resolved path gets.
    /// An Envoy before the fix passes the segment on as written, and rolegate refuses it.
    OnceEnvoyResolvesDotParameters(&'static Want),
}

use Want::*;

/// One trick: the method and path as sent, whether an invokeRole token goes with it, and what
/// it must get with Envoy's defaults, with MERGE_SLASHES and with DECODE_AND_MERGE_SLASHES.
struct Case {
    method: &'static str,
    path: &'static str,
    with_token: bool,
    raw: Want,
    normalized: Want,
    unescaped: Want,
    why: &'static str,
}

const fn case(
    path: &'static str,
    with_token: bool,
    raw: Want,
    normalized: Want,
    unescaped: Want,
    why: &'static str,
) -> Case {
    Case {
        method: "GET",
        path,
        with_token,
        raw,
        normalized,
        unescaped,
        why,
    }
}

impl Case {
    /// The same case sent as `POST` (with an empty body).
    const fn posted(self) -> Case {
        Case {
            method: "POST",
            ..self
        }
    }
}

/// A [`case`] that gets the same with MERGE_SLASHES and with DECODE_AND_MERGE_SLASHES.
const fn normalized_alike(
    path: &'static str,
    with_token: bool,
    raw: Want,
    normalized: Want,
    why: &'static str,
) -> Case {
    case(path, with_token, raw, normalized, normalized, why)
}

/// Out of the anonymous space into /calc, without a token: refused as sent; normalized, the
/// resolved path's rule wants a token.
const fn into_calc(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, false, Refused, Missing, why)
}

/// Into /calc through encoded slashes, without a token: refused as sent and with MERGE_SLASHES
/// (which keeps them encoded); DECODE_AND_MERGE_SLASHES decodes them, and the resolved path's
/// rule wants a token.
const fn into_calc_by_slashes(path: &'static str, why: &'static str) -> Case {
    case(path, false, Refused, Refused, Missing, why)
}

/// From /calc into /admin with an invokeRole token: refused as sent; normalized, 403.
const fn into_admin(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, true, Refused, Scope, why)
}

/// A /calc path with an invokeRole token and a segment normalization removes: refused as sent;
/// normalized, the upstream gets /calc/v1/add/1/1.
const fn collapses(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, true, Refused, Upstream("/calc/v1/add/1/1"), why)
}

/// Refused however paths are handled, with an invokeRole token.
const fn refused_everywhere(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, true, Refused, Refused, why)
}

/// Another spelling of a path under a `/v1` rule that needs invokeRole, without a token: 401
/// however paths are handled, not the anonymous `/v1` rule's pass.
const fn same_rule(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, false, Missing, Missing, why)
}

/// Out of the anonymous space into /calc without a token, by a spelling no normalization
/// resolves: refused however paths are handled.
const fn refused_into_calc(path: &'static str, why: &'static str) -> Case {
    normalized_alike(path, false, Refused, Refused, why)
}

const CASES: &[Case] = &[
    normalized_alike(
        "/healthz/live",
        false,
        Upstream("/healthz/live"),
        Upstream("/healthz/live"),
        "the anonymous space",
    ),
    into_calc(
        "/healthz/../calc/v1/add/1/1",
        "dot-dot out of the anonymous space",
    ),
    into_calc("/healthz/%2e%2e/calc/v1/add/1/1", "encoded dot-dot"),
    into_calc(
        "/healthz/%2E%2E/calc/v1/add/1/1",
        "encoded dot-dot, upper case",
    ),
    into_calc("/healthz/.%2e/calc/v1/add/1/1", "half-encoded dot-dot"),
    normalized_alike(
        "/healthz/..;/calc/v1/add/1/1",
        false,
        Refused,
        OnceEnvoyResolvesDotParameters(&Missing),
        "Tomcat's ..; (normalize_path resolves it too)",
    ),
    normalized_alike(
        "/healthz/..;jsessionid=x/calc/v1/add/1/1",
        false,
        Refused,
        OnceEnvoyResolvesDotParameters(&Missing),
        "..; with a parameter value",
    ),
    into_calc_by_slashes(
        "/healthz%2f..%2fcalc/v1/add/1/1",
        "encoded slashes: kept by MERGE_SLASHES, decoded by DECODE_AND_MERGE_SLASHES",
    ),
    into_calc_by_slashes(
        "/healthz%2F..%2Fcalc/v1/add/1/1",
        "encoded slashes, upper case",
    ),
    into_calc_by_slashes("/healthz%5c..%5ccalc/v1/add/1/1", "encoded backslashes"),
    into_calc(
        "/healthz\\..\\calc/v1/add/1/1",
        "backslashes: normalize_path reads them as /",
    ),
    into_admin(
        "/calc/../admin/x",
        "from the invokeRole space into the admin space",
    ),
    into_admin("/calc/%2e%2e/admin/x", "the same, encoded"),
    collapses("/calc/./v1/add/1/1", "a single dot segment"),
    collapses("//calc/v1/add/1/1", "leading empty segment"),
    collapses("/calc//v1/add/1/1", "inner empty segment"),
    normalized_alike(
        "/healthzX",
        false,
        NoRule,
        NoRule,
        "a separated prefix stops at the segment",
    ),
    normalized_alike(
        "/c%61lc/v1/add/1/1",
        false,
        Missing,
        Missing,
        "an encoded unreserved letter is still /calc",
    ),
    normalized_alike(
        "/c%61lc/v1/add/1/1",
        true,
        Upstream("/c%61lc/v1/add/1/1"),
        Upstream("/calc/v1/add/1/1"),
        "normalize_path decodes unreserved escapes; rolegate matches the decoded form",
    ),
    normalized_alike(
        "/%61dmin/x",
        true,
        Scope,
        Scope,
        "an encoded /admin is /admin",
    ),
    refused_everywhere(
        "/admin;x/panel",
        "Tomcat routes /admin/panel, Go /admin;x/panel: ;parameters that change the rule",
    ),
    normalized_alike(
        "/calc/v1/add/1/1;v=2",
        true,
        Upstream("/calc/v1/add/1/1;v=2"),
        Upstream("/calc/v1/add/1/1;v=2"),
        "a parameter that changes no rule",
    ),
    normalized_alike(
        "/calc/v1/add/1/1?next=/../admin",
        true,
        Upstream("/calc/v1/add/1/1?next=/../admin"),
        Upstream("/calc/v1/add/1/1?next=/../admin"),
        "the query is not the path",
    ),
    normalized_alike(
        "/calc/v1/%00",
        true,
        Refused,
        EnvoyRefuses,
        "encoded NUL: normalize_path refuses it itself",
    ),
    refused_everywhere(
        "/calc/v1/%0a",
        "encoded line feed: no normalization removes it",
    ),
    refused_everywhere(
        "/calc/v1/%zz",
        "malformed escape: no normalization repairs it",
    ),
    // Issue #27: two accepted spellings of one path. Go, ASP.NET Core, Spring and Flask decode
    // every escape below to the character; Envoy's normalize_path decodes none of them.
    same_rule("/v1/items:purge", "the protected action as written").posted(),
    same_rule(
        "/v1/items%3Apurge",
        "an encoded : once skipped the /v1/items:purge rule for the anonymous /v1",
    )
    .posted(),
    same_rule("/v1/items%3apurge", "the same, lower-case hex").posted(),
    normalized_alike(
        "/v1/items%3Apurge",
        true,
        Upstream("/v1/items%3Apurge"),
        Upstream("/v1/items%3Apurge"),
        "the rule's role lets the encoded spelling through, and the upstream gets it as sent",
    )
    .posted(),
    same_rule("/v1/@me/profile", "the @ rule as written"),
    same_rule("/v1/%40me/profile", "an encoded @ is the same rule"),
    normalized_alike(
        "/v1/caf\u{e9}/menu",
        false,
        EnvoyRefuses,
        EnvoyRefuses,
        "UTF-8 as sent: Envoy's HTTP/1 codec refuses bytes past ASCII in the request line (the \
         rule's own spelling still matches the escaped form below)",
    ),
    same_rule(
        "/v1/caf%C3%A9/menu",
        "encoded UTF-8 is the same rule as the text",
    ),
    same_rule("/v1/caf%c3%a9/menu", "encoded UTF-8, lower-case hex"),
    normalized_alike(
        "/v1/caf%C3%A9/menu",
        true,
        Upstream("/v1/caf%C3%A9/menu"),
        Upstream("/v1/caf%C3%A9/menu"),
        "with the role, through as sent",
    ),
    refused_into_calc(
        "/healthz/%252e%252e/calc/v1/add/1/1",
        "double-encoded dots: %2e%2e once decoded, .. to a second decoder",
    ),
    refused_into_calc(
        "/healthz%252f..%252fcalc/v1/add/1/1",
        "double-encoded slashes: UNESCAPE_AND_FORWARD decodes %2F, not %25",
    ),
    refused_into_calc(
        "/healthz/%c0%ae%c0%ae/calc/v1/add/1/1",
        "overlong UTF-8 dots: .. to old Java and IIS decoders",
    ),
    normalized_alike(
        "/healthz/\u{ff0e}\u{ff0e}/calc/v1/add/1/1",
        false,
        EnvoyRefuses,
        EnvoyRefuses,
        "full-width dots as sent: refused by Envoy's HTTP/1 codec, like any byte past ASCII",
    ),
    refused_into_calc(
        "/healthz/%EF%BC%8E%EF%BC%8E/calc/v1/add/1/1",
        "full-width dots, escaped",
    ),
    refused_into_calc(
        "/healthz/%E2%80%A5/calc/v1/add/1/1",
        "two dot leader: one character that NFKC turns into ..",
    ),
    refused_into_calc(
        "/healthz%EF%BC%8F..%EF%BC%8Fcalc/v1/add/1/1",
        "full-width solidus: a separator under NFKC",
    ),
];

fn want_for(case: &Case, handling: PathHandling, resolves_dot_parameters: bool) -> Want {
    let want = match handling {
        PathHandling::Raw => case.raw,
        PathHandling::Normalized => case.normalized,
        PathHandling::NormalizedAndUnescaped => case.unescaped,
        PathHandling::NormalizedAndRedirected => unreachable!("no case runs with redirects"),
    };
    match want {
        OnceEnvoyResolvesDotParameters(resolved) if resolves_dot_parameters => *resolved,
        OnceEnvoyResolvesDotParameters(_) => Refused,
        other => other,
    }
}

/// Whether this Envoy's normalize_path resolves `..;` (see `OnceEnvoyResolvesDotParameters`),
/// from the version `/server_info` reports (`<commit>/1.39.1/Modified/RELEASE/BoringSSL`).
fn resolves_dot_parameters(s: &Stack) -> bool {
    let info: Value = serde_json::from_str(&s.envoy.admin_get("/server_info").unwrap()).unwrap();
    let build = info["version"].as_str().unwrap();
    let version: Vec<u32> = build
        .split('/')
        .nth(1)
        .unwrap()
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    let fixed_in = match (version[0], version[1]) {
        (1, 36) => 10,
        (1, 37) => 6,
        (1, 38) => 4,
        (1, 39) => 1,
        (1, minor) if minor > 39 => 0,
        _ => panic!("no known fix for Envoy {build}"),
    };
    version[2] >= fixed_in
}

fn check_answer(r: &Response, want: Want, what: &str) {
    match want {
        Refused => {
            let body = check::local_reply(r, 400, what);
            assert_eq!(
                body,
                json!({"error": "invalid_request", "error_description": "request path is not in canonical form"}),
                "{what}"
            );
            assert!(r.header("www-authenticate").is_none(), "{what}: {r:?}");
        }
        EnvoyRefuses => {
            assert_eq!(r.status, 400, "{what}: {r:?}");
            assert!(
                serde_json::from_slice::<Value>(&r.body).is_err(),
                "{what}: want Envoy's own reply, not rolegate's: {r:?}"
            );
        }
        Upstream(path) => {
            let seen = check::upstream_ok(r, what);
            assert_eq!(seen["path"], path, "{what}: the path the upstream received");
        }
        Missing => check::missing_credentials(r, HOST, what),
        Scope => check::insufficient_scope(r, what),
        NoRule => {
            let body = check::local_reply(r, 403, what);
            assert_eq!(check::error_code(&body), "access_denied", "{what}");
        }
        OnceEnvoyResolvesDotParameters(_) => unreachable!("want_for decides it"),
    }
}

/// The stack with `config`, its connection manager handling paths as `handling` says.
fn start(config: &Value, handling: PathHandling) -> Stack {
    Stack::start_with(Idp::start(standard_jwks()), |p| {
        let mut bootstrap = p.standard(config);
        bootstrap::set_path_handling(&mut bootstrap, handling);
        bootstrap
    })
}

fn run(handling: PathHandling) {
    let s = start(&config(), handling);
    let auth = bearer(&token(&[ROLE]));
    let mut refused = 0;
    let resolves = resolves_dot_parameters(&s);
    for case in CASES {
        let want = want_for(case, handling, resolves);
        let what = format!(
            "{handling:?} {} {:?} (token: {}): {}",
            case.method, case.path, case.with_token, case.why
        );
        let mut headers = vec![("host", HOST)];
        if case.with_token {
            headers.push(("authorization", auth.as_str()));
        }
        let before = s.up.count();
        let r = s.envoy.request(case.method, case.path, &headers, None);
        check_answer(&r, want, &what);
        let reached = s.up.count() - before;
        let should_reach = usize::from(matches!(want, Upstream(_)));
        assert_eq!(
            reached, should_reach,
            "{what}: requests that reached the upstream"
        );
        refused += u64::from(matches!(want, Refused));
    }
    // Every refusal is counted under its own reason.
    assert_counter_reaches(&s, "wasmcustom.rolegate.denied.path", refused);
}

#[test]
fn envoy_defaults_every_trick_gets_400() {
    run(PathHandling::Raw);
}

#[test]
fn merge_slashes_normalized_paths_get_the_rule_of_the_resolved_path() {
    run(PathHandling::Normalized);
}

#[test]
fn decode_and_merge_slashes_normalized_paths_get_the_rule_of_the_resolved_path() {
    run(PathHandling::NormalizedAndUnescaped);
}

#[test]
fn turning_screening_off_or_opening_a_string_prefix_is_warned_about_at_start() {
    let mut config = config();
    config["path_screening"] = json!("off");
    config["rules"][0] = json!({"match": {"prefix": "/healthz"}, "allow_anonymous": true});
    let s = start(&config, PathHandling::Raw);
    for needle in [
        "configuration warning: path_screening: is off",
        "configuration warning: rules[0].match.prefix: opens /healthz... without a token",
    ] {
        s.envoy.assert_logged(needle, Duration::from_secs(5));
    }
    // What the warning is about: behind Envoy's defaults the rules see the raw path.
    let r = s
        .envoy
        .get("/healthz/../calc/v1/add/1/1", &[("host", HOST)]);
    assert_eq!(
        check::upstream_ok(&r, "screening off")["path"],
        "/healthz/../calc/v1/add/1/1"
    );
}
