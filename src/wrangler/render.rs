//! What `cfsecrets bindings` prints, ready to paste: `secrets_store_secrets` entries for
//! `wrangler.toml` or `wrangler.json(c)`, or an `Env` interface typing each binding as
//! `SecretsStoreSecret` (what `wrangler types` emits for these bindings). Pure and
//! deterministic: entries come out in the order given.

use std::collections::BTreeMap;

use super::check::{Declared, State};
use super::names::derive_binding;
use super::read::{name_shown, shown};

/// One binding to print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub binding: String,
    pub store_id: String,
    pub secret_name: String,
}

/// Which secrets of a store get a binding, and under which name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// (binding name, secret name), in secret-name order (or `--secret` order).
    pub chosen: Vec<(String, String)>,
    /// Secrets left out, each with the reason (warnings: they were not asked for by name).
    pub skipped: Vec<String>,
    /// Secrets asked for by name that cannot be printed, each with the reason (errors).
    pub refused: Vec<String>,
}

/// Chooses the secrets of `account`/`store` to bind: the ones named in `wanted` (each must be
/// declared present there with the `workers` scope), or, when `wanted` is empty, every secret
/// declared present there with the `workers` scope. Binding names come from
/// [`derive_binding`]; a name that is not an identifier, or that two secrets would share, is
/// refused when asked for by name and skipped otherwise.
pub fn select(declared: &Declared, account: &str, store: &str, wanted: &[String]) -> Selection {
    let mut selection = Selection::default();
    let place = format!("{}/{}", shown(account), shown(store));
    let mut candidates: Vec<(&str, bool)> = Vec::new();
    if wanted.is_empty() {
        for (name, state) in declared.store_secrets(account, store) {
            if state.has_workers() {
                candidates.push((name, false));
            }
        }
    } else {
        for name in wanted {
            if candidates.iter().any(|(n, _)| n == name) {
                continue;
            }
            let problem = match declared.in_store(name, account, store).map(|d| &d.state) {
                None => Some(format!("is not declared in {place}")),
                Some(State::Absent) => Some(format!("is declared `ensure: absent` in {place}")),
                Some(s) if !s.has_workers() => {
                    Some(format!("lacks the `workers` scope in {place}"))
                }
                Some(_) => None,
            };
            match problem {
                Some(why) => selection.refused.push(match name_shown(name) {
                    Some(name) => format!("secret `{name}` {why}"),
                    None => "a --secret argument is not a secret name (letters, digits, `-` \
                             and `_`); it is not repeated here"
                        .to_string(),
                }),
                None => candidates.push((name, true)),
            }
        }
    }
    let mut by_binding: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    let mut derived = Vec::new();
    for (secret, asked) in &candidates {
        match derive_binding(secret) {
            Ok(binding) => {
                by_binding.entry(binding.clone()).or_default().push(secret);
                derived.push((binding, *secret, *asked));
            }
            Err(why) => {
                let message = format!(
                    "secret `{}` cannot be a binding name: {why}; bind it by hand under a name \
                     of your choice",
                    shown(secret)
                );
                if *asked {
                    selection.refused.push(message);
                } else {
                    selection.skipped.push(message);
                }
            }
        }
    }
    for (binding, secret, asked) in derived {
        let sharing = &by_binding[&binding];
        if sharing.len() > 1 {
            let names: Vec<String> = sharing.iter().map(|n| format!("`{n}`")).collect();
            let message = format!(
                "secret `{secret}` left out: {} would all bind as `{binding}`; bind them by hand",
                names.join(" and ")
            );
            if asked {
                selection.refused.push(message);
            } else {
                selection.skipped.push(message);
            }
            continue;
        }
        selection.chosen.push((binding, secret.to_string()));
    }
    selection
}

/// The output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Toml,
    Jsonc,
    Ts,
}

/// Renders `entries`, all of the store `account`/`store`, in `style`.
pub fn render(style: Style, account: &str, store: &str, entries: &[Entry]) -> String {
    match style {
        Style::Toml => toml(account, store, entries),
        Style::Jsonc => jsonc(account, store, entries),
        Style::Ts => ts(account, store, entries),
    }
}

fn origin(account: &str, store: &str) -> String {
    format!(
        "Secrets Store bindings for {}/{}, from `cfsecrets bindings`.",
        shown(account),
        shown(store)
    )
}

/// A double-quoted string, valid in JSON, TOML (basic string) and TypeScript alike.
fn quoted(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

fn toml(account: &str, store: &str, entries: &[Entry]) -> String {
    let mut t = format!(
        "# {}\n# For an environment, write each header as [[env.NAME.secrets_store_secrets]].\n",
        origin(account, store)
    );
    for e in entries {
        t.push_str(&format!(
            "\n[[secrets_store_secrets]]\nbinding = {}\nstore_id = {}\nsecret_name = {}\n",
            quoted(&e.binding),
            quoted(&e.store_id),
            quoted(&e.secret_name)
        ));
    }
    t
}

fn jsonc(account: &str, store: &str, entries: &[Entry]) -> String {
    let mut t = format!(
        "// {}\n// Paste into the top-level object, or into \"env\": {{ \"NAME\": {{ … }} }}.\n\
         \"secrets_store_secrets\": [\n",
        origin(account, store)
    );
    for e in entries {
        t.push_str(&format!(
            "  {{\n    \"binding\": {},\n    \"store_id\": {},\n    \"secret_name\": {}\n  }},\n",
            quoted(&e.binding),
            quoted(&e.store_id),
            quoted(&e.secret_name)
        ));
    }
    t.push_str("],\n");
    t
}

fn ts(account: &str, store: &str, entries: &[Entry]) -> String {
    let mut t = format!(
        "// {}\n// Read a value with `await env.NAME.get()`; it throws if the secret does not exist.\n\
         import type {{ SecretsStoreSecret }} from \"@cloudflare/workers-types\";\n\n\
         export interface Env {{\n",
        origin(account, store)
    );
    for e in entries {
        t.push_str(&format!("  {}: SecretsStoreSecret;", e.binding));
        if e.binding != e.secret_name {
            t.push_str(&format!(" // secret {}", shown(&e.secret_name)));
        }
        t.push('\n');
    }
    t.push_str("}\n");
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrangler::{Format, read};
    use std::path::Path;

    const STORE_ID: &str = "0123456789abcdef0123456789abcdef";

    fn entries() -> Vec<Entry> {
        [
            ("STRIPE_KEY", "STRIPE_KEY"),
            ("webhook_secret", "webhook-secret"),
        ]
        .into_iter()
        .map(|(b, s)| Entry {
            binding: b.into(),
            store_id: STORE_ID.into(),
            secret_name: s.into(),
        })
        .collect()
    }

    fn declared() -> Declared {
        let mut d = Declared::default();
        let scoped = |s: &str| State::present(&[s]);
        for (name, state) in [
            ("STRIPE_KEY", scoped("workers")),
            ("webhook-secret", scoped("workers")),
            ("AI_ONLY", scoped("ai_gateway")),
            ("GONE", State::Absent),
            ("1PASSWORD", scoped("workers")),
            ("A-B", scoped("workers")),
            ("A_B", scoped("workers")),
        ] {
            d.add(name, "production", "main", state);
        }
        d.add("ELSEWHERE", "staging", "main", scoped("workers"));
        d.add(
            "OLD",
            "production",
            "main",
            State::RenamedTo("STRIPE_KEY".into()),
        );
        d
    }

    #[test]
    fn every_workers_secret_is_chosen_and_the_unbindable_are_skipped() {
        let s = select(&declared(), "production", "main", &[]);
        assert_eq!(
            s.chosen,
            [
                ("STRIPE_KEY".to_string(), "STRIPE_KEY".to_string()),
                ("webhook_secret".to_string(), "webhook-secret".to_string()),
            ]
        );
        assert_eq!(
            s.skipped,
            [
                "secret `1PASSWORD` cannot be a binding name: it starts with a digit; bind it by hand under a name of your choice",
                "secret `A-B` left out: `A-B` and `A_B` would all bind as `A_B`; bind them by hand",
                "secret `A_B` left out: `A-B` and `A_B` would all bind as `A_B`; bind them by hand",
            ]
        );
        assert!(s.refused.is_empty());
    }

    #[test]
    fn secrets_asked_for_by_name_must_be_bindable() {
        let wanted: Vec<String> = [
            "webhook-secret",
            "STRIPE_KEY",
            "STRIPE_KEY",
            "AI_ONLY",
            "GONE",
            "ELSEWHERE",
            "OLD",
            "1PASSWORD",
        ]
        .map(String::from)
        .to_vec();
        let s = select(&declared(), "production", "main", &wanted);
        assert_eq!(
            s.chosen,
            [
                ("webhook_secret".to_string(), "webhook-secret".to_string()),
                ("STRIPE_KEY".to_string(), "STRIPE_KEY".to_string()),
            ]
        );
        assert!(s.skipped.is_empty());
        assert_eq!(
            s.refused,
            [
                "secret `AI_ONLY` lacks the `workers` scope in production/main",
                "secret `GONE` is declared `ensure: absent` in production/main",
                "secret `ELSEWHERE` is not declared in production/main",
                "secret `OLD` is not declared in production/main",
                "secret `1PASSWORD` cannot be a binding name: it starts with a digit; bind it by hand under a name of your choice",
            ]
        );
    }

    #[test]
    fn a_secret_argument_that_is_not_a_name_is_never_repeated() {
        let wanted = vec!["sk_live 4242/abc".to_string()];
        let s = select(&declared(), "production", "main", &wanted);
        assert_eq!(
            s.refused,
            [
                "a --secret argument is not a secret name (letters, digits, `-` and `_`); it is not repeated here"
            ]
        );
    }

    /// What is printed reads back, through the same reader as `check --wrangler`, as the
    /// bindings it was made from.
    #[test]
    fn pasted_output_reads_back_as_the_same_bindings() {
        let toml = render(Style::Toml, "production", "main", &entries());
        let jsonc = format!(
            "{{\n  \"name\": \"w\",\n{}}}\n",
            render(Style::Jsonc, "production", "main", &entries())
        );
        for (text, format) in [(toml, Format::Toml), (jsonc, Format::Jsonc)] {
            let (config, d) = read::parse(Path::new("w"), &text, format);
            assert!(d.is_empty(), "{d}\n{text}");
            let back: Vec<Entry> = config
                .bindings
                .into_iter()
                .map(|b| Entry {
                    binding: b.binding.value,
                    store_id: b.store_id.value,
                    secret_name: b.secret_name.value,
                })
                .collect();
            assert_eq!(back, entries(), "{text}");
        }
    }
}
