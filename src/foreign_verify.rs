//! The wire format of Envoy's `verify_signature` foreign function: protobuf messages
//! `VerifySignatureArguments {hash_function=1, public_key=2 (DER), signature=3, text=4}` and
//! `VerifySignatureResult {result=1, error=2}`, encoded by hand (a protobuf crate would cost
//! more module size than these forty lines).

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn push_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    push_varint(out, (field << 3) | 2);
    push_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

pub fn encode_arguments(public_key_der: &[u8], signature: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(public_key_der.len() + signature.len() + text.len() + 24);
    push_bytes_field(&mut out, 1, b"sha256");
    push_bytes_field(&mut out, 2, public_key_der);
    push_bytes_field(&mut out, 3, signature);
    push_bytes_field(&mut out, 4, text);
    out
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// `Some(result)` for a well-formed answer (a missing `result` field is proto3's false);
/// `None` when the bytes are not a `VerifySignatureResult`.
pub fn decode_result(bytes: &[u8]) -> Option<bool> {
    let mut at = 0;
    let mut result = false;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at)?;
        match (key >> 3, key & 7) {
            (1, 0) => result = read_varint(bytes, &mut at)? == 1,
            (_, 0) => {
                read_varint(bytes, &mut at)?;
            }
            (_, 2) => {
                let len = usize::try_from(read_varint(bytes, &mut at)?).ok()?;
                at = at.checked_add(len).filter(|end| *end <= bytes.len())?;
            }
            _ => return None,
        }
    }
    Some(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_length_delimited_fields_in_order() {
        let args = encode_arguments(&[1, 2], &[3; 200], b"t");
        assert_eq!(&args[..8], b"\x0a\x06sha256");
        assert_eq!(&args[8..12], &[0x12, 2, 1, 2]);
        assert_eq!(
            &args[12..15],
            &[0x1a, 0xc8, 0x01],
            "200 as a two-byte varint"
        );
        assert_eq!(&args[215..], &[0x22, 1, b't']);
    }

    #[test]
    fn results_decode_strictly() {
        assert_eq!(decode_result(&[0x08, 0x01]), Some(true));
        assert_eq!(
            decode_result(&[0x08, 0x00, 0x12, 0x02, b'n', b'o']),
            Some(false)
        );
        assert_eq!(decode_result(&[0x12, 0x02, b'n', b'o']), Some(false));
        assert_eq!(decode_result(&[]), Some(false));
        assert_eq!(decode_result(&[0x12, 0x05, b'n']), None, "truncated");
        assert_eq!(decode_result(&[0x08]), None);
        assert_eq!(
            decode_result(&[0x0d, 0, 0, 0, 0]),
            None,
            "fixed32 is not expected"
        );
    }
}
