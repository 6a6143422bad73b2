//! How the tutorial prints: numbered steps with their shell commands, the answers, one
//! line per check, and a `[PASS] Step N` or `[FAIL] Step N` verdict per step.

use rolegate_testkit::http::response::reason_phrase;
use rolegate_testkit::http::Response;
use serde_json::Value;

/// Answers longer than this are cut when shown.
const MAX_SHOWN_BODY: usize = 600;

/// One step of the tutorial, printed as it goes.
pub struct Step {
    number: u32,
    title: String,
    failures: usize,
}

impl Step {
    /// Prints the step's heading.
    pub fn begin(number: u32, title: &str) -> Step {
        println!();
        let heading = format!("Step {number}. {title}");
        println!("{heading}");
        println!("{}", "-".repeat(heading.chars().count()));
        Step {
            number,
            title: title.to_string(),
            failures: 0,
        }
    }

    /// Prints explanatory text.
    pub fn say(&self, text: &str) {
        for line in text.lines() {
            println!("  {line}");
        }
    }

    /// Prints a shell command; `lines` after the first are continuation lines.
    pub fn command(&self, lines: &[String]) {
        let last = lines.len().saturating_sub(1);
        for (i, line) in lines.iter().enumerate() {
            let prefix = if i == 0 { "  $ " } else { "        " };
            let suffix = if i < last { " \\" } else { "" };
            println!("{prefix}{line}{suffix}");
        }
    }

    /// Prints an HTTP answer: status line, the named headers, then the body.
    pub fn response(&self, response: &Response, headers: &[&str]) {
        self.response_with_body(response, headers, &response.body_text());
    }

    /// Like [`Step::response`] with the body shown as `body`.
    pub fn response_with_body(&self, response: &Response, headers: &[&str], body: &str) {
        println!(
            "    HTTP/1.1 {} {}",
            response.status,
            reason_phrase(response.status)
        );
        for name in headers {
            if let Some(value) = response.header(name) {
                println!("    {name}: {value}");
            }
        }
        let body = body.trim_end();
        if !body.is_empty() {
            println!();
            for line in shorten(body, MAX_SHOWN_BODY).lines() {
                println!("    {line}");
            }
        }
    }

    /// Prints a JSON value, pretty, indented.
    pub fn json(&self, value: &Value) {
        let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
        for line in text.lines() {
            println!("    {line}");
        }
    }

    /// Records and prints one expectation.
    pub fn check(&mut self, ok: bool, expectation: &str) {
        println!("  {} {expectation}", if ok { "ok  " } else { "FAIL" });
        if !ok {
            self.failures += 1;
        }
    }

    /// Prints the verdict; true when every check held.
    pub fn finish(self) -> bool {
        let passed = self.failures == 0;
        let verdict = if passed { "[PASS]" } else { "[FAIL]" };
        println!("{verdict} Step {}: {}", self.number, self.title);
        passed
    }
}

/// `text` cut to about `max` characters, saying how long it was.
pub fn shorten(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let head: String = text.chars().take(max).collect();
    format!("{head}…({count} characters)")
}

/// Quotes a word for a POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Prints a section heading outside the steps.
pub fn section(title: &str) {
    println!();
    println!("{title}");
    println!("{}", "=".repeat(title.chars().count()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_shortening() {
        assert_eq!(
            shell_quote("grant_type=client_credentials"),
            "grant_type=client_credentials"
        );
        assert_eq!(shell_quote("a~b"), "'a~b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shorten("abcdef", 3), "abc…(6 characters)");
        assert_eq!(shorten("abc", 3), "abc");
    }
}
