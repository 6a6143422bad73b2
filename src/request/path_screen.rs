//! The path screen: a request path that two HTTP stacks could read differently never reaches
//! rule matching.
//!
//! Rules are matched against one reading of `:path`; the upstream routes on its own. When the two
//! readings differ, a request can be let in by a lenient rule and served from a protected space
//! (`/healthz/../admin`). Envoy's `normalize_path`, `merge_slashes` and
//! `path_with_escaped_slashes_action` close most of the gap, but they are off by default. So a
//! path is refused unless every common reading of it is the same:
//!
//! | form | Envoy (normalize_path) | upstreams |
//! |---|---|---|
//! | `.`/`..`, also `%2e` and `..;x` | resolved (`..;` too) | resolved by Go, Express, ASP.NET, nginx; Tomcat/Spring also resolve `..;` |
//! | `//` | kept; merged by `merge_slashes` | kept by Go and Express, merged by nginx and Tomcat |
//! | `%2F`, `%5C` | kept; decoded by `UNESCAPE_AND_FORWARD` | decoded to a separator by some (IIS, Tomcat with ALLOW_ENCODED_SLASH, Express routers after decoding) |
//! | `\` | turned into `/` | `/` for ASP.NET/IIS, a plain byte for Go |
//! | `%00`..`%1F`, `%7F`, `%zz` | NUL refused, the rest kept | refused or read in many ways |
//! | `;x` parameters | kept | stripped per segment by Tomcat, Jetty, Spring; plain bytes elsewhere |
//! | `%41` (unreserved) | decoded | decoded |
//!
//! Unreserved escapes (RFC 3986 §2.3: letters, digits, `-._~`) mean the same to everyone, so they
//! are decoded for matching rather than refused: the rules see what a normalizing Envoy would
//! forward. Other escapes keep their bytes with upper-case hex, so `%c3%a9` and `%C3%A9` match
//! alike. Parameters are allowed, but the caller must check that the path with and without them
//! picks the same rule ([`ScreenedPath::without_parameters`]).

use std::borrow::Cow;
use std::fmt;

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonCanonical {
    /// Empty, `*`, or an absolute URI instead of an origin-form path.
    NotAbsolute,
    /// Bytes that are not UTF-8.
    NotText,
    /// `//`, or a segment that is only a `;` parameter.
    EmptySegment,
    /// `.` or `..`, literal or percent-encoded, with or without a `;` parameter.
    DotSegment,
    /// `%2F` or `%5C`: a separator some upstreams decode and some do not.
    EncodedSeparator,
    /// A literal `\`, which some upstreams read as `/`.
    Backslash,
    /// A control character or DEL, literal or percent-encoded (NUL included).
    ControlCharacter,
    /// A `%` not followed by two hex digits.
    MalformedEscape,
}

impl NonCanonical {
    pub fn description(self) -> &'static str {
        match self {
            NonCanonical::NotAbsolute => "the path does not start with /",
            NonCanonical::NotText => "the path is not UTF-8",
            NonCanonical::EmptySegment => "the path has an empty segment",
            NonCanonical::DotSegment => "the path has a . or .. segment",
            NonCanonical::EncodedSeparator => "the path has a percent-encoded / or \\",
            NonCanonical::Backslash => "the path has a \\",
            NonCanonical::ControlCharacter => "the path has a control character",
            NonCanonical::MalformedEscape => "the path has a % not followed by two hex digits",
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
    /// Without query or fragment, unreserved escapes decoded, other escapes in upper case.
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

fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn is_control(byte: u8) -> bool {
    byte < 0x20 || byte == 0x7f
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

/// What the scan of the whole path found that needs a second pass.
#[derive(Default)]
struct Findings {
    /// An escape that is decoded, or whose hex is lower case.
    rewrite: bool,
    parameters: bool,
}

/// Checks one segment (the bytes between two `/`). `last` allows the empty segment after a
/// trailing slash.
fn screen_segment(segment: &[u8], last: bool, found: &mut Findings) -> Result<(), NonCanonical> {
    // The segment's name is what comes before its first `;`; Tomcat routes on the name alone.
    let mut name_len = 0usize;
    let mut name_is_dots = true;
    let mut in_name = true;
    let mut i = 0;
    while let Some(&byte) = segment.get(i) {
        let character = if byte == b'%' {
            let value = escaped(segment.get(i..).unwrap_or_default())?;
            if matches!(value, b'/' | b'\\') {
                return Err(NonCanonical::EncodedSeparator);
            }
            if is_control(value) {
                return Err(NonCanonical::ControlCharacter);
            }
            let hex = segment.get(i + 1..i + 3).unwrap_or_default();
            if is_unreserved(value) || hex.iter().any(u8::is_ascii_lowercase) {
                found.rewrite = true;
            }
            i += 3;
            // An escaped `;` is data, not a parameter, for every reader.
            value
        } else {
            i += 1;
            match byte {
                b'\\' => return Err(NonCanonical::Backslash),
                b';' => {
                    found.parameters = true;
                    in_name = false;
                    continue;
                }
                other if is_control(other) => return Err(NonCanonical::ControlCharacter),
                other => other,
            }
        };
        if in_name {
            name_len += 1;
            name_is_dots &= character == b'.';
        }
    }
    if name_is_dots && (name_len == 1 || name_len == 2) {
        return Err(NonCanonical::DotSegment);
    }
    if name_len == 0 && !(last && segment.is_empty()) {
        return Err(NonCanonical::EmptySegment);
    }
    Ok(())
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Decodes unreserved escapes and upper-cases the hex of the others. Only called on a path that
/// passed the screen, so every `%` starts a valid escape.
fn rewrite_escapes(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match (byte, escaped(bytes.get(i..).unwrap_or_default())) {
            (b'%', Ok(value)) if is_unreserved(value) => {
                out.push(value);
                i += 3;
            }
            (b'%', Ok(value)) => {
                out.push(b'%');
                out.push(
                    HEX_UPPER
                        .get(usize::from(value >> 4))
                        .copied()
                        .unwrap_or(b'0'),
                );
                out.push(
                    HEX_UPPER
                        .get(usize::from(value & 15))
                        .copied()
                        .unwrap_or(b'0'),
                );
                i += 3;
            }
            _ => {
                out.push(byte);
                i += 1;
            }
        }
    }
    // Only ASCII was put in place of ASCII, so the text is still UTF-8.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
    let path = path_part(raw);
    let path = std::str::from_utf8(path).map_err(|_| NonCanonical::NotText)?;
    let Some(rest) = path.strip_prefix('/') else {
        return Err(NonCanonical::NotAbsolute);
    };
    let mut found = Findings::default();
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        screen_segment(segment.as_bytes(), segments.peek().is_none(), &mut found)?;
    }
    let matched = if found.rewrite {
        Cow::Owned(rewrite_escapes(path))
    } else {
        Cow::Borrowed(path)
    };
    let without_parameters = found.parameters.then(|| strip_parameters(&matched));
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
        ("/calc/%", MalformedEscape, "% at the end"),
        ("/calc/%4", MalformedEscape, "one hex digit"),
        ("/calc/%g1", MalformedEscape, "not hex"),
        (
            "/calc/%%32%65",
            MalformedEscape,
            "nested escape, %2e to a double decoder",
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
            "/caf%c3%a9",
            "/caf%C3%A9",
            "other escapes kept, hex upper-cased",
        ),
        ("/calc/a%20b", "/calc/a%20b", "an encoded space is data"),
        ("/calc/100%25", "/calc/100%25", "an encoded % is data"),
        (
            "/calc/a%3bb",
            "/calc/a%3Bb",
            "an encoded ; is data, not a parameter",
        ),
        ("/calc/caf\u{e9}", "/calc/caf\u{e9}", "UTF-8 text"),
        (
            "/calc/a%2e%2eb",
            "/calc/a..b",
            "encoded dots inside a longer name",
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

    #[test]
    fn bytes_that_are_not_text_are_refused() {
        assert_eq!(screen(b"/calc/\xff"), Err(NotText));
        assert!(screen(b"/calc?\xff").is_ok(), "the query is not screened");
    }

    #[test]
    fn parameters_are_reported_with_the_path_tomcat_routes_on() {
        let screened = screen(b"/admin;x=1/panel;jsessionid=2?q=;").expect("canonical");
        assert_eq!(screened.matched, "/admin;x=1/panel;jsessionid=2");
        assert_eq!(screened.without_parameters.as_deref(), Some("/admin/panel"));
        let screened = screen(b"/c%61lc;v=%2e%2e/x").expect("canonical");
        assert_eq!(screened.without_parameters.as_deref(), Some("/calc/x"));
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
    fn the_screened_form_screens_to_itself() {
        for (path, _, _) in ALLOWED {
            let once = screen(path.as_bytes()).expect("canonical");
            let twice = screen(once.matched.as_bytes()).expect("still canonical");
            assert_eq!(twice.matched, once.matched, "{path:?}");
        }
    }
}
