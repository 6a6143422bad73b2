//! Randomness from the operating system's `/dev/urandom`, as a `rand_core` generator for
//! RSA key generation and signature blinding, and as bytes for opaque claim values.

use rsa::rand_core::{TryCryptoRng, TryRng};
use std::fs::File;
use std::io::{self, Read};

/// The kernel's CSPRNG.
#[derive(Debug)]
pub struct OsRandom(File);

impl OsRandom {
    pub fn open() -> io::Result<OsRandom> {
        File::open("/dev/urandom").map(OsRandom)
    }
}

impl TryRng for OsRandom {
    type Error = io::Error;

    fn try_next_u32(&mut self) -> io::Result<u32> {
        let mut bytes = [0; 4];
        self.0.read_exact(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> io::Result<u64> {
        let mut bytes = [0; 8];
        self.0.read_exact(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> io::Result<()> {
        self.0.read_exact(dst)
    }
}

impl TryCryptoRng for OsRandom {}

/// `N` random bytes.
pub fn bytes<const N: usize>() -> io::Result<[u8; N]> {
    let mut out = [0; N];
    OsRandom::open()?.try_fill_bytes(&mut out)?;
    Ok(out)
}
