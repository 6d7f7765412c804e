//! The environment a run sees. Commands and [`crate::output`] never call `std::env::var`
//! directly: they ask [`Env`], so that an embedding (the quickstart example, tests) can run a
//! command in-process with variables of its own without touching the process environment.
//! It travels beside the parsed command line (`commands::run(cli, env, out)`), not inside it.
//!
//! One exception, by design: flags that clap fills from a variable when the flag is absent
//! (`--api-url` from `CLOUDFLARE_API_BASE_URL`, `import --account` and `init --account-id`
//! from `CLOUDFLARE_ACCOUNT_ID`) are read by clap from the process environment at parse
//! time, and show as `[env: …]` in `--help`. An embedding passes those as flags. Their
//! values go through the flag's parser, so the same rules hold.
//!
//! Variables that hold a path or a URL follow the rule for path arguments: a value that
//! looks like a secret is refused and never shown ([`Env::secret_where_a_path_belongs`],
//! checked before any command runs).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::text::{SecretShape, secret_shape};

/// The prefixes of the variables cfsecrets reads.
const OURS: [&str; 2] = ["CFSECRETS_", "CLOUDFLARE_"];
/// How the name of a variable that holds a path or a URL ends (`CFSECRETS_AGE_KEY_FILE`,
/// `CLOUDFLARE_API_BASE_URL`): the rule follows the name, so a variable added later is
/// covered without being listed.
const PATH_SUFFIXES: [&str; 4] = ["_FILE", "_PATH", "_DIR", "_URL"];

/// A variable that should hold a path or a URL but holds what looks like a secret. Names
/// the variable; the value is not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name} holds what looks like {}, not a path or URL; it was not used{}",
    shape.what(),
    hint(name, *shape)
)]
pub struct SecretInVariable {
    pub name: String,
    pub shape: SecretShape,
}

fn hint(name: &str, shape: SecretShape) -> &'static str {
    match (name, shape) {
        ("CFSECRETS_AGE_KEY_FILE", SecretShape::PrivateKey) => {
            "; put the key text in CFSECRETS_AGE_KEY, or give the path of a file that holds it"
        }
        _ => "",
    }
}

/// Whether the variable `name` holds a path or a URL (one of ours, named `…_FILE`,
/// `…_PATH`, `…_DIR` or `…_URL`).
pub fn holds_a_path(name: &str) -> bool {
    OURS.iter().any(|p| name.starts_with(p)) && PATH_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Environment variables: the process's own, or a fixed set.
#[derive(Clone, Default)]
pub struct Env {
    fixed: Option<Arc<BTreeMap<String, String>>>,
}

impl Env {
    /// The process environment.
    pub fn process() -> Self {
        Self::default()
    }

    /// Only these variables; the process environment is not consulted.
    pub fn fixed<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        let map = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self {
            fixed: Some(Arc::new(map)),
        }
    }

    /// The variable's value; an empty value counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        let value = match &self.fixed {
            Some(map) => map.get(name).cloned(),
            None => std::env::var(name).ok(),
        };
        value.filter(|v| !v.is_empty())
    }
}

impl Env {
    /// The one check for variables: the first (by name) of ours that holds a path or a URL
    /// ([`holds_a_path`]) and whose value looks like a secret.
    pub fn secret_where_a_path_belongs(&self) -> Option<SecretInVariable> {
        let mut names: Vec<String> = match &self.fixed {
            Some(map) => map.keys().cloned().collect(),
            None => std::env::vars_os()
                .filter_map(|(name, _)| name.into_string().ok())
                .collect(),
        };
        names.retain(|name| holds_a_path(name));
        names.sort();
        names.into_iter().find_map(|name| {
            let value = match &self.fixed {
                Some(map) => map.get(&name).cloned(),
                None => std::env::var_os(&name).map(|v| v.to_string_lossy().into_owned()),
            }?;
            let shape = secret_shape(&value)?;
            Some(SecretInVariable { name, shape })
        })
    }
}

/// Names only: values may be tokens or keys.
impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.fixed {
            None => f.write_str("Env(process)"),
            Some(map) => f.debug_set().entries(map.keys()).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_env_ignores_the_process_and_empty_values() {
        let env = Env::fixed([("A", "1"), ("EMPTY", "")]);
        assert_eq!(env.get("A").as_deref(), Some("1"));
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(
            env.get("PATH"),
            None,
            "the process environment is not consulted"
        );
    }

    #[test]
    fn a_secret_in_a_path_variable_is_found_and_not_shown() {
        let identity =
            "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
        let token = "Xk4vR9_pQ2mZ7wL1cN8bT5yH3jF6dS0gA-eU2iOq";
        let fine = Env::fixed([
            ("CFSECRETS_AGE_KEY", identity),
            ("CLOUDFLARE_API_TOKEN", token),
            ("CFSECRETS_AGE_KEY_FILE", "keys/me.key"),
            ("CLOUDFLARE_API_BASE_URL", "http://127.0.0.1:8787/client/v4"),
            ("OTHER_FILE", identity),
        ]);
        assert_eq!(fine.secret_where_a_path_belongs(), None);
        let key_file = Env::fixed([("CFSECRETS_AGE_KEY_FILE", identity)]);
        let err = key_file.secret_where_a_path_belongs().unwrap();
        assert_eq!(err.shape, SecretShape::PrivateKey);
        let message = err.to_string();
        assert!(
            message.starts_with("CFSECRETS_AGE_KEY_FILE holds what looks like a private key"),
            "{message}"
        );
        assert!(message.contains("CFSECRETS_AGE_KEY,"), "{message}");
        assert!(!message.contains("QQQQ"), "{message}");
        let url = format!("https://proxy.example/{token}/client/v4");
        let later = Env::fixed([
            ("CLOUDFLARE_API_BASE_URL", url.as_str()),
            ("CFSECRETS_STATE_DIR", token),
        ]);
        let err = later.secret_where_a_path_belongs().unwrap();
        assert_eq!(err.name, "CFSECRETS_STATE_DIR", "the first by name");
        assert!(!err.to_string().contains("Xk4v"), "{err}");
        assert!(holds_a_path("CLOUDFLARE_API_BASE_URL") && !holds_a_path("CLOUDFLARE_API_TOKEN"));
    }

    #[test]
    fn debug_shows_names_never_values() {
        let env = Env::fixed([("CLOUDFLARE_API_TOKEN", "tok-very-secret")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("CLOUDFLARE_API_TOKEN"));
        assert!(!shown.contains("tok-very-secret"));
    }
}
