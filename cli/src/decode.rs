//! `rolegate decode TOKEN|@FILE`: a debugging aid that shows a token's content, unverified.

use crate::args::Options;
use crate::text::{
    decode_base64, duration, numeric_date, pretty_json, relative_to, utc, Base64Mode,
};
use crate::{read_token, CliError, Output};
use serde_json::{Map, Value};

/// The time claims shown as dates, in the order a lifetime reads.
pub const TIME_CLAIMS: [&str; 3] = ["iat", "nbf", "exp"];

/// One segment's JSON object, or why it is not one.
pub struct Segment {
    pub json: Result<Map<String, Value>, String>,
    pub mode: Option<Base64Mode>,
}

pub fn segment(text: &str) -> Segment {
    match decode_base64(text) {
        None => Segment {
            json: Err("not base64url".to_string()),
            mode: None,
        },
        Some((bytes, mode)) => {
            let json = match serde_json::from_slice::<Value>(&bytes) {
                Ok(Value::Object(map)) => Ok(map),
                Ok(_) => Err("JSON, but not an object".to_string()),
                Err(e) => Err(format!("not JSON: {e}")),
            };
            Segment {
                json,
                mode: Some(mode),
            }
        }
    }
}

/// `exp`/`nbf`/`iat` as dates, relative to `now`.
/// `now_label` names the reference time (`None`: the current time).
pub fn time_lines(claims: &Map<String, Value>, now: i64, now_label: Option<&str>) -> Vec<String> {
    let mut lines = Vec::new();
    for name in TIME_CLAIMS {
        let Some(value) = claims.get(name) else {
            continue;
        };
        match numeric_date(value) {
            Some(t) => lines.push(format!(
                "{name} {t} = {} ({})",
                utc(t),
                relative_to(t, now, now_label)
            )),
            None => lines.push(format!(
                "{name} {value} is not a NumericDate (whole seconds); the filter refuses it as malformed"
            )),
        }
    }
    if let (Some(nbf_or_iat), Some(exp)) = (
        claims
            .get("nbf")
            .or_else(|| claims.get("iat"))
            .and_then(numeric_date),
        claims.get("exp").and_then(numeric_date),
    ) {
        if exp >= nbf_or_iat {
            let seconds = u64::try_from(exp - nbf_or_iat).unwrap_or(0);
            lines.push(format!("lifetime {} ({seconds} s)", duration(seconds)));
        }
    }
    lines
}

pub fn now() -> Result<i64, CliError> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| CliError::Input("the system clock is before 1970".to_string()))?;
    i64::try_from(since.as_secs())
        .map_err(|_| CliError::Input("the system clock is out of range".to_string()))
}

pub fn run(args: &[String], out: &mut Output) -> Result<u8, CliError> {
    let options = Options::parse("decode", &[], args)?;
    if options.help {
        return out.help(crate::DECODE_USAGE);
    }
    let [spec] = options.positional_exactly(&["TOKEN|@FILE"])? else {
        return Err(options.usage("TOKEN|@FILE is required".to_string()));
    };
    let token = read_token(spec, "decode")?;
    let now = now()?;
    let parts: Vec<&str> = token.split('.').collect();

    out.line(
        "UNVERIFIED: decoded only. The signature, issuer, audience and lifetime are NOT checked;",
    );
    out.line("            use 'rolegate check' to see what the filter decides.");
    out.line("");

    let (header_b64, rest) = match parts.split_first() {
        Some((h, rest)) if parts.len() == 3 || parts.len() == 5 => (*h, rest),
        _ => {
            out.line(format!(
                "not a compact JWS: {} dot-separated segment(s), expected 3",
                parts.len()
            ));
            return Ok(1);
        }
    };
    let mut ok = true;
    let mut lenient = Vec::new();

    let header = segment(header_b64);
    if header.mode == Some(Base64Mode::Lenient) {
        lenient.push("header");
    }
    match &header.json {
        Ok(map) => {
            out.line("header (UNVERIFIED):");
            out.line(pretty_json(&Value::Object(map.clone()), 2));
        }
        Err(e) => {
            out.line(format!("header: {e}"));
            ok = false;
        }
    }

    if parts.len() == 5 {
        out.line("");
        out.line(
            "this is an encrypted token (JWE, 5 segments): its payload cannot be read without the",
        );
        out.line("decryption key, and the filter accepts only signed tokens (JWS).");
        return Ok(1);
    }
    let (payload_b64, signature_b64) = match rest {
        [p, s] => (*p, *s),
        _ => return Ok(1),
    };

    let payload = segment(payload_b64);
    if payload.mode == Some(Base64Mode::Lenient) {
        lenient.push("payload");
    }
    out.line("");
    match &payload.json {
        Ok(map) => {
            out.line("payload (UNVERIFIED claims):");
            out.line(pretty_json(&Value::Object(map.clone()), 2));
            let times = time_lines(map, now, None);
            if !times.is_empty() {
                out.line("");
                out.line("times (UTC):");
                for line in times {
                    out.line(format!("  {line}"));
                }
            }
        }
        Err(e) => {
            out.line(format!("payload: {e}"));
            ok = false;
        }
    }

    out.line("");
    match decode_base64(signature_b64) {
        Some((bytes, mode)) => {
            if mode == Base64Mode::Lenient {
                lenient.push("signature");
            }
            out.line(format!("signature: {} bytes, not checked", bytes.len()));
        }
        None => {
            out.line("signature: not base64url");
            ok = false;
        }
    }

    let mut notes = Vec::new();
    if !lenient.is_empty() {
        notes.push(format!(
            "the {} segment(s) are not strict base64url (padding, '+' or '/', or stray bits): \
             decoded leniently here, but the filter refuses such a token as malformed",
            lenient.join(", ")
        ));
    }
    if ok && lenient.is_empty() {
        // The filter's own structural check, with no size limit (max_token_bytes is per config).
        if let Err(e) = rolegate::token::parse(&token, usize::MAX) {
            notes.push(format!(
                "the filter would refuse this token as malformed: {e}"
            ));
        }
        let default_max = usize::try_from(rolegate::config::DEFAULT_MAX_TOKEN_BYTES).unwrap_or(0);
        if token.len() > default_max {
            notes.push(format!(
                "the token is {} bytes, over the default max_token_bytes ({})",
                token.len(),
                rolegate::config::DEFAULT_MAX_TOKEN_BYTES
            ));
        }
    }
    if !notes.is_empty() {
        out.line("");
        for note in notes {
            out.line(format!("note: {note}"));
        }
    }
    Ok(if ok { 0 } else { 1 })
}
