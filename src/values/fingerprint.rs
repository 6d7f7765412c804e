//! The fingerprint key and keyed value fingerprints (DESIGN.md §4).
//!
//! The key is 32 random bytes, stored as 64 lowercase hex characters inside an age-sealed
//! file (sealed to the same recipients as the values). A fingerprint is the first
//! [`Fingerprint::LEN`] bytes of HMAC-SHA256(key, value): comparable and printable, and
//! without the key it tells nothing about the value.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::domain::{Fingerprint, MAX_SEALED_VALUE_FILE_BYTES};

use super::ValuesError;
use super::keys::{Identities, Recipients};
use super::seal::{seal, unseal_file};
use super::secret::{REDACTED, SecretValue};
use super::unseal::{UnsealedValues, ValueKey};

/// The repository's fingerprint key. Zeroized on drop; `Debug` shows nothing.
pub struct FingerprintKey(Zeroizing<[u8; 32]>);

impl FingerprintKey {
    /// 32 fresh random bytes from the thread-local CSPRNG (seeded by the operating system).
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(&mut bytes[..]);
        Self(bytes)
    }

    /// Reads and unseals the key file.
    pub fn load(path: &Path, ids: &Identities) -> Result<Self, ValuesError> {
        let plain = unseal_file(path, ids, MAX_SEALED_VALUE_FILE_BYTES)?;
        Self::from_text(&plain, path)
    }

    /// Parses the decrypted content: 64 hex characters, surrounding whitespace ignored.
    pub fn from_text(plain: &[u8], path: &Path) -> Result<Self, ValuesError> {
        let bad = || ValuesError::FingerprintKey {
            path: path.to_path_buf(),
        };
        let text = std::str::from_utf8(plain).map_err(|_| bad())?.trim();
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, &mut bytes[..]).map_err(|_| bad())?;
        Ok(Self(bytes))
    }

    /// The sealed file content (armored) for this key.
    pub fn seal(&self, recipients: &Recipients) -> Result<Vec<u8>, ValuesError> {
        let mut text = Zeroizing::new(hex::encode(&self.0[..]));
        text.push('\n');
        seal(text.as_bytes(), recipients)
    }

    /// The first 8 bytes of HMAC-SHA256(key, value).
    pub fn fingerprint(&self, value: &SecretValue) -> Fingerprint {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("hmac takes any key length");
        mac.update(value.expose_secret().as_bytes());
        let full = mac.finalize().into_bytes();
        let mut short = [0u8; Fingerprint::LEN];
        short.copy_from_slice(&full[..Fingerprint::LEN]);
        Fingerprint::from_bytes(short)
    }
}

impl fmt::Debug for FingerprintKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FingerprintKey({REDACTED})")
    }
}

/// The fingerprint of every unsealed value, for the planner.
pub fn fingerprints(
    values: &UnsealedValues,
    key: &FingerprintKey,
) -> BTreeMap<ValueKey, Fingerprint> {
    values
        .iter()
        .map(|(k, v)| (k.clone(), key.fingerprint(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_truncated_hmac_sha256() {
        // Key text "aa…a" (64 chars) is the 32 bytes 0xaa; compare with HMAC computed directly.
        let key = FingerprintKey::from_text(&[b'a'; 64], Path::new("k")).unwrap();
        let value = SecretValue::new("what do ya want for nothing?".to_string());
        let mut mac = Hmac::<Sha256>::new_from_slice(&[0xaa; 32]).unwrap();
        mac.update(b"what do ya want for nothing?");
        let expected = mac.finalize().into_bytes();
        assert_eq!(
            key.fingerprint(&value).to_hex(),
            hex::encode(&expected[..8])
        );
        let other = SecretValue::new("what do ya want for nothing!".to_string());
        assert_ne!(key.fingerprint(&value), key.fingerprint(&other));
        let key2 = FingerprintKey::generate();
        assert_ne!(key.fingerprint(&value), key2.fingerprint(&value));
    }

    #[test]
    fn key_round_trips_through_sealing_and_redacts() {
        let id = Identities::generate();
        let r = Recipients::from_strings(&id.to_recipients()).unwrap();
        let key = FingerprintKey::generate();
        let sealed = seal_to_file(&key, &r);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("fp.age");
        std::fs::write(&p, sealed).unwrap();
        let back = FingerprintKey::load(&p, &id).unwrap();
        let v = SecretValue::new("x".to_string());
        assert_eq!(key.fingerprint(&v), back.fingerprint(&v));
        assert_eq!(format!("{key:?}"), "FingerprintKey([redacted])");
        assert!(FingerprintKey::from_text(b"abc", Path::new("k")).is_err());
    }

    fn seal_to_file(key: &FingerprintKey, r: &Recipients) -> Vec<u8> {
        key.seal(r).unwrap()
    }
}
