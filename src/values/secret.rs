//! [`SecretValue`]: the one type that holds a plaintext secret value.
//!
//! The bytes are zeroized on drop; `Debug` and `Display` print only [`REDACTED`]; the value is
//! reachable only through [`SecretValue::expose_secret`], which the one place that builds a
//! request body (and the fingerprint) calls.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// What `Debug` and `Display` print instead of a value, an identity or a key.
pub const REDACTED: &str = "[redacted]";

/// A plaintext secret value (valid UTF-8), zeroized on drop.
pub struct SecretValue(SecretString);

impl SecretValue {
    /// Takes the value; the given `String`'s whole buffer is zeroized (converting it
    /// directly could reallocate and leave a copy behind).
    pub fn new(value: String) -> Self {
        let value = zeroize::Zeroizing::new(value);
        Self(SecretString::from(value.as_str()))
    }

    /// The plaintext. Call only where the value must leave this type: a request body, a
    /// fingerprint, a sealed file.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in bytes (safe to print).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Clone for SecretValue {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue({REDACTED})")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_redact() {
        let v = SecretValue::new("hunter2-topsecret".to_string());
        assert_eq!(format!("{v:?}"), "SecretValue([redacted])");
        assert_eq!(v.to_string(), "[redacted]");
        assert_eq!(v.expose_secret(), "hunter2-topsecret");
        assert_eq!(v.len(), 17);
        assert_eq!(v.clone().expose_secret(), "hunter2-topsecret");
    }
}
