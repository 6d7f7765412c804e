//! Sealed values: age identities and recipients, sealing and unsealing, bundles, the value
//! checks behind `check --decrypt`, fingerprints and the reseal index. Reading and editing
//! the manifest is the manifest room's business (`crate::manifest`, `crate::manifest::edit`).
//!
//! Plaintext lives only in [`SecretValue`] (and in `Zeroizing` buffers while a file is being
//! decrypted or parsed). Nothing in this room prints; errors ([`ValuesError`],
//! [`ValueProblem`]) name files, lines, secrets and keys, never a value or an identity.
//!
//! * [`secret`] — [`SecretValue`], the only home of plaintext.
//! * [`keys`] — [`Identities`] (private keys) and [`Recipients`] (public keys).
//! * [`seal`](mod@seal) — armored sealing, armored-or-binary unsealing (writes go through
//!   [`crate::fs`]).
//! * [`bundle`] — dotenv and flat YAML bundles.
//! * [`unseal`](mod@unseal) — [`unseal_all`] (on every core) and [`check_values`] over a validated `Desired`.
//! * [`fingerprint`] — the sealed fingerprint key and keyed value fingerprints.
//! * [`index`] — which recipient set each sealed file was last sealed to (for `reseal`).
//! * [`layout`] — which sealed files a validated manifest uses.
//! * [`reseal`] — re-encrypt only the files whose recipients changed.

pub mod bundle;
pub mod error;
pub mod fingerprint;
pub mod index;
pub mod keys;
pub mod layout;
pub mod reseal;
pub mod seal;
pub mod secret;
pub mod unseal;

pub use crate::manifest::Severity;
pub use error::ValuesError;
pub use fingerprint::{FingerprintKey, fingerprints};
pub use keys::{Identities, Recipients};
pub use seal::{seal, unseal};
pub use secret::SecretValue;
pub use unseal::{
    ProblemKind, UnsealedValues, ValueKey, ValueProblem, check_values, unseal_all, unseal_all_on,
};
