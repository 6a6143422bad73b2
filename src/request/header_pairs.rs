//! The proxy-wasm serialized header map, read in place: a little-endian `u32` count, then a
//! `u32` name length and value length per header, then each name and value followed by a NUL.
//!
//! The host hands over all request headers in one call this way; looking a few of them up
//! here is cheaper than one host call (and one allocation in the VM) per header.

/// A serialized header map whose lengths were checked once, when it was parsed. Holds the
/// bytes (owned by the host shell, borrowed in tests and fuzzing), so lookups need no second
/// check.
#[derive(Debug, Clone)]
pub struct HeaderPairs<B> {
    bytes: B,
    /// Where the `(name length, value length)` table ends and the names and values begin.
    table_end: usize,
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(word)).ok()
}

impl<B: AsRef<[u8]>> HeaderPairs<B> {
    /// `None` unless every length fits inside `bytes`: a lookup never reads out of bounds.
    pub fn parse(bytes: B) -> Option<HeaderPairs<B>> {
        let count = read_u32(bytes.as_ref(), 0)?;
        let table_end = count.checked_mul(8)?.checked_add(4)?;
        if table_end > bytes.as_ref().len() {
            return None;
        }
        let pairs = HeaderPairs { bytes, table_end };
        let mut needed = 0usize;
        for (name_len, value_len) in pairs.entry_lengths() {
            needed = needed
                .checked_add(name_len)?
                .checked_add(value_len)?
                .checked_add(2)?;
        }
        (needed <= pairs.data().len()).then_some(pairs)
    }

    /// The names and values, each followed by a NUL.
    fn data(&self) -> &[u8] {
        self.bytes
            .as_ref()
            .get(self.table_end..)
            .unwrap_or_default()
    }

    /// One `(name length, value length)` pair per header.
    fn entry_lengths(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let table = self
            .bytes
            .as_ref()
            .get(4..self.table_end)
            .unwrap_or_default();
        table.chunks_exact(8).map(|entry| {
            (
                read_u32(entry, 0).unwrap_or(0),
                read_u32(entry, 4).unwrap_or(0),
            )
        })
    }

    /// Every header as `(name, value)`, in the host's order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        let data = self.data();
        let mut at = 0usize;
        self.entry_lengths()
            .map_while(move |(name_len, value_len)| {
                let name_start = at;
                let value_start = name_start.checked_add(name_len)?.checked_add(1)?;
                let value_end = value_start.checked_add(value_len)?;
                at = value_end.checked_add(1)?;
                Some((
                    data.get(name_start..value_start - 1)?,
                    data.get(value_start..value_end)?,
                ))
            })
    }

    /// The first value of `name` (header names arrive in lower case), as the host's
    /// single-header lookup would return it.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, value)| value)
    }
}

/// Serializes `pairs` the same way, for the maps the module hands the host (a local reply's
/// headers; the fuzz target's re-serialized maps, whose names are bytes). A length beyond `u32`
/// cannot occur: the names are fixed and the values short.
pub fn serialize<N: AsRef<[u8]>>(pairs: &[(N, &[u8])]) -> Vec<u8> {
    let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes();
    let size = pairs.iter().fold(4usize, |size, (n, v)| {
        size.saturating_add(10)
            .saturating_add(n.as_ref().len())
            .saturating_add(v.len())
    });
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&len(pairs.len()));
    for (name, value) in pairs {
        out.extend_from_slice(&len(name.as_ref().len()));
        out.extend_from_slice(&len(value.len()));
    }
    for (name, value) in pairs {
        out.extend_from_slice(name.as_ref());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_value_of_a_name() {
        let bytes = serialize(&[
            (":path", b"/calc/v1/add/1/1"),
            ("authorization", b"Bearer a.b.c"),
            ("x-empty", b""),
            ("authorization", b"Bearer second"),
            ("x-bin", b"\xff\x00\xfe"),
        ]);
        let pairs = HeaderPairs::parse(&bytes).expect("valid");
        assert_eq!(pairs.get(":path"), Some(&b"/calc/v1/add/1/1"[..]));
        assert_eq!(pairs.get("authorization"), Some(&b"Bearer a.b.c"[..]));
        assert_eq!(pairs.get("x-empty"), Some(&b""[..]));
        assert_eq!(pairs.get("x-bin"), Some(&b"\xff\x00\xfe"[..]));
        assert_eq!(
            pairs.get("Authorization"),
            None,
            "names arrive in lower case"
        );
        assert_eq!(pairs.get("missing"), None);
        assert_eq!(pairs.iter().count(), 5);
    }

    #[test]
    fn an_empty_map_and_truncated_or_lying_lengths() {
        let empty = serialize::<&str>(&[]);
        assert_eq!(
            HeaderPairs::parse(&empty).map(|p| p.iter().count()),
            Some(0)
        );
        let bytes = serialize(&[("a", b"1"), ("bb", b"22")]);
        for cut in 0..bytes.len() {
            assert!(HeaderPairs::parse(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        let mut huge_count = bytes.clone();
        huge_count[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderPairs::parse(&huge_count).is_none());
        let mut huge_value = bytes.clone();
        huge_value[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(HeaderPairs::parse(&huge_value).is_none());
        assert!(HeaderPairs::parse(&[]).is_none());
    }
}
