//! The soak's requests: every kind of token, the two rules they are sent to (one enforced, one in
//! dry run), the answer README "Answers" and "Rolling out" say each must get, the tokens
//! themselves (minted once, kept under `target/`), the mix wrk sends, and the file
//! `envoy/bench/soak.lua` reads.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use rolegate_bench::token_store;
use rolegate_bench::tokens::{self, CLIENT_ID, ROLE};
use rolegate_testkit::http::Response;
use rolegate_testkit::token;

use crate::keyring::{kid, Keyring};
use crate::schedule::{CURRENT_SHIFT, RETIRED_SHIFT, ROTATE_SECONDS, SLOTS};

/// Distinct valid tokens per key slot that are sent over and over: verified-token cache hits.
const VALID_HOT: usize = 40;
/// Distinct valid tokens per key slot, well over what a worker's cache holds (1000). Every wrk
/// connection walks all of them from its own, evenly spread start, so a token comes back to a
/// worker mostly after more than 1000 others: cache misses.
const VALID_COLD: usize = 2500;
/// Tokens per slot of each other signed kind.
const WRONG_ROLE: usize = 40;
const EXPIRED: usize = 40;
/// Forged tokens per slot and forger (never-published key, other published key).
const FORGED_EACH: usize = 20;
/// How long ago expired tokens expired: far beyond the filter's 60 s clock skew.
const EXPIRED_AGO_SECONDS: i64 = 3600;

/// A kind of request, with the answer it must get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Valid, holds the role, one of few tokens: served from the verified-token cache.
    ValidHot,
    /// Valid, holds the role, one of many tokens: verified afresh.
    ValidCold,
    /// Valid, but without the role.
    WrongRole,
    /// Signed with the current key, expired an hour ago.
    Expired,
    /// A published `kid`, signed with a key never published or with another published key.
    Forged,
    /// A wrong-role token whose payload was rewritten to hold the role, signature kept.
    Tampered,
    /// Signed with a key that left the key set a rotation ago (its `kid` is unknown).
    Retired,
    /// Not a usable compact JWS (segments, base64url, JSON, alg, crit, length).
    Malformed,
    /// No bearer token (no header, or another scheme).
    Missing,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::ValidHot,
        Kind::ValidCold,
        Kind::WrongRole,
        Kind::Expired,
        Kind::Forged,
        Kind::Tampered,
        Kind::Retired,
        Kind::Malformed,
        Kind::Missing,
    ];

    /// (name, [`Kind::shift`], [`Kind::reason`], [`Kind::weight`]).
    fn facts(self) -> (&'static str, Option<i64>, Option<&'static str>, usize) {
        let (current, retired) = (Some(CURRENT_SHIFT), Some(RETIRED_SHIFT));
        match self {
            Kind::ValidHot => ("valid_hot", current, None, 14),
            Kind::ValidCold => ("valid_cold", current, None, 13),
            Kind::WrongRole => ("wrong_role", current, Some("role"), 4),
            Kind::Expired => ("expired", current, Some("expired"), 4),
            Kind::Forged => ("forged", current, Some("signature"), 4),
            Kind::Tampered => ("tampered", current, Some("signature"), 3),
            Kind::Retired => ("retired", retired, Some("unknown_kid"), 3),
            Kind::Malformed => ("malformed", None, Some("malformed"), 4),
            Kind::Missing => ("missing", None, Some("missing"), 1),
        }
    }

    pub fn name(self) -> &'static str {
        self.facts().0
    }

    /// Which key slot's tokens a request sent during epoch `e` carries: `e + shift`. `None`:
    /// the kind does not depend on the keys.
    pub fn shift(self) -> Option<i64> {
        self.facts().1
    }

    /// The metric reason of the denial a request of this kind gets (README "Answers");
    /// `None`: it is allowed.
    pub fn reason(self) -> Option<&'static str> {
        self.facts().2
    }

    /// Requests of this kind to the enforced rule in every round of the [`mix`].
    fn weight(self) -> usize {
        self.facts().3
    }
}

/// The rules of `envoy/bench/soak.yaml`: both require the role, only one enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `calc`, enforced.
    Calc,
    /// `trial`, under `dry_run`: would-be denials reach the route.
    Trial,
}

impl Rule {
    pub const ALL: [Rule; 2] = [Rule::Calc, Rule::Trial];

    pub fn name(self) -> &'static str {
        match self {
            Rule::Calc => "calc",
            Rule::Trial => "trial",
        }
    }

    /// The path the soak's requests to this rule go to.
    pub fn path(self) -> &'static str {
        match self {
            Rule::Calc => "/calc/add",
            Rule::Trial => "/trial/add",
        }
    }

    pub fn dry_run(self) -> bool {
        self == Rule::Trial
    }
}

/// A kind of request sent to one rule: a row of the mix and of the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class {
    pub kind: Kind,
    pub rule: Rule,
}

impl Class {
    /// Every kind to every rule, the enforced rule first.
    pub fn all() -> Vec<Class> {
        Rule::ALL
            .iter()
            .flat_map(|rule| Kind::ALL.map(|kind| Class { kind, rule: *rule }))
            .collect()
    }

    /// `kind` for the enforced rule (the names wrk reported before the dry-run rule), else
    /// `rule/kind`.
    pub fn name(self) -> String {
        match self.rule {
            Rule::Calc => self.kind.name().to_string(),
            rule => format!("{}/{}", rule.name(), self.kind.name()),
        }
    }

    /// Requests of this class in every round of the [`mix`]: the dry-run rule gets one of each
    /// kind, enough to check every would-be denial without its log line per request (info level)
    /// crowding the load.
    fn weight(self) -> usize {
        match self.rule {
            Rule::Calc => self.kind.weight(),
            Rule::Trial => 1,
        }
    }

    /// What the dry-run rule answers instead of the entry's denial.
    pub fn dry_run_answer(self) -> Option<Answer> {
        (self.rule.dry_run() && self.kind.reason().is_some()).then_some(Answer::DryRunDenied)
    }

    /// The answer `entry` must get under this class's rule.
    pub fn answer(self, entry: &Entry) -> Answer {
        self.dry_run_answer().unwrap_or(entry.answer)
    }
}

/// The order in which wrk sends the classes, as long as the weights' sum, each class spread
/// evenly (smooth weighted round-robin).
pub fn mix() -> Vec<Class> {
    let classes = Class::all();
    let total: usize = classes.iter().map(|c| c.weight()).sum();
    let mut credit = vec![0i64; classes.len()];
    let mut order = Vec::with_capacity(total);
    for _ in 0..total {
        for (c, class) in credit.iter_mut().zip(&classes) {
            *c += i64::try_from(class.weight()).unwrap_or(0);
        }
        let Some((best, _)) = credit
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
        else {
            break;
        };
        if let (Some(c), Some(class)) = (credit.get_mut(best), classes.get(best)) {
            *c -= i64::try_from(total).unwrap_or(0);
            order.push(*class);
        }
    }
    order
}

/// What the filter must answer (README "Answers").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Answer {
    /// The request reaches the route, with `x-client-id` and without the token.
    Allowed,
    /// 401 `missing_token`.
    MissingToken,
    /// 401 `invalid_token` with this description.
    InvalidToken(&'static str),
    /// 403 `insufficient_scope`.
    InsufficientScope,
    /// A would-be denial under a dry-run rule: the request reaches the route with no claim
    /// header and its `Authorization` as sent.
    DryRunDenied,
}

/// The route's answer (`envoy/bench/soak.yaml`).
const ROUTE_BODY: &str = "ok";
/// The route echoes the request's `x-client-id` and `authorization` in these.
const SEEN_CLIENT_ID: &str = "x-seen-client-id";
const SEEN_AUTHORIZATION: &str = "x-seen-authorization";
/// Every request carries its own `x-client-id`, which must never reach the route: an allowed
/// request's is replaced by the token's `azp`, a would-be denial's removed.
pub const SPOOFED_CLIENT_ID: (&str, &str) = ("x-client-id", "spoofed-by-the-client");
/// In an `expect` record of the wrk file: the value is the request's own `Authorization`
/// (no header when it had none).
const AS_SENT: &str = "<as sent>";

impl Answer {
    pub fn status(self) -> u16 {
        match self {
            Answer::Allowed | Answer::DryRunDenied => 200,
            Answer::MissingToken | Answer::InvalidToken(_) => 401,
            Answer::InsufficientScope => 403,
        }
    }

    /// `error` and `error_description` of the JSON body; `None` when allowed.
    fn error(self) -> Option<(&'static str, &'static str)> {
        match self {
            Answer::Allowed | Answer::DryRunDenied => None,
            Answer::MissingToken => Some(("missing_token", "a Bearer token is required")),
            Answer::InvalidToken(description) => Some(("invalid_token", description)),
            Answer::InsufficientScope => {
                Some(("insufficient_scope", "token lacks a required role"))
            }
        }
    }

    /// The header that identifies the answer and its exact value, for a request to `host`:
    /// the route's echo of `x-client-id` or of `authorization` ([`AS_SENT`]), or the bearer
    /// challenge.
    pub fn header(self, host: &str) -> (&'static str, String) {
        match self {
            Answer::Allowed => (SEEN_CLIENT_ID, CLIENT_ID.to_string()),
            Answer::DryRunDenied => (SEEN_AUTHORIZATION, AS_SENT.to_string()),
            Answer::MissingToken => ("www-authenticate", format!("Bearer realm=\"{host}\"")),
            Answer::InvalidToken(description) => (
                "www-authenticate",
                format!("Bearer error=\"invalid_token\", error_description=\"{description}\""),
            ),
            Answer::InsufficientScope => (
                "www-authenticate",
                "Bearer error=\"insufficient_scope\"".to_string(),
            ),
        }
    }

    /// A header the answer must not have: an allowed request reached the route without its
    /// token (`forward: false`); a denied one never reached the route; a would-be denial
    /// reached it without a claim header.
    pub fn absent_header(self) -> &'static str {
        match self {
            Answer::Allowed => SEEN_AUTHORIZATION,
            _ => SEEN_CLIENT_ID,
        }
    }

    /// The exact body.
    pub fn body(self) -> String {
        match self.error() {
            None => ROUTE_BODY.to_string(),
            Some((error, description)) => {
                json!({ "error": error, "error_description": description }).to_string()
            }
        }
    }

    /// Checks a reply to `host`, for a request that carried `authorization`, in full: status,
    /// the identifying header, the absent header, and the body (for a denial: JSON content
    /// type, and exactly `error` and `error_description`).
    pub fn check(
        self,
        reply: &Response,
        host: &str,
        authorization: Option<&str>,
    ) -> Result<(), String> {
        let mut problems = Vec::new();
        if reply.status != self.status() {
            problems.push(format!(
                "status {} (expected {})",
                reply.status,
                self.status()
            ));
        }
        let (name, value) = self.header(host);
        let value = if value == AS_SENT {
            authorization
        } else {
            Some(value.as_str())
        };
        if reply.header(name) != value {
            problems.push(format!(
                "{name}: {:?} (expected {value:?})",
                reply.header(name)
            ));
        }
        let absent = self.absent_header();
        if let Some(v) = reply.header(absent) {
            problems.push(format!("{absent}: {v:?} (expected none)"));
        }
        match self.error() {
            None if reply.body != ROUTE_BODY.as_bytes() => {
                problems.push(format!(
                    "body {:?} (expected {ROUTE_BODY:?})",
                    reply.body_text()
                ));
            }
            None => {}
            Some(expected) => {
                let content_type = reply.header("content-type");
                if content_type != Some("application/json") {
                    problems.push(format!("content-type {content_type:?}"));
                }
                let got: Option<Value> = serde_json::from_slice(&reply.body).ok();
                let fields = got.as_ref().and_then(Value::as_object).map(|o| {
                    let text = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or_default();
                    (o.len(), text("error"), text("error_description"))
                });
                if fields != Some((2, expected.0, expected.1)) {
                    problems.push(format!(
                        "body {:?} (expected {})",
                        reply.body_text(),
                        self.body()
                    ));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

const UNKNOWN_KID: Answer = Answer::InvalidToken("token signing key is unknown");
const BAD_SIGNATURE: Answer = Answer::InvalidToken("token signature is invalid");

/// One request: its kind, the key slot it belongs to, its `Authorization` header.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub slot: Option<usize>,
    /// `None`: no `Authorization` header.
    pub authorization: Option<String>,
    /// The answer under the enforced rule ([`Class::answer`]: under any rule).
    pub answer: Answer,
    /// Which variant of the kind, for the report.
    pub variant: &'static str,
}

/// Every request wrk and the checker send.
pub struct Corpus {
    entries: Vec<Entry>,
    /// (kind, slot) -> indexes into `entries`.
    lists: HashMap<(Kind, Option<usize>), Vec<usize>>,
}

/// Which key signs a token of a slot.
#[derive(Debug, Clone, Copy)]
enum Signer {
    /// The slot's own key.
    Own,
    /// The other published key.
    Other,
    /// The never-published key.
    Forger,
}

/// Which claims a token carries.
#[derive(Debug, Clone, Copy)]
enum Claims {
    Role,
    NoRole,
    Expired,
}

/// One signature to make.
struct Job {
    slot: usize,
    serial: usize,
    claims: Claims,
    signer: Signer,
}

/// Per slot, in order: (kind, variant, count, claims, signer).
const SIGNED: [(Kind, &str, usize, Claims, Signer); 6] = {
    use Claims::{Expired, NoRole, Role};
    use Signer::{Forger, Other, Own};
    [
        (Kind::ValidHot, "hot", VALID_HOT, Role, Own),
        (Kind::ValidCold, "cold", VALID_COLD, Role, Own),
        (Kind::WrongRole, "no role", WRONG_ROLE, NoRole, Own),
        (Kind::Expired, "expired", EXPIRED, Expired, Own),
        (
            Kind::Forged,
            "never-published key",
            FORGED_EACH,
            Role,
            Forger,
        ),
        (
            Kind::Forged,
            "other published key",
            FORGED_EACH,
            Role,
            Other,
        ),
    ]
};

fn per_slot() -> usize {
    SIGNED.iter().map(|(_, _, n, _, _)| n).sum()
}

fn jobs() -> Vec<Job> {
    let mut jobs = Vec::with_capacity(SLOTS * per_slot());
    for slot in 0..SLOTS {
        let mut serial = slot * 100_000;
        for (_, _, count, claims, signer) in SIGNED {
            for _ in 0..count {
                jobs.push(Job {
                    slot,
                    serial,
                    claims,
                    signer,
                });
                serial += 1;
            }
        }
    }
    jobs
}

fn claims_of(kind: Claims, serial: usize, now: i64) -> Value {
    match kind {
        Claims::Role => tokens::claims(serial, &[ROLE], now),
        Claims::NoRole => tokens::claims(serial, &["readRole"], now),
        Claims::Expired => {
            let claims = tokens::claims(serial, &[ROLE], now - 2 * EXPIRED_AGO_SECONDS);
            tokens::with_member(claims, "exp", json!(now - EXPIRED_AGO_SECONDS))
        }
    }
}

/// The signed tokens, in [`jobs`] order: from `store` when it holds this very set, else minted
/// on every core (and stored). The flag says whether they were stored ones.
fn signed_tokens(keyring: &Keyring, store: &Path) -> Result<(Vec<String>, bool), String> {
    let jobs = jobs();
    let stamp = format!(
        "rolegate-soak tokens keys={} layout={} slots={SLOTS} per-slot={}",
        keyring.fingerprint(),
        tokens::layout_fingerprint(),
        SIGNED
            .iter()
            .map(|(_, _, n, _, _)| n.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
    token_store::stored_or_minted(&store.join("corpus.txt"), &stamp, jobs.len(), || {
        let now = tokens::now();
        tokens::on_every_core(&jobs, |job| {
            let key = match job.signer {
                Signer::Own => keyring.key(job.slot),
                Signer::Other => keyring.other_key(job.slot),
                Signer::Forger => keyring.forger(),
            };
            tokens::sign_as(key, &kid(job.slot), &claims_of(job.claims, job.serial, now))
        })
    })
}

/// A token whose payload now holds the role, its signature unchanged.
fn with_role_added(token: &str) -> Result<String, String> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err("a minted token is not three segments".into());
    };
    let claims = token::decode_part(payload).ok_or("a minted token's payload is not JSON")?;
    let payload = b64(&tokens::with_member(claims, "roles", json!([ROLE])).to_string());
    Ok(format!("{header}.{payload}.{signature}"))
}

fn b64(value: &str) -> String {
    token::b64url(value.as_bytes())
}

/// Malformed tokens (they need no key) and requests without a bearer token.
fn unsigned_entries() -> Vec<Entry> {
    let header = b64(&json!({"alg": "RS256", "typ": "JWT", "kid": kid(0)}).to_string());
    let payload = b64(&tokens::claims(1, &[ROLE], tokens::now()).to_string());
    let signature = b64("not a signature, but base64url all the same");
    let malformed = |variant: &'static str, token: String, description: &'static str| Entry {
        kind: Kind::Malformed,
        slot: None,
        authorization: Some(format!("Bearer {token}")),
        answer: Answer::InvalidToken(description),
        variant,
    };
    let not_jws = "token is not a compact JWS";
    let not_b64 = "token is not base64url";
    let bad_alg = "token alg is not RS256";
    let with_header = |h: Value| format!("{}.{payload}.{signature}", b64(&h.to_string()));
    let missing = |variant: &'static str, authorization| Entry {
        kind: Kind::Missing,
        slot: None,
        authorization,
        answer: Answer::MissingToken,
        variant,
    };
    vec![
        malformed("two segments", format!("{header}.{payload}"), not_jws),
        malformed(
            "four segments",
            format!("{header}.{payload}.{signature}.{signature}"),
            not_jws,
        ),
        malformed(
            "'+' in a segment",
            format!("{header}.{payload}+.{signature}"),
            not_b64,
        ),
        malformed(
            "'=' padding",
            format!("{header}.{payload}.{signature}="),
            not_b64,
        ),
        malformed(
            "header not JSON",
            format!("{}.{payload}.{signature}", b64("not json")),
            "token header or payload is not a JSON object",
        ),
        malformed(
            "alg none",
            format!("{}.{payload}.", b64(&json!({"alg": "none"}).to_string())),
            bad_alg,
        ),
        malformed(
            "alg HS256",
            with_header(json!({"alg": "HS256", "typ": "JWT", "kid": kid(0)})),
            bad_alg,
        ),
        malformed(
            "crit header",
            with_header(json!({"alg": "RS256", "kid": kid(0), "crit": ["exp"]})),
            "token crit header is not supported",
        ),
        malformed(
            "9000 bytes",
            format!("{header}.{}.{signature}", "A".repeat(9000)),
            "token too long",
        ),
        missing("no Authorization", None),
        missing("Basic scheme", Some("Basic dXNlcjpwYXNzd29yZA==".into())),
    ]
}

impl Corpus {
    /// Every entry: the signed ones from `store` or freshly minted. The flag says whether the
    /// signed tokens were stored ones.
    pub fn build(keyring: &Keyring, store: &Path) -> Result<(Corpus, bool), String> {
        let (signed, reused) = signed_tokens(keyring, store)?;
        let mut entries = Vec::with_capacity(signed.len() * 2);
        let mut tokens = signed.into_iter();
        for slot in 0..SLOTS {
            for (kind, variant, count, _, _) in SIGNED {
                for _ in 0..count {
                    let token = tokens.next().ok_or("fewer tokens than jobs")?;
                    let answer = match kind {
                        Kind::ValidHot | Kind::ValidCold => Answer::Allowed,
                        Kind::WrongRole => Answer::InsufficientScope,
                        Kind::Expired => Answer::InvalidToken("token expired"),
                        _ => BAD_SIGNATURE,
                    };
                    let entry = |kind, authorization, answer, variant| Entry {
                        kind,
                        slot: Some(slot),
                        authorization: Some(authorization),
                        answer,
                        variant,
                    };
                    let bearer = format!("Bearer {token}");
                    match kind {
                        Kind::ValidHot => {
                            // Sent again once its key has left the key set.
                            entries.push(entry(
                                Kind::Retired,
                                bearer.clone(),
                                UNKNOWN_KID,
                                "hot token of a retired key",
                            ));
                        }
                        Kind::WrongRole => {
                            let tampered = format!("Bearer {}", with_role_added(&token)?);
                            entries.push(entry(
                                Kind::Tampered,
                                tampered,
                                BAD_SIGNATURE,
                                "role added to the payload",
                            ));
                        }
                        _ => {}
                    }
                    entries.push(entry(kind, bearer, answer, variant));
                }
            }
        }
        entries.extend(unsigned_entries());
        let mut lists: HashMap<(Kind, Option<usize>), Vec<usize>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            lists.entry((e.kind, e.slot)).or_default().push(i);
        }
        Ok((Corpus { entries, lists }, reused))
    }

    /// The entries of `kind` for a request sent during `epoch`.
    pub fn choices(&self, kind: Kind, epoch: i64) -> Vec<&Entry> {
        let slot = kind
            .shift()
            .map(|shift| crate::schedule::slot(epoch, shift));
        self.lists
            .get(&(kind, slot))
            .map(|indexes| {
                indexes
                    .iter()
                    .filter_map(|i| self.entries.get(*i))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Distinct requests of each kind (over all slots).
    pub fn counts(&self) -> Vec<(Kind, usize)> {
        Kind::ALL
            .iter()
            .map(|k| (*k, self.entries.iter().filter(|e| e.kind == *k).count()))
            .collect()
    }

    /// Writes the file `soak.lua` reads: the clock, the header every request carries, the
    /// kinds, the expected answers (for requests to `host`), the classes, the mix and every
    /// request. Tab-separated, one record per line.
    pub fn write_lua_file(&self, path: &Path, origin: i64, host: &str) -> Result<(), String> {
        let mut out = String::new();
        out.push_str(&format!(
            "# rolegate soak requests: see envoy/bench/soak.lua\nclock\t{origin}\t{ROTATE_SECONDS}\t{SLOTS}\n"
        ));
        let (spoof_name, spoof_value) = SPOOFED_CLIENT_ID;
        out.push_str(&format!("header\t{spoof_name}\t{spoof_value}\n"));
        for kind in Kind::ALL {
            let shift = kind.shift().map_or("-".to_string(), |s| s.to_string());
            out.push_str(&format!("kind\t{}\t{shift}\n", kind.name()));
        }
        let mut answers: Vec<Answer> = Vec::new();
        let classes = Class::all();
        let every_answer = self
            .entries
            .iter()
            .map(|e| e.answer)
            .chain(classes.iter().filter_map(|c| c.dry_run_answer()));
        for answer in every_answer {
            if !answers.contains(&answer) {
                answers.push(answer);
            }
        }
        for (n, answer) in answers.iter().enumerate() {
            let (name, value) = answer.header(host);
            out.push_str(&format!(
                "expect\t{n}\t{}\t{name}\t{value}\t{}\t{}\n",
                answer.status(),
                answer.absent_header(),
                answer.body()
            ));
        }
        let id = |answer: Answer| answers.iter().position(|a| *a == answer).unwrap_or(0);
        for c in &classes {
            out.push_str(&format!(
                "class\t{}\t{}\t{}\t{}\n",
                c.name(),
                c.kind.name(),
                c.rule.path(),
                c.dry_run_answer()
                    .map_or("-".to_string(), |a| id(a).to_string())
            ));
        }
        let names: Vec<String> = mix().iter().map(|c| c.name()).collect();
        out.push_str(&format!("mix\t{}\n", names.join("\t")));
        for e in &self.entries {
            out.push_str(&format!(
                "token\t{}\t{}\t{}\t{}\n",
                e.kind.name(),
                e.slot.map_or("-".to_string(), |s| s.to_string()),
                id(e.answer),
                e.authorization.as_deref().unwrap_or("-")
            ));
        }
        if out.contains("\t\t") {
            return Err("an empty field in the wrk request file".into());
        }
        std::fs::write(path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_spreads_every_class_by_weight() {
        let order = mix();
        assert_eq!(order.len(), 50 + Kind::ALL.len());
        for class in Class::all() {
            let n = order.iter().filter(|c| **c == class).count();
            assert_eq!(n, class.weight(), "{}", class.name());
        }
        // Evenly spread: the valid kinds never come three in a row.
        assert!(order
            .windows(3)
            .all(|w| !w.iter().all(|c| c.kind == Kind::ValidHot)));
    }

    #[test]
    fn the_dry_run_rule_lets_every_would_be_denial_through() {
        let names: Vec<String> = Class::all().iter().map(|c| c.name()).collect();
        assert!(names.contains(&"expired".to_string()));
        assert!(names.contains(&"trial/expired".to_string()));
        for class in Class::all() {
            let expected = match (class.rule, class.kind.reason()) {
                (Rule::Trial, Some(_)) => Some(Answer::DryRunDenied),
                _ => None,
            };
            assert_eq!(class.dry_run_answer(), expected, "{}", class.name());
        }
    }

    #[test]
    fn answers_render_as_the_readme_says() {
        let host = "127.0.0.1:8080";
        assert_eq!(
            Answer::MissingToken.header(host),
            (
                "www-authenticate",
                "Bearer realm=\"127.0.0.1:8080\"".to_string()
            )
        );
        assert_eq!(
            Answer::InvalidToken("token expired").body(),
            r#"{"error":"invalid_token","error_description":"token expired"}"#
        );
        assert_eq!(Answer::InsufficientScope.status(), 403);
        assert_eq!(Answer::Allowed.body(), "ok");
    }

    fn reply(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn check_compares_status_headers_and_body() {
        let host = "h";
        let expired = Answer::InvalidToken("token expired");
        let challenge = expired.header(host).1;
        let good = reply(
            401,
            &[
                ("content-type", "application/json"),
                ("www-authenticate", &challenge),
            ],
            &expired.body(),
        );
        assert_eq!(expired.check(&good, host, Some("Bearer x")), Ok(()));
        let wrong = expired.check(
            &reply(200, &[(SEEN_CLIENT_ID, CLIENT_ID)], "ok"),
            host,
            Some("Bearer x"),
        );
        assert!(wrong.unwrap_err().contains("status 200"));
        let allowed = reply(200, &[(SEEN_CLIENT_ID, CLIENT_ID)], "ok");
        assert_eq!(
            Answer::Allowed.check(&allowed, host, Some("Bearer x")),
            Ok(())
        );
        let leaked = reply(
            200,
            &[
                (SEEN_CLIENT_ID, CLIENT_ID),
                (SEEN_AUTHORIZATION, "Bearer x"),
            ],
            "ok",
        );
        assert!(Answer::Allowed
            .check(&leaked, host, Some("Bearer x"))
            .is_err());
    }

    #[test]
    fn a_would_be_denial_reaches_the_route_with_its_token_and_no_claim_header() {
        let host = "h";
        let passed = reply(200, &[(SEEN_AUTHORIZATION, "Bearer x")], "ok");
        let dry = Answer::DryRunDenied;
        assert_eq!(dry.check(&passed, host, Some("Bearer x")), Ok(()));
        assert!(dry.check(&passed, host, Some("Bearer y")).is_err());
        assert_eq!(dry.check(&reply(200, &[], "ok"), host, None), Ok(()));
        let with_claim = reply(
            200,
            &[
                (SEEN_AUTHORIZATION, "Bearer x"),
                (SEEN_CLIENT_ID, SPOOFED_CLIENT_ID.1),
            ],
            "ok",
        );
        assert!(dry
            .check(&with_claim, host, Some("Bearer x"))
            .unwrap_err()
            .contains(SEEN_CLIENT_ID));
    }

    #[test]
    fn tampering_keeps_header_and_signature() {
        let token = format!(
            "{}.{}.c2ln",
            b64("{\"alg\":\"RS256\"}"),
            b64("{\"roles\":[\"readRole\"]}")
        );
        let tampered = with_role_added(&token).unwrap();
        let parts: Vec<&str> = tampered.split('.').collect();
        assert_eq!(parts[0], b64("{\"alg\":\"RS256\"}"));
        assert_eq!(parts[2], "c2ln");
        assert_eq!(
            token::decode_part(parts[1]).unwrap()["roles"],
            json!(["invokeRole"])
        );
    }
}
