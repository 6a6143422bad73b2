//! `token::parse` on any text, with the default 8192-byte limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::token::{self, TokenError};

const MAX: usize = 8192;

fuzz_target!(|data: &[u8]| {
    let text = match std::str::from_utf8(data) {
        Ok(text) => text.to_string(),
        Err(_) => String::from_utf8_lossy(data).into_owned(),
    };
    match token::parse(&text, MAX) {
        Ok(parsed) => {
            assert!(text.len() <= MAX);
            assert!(text.starts_with(parsed.signing_input));
            assert_eq!(parsed.signing_input.matches('.').count(), 1);
            assert_eq!(text.matches('.').count(), 2);
        }
        Err(TokenError::TooLong) => assert!(text.len() > MAX),
        Err(_) => {}
    }
});
