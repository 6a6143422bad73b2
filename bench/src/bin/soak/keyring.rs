//! The soak's keys: the ring of slots (`kid` `soak-<slot>`), the RSA key behind each, the key
//! sets the IdP publishes, and a forger's key that is never published.
//!
//! Two test keys take turns behind the slots (`key-a` for even slots, `key-b` for odd ones), so
//! every published set holds both under different `kid`s. A token must verify with the key of
//! its own `kid` only: a token signed with the right key under a `kid` that is not published, or
//! under a published `kid` of the other key, must fail.

use std::path::Path;

use serde_json::{json, Value};

use rolegate_bench::tokens::{self, SigningKey};

use crate::schedule::{self, SLOTS};

pub struct Keyring {
    even: SigningKey,
    odd: SigningKey,
    /// `key-c` (3072 bits): never published.
    forger: SigningKey,
}

/// The `kid` of a slot.
pub fn kid(slot: usize) -> String {
    format!("soak-{slot}")
}

impl Keyring {
    /// Reads `key-a`, `key-b` and `key-c` from `tests/keys/`.
    pub fn load(keys: &Path) -> Result<Keyring, String> {
        Ok(Keyring {
            even: SigningKey::load(&keys.join("key-a.json"))?,
            odd: SigningKey::load(&keys.join("key-b.json"))?,
            forger: SigningKey::load(&keys.join("key-c.json"))?,
        })
    }

    /// The key published under the slot's `kid`.
    pub fn key(&self, slot: usize) -> &SigningKey {
        if slot.is_multiple_of(2) {
            &self.even
        } else {
            &self.odd
        }
    }

    /// The published key that is not the slot's: it is in the same key sets, under other `kid`s.
    pub fn other_key(&self, slot: usize) -> &SigningKey {
        self.key(slot + 1)
    }

    /// A key no key set ever holds.
    pub fn forger(&self) -> &SigningKey {
        &self.forger
    }

    /// The public JWK of every slot, by slot: what the IdP serves from.
    pub fn public_jwks_by_slot(&self) -> Vec<Value> {
        (0..SLOTS)
            .map(|slot| tokens::public_jwk(self.key(slot), &kid(slot)))
            .collect()
    }

    /// Names the keys, so stored tokens are used again only with the same keys.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}-{}-{}",
            self.even.fingerprint(),
            self.odd.fingerprint(),
            self.forger.fingerprint()
        )
    }
}

/// The key set published during `epoch`, from the JWKs of [`Keyring::public_jwks_by_slot`].
pub fn published_set(jwks_by_slot: &[Value], epoch: i64) -> Value {
    let keys: Vec<Value> = schedule::published_slots(epoch)
        .iter()
        .filter_map(|slot| jwks_by_slot.get(*slot).cloned())
        .collect();
    json!({ "keys": keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_sets_rotate_through_the_ring() {
        let jwks: Vec<Value> = (0..SLOTS).map(|s| json!({"kid": kid(s)})).collect();
        let kids = |epoch| {
            published_set(&jwks, epoch)["keys"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["kid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(kids(0), ["soak-7", "soak-0", "soak-1", "soak-2"]);
        assert_eq!(kids(7), ["soak-6", "soak-7", "soak-0", "soak-1"]);
    }
}
