//! Key-set lifecycle in a real Envoy (V8, `--concurrency 2`): the cold start, unknown-`kid`
//! refetches and their rate limit, rotation, IdP outages and recovery, OIDC discovery, the
//! Azure AD preset, the filter as Istio renders it, and the verified-token cache across key
//! changes. Every test starts its own IdP, upstream and Envoy, and checks HTTP answers, the
//! IdP's request counts and rolegate's stats.
//!
//! Prerequisites (the tests fail, never skip, without them): `make envoy` and `make build`.
//!
//! Timing: the machine may be slow and shared. Waits poll with deadlines; fixed sleeps are
//! only used where a scenario needs time to pass (an outage lasting a while, a rotation
//! seconds after start) or to let every worker look at the shared key record (workers poll
//! it every 100 ms; [`SYNC_SETTLE`] is ten of those periods).
#![allow(clippy::panic)]

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use rolegate_testkit::answers::{self as check, Want, UNKNOWN_KID, UNTRUSTED_ISSUER};
use rolegate_testkit::entra::{
    claims_with, API_APP_ID, AUDIENCE, CLIENT_ID, ISSUER, ISSUER_V1, OTHER_ISSUER, ROLE, TENANT,
};
use rolegate_testkit::idp::{self, ENTRA_AUTHORITY, IDP_AUTHORITY};
use rolegate_testkit::istio::{self, FailClosed};
use rolegate_testkit::jwks::jwks;
use rolegate_testkit::stack::{assert_counter_reaches, eventually, Stack};
use rolegate_testkit::test_keys::{
    key_a, key_b, key_c, signed_by, token, token_with, KID_A, KID_B, KID_C,
};
use rolegate_testkit::token::{header, mint};
use rolegate_testkit::{Idp, IdpMode, SigningKey};
use Want::{InvalidAs, NoRule, Scope, Through};

/// Name of the provider in every configuration (it appears in the metric names).
const PROVIDER: &str = "aad";

/// Time for every worker to pick up a change of the shared key record.
const SYNC_SETTLE: Duration = Duration::from_secs(1);

// ---------------------------------------------------------------------------
// configurations, tokens, stats

/// `base` with the members of `extra` added (both JSON objects).
fn merged(mut base: Value, extra: Value) -> Value {
    if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
        b.extend(e);
    }
    base
}

/// One provider `aad` (audiences [`API_APP_ID`], [`AUDIENCE`]) with the key source
/// `source_field: source`; `/healthz` anonymous, `/calc/` needing [`ROLE`], `azp` copied
/// to `x-client-id`. `issuers` is omitted when empty (the Azure preset derives them).
fn config(issuers: &[&str], source_field: &str, source: Value) -> Value {
    let mut provider = Map::new();
    provider.insert("name".into(), json!(PROVIDER));
    if !issuers.is_empty() {
        provider.insert("issuers".into(), json!(issuers));
    }
    provider.insert("audiences".into(), json!([API_APP_ID, AUDIENCE]));
    provider.insert(source_field.into(), source);
    json!({
        "providers": [provider],
        "claim_to_headers": [{"claim": "azp", "header": "x-client-id"}],
        "rules": [
            {"match": {"prefix": "/healthz"}, "allow_anonymous": true},
            {"match": {"prefix": "/calc/"}, "roles": [ROLE]},
        ],
    })
}

/// [`config`] with both Entra issuers and a `remote_jwks`.
fn remote_config(cache_duration_seconds: u64, timeout_ms: u64) -> Value {
    remote_config_with(idp::remote_jwks(cache_duration_seconds, timeout_ms))
}

/// [`config`] with both Entra issuers and the given `remote_jwks`.
fn remote_config_with(remote_jwks: Value) -> Value {
    config(&[ISSUER, ISSUER_V1], "remote_jwks", remote_jwks)
}

/// Like [`signed_by`], with a unique `jti`: a token no worker has verified (and cached) yet.
fn unseen(key: &SigningKey, kid: &str) -> String {
    mint(
        key,
        header(kid),
        claims_with(&[ROLE], json!({"jti": fresh_kid("jti")})),
    )
}

/// A `kid` no key set holds, different on every call.
fn fresh_kid(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}-{}-{nanos:09}", std::process::id())
}

/// `wasmcustom.rolegate.jwks.aad.<name>`.
fn jwks_stat(name: &str) -> String {
    format!("wasmcustom.rolegate.jwks.{PROVIDER}.{name}")
}

/// Keys A and C under their `kid`s.
fn keys_a_and_c() -> Value {
    jwks(&[(key_a(), KID_A), (key_c(), KID_C)])
}

/// The test IdP publishing key A only.
fn key_a_idp() -> Idp {
    Idp::start(jwks(&[(key_a(), KID_A)]))
}

/// Waits up to `timeout` for the stat `jwks_stat(name)` to satisfy `ok`; panics with `what`
/// and the IdP's requests when it does not.
fn await_jwks_stat(s: &Stack, name: &str, timeout: Duration, ok: impl Fn(u64) -> bool, what: &str) {
    within(s, timeout, 50, what, || {
        ok(s.envoy.counter(&jwks_stat(name))).then_some(())
    });
}

/// Polls `f` every `every_ms` until it gives a value, for at most `timeout`; panics with
/// `what`, the IdP's requests and the tail of Envoy's log when it never does.
fn within<T>(
    s: &Stack,
    timeout: Duration,
    every_ms: u64,
    what: impl std::fmt::Display,
    f: impl FnMut() -> Option<T>,
) -> T {
    let every = Duration::from_millis(every_ms);
    eventually(timeout, every, f).unwrap_or_else(|| {
        let (requests, log) = (s.idp.describe_requests(), s.envoy.log_tail(30));
        panic!("{what} ({timeout:?}):\n{requests}\n{log}")
    })
}

/// Asserts that the IdP got `n` JWKS requests, showing them all when it did not.
fn assert_fetches(s: &Stack, n: usize, what: &str) {
    let got = s.idp.jwks_requests();
    assert_eq!(got, n, "{what}:\n{}", s.idp.describe_requests());
}

/// Sleeps until `deadline` (no-op if it passed).
fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

// ---------------------------------------------------------------------------
// 1. cold start

#[test]
fn cold_start_burst_waits_for_one_fetch() {
    // The IdP takes 2.5 s, so the burst (sent as soon as Envoy is ready) meets the first
    // fetch in flight; timeout_ms 5000 lets the paused requests wait for it.
    const IDP_DELAY: Duration = Duration::from_millis(2500);
    const BURST: usize = 40;
    let idp = Idp::start_with_mode(jwks(&[(key_a(), KID_A)]), IdpMode::Slow(IDP_DELAY));
    let s = Stack::start(&remote_config(600, 5000), idp);
    let burst_at = s.idp.started().elapsed();
    let tokens = vec![token(&[ROLE]); BURST];
    let results = s.burst(&tokens, |i| format!("/calc/cold/{i}"));

    let mut slowest = Duration::ZERO;
    for (i, (r, took)) in results.iter().enumerate() {
        let what = format!("cold-start request {i} (answered after {took:?})");
        check::upstream_saw(r, &what, &[("x-client-id", Some(CLIENT_ID))]);
        slowest = slowest.max(*took);
    }
    let fetches = s.idp.jwks_request_times();
    println!(
        "cold start: burst of {BURST} sent {burst_at:?} after the IdP started; JWKS requested at \
         {fetches:?}; slowest answer {slowest:?}"
    );
    let first = *fetches.first().expect("the JWKS was never requested");
    assert!(
        burst_at < first + IDP_DELAY,
        "the burst ({burst_at:?}) came after the first key set ({first:?} + {IDP_DELAY:?}), so \
         it did not test waiting; Envoy took too long to become ready"
    );
    // A second fetch would come from another worker or a lapsed lease; give it time to show.
    std::thread::sleep(SYNC_SETTLE);
    let what = "a cold-start burst must cause exactly one JWKS fetch for the whole Envoy";
    assert_fetches(&s, 1, what);
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_success")), 1);
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_failure")), 0);
    // Per-request counters reach Envoy's stats on the workers' next tick (100 ms).
    assert_counter_reaches(&s, "wasmcustom.rolegate.allowed", BURST as u64);
    assert_eq!(s.up.count(), BURST);
}

// ---------------------------------------------------------------------------
// 2. unknown kids

#[test]
fn unknown_kid_flood_is_rate_limited() {
    const ROUNDS: usize = 6;
    const PER_ROUND: usize = 10;
    let s = Stack::start(&remote_config(600, 5000), key_a_idp());
    let valid = token(&[ROLE]);
    // Every worker has the keys (see unknown_kid_during_cold_start_is_refetched for why).
    let warm = s.on_every_worker(1, 60, |i| {
        check::upstream_ok(
            &s.get_with_token(&format!("/calc/warm/{i}"), &valid),
            "valid token before the flood",
        );
    });
    assert_fetches(&s, 1, "start-up fetch");

    // 60 tokens, each with a kid nobody publishes, signed by a key nobody publishes: 10 at
    // once every second.
    let mut latencies: Vec<Vec<Duration>> = Vec::new();
    for round in 0..ROUNDS {
        let round_start = Instant::now();
        let tokens: Vec<String> = (0..PER_ROUND)
            .map(|i| signed_by(key_b(), &fresh_kid(&format!("flood-{round}-{i}"))))
            .collect();
        let results = s.burst(&tokens, |i| format!("/calc/flood/{round}/{i}"));
        for (i, (r, took)) in results.iter().enumerate() {
            check::invalid_token(
                r,
                UNKNOWN_KID,
                &format!("flood round {round} request {i} (after {took:?})"),
            );
        }
        latencies.push(results.iter().map(|(_, took)| *took).collect());
        sleep_until(round_start + Duration::from_secs(1));
    }
    let fetches = s.idp.jwks_requests();
    let refetches = s.envoy.counter(&jwks_stat("unknown_kid_refetch"));
    let slowest: Vec<Duration> = latencies
        .iter()
        .map(|l| l.iter().copied().max().unwrap_or_default())
        .collect();
    println!(
        "unknown-kid flood: JWKS requests {fetches} (1 at start-up), unknown_kid_refetch \
         {refetches}, slowest answer per round {slowest:?}"
    );
    // The first unknown kid seconds after start-up is refetched at once (the limit counts
    // from the previous unknown-kid refetch only); within min_refetch_interval_seconds (30)
    // no other one is.
    assert_eq!(
        fetches,
        2,
        "start-up fetch plus exactly one refetch:\n{}",
        s.idp.describe_requests()
    );
    assert_eq!(refetches, 1, "unknown_kid_refetch");
    // Rate-limited answers come at once; round 0 may have waited for the refetch.
    for (round, l) in latencies.iter().enumerate().skip(1) {
        for (i, took) in l.iter().enumerate() {
            assert!(
                *took < Duration::from_secs(1),
                "round {round} request {i}: a rate-limited unknown kid took {took:?}"
            );
        }
    }
    assert_counter_reaches(
        &s,
        "wasmcustom.rolegate.denied.unknown_kid",
        (ROUNDS * PER_ROUND) as u64,
    );
    check::upstream_ok(
        &s.get_with_token("/calc/after", &valid),
        "valid token after the flood",
    );
    assert_fetches(&s, 2, "no fetch after the flood");
    assert_eq!(
        s.up.count(),
        warm + 1,
        "only the valid requests reach the upstream"
    );
}

// ---------------------------------------------------------------------------
// 3. rotation

#[test]
fn rotation_seconds_after_start_is_picked_up_at_once() {
    let s = Stack::start(&remote_config(600, 5000), key_a_idp());
    let ready = Instant::now();
    let ta = signed_by(key_a(), KID_A);
    let tb = signed_by(key_b(), KID_B);
    s.on_every_worker(2, 60, |i| {
        let case = format!("key A before the rotation, request {i}");
        s.expect(&format!("/calc/a/{i}"), &ta, Through, &case);
    });
    assert_eq!(s.idp.jwks_requests(), 1);

    // A few seconds after start, long before the 600 s refresh, the IdP rotates A -> B.
    sleep_until(ready + Duration::from_secs(2));
    s.idp.set_jwks(jwks(&[(key_b(), KID_B)]));
    let (r, took) = s.timed_get_with_token("/calc/b", &tb);
    println!(
        "rotation: the first token signed by B answered {} after {took:?}",
        r.status
    );
    check::upstream_ok(
        &r,
        "first token signed by the new key B (waits for the refetch)",
    );
    assert!(took < Duration::from_secs(5), "the refetch took {took:?}");
    assert_fetches(&s, 2, "start-up fetch plus the refetch");
    assert_eq!(s.envoy.counter(&jwks_stat("unknown_kid_refetch")), 1);

    std::thread::sleep(SYNC_SETTLE);
    let calls = s.on_every_worker(3, 60, |i| {
        let case = format!("key B after the rotation, request {i}");
        s.expect(&format!("/calc/b/{i}"), &tb, Through, &case);
        let case = format!("key A (removed) after the rotation, request {i}");
        s.expect(&format!("/calc/a/{i}"), &ta, InvalidAs(UNKNOWN_KID), &case);
    });
    println!("rotation: {calls} request pairs covered both workers");
    let what = "the removed key's kid is rate-limited, not refetched";
    assert_fetches(&s, 2, what);
}

#[test]
fn unknown_kid_during_cold_start_is_refetched() {
    // The IdP rotates right after rolegate's first fetch: that fetch gets {A}, every later
    // one {A, B}. It answers in 1.5 s, so a request sent when Envoy is ready waits for the
    // first keys. Its kid B is not in them; no unknown-kid refetch has happened yet, so the
    // limit (counted from the previous unknown-kid refetch only) allows one at once, and it
    // finds B. (The same happens, by chance, to an unknown kid that reaches a worker in the
    // up to 100 ms before that worker has seen the first keys another VM fetched.)
    const IDP_DELAY: Duration = Duration::from_millis(1500);
    let idp = Idp::start_with_mode(jwks(&[(key_a(), KID_A)]), IdpMode::Slow(IDP_DELAY));
    idp.set_jwks_sequence(vec![
        jwks(&[(key_a(), KID_A)]),
        jwks(&[(key_a(), KID_A), (key_b(), KID_B)]),
    ]);
    let s = Stack::start(&remote_config(600, 5000), idp);
    let sent_at = s.idp.started().elapsed();
    let (r, took) = s.timed_get_with_token("/calc/b", &signed_by(key_b(), KID_B));
    let fetches = s.idp.jwks_request_times();
    println!(
        "cold-start unknown kid: sent {sent_at:?} after the IdP started, answered {} after \
         {took:?}; JWKS requested at {fetches:?}",
        r.status
    );
    let first = *fetches.first().expect("the JWKS was never requested");
    assert!(
        sent_at < first + IDP_DELAY,
        "the request came after the first key set, so it did not wait for it"
    );
    check::upstream_ok(
        &r,
        "token signed by B, waiting for the first keys (which lack B): B must be refetched",
    );
    assert_fetches(&s, 2, "first fetch plus one unknown-kid refetch");
    assert_eq!(s.envoy.counter(&jwks_stat("unknown_kid_refetch")), 1);
}

// ---------------------------------------------------------------------------
// 4. IdP outage after keys are known

/// Keys known, then the IdP goes into `mode`; with cache_duration_seconds 2 the refreshes
/// fail, but requests keep passing with the last good keys; when the IdP is back the keys
/// are refreshed again.
fn outage_keeps_the_last_good_keys(mode: IdpMode, log_needles: &[&str]) {
    const OUTAGE: Duration = Duration::from_millis(6500);
    let what = format!("IdP {mode:?}");
    let s = Stack::start(&remote_config(2, 1000), Idp::start(keys_a_and_c()));
    // Odd requests reuse a token (a worker's verified-token cache may answer); even ones
    // bring a token never seen, which must be verified with the kept keys.
    let cached = signed_by(key_a(), KID_A);
    let token_for = |i: usize| match i % 4 {
        0 => unseen(key_a(), KID_A),
        2 => unseen(key_c(), KID_C),
        _ => cached.clone(),
    };
    s.expect("/calc/before", &cached, Through, &what);
    let successes = s.envoy.counter(&jwks_stat("fetch_success"));
    let failures = s.envoy.counter(&jwks_stat("fetch_failure"));
    let fetches = s.idp.jwks_requests();

    s.idp.set_mode(mode);
    let down = Instant::now();
    let mut sent = 0;
    while down.elapsed() < OUTAGE {
        let r = s.get_with_token(&format!("/calc/outage/{sent}"), &token_for(sent));
        let into = down.elapsed();
        check::upstream_ok(
            &r,
            &format!("{what}: request {sent}, {into:?} into the outage"),
        );
        sent += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    s.on_every_worker(2, 60, |i| {
        let case = format!("{what}: request {i} on every worker late in the outage");
        s.expect(&format!("/calc/outage/w{i}"), &token_for(i), Through, &case);
    });
    // Refresh due 2 s after the last success, then retries after ~1 s, ~2 s, ~4 s; each
    // attempt of a hanging IdP takes timeout_ms (1 s) to fail.
    let not_twice = format!("{what}: fetch_failure rose by less than 2");
    let failed = within(&s, Duration::from_secs(10), 100, not_twice, || {
        let failed = s.envoy.counter(&jwks_stat("fetch_failure")) - failures;
        (failed >= 2).then_some(failed)
    });
    let age = s.envoy.counter(&jwks_stat("key_set_age_seconds"));
    let attempts = s.idp.jwks_requests() - fetches;
    println!(
        "{what}: {sent} requests passed during {OUTAGE:?}; {failed} failed fetches, {attempts} \
         JWKS attempts, key_set_age_seconds {age}"
    );
    assert_eq!(
        s.envoy.counter(&jwks_stat("fetch_success")),
        successes,
        "{what}: no success while down"
    );
    assert!(
        (2..=5).contains(&attempts),
        "{what}: {attempts} JWKS attempts during the outage, want 2 to 5 (back-off):\n{}",
        s.idp.describe_requests()
    );
    assert!(
        age >= 5,
        "{what}: key_set_age_seconds {age}: the keys in use are old"
    );
    let unwarned = format!("{what}: no warning containing one of {log_needles:?} in the log");
    within(&s, Duration::from_secs(5), 100, unwarned, || {
        let log = s.envoy.log();
        log_needles.iter().any(|n| log.contains(n)).then_some(())
    });

    // The IdP comes back: within the back-off the keys are refreshed, without a restart.
    s.idp.set_mode(IdpMode::Normal);
    let back = Instant::now();
    let not_back = format!("{what}: no successful fetch after the IdP came back");
    let refreshed = within(&s, Duration::from_secs(20), 200, not_back, || {
        (s.envoy.counter(&jwks_stat("fetch_success")) > successes).then(|| back.elapsed())
    });
    println!("{what}: keys refreshed {refreshed:?} after the IdP came back");
    s.expect("/calc/back", &token_for(0), Through, &what);
}

#[test]
fn idp_answering_500_after_keys_keeps_the_last_good_keys() {
    outage_keeps_the_last_good_keys(
        IdpMode::Fail500,
        &["key set fetch for provider aad failed: HTTP status 500; keeping the last good keys"],
    );
}

#[test]
fn hanging_idp_after_keys_keeps_the_last_good_keys() {
    // Envoy's HTTP client answers a call that times out with its own 504 ("upstream
    // request timeout"); a reset would be reported as "no response".
    outage_keeps_the_last_good_keys(
        IdpMode::Hang,
        &[
            "key set fetch for provider aad failed: HTTP status 504; keeping the last good keys",
            "key set fetch for provider aad failed: no response",
        ],
    );
}

// ---------------------------------------------------------------------------
// 5. IdP down from the start

#[test]
fn idp_down_from_start_gives_503_then_recovers_without_restart() {
    let s = Stack::start(
        &remote_config(600, 5000),
        Idp::start_with_mode(jwks(&[(key_a(), KID_A)]), IdpMode::Fail500),
    );
    let t = token(&[ROLE]);
    for i in 0..2 {
        let (r, took) = s.timed_get_with_token(&format!("/calc/down/{i}"), &t);
        println!("IdP down: request {i} answered {} after {took:?}", r.status);
        check::keys_unavailable(&r, &format!("IdP down from the start, request {i}"));
        assert!(
            took < Duration::from_secs(3),
            "request {i}: a failed first fetch must be answered at once, took {took:?}"
        );
    }
    let warning = "key set fetch for provider aad failed: HTTP status 500";
    s.envoy.assert_logged(warning, Duration::from_secs(5));
    // Let it fail three times to see the back-off, then bring the IdP back.
    let fifteen = Duration::from_secs(15);
    let what = "fewer than 3 failed fetches in 15 s";
    await_jwks_stat(&s, "fetch_failure", fifteen, |n| n >= 3, what);
    s.idp.set_mode(IdpMode::Normal);
    let back = Instant::now();
    let mut answers = 0;
    let not_back = "still no 200 after the IdP came back";
    let recovered = within(&s, Duration::from_secs(15), 200, not_back, || {
        let r = s.get_with_token(&format!("/calc/recover/{answers}"), &t);
        answers += 1;
        if r.status == 200 {
            return Some(back.elapsed());
        }
        check::keys_unavailable(&r, "while the back-off runs");
        None
    });
    let times = s.idp.jwks_request_times();
    println!(
        "IdP down: first 200 {recovered:?} after the IdP came back ({answers} requests); JWKS \
         requests at {times:?}"
    );
    assert!(
        recovered < Duration::from_secs(10),
        "recovery took {recovered:?}"
    );
    s.on_every_worker(2, 60, |i| {
        let case = format!("after recovery, request {i}");
        s.expect(&format!("/calc/up/{i}"), &t, Through, &case);
    });
    // Three failures, then the success: retries 1 s, 2 s, 4 s apart (±25%, plus up to a
    // 100 ms tick and scheduling slack); requests in between never start a fetch.
    assert_eq!(
        times.len(),
        4,
        "3 failed attempts and 1 good one:\n{}",
        s.idp.describe_requests()
    );
    for (k, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let base = Duration::from_secs(1 << k);
        let (low, high) = (
            base.mul_f64(0.7),
            base.mul_f64(1.25) + Duration::from_millis(1500),
        );
        assert!(
            gap >= low && gap <= high,
            "retry {} came {gap:?} after the previous attempt, want {low:?}..{high:?} \
             (back-off {base:?} ±25%): {times:?}",
            k + 1
        );
    }
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_failure")), 3);
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_success")), 1);
}

// ---------------------------------------------------------------------------
// 6. OIDC discovery

#[test]
fn discovery_document_names_the_key_set() {
    // The document sends the JWKS GET elsewhere: another authority and path, through the
    // separate jwks_cluster.
    const JWKS_AUTHORITY: &str = "keys.idp.test";
    const JWKS_PATH: &str = "/alt/discovered/keys";
    let idp = key_a_idp();
    idp.set_discovery(ISSUER, &format!("http://{JWKS_AUTHORITY}{JWKS_PATH}"));
    idp.serve_jwks_at(JWKS_PATH);
    let source = json!({
        "cluster": "idp",
        "uri": idp::discovery_uri(),
        "jwks_cluster": "idp-keys",
        "cache_duration_seconds": 600,
        "timeout_ms": 3000,
    });
    let s = Stack::start_with_idp_clusters(
        &config(&[ISSUER, ISSUER_V1], "discovery", source),
        idp,
        &["idp-keys"],
    );
    check::upstream_saw(
        &s.get_with_token("/calc/add", &token(&[ROLE])),
        "token with keys found through discovery",
        &[("x-client-id", Some(CLIENT_ID))],
    );
    std::thread::sleep(SYNC_SETTLE);
    println!("discovery: IdP requests:\n{}", s.idp.describe_requests());
    assert_eq!(s.idp.discovery_requests(), 1, "one discovery request");
    assert_fetches(&s, 1, "one JWKS request");
    assert_eq!(
        s.idp.count(idp::JWKS_PATH),
        0,
        "the configured-elsewhere path is unused"
    );
    let doc = s.idp.requests_for(idp::DISCOVERY_PATH);
    assert_eq!(
        doc[0].1.header("host"),
        Some(IDP_AUTHORITY),
        "discovery :authority"
    );
    let keys = s.idp.requests_for(JWKS_PATH);
    assert_eq!(
        keys[0].1.header("host"),
        Some(JWKS_AUTHORITY),
        "JWKS :authority from jwks_uri"
    );
    assert!(
        keys[0].0 > doc[0].0,
        "the JWKS is fetched after the document"
    );
    assert_eq!(
        s.envoy.counter("cluster.idp.upstream_rq_total"),
        1,
        "document via `cluster`"
    );
    assert_eq!(
        s.envoy.counter("cluster.idp-keys.upstream_rq_total"),
        1,
        "JWKS via `jwks_cluster`"
    );
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_success")), 1);
}

#[test]
fn discovery_document_with_a_foreign_issuer_is_refused() {
    // The document claims another issuer but points at a key set that holds the token's
    // key: following it would let the token through.
    let idp = key_a_idp();
    idp.set_discovery(OTHER_ISSUER, &idp::jwks_uri());
    let source = json!({"cluster": "idp", "uri": idp::discovery_uri(), "timeout_ms": 3000});
    let s = Stack::start(&config(&[ISSUER, ISSUER_V1], "discovery", source), idp);
    let t = token(&[ROLE]);
    let started = Instant::now();
    let mut i = 0;
    while i < 5 || started.elapsed() < Duration::from_secs(3) {
        let r = s.get_with_token(&format!("/calc/spoofed/{i}"), &t);
        check::keys_unavailable(&r, &format!("document with a foreign issuer, request {i}"));
        i += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let needle = format!("discovery document issuer \"{OTHER_ISSUER}\" is not a configured issuer");
    s.envoy.assert_logged(&needle, Duration::from_secs(5));
    println!(
        "foreign issuer: {i} requests, all 503; IdP:\n{}",
        s.idp.describe_requests()
    );
    assert!(s.idp.discovery_requests() >= 1);
    let what = "the jwks_uri of a document with a foreign issuer must not be fetched";
    assert_fetches(&s, 0, what);
    assert!(s.envoy.counter(&jwks_stat("fetch_failure")) >= 1);
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_success")), 0);
    assert_eq!(s.up.count(), 0);
}

// ---------------------------------------------------------------------------
// 7. Azure AD preset

#[test]
fn azure_ad_preset_through_an_istio_named_cluster() {
    // The name Istio gives the cluster of a ServiceEntry for login.microsoftonline.com:443.
    const CLUSTER: &str = "outbound|443||login.microsoftonline.com";
    let idp = key_a_idp();
    idp.set_discovery(ISSUER, &idp::entra_jwks_uri());
    let source = json!({"tenant": TENANT, "cluster": CLUSTER});
    let s = Stack::start_with_idp_clusters(&config(&[], "azure_ad", source), idp, &[CLUSTER]);

    check::upstream_saw(
        &s.get_with_token("/calc/v2", &token(&[ROLE])),
        "v2 token",
        &[("x-client-id", Some(CLIENT_ID))],
    );
    let v1 = token_with(
        &[ROLE],
        json!({"iss": ISSUER_V1, "ver": "1.0", "appid": CLIENT_ID}),
    );
    s.expect("/calc/v1", &v1, Through, "v1 token (sts.windows.net)");
    let other = token_with(&[ROLE], json!({"iss": OTHER_ISSUER}));
    check::invalid_token(
        &s.get_with_token("/calc/other", &other),
        UNTRUSTED_ISSUER,
        "token of another tenant",
    );

    println!("azure_ad: IdP requests:\n{}", s.idp.describe_requests());
    assert_eq!(s.idp.discovery_requests(), 1, "one discovery request");
    assert_fetches(&s, 1, "one JWKS request");
    assert_eq!(s.idp.total_requests(), 2);
    for (path, what) in [(idp::DISCOVERY_PATH, "discovery"), (idp::JWKS_PATH, "JWKS")] {
        let reqs = s.idp.requests_for(path);
        assert_eq!(reqs.len(), 1, "{what} request at Entra's path {path}");
        assert_eq!(
            reqs[0].1.header("host"),
            Some(ENTRA_AUTHORITY),
            "{what} request :authority"
        );
    }
    assert_eq!(s.envoy.counter("cluster.idp.upstream_rq_total"), 0);
    assert_eq!(
        s.envoy
            .counter(&format!("cluster.{CLUSTER}.upstream_rq_total")),
        2
    );
}

// ---------------------------------------------------------------------------
// 8. the filter as istiod renders a WasmPlugin

#[test]
fn istio_rendered_wasm_plugin_makes_the_same_decisions() {
    for fail in [FailClosed::FailOpenFalse, FailClosed::FailurePolicy] {
        let what = format!("WasmPlugin calc/rolegate over ECDS ({fail:?})");
        let plugin_config = remote_config(600, 5000);
        let s = Stack::start_with(key_a_idp(), |p| {
            istio::bootstrap(p, "calc.rolegate", &plugin_config, fail)
        });
        assert_eq!(
            s.envoy
                .counter("extension_config_discovery.http_filter.calc.rolegate.update_success"),
            1,
            "{what}: the filter config came over ECDS"
        );
        check::upstream_saw(
            &s.get_with_token("/calc/add", &token(&[ROLE])),
            &what,
            &[("x-client-id", Some(CLIENT_ID)), ("authorization", None)],
        );
        check::missing_credentials(
            &s.envoy
                .get("/calc/add", &[("host", "calc.calc.svc.cluster.local")]),
            "calc.calc.svc.cluster.local",
            &format!("{what}: no token"),
        );
        let case = format!("{what}: role missing");
        s.expect("/calc/add", &token(&["reader"]), Scope, &case);
        check::upstream_ok(&s.envoy.get("/healthz", &[]), &format!("{what}: anonymous"));
        let case = format!("{what}: no rule");
        s.expect("/admin", &token(&[ROLE]), NoRule, &case);
        assert_eq!(
            s.up.count(),
            2,
            "{what}: only the allowed requests reach the upstream"
        );
        assert_fetches(&s, 1, &format!("{what}: one JWKS fetch"));
    }
}

// ---------------------------------------------------------------------------
// 9. verified-token cache across a key change

/// Token A is verified and cached on every worker; then the IdP publishes `new_set`
/// (without key A under `kid-a`) and a token with an unknown kid forces the refetch. The
/// cached token A must then be refused with `description` on every worker, while a token
/// signed by key C (in both sets) still passes.
fn cached_token_after_key_change(new_set: Value, description: &str, what: &str) {
    let s = Stack::start(&remote_config(600, 5000), Idp::start(keys_a_and_c()));
    let ta = signed_by(key_a(), KID_A);
    let tc = signed_by(key_c(), KID_C);
    // The same token again and again: verified once per worker, then served from its cache.
    s.on_every_worker(3, 60, |i| {
        let case = format!("{what}: token A before the change, request {i}");
        s.expect(&format!("/calc/cached/{i}"), &ta, Through, &case);
    });

    s.idp.set_jwks(new_set);
    check::invalid_token(
        &s.get_with_token(
            "/calc/unknown",
            &signed_by(key_b(), &fresh_kid("force-refetch")),
        ),
        UNKNOWN_KID,
        &format!("{what}: token with an unknown kid (forces the refetch)"),
    );
    assert_fetches(&s, 2, &format!("{what}: start-up fetch plus the refetch"));
    assert_eq!(
        s.envoy.counter(&jwks_stat("unknown_kid_refetch")),
        1,
        "{what}"
    );
    assert_eq!(s.envoy.counter(&jwks_stat("fetch_success")), 2, "{what}");

    std::thread::sleep(SYNC_SETTLE);
    let calls = s.on_every_worker(3, 60, |i| {
        check::invalid_token(
            &s.get_with_token(&format!("/calc/changed/{i}"), &ta),
            description,
            &format!("{what}: the cached token A after the change, request {i}"),
        );
        let case = format!("{what}: token C (its key stays), request {i}");
        s.expect(&format!("/calc/kept/{i}"), &tc, Through, &case);
    });
    println!("{what}: {calls} request pairs covered both workers");
    assert_fetches(&s, 2, &format!("{what}: no further fetch"));
}

#[test]
fn cached_token_dies_with_its_key() {
    cached_token_after_key_change(jwks(&[(key_c(), KID_C)]), UNKNOWN_KID, "key A removed");
}

#[test]
fn cached_token_dies_when_its_kid_names_another_key() {
    // `kid-a` now names key B: a cache keyed on the kid alone would still let token A in.
    cached_token_after_key_change(
        jwks(&[(key_b(), KID_A), (key_c(), KID_C)]),
        "token signature is invalid",
        "kid-a re-bound to key B",
    );
}

// ---------------------------------------------------------------------------
// fetch limits

#[test]
fn key_set_over_max_jwks_bytes_is_a_failed_fetch() {
    const MAX: usize = 4096;
    let remote = merged(idp::remote_jwks(2, 2000), json!({"max_jwks_bytes": MAX}));
    let s = Stack::start(&remote_config_with(remote), key_a_idp());
    let ta = signed_by(key_a(), KID_A);
    let tc = signed_by(key_c(), KID_C);
    s.expect("/calc/a", &ta, Through, "key A, small key set");

    // The next set adds key C but is padded over the limit (unknown members are ignored).
    let padded = merged(keys_a_and_c(), json!({"x-padding": "p".repeat(MAX)}));
    s.idp.set_jwks(padded);
    let what = "the oversized key set was not counted as a failed fetch";
    let ten = Duration::from_secs(10);
    await_jwks_stat(&s, "fetch_failure", ten, |n| n >= 1, what);
    s.envoy
        .assert_logged("bytes is over the limit", Duration::from_secs(5));
    s.on_every_worker(2, 60, |i| {
        let case = format!("key A kept after the oversized set, request {i}");
        s.expect(&format!("/calc/a/{i}"), &ta, Through, &case);
        let case = format!("key C only in the oversized set, request {i}");
        s.expect(&format!("/calc/c/{i}"), &tc, InvalidAs(UNKNOWN_KID), &case);
    });

    // Within the limit again: key C arrives with a retry.
    s.idp.set_jwks(keys_a_and_c());
    let back = Instant::now();
    let not_accepted = "key C not accepted after the set shrank";
    let accepted = within(&s, Duration::from_secs(15), 200, not_accepted, || {
        let r = s.get_with_token("/calc/c", &tc);
        if r.status == 200 {
            return Some(back.elapsed());
        }
        check::invalid_token(&r, UNKNOWN_KID, "key C while the set is too large");
        None
    });
    println!("max_jwks_bytes: key C accepted {accepted:?} after the set shrank");
}

#[test]
fn unknown_kid_refetch_interval_is_configurable() {
    const INTERVAL: Duration = Duration::from_secs(3);
    let remote = merged(
        idp::remote_jwks(600, 5000),
        json!({"min_refetch_interval_seconds": INTERVAL.as_secs()}),
    );
    let s = Stack::start(&remote_config_with(remote), key_a_idp());
    // Every worker has the keys (see unknown_kid_during_cold_start_is_refetched for why).
    let ta = token(&[ROLE]);
    s.on_every_worker(1, 60, |i| {
        s.expect(&format!("/calc/a/{i}"), &ta, Through, "key A");
    });
    let tb = signed_by(key_b(), KID_B);

    let first = Instant::now();
    check::invalid_token(
        &s.get_with_token("/calc/b/0", &tb),
        UNKNOWN_KID,
        "key B before the IdP has it (refetch 1)",
    );
    assert_fetches(&s, 2, "start-up fetch plus refetch 1");

    // The IdP now has key B, but the next refetch may only start INTERVAL after the first.
    s.idp.set_jwks(jwks(&[(key_a(), KID_A), (key_b(), KID_B)]));
    let (r, took) = s.timed_get_with_token("/calc/b/1", &tb);
    check::invalid_token(&r, UNKNOWN_KID, "key B within the interval (rate-limited)");
    assert!(
        took < Duration::from_secs(1),
        "a rate-limited answer took {took:?}"
    );
    assert!(
        first.elapsed() < INTERVAL,
        "the machine is too slow for this test: {:?} passed",
        first.elapsed()
    );
    assert_fetches(&s, 2, "no refetch within the interval");

    sleep_until(first + INTERVAL + Duration::from_millis(300));
    let (r, took) = s.timed_get_with_token("/calc/b/2", &tb);
    println!("refetch interval: key B accepted after {took:?} once the interval passed");
    check::upstream_ok(&r, "key B after the interval (refetch 2)");
    assert_fetches(&s, 3, "refetch 2");
    assert_eq!(s.envoy.counter(&jwks_stat("unknown_kid_refetch")), 2);
}

#[test]
fn keys_past_max_stale_seconds_stop_verifying_until_a_fetch_succeeds() {
    // Refresh every second; after an answer without a usable key (`{"keys": []}`, as after a
    // compromise) the kept keys may be used for 10 s after the last success, no longer: the
    // shortest limit these settings accept (1.1 s refresh, a failed 1 s try and its retry).
    const LIMIT: Duration = Duration::from_secs(10);
    let mut remote = idp::remote_jwks(1, 1000);
    remote["max_stale_seconds"] = json!(LIMIT.as_secs());
    let s = Stack::start(&remote_config_with(remote), key_a_idp());
    let cached = signed_by(key_a(), KID_A);
    s.expect("/calc/before", &cached, Through, "fresh keys");
    assert_eq!(s.envoy.counter(&jwks_stat("keys_stale")), 0);

    s.idp.set_jwks(json!({"keys": []}));
    let emptied = Instant::now();
    let still = "a cached token still passes after the IdP withdrew every key";
    let refused = within(&s, LIMIT * 2, 100, still, || {
        let r = s.get_with_token("/calc/stale", &cached);
        (r.status == 503).then_some(r)
    });
    let waited = emptied.elapsed();
    check::keys_unavailable(&refused, "keys past max_stale_seconds");
    assert_eq!(
        check::error_code(&refused.body_json()),
        "temporarily_unavailable"
    );
    assert_eq!(
        refused.body_json()["error_description"],
        "signing keys are out of date"
    );
    assert!(
        waited <= LIMIT + Duration::from_secs(3),
        "refused only {waited:?} after the last good fetch (limit {LIMIT:?})"
    );
    s.on_every_worker(2, 60, |i| {
        check::keys_unavailable(
            &s.get_with_token(&format!("/calc/stale/{i}"), &unseen(key_a(), KID_A)),
            &format!("request {i}: a token never seen, on every worker"),
        );
    });
    let two = Duration::from_secs(2);
    let what = "keys_stale gauge is not 1";
    await_jwks_stat(&s, "keys_stale", two, |n| n == 1, what);
    s.envoy.assert_logged("older than max_stale_seconds", two);

    // The IdP publishes keys again: the next successful fetch makes them usable. After 10 s
    // and more of failures the retries are 16 s apart, 20 s with their jitter.
    s.idp.set_jwks(jwks(&[(key_a(), KID_A)]));
    within(
        &s,
        Duration::from_secs(30),
        200,
        "keys did not come back",
        || (s.get_with_token("/calc/back", &cached).status == 200).then_some(()),
    );
    let what = "keys_stale gauge is not back to 0";
    await_jwks_stat(&s, "keys_stale", two, |n| n == 0, what);
}
