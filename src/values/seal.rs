//! Sealing and unsealing bytes with age.
//!
//! Files we write are ASCII-armored (git-friendly diffs of whole files, no binary blobs);
//! files we read may be armored or binary, as written by `age`, `rage` or this tool.

use std::io::{Read, Write};
use std::path::Path;

use age::armor::{ArmoredReader, ArmoredWriter, Format};
use zeroize::Zeroizing;

use super::ValuesError;
use super::keys::{Identities, Recipients};

/// Encrypts `plaintext` to every recipient, ASCII-armored.
pub fn seal(plaintext: &[u8], recipients: &Recipients) -> Result<Vec<u8>, ValuesError> {
    let encrypt_err = |reason: String| ValuesError::Encrypt { reason };
    let encryptor = age::Encryptor::with_recipients(recipients.as_age())
        .map_err(|e| encrypt_err(e.to_string()))?;
    let mut out = Vec::new();
    let armored = ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor)
        .map_err(|e| encrypt_err(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armored)
        .map_err(|e| encrypt_err(e.to_string()))?;
    writer
        .write_all(plaintext)
        .map_err(|e| encrypt_err(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| encrypt_err(e.to_string()))?;
    Ok(out)
}

/// Decrypts an armored or binary age file's bytes; `path` only names the file in errors.
pub fn unseal(
    ciphertext: &[u8],
    identities: &Identities,
    path: &Path,
) -> Result<Zeroizing<Vec<u8>>, ValuesError> {
    let decrypt_err = |reason: String| ValuesError::Decrypt {
        path: path.to_path_buf(),
        reason,
    };
    let decryptor = age::Decryptor::new_buffered(ArmoredReader::new(ciphertext))
        .map_err(|e| decrypt_err(describe(&e)))?;
    if decryptor.is_scrypt() {
        return Err(decrypt_err(
            "the file is passphrase-encrypted; seal it to the recipients instead".to_string(),
        ));
    }
    let mut reader = decryptor
        .decrypt(identities.as_age())
        .map_err(|e| decrypt_err(describe(&e)))?;
    let mut plaintext = Zeroizing::new(Vec::new());
    reader.read_to_end(&mut plaintext).map_err(|e| {
        decrypt_err(match e.kind() {
            // Armor or payload that does not decode: its text names the bad byte.
            std::io::ErrorKind::InvalidData => "the file is damaged or truncated".to_string(),
            _ => format!("the file is damaged or truncated ({e})"),
        })
    })?;
    Ok(plaintext)
}

fn describe(err: &age::DecryptError) -> String {
    match err {
        age::DecryptError::NoMatchingKeys => {
            "no identity matches any recipient of this file".to_string()
        }
        age::DecryptError::InvalidHeader | age::DecryptError::UnknownFormat => {
            "not an age file (or a damaged one)".to_string()
        }
        // InvalidData: the armor's base64 does not decode, and the decoder's message names
        // the offending byte and its offset (of what may be a plaintext file).
        age::DecryptError::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData
            ) =>
        {
            "not an age file (or a damaged one)".to_string()
        }
        other => other.to_string(),
    }
}

/// Reads (a regular file of at most `limit` bytes, refused by size before reading) and
/// decrypts a sealed file.
pub fn unseal_file(
    path: &Path,
    identities: &Identities,
    limit: u64,
) -> Result<Zeroizing<Vec<u8>>, ValuesError> {
    let bytes = crate::fs::read_bounded(path, limit)?;
    unseal(&bytes, identities, path)
}

/// Mode for sealed files (ciphertext is not secret) and for identities.
pub const SEALED_MODE: u32 = 0o644;
pub const IDENTITY_MODE: u32 = 0o600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_is_armored_and_round_trips() {
        let id = Identities::generate();
        let r = Recipients::from_strings(&id.to_recipients()).unwrap();
        let sealed = seal(b"plain text value", &r).unwrap();
        let text = String::from_utf8(sealed.clone()).unwrap();
        assert!(
            text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
            "{text}"
        );
        assert!(!text.contains("plain text value"));
        let back = unseal(&sealed, &id, Path::new("x.age")).unwrap();
        assert_eq!(&back[..], b"plain text value");
    }

    #[test]
    fn wrong_identity_is_a_clear_error() {
        let r = Recipients::from_strings(&Identities::generate().to_recipients()).unwrap();
        let sealed = seal(b"v", &r).unwrap();
        let err = unseal(&sealed, &Identities::generate(), Path::new("v.age"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "cannot decrypt v.age: no identity matches any recipient of this file"
        );
        let err = unseal(b"garbage", &Identities::generate(), Path::new("g.age")).unwrap_err();
        assert!(err.to_string().contains("not an age file"), "{err}");
    }
}
