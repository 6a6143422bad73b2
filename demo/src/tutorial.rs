//! The demo driver: starts the authorization server, the calc API and Envoy with rolegate,
//! then walks through the client credentials flow step by step, printing each request as
//! the equivalent `curl` command, the answer, and a PASS or FAIL verdict.

use crate::bootstrap::{self, PROVIDER};
use crate::calc;
use crate::console::{section, shell_quote, shorten, Step};
use crate::form;
use crate::idp::Idp;
use crate::registrations::{Client, Registrations};
use crate::signals;
use crate::tamper::tamper;
use crate::work_dir::WorkDir;
use rolegate_testkit::envoy::{Bootstrap, Launch};
use rolegate_testkit::http::{self, Response};
use rolegate_testkit::token::decode_unverified;
use rolegate_testkit::Envoy;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long to wait for rolegate's first key-set fetch before going on.
const KEYS_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of Envoy's log printed after a failure.
const LOG_TAIL_LINES: usize = 40;
/// The two clients the tutorial uses, by display name.
const GRANTED_CLIENT: &str = "calc-client";
const OTHER_CLIENT: &str = "reporting-client";
/// Holds invokeRole too, but is not on the `/calc` rule's `azp` list.
const UNLISTED_CLIENT: &str = "batch-client";

#[derive(Debug)]
pub struct Options {
    pub envoy: PathBuf,
    pub wasm: PathBuf,
    pub registrations: Registrations,
    /// Where the registrations came from, for the intro.
    pub registrations_source: String,
    /// Leave everything running after the steps, until Ctrl-C.
    pub keep_running: bool,
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    AllPassed,
    SomeFailed,
}

/// Runs the demo. An error means the demo could not be set up.
pub fn run(options: Options) -> Result<Outcome, String> {
    let started = Instant::now();
    for (what, path) in [
        ("Envoy", &options.envoy),
        ("the rolegate module", &options.wasm),
    ] {
        if !path.is_file() {
            return Err(format!(
                "{what} not found at {}: run `make build envoy` first",
                path.display()
            ));
        }
    }
    let wasm = std::path::absolute(&options.wasm).map_err(|e| e.to_string())?;
    signals::install()?;
    let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
    let registrations = options.registrations;
    let granted = registrations.client_named(GRANTED_CLIENT).cloned();
    let other = registrations.client_named(OTHER_CLIENT).cloned();
    let unlisted = registrations.client_named(UNLISTED_CLIENT).cloned();
    let (Some(granted), Some(other), Some(unlisted)) = (granted, other, unlisted) else {
        return Err(format!(
            "the registrations must include {GRANTED_CLIENT}, {OTHER_CLIENT} and {UNLISTED_CLIENT}"
        ));
    };
    let idp = Idp::start(registrations, localhost)?;
    let calc_server = calc::start(localhost)?;
    let work = Arc::new(WorkDir::create()?);

    let plugin = bootstrap::plugin_config(
        &idp.issuer(),
        &idp.registrations().api,
        &idp.discovery_url(),
        &[granted.app_id.as_str()],
    );
    let config = bootstrap::bootstrap(
        &plugin,
        &wasm,
        idp.port(),
        calc_server.port(),
        &work.path().join("access.log"),
    );
    let launch = Launch::new(&options.envoy, work.path())
        .listener(bootstrap::LISTENER)
        .wasm_debug_log()
        .until(signals::interrupted);
    let envoy = match launch.start(&Bootstrap::Json(config)) {
        Ok(envoy) => Arc::new(envoy),
        Err(e) => {
            work.keep();
            return Err(e.to_string());
        }
    };
    let (watched_envoy, watched_work) = (Arc::downgrade(&envoy), Arc::downgrade(&work));
    signals::on_interrupt(move || {
        if let Some(envoy) = watched_envoy.upgrade() {
            envoy.stop();
        }
        if let Some(work) = watched_work.upgrade() {
            work.remove();
        }
    })?;

    intro(
        &idp,
        &options.registrations_source,
        calc_server.port(),
        &envoy,
        &options.wasm,
        &work,
        &plugin,
    );
    wait_for_keys(&envoy, &idp);

    let mut demo = Demo {
        idp: &idp,
        envoy: &envoy,
        granted,
        other,
        unlisted,
        granted_token: None,
    };
    let results = [
        demo.get_a_token(),
        demo.read_the_token(),
        demo.call_with_the_token(),
        demo.call_without_a_token(),
        demo.call_without_the_role(),
        demo.call_from_an_unlisted_client(),
        demo.call_with_a_tampered_token(),
        demo.show_the_counters(),
        demo.show_the_access_log(),
    ];
    let passed = results.iter().filter(|ok| **ok).count();

    section("Summary");
    if passed < results.len() {
        work.keep();
        println!("  Envoy's log ends with:");
        println!("{}", envoy.notable_log_tail(LOG_TAIL_LINES));
        println!("  (bootstrap and logs kept in {})", work.path().display());
    }
    if options.keep_running {
        println!(
            "  Everything keeps running so that the commands above can be tried; Ctrl-C stops it."
        );
        while !signals::interrupted() {
            thread::sleep(Duration::from_millis(100));
        }
    }
    drop(demo);
    drop(envoy);
    drop(calc_server);
    drop(idp);
    println!(
        "  {passed} of {} steps passed in {:.1} s. Envoy, the authorization server and calc are stopped.",
        results.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(if passed == results.len() {
        Outcome::AllPassed
    } else {
        Outcome::SomeFailed
    })
}

fn intro(
    idp: &Idp,
    registrations_source: &str,
    calc_port: u16,
    envoy: &Envoy,
    wasm: &std::path::Path,
    work: &WorkDir,
    plugin: &str,
) {
    let r = idp.registrations();
    section("rolegate demo: app roles for daemons, with tokens from a local stand-in for Entra ID");
    println!(
        "  authorization server  {}  (plays https://login.microsoftonline.com)",
        idp.base_url()
    );
    println!("    issuer              {}", idp.issuer());
    println!("    token endpoint      {}", idp.token_url());
    println!("    OIDC discovery      {}", idp.discovery_url());
    println!("  calc API (upstream)   http://127.0.0.1:{calc_port}");
    println!(
        "  Envoy with rolegate   http://127.0.0.1:{}  (admin http://127.0.0.1:{})",
        envoy.port(),
        envoy.admin_port()
    );
    println!("    module              {}", wasm.display());
    println!("    bootstrap and log   {}", work.path().display());
    println!();
    println!("  App registrations ({registrations_source}; demo values):");
    println!("    tenant   {}", r.tenant_id);
    println!(
        "    API      {:<17} app id {}  app roles: {}",
        r.api.display_name,
        r.api.app_id,
        r.api.app_roles.join(", ")
    );
    for client in &r.clients {
        let roles = if client.granted_app_roles.is_empty() {
            "(none)".to_string()
        } else {
            client.granted_app_roles.join(", ")
        };
        println!(
            "    client   {:<17} app id {}  granted: {roles}",
            client.display_name, client.app_id
        );
    }
    println!();
    println!("  rolegate's configuration (the wasm filter's `configuration` in the bootstrap):");
    for line in plugin.lines() {
        println!("    {line}");
    }
}

/// Waits until rolegate has fetched its keys, and shows what it asked the server for.
fn wait_for_keys(envoy: &Envoy, idp: &Idp) {
    let metric = format!("wasmcustom.rolegate.jwks.{PROVIDER}.fetch_success");
    let deadline = Instant::now() + KEYS_TIMEOUT;
    while envoy.stat(&metric).unwrap_or(0) == 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    println!();
    if envoy.stat(&metric).unwrap_or(0) == 0 {
        println!("  Envoy is ready, but rolegate has no keys yet ({metric} is 0).");
        return;
    }
    println!("  Envoy is ready. rolegate found the keys through OIDC discovery (cluster idp):");
    for served in idp.exchanges() {
        let request = &served.request;
        println!(
            "    {} {}  -> {}  (user-agent: {})",
            request.method,
            request.path(),
            served.status.map_or("-".to_string(), |s| s.to_string()),
            request.header("user-agent").unwrap_or("-")
        );
    }
}

struct Demo<'a> {
    idp: &'a Idp,
    envoy: &'a Envoy,
    granted: Client,
    other: Client,
    unlisted: Client,
    granted_token: Option<String>,
}

impl Demo<'_> {
    fn scope(&self) -> String {
        format!("{}/.default", self.idp.registrations().api.identifier_uri)
    }

    fn token_form(&self, client: &Client) -> String {
        form::encode_pairs(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client.app_id),
            ("client_secret", &client.secret),
            ("scope", &self.scope()),
        ])
    }

    fn token_command(&self, client: &Client) -> Vec<String> {
        vec![
            format!("curl -s {}", self.idp.token_url()),
            "-d grant_type=client_credentials".to_string(),
            format!("-d client_id={}", client.app_id),
            format!(
                "--data-urlencode {}",
                shell_quote(&format!("client_secret={}", client.secret))
            ),
            format!(
                "--data-urlencode {}",
                shell_quote(&format!("scope={}", self.scope()))
            ),
        ]
    }

    /// Asks the token endpoint for a token for `client`; shows the exchange and checks it.
    fn fetch_token(&self, step: &mut Step, client: &Client) -> Option<String> {
        step.command(&self.token_command(client));
        let path = self.idp.token_url();
        let path = path.strip_prefix(self.idp.base_url()).unwrap_or(&path);
        let answer = http::send(
            self.idp.port(),
            "POST",
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(self.token_form(client).as_bytes()),
        );
        let answer = match answer {
            Ok(answer) => answer,
            Err(e) => {
                step.check(false, &format!("the token endpoint answers ({e})"));
                return None;
            }
        };
        let body = answer.json_body().unwrap_or(Value::Null);
        let token = body
            .get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut shown = answer.body_text();
        if let Some(t) = &token {
            shown = shown.replace(t.as_str(), &shorten(t, 40));
        }
        step.response_with_body(&answer, &["content-type", "cache-control"], &shown);
        step.check(answer.status == 200, "status 200");
        step.check(
            body.get("token_type") == Some(&json!("Bearer")),
            "token_type is Bearer",
        );
        step.check(
            body.get("expires_in") == Some(&json!(3600)),
            "expires_in is 3600 seconds",
        );
        step.check(token.is_some(), "an access_token is there");
        token
    }

    /// [`Demo::fetch_token`], and the token's claims, decoded only.
    fn fetch_token_and_claims(
        &self,
        step: &mut Step,
        client: &Client,
    ) -> (Option<String>, Option<Value>) {
        let token = self.fetch_token(step, client);
        let claims = token.as_deref().and_then(decode_unverified);
        (token, claims.map(|(_, claims)| claims))
    }

    /// GET `path` through Envoy with an optional bearer token.
    fn call(&self, step: &mut Step, path: &str, token: Option<(&str, &str)>) -> Option<Response> {
        let url = format!("http://127.0.0.1:{}{path}", self.envoy.port());
        match token {
            Some((variable, _)) => step.command(&[format!(
                "curl -i -H \"Authorization: Bearer ${variable}\" {url}"
            )]),
            None => step.command(&[format!("curl -i {url}")]),
        }
        let authorization = token.map(|(_, t)| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = authorization
            .as_deref()
            .map(|a| vec![("authorization", a)])
            .unwrap_or_default();
        match http::send(self.envoy.port(), "GET", path, &headers, None) {
            Ok(answer) => {
                step.response(
                    &answer,
                    &[
                        "content-type",
                        "www-authenticate",
                        "x-seen-client-id",
                        "x-seen-client-roles",
                        "x-seen-authorization",
                    ],
                );
                Some(answer)
            }
            Err(e) => {
                step.check(false, &format!("Envoy answers ({e})"));
                None
            }
        }
    }

    fn get_a_token(&mut self) -> bool {
        let mut step = Step::begin(
            1,
            "calc-client gets a token (OAuth 2.0 client credentials grant)",
        );
        step.say(
            "A daemon has no user: it signs in as itself, with its client id and secret, and\n\
             asks for a token for the API's `.default` scope. The token then carries the app\n\
             roles an admin granted to the client.",
        );
        let client = self.granted.clone();
        self.granted_token = self.fetch_token(&mut step, &client);
        step.say(
            "Below, $CALC_TOKEN stands for this access_token. In a shell:\n\
             CALC_TOKEN=$(curl -s ... | jq -r .access_token)",
        );
        step.finish()
    }

    fn read_the_token(&mut self) -> bool {
        let mut step = Step::begin(2, "What the token says");
        step.say(
            "A JWT is three base64url parts: header, claims, signature. Decoding needs no key:",
        );
        step.command(&[
            "python3 -c 'import sys,json,base64; p=sys.argv[1].split(\".\")[1];".to_string(),
            "print(json.dumps(json.loads(base64.urlsafe_b64decode(p+\"==\")),indent=2))' \"$CALC_TOKEN\""
                .to_string(),
        ]);
        let decoded = self.granted_token.as_deref().and_then(decode_unverified);
        let Some((header, claims)) = decoded else {
            step.check(false, "the token from step 1 decodes");
            return step.finish();
        };
        step.say("UNVERIFIED (decoded only; anyone can write these bytes, rolegate checks the signature):");
        step.say("header:");
        step.json(&header);
        step.say("claims:");
        step.json(&claims);
        let api = &self.idp.registrations().api;
        step.check(
            member(&header, "alg") == "RS256" && member(&header, "kid").is_string(),
            "alg RS256 with a kid",
        );
        step.check(
            member(&claims, "iss") == self.idp.issuer().as_str(),
            "iss is the issuer rolegate trusts",
        );
        step.check(
            member(&claims, "aud") == api.app_id.as_str(),
            "aud is the API's app id",
        );
        step.check(
            member(&claims, "azp") == self.granted.app_id.as_str(),
            "azp is calc-client's app id (rolegate passes it on as x-client-id)",
        );
        step.check(
            *member(&claims, "roles") == json!(["invokeRole"]),
            "roles holds invokeRole",
        );
        step.check(
            member(&claims, "idtyp") == "app",
            "idtyp app: an app-only token",
        );
        step.finish()
    }

    fn call_with_the_token(&mut self) -> bool {
        let mut step = Step::begin(3, "calc-client calls the API: allowed");
        step.say(
            "rolegate checks the signature with the key it fetched, then iss, aud, exp, and that\n\
             roles holds invokeRole, which /calc/ requires. calc echoes what it received.",
        );
        let token = self.granted_token.clone().unwrap_or_default();
        let Some(answer) = self.call(&mut step, "/calc/v1/add/1/1", Some(("CALC_TOKEN", &token)))
        else {
            return step.finish();
        };
        step.check(answer.status == 200, "status 200");
        step.check(answer.body_text() == "2", "body is 2");
        step.check(
            answer.header("x-seen-client-id") == Some(self.granted.app_id.as_str()),
            "calc received x-client-id = calc-client's app id",
        );
        step.check(
            answer.header("x-seen-authorization") == Some("absent"),
            "calc did not receive the token (rolegate removed it)",
        );
        step.finish()
    }

    fn call_without_a_token(&mut self) -> bool {
        let mut step = Step::begin(4, "A call without a token: 401");
        let Some(answer) = self.call(&mut step, "/calc/v1/add/1/1", None) else {
            return step.finish();
        };
        step.check(answer.status == 401, "status 401");
        step.check(
            answer
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "WWW-Authenticate: Bearer",
        );
        step.check(error_of(&answer) == "missing_token", "error missing_token");
        step.finish()
    }

    fn call_without_the_role(&mut self) -> bool {
        let mut step = Step::begin(
            5,
            "reporting-client has a valid token but not the role: 403",
        );
        step.say("reporting-client is registered in the same tenant, but no admin granted it invokeRole.");
        let client = self.other.clone();
        let (token, claims) = self.fetch_token_and_claims(&mut step, &client);
        step.check(
            claims.as_ref().is_some_and(|c| c.get("roles").is_none()),
            "its token has no roles claim (Entra leaves it out when none is granted)",
        );
        let token = token.unwrap_or_default();
        let Some(answer) = self.call(
            &mut step,
            "/calc/v1/add/1/1",
            Some(("REPORTING_TOKEN", &token)),
        ) else {
            return step.finish();
        };
        step.check(answer.status == 403, "status 403");
        step.check(
            error_of(&answer) == "insufficient_scope",
            "error insufficient_scope",
        );
        step.finish()
    }

    fn call_from_an_unlisted_client(&mut self) -> bool {
        let mut step = Step::begin(
            6,
            "batch-client holds invokeRole but is not on /calc's client list: 403",
        );
        step.say(
            "The /calc rule also requires a claim: azp, the calling app's id, must be calc-client's\n\
             (\"claims\": [{\"claim\": \"azp\", \"values\": [...]}]). batch-client was granted the role,\n\
             but the API owner has not listed it.",
        );
        let client = self.unlisted.clone();
        let (token, claims) = self.fetch_token_and_claims(&mut step, &client);
        step.check(
            claims.as_ref().is_some_and(|c| {
                c.get("roles")
                    .and_then(Value::as_array)
                    .is_some_and(|r| r.iter().any(|r| r == "invokeRole"))
                    && c.get("azp").and_then(Value::as_str) == Some(client.app_id.as_str())
            }),
            "its token holds invokeRole, and azp is batch-client's app id",
        );
        let token = token.unwrap_or_default();
        let Some(answer) = self.call(&mut step, "/calc/v1/add/1/1", Some(("BATCH_TOKEN", &token)))
        else {
            return step.finish();
        };
        step.check(answer.status == 403, "status 403");
        step.check(
            error_of(&answer) == "insufficient_scope",
            "error insufficient_scope",
        );
        step.check(
            answer.json_body().is_some_and(|b| {
                member(&b, "error_description") == "token lacks a claim this resource requires"
            }),
            "error_description: token lacks a claim this resource requires",
        );
        step.finish()
    }

    fn call_with_a_tampered_token(&mut self) -> bool {
        let mut step = Step::begin(7, "A tampered token: 401");
        let token = self.granted_token.clone().unwrap_or_default();
        let Some((tampered, change)) = tamper(&token) else {
            step.check(false, "the token from step 1 can be tampered with");
            return step.finish();
        };
        step.say(&format!(
            "calc-client's token with one character of its claims changed:\n{change}.\n\
             The signature no longer matches."
        ));
        let Some(answer) = self.call(
            &mut step,
            "/calc/v1/add/1/1",
            Some(("TAMPERED_TOKEN", &tampered)),
        ) else {
            return step.finish();
        };
        step.check(answer.status == 401, "status 401");
        step.check(error_of(&answer) == "invalid_token", "error invalid_token");
        step.check(
            answer
                .json_body()
                .is_some_and(|b| member(&b, "error_description") == "token signature is invalid"),
            "error_description: token signature is invalid",
        );
        step.finish()
    }

    fn show_the_counters(&mut self) -> bool {
        let mut step = Step::begin(8, "rolegate's counters");
        step.command(&[format!(
            "curl -s 'http://127.0.0.1:{}/stats?filter=rolegate'",
            self.envoy.admin_port()
        )]);
        // rolegate hands its per-request counts to Envoy every 100 ms: give it a few ticks.
        let deadline = Instant::now() + Duration::from_secs(2);
        let stats = loop {
            let stats = match self.envoy.stats("rolegate") {
                Ok(stats) => stats,
                Err(e) => {
                    step.check(false, &format!("Envoy's admin interface answers ({e})"));
                    return step.finish();
                }
            };
            let all_in = COUNTED_STEPS
                .iter()
                .all(|(name, _)| stat(&stats, name) >= 1);
            if all_in || Instant::now() >= deadline {
                break stats;
            }
            thread::sleep(Duration::from_millis(50));
        };
        for (name, value) in &stats {
            println!("    {name}: {value}");
        }
        let value = |name: &str| stat(&stats, name);
        for (name, meaning) in COUNTED_STEPS {
            step.check(value(name) >= 1, &format!("{name} counted {meaning}"));
        }
        let fetches = format!("wasmcustom.rolegate.jwks.{PROVIDER}.fetch_success");
        step.check(
            value(&fetches) >= 1,
            &format!("{fetches}: the key set was fetched"),
        );
        step.finish()
    }
}

impl Demo<'_> {
    fn show_the_access_log(&mut self) -> bool {
        let mut step = Step::begin(9, "rolegate's decisions in Envoy's access log");
        step.say(
            "The access log prints %REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_CODE_DETAILS% \
             %FILTER_STATE(wasm.rolegate:PLAIN)%:\n\
             rolegate leaves its decision, reason, rule, provider and the verified client id \
             in the filter state, and its own answers carry the details rolegate_<reason>.",
        );
        step.command(&[format!(
            "cat {}",
            self.envoy.dir().join("access.log").display()
        )]);
        // Envoy writes the access log out every 100 ms here (the launch's flush interval).
        let calls = |log: &str| log.lines().filter(|l| l.starts_with("/calc/")).count();
        let log = self
            .envoy
            .wait_for_access_log(Duration::from_secs(3), |log| calls(log) >= 5);
        for line in log.lines() {
            println!("    {line}");
        }
        let has = |needle: &str| log.lines().any(|l| l.contains(needle));
        let granted = format!(
            "200 via_upstream decision=allowed rule=calc provider=entra client={}",
            self.granted.app_id
        );
        step.check(has(&granted), &format!("step 3: {granted}"));
        let missing = "401 rolegate_missing decision=denied reason=missing rule=calc";
        step.check(has(missing), &format!("step 4: {missing}"));
        let unlisted = format!(
            "403 rolegate_claim decision=denied reason=claim rule=calc provider=entra client={}",
            self.unlisted.app_id
        );
        step.check(has(&unlisted), &format!("step 6: {unlisted}"));
        step.finish()
    }
}

/// The counters steps 3 to 7 must have moved.
const COUNTED_STEPS: [(&str, &str); 6] = [
    ("wasmcustom.rolegate.allowed", "step 3"),
    (
        "wasmcustom.rolegate.rule.calc.allowed",
        "step 3, under the rule named calc",
    ),
    ("wasmcustom.rolegate.denied.missing", "step 4"),
    ("wasmcustom.rolegate.denied.role", "step 5"),
    ("wasmcustom.rolegate.denied.claim", "step 6"),
    ("wasmcustom.rolegate.denied.signature", "step 7"),
];

/// The value of the stat `name` among `stats`, 0 when it is not there.
fn stat(stats: &[(String, String)], name: &str) -> u64 {
    stats
        .iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// A member of a JSON object, `null` when absent.
fn member<'v>(value: &'v Value, name: &str) -> &'v Value {
    value.get(name).unwrap_or(&Value::Null)
}

/// The `error` member of a JSON answer.
fn error_of(answer: &Response) -> String {
    answer
        .json_body()
        .and_then(|b| b.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}
