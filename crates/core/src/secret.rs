//! The keyed digests under which a state records its secrets.
//!
//! A secret is never stored; the state keeps `HMAC-SHA256(key, secret)` instead, under a random
//! 32-byte [`SecretKey`] of its own (kept in the state file, `secret_key`). A digest is enough to
//! tell whether a program's secret changed since it was applied, and without the key nobody can
//! test guesses against it, however short the secret. Two states give the same secret different
//! digests; one state gives it the same digest every time, so plans stay deterministic.
//!
//! HMAC is implemented here over `sha2` by its definition (RFC 2104), checked against the test
//! vectors of RFC 4231.

use std::fmt;

use sha2::{Digest, Sha256};

/// The prefix of a keyed digest, as the state stores it.
pub const DIGEST_PREFIX: &str = "hmac-sha256:";

/// What a secret becomes wherever a digest must not appear (plans, previews, JSON output):
/// `{"$secret": "masked"}`.
pub const MASKED_SECRET: &str = "masked";

/// The key of one state's secret digests: 32 random bytes, generated when the state is created.
///
/// Its `Debug` does not show the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey([u8; SecretKey::LEN]);

impl SecretKey {
    /// The key's length in bytes.
    pub const LEN: usize = 32;

    /// A key of these bytes (the caller draws them from a CSPRNG).
    pub fn from_bytes(bytes: [u8; SecretKey::LEN]) -> SecretKey {
        SecretKey(bytes)
    }

    /// The key as 64 lowercase hex digits (its form in the state file).
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// The inverse of [`SecretKey::to_hex`].
    ///
    /// # Errors
    /// A text that is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<SecretKey, String> {
        let bad = || format!("a secret key is {} hex digits", 2 * SecretKey::LEN);
        if text.len() != 2 * SecretKey::LEN || !text.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; SecretKey::LEN];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(SecretKey(bytes))
    }

    /// `HMAC-SHA256(self, message)`.
    pub fn hmac(&self, message: &[u8]) -> [u8; 32] {
        hmac_sha256(&self.0, message)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// HMAC-SHA256 as RFC 2104 defines it: `H((K ^ opad) || H((K ^ ipad) || message))`, with a key
/// longer than the block hashed first and a shorter one padded with zeros.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(2 * bytes.len());
    for b in bytes {
        write!(s, "{b:02x}").expect("writing to a string");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 4231, section 4: test cases 1, 2, 3, 4, 6 and 7 (5 truncates the output).
    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hex(&hmac_sha256(&key, &data)), expected);
        }
    }

    #[test]
    fn a_key_round_trips_through_hex_and_never_shows_in_debug() {
        let key = SecretKey::from_bytes([0xab; 32]);
        assert_eq!(key.to_hex(), "ab".repeat(32));
        assert_eq!(SecretKey::from_hex(&key.to_hex()), Ok(key.clone()));
        assert!(SecretKey::from_hex("ab").is_err());
        assert!(SecretKey::from_hex(&"zz".repeat(32)).is_err());
        assert!(SecretKey::from_hex(&"é".repeat(32)).is_err());
        assert_eq!(format!("{key:?}"), "SecretKey(..)");
    }
}
