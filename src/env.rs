//! The environment a run sees. Commands and [`crate::output`] never call `std::env::var`
//! directly: they ask [`Env`], so that an embedding (the quickstart example, tests) can run a
//! command in-process with variables of its own without touching the process environment.
//! It travels beside the parsed command line (`commands::run(cli, env, out)`), not inside it.
//!
//! One exception, by design: flags that clap fills from a variable when the flag is absent
//! (`--api-url` from `CLOUDFLARE_API_BASE_URL`, `import --account` and `init --account-id`
//! from `CLOUDFLARE_ACCOUNT_ID`) are read by clap from the process environment at parse
//! time, and show as `[env: …]` in `--help`. An embedding passes those as flags.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

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
    fn debug_shows_names_never_values() {
        let env = Env::fixed([("CLOUDFLARE_API_TOKEN", "tok-very-secret")]);
        let shown = format!("{env:?}");
        assert!(shown.contains("CLOUDFLARE_API_TOKEN"));
        assert!(!shown.contains("tok-very-secret"));
    }
}
