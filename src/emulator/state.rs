//! The emulator's world: accounts, stores and secrets held in memory, their value-free views
//! (for the admin state dump and [`super::EmulatorHandle::state`]) and the state file.
//!
//! Values live only in [`SecretValue`], whose `Debug` is redacted and which is serialised
//! only into the state file (needed so that `duplicate` still works after a restart). The
//! state file is written atomically (temporary file in the same directory, then rename)
//! with mode 0600.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::EmulatorError;
use crate::domain::MAX_EMULATOR_STATE_BYTES;
use crate::fs::FsError;

/// A secret value, held only so that `duplicate` can copy it. Never printed.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct SecretValue(String);

impl SecretValue {
    pub(crate) fn new(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

/// Everything the emulator knows, keyed by account id. This is also the state-file format.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct World {
    #[serde(default)]
    pub accounts: BTreeMap<String, Account>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Account {
    /// In creation order.
    #[serde(default)]
    pub stores: Vec<Store>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Store {
    pub id: String,
    pub name: String,
    /// Unix nanoseconds (RFC 3339 in the file).
    #[serde(with = "timestamp")]
    pub created: i128,
    #[serde(with = "timestamp")]
    pub modified: i128,
    /// In creation order.
    #[serde(default)]
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Secret {
    pub id: String,
    pub name: String,
    pub value: SecretValue,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Sorted, without duplicates.
    pub scopes: Vec<String>,
    #[serde(with = "timestamp")]
    pub created: i128,
    #[serde(with = "timestamp")]
    pub modified: i128,
    /// Whether the secret has turned from `pending` to `active`.
    #[serde(default)]
    pub active: bool,
    /// Reads that have seen it `pending` so far.
    #[serde(default)]
    pub pending_reads: u32,
}

impl World {
    pub(crate) fn usage(&self, account: &str) -> u64 {
        self.accounts
            .get(account)
            .map(|a| a.stores.iter().map(|s| s.secrets.len() as u64).sum())
            .unwrap_or(0)
    }

    /// The view without values.
    pub(crate) fn dump(&self) -> StateDump {
        StateDump {
            accounts: self
                .accounts
                .iter()
                .map(|(id, account)| {
                    let stores = account.stores.iter().map(Store::dump).collect();
                    (id.clone(), AccountDump { stores })
                })
                .collect(),
        }
    }
}

impl Store {
    fn dump(&self) -> StoreDump {
        StoreDump {
            id: self.id.clone(),
            name: self.name.clone(),
            created: rfc3339(self.created),
            modified: rfc3339(self.modified),
            secrets: self.secrets.iter().map(Secret::dump).collect(),
        }
    }
}

impl Secret {
    /// `pending` until a client has been shown it enough times (or long enough), then `active`.
    pub(crate) fn status(&self) -> &'static str {
        if self.active { "active" } else { "pending" }
    }

    /// Everything but the value.
    fn dump(&self) -> SecretDump {
        SecretDump {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status().to_string(),
            comment: self.comment.clone(),
            scopes: self.scopes.clone(),
            created: rfc3339(self.created),
            modified: rfc3339(self.modified),
        }
    }
}

/// A value-free view of the emulator's state (the admin `state` route returns this).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateDump {
    pub accounts: BTreeMap<String, AccountDump>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDump {
    pub stores: Vec<StoreDump>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreDump {
    pub id: String,
    pub name: String,
    pub created: String,
    pub modified: String,
    pub secrets: Vec<SecretDump>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretDump {
    pub id: String,
    pub name: String,
    /// `pending` or `active`, as last shown to a client.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub scopes: Vec<String>,
    pub created: String,
    pub modified: String,
}

/// Unix nanoseconds now.
pub(crate) fn now_nanos() -> i128 {
    OffsetDateTime::now_utc().unix_timestamp_nanos()
}

/// RFC 3339 in UTC with fractional seconds, e.g. `2026-11-27T04:48:59.123456789Z`.
pub(crate) fn rfc3339(nanos: i128) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// Timestamps are RFC 3339 strings in the state file.
mod timestamp {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(super) fn serialize<S: Serializer>(nanos: &i128, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339(*nanos))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i128, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339)
            .map(|t| t.unix_timestamp_nanos())
            .map_err(D::Error::custom)
    }
}

/// The file: a version beside the world. `W` is `World` when reading and `&World` when
/// writing, so a save does not copy every value in memory.
#[derive(Serialize, Deserialize)]
struct StateFile<W> {
    /// Format version of the file.
    version: u32,
    #[serde(flatten)]
    world: W,
}

const STATE_VERSION: u32 = 1;

/// Reads the state file (at most [`MAX_EMULATOR_STATE_BYTES`], a regular file only); a
/// missing file is an empty world.
pub(crate) fn load(path: &Path) -> Result<World, EmulatorError> {
    let text = match crate::fs::read_bounded(path, MAX_EMULATOR_STATE_BYTES) {
        Ok(text) => text,
        Err(FsError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(World::default());
        }
        Err(FsError::Read { source, .. }) => {
            return Err(EmulatorError::ReadState {
                path: path.to_path_buf(),
                source,
            });
        }
        Err(err) => return Err(EmulatorError::StateFile(err)),
    };
    let file: StateFile<World> =
        serde_json::from_slice(&text).map_err(|err| EmulatorError::ParseState {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
        })?;
    if file.version != STATE_VERSION {
        return Err(EmulatorError::StateVersion {
            path: path.to_path_buf(),
            version: file.version,
        });
    }
    Ok(file.world)
}

/// Writes the state file atomically with mode 0600.
pub(crate) fn save(path: &Path, world: &World) -> Result<(), EmulatorError> {
    let fail = |source: std::io::Error| EmulatorError::WriteState {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file = StateFile {
        version: STATE_VERSION,
        world,
    };
    let json = serde_json::to_vec_pretty(&file).map_err(|e| fail(std::io::Error::other(e)))?;
    // NamedTempFile is created with mode 0600 and keeps it through the rename.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    tmp.write_all(&json).map_err(fail)?;
    tmp.write_all(b"\n").map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_debug_is_redacted() {
        let v = SecretValue::new("hunter2-distinct".into());
        assert!(!format!("{v:?}").contains("hunter2"));
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500_000_000), "1970-01-01T00:00:01.5Z");
    }
}
