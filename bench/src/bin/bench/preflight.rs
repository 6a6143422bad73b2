//! Before measuring: each set-up answers as the policy says, so the figures compare filters that
//! do the same work (and the passthrough really lets everything through).

use crate::envoy_config::Setup;
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
        let mut foreign = tokens::claims(3, &[tokens::ROLE], now);
        if let Some(members) = foreign.as_object_mut() {
            members.insert("azp".into(), "c11e47a0-aaaa-bbbb-cccc-0000000000ff".into());
        }
        let other_client = tokens::mint(key, &foreign)?;
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

/// One probe: a request and the status it must get.
struct Expect<'a> {
    what: &'a str,
    path: &'a str,
    token: Option<&'a str>,
    status: u16,
}

/// Sends the probes to `setup` listening on `port`; describes the first wrong answer.
pub fn check(setup: Setup, port: u16, probes: &Probes) -> Result<(), String> {
    let mut expectations = vec![Expect {
        what: "a valid token with the role",
        path: PATH,
        token: Some(&probes.good),
        status: 200,
    }];
    if setup.authenticates() {
        expectations.extend([
            Expect {
                what: "no token",
                path: PATH,
                token: None,
                status: 401,
            },
            Expect {
                what: "a bad signature",
                path: PATH,
                token: Some(&probes.bad_signature),
                status: 401,
            },
            Expect {
                what: "a valid token without the role",
                path: PATH,
                token: Some(&probes.no_role),
                status: 403,
            },
            Expect {
                what: "a path outside /calc/",
                path: "/admin",
                token: Some(&probes.good),
                status: 403,
            },
        ]);
    }
    if setup.requires_client() {
        expectations.push(Expect {
            what: "a valid token with the role from another client",
            path: PATH,
            token: Some(&probes.other_client),
            status: 403,
        });
    }
    for e in &expectations {
        let bearer = e.token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| vec![("authorization", b)])
            .unwrap_or_default();
        let reply = http::send(port, "GET", e.path, &headers, None)
            .map_err(|err| format!("{}: {} to {}: {err}", setup.label(), e.what, e.path))?;
        if reply.status != e.status {
            return Err(format!(
                "{}: {} to {} got {}, expected {} (body {:?})",
                setup.label(),
                e.what,
                e.path,
                reply.status,
                e.status,
                reply.body_text()
            ));
        }
        if setup.authenticates() && e.status == 200 {
            let seen = reply.header("x-seen-client-id");
            if seen != Some(CLIENT_ID) {
                return Err(format!(
                    "{}: the request did not reach the route with x-client-id {CLIENT_ID} \
                     (route saw {seen:?})",
                    setup.label()
                ));
            }
        }
    }
    Ok(())
}
