//! `HeaderPairs::parse` and lookups on any bytes: the serialized header map comes from the
//! host, but its values (and their lengths) come from clients. A map that parses must hold
//! exactly what re-serializing its pairs (with the module's own `serialize`) gives, and every
//! lookup must stay inside it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rolegate::request::header_pairs::{serialize, HeaderPairs};

fuzz_target!(|data: &[u8]| {
    let Some(pairs) = HeaderPairs::parse(data) else {
        return;
    };
    let all: Vec<(&[u8], &[u8])> = pairs.iter().collect();
    let count = u32::from_le_bytes(data[..4].try_into().unwrap()) as usize;
    assert_eq!(all.len(), count, "every announced header is readable");
    // The pairs fill a prefix of the input (the separators are not checked).
    let again = serialize(&all);
    assert!(again.len() <= data.len());
    // The count and the length table are the input's own bytes, whatever `serialize` does.
    let table = 4 + 8 * count;
    assert_eq!(
        again.get(..table),
        data.get(..table),
        "the length table as given"
    );
    let reparsed = HeaderPairs::parse(&again).expect("a re-serialized map parses");
    assert!(reparsed.iter().eq(all.iter().copied()));
    for (name, _) in &all {
        if let Ok(name) = std::str::from_utf8(name) {
            let first = all
                .iter()
                .find(|(n, _)| n == &name.as_bytes())
                .map(|(_, v)| *v);
            assert_eq!(pairs.get(name), first, "the first value of a name");
        }
    }
    for name in [":path", "authorization", ":method", ":authority", ""] {
        let _ = pairs.get(name);
    }
});
