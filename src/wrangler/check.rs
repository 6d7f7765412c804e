//! The offline checks of `check --wrangler`: every binding, in every environment, against
//! what the manifest declares. Pure.
//!
//! Per binding:
//! * error: its name is not a JavaScript identifier ([`super::names`]), or it is repeated in
//!   the same environment (top level and each `env.<name>` are separate: the key is not
//!   inherited);
//! * error: `store_id` is empty; warning: it does not look like a store id (32 lowercase
//!   hexadecimal characters, as Cloudflare writes them);
//! * error: `secret_name` is not declared present in the manifest (absent, renamed away, or
//!   not there at all), or no store declaring it gives it the `workers` scope;
//! * warning: the name is declared present in more than one store or account, so which one
//!   the binding reads depends on `store_id`, which only the live state can resolve
//!   ([`super::live`]).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::domain::Scope;
use crate::manifest::{Desired, DesiredSecret, Diagnostics};

use super::names::identifier_problem;
use super::read::{name_shown, shown};
use super::{Binding, Environment, WranglerConfig};

/// What the manifest says about one secret name in one store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declaration {
    /// The account's manifest label.
    pub account: String,
    pub store: String,
    pub state: State,
}

impl Declaration {
    /// `production/default_secrets_store`.
    pub fn place(&self) -> String {
        format!("{}/{}", shown(&self.account), shown(&self.store))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Declared present; `scopes` in wire spelling.
    Present { scopes: Vec<String> },
    /// `ensure: absent`.
    Absent,
    /// Another entry is `renamed_from` this name.
    RenamedTo(String),
}

impl State {
    /// Declared present with these scopes (wire spelling).
    pub fn present(scopes: &[&str]) -> Self {
        State::Present {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    pub fn has_workers(&self) -> bool {
        matches!(self, State::Present { scopes } if scopes.iter().any(|s| s == Scope::Workers.as_wire()))
    }
}

/// The manifest reduced to what binding checks need: every declaration of every secret name.
/// The only coupling of this room to the manifest's types is [`Declared::from_desired`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Declared {
    /// The manifest, for messages.
    pub manifest: PathBuf,
    by_name: BTreeMap<String, Vec<Declaration>>,
}

impl Declared {
    pub fn from_desired(desired: &Desired) -> Self {
        let mut declared = Declared {
            manifest: desired.manifest_path.clone(),
            by_name: BTreeMap::new(),
        };
        for account in &desired.accounts {
            for store in &account.stores {
                for (name, secret) in &store.secrets {
                    let state = match secret {
                        DesiredSecret::Absent => State::Absent,
                        DesiredSecret::Present(p) => {
                            if let Some(old) = &p.renamed_from {
                                declared.add(
                                    old.as_str(),
                                    &account.label,
                                    &store.name,
                                    State::RenamedTo(name.to_string()),
                                );
                            }
                            State::Present {
                                scopes: p.scopes.iter().map(|s| s.as_wire().to_string()).collect(),
                            }
                        }
                    };
                    declared.add(name.as_str(), &account.label, &store.name, state);
                }
            }
        }
        declared
    }

    /// Records one declaration (also for tests and callers that build the index by hand).
    pub fn add(&mut self, name: &str, account: &str, store: &str, state: State) {
        self.by_name
            .entry(name.to_string())
            .or_default()
            .push(Declaration {
                account: account.to_string(),
                store: store.to_string(),
                state,
            });
    }

    /// Every declaration of `name`, in manifest order.
    pub fn get(&self, name: &str) -> &[Declaration] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The declaration of `name` in one store, if any that is not a rename note.
    pub fn in_store(&self, name: &str, account: &str, store: &str) -> Option<&Declaration> {
        self.get(name).iter().find(|d| {
            d.account == account && d.store == store && !matches!(d.state, State::RenamedTo(_))
        })
    }

    /// Every name declared in one store (rename notes left out), in name order.
    pub fn store_secrets<'a>(
        &'a self,
        account: &'a str,
        store: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a State)> + 'a {
        self.by_name.keys().filter_map(move |name| {
            let d = self.in_store(name, account, store)?;
            Some((name.as_str(), &d.state))
        })
    }

    /// A declared-present name close to `name` (a typo or a case slip), if there is one.
    fn suggest(&self, name: &str) -> Option<&str> {
        self.by_name
            .iter()
            .filter(|(_, ds)| ds.iter().any(|d| matches!(d.state, State::Present { .. })))
            .map(|(n, _)| {
                let distance = if n.eq_ignore_ascii_case(name) {
                    0
                } else {
                    strsim::levenshtein(n, name)
                };
                (distance, n.as_str())
            })
            .filter(|(d, _)| *d <= 2)
            .min()
            .map(|(_, n)| n)
    }
}

/// Whether `id` looks like a Cloudflare store id.
pub fn looks_like_store_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Every offline problem of every binding in `configs`, sorted by position: its shape
/// ([`check_shapes`]) and the secret it names, judged from the whole manifest.
pub fn check_offline(configs: &[WranglerConfig], declared: &Declared) -> Diagnostics {
    let mut diagnostics = check_shapes(configs);
    for b in configs.iter().flat_map(|c| &c.bindings) {
        diagnostics.0.extend(secret_problems(b, declared));
    }
    diagnostics.sort();
    diagnostics
}

/// The problems a binding has whatever the manifest and the live state say: its name (a
/// JavaScript identifier, not repeated in its environment), its `store_id` (empty, or not
/// shaped like an id) and whether its `secret_name` is shaped like a secret name. What `plan
/// --wrangler` checks before any request; which secret a binding reads is judged there per
/// store, once the store ids resolve ([`super::live`]).
pub fn check_shapes(configs: &[WranglerConfig]) -> Diagnostics {
    let mut diagnostics = Diagnostics::new();
    for config in configs {
        let mut first_use: HashMap<(&Environment, &str), &Binding> = HashMap::new();
        for b in &config.bindings {
            let name = &b.binding.value;
            let called = name_shown(name).map_or("binding name".to_string(), |n| {
                format!("binding name `{n}`")
            });
            if let Some(why) = identifier_problem(name) {
                diagnostics.push(b.error_at(
                    b.binding.pos,
                    format!("{called} is not a JavaScript identifier: {why}"),
                ));
            }
            match first_use.get(&(&b.env, name.as_str())) {
                Some(first) => diagnostics.push(b.error_at(
                    b.binding.pos,
                    format!(
                        "{called} is repeated in {} (first at line {})",
                        b.env, first.binding.pos.line
                    ),
                )),
                None => {
                    first_use.insert((&b.env, name.as_str()), b);
                }
            }
            let id = &b.store_id.value;
            if id.is_empty() {
                diagnostics.push(b.error_at(b.store_id.pos, "`store_id` is empty"));
            } else if !looks_like_store_id(id) {
                diagnostics.push(b.warning_at(
                    b.store_id.pos,
                    format!(
                        "`store_id` does not look like a store id: 32 lowercase hexadecimal \
                         characters, found {} (`cfsecrets bindings` prints it)",
                        crate::text::count(id.chars().count(), "character", "characters")
                    ),
                ));
            }
            if name_shown(&b.secret_name.value).is_none() {
                diagnostics.push(b.error_at(
                    b.secret_name.pos,
                    "`secret_name` is not a secret name (letters, digits, `-` and `_`); its text \
                     is not repeated here",
                ));
            }
        }
    }
    diagnostics.sort();
    diagnostics
}

/// What is wrong with the secret a binding names, judged from the whole manifest (nothing
/// for a name that is not shaped like one: [`check_shapes`] reports it).
fn secret_problems(b: &Binding, declared: &Declared) -> Vec<crate::manifest::Diagnostic> {
    let pos = b.secret_name.pos;
    let Some(name) = name_shown(&b.secret_name.value) else {
        return Vec::new();
    };
    let all = declared.get(name);
    let present: Vec<&Declaration> = all
        .iter()
        .filter(|d| matches!(d.state, State::Present { .. }))
        .collect();
    let manifest = declared.manifest.display();
    if present.is_empty() {
        let absent: Vec<String> = all
            .iter()
            .filter(|d| d.state == State::Absent)
            .map(Declaration::place)
            .collect();
        let renamed = all.iter().find_map(|d| match &d.state {
            State::RenamedTo(new) => Some((d, new)),
            _ => None,
        });
        let message = if !absent.is_empty() {
            format!(
                "secret `{}` is declared `ensure: absent` in {} ({}): the binding would fail",
                shown(name),
                manifest,
                absent.join(", ")
            )
        } else if let Some((d, new)) = renamed {
            format!(
                "secret `{}` is renamed to `{}` in {} ({}): bind `{}`",
                shown(name),
                shown(new),
                manifest,
                d.place(),
                shown(new)
            )
        } else {
            let hint = declared
                .suggest(name)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_default();
            format!(
                "secret `{}` is not declared in {manifest}{hint}",
                shown(name)
            )
        };
        return vec![b.error_at(pos, message)];
    }
    let with_workers: Vec<&&Declaration> =
        present.iter().filter(|d| d.state.has_workers()).collect();
    if with_workers.is_empty() {
        let places: Vec<String> = present
            .iter()
            .map(|d| match &d.state {
                State::Present { scopes } => format!("{}: {}", d.place(), scopes.join(", ")),
                _ => d.place(),
            })
            .collect();
        return vec![b.error_at(
            pos,
            format!(
                "secret `{}` lacks the `workers` scope ({}): a Worker cannot read it; add \
                 `workers` to its scopes in {manifest}",
                shown(name),
                places.join("; ")
            ),
        )];
    }
    if present.len() > 1 {
        let places: Vec<String> = present.iter().map(|d| d.place()).collect();
        let note = if with_workers.len() < present.len() {
            let ok: Vec<String> = with_workers.iter().map(|d| d.place()).collect();
            format!("; only {} gives it the `workers` scope", ok.join(", "))
        } else {
            String::new()
        };
        return vec![b.warning_at(
            pos,
            format!(
                "secret `{}` is declared in {} stores ({}){note}: which one this binding reads \
                 depends on its store_id, which cannot be checked offline (`cfsecrets bindings` \
                 prints a store's id)",
                shown(name),
                present.len(),
                places.join(", ")
            ),
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wrangler::{Format, read};
    use std::path::Path;

    const STORE: &str = "0123456789abcdef0123456789abcdef";

    fn declared() -> Declared {
        let mut d = Declared {
            manifest: PathBuf::from("cfsecrets.yaml"),
            ..Declared::default()
        };
        let workers = || State::present(&["workers"]);
        d.add("STRIPE_KEY", "production", "main", workers());
        d.add(
            "AI_KEY",
            "production",
            "main",
            State::present(&["ai_gateway"]),
        );
        d.add("OLD_TOKEN", "production", "main", State::Absent);
        d.add(
            "LEGACY",
            "production",
            "main",
            State::RenamedTo("MODERN".into()),
        );
        d.add("MODERN", "production", "main", workers());
        d.add("SHARED", "production", "main", workers());
        d.add("SHARED", "staging", "main", workers());
        d.add("HALF", "production", "main", workers());
        d.add("HALF", "staging", "main", State::present(&["dex"]));
        d
    }

    fn check(toml: &str) -> Vec<String> {
        let (config, shape) = read::parse(Path::new("wrangler.toml"), toml, Format::Toml);
        assert!(shape.is_empty(), "{shape}");
        check_offline(&[config], &declared())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    /// Found by the wrangler fuzz target: an age identity pasted as a binding name was
    /// repeated (it is made of the characters names use); as a key, a store id or a secret
    /// name it is not shown either.
    #[test]
    fn an_identity_pasted_into_a_config_is_never_shown() {
        let k = "AGE-SECRET-KEY-1QFWZ3VGK8YX7M2NCJ9HDLTR5UPE6SA4Q0W3RZXF8GVKJ7Y2MNC9DLHTP5U";
        let text = format!(
            "secrets_store_secrets = [\n\
             {}  {{ binding = \"{k}\", store_id = \"{k}\", secret_name = \"{k}\", {k} = 1 }},\n]\n",
            entry(k, "STRIPE_KEY")
        );
        let (config, shape) = read::parse(Path::new("wrangler.toml"), &text, Format::Toml);
        let checked = check_offline(&[config], &declared());
        let all = format!("{shape}\n{checked}");
        assert!(checked.len() >= 3, "{all}");
        assert!(
            !all.to_ascii_uppercase().contains("AGE-SECRET-KEY"),
            "{all}"
        );
    }

    fn entry(binding: &str, secret: &str) -> String {
        format!(
            "  {{ binding = \"{binding}\", store_id = \"{STORE}\", secret_name = \"{secret}\" }},\n"
        )
    }

    #[test]
    fn a_sound_binding_passes() {
        let text = format!(
            "secrets_store_secrets = [\n{}]\n",
            entry("STRIPE", "STRIPE_KEY")
        );
        assert_eq!(check(&text), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_reported_at_its_value() {
        let text = format!(
            "secrets_store_secrets = [\n{}{}{}{}{}{}]\n",
            entry("class", "STRIPE_KEY"),
            entry("A", "STRIPE_KEYS"),
            entry("B", "AI_KEY"),
            entry("C", "OLD_TOKEN"),
            entry("D", "LEGACY"),
            entry("A", "NOWHERE"),
        );
        let got = check(&text);
        assert_eq!(
            got,
            [
                "wrangler.toml:2:15: error: binding name `class` is not a JavaScript identifier: it is a reserved word in JavaScript",
                "wrangler.toml:3:81: error: secret `STRIPE_KEYS` is not declared in cfsecrets.yaml; did you mean `STRIPE_KEY`?",
                "wrangler.toml:4:81: error: secret `AI_KEY` lacks the `workers` scope (production/main: ai_gateway): a Worker cannot read it; add `workers` to its scopes in cfsecrets.yaml",
                "wrangler.toml:5:81: error: secret `OLD_TOKEN` is declared `ensure: absent` in cfsecrets.yaml (production/main): the binding would fail",
                "wrangler.toml:6:81: error: secret `LEGACY` is renamed to `MODERN` in cfsecrets.yaml (production/main): bind `MODERN`",
                "wrangler.toml:7:15: error: binding name `A` is repeated in the top level (first at line 3)",
                "wrangler.toml:7:81: error: secret `NOWHERE` is not declared in cfsecrets.yaml",
            ]
        );
    }

    #[test]
    fn the_shape_checks_leave_the_secrets_to_the_live_check() {
        let text = format!(
            "secrets_store_secrets = [\n{}{}{}{}]\n",
            entry("class", "STRIPE_KEY"),
            entry("A", "OLD_TOKEN"),
            entry("A", "NOWHERE"),
            "  { binding = \"B\", store_id = \"\", secret_name = \"sk live\" },\n",
        );
        let (config, shape) = read::parse(Path::new("wrangler.toml"), &text, Format::Toml);
        assert!(shape.is_empty(), "{shape}");
        let got: Vec<String> = check_shapes(&[config])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            got,
            [
                "wrangler.toml:2:15: error: binding name `class` is not a JavaScript identifier: it is a reserved word in JavaScript",
                "wrangler.toml:4:15: error: binding name `A` is repeated in the top level (first at line 3)",
                "wrangler.toml:5:31: error: `store_id` is empty",
                "wrangler.toml:5:49: error: `secret_name` is not a secret name (letters, digits, `-` and `_`); its text is not repeated here",
            ]
        );
    }

    #[test]
    fn environments_are_separate_and_each_is_checked() {
        let text = format!(
            "secrets_store_secrets = [\n{}]\n\
             [env.staging]\nsecrets_store_secrets = [\n{}{}]\n\
             [env.dev]\nsecrets_store_secrets = [\n{}]\n",
            entry("STRIPE", "STRIPE_KEY"),
            entry("STRIPE", "STRIPE_KEY"),
            entry("STRIPE", "AI_KEY"),
            entry("STRIPE", "MISSING"),
        );
        // The top level's STRIPE does not clash with staging's; staging's second one does.
        assert_eq!(
            check(&text),
            [
                "wrangler.toml:7:15: error: binding name `STRIPE` is repeated in env `staging` (first at line 6)",
                "wrangler.toml:7:86: error: secret `AI_KEY` lacks the `workers` scope (production/main: ai_gateway): a Worker cannot read it; add `workers` to its scopes in cfsecrets.yaml",
                "wrangler.toml:11:86: error: secret `MISSING` is not declared in cfsecrets.yaml",
            ]
        );
    }

    #[test]
    fn text_that_may_be_a_pasted_value_is_never_repeated() {
        let text = "secrets_store_secrets = [\n\
            { binding = \"p@ss w0rd\", store_id = \"hunter2 hunter2\", secret_name = \"sk live/4242\" },\n]\n";
        let got = check(text).join("\n");
        for value in ["p@ss", "hunter2", "sk live", "4242"] {
            assert!(!got.contains(value), "{value} repeated:\n{got}");
        }
        assert_eq!(
            check(text),
            [
                "wrangler.toml:2:13: error: binding name is not a JavaScript identifier: it contains `@` (use ASCII letters, digits, `_` and `$`)",
                "wrangler.toml:2:37: warning: `store_id` does not look like a store id: 32 lowercase hexadecimal characters, found 15 characters (`cfsecrets bindings` prints it)",
                "wrangler.toml:2:70: error: `secret_name` is not a secret name (letters, digits, `-` and `_`); its text is not repeated here",
            ]
        );
    }

    #[test]
    fn ambiguous_names_warn_and_bad_store_ids_are_named() {
        let text = "secrets_store_secrets = [\n\
            { binding = \"S\", store_id = \"0123456789abcdef0123456789abcdef\", secret_name = \"SHARED\" },\n\
            { binding = \"H\", store_id = \"not-an-id\", secret_name = \"HALF\" },\n\
            { binding = \"E\", store_id = \"\", secret_name = \"STRIPE_KEY\" },\n]\n";
        let got = check(text);
        assert_eq!(
            got,
            [
                "wrangler.toml:2:79: warning: secret `SHARED` is declared in 2 stores (production/main, staging/main): which one this binding reads depends on its store_id, which cannot be checked offline (`cfsecrets bindings` prints a store's id)",
                "wrangler.toml:3:29: warning: `store_id` does not look like a store id: 32 lowercase hexadecimal characters, found 9 characters (`cfsecrets bindings` prints it)",
                "wrangler.toml:3:56: warning: secret `HALF` is declared in 2 stores (production/main, staging/main); only production/main gives it the `workers` scope: which one this binding reads depends on its store_id, which cannot be checked offline (`cfsecrets bindings` prints a store's id)",
                "wrangler.toml:4:29: error: `store_id` is empty",
            ]
        );
    }
}
