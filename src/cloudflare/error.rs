//! Typed client errors. An API error carries HTTP status, Cloudflare code and message token;
//! [`ErrorKind`] matches on code **and** token (as the API reference's §6 prescribes), never on
//! the HTTP status alone. No error ever holds a request body, a value or a credential.

use std::fmt;

use super::Endpoint;

/// A failure answered by the API (non-2xx, or `success: false`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub endpoint: Endpoint,
    pub account_id: String,
    pub status: u16,
    /// `errors[0].code`, when present.
    pub code: Option<u32>,
    /// `errors[0].message` (for Secrets Store usually a snake_case token such as
    /// `secret_name_already_exists`), cut to 200 characters.
    pub message_token: String,
    /// Further `(code, message)` items, if the envelope listed more than one.
    pub more: Vec<(Option<u32>, String)>,
}

impl ApiError {
    /// Whether this error is `kind`: the code must be one the kind is known by (any code when
    /// the reference does not know it) and the message must contain the kind's token.
    pub fn is(&self, kind: ErrorKind) -> bool {
        if kind == ErrorKind::RateLimited {
            return self.status == 429;
        }
        if kind == ErrorKind::Authentication {
            return match self.code {
                Some(code) => AUTH_CODES.contains(&code),
                None => self.status == 401,
            };
        }
        std::iter::once((self.code, self.message_token.as_str()))
            .chain(self.more.iter().map(|(c, m)| (*c, m.as_str())))
            .any(|(code, message)| kind.matches(code, message))
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} for account {}: http {}",
            self.endpoint, self.account_id, self.status
        )?;
        if let Some(code) = self.code {
            write!(f, ", code {code}")?;
        }
        if !self.message_token.is_empty() {
            write!(f, ": {}", self.message_token)?;
        }
        if self.is(ErrorKind::Authentication) {
            write!(
                f,
                " (check CLOUDFLARE_API_TOKEN, or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL; {})",
                self.missing_permission()
            )?;
        }
        Ok(())
    }
}

impl ApiError {
    /// What the refused request needed, judged by its method: a read (plan, import, and the
    /// reads of apply) needs Secrets Store Read; a write (apply) needs Secrets Store Write.
    fn missing_permission(&self) -> &'static str {
        if self.endpoint.method() == reqwest::Method::GET {
            "reading secrets needs a token with Secrets Store Read"
        } else {
            "changing secrets needs a token with Secrets Store Write (Edit in the dashboard's \
             token editor)"
        }
    }
}

impl std::error::Error for ApiError {}

/// Cloudflare's codes for refused credentials.
const AUTH_CODES: [u32; 3] = [9106, 9109, 10000];

/// What kind of transport failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransportKind {
    /// Could not connect (nothing was sent).
    Connect,
    /// The request or its response did not finish in time.
    Timeout,
    /// The connection broke after the request may have been sent.
    Dropped,
    /// A 2xx answer arrived but its body could not be read as the expected envelope
    /// (truncated or garbled on the way). For a write, the change may have happened.
    Unreadable,
}

/// What lies under a [`ClientError::Transport`]: reqwest's error (its URL stripped), or why a
/// success answer could not be read. Never a body, a value or a credential.
#[derive(Debug, thiserror::Error)]
pub enum TransportCause {
    #[error(transparent)]
    Http(reqwest::Error),
    /// A 2xx answer that is not the expected envelope: `detail` is serde's complaint without
    /// any quoted input (e.g. "EOF while parsing an object at line 1 column 80").
    #[error("http {status}: {detail}")]
    Unreadable { status: u16, detail: String },
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Connect => "could not connect",
            TransportKind::Timeout => "timed out",
            TransportKind::Dropped => "connection dropped",
            TransportKind::Unreadable => "unreadable answer",
        })
    }
}

/// Every way a client call can fail.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Api(#[from] ApiError),

    /// The request kept failing on the way (no connection, a timeout, a dropped connection,
    /// an unreadable success answer) until the retries ran out. Only idempotent requests (and
    /// POSTs that could not connect) end here; a running `apply` again is expected to finish.
    #[error("{endpoint} for account {account_id}: {kind} after {attempts} {}", if *attempts == 1 { "attempt" } else { "attempts" })]
    Transport {
        endpoint: Endpoint,
        account_id: String,
        kind: TransportKind,
        attempts: u32,
        #[source]
        source: TransportCause,
    },

    /// A non-idempotent write (batch create, duplicate, store create) was sent, but no answer
    /// came back (timeout, dropped connection, unreadable success body). It may or may not have
    /// happened: re-list before deciding what to do; never resend blindly.
    #[error(
        "{endpoint} for account {account_id}: outcome unknown ({kind}); re-list before retrying"
    )]
    OutcomeUnknown {
        endpoint: Endpoint,
        account_id: String,
        kind: TransportKind,
    },

    /// A paginated list returned an id already seen on an earlier page.
    #[error(
        "{endpoint} for account {account_id}: page {page} repeats id {id} from an earlier page; the server is not paginating"
    )]
    RepeatedPage {
        endpoint: Endpoint,
        account_id: String,
        page: u64,
        id: String,
    },

    /// Refused before sending (e.g. a bulk delete without ids, an empty path id).
    #[error("{endpoint}: {reason}")]
    Refused {
        endpoint: Endpoint,
        reason: &'static str,
    },
}

impl ClientError {
    /// The API error, if the server answered with one.
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            ClientError::Api(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the server answered with `kind` (see [`ApiError::is`]).
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.api().is_some_and(|e| e.is(kind))
    }

    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, ClientError::OutcomeUnknown { .. })
    }
}

/// Errors the Secrets Store API is known to return (reference §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// 7003 "No route for the URI" (unknown or malformed account id).
    NoRoute,
    /// 1000, an empty id in the path.
    EmptyPathId,
    InvalidJsonBody,
    StoreNotFound,
    SecretNotFound,
    SecretNameEmpty,
    SecretScopeInvalid,
    SecretScopesEmpty,
    SecretValueTooLong,
    SecretNameAlreadyExists,
    MaximumStoresExceeded,
    MaximumSecretsExceeded,
    StoreNotEmpty,
    /// HTTP 429 (matched on status: it has no code or token).
    RateLimited,
    /// The credentials were refused: Cloudflare's authentication codes (10000
    /// "Authentication error", 9106, 9109 "Invalid access token"), or HTTP 401 without a
    /// code. Not a Secrets Store token, so matched on code or status.
    Authentication,
}

impl ErrorKind {
    /// The codes this kind is known by; empty means "any code" (the reference is unsure).
    pub fn codes(self) -> &'static [u32] {
        use ErrorKind::*;
        match self {
            NoRoute => &[7003],
            EmptyPathId => &[1000],
            InvalidJsonBody | StoreNotFound | SecretNotFound | SecretNameEmpty
            | SecretScopeInvalid | SecretScopesEmpty | SecretValueTooLong => &[1001],
            SecretNameAlreadyExists => &[1003, 10021],
            MaximumStoresExceeded => &[1003],
            MaximumSecretsExceeded | StoreNotEmpty | RateLimited => &[],
            Authentication => &AUTH_CODES,
        }
    }

    /// The message token; `None` for kinds known only by code.
    pub fn token(self) -> Option<&'static str> {
        use ErrorKind::*;
        Some(match self {
            NoRoute | EmptyPathId | RateLimited | Authentication => return None,
            InvalidJsonBody => "invalid_json_body",
            StoreNotFound => "store_not_found",
            SecretNotFound => "secret_not_found",
            SecretNameEmpty => "secret_name_empty",
            SecretScopeInvalid => "secret_scope_invalid",
            SecretScopesEmpty => "secret_scopes_empty",
            SecretValueTooLong => "secret_value_too_long",
            SecretNameAlreadyExists => "secret_name_already_exists",
            MaximumStoresExceeded => "maximum_stores_exceeded",
            MaximumSecretsExceeded => "maximum_secrets_exceeded",
            StoreNotEmpty => "store_not_empty",
        })
    }

    fn matches(self, code: Option<u32>, message: &str) -> bool {
        let code_ok = self.codes().is_empty() || code.is_some_and(|c| self.codes().contains(&c));
        let token_ok = self.token().is_none_or(|t| message.contains(t));
        code_ok && token_ok && (self.token().is_some() || code.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, code: Option<u32>, msg: &str) -> ApiError {
        ApiError {
            endpoint: Endpoint::CreateSecrets,
            account_id: "a".into(),
            status,
            code,
            message_token: msg.into(),
            more: vec![],
        }
    }

    #[test]
    fn refused_credentials_are_recognised_and_explained() {
        for e in [
            err(403, Some(10000), "Authentication error"),
            err(400, Some(9109), "Invalid access token"),
            err(401, None, ""),
        ] {
            assert!(e.is(ErrorKind::Authentication), "{e}");
            assert!(e.to_string().contains("check CLOUDFLARE_API_TOKEN"), "{e}");
        }
        let other = err(404, Some(1001), "store_not_found");
        assert!(!other.is(ErrorKind::Authentication));
        assert!(!other.to_string().contains("CLOUDFLARE_API_TOKEN"));
    }

    #[test]
    fn a_refused_read_asks_for_read_and_a_refused_write_for_write() {
        for (endpoint, needs) in [
            (Endpoint::ListStores, "Secrets Store Read"),
            (Endpoint::ListSecrets, "Secrets Store Read"),
            (Endpoint::Quota, "Secrets Store Read"),
            (Endpoint::CreateSecrets, "Secrets Store Write"),
            (Endpoint::PatchSecret, "Secrets Store Write"),
            (Endpoint::DeleteSecret, "Secrets Store Write"),
            (Endpoint::DuplicateSecret, "Secrets Store Write"),
            (Endpoint::CreateStore, "Secrets Store Write"),
        ] {
            let e = ApiError {
                endpoint,
                ..err(403, Some(10000), "Authentication error")
            };
            let shown = e.to_string();
            assert!(shown.contains(needs), "{endpoint}: {shown}");
            let other = if needs.ends_with("Read") {
                "Secrets Store Write"
            } else {
                "Secrets Store Read"
            };
            assert!(!shown.contains(other), "{endpoint}: {shown}");
        }
    }

    #[test]
    fn kinds_match_on_code_and_token_not_status() {
        let e = err(400, Some(1003), "secret_name_already_exists");
        assert!(e.is(ErrorKind::SecretNameAlreadyExists));
        assert!(!e.is(ErrorKind::MaximumStoresExceeded));
        // Same token under an unexpected code is not the kind.
        assert!(
            !err(409, Some(1001), "secret_name_already_exists")
                .is(ErrorKind::SecretNameAlreadyExists)
        );
        // The alternative code seen by a third party.
        assert!(
            err(409, Some(10021), "secret_name_already_exists")
                .is(ErrorKind::SecretNameAlreadyExists)
        );
        // A token with trailing detail still matches.
        assert!(
            err(400, Some(1003), "maximum_secrets_exceeded: max 100")
                .is(ErrorKind::MaximumSecretsExceeded)
        );
        // Code-only kinds.
        assert!(err(404, Some(7003), "No route for the URI").is(ErrorKind::NoRoute));
        assert!(!err(404, None, "No route for the URI").is(ErrorKind::NoRoute));
        assert!(err(429, None, "").is(ErrorKind::RateLimited));
        assert!(!err(404, Some(1001), "store_not_found").is(ErrorKind::SecretNotFound));
    }
}
