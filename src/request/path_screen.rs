//! The path screen: a request path that two HTTP stacks could read differently never reaches
//! rule matching, and each path has one spelling the rules see.
//!
//! Rules are matched against one reading of `:path`; the upstream routes on its own. When the two
//! readings differ, a request can be let in by a lenient rule and served from a protected space
//! (`/healthz/../admin`, or `/v1/items%3Apurge` slipping past a `/v1/items:purge` rule). Envoy's
//! `normalize_path`, `merge_slashes` and `path_with_escaped_slashes_action` close part of the
//! gap, but they are off by default and decode only unreserved escapes. So a path is refused
//! unless every common reading of it is the same, and what passes is decoded as the upstreams
//! decode it:
//!
//! | form | Envoy (normalize_path) | upstreams |
//! |---|---|---|
//! | `.`/`..`, also `%2e` and `..;x` | resolved (`..;` too) | resolved by Go, Express, ASP.NET, nginx; Tomcat/Spring also resolve `..;` |
//! | `//` | kept; merged by `merge_slashes` | kept by Go and Express, merged by nginx and Tomcat |
//! | `%2F`, `%5C` | kept; decoded by `UNESCAPE_AND_FORWARD` | decoded to a separator by some (IIS, Tomcat with ALLOW_ENCODED_SLASH, Express routers after decoding) |
//! | `\` | turned into `/` | `/` for ASP.NET/IIS, a plain byte for Go |
//! | `%00`..`%1F`, `%7F`, C1 controls, `%zz` | NUL refused, the rest kept | refused or read in many ways |
//! | `%252e` (`%25` and two hex digits) | kept | `%2e` once decoded, `.` to whatever decodes again |
//! | `%c0%ae`, `%ff` (not UTF-8 once decoded) | kept | `.` to old Java and IIS (overlong), `U+FFFD` or refused elsewhere |
//! | `．`, `／`, `＼`, `‥`, literal or escaped | not resolved (its HTTP/1 codec refuses them literal) | `.`, `/`, `\` to whatever applies NFKC (Python, .NET, some filesystems) |
//! | `;x` parameters | kept | stripped per segment by Tomcat, Jetty, Spring; plain bytes elsewhere |
//! | `%3A`, `%40`, `%C3%A9`, `%41` | kept (`%41` decoded) | decoded: `:`, `@`, `é`, `A` |
//!
//! Escapes that every upstream decodes to the same character are decoded for matching, so that
//! `/v1/items%3Apurge` and `/v1/items:purge` are one path to the rules, as they are to Go,
//! ASP.NET Core, Spring and Flask. Escapes whose character would change how the path reads once
//! decoded stay escaped (with upper-case hex): `%25` (it would start an escape), `%3B` (a
//! parameter), `%3F` and `%23` (the end of the path). Parameters are allowed, but the caller must
//! check that the path with and without them picks the same rule
//! ([`ScreenedPath::without_parameters`]).

use std::borrow::Cow;
use std::fmt;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonCanonical {
    /// Empty, `*`, or an absolute URI instead of an origin-form path.
    NotAbsolute,
    /// Bytes that are not UTF-8, as sent or once decoded: `%ff`, a cut sequence (`%c3`), an
    /// overlong form (`%c0%ae`, a `.` to old decoders), an encoded surrogate.
    NotText,
    /// `//`, or a segment that is only a `;` parameter.
    EmptySegment,
    /// `.` or `..`, literal or percent-encoded, with or without a `;` parameter.
    DotSegment,
    /// `%2F` or `%5C`: a separator some upstreams decode and some do not.
    EncodedSeparator,
    /// A literal `\`, which some upstreams read as `/`.
    Backslash,
    /// A control character (C0, DEL or C1), literal or percent-encoded (NUL included).
    ControlCharacter,
    /// A `%` not followed by two hex digits.
    MalformedEscape,
    /// `%25` followed by two hex digits (`%252e`): an escape to an upstream that decodes twice.
    DoubleEncoding,
    /// A character that Unicode compatibility normalization (NFKC) turns into text with `.`, `/`
    /// or `\`, literal or percent-encoded: `．` (U+FF0E), `／`, `＼`, `‥`, `…`, `℀` and their kin.
    CompatibilityDotOrSeparator,
}

impl NonCanonical {
    pub fn description(self) -> &'static str {
        match self {
            NonCanonical::NotAbsolute => "the path does not start with /",
            NonCanonical::NotText => "the path is not UTF-8, as sent or once decoded",
            NonCanonical::EmptySegment => "the path has an empty segment",
            NonCanonical::DotSegment => "the path has a . or .. segment",
            NonCanonical::EncodedSeparator => "the path has a percent-encoded / or \\",
            NonCanonical::Backslash => "the path has a \\",
            NonCanonical::ControlCharacter => "the path has a control character",
            NonCanonical::MalformedEscape => "the path has a % not followed by two hex digits",
            NonCanonical::DoubleEncoding => {
                "the path has %25 followed by two hex digits (a double-encoded escape)"
            }
            NonCanonical::CompatibilityDotOrSeparator => {
                "the path has a character that compatibility normalization (NFKC) turns into . / or \\"
            }
        }
    }
}

impl fmt::Display for NonCanonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A path that passed the screen, in the forms rules are matched against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenedPath<'p> {
    /// Without query or fragment, every escape decoded but `%25`, `%3B`, `%3F` and `%23`, which
    /// keep their escape with upper-case hex.
    pub matched: Cow<'p, str>,
    /// `matched` as Tomcat, Jetty and Spring route it (`/a;x/b` is `/a/b`), when it has a `;`.
    pub without_parameters: Option<String>,
}

/// The path part of `:path`: everything before `?` or `#`.
pub fn path_part(raw: &[u8]) -> &[u8] {
    let end = raw
        .iter()
        .position(|b| matches!(b, b'?' | b'#'))
        .unwrap_or(raw.len());
    raw.get(..end).unwrap_or_default()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// The byte an escape at the start of `rest` (which begins with `%`) stands for.
fn escaped(rest: &[u8]) -> Result<u8, NonCanonical> {
    let high = rest.get(1).copied().and_then(hex_value);
    let low = rest.get(2).copied().and_then(hex_value);
    match (high, low) {
        (Some(high), Some(low)) => Ok(high << 4 | low),
        _ => Err(NonCanonical::MalformedEscape),
    }
}

/// Decoded, these would no longer read as data: `%` would start an escape, `;` a parameter,
/// `?` and `#` the end of the path. So they keep their escape, and the decoded path reads as
/// the path did. (`/` and `\` are refused instead: upstreams disagree on them.)
fn stays_escaped(value: u8) -> bool {
    matches!(value, b'%' | b';' | b'?' | b'#')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn upper_case_escape(value: u8) -> [u8; 3] {
    let digit = |nibble: u8| HEX_UPPER.get(usize::from(nibble)).copied().unwrap_or(b'0');
    [b'%', digit(value >> 4), digit(value & 15)]
}

/// `path` with every escape decoded but those that [`stays_escaped`] keeps, in upper case.
/// Borrowed when that changes nothing. Refuses what the decoding alone shows: a malformed
/// escape, an encoded separator, bytes that are not UTF-8 once decoded.
fn decode_for_matching(path: &str) -> Result<Cow<'_, str>, NonCanonical> {
    let bytes = path.as_bytes();
    // Started at the first escape that changes; until then the path is its own decoding, and
    // most paths with an escape never need the copy.
    let mut decoded: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte != b'%' {
            if let Some(out) = decoded.as_mut() {
                out.push(byte);
            }
            i += 1;
            continue;
        }
        let value = escaped(bytes.get(i..).unwrap_or_default())?;
        if matches!(value, b'/' | b'\\') {
            return Err(NonCanonical::EncodedSeparator);
        }
        let kept = upper_case_escape(value);
        let replacement: &[u8] = if stays_escaped(value) {
            &kept
        } else {
            std::slice::from_ref(&value)
        };
        if decoded.is_none() && bytes.get(i..i + 3) != Some(replacement) {
            let mut out = Vec::with_capacity(bytes.len());
            out.extend_from_slice(bytes.get(..i).unwrap_or_default());
            decoded = Some(out);
        }
        if let Some(out) = decoded.as_mut() {
            out.extend_from_slice(replacement);
        }
        i += 3;
    }
    match decoded {
        None => Ok(Cow::Borrowed(path)),
        // The whole decoded path is checked, not each escape: `%C3%A9` is text only together,
        // and `%c0%ae` (an overlong `.`) is refused here.
        Some(out) => String::from_utf8(out)
            .map(Cow::Owned)
            .map_err(|_| NonCanonical::NotText),
    }
}

/// Whether a `%25` in the decoded path is followed by two hex digits, written or decoded
/// (`%252e`, `%25%32%65`): once decoded that is an escape again. Every `%` in the decoded path
/// starts a kept escape, so each `%25` found is one.
fn has_double_encoding(decoded: &str) -> bool {
    decoded.as_bytes().windows(5).any(|w| {
        matches!(w, [b'%', b'2', b'5', high, low] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
    })
}

/// The characters that NFKC (Unicode compatibility normalization, which Python's and .NET's
/// normalizers and some filesystems apply) turns into text with `.`, `/` or `\`: an upstream
/// that normalizes reads `/healthz/．．/admin` as `/healthz/../admin`. All of them are refused,
/// also those that cannot make a dot segment on their own (`⒈` is `1.`): they are rare in
/// paths, and one rule is easier to trust than a judgement per character. The list is every
/// code point `c` with `unicodedata.normalize("NFKC", chr(c))` holding one of the three and
/// differing from `chr(c)` (Unicode 14.0 and 15.1 give the same 38; normalization stability
/// keeps existing mappings, so only new characters could add to it).
fn turns_into_dot_or_separator(c: char) -> bool {
    matches!(c,
        '\u{2024}'..='\u{2026}' // one and two dot leader, horizontal ellipsis: `.` `..` `...`
        | '\u{2100}' | '\u{2101}' | '\u{2105}' | '\u{2106}' // a/c, a/s, c/o, c/u
        | '\u{2488}'..='\u{249B}' // digit one full stop .. number twenty full stop: `1.` .. `20.`
        | '\u{33C2}' | '\u{33C7}' | '\u{33D8}' // square a.m., Co., p.m.
        | '\u{FE19}' | '\u{FE30}' // vertical ellipsis and two dot leader
        | '\u{FE52}' // small full stop
        | '\u{FE68}' // small reverse solidus
        | '\u{FF0E}' | '\u{FF0F}' | '\u{FF3C}' // full-width full stop, solidus, reverse solidus
        | '\u{1F100}' // digit zero full stop: `0.`
    )
}

/// Checks one segment (the text between two `/`) of the decoded path and notes whether it has
/// a `;` parameter. `last` allows the empty segment after a trailing slash.
fn screen_segment(segment: &str, last: bool, parameters: &mut bool) -> Result<(), NonCanonical> {
    for c in segment.chars() {
        if c == '\\' {
            return Err(NonCanonical::Backslash);
        }
        // C0, DEL and C1 (general category Cc), decoded or as sent.
        if c.is_control() {
            return Err(NonCanonical::ControlCharacter);
        }
        if !c.is_ascii() && turns_into_dot_or_separator(c) {
            return Err(NonCanonical::CompatibilityDotOrSeparator);
        }
    }
    // The segment's name is what comes before its first `;`; Tomcat routes on the name alone.
    // A `;` here was written as such: `%3B` stays escaped, data for every reader.
    let name = match segment.split_once(';') {
        Some((name, _)) => {
            *parameters = true;
            name
        }
        None => segment,
    };
    if name == "." || name == ".." {
        return Err(NonCanonical::DotSegment);
    }
    if name.is_empty() && !(last && segment.is_empty()) {
        return Err(NonCanonical::EmptySegment);
    }
    Ok(())
}

/// `path` with every segment cut at its first `;`.
fn strip_parameters(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment.split(';').next().unwrap_or_default());
    }
    out
}

/// A byte that cannot start an escape, a parameter, a dot segment or a separator of its own:
/// unreserved characters but `.`, and the sub-delimiters but `;`.
fn is_plain(byte: u8) -> bool {
    matches!(byte,
        b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'~'
        | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'=' | b':' | b'@')
}

/// The path part of `:path` if it is made of plain bytes only and has no `//`: then it is
/// canonical as it stands. Most API paths are, and one pass over them is all the screen costs.
fn plain_path(raw: &[u8]) -> Option<&str> {
    if raw.first() != Some(&b'/') {
        return None;
    }
    let mut end = raw.len();
    let mut after_slash = false;
    for (i, &byte) in raw.iter().enumerate() {
        if matches!(byte, b'?' | b'#') {
            end = i;
            break;
        }
        let slash = byte == b'/';
        if !is_plain(byte) || (slash && after_slash) {
            return None;
        }
        after_slash = slash;
    }
    std::str::from_utf8(raw.get(..end)?).ok()
}

/// Screens `:path` (query and fragment are ignored). A refused path must get no rule.
pub fn screen(raw: &[u8]) -> Result<ScreenedPath<'_>, NonCanonical> {
    if let Some(path) = plain_path(raw) {
        return Ok(ScreenedPath {
            matched: Cow::Borrowed(path),
            without_parameters: None,
        });
    }
    let path = std::str::from_utf8(path_part(raw)).map_err(|_| NonCanonical::NotText)?;
    if !path.starts_with('/') {
        return Err(NonCanonical::NotAbsolute);
    }
    // Everything after this reads the decoded path: a dot, control or full-width dot is refused
    // however it was written, and no escape is left that a decoding upstream would read as
    // anything but data.
    let matched = decode_for_matching(path)?;
    if has_double_encoding(&matched) {
        return Err(NonCanonical::DoubleEncoding);
    }
    let Some(rest) = matched.strip_prefix('/') else {
        return Err(NonCanonical::NotAbsolute);
    };
    let mut parameters = false;
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        screen_segment(segment, segments.peek().is_none(), &mut parameters)?;
    }
    let without_parameters = parameters.then(|| strip_parameters(&matched));
    Ok(ScreenedPath {
        matched,
        without_parameters,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use NonCanonical::*;

    /// (path, what the screen must answer, why)
    const REFUSED: &[(&str, NonCanonical, &str)] = &[
        ("", NotAbsolute, "no path at all (CONNECT)"),
        ("*", NotAbsolute, "asterisk form: no rule can name it"),
        ("calc/v1", NotAbsolute, "relative path"),
        (
            "%2Fcalc/v1",
            NotAbsolute,
            "an encoded slash is no leading /",
        ),
        ("http://h/calc", NotAbsolute, "absolute URI left in :path"),
        (
            "/healthz/../calc/v1/add/1/1",
            DotSegment,
            "everyone resolves .. to /calc",
        ),
        (
            "/calc/../admin/x",
            DotSegment,
            "walks from one rule's space into another's",
        ),
        (
            "/calc/./admin",
            DotSegment,
            ". is dropped by every resolver",
        ),
        ("/calc/.", DotSegment, "trailing . resolves to /calc/"),
        ("/calc/..", DotSegment, "trailing .. resolves to /"),
        ("/..", DotSegment, ".. at the root"),
        (
            "/healthz/%2e%2e/calc",
            DotSegment,
            "encoded dots are dots to Envoy and upstreams",
        ),
        ("/healthz/%2E%2E/calc", DotSegment, "upper-case escape"),
        ("/healthz/.%2e/calc", DotSegment, "half encoded"),
        ("/healthz/%2e./calc", DotSegment, "other half encoded"),
        ("/healthz/%2e/calc", DotSegment, "encoded single dot"),
        (
            "/healthz/..;/admin",
            DotSegment,
            "Tomcat/Spring strip ;params: ..; is ..",
        ),
        (
            "/healthz/..;jsessionid=1/admin",
            DotSegment,
            "parameter with a value",
        ),
        (
            "/healthz/.;x/admin",
            DotSegment,
            "single dot with a parameter",
        ),
        (
            "/healthz/%2e%2e;/admin",
            DotSegment,
            "encoded dots with a parameter",
        ),
        (
            "/a//b",
            EmptySegment,
            "merge_slashes and nginx read /a/b, Go reads a//b",
        ),
        (
            "//calc/v1",
            EmptySegment,
            "leading // (also a scheme-relative URL to some)",
        ),
        (
            "/calc//",
            EmptySegment,
            "empty segment before a trailing slash",
        ),
        (
            "/;x/admin",
            EmptySegment,
            "Tomcat reads //admin, then /admin",
        ),
        (
            "/calc/;x",
            EmptySegment,
            "a segment that is only a parameter",
        ),
        (
            "/healthz%2f..%2fcalc",
            EncodedSeparator,
            "decoded by UNESCAPE_AND_FORWARD and some upstreams",
        ),
        ("/healthz%2F..%2Fcalc", EncodedSeparator, "upper case"),
        (
            "/calc%2fv1",
            EncodedSeparator,
            "an encoded slash without dots",
        ),
        (
            "/healthz%5c..%5ccalc",
            EncodedSeparator,
            "encoded backslash",
        ),
        (
            "/healthz%5C..%5Ccalc",
            EncodedSeparator,
            "encoded backslash, upper case",
        ),
        (
            "/healthz\\..\\calc",
            Backslash,
            "IIS and normalize_path read \\ as /",
        ),
        ("/calc\\v1", Backslash, "a backslash without dots"),
        (
            "/calc/%00",
            ControlCharacter,
            "NUL ends strings in C upstreams",
        ),
        (
            "/calc/%0a",
            ControlCharacter,
            "encoded line feed: log and header injection",
        ),
        ("/calc/%0D%0A", ControlCharacter, "encoded CRLF"),
        ("/calc/%1f", ControlCharacter, "last C0 control"),
        ("/calc/%7f", ControlCharacter, "DEL"),
        ("/calc/\u{1}", ControlCharacter, "literal control character"),
        ("/calc/\t", ControlCharacter, "literal tab"),
        (
            "/calc/%c2%85",
            ControlCharacter,
            "NEL (C1), a line break to some log readers",
        ),
        ("/calc/\u{9b}", ControlCharacter, "literal C1 control (CSI)"),
        ("/calc/%", MalformedEscape, "% at the end"),
        ("/calc/%4", MalformedEscape, "one hex digit"),
        ("/calc/%g1", MalformedEscape, "not hex"),
        (
            "/calc/%%32%65",
            MalformedEscape,
            "nested escape, %2e to a double decoder",
        ),
        (
            "/healthz/%252e%252e/calc",
            DoubleEncoding,
            "%2e%2e once decoded, .. to a second decoder",
        ),
        (
            "/healthz%252f..%252fcalc",
            DoubleEncoding,
            "a double-encoded slash",
        ),
        ("/calc/%252E", DoubleEncoding, "upper-case hex after %25"),
        (
            "/calc/%25%32%65",
            DoubleEncoding,
            "the hex digits escaped too: still %2e once decoded",
        ),
        (
            "/calc/%2525",
            DoubleEncoding,
            "an escaped %25: % to whatever decodes three times",
        ),
        (
            "/calc/%25ff",
            DoubleEncoding,
            "every escape counts, not only dots and slashes",
        ),
        (
            "/healthz/%c0%ae%c0%ae/calc",
            NotText,
            "overlong dots: .. to old Java and IIS decoders",
        ),
        ("/calc/%C0%AF", NotText, "overlong slash"),
        ("/calc/%e0%80%ae", NotText, "three-byte overlong dot"),
        ("/calc/%ff", NotText, "a lone byte that is never UTF-8"),
        ("/calc/%80", NotText, "a lone continuation byte"),
        ("/calc/caf%c3", NotText, "a sequence cut short"),
        ("/calc/%c3/x", NotText, "cut short by the separator"),
        ("/calc/%ed%a0%80", NotText, "an encoded surrogate"),
        ("/calc/%f4%90%80%80", NotText, "past U+10FFFF"),
        (
            "/healthz/\u{ff0e}\u{ff0e}/calc",
            CompatibilityDotOrSeparator,
            "full-width dots: .. under NFKC",
        ),
        (
            "/healthz/%EF%BC%8E%EF%BC%8E/calc",
            CompatibilityDotOrSeparator,
            "full-width dots, escaped (what normalize_path forwards for them)",
        ),
        (
            "/healthz/%ef%bc%8e./calc",
            CompatibilityDotOrSeparator,
            "one full-width dot, one plain",
        ),
        (
            "/healthz/\u{2025}/calc",
            CompatibilityDotOrSeparator,
            "two dot leader: one character, .. under NFKC",
        ),
        (
            "/healthz/\u{2024}\u{2024}/calc",
            CompatibilityDotOrSeparator,
            "one dot leaders",
        ),
        (
            "/healthz/\u{fe52}\u{fe52}/calc",
            CompatibilityDotOrSeparator,
            "small full stops",
        ),
        (
            "/healthz\u{ff0f}..\u{ff0f}calc",
            CompatibilityDotOrSeparator,
            "full-width solidus: a separator under NFKC",
        ),
        (
            "/healthz%EF%BC%8F..%EF%BC%8Fcalc",
            CompatibilityDotOrSeparator,
            "full-width solidus, escaped",
        ),
        (
            "/healthz\u{ff3c}..\u{ff3c}calc",
            CompatibilityDotOrSeparator,
            "full-width reverse solidus",
        ),
        (
            "/healthz\u{fe68}..\u{fe68}calc",
            CompatibilityDotOrSeparator,
            "small reverse solidus",
        ),
        (
            "/calc/a\u{2100}b",
            CompatibilityDotOrSeparator,
            "account of: a/c under NFKC, a separator inside one character",
        ),
        (
            "/calc/more\u{2026}",
            CompatibilityDotOrSeparator,
            "an ellipsis inside a name: refused like every character of the list",
        ),
    ];

    /// (path, the form rules match, why it is canonical)
    const ALLOWED: &[(&str, &str, &str)] = &[
        ("/", "/", "the root"),
        ("/calc/v1/add/1/1", "/calc/v1/add/1/1", "plain path"),
        (
            "/calc/v1/add/1/1?x=/../..",
            "/calc/v1/add/1/1",
            "the query is not the path",
        ),
        (
            "/calc/v1#frag",
            "/calc/v1",
            "fragment ignored like the query",
        ),
        (
            "/calc/",
            "/calc/",
            "trailing slash is a segment boundary, not an empty segment",
        ),
        (
            "/calc/...",
            "/calc/...",
            "three dots are a name, not a dot segment",
        ),
        (
            "/calc/.well-known",
            "/calc/.well-known",
            "a name that starts with a dot",
        ),
        ("/calc/v1.2", "/calc/v1.2", "dots inside a name"),
        (
            "/c%61lc/v1",
            "/calc/v1",
            "unreserved escapes decoded, as normalize_path does",
        ),
        ("/%7Euser/%2D%5f", "/~user/-_", "every unreserved class"),
        ("/calc/a%2eb", "/calc/a.b", "an encoded dot inside a name"),
        (
            "/calc/a%2e%2eb",
            "/calc/a..b",
            "encoded dots inside a longer name",
        ),
        (
            "/v1/items%3Apurge",
            "/v1/items:purge",
            "an encoded : is : to Go, ASP.NET Core, Spring and Flask",
        ),
        ("/v1/items%3apurge", "/v1/items:purge", "lower-case hex"),
        ("/v1/%40me", "/v1/@me", "an encoded @"),
        (
            "/v1/%21%24%26%27%28%29%2A%2b%2C%3D",
            "/v1/!$&'()*+,=",
            "every other sub-delimiter but ;",
        ),
        ("/caf%c3%a9", "/caf\u{e9}", "an encoded UTF-8 character"),
        ("/caf%C3%A9", "/caf\u{e9}", "the same, upper case"),
        ("/calc/caf\u{e9}", "/calc/caf\u{e9}", "UTF-8 text as sent"),
        (
            "/calc/%E2%82%AC%20%22%3C%3E%5B%5D%5E%60%7B%7C%7D",
            "/calc/\u{20ac} \"<>[]^`{|}",
            "characters a URI must escape are data once decoded",
        ),
        ("/calc/100%25", "/calc/100%25", "an encoded % stays escaped"),
        (
            "/calc/100%25x",
            "/calc/100%25x",
            "%25 and no hex after it: no second escape",
        ),
        (
            "/calc/%252",
            "/calc/%252",
            "%25 and one hex digit: %2 is malformed to a second decoder, no escape",
        ),
        (
            "/calc/a%3bb",
            "/calc/a%3Bb",
            "an encoded ; stays escaped: data, not a parameter",
        ),
        (
            "/calc/a%3fb%23c",
            "/calc/a%3Fb%23c",
            "an encoded ? or # stays escaped: data, not the end of the path",
        ),
        (
            "/calc/%25%3B%3F%23",
            "/calc/%25%3B%3F%23",
            "the kept escapes as their own form",
        ),
        (
            "/calc/\u{ff10}\u{2027}\u{ff0d}",
            "/calc/\u{ff10}\u{2027}\u{ff0d}",
            "full-width and compatibility characters that NFKC does not turn into . / \\",
        ),
        (
            "/calc/%EF%BC%90",
            "/calc/\u{ff10}",
            "the same, escaped: decoded like any other text",
        ),
    ];

    #[test]
    fn refused_paths() {
        for (path, expected, why) in REFUSED {
            assert_eq!(
                screen(path.as_bytes()),
                Err(*expected),
                "{path:?} must be refused: {why}"
            );
        }
    }

    #[test]
    fn allowed_paths_and_the_form_rules_see() {
        for (path, matched, why) in ALLOWED {
            let screened = screen(path.as_bytes()).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            assert_eq!(screened.matched, *matched, "{path:?}: {why}");
            assert_eq!(screened.without_parameters, None, "{path:?}");
        }
    }

    /// Each byte value as an escape, in lower and upper case, between two letters: decoded
    /// unless it is structural, refused when it is a separator or control, and never left
    /// escaped otherwise.
    #[test]
    fn every_escape_is_decoded_but_the_structural_ones() {
        for value in 0u8..=255 {
            for escape in [format!("%{value:02x}"), format!("%{value:02X}")] {
                let path = format!("/calc/a{escape}z");
                let got = screen(path.as_bytes()).map(|s| s.matched.into_owned());
                let want = match value {
                    b'/' | b'\\' => Err(EncodedSeparator),
                    0..=0x1f | 0x7f => Err(ControlCharacter),
                    b'%' | b';' | b'?' | b'#' => Ok(format!("/calc/a%{value:02X}z")),
                    0x80..=0xff => Err(NotText),
                    ascii => Ok(format!("/calc/a{}z", char::from(ascii))),
                };
                assert_eq!(got, want, "{path:?}");
            }
        }
    }

    /// The whole list, each character as sent and escaped, on its own as a segment: NFKC turns
    /// every one into text with `.`, `/` or `\`.
    #[test]
    fn every_character_nfkc_turns_into_a_dot_or_separator_is_refused() {
        let listed: Vec<char> = ('\u{80}'..=char::MAX)
            .filter(|&c| turns_into_dot_or_separator(c))
            .collect();
        let expected: Vec<char> = "\u{2024}\u{2025}\u{2026}\u{2100}\u{2101}\u{2105}\u{2106}\
            \u{2488}\u{2489}\u{248a}\u{248b}\u{248c}\u{248d}\u{248e}\u{248f}\u{2490}\u{2491}\
            \u{2492}\u{2493}\u{2494}\u{2495}\u{2496}\u{2497}\u{2498}\u{2499}\u{249a}\u{249b}\
            \u{33c2}\u{33c7}\u{33d8}\u{fe19}\u{fe30}\u{fe52}\u{fe68}\u{ff0e}\u{ff0f}\u{ff3c}\
            \u{1f100}"
            .chars()
            .collect();
        assert_eq!(listed, expected, "the 38 code points Python's NFKC gives");
        for c in expected {
            let mut utf8 = [0u8; 4];
            let escaped: String = c
                .encode_utf8(&mut utf8)
                .bytes()
                .map(|b| format!("%{b:02X}"))
                .collect();
            for path in [format!("/calc/{c}"), format!("/calc/{escaped}")] {
                assert_eq!(
                    screen(path.as_bytes()),
                    Err(CompatibilityDotOrSeparator),
                    "{path:?} (U+{:04X})",
                    u32::from(c)
                );
            }
        }
    }

    #[test]
    fn bytes_that_are_not_text_are_refused() {
        assert_eq!(screen(b"/calc/\xff"), Err(NotText));
        assert_eq!(screen(b"/calc/\xc0\xae"), Err(NotText), "overlong, as sent");
        assert!(screen(b"/calc?\xff").is_ok(), "the query is not screened");
        assert!(screen(b"/calc?%ff").is_ok(), "nor its escapes");
    }

    #[test]
    fn parameters_are_reported_with_the_path_tomcat_routes_on() {
        let screened = screen(b"/admin;x=1/panel;jsessionid=2?q=;").expect("canonical");
        assert_eq!(screened.matched, "/admin;x=1/panel;jsessionid=2");
        assert_eq!(screened.without_parameters.as_deref(), Some("/admin/panel"));
        let screened = screen(b"/c%61lc;v=%2e%2e/x").expect("canonical");
        assert_eq!(screened.matched, "/calc;v=../x");
        assert_eq!(screened.without_parameters.as_deref(), Some("/calc/x"));
        let screened = screen(b"/a;x%3by/b%3Bc").expect("canonical");
        assert_eq!(screened.matched, "/a;x%3By/b%3Bc");
        assert_eq!(
            screened.without_parameters.as_deref(),
            Some("/a/b%3Bc"),
            "an escaped ; cuts nothing"
        );
    }

    #[test]
    fn the_one_pass_for_plain_paths_agrees_with_the_full_screen() {
        for (path, _, _) in ALLOWED {
            if let Some(plain) = plain_path(path.as_bytes()) {
                assert_eq!(
                    Some(plain),
                    screen(path.as_bytes())
                        .ok()
                        .map(|s| s.matched.into_owned())
                        .as_deref()
                );
            }
        }
        assert_eq!(
            plain_path(b"/calc/v1/add/1/1?x=..//"),
            Some("/calc/v1/add/1/1")
        );
        for not_plain in [
            "/a//b",
            "//",
            "/a.b",
            "/a%41",
            "/a;b",
            "/a\\b",
            "a/b",
            "",
            "/caf\u{e9}",
            "/\u{ff0e}",
        ] {
            assert_eq!(plain_path(not_plain.as_bytes()), None, "{not_plain:?}");
        }
    }

    #[test]
    fn plain_paths_are_not_copied() {
        let screened = screen(b"/calc/v1/add/1/1?x=1").expect("canonical");
        assert!(matches!(screened.matched, Cow::Borrowed(_)));
    }

    #[test]
    fn paths_already_in_the_one_spelling_are_not_copied() {
        for path in ["/calc/caf\u{e9}", "/calc/100%25", "/calc/a%3Bb;v=1", "/a.b"] {
            let screened = screen(path.as_bytes()).expect("canonical");
            assert!(matches!(screened.matched, Cow::Borrowed(_)), "{path:?}");
        }
        let screened = screen(b"/calc/a%3bb").expect("canonical");
        assert!(
            matches!(screened.matched, Cow::Owned(_)),
            "lower-case hex is rewritten"
        );
    }

    #[test]
    fn the_screened_form_screens_to_itself() {
        let parameters = ["/admin;x=1/panel;jsessionid=2", "/c%61lc;v=%2e%2e/x"];
        let allowed = ALLOWED.iter().map(|(path, _, _)| *path);
        for path in allowed.chain(parameters) {
            let once = screen(path.as_bytes()).expect("canonical");
            let twice = screen(once.matched.as_bytes()).expect("still canonical");
            assert_eq!(twice, once, "{path:?}");
        }
    }
}
