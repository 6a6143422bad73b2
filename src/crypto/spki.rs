//! DER SubjectPublicKeyInfo (RFC 5280 §4.1, RFC 8017 A.1.1) for an RSA key: the form Envoy's
//! `verify_signature` foreign function imports. Built once per key when a key set loads.

/// rsaEncryption (1.2.840.113549.1.1.1) with its NULL parameters.
const RSA_ALGORITHM: [u8; 15] = [
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let first = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    let significant = bytes.get(first..).unwrap_or_default();
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_length(out, content.len());
    out.extend_from_slice(content);
}

/// A positive INTEGER: minimal big-endian, with a 00 in front when the top bit is set.
fn push_unsigned_integer(out: &mut Vec<u8>, big_endian: &[u8]) {
    let first = big_endian.iter().position(|b| *b != 0);
    let digits = first.and_then(|i| big_endian.get(i..)).unwrap_or(&[0]);
    let mut content = Vec::with_capacity(digits.len() + 1);
    if digits.first().is_some_and(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(digits);
    push_tlv(out, 0x02, &content);
}

pub fn rsa_public_key_der(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let mut integers = Vec::with_capacity(modulus.len() + 16);
    push_unsigned_integer(&mut integers, modulus);
    push_unsigned_integer(&mut integers, exponent);
    let mut rsa_public_key = Vec::with_capacity(integers.len() + 8);
    push_tlv(&mut rsa_public_key, 0x30, &integers);

    let mut bit_string = Vec::with_capacity(rsa_public_key.len() + 1);
    bit_string.push(0); // no unused bits
    bit_string.extend_from_slice(&rsa_public_key);

    let mut body = Vec::with_capacity(bit_string.len() + 24);
    body.extend_from_slice(&RSA_ALGORITHM);
    push_tlv(&mut body, 0x03, &bit_string);
    let mut spki = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut spki, 0x30, &body);
    spki
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_der_published_with_wycheproof_keys() {
        let text =
            include_str!("../../tests/vectors/wycheproof/rsa_signature_2048_sha256_test.json");
        let doc: serde_json::Value = serde_json::from_str(text).expect("json");
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len() / 2)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
                .collect()
        };
        let mut compared = 0;
        for group in doc["testGroups"].as_array().expect("groups") {
            let key = &group["publicKey"];
            let n = hex(key["modulus"].as_str().expect("n"));
            let e = hex(key["publicExponent"].as_str().expect("e"));
            let der = hex(group["publicKeyDer"].as_str().expect("der"));
            assert_eq!(rsa_public_key_der(&n, &e), der);
            compared += 1;
        }
        assert!(compared >= 2, "{compared}");
    }

    #[test]
    fn lengths_and_integers_are_minimal_der() {
        let mut out = Vec::new();
        push_length(&mut out, 0x7f);
        push_length(&mut out, 0x80);
        push_length(&mut out, 0x1234);
        assert_eq!(out, vec![0x7f, 0x81, 0x80, 0x82, 0x12, 0x34]);
        let mut out = Vec::new();
        push_unsigned_integer(&mut out, &[0x00, 0x00, 0x81]);
        push_unsigned_integer(&mut out, &[0x01, 0x00, 0x01]);
        push_unsigned_integer(&mut out, &[]);
        assert_eq!(
            out,
            vec![0x02, 0x02, 0x00, 0x81, 0x02, 0x03, 0x01, 0x00, 0x01, 0x02, 0x01, 0x00]
        );
    }

    /// Against the `rsa` crate's encoder (an independent DER writer) at modulus sizes that are
    /// not whole bytes or limbs, lengths on both sides of the one- and two-byte length forms,
    /// and exponents whose top bit is set (their INTEGER needs a 00 in front).
    #[test]
    fn matches_the_rsa_crates_encoder_at_odd_sizes() {
        use rsa::pkcs8::EncodePublicKey;
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut random_bytes = |len: usize| -> Vec<u8> {
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    (state >> 24) as u8
                })
                .collect()
        };
        let mut compared = 0;
        for bits in [
            9, 15, 16, 17, 127, 1000, 1015, 1025, 2047, 2048, 2049, 2056, 3071, 8193,
        ] {
            let mut n = random_bytes(bits / 8 + 1);
            let top_bits = bits - 8 * (n.len() - 1);
            n[0] &= 0xffu8.checked_shr(8 - top_bits as u32).unwrap_or(0);
            if top_bits == 0 {
                n.remove(0);
                n[0] |= 0x80;
            } else {
                n[0] |= 1 << (top_bits - 1);
            }
            *n.last_mut().expect("bytes") |= 1;
            for e in [3u32, 0x7f, 0x80, 65537, 0x80_0001, 0x8000_0001, u32::MAX] {
                let key = rsa::PublicKey::new_unchecked(
                    rsa::BoxedUint::from_be_slice_vartime(&n),
                    rsa::BoxedUint::from(e),
                );
                let want = key.to_public_key_der().expect("encodes");
                let e_be = e.to_be_bytes();
                assert_eq!(
                    rsa_public_key_der(&n, &e_be),
                    want.as_bytes(),
                    "{bits} bits, e = {e:#x}"
                );
                // Leading zeros in what the caller passes change nothing.
                let mut padded_n = vec![0, 0];
                padded_n.extend_from_slice(&n);
                assert_eq!(rsa_public_key_der(&padded_n, &e_be), want.as_bytes());
                compared += 1;
            }
        }
        assert_eq!(compared, 14 * 7);
    }
}
