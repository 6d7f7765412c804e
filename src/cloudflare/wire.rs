//! Wire DTOs: the v4 envelope, `result_info`, stores, secrets, quota, and the request bodies.
//!
//! Response types are tolerant: unknown fields are ignored, optional fields default, `null`
//! lists become empty, and both spec shapes of a store create (object or one-element array)
//! are accepted. Fields stay plain strings so an unknown status or scope never breaks a read.
//!
//! Request bodies that carry a secret value ([`NewSecret`], [`SecretPatch`]) borrow it as
//! `&str` only while the body is being built: this is the one place plaintext enters a
//! request. Their `Debug` redacts the value, and the serialised bytes are never logged or put
//! into an error.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The v4 envelope around every response.
#[derive(Debug, Deserialize)]
pub struct Envelope<T> {
    /// Missing counts as `true` on a 2xx and `false` otherwise.
    #[serde(default)]
    pub success: Option<bool>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub errors: Vec<ApiMessage>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub messages: Vec<ApiMessage>,
    #[serde(default = "none")]
    pub result: Option<T>,
    #[serde(default)]
    pub result_info: Option<ResultInfo>,
}

fn none<T>() -> Option<T> {
    None
}

/// One item of `errors` or `messages`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ApiMessage {
    #[serde(default, deserialize_with = "lenient_code")]
    pub code: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    #[serde(default)]
    pub documentation_url: Option<String>,
}

/// Page bookkeeping on list responses. Every field is optional on the wire.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ResultInfo {
    #[serde(default, deserialize_with = "lenient_u64")]
    pub page: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub per_page: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_count: Option<u64>,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub total_pages: Option<u64>,
}

/// A secrets store.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Store {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
    /// In the spec since 2026-04.
    #[serde(default)]
    pub account_id: Option<String>,
}

/// A secret's metadata (the value is never returned).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Secret {
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub store_id: String,
    /// `pending`, `active`, `deleted`, or anything newer.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub created: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub modified: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// Missing or `null` (older spec) becomes empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub scopes: Vec<String>,
}

/// `GET /quota`.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Quota {
    pub secrets: QuotaCounts,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct QuotaCounts {
    #[serde(deserialize_with = "required_u64")]
    pub quota: u64,
    #[serde(deserialize_with = "required_u64")]
    pub usage: u64,
}

/// A JSON object, or (older spec for store create) an array holding it.
#[derive(Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    pub(crate) fn into_first(self) -> Option<T> {
        match self {
            OneOrMany::One(t) => Some(t),
            OneOrMany::Many(v) => v.into_iter().next(),
        }
    }
}

/// Anything a paginated list can de-duplicate on.
pub(crate) trait HasId {
    fn id(&self) -> &str;
}

impl HasId for Store {
    fn id(&self) -> &str {
        &self.id
    }
}

impl HasId for Secret {
    fn id(&self) -> &str {
        &self.id
    }
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

/// `POST /stores` body.
#[derive(Debug, Serialize)]
pub(crate) struct NewStore<'a> {
    pub name: &'a str,
}

/// One item of a batch create (`POST /stores/{store_id}/secrets`).
///
/// `value` borrows plaintext from the caller's secret type for as long as the body is being
/// built; this struct is the one place plaintext enters a request. `Debug` redacts it.
#[derive(Serialize)]
pub struct NewSecret<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// Wire spellings; sent sorted and de-duplicated.
    #[serde(serialize_with = "sorted_scopes")]
    pub scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<&'a str>,
}

impl fmt::Debug for NewSecret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewSecret")
            .field("name", &self.name)
            .field("value", &"<redacted>")
            .field("scopes", &self.scopes)
            .field("comment", &self.comment)
            .finish()
    }
}

/// `PATCH /stores/{store_id}/secrets/{secret_id}`: only the fields that are `Some` are sent.
///
/// `value`, when present, borrows plaintext exactly as [`NewSecret::value`] does.
#[derive(Default, Serialize)]
pub struct SecretPatch<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "sorted_scopes_opt"
    )]
    pub scopes: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<&'a str>,
}

impl SecretPatch<'_> {
    pub fn is_empty(&self) -> bool {
        self.value.is_none() && self.scopes.is_none() && self.comment.is_none()
    }
}

impl fmt::Debug for SecretPatch<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretPatch")
            .field("value", &self.value.map(|_| "<redacted>"))
            .field("scopes", &self.scopes)
            .field("comment", &self.comment)
            .finish()
    }
}

/// `POST /stores/{store_id}/secrets/{secret_id}/duplicate` body. Carries no value: the copy
/// keeps the source's value server-side.
#[derive(Debug, Serialize)]
pub struct DuplicateSecret<'a> {
    pub name: &'a str,
    #[serde(serialize_with = "sorted_scopes")]
    pub scopes: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<&'a str>,
}

/// `DELETE /stores/{store_id}/secrets` body.
#[derive(Debug, Serialize)]
pub(crate) struct BulkDelete<'a> {
    pub secret_ids: &'a [String],
}

// ---------------------------------------------------------------------------------------------
// Serde helpers.

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A number that may arrive as an integer, a float with no fraction, or a numeric string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Num {
    U(u64),
    F(f64),
    S(String),
}

impl Num {
    fn to_u64(&self) -> Option<u64> {
        match self {
            Num::U(u) => Some(*u),
            Num::F(f) if *f >= 0.0 && f.fract() == 0.0 && *f <= u64::MAX as f64 => Some(*f as u64),
            Num::F(_) => None,
            Num::S(s) => s.trim().parse().ok(),
        }
    }
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Option::<Num>::deserialize(d)?.and_then(|n| n.to_u64()))
}

fn required_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Num::deserialize(d)?
        .to_u64()
        .ok_or_else(|| serde::de::Error::custom("expected a non-negative whole number"))
}

fn lenient_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(lenient_u64(d)?.and_then(|n| u32::try_from(n).ok()))
}

fn sorted(scopes: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = scopes.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn sorted_scopes<S: serde::Serializer>(scopes: &&[String], s: S) -> Result<S::Ok, S::Error> {
    sorted(scopes).serialize(s)
}

fn sorted_scopes_opt<S: serde::Serializer>(
    scopes: &Option<&[String]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    scopes.map(sorted).serialize(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_tolerate_both_spec_shapes() {
        let old: Secret = serde_json::from_str(
            r#"{"id":"a","name":"N","store_id":"s","status":"pending","created":"c","modified":"m","extra":1}"#,
        )
        .unwrap();
        assert!(old.scopes.is_empty());
        assert_eq!(old.comment, None);
        let new: Secret = serde_json::from_str(
            r#"{"id":"a","name":"N","store_id":"s","status":"active","created":"c","modified":"m","comment":null,"scopes":null}"#,
        )
        .unwrap();
        assert!(new.scopes.is_empty());
        let full: Secret = serde_json::from_str(
            r#"{"id":"a","name":"N","store_id":"s","status":"active","created":"c","modified":"m","comment":"hi","scopes":["workers","ai_gateway"]}"#,
        )
        .unwrap();
        assert_eq!(full.scopes, vec!["workers", "ai_gateway"]);
        assert_eq!(full.comment.as_deref(), Some("hi"));
    }

    #[test]
    fn quota_numbers_may_be_floats() {
        let q: Quota = serde_json::from_str(r#"{"secrets":{"quota":100.0,"usage":7}}"#).unwrap();
        assert_eq!((q.secrets.quota, q.secrets.usage), (100, 7));
        assert!(serde_json::from_str::<Quota>(r#"{"secrets":{"quota":-1,"usage":7}}"#).is_err());
    }

    #[test]
    fn store_create_result_may_be_object_or_array() {
        let one: OneOrMany<Store> = serde_json::from_str(r#"{"id":"x","name":"n"}"#).unwrap();
        let many: OneOrMany<Store> = serde_json::from_str(r#"[{"id":"x","name":"n"}]"#).unwrap();
        assert_eq!(one.into_first(), many.into_first());
    }

    #[test]
    fn request_bodies_redact_values_in_debug_and_sort_scopes() {
        let scopes = vec![
            "workers".to_string(),
            "ai_gateway".to_string(),
            "workers".to_string(),
        ];
        let s = NewSecret {
            name: "N",
            value: "hunter2-plaintext",
            scopes: &scopes,
            comment: None,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["scopes"], serde_json::json!(["ai_gateway", "workers"]));
        assert!(json.get("comment").is_none());
        let p = SecretPatch {
            value: Some("hunter2-plaintext"),
            ..Default::default()
        };
        assert!(!format!("{p:?}").contains("hunter2"));
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            serde_json::json!({"value": "hunter2-plaintext"})
        );
    }

    #[test]
    fn envelope_with_errors_and_null_result_parses() {
        let e: Envelope<Secret> = serde_json::from_str(
            r#"{"success":false,"errors":[{"code":1003,"message":"secret_name_already_exists"}],"messages":[],"result":null}"#,
        )
        .unwrap();
        assert_eq!(e.success, Some(false));
        assert_eq!(e.errors[0].code, Some(1003));
        assert!(e.result.is_none());
    }
}
