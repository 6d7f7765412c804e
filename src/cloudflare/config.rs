//! How the client reaches Cloudflare: base URL (with the loopback-only rule for plain
//! `http://`), credentials held in a redacting secret type, timeouts, retry and pacing knobs.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;
use secrecy::{ExposeSecret, SecretString};

/// The public API root; every path is relative to it.
pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";

/// Cloudflare's documented budget: 1,200 requests per 5 minutes per token.
pub const DEFAULT_RATE_LIMIT_PER_5MIN: u32 = 1200;

/// A credential string (API token or global API key). Its `Debug` and `Display` never show it;
/// the only way out is `Credential::expose`, used when a request header is built.
#[derive(Clone)]
pub struct Credential(SecretString);

impl Credential {
    pub fn new(s: impl Into<String>) -> Self {
        Self(SecretString::from(s.into()))
    }

    /// The plaintext, for building the auth header and nothing else.
    pub(crate) fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    /// `Authorization: Bearer <token>` (preferred).
    Token(Credential),
    /// Legacy `X-Auth-Email` plus `X-Auth-Key` (global API key).
    KeyEmail { key: Credential, email: String },
}

impl Auth {
    /// The texts that authenticate a request (the token; or the key and the email), for
    /// removing them from anything a server says back.
    pub(crate) fn credentials(&self) -> Vec<&str> {
        match self {
            Auth::Token(token) => vec![token.expose()],
            Auth::KeyEmail { key, email } => vec![key.expose(), email.as_str()],
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The email is an identity, so it is redacted too.
        match self {
            Auth::Token(_) => f.write_str("Auth::Token(<redacted>)"),
            Auth::KeyEmail { .. } => f.write_str("Auth::KeyEmail(<redacted>)"),
        }
    }
}

/// Why a configuration was refused. Never carries a credential.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "no cloudflare credentials: set CLOUDFLARE_API_TOKEN, or CLOUDFLARE_API_KEY with CLOUDFLARE_EMAIL"
    )]
    MissingCredentials,
    #[error("CLOUDFLARE_API_KEY is set but CLOUDFLARE_EMAIL is not")]
    KeyWithoutEmail,
    #[error("api url is not a valid url: {0}")]
    InvalidUrl(String),
    #[error(
        "api url must use https (plain http is allowed only for loopback hosts), got {scheme}://{host}"
    )]
    InsecureUrl { scheme: String, host: String },
    /// Never shows the URL: what follows `#` or `?`, or a user name, may be a credential.
    #[error("api url must not carry a user name, password, query or fragment")]
    UrlWithCredentials,
    #[error("the cloudflare credential contains characters not allowed in an http header")]
    InvalidCredential,
    #[error("could not build the http client: {0}")]
    HttpClient(String),
}

/// Everything the client needs. Build with [`ClientConfig::new`] or [`ClientConfig::from_env`],
/// then adjust the public fields (tests use tiny delays and small windows).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// API root, e.g. `https://api.cloudflare.com/client/v4` or an emulator's
    /// `http://127.0.0.1:PORT/client/v4`. Checked by [`check_base_url`].
    pub base_url: Url,
    pub auth: Auth,
    /// At most this many requests leave the process per [`Self::rate_window`].
    pub rate_limit_per_5min: u32,
    /// The sliding window of the pacer (5 minutes; shorter only in tests).
    pub rate_window: Duration,
    pub connect_timeout: Duration,
    /// Whole-request timeout (send plus response body).
    pub request_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// First backoff delay; doubled per retry, with jitter, up to [`Self::max_delay`].
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// Upper bound on a server-requested `Retry-After` wait.
    pub max_retry_after: Duration,
    pub user_agent: String,
}

impl ClientConfig {
    /// A configuration with the defaults: 1,200 requests per 5 minutes, 10 s connect timeout,
    /// 60 s request timeout, 4 retries starting at 500 ms (at most 8 s apart).
    pub fn new(base_url: &str, auth: Auth) -> Result<Self, ConfigError> {
        Ok(Self {
            base_url: check_base_url(base_url)?,
            auth,
            rate_limit_per_5min: DEFAULT_RATE_LIMIT_PER_5MIN,
            rate_window: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(300),
            user_agent: concat!("cfsecrets/", env!("CARGO_PKG_VERSION")).to_string(),
        })
    }

    /// Reads credentials through `env` (so tests need not touch the process environment):
    /// `CLOUDFLARE_API_TOKEN` wins; otherwise `CLOUDFLARE_API_KEY` plus `CLOUDFLARE_EMAIL`.
    /// `api_url` is the already-resolved `--api-url` / `CLOUDFLARE_API_BASE_URL` value.
    pub fn from_env(
        api_url: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let present = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        let auth = if let Some(token) = present("CLOUDFLARE_API_TOKEN") {
            Auth::Token(Credential::new(token.trim()))
        } else if let Some(key) = present("CLOUDFLARE_API_KEY") {
            let email = present("CLOUDFLARE_EMAIL").ok_or(ConfigError::KeyWithoutEmail)?;
            Auth::KeyEmail {
                key: Credential::new(key.trim()),
                email: email.trim().to_string(),
            }
        } else {
            return Err(ConfigError::MissingCredentials);
        };
        Self::new(api_url, auth)
    }

    pub(crate) fn is_loopback(&self) -> bool {
        host_is_loopback(&self.base_url)
    }
}

/// Parses and checks an API root: `https://` anywhere, `http://` only for 127.0.0.0/8, `::1`
/// and `localhost`; no user info, query or fragment.
pub fn check_base_url(raw: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(raw.trim()).map_err(|e| ConfigError::InvalidUrl(e.to_string()))?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(ConfigError::UrlWithCredentials);
    }
    let host = url.host_str().unwrap_or_default().to_string();
    match url.scheme() {
        "https" if !host.is_empty() => Ok(url),
        "http" if host_is_loopback(&url) => Ok(url),
        scheme => Err(ConfigError::InsecureUrl {
            scheme: scheme.to_string(),
            host,
        }),
    }
}

fn host_is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn plain_http_only_for_loopback() {
        for ok in [
            DEFAULT_BASE_URL,
            "http://127.0.0.1:8787/client/v4",
            "http://127.9.9.9/client/v4",
            "http://[::1]:9/client/v4",
            "http://LOCALHOST:1/client/v4",
        ] {
            assert!(check_base_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://api.cloudflare.com/client/v4",
            "http://10.0.0.1/client/v4",
            "http://localhost.evil.example/client/v4",
            "http://[::2]/client/v4",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                matches!(check_base_url(bad), Err(ConfigError::InsecureUrl { .. })),
                "{bad}"
            );
        }
        for bad in [
            "https://user:pw@api.example/client/v4",
            "https://user@api.example/client/v4",
            "https://api.example/client/v4?token=x",
            "https://api.example/client/v4#frag-SEKRIT",
            "https://api.example/client/v4#",
            "http://127.0.0.1:8787/client/v4#SEKRIT",
        ] {
            let err = check_base_url(bad).unwrap_err();
            assert_eq!(err, ConfigError::UrlWithCredentials, "{bad}");
            assert!(!err.to_string().contains("SEKRIT"), "{err}");
        }
        assert!(matches!(
            check_base_url("not a url"),
            Err(ConfigError::InvalidUrl(_))
        ));
    }

    #[test]
    fn credentials_come_from_env_and_stay_redacted() {
        let c = ClientConfig::from_env(
            DEFAULT_BASE_URL,
            &env_of(&[
                ("CLOUDFLARE_API_TOKEN", "tok-SEKRIT"),
                ("CLOUDFLARE_API_KEY", "k"),
            ]),
        )
        .unwrap();
        assert!(matches!(&c.auth, Auth::Token(t) if t.expose() == "tok-SEKRIT"));
        assert!(!format!("{c:?}").contains("SEKRIT"));

        let c = ClientConfig::from_env(
            DEFAULT_BASE_URL,
            &env_of(&[
                ("CLOUDFLARE_API_KEY", "key-SEKRIT"),
                ("CLOUDFLARE_EMAIL", "me@example.com"),
            ]),
        )
        .unwrap();
        assert!(
            matches!(&c.auth, Auth::KeyEmail { key, email } if key.expose() == "key-SEKRIT" && email == "me@example.com")
        );
        let debug = format!("{c:?}");
        assert!(!debug.contains("SEKRIT") && !debug.contains("me@example.com"));

        assert_eq!(
            ClientConfig::from_env(DEFAULT_BASE_URL, &env_of(&[("CLOUDFLARE_API_KEY", "k")])).err(),
            Some(ConfigError::KeyWithoutEmail)
        );
        assert_eq!(
            ClientConfig::from_env(DEFAULT_BASE_URL, &env_of(&[("CLOUDFLARE_API_TOKEN", " ")]))
                .err(),
            Some(ConfigError::MissingCredentials)
        );
    }
}
