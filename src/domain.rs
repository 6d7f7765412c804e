//! Small validated value types shared by the manifest, the planner and the live snapshot.
//!
//! Everything here is pure: parsing a string into one of these types never touches the
//! network, the file system or the clock. The Cloudflare client does **not** use these types
//! (its wire DTOs carry plain strings, so an unknown scope from the API cannot break a read);
//! [`crate::live`] converts wire data into them.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// True when `s` is made only of `0-9a-f` (the hex form this crate writes and accepts).
fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A Cloudflare account id: exactly 32 lowercase hexadecimal characters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AccountId(String);

impl AccountId {
    /// Parses an account id, returning a short lowercase reason on failure.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() != 32 {
            return Err(format!(
                "account id must be 32 lowercase hex characters, got {} characters",
                s.chars().count()
            ));
        }
        if !is_lower_hex(s) {
            return Err("account id must be 32 lowercase hex characters".to_string());
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl TryFrom<String> for AccountId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<AccountId> for String {
    fn from(a: AccountId) -> String {
        a.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// ── API limits (SECRETS_STORE_API.md §5), each under one name ───────────────────────────

/// Longest secret name the manifest accepts (the API documents no maximum).
pub const MAX_SECRET_NAME_LEN: usize = 255;

/// Largest value the API accepts, in UTF-8 bytes (§10, settled): above it a value is refused.
/// The 1,024-byte cap of 2025 is gone; nothing warns about it any more.
pub const MAX_VALUE_BYTES: usize = 65_536;

/// Why the API refuses a value by its size; each caller words it (a value file, a line of a
/// dotenv file, stdin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueSizeProblem {
    Empty,
    /// Over [`MAX_VALUE_BYTES`].
    TooLarge {
        bytes: usize,
    },
}

/// The one size rule for a value: not empty, at most [`MAX_VALUE_BYTES`] bytes.
pub fn value_size_problem(bytes: usize) -> Option<ValueSizeProblem> {
    if bytes == 0 {
        Some(ValueSizeProblem::Empty)
    } else if bytes > MAX_VALUE_BYTES {
        Some(ValueSizeProblem::TooLarge { bytes })
    } else {
        None
    }
}

// ── Input limits: the most bytes this tool reads from one file of each kind ───────────────
// Each is refused by size before it is read, and reads stop past it (`crate::fs`).

/// A manifest: far more than thousands of secrets need.
pub const MAX_MANIFEST_FILE_BYTES: u64 = 4 << 20;
/// A sealed value file (and the sealed fingerprint key): a value of [`MAX_VALUE_BYTES`]
/// sealed to many recipients and armored is about 90 KB.
pub const MAX_SEALED_VALUE_FILE_BYTES: u64 = 1 << 20;
/// A sealed bundle: room for hundreds of values at the API's limit.
pub const MAX_BUNDLE_FILE_BYTES: u64 = 16 << 20;
/// A recipients file: thousands of public keys.
pub const MAX_RECIPIENTS_FILE_BYTES: u64 = 1 << 20;
/// An identity file.
pub const MAX_IDENTITY_FILE_BYTES: u64 = 1 << 20;
/// The reseal index beside the manifest.
pub const MAX_INDEX_FILE_BYTES: u64 = 16 << 20;
/// A saved plan (`plan --out`, `apply FILE`): names, ids and fingerprints of tens of
/// thousands of secrets.
pub const MAX_PLAN_FILE_BYTES: u64 = 64 << 20;
/// Every sealed file a plan's digest hashes (value files, bundles, the fingerprint key):
/// the largest of their limits, [`MAX_BUNDLE_FILE_BYTES`]; validation has already held
/// each to its own.
pub const MAX_DIGESTED_FILE_BYTES: u64 = MAX_BUNDLE_FILE_BYTES;
/// A wrangler config (`--wrangler`): a Worker's settings, far below this.
pub const MAX_WRANGLER_CONFIG_BYTES: u64 = 4 << 20;
/// The emulator's state file (`emulator --state`): every value it holds, in JSON.
pub const MAX_EMULATOR_STATE_BYTES: u64 = 256 << 20;

/// The one rule for account labels and store names. They become directories in the default
/// value path (`values/<account>/<store>/<NAME>.age`), so each must be one plain path
/// segment: not blank, not `.` or `..`, no `/` or `\`, no control character. The reason
/// reads after the thing's name ("account label `x` is empty").
pub fn check_label(s: &str) -> Result<(), &'static str> {
    if s.trim().is_empty() {
        Err("is empty")
    } else if s == "." || s == ".." || s.contains(['/', '\\']) {
        Err("must not contain `/` or `\\` or be `.` or `..`")
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(())
    }
}

/// A secret name: `^[A-Za-z0-9_-]+$`, at most [`MAX_SECRET_NAME_LEN`] characters.
/// Case-sensitive, unique per store.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretName(String);

impl SecretName {
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("secret name is empty".to_string());
        }
        if s.len() > MAX_SECRET_NAME_LEN {
            return Err(format!(
                "secret name is {} characters long; the limit is {MAX_SECRET_NAME_LEN}",
                s.len()
            ));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
        {
            return Err(format!(
                "secret name may contain only letters, digits, '-' and '_' (found {c:?})"
            ));
        }
        Ok(Self(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

impl TryFrom<String> for SecretName {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse(&s)
    }
}

impl From<SecretName> for String {
    fn from(n: SecretName) -> String {
        n.0
    }
}

impl fmt::Display for SecretName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret scope. [`Scope::as_wire`] is its one spelling: on the wire, in the manifest, in
/// a saved plan (serde goes through it) and in messages; scopes order by it too, so a set of
/// scopes iterates in the sorted order the API returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "String")]
pub enum Scope {
    Access,
    AiGateway,
    Containers,
    Dex,
    Websearch,
    Workers,
}

impl Scope {
    /// Every scope the API accepts (spec 2026-08), in wire-sorted order.
    pub const ALL: [Scope; 6] = [
        Scope::Access,
        Scope::AiGateway,
        Scope::Containers,
        Scope::Dex,
        Scope::Websearch,
        Scope::Workers,
    ];

    pub fn as_wire(self) -> &'static str {
        match self {
            Scope::Access => "access",
            Scope::AiGateway => "ai_gateway",
            Scope::Containers => "containers",
            Scope::Dex => "dex",
            Scope::Websearch => "websearch",
            Scope::Workers => "workers",
        }
    }

    pub fn from_wire(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_wire() == s)
    }

    /// The known scope closest to an unknown spelling (`ai-gateway` → `ai_gateway`), if any
    /// is close enough to be a plausible typo.
    pub fn suggest(s: &str) -> Option<Scope> {
        let normalized = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
        if let Some(exact) = Scope::from_wire(&normalized) {
            return Some(exact);
        }
        Scope::ALL
            .into_iter()
            .map(|scope| (strsim::levenshtein(&normalized, scope.as_wire()), scope))
            .filter(|(distance, _)| *distance <= 2)
            .min_by_key(|(distance, _)| *distance)
            .map(|(_, scope)| scope)
    }
}

/// A scope name that is not one ([`Scope::parse`]). Its `Display` is the one wording, with
/// the written text made printable and short.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope `{}`; {}", crate::text::clipped(.written, 60), self.hint())]
pub struct UnknownScope {
    pub written: String,
    /// The closest scope, when it is a plausible typo.
    pub near: Option<Scope>,
}

impl UnknownScope {
    /// `did you mean `ai_gateway`?`, or the list of every scope when none is close.
    pub fn hint(&self) -> String {
        match self.near {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("expected one of {}", Scope::listed()),
        }
    }
}

impl Scope {
    /// Parses a scope as written (exact wire spelling), suggesting the closest one when it
    /// is not.
    pub fn parse(s: &str) -> Result<Scope, UnknownScope> {
        Scope::from_wire(s).ok_or_else(|| UnknownScope {
            written: s.to_string(),
            near: Scope::suggest(s),
        })
    }

    /// `` `access`, `ai_gateway`, … ``: every scope, for messages.
    pub fn listed() -> String {
        Scope::ALL.map(|s| format!("`{}`", s.as_wire())).join(", ")
    }
}

impl Ord for Scope {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_wire().cmp(other.as_wire())
    }
}

impl PartialOrd for Scope {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl From<Scope> for &'static str {
    fn from(scope: Scope) -> &'static str {
        scope.as_wire()
    }
}

impl TryFrom<String> for Scope {
    type Error = UnknownScope;
    fn try_from(s: String) -> Result<Self, UnknownScope> {
        Self::parse(&s)
    }
}

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        Self::parse(s)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_wire())
    }
}

/// A set of scopes. Cloudflare returns scopes sorted; comparing sets makes order irrelevant.
pub type Scopes = BTreeSet<Scope>;

/// A keyed value fingerprint: the first [`Fingerprint::LEN`] bytes of
/// HMAC-SHA256(fingerprint key, value). Safe to print, store in plans and put in comments:
/// without the key it says nothing about the value. Computed in [`crate::values`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Fingerprint([u8; Fingerprint::LEN]);

impl Fingerprint {
    /// 64 bits.
    pub const LEN: usize = 8;

    pub fn from_bytes(bytes: [u8; Self::LEN]) -> Self {
        Self(bytes)
    }

    /// Full lowercase hex form (16 characters), as written into the ownership marker.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses the form [`Fingerprint::to_hex`] writes: exactly 16 lowercase hex characters.
    /// Strict, so a parsed fingerprint always renders back to the same text (the ownership
    /// marker relies on that).
    pub fn parse_hex(s: &str) -> Result<Self, String> {
        let error = || {
            format!(
                "fingerprint must be {} lowercase hex characters",
                Self::LEN * 2
            )
        };
        if !is_lower_hex(s) {
            return Err(error());
        }
        let mut bytes = [0u8; Self::LEN];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| error())?;
        Ok(Self(bytes))
    }

    /// Short form for human output (first 8 hex characters).
    pub fn short(self) -> String {
        self.to_hex()[..8].to_string()
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({})", self.to_hex())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse_hex(&s)
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> String {
        f.to_hex()
    }
}

/// Opaque ids the API assigns: [`StoreId`] for a store, [`SecretId`] for a secret. Kept as
/// sent (the API documents no form); a distinct type each, so a store id cannot be passed
/// where a secret id belongs. Serialized as the plain string.
macro_rules! opaque_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id!(
    /// A store's id, as the API assigned it.
    StoreId
);
opaque_id!(
    /// A secret's id, as the API assigned it.
    SecretId
);

/// Identifies one declared secret's value: (account label, store name, secret name). Names
/// only; shared by the values room (the unsealed map), the planner (fingerprints, sizes) and
/// the applier (what to send).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ValueKey {
    pub account: String,
    pub store: String,
    pub secret: SecretName,
}

impl ValueKey {
    pub fn new(account: impl Into<String>, store: impl Into<String>, secret: SecretName) -> Self {
        Self {
            account: account.into(),
            store: store.into(),
            secret,
        }
    }
}

impl fmt::Display for ValueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.account, self.store, self.secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_size_rule_has_two_edges() {
        assert_eq!(value_size_problem(0), Some(ValueSizeProblem::Empty));
        assert_eq!(value_size_problem(1), None);
        assert_eq!(value_size_problem(MAX_VALUE_BYTES), None);
        assert_eq!(
            value_size_problem(MAX_VALUE_BYTES + 1),
            Some(ValueSizeProblem::TooLarge {
                bytes: MAX_VALUE_BYTES + 1
            })
        );
    }

    #[test]
    fn account_ids_must_be_32_lowercase_hex() {
        assert!(AccountId::parse("0123456789abcdef0123456789abcdef").is_ok());
        assert!(AccountId::parse("0123456789ABCDEF0123456789abcdef").is_err());
        assert!(AccountId::parse("0123").is_err());
        assert!(AccountId::parse("0123456789abcdef0123456789abcdeg").is_err());
    }

    #[test]
    fn secret_names_follow_the_manifest_rule() {
        assert!(SecretName::parse("STRIPE_KEY-2").is_ok());
        assert!(SecretName::parse("").is_err());
        assert!(SecretName::parse("has space").is_err());
        assert!(SecretName::parse("a^b").is_err());
        assert!(SecretName::parse(&"a".repeat(255)).is_ok());
        assert!(SecretName::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn scopes_round_trip_and_suggest() {
        for scope in Scope::ALL {
            assert_eq!(Scope::from_wire(scope.as_wire()), Some(scope));
        }
        assert_eq!(Scope::from_wire("ai-gateway"), None);
        assert_eq!(Scope::suggest("ai-gateway"), Some(Scope::AiGateway));
        assert_eq!(Scope::suggest("worker"), Some(Scope::Workers));
        assert_eq!(Scope::suggest("kv"), None);
        let wire: Vec<_> = Scope::ALL.iter().map(|s| s.as_wire()).collect();
        let mut sorted = wire.clone();
        sorted.sort();
        assert_eq!(wire, sorted, "ALL is in wire-sorted order");
        let set: Scopes = [Scope::Workers, Scope::Access, Scope::Dex].into();
        let order: Vec<_> = set.iter().map(|s| s.as_wire()).collect();
        assert_eq!(
            order,
            ["access", "dex", "workers"],
            "a set iterates in wire order"
        );
    }

    #[test]
    fn serde_spells_scopes_as_the_wire_does() {
        for scope in Scope::ALL {
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_wire()));
            assert_eq!(serde_json::from_str::<Scope>(&json).unwrap(), scope);
        }
        let err = serde_json::from_str::<Scope>("\"ai-gateway\"").unwrap_err();
        assert!(
            err.to_string().contains("did you mean `ai_gateway`?"),
            "{err}"
        );
    }

    #[test]
    fn scope_errors_are_worded_once() {
        assert_eq!(Scope::parse("dex"), Ok(Scope::Dex));
        assert_eq!(
            Scope::parse("").unwrap_err().to_string(),
            format!("unknown scope ``; expected one of {}", Scope::listed())
        );
        assert_eq!(
            Scope::parse("ai-gateway").unwrap_err().to_string(),
            "unknown scope `ai-gateway`; did you mean `ai_gateway`?"
        );
        assert_eq!(
            Scope::parse("kv\x1b").unwrap_err().to_string(),
            "unknown scope `kv\\u{1b}`; expected one of `access`, `ai_gateway`, `containers`, \
             `dex`, `websearch`, `workers`"
        );
    }

    #[test]
    fn labels_are_one_plain_path_segment() {
        for ok in ["production", "my prod", ".x", "a.b", "é"] {
            assert_eq!(check_label(ok), Ok(()), "{ok:?}");
        }
        assert_eq!(check_label(" "), Err("is empty"));
        for bad in [".", "..", "a/b", "a\\b"] {
            assert_eq!(
                check_label(bad),
                Err("must not contain `/` or `\\` or be `.` or `..`"),
                "{bad:?}"
            );
        }
        assert_eq!(
            check_label("a\0b"),
            Err("must not contain control characters")
        );
    }

    #[test]
    fn fingerprints_round_trip_hex() {
        let fp = Fingerprint::from_bytes([0xab, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(fp.to_hex(), "ab01020304050607");
        assert_eq!(Fingerprint::parse_hex(&fp.to_hex()), Ok(fp));
        assert_eq!(fp.short(), "ab010203");
        assert!(Fingerprint::parse_hex("xyz").is_err());
        assert!(Fingerprint::parse_hex("AB01020304050607").is_err());
        assert!(Fingerprint::parse_hex("ab010203").is_err());
    }
}
