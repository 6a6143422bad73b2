//! `rolegate check`: the filter's own decision for one request, offline, explained.

use crate::args::Options;
use crate::decode::{now as current_time, segment, time_lines};
use crate::text::{list, pretty_json, utc};
use crate::validate::{load as load_config, rule_name, rule_text};
use crate::{read_file, read_token, CliError, Output};
// The decision itself through the crate's API; the explanation of each step reads the layers
// (feature `internals`).
use rolegate::config::Provider;
use rolegate::decision;
use rolegate::decision::claim_condition::{claim_texts, ClaimCondition};
use rolegate::decision::dry_run;
use rolegate::decision::rules::Requirement;
use rolegate::keys::fetch_cycle::key_set_from_response;
use rolegate::keys::jwks::KeyLookup;
use rolegate::token::claims::{self, MAX_NUMERIC_DATE};
use rolegate::token::{self, UnverifiedToken};
use rolegate::{
    decide, local_reply, Allow, Config, Denial, DenyReason, KeySet, KeySetState, Outcome,
    ProviderKeys, WaitPermission,
};
use serde_json::{Map, Value};

const OPTIONS: &[&str] = &[
    "--config", "--jwks", "--token", "--path", "--method", "--host", "--at",
];
const DEFAULT_HOST: &str = "localhost";

/// The JWKS file as every provider's key set, unless the filter would refuse it for that
/// provider (then the provider has no keys, as after a failed first fetch).
struct FileKeys<'a> {
    set: &'a KeySet,
    refused: Vec<Option<String>>,
}

impl ProviderKeys for FileKeys<'_> {
    fn keys(&self, provider: usize) -> KeySetState<'_> {
        match self.refused.get(provider) {
            Some(None) => KeySetState::Ready(self.set),
            _ => KeySetState::Unavailable,
        }
    }
}

/// Why the filter would not take `bytes` as `provider`'s key set, if it would not.
fn refusal(provider: &Provider, bytes: &[u8], set: &KeySet) -> Option<String> {
    match provider.keys.fetch_settings() {
        // Judged as a fetched answer: size limit, key-set shape, at least one usable key.
        Some(fetch) => key_set_from_response(Some(200), bytes, fetch.max_jwks_bytes)
            .err()
            .map(|e| e.to_string()),
        None => (set.usable_count() == 0).then(|| "key set holds no usable RS256 key".to_string()),
    }
}

/// The token's key as named in its header.
fn key_name(parsed: &UnverifiedToken<'_>) -> String {
    match (&parsed.kid, &parsed.x5t) {
        (Some(kid), _) => format!("kid {kid}"),
        (None, Some(x5t)) => format!("x5t {x5t}"),
        (None, None) => "no kid or x5t (the key set's only usable key)".to_string(),
    }
}

/// The signature check redone step by step with the core's own functions, for the report.
enum Signature {
    NotParsed(String),
    NoIssuer,
    NoKeys(usize),
    KeyNotFound(String),
    KeyUnusable(String, String),
    Invalid(String),
    Valid(String, usize),
}

fn check_signature(
    config: &Config,
    parsed: &Result<UnverifiedToken<'_>, token::TokenError>,
    keys: &FileKeys<'_>,
) -> Signature {
    let parsed = match parsed {
        Ok(p) => p,
        Err(e) => return Signature::NotParsed(e.to_string()),
    };
    let Some(provider) = parsed
        .claims
        .get("iss")
        .and_then(Value::as_str)
        .and_then(|iss| config.provider_for_issuer(iss))
    else {
        return Signature::NoIssuer;
    };
    let KeySetState::Ready(set) = keys.keys(provider) else {
        return Signature::NoKeys(provider);
    };
    let name = key_name(parsed);
    match set.lookup(parsed.kid.as_deref(), parsed.x5t.as_deref()) {
        KeyLookup::NotFound => Signature::KeyNotFound(name),
        KeyLookup::Unusable(why) => Signature::KeyUnusable(name, why.to_string()),
        KeyLookup::Found(key) if key.verify(parsed.signing_input.as_bytes(), &parsed.signature) => {
            Signature::Valid(name, key.modulus_bits())
        }
        KeyLookup::Found(_) => Signature::Invalid(name),
    }
}

fn parse_method(value: Option<&str>, options: &Options) -> Result<String, CliError> {
    let method = value.unwrap_or("GET");
    let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if method.is_empty() || !method.bytes().all(token_char) {
        return Err(options.usage(format!("--method {method:?} is not an HTTP method")));
    }
    Ok(method.to_ascii_uppercase())
}

fn parse_path(value: Option<&str>, options: &Options) -> Result<String, CliError> {
    let path = value.unwrap_or("/");
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(options.usage(format!(
            "--path {path:?} must start with '/' and hold no spaces or control characters"
        )));
    }
    Ok(path.to_string())
}

fn parse_host(value: Option<&str>, options: &Options) -> Result<String, CliError> {
    let host = value.unwrap_or(DEFAULT_HOST);
    if host.is_empty()
        || host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/')
    {
        return Err(options.usage(format!(
            "--host {host:?} must be a host name, with a port if you like (api.contoso.com:8443)"
        )));
    }
    Ok(host.to_string())
}

fn parse_at(value: Option<&str>, options: &Options) -> Result<Option<i64>, CliError> {
    let Some(text) = value else {
        return Ok(None);
    };
    match text.parse::<i64>() {
        Ok(t) if (0..=MAX_NUMERIC_DATE).contains(&t) => Ok(Some(t)),
        _ => Err(options.usage(format!(
            "--at {text:?} must be Unix seconds, an integer from 0 to {MAX_NUMERIC_DATE}"
        ))),
    }
}

/// Everything the report explains, gathered once.
struct Facts<'a> {
    config: &'a Config,
    jwks_path: &'a str,
    set: &'a KeySet,
    keys: &'a FileKeys<'a>,
    method: &'a str,
    path: &'a str,
    host: &'a str,
    now: i64,
    token: &'a str,
    parsed: &'a Result<UnverifiedToken<'a>, token::TokenError>,
    claims: Option<Map<String, Value>>,
    signature: Signature,
    /// The rule the decision matched, as it reports it.
    rule: Option<usize>,
    /// The claim entry a claim denial names, as the decision reports it.
    condition: Option<usize>,
}

impl Facts<'_> {
    /// Which claim entry failed, what it wants and what the token offers.
    fn condition_text(&self, field: &str, condition: &ClaimCondition) -> String {
        let offered = self
            .claims
            .as_ref()
            .and_then(|c| claim_texts(c, &condition.claim));
        let offered = match offered {
            None => "the token has no such claim (or an object or null there)".to_string(),
            Some(texts) => format!(
                "the token holds [{}]",
                texts
                    .iter()
                    .map(|t| t.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        format!(
            "{field}: claim {:?} must be one of [{}]; {offered}",
            condition.claim,
            condition.values.join(", ")
        )
    }

    fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.as_ref().and_then(|c| c.get(name))
    }

    fn provider(&self) -> Option<(usize, &Provider)> {
        let iss = self.claim("iss")?.as_str()?;
        let index = self.config.provider_for_issuer(iss)?;
        Some((index, self.config.providers.get(index)?))
    }

    /// One line on why the filter denied, beyond its fixed description.
    fn detail(&self, reason: DenyReason) -> Option<String> {
        let skew = self.config.clock_skew_seconds;
        match reason {
            DenyReason::Path => {
                decision::select_rule(self.config, self.host, self.method, self.path.as_bytes())
                    .err()
                    .map(|why| format!("path {} is refused before any rule: {why}", self.path))
            }
            DenyReason::Host => {
                decision::select_rule(self.config, self.host, self.method, self.path.as_bytes())
                    .err()
                    .map(|why| format!("host {} is refused before any rule: {why}", self.host))
            }
            DenyReason::NoRule => Some(format!(
                "no rule matches {} {} on host {} ({} rule(s); see 'rolegate config validate')",
                self.method,
                self.path,
                self.host,
                self.config.rules.len()
            )),
            DenyReason::Malformed => match self.parsed {
                Err(token::TokenError::TooLong) => Some(format!(
                    "the token is {} bytes; max_token_bytes is {}",
                    self.token.len(),
                    self.config.max_token_bytes
                )),
                Err(e) => Some(e.to_string()),
                Ok(_) => None,
            },
            DenyReason::Issuer => {
                Some(match self.claim("iss") {
                    Some(Value::String(iss)) if self.provider().is_some() => {
                        // Only a multi-tenant provider refuses an iss it was picked for.
                        let tenants = self.provider().and_then(|(_, p)| p.tenant_issuers.as_ref());
                        let named = tenants.and_then(|t| t.tenant_of(iss)).unwrap_or_default();
                        match (self.claim("tid").and_then(Value::as_str), tenants) {
                            (None, _) => {
                                format!("iss {iss:?} names tenant {named}, but the token has no tid claim")
                            }
                            (Some(tid), _) if !tid.eq_ignore_ascii_case(named) => {
                                format!("iss {iss:?} names tenant {named}, the tid claim {tid}")
                            }
                            (Some(tid), Some(t)) => match &t.tenants {
                                Some(list_of) => format!(
                                    "tenant {tid} is not one of azure_ad.tenants ({})",
                                    list(list_of)
                                ),
                                None => format!("tenant {tid} is not accepted"),
                            },
                            (Some(tid), None) => format!("tenant {tid} is not accepted"),
                        }
                    }
                    Some(Value::String(iss)) => {
                        let all: Vec<String> = self
                            .config
                            .providers
                            .iter()
                            .flat_map(|p| p.issuers.iter().cloned())
                            .collect();
                        format!("iss {iss:?} is not a configured issuer ({})", list(&all))
                    }
                    _ => "the token has no iss claim that is a string".to_string(),
                })
            }
            DenyReason::NoKeys => self.provider().map(|(i, p)| {
                let why = self
                    .keys
                    .refused
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| "no key set".to_string());
                format!(
                    "providers[{i}] {} would not take {} as its key set: {why}",
                    p.name, self.jwks_path
                )
            }),
            DenyReason::UnknownKid => Some(match &self.signature {
                Signature::KeyNotFound(name) => {
                    let kids: Vec<String> = self
                        .set
                        .keys()
                        .iter()
                        .filter_map(|k| k.kid.clone())
                        .collect();
                    format!(
                        "{name} is not in {} (kids: {})",
                        self.jwks_path,
                        list(&kids)
                    )
                }
                _ => format!("the token's key is not in {}", self.jwks_path),
            }),
            DenyReason::WeakKey => match &self.signature {
                Signature::KeyUnusable(name, why) => Some(format!("{name}: {why}")),
                _ => None,
            },
            DenyReason::Signature => match &self.signature {
                Signature::Invalid(name) => Some(format!(
                    "the RS256 signature does not verify with {name}: the token was altered, or \
                     signed by another key"
                )),
                _ => None,
            },
            DenyReason::Expired => {
                let exp = self.claim("exp").and_then(Value::as_i64)?;
                Some(format!(
                    "exp {} + clock skew {skew} s is not after the check time {}",
                    utc(exp),
                    utc(self.now)
                ))
            }
            DenyReason::NotYetValid => {
                let nbf = self.claim("nbf").and_then(Value::as_i64)?;
                Some(format!(
                    "nbf {} - clock skew {skew} s is after the check time {}",
                    utc(nbf),
                    utc(self.now)
                ))
            }
            DenyReason::Audience => {
                let aud = self
                    .claim("aud")
                    .map_or("(none)".to_string(), Value::to_string);
                let accepted = self
                    .provider()
                    .map(|(i, p)| format!("providers[{i}].audiences: {}", list(&p.audiences)))
                    .unwrap_or_default();
                Some(format!("aud {aud} is not accepted; {accepted}"))
            }
            DenyReason::Role => {
                let index = self.rule?;
                let rule = self.config.rules.get(index)?;
                let Requirement::Roles { roles, require_all } = &rule.requirement else {
                    return None;
                };
                let held: Vec<String> = self
                    .claims
                    .as_ref()
                    .map(|c| claims::roles(c, &self.config.roles_claim))
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_string)
                    .collect();
                Some(format!(
                    "the {:?} claim holds [{}]; rules[{index}] requires {} of [{}]",
                    self.config.roles_claim,
                    held.join(", "),
                    if *require_all { "all" } else { "any" },
                    roles.join(", ")
                ))
            }
            DenyReason::RequiredClaim => {
                let (i, provider) = self.provider()?;
                let j = self.condition?;
                let condition = provider.required_claims.get(j)?;
                Some(
                    self.condition_text(&format!("providers[{i}].required_claims[{j}]"), condition),
                )
            }
            DenyReason::Claim => {
                let index = self.rule?;
                let j = self.condition?;
                let condition = self.config.rules.get(index)?.claims.get(j)?;
                Some(self.condition_text(&format!("rules[{index}].claims[{j}]"), condition))
            }
            DenyReason::Missing => None,
            // The description names the claim; the times are printed below.
            DenyReason::BadTimeClaim => None,
            // Made by the host when Envoy refuses a header change; a decision never gives it.
            DenyReason::Internal => None,
        }
    }
}

fn print_allow(allow: &Allow, facts: &Facts<'_>, anonymous: bool, out: &mut Output) {
    out.line("decision:  ALLOW");
    out.line("status:    200 (continue: the request goes on to the upstream)");
    if anonymous {
        out.line("reason:    the rule allows anonymous requests; the token is not checked");
    } else {
        out.line("reason:    the token is valid and meets the rule");
    }
    out.line("upstream request headers:");
    if allow.remove_headers().next().is_none() && allow.add_headers().next().is_none() {
        out.line("  (unchanged)");
    }
    for name in allow.remove_headers() {
        let why = if facts
            .config
            .from_headers
            .iter()
            .any(|location| location.name == name)
        {
            "the token header, as forward is false"
        } else {
            "claim header without a verified value: a client-sent copy must not pass"
        };
        out.line(format!("  remove {name}  ({why})"));
    }
    for (name, value) in allow.add_headers() {
        out.line(format!(
            "  set    {name}: {value}  (replaces any client-sent value)"
        ));
    }
    if !anonymous {
        for mapping in &facts.config.claim_to_headers {
            if !allow.add_headers().any(|(n, _)| n == mapping.header) {
                out.line(format!(
                    "  (not added: {}; claim {} is absent, an object, too long or unsafe in a header)",
                    mapping.header, mapping.claim
                ));
            }
        }
    }
}

fn print_deny(config: &Config, denial: &Denial, facts: &Facts<'_>, out: &mut Output) {
    let reply = local_reply(denial);
    if dry_run::rehearses(config, denial) {
        out.line("decision:  DENY, in dry run: recorded, not enforced");
        out.line(format!(
            "status:    none from the filter: the request goes on to the upstream without \
             claim headers, its token in place (enforced, the answer would be {})",
            reply.status
        ));
    } else {
        out.line("decision:  DENY");
        out.line(format!(
            "status:    {} (the filter answers; the request does not reach the upstream)",
            reply.status
        ));
    }
    out.line(format!(
        "details:   {} (Envoy's response code details)",
        reply.details
    ));
    out.line(format!(
        "reason:    {} ({})",
        denial.reason.name(),
        denial.description
    ));
    if let Some(detail) = facts.detail(denial.reason) {
        out.line(format!("detail:    {detail}"));
    }
    let remote = facts
        .provider()
        .is_some_and(|(_, p)| p.keys.fetch_settings().is_some());
    if denial.reason == DenyReason::UnknownKid && remote {
        out.line(
            "note:      in Envoy the filter first fetches the key set again (at most every \
             min_refetch_interval_seconds) in case the key was just rotated in; this answer \
             is what follows when the fresh set lacks the key too",
        );
    }
    out.line("reply headers:");
    for (name, value) in &reply.headers {
        out.line(format!("  {name}: {value}"));
    }
    out.line(format!("reply body: {}", reply.body));
}

pub fn run(args: &[String], out: &mut Output) -> Result<u8, CliError> {
    let options = Options::parse("check", OPTIONS, args)?;
    if options.help {
        return out.help(crate::CHECK_USAGE);
    }
    options.positional_exactly(&[])?;
    let config_path = options.required("--config")?;
    let jwks_path = options.required("--jwks")?;
    let token_spec = options.required("--token")?;
    let method = parse_method(options.get("--method"), &options)?;
    let host = parse_host(options.get("--host"), &options)?;
    let path = parse_path(options.get("--path"), &options)?;
    let at = parse_at(options.get("--at"), &options)?;

    let config = load_config(config_path)?;
    let jwks_bytes = read_file("key set", jwks_path)?;
    let set = KeySet::parse(&jwks_bytes)
        .map_err(|e| CliError::Input(format!("{jwks_path} is not a JSON Web Key Set: {e}")))?;
    let token = read_token(token_spec, "check")?;
    let (now, clock_source) = match at {
        Some(t) => (t, "frozen by --at"),
        None => (current_time()?, "now"),
    };
    let location = config
        .from_headers
        .first()
        .ok_or_else(|| CliError::Input(format!("{config_path}: from_headers lists no header")))?;

    // The request the filter sees: pseudo-headers and the token header.
    let request: Vec<(&str, String)> = vec![
        (":method", method.clone()),
        (":path", path.clone()),
        (":authority", host.clone()),
        (
            location.name.as_str(),
            format!("{}{token}", location.value_prefix),
        ),
    ];
    let keys = FileKeys {
        set: &set,
        refused: config
            .providers
            .iter()
            .map(|p| refusal(p, &jwks_bytes, &set))
            .collect(),
    };

    // The filter's decision, exactly as the Envoy filter computes it.
    let outcome = decide(&config, &request, &keys, now, WaitPermission::default());

    // A request that would wait for keys gets this denial when it cannot.
    let denial = match &outcome {
        Outcome::Allow(_) => None,
        Outcome::Deny(denial)
        | Outcome::WaitForKeys {
            otherwise: denial, ..
        } => Some(denial),
    };
    let parsed = token::parse(&token, config.max_token_bytes);
    let parts: Vec<&str> = token.split('.').collect();
    let header = parts.first().map(|h| segment(h).json);
    let claims = match &parsed {
        Ok(p) => Some(p.claims.clone()),
        Err(_) => parts.get(1).and_then(|p| segment(p).json.ok()),
    };
    let facts = Facts {
        config: &config,
        jwks_path,
        set: &set,
        keys: &keys,
        method: &method,
        path: &path,
        host: &host,
        now,
        token: &token,
        parsed: &parsed,
        claims,
        signature: check_signature(&config, &parsed, &keys),
        rule: match &outcome {
            Outcome::Allow(allow) => Some(allow.rule),
            _ => denial.and_then(|d| d.rule),
        },
        condition: denial.and_then(|d| d.condition),
    };
    let rule = facts.rule.and_then(|i| config.rules.get(i));
    // Anonymous as far as the token goes: the rule never looked at one.
    let anonymous = match &outcome {
        Outcome::Allow(allow) => !allow.verified(),
        _ => rule.is_some_and(|r| r.requirement == Requirement::Anonymous),
    };

    // Verified: the decision says it got past a good signature, and the signature verifies
    // when redone here against the same key file.
    let (code, past_signature) = match &outcome {
        Outcome::Allow(allow) => {
            print_allow(allow, &facts, anonymous, out);
            (0, allow.verified())
        }
        Outcome::Deny(denial)
        | Outcome::WaitForKeys {
            otherwise: denial, ..
        } => {
            print_deny(&config, denial, &facts, out);
            (1, denial.reason.after_signature())
        }
    };
    let verified = past_signature && matches!(facts.signature, Signature::Valid(..));

    out.line("");
    out.line(format!(
        "request:   {method} {path} (:authority {host}; {}: {}<token, {} bytes>)",
        location.name,
        location.value_prefix,
        token.len()
    ));
    out.line(format!(
        "clock:     {now} = {} ({clock_source}); clock skew {} s",
        utc(now),
        config.clock_skew_seconds
    ));
    let target_refused = matches!(&outcome, Outcome::Deny(d) if matches!(d.reason, DenyReason::Path | DenyReason::Host));
    match facts.rule {
        Some(i) => match config.rules.get(i) {
            Some(rule) => out.line(format!(
                "rule:      {}: {}",
                rule_name(rule, i),
                rule_text(rule)
            )),
            None => out.line("rule:      none matches"),
        },
        None if target_refused => {
            out.line("rule:      none: the path or host is refused before the rules are looked at")
        }
        None => out.line("rule:      none matches"),
    }
    match (facts.claim("iss"), facts.provider()) {
        (_, Some((i, p))) => out.line(format!(
            "issuer:    {} -> providers[{i}] {}",
            facts
                .claim("iss")
                .and_then(Value::as_str)
                .unwrap_or_default(),
            p.name
        )),
        (Some(iss), None) => out.line(format!("issuer:    {iss} (not configured)")),
        (None, None) => out.line("issuer:    (no iss claim)"),
    }
    out.line(format!(
        "key set:   {jwks_path}: {} key(s), {} usable for RS256",
        set.keys().len(),
        set.usable_count()
    ));
    for jwk in set.keys() {
        if let Err(why) = &jwk.key {
            let name = jwk
                .kid
                .as_ref()
                .map(|k| format!("kid {k}"))
                .or_else(|| jwk.x5t.as_ref().map(|t| format!("x5t {t}")))
                .unwrap_or_else(|| "a key without kid".to_string());
            out.line(format!("           {name} is unusable: {why}"));
        }
    }
    for (i, why) in keys.refused.iter().enumerate() {
        if let (Some(why), Some(p)) = (why, config.providers.get(i)) {
            out.line(format!(
                "keys:      providers[{i}] {} would refuse {jwks_path}: {why}",
                p.name
            ));
        }
    }
    // What the signature check gives when redone here, and whether it could be done at all.
    let (computed, signature_text) = match &facts.signature {
        Signature::NotParsed(e) => (false, e.clone()),
        Signature::NoIssuer => (false, "the issuer is not configured".to_string()),
        Signature::NoKeys(i) => (false, format!("providers[{i}] has no usable key set")),
        Signature::KeyNotFound(name) => (false, format!("{name} is not in {jwks_path}")),
        Signature::KeyUnusable(name, why) => (false, format!("{name} is unusable: {why}")),
        Signature::Invalid(name) => (true, format!("INVALID with {name} from {jwks_path}")),
        Signature::Valid(name, bits) => (
            true,
            format!("valid (RS256, {name}, {bits}-bit RSA key from {jwks_path})"),
        ),
    };
    let filter_checked =
        past_signature || matches!(&outcome, Outcome::Deny(d) if d.reason == DenyReason::Signature);
    out.line(match (filter_checked, computed) {
        (true, true) => format!("signature: {signature_text}"),
        (_, false) => format!("signature: not checked: {signature_text}"),
        (false, true) => {
            format!("signature: not checked by the filter; checked here, it is {signature_text}")
        }
    });

    let label = if verified {
        "VERIFIED: the filter checked the signature".to_string()
    } else {
        let why = match (&outcome, &facts.signature) {
            (Outcome::Allow(_), _) if anonymous => {
                "the rule is anonymous, the filter did not look at the token"
            }
            (Outcome::Deny(d), _) if d.reason == DenyReason::NoRule => {
                "no rule matched, the filter did not look at the token"
            }
            (_, Signature::Invalid(_)) => "the signature is invalid",
            _ => "the filter did not verify the signature",
        };
        format!("UNVERIFIED: {why}; do not trust these values")
    };
    out.line("");
    match header {
        Some(Ok(map)) => {
            out.line(format!("token header ({label}):"));
            out.line(pretty_json(&Value::Object(map), 2));
        }
        Some(Err(e)) => out.line(format!("token header: {e}")),
        None => {}
    }
    match &facts.claims {
        Some(map) => {
            out.line(format!("claims ({label}):"));
            out.line(pretty_json(&Value::Object(map.clone()), 2));
            let times = time_lines(map, now, Some("the check time"));
            if !times.is_empty() {
                out.line("times (UTC):");
                for line in times {
                    out.line(format!("  {line}"));
                }
            }
        }
        None => out.line("claims: the payload cannot be decoded"),
    }
    Ok(code)
}
