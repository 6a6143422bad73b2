//! Before measuring: each set-up answers as the policy says, so the figures compare filters that
//! do the same work (and the passthrough and the floor really let everything through).

use crate::envoy_config::{Filter, Setup};
use rolegate_bench::tokens::{self, SigningKey, CLIENT_ID};
use rolegate_testkit::http;

/// The path every request goes to; the policy guards `/calc/`.
pub const PATH: &str = "/calc/add";

/// Tokens that probe the policy.
pub struct Probes {
    /// Valid, holds the role.
    pub good: String,
    /// Valid, but without the role.
    no_role: String,
    /// A good token's header and payload with another token's signature.
    bad_signature: String,
    /// Valid, holds the role, but another client's `azp`.
    other_client: String,
}

impl Probes {
    pub fn mint(key: &SigningKey) -> Result<Probes, String> {
        let now = tokens::now();
        let good = tokens::mint(key, &tokens::claims(0, &[tokens::ROLE], now))?;
        let no_role = tokens::mint(key, &tokens::claims(1, &["readRole"], now))?;
        let other = tokens::mint(key, &tokens::claims(2, &[tokens::ROLE], now))?;
        let foreign = tokens::claims(3, &[tokens::ROLE], now);
        let foreign_azp = "c11e47a0-aaaa-bbbb-cccc-0000000000ff".into();
        let other_client = tokens::mint(key, &tokens::with_member(foreign, "azp", foreign_azp))?;
        let signed_part = good.rsplit_once('.').map_or("", |(head, _)| head);
        let foreign_signature = other.rsplit_once('.').map_or("", |(_, sig)| sig);
        Ok(Probes {
            bad_signature: format!("{signed_part}.{foreign_signature}"),
            good,
            no_role,
            other_client,
        })
    }
}

/// What the route shows of the token header while it is on the request
/// (`%REQ(authorization):6%` in `envoy/bench/`).
const TOKEN_HEADER_SEEN: &str = "Bearer";

/// Sends the probes to `setup` listening on `port`; describes the first wrong answer.
pub fn check(setup: Setup, port: u16, probes: &Probes) -> Result<(), String> {
    let filter = setup.filter;
    // Each probe: what it is, its path, its token, and the status it must get.
    let [good, no_role, bad, other] = [
        &probes.good,
        &probes.no_role,
        &probes.bad_signature,
        &probes.other_client,
    ]
    .map(|token| Some(token.as_str()));
    let mut expectations = vec![("a valid token with the role", PATH, good, 200)];
    if filter.authenticates() {
        expectations.extend([
            ("no token", PATH, None, 401),
            ("a bad signature", PATH, bad, 401),
            ("a valid token without the role", PATH, no_role, 403),
            ("a path outside /calc/", "/admin", good, 403),
        ]);
    }
    if filter.requires_client() {
        let what = "a valid token with the role from another client";
        expectations.push((what, PATH, other, 403));
    }
    if filter == Filter::Floor {
        // It decides nothing: whatever the token, the request goes on.
        expectations.push(("a bad signature", PATH, bad, 200));
    }
    for (what, path, token, status) in expectations {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| vec![("authorization", b)])
            .unwrap_or_default();
        let label = setup.label();
        let reply = http::send(port, "GET", path, &headers, None)
            .map_err(|err| format!("{label}: {what} to {path}: {err}"))?;
        if reply.status != status {
            return Err(format!(
                "{label}: {what} to {path} got {}, expected {status} (body {:?})",
                reply.status,
                reply.body_text()
            ));
        }
        if status != 200 || token.is_none() || filter == Filter::BareWasm {
            continue;
        }
        // The route's view of the request: what the filter left of the token header, and the
        // client id it set.
        let token_seen = reply.header("x-seen-authorization");
        let client_seen = reply.header("x-seen-client-id");
        let (token_expected, client_expected) = if filter.rewrites_headers() {
            (None, Some(CLIENT_ID))
        } else {
            (Some(TOKEN_HEADER_SEEN), None)
        };
        if token_seen != token_expected {
            return Err(format!(
                "{label}: with {what}, the route saw the token header as {token_seen:?}, \
                 expected {token_expected:?} (x-seen-authorization)"
            ));
        }
        if client_expected.is_some() && client_seen != client_expected {
            return Err(format!(
                "{label}: the request did not reach the route with x-client-id {CLIENT_ID} \
                 (route saw {client_seen:?})"
            ));
        }
    }
    Ok(())
}
