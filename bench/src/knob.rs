//! A numeric setting read from the environment or the command line, checked against its bounds.

/// `text` as a whole number from `min` to `max`; `source` (the variable or argument) names it in
/// the error.
pub fn parse_bounded(text: &str, source: &str, min: u64, max: u64) -> Result<u64, String> {
    let value: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{source}: expected a whole number, got {text:?}"))?;
    if value < min || value > max {
        return Err(format!("{source}: expected {min} to {max}, got {value}"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_errors() {
        assert_eq!(parse_bounded(" 12 ", "X", 1, 20), Ok(12));
        assert!(parse_bounded("0", "X", 1, 20)
            .unwrap_err()
            .contains("1 to 20"));
        assert!(parse_bounded("1s", "X", 1, 20)
            .unwrap_err()
            .starts_with("X:"));
    }
}
