//! Tokens kept between runs: minting thousands of RS256 signatures takes tens of seconds, and the
//! tokens stay valid for weeks. A stored set is used again only if its stamp (which names the
//! keys and claim layout it was minted with) matches, it holds the number of tokens asked for,
//! and it is less than a week old.

use std::path::Path;

use crate::tokens::{self, SigningKey};

/// The bench's cold tokens are numbered from here (the pre-flight probes use the low numbers).
const FIRST_SERIAL: usize = 1000;
/// Tokens live 30 days; a stored set older than this is minted again.
const MAX_AGE_SECONDS: i64 = 7 * 24 * 3600;

/// `count` distinct valid tokens for the bench, from `<dir>/cold-<count>.txt` when that is still
/// good, else freshly minted (and stored). The flag says whether they were stored ones.
pub fn cold_tokens(
    dir: &Path,
    key: &SigningKey,
    count: usize,
) -> Result<(Vec<String>, bool), String> {
    let stamp = format!(
        "rolegate-bench cold tokens key={} layout={}",
        key.fingerprint(),
        tokens::layout_fingerprint()
    );
    stored_or_minted(
        &dir.join(format!("cold-{count}.txt")),
        &stamp,
        count,
        || tokens::mint_many(key, FIRST_SERIAL, count),
    )
}

/// The `count` lines stored in `file` under `stamp` when they are still good, else `mint()`'s
/// (then stored). The flag says whether they were stored ones. Lines must not hold newlines.
pub fn stored_or_minted(
    file: &Path,
    stamp: &str,
    count: usize,
    mint: impl FnOnce() -> Result<Vec<String>, String>,
) -> Result<(Vec<String>, bool), String> {
    let stamp = format!("# {stamp}");
    if let Some(stored) = load(file, &stamp, count) {
        return Ok((stored, true));
    }
    let minted = mint()?;
    if minted.len() != count {
        return Err(format!(
            "minted {} tokens for {}, expected {count}",
            minted.len(),
            file.display()
        ));
    }
    let text = format!("{stamp} minted={}\n{}\n", tokens::now(), minted.join("\n"));
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(file, text)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_then_reuses_only_a_matching_set() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("set.txt");
        let make = |tag: &str| {
            let tag = tag.to_string();
            move || Ok(vec![format!("{tag}-1"), format!("{tag}-2")])
        };
        let (first, reused) = stored_or_minted(&file, "s1", 2, make("a")).unwrap();
        assert_eq!(
            (first.clone(), reused),
            (vec!["a-1".into(), "a-2".into()], false)
        );
        let (again, reused) = stored_or_minted(&file, "s1", 2, make("b")).unwrap();
        assert_eq!((again, reused), (first, true));
        let (other, reused) = stored_or_minted(&file, "s2", 2, make("c")).unwrap();
        assert_eq!((other[0].as_str(), reused), ("c-1", false));
        assert!(stored_or_minted(&file, "s3", 3, make("d")).is_err());
    }
}
