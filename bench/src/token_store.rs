//! Cold tokens kept between runs: minting 20 000 RS256 signatures takes tens of seconds, and the
//! tokens stay valid for weeks. A stored set is used again only if it was minted with the same
//! key and claim layout, holds the number of tokens asked for, and is less than a week old.

use std::path::Path;

use crate::tokens::{self, SigningKey};

/// Cold tokens are numbered from here (the pre-flight probes use the low numbers).
const FIRST_SERIAL: usize = 1000;
/// Tokens live 30 days; a stored set older than this is minted again.
const MAX_AGE_SECONDS: i64 = 7 * 24 * 3600;

/// `count` distinct valid tokens, from `<dir>/cold-<count>.txt` when that is still good, else
/// freshly minted (and stored). The flag says whether they were stored ones.
pub fn cold_tokens(
    dir: &Path,
    key: &SigningKey,
    count: usize,
) -> Result<(Vec<String>, bool), String> {
    let file = dir.join(format!("cold-{count}.txt"));
    let stamp = format!(
        "# rolegate-bench cold tokens key={} layout={}",
        key.fingerprint(),
        tokens::layout_fingerprint()
    );
    if let Some(stored) = load(&file, &stamp, count) {
        return Ok((stored, true));
    }
    let minted = tokens::mint_many(key, FIRST_SERIAL, count)?;
    let text = format!("{stamp} minted={}\n{}\n", tokens::now(), minted.join("\n"));
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&file, text))
        .map_err(|e| format!("cannot store tokens in {}: {e}", file.display()))?;
    Ok((minted, false))
}

fn load(file: &Path, stamp: &str, count: usize) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut lines = text.lines();
    let minted: i64 = lines
        .next()?
        .strip_prefix(stamp)?
        .strip_prefix(" minted=")?
        .parse()
        .ok()?;
    if tokens::now() - minted > MAX_AGE_SECONDS {
        return None;
    }
    let stored: Vec<String> = lines
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    (stored.len() == count).then_some(stored)
}
