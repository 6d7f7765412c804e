//! Why a write failed, as far as running `apply` again is concerned: [`FailureCause`], derived
//! from the typed [`ClientError`] and never from its text.

use crate::cloudflare::{ClientError, ErrorKind};
use crate::domain::MAX_VALUE_BYTES;

/// Why a write failed, as far as running `apply` again is concerned. Derived from the typed
/// [`ClientError`] (never from its text), so the command can say whether a second run will
/// finish or fail the same way, and what to change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureCause {
    /// Transport trouble, an unknown outcome, 429 or 5xx, or live state that moved meanwhile
    /// (a name taken, a secret or store gone): a new run re-plans and should finish.
    Transient,
    /// `secret_value_too_long`: the account refuses a value this size.
    ValueTooLong,
    /// `maximum_secrets_exceeded`: the account's secret quota is full.
    SecretQuota,
    /// `maximum_stores_exceeded`: the account cannot hold another store.
    StoreLimit,
    /// The credentials were refused (or lack a permission).
    Credentials,
    /// `secret_scope_invalid` / `secret_scopes_empty`.
    Scopes,
    /// Any other refusal by the API (a 4xx, an unusable answer): it will be refused again.
    Refused,
    /// A check made by the applier itself failed (deletes not verified, a value that no
    /// longer matches the plan): look before running again.
    Verification,
}

impl FailureCause {
    /// The cause of a client error.
    pub fn of(e: &ClientError) -> Self {
        match e {
            ClientError::Transport { .. } | ClientError::OutcomeUnknown { .. } => Self::Transient,
            ClientError::Api(api) => {
                if api.is(ErrorKind::RateLimited) || api.status >= 500 {
                    Self::Transient
                } else if api.is(ErrorKind::Authentication) || matches!(api.status, 401 | 403) {
                    Self::Credentials
                } else if api.is(ErrorKind::SecretValueTooLong) {
                    Self::ValueTooLong
                } else if api.is(ErrorKind::MaximumSecretsExceeded) {
                    Self::SecretQuota
                } else if api.is(ErrorKind::MaximumStoresExceeded) {
                    Self::StoreLimit
                } else if api.is(ErrorKind::SecretScopeInvalid)
                    || api.is(ErrorKind::SecretScopesEmpty)
                {
                    Self::Scopes
                } else if api.is(ErrorKind::SecretNameAlreadyExists)
                    || api.is(ErrorKind::SecretNotFound)
                    || api.is(ErrorKind::StoreNotFound)
                {
                    // Someone changed the store meanwhile; the next plan sees it.
                    Self::Transient
                } else {
                    Self::Refused
                }
            }
            ClientError::RepeatedPage { .. } | ClientError::Refused { .. } => Self::Refused,
        }
    }

    /// Whether running `apply` again is expected to finish the work.
    pub fn is_transient(self) -> bool {
        self == Self::Transient
    }

    /// What to change before running `apply` again; `None` for a transient cause (running
    /// again is the remedy). Names no value.
    pub fn advice(self) -> Option<String> {
        let advice = match self {
            Self::ValueTooLong => format!(
                "the account refuses a value this long (secret_value_too_long): the \
                 documented limit is {MAX_VALUE_BYTES} bytes, but this account enforces a lower \
                 one; shorten the value the failure above names (`cfsecrets secret set`) or \
                 remove it from the manifest"
            ),
            Self::SecretQuota => "the account's secret quota is full \
                 (maximum_secrets_exceeded): delete secrets it no longer needs, or ask \
                 Cloudflare to raise the quota"
                .to_string(),
            Self::StoreLimit => "the account cannot hold another store \
                 (maximum_stores_exceeded): declare the store the account already has, or \
                 delete the other store first"
                .to_string(),
            Self::Credentials => "the credentials were refused: check \
                 CLOUDFLARE_API_TOKEN (or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL) and that \
                 the token has the permission the error above names for this account (apply \
                 needs Secrets Store Read and Write)"
                .to_string(),
            Self::Scopes => "a scope was refused (secret_scope_invalid or \
                 secret_scopes_empty): fix the scopes of the secret named above in the manifest"
                .to_string(),
            Self::Refused => "the API refused a request (the error above names it): \
                 change what it names first"
                .to_string(),
            Self::Verification => "a check apply makes on its own work failed (see \
                 above): look at the store before running apply again"
                .to_string(),
            Self::Transient => return None,
        };
        Some(advice)
    }

    /// Of a write's failure and a follow-up's failure, the one that decides: a permanent
    /// cause wins over a transient one.
    pub(super) fn or(self, other: Self) -> Self {
        if self.is_transient() { other } else { self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: Option<u32>, token: &str) -> ClientError {
        ClientError::Api(crate::cloudflare::ApiError {
            endpoint: crate::cloudflare::Endpoint::CreateSecrets,
            account_id: "a".into(),
            status,
            code,
            message_token: token.into(),
            more: vec![],
        })
    }

    #[test]
    fn failures_are_classed_by_whether_a_new_run_can_finish() {
        use FailureCause::*;
        let cases = [
            (api(429, Some(971), "Please wait"), Transient),
            (api(503, None, ""), Transient),
            (
                api(409, Some(1003), "secret_name_already_exists"),
                Transient,
            ),
            (api(400, Some(1001), "secret_value_too_long"), ValueTooLong),
            (
                api(409, Some(1003), "maximum_secrets_exceeded: max 5"),
                SecretQuota,
            ),
            (api(409, Some(1003), "maximum_stores_exceeded"), StoreLimit),
            (api(400, Some(1001), "secret_scope_invalid"), Scopes),
            (api(403, Some(10000), "Authentication error"), Credentials),
            (api(400, Some(1001), "invalid_json_body"), Refused),
        ];
        for (error, cause) in cases {
            assert_eq!(FailureCause::of(&error), cause, "{error}");
        }
        let unknown = ClientError::OutcomeUnknown {
            endpoint: crate::cloudflare::Endpoint::CreateSecrets,
            account_id: "a".into(),
            kind: crate::cloudflare::TransportKind::Timeout,
        };
        assert_eq!(FailureCause::of(&unknown), Transient);
        // A permanent write failure is not hidden by a transient re-list failure.
        assert_eq!(ValueTooLong.or(Transient), ValueTooLong);
        assert_eq!(Transient.or(SecretQuota), SecretQuota);
    }
}
