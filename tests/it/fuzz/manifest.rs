//! The manifest reader (`manifest::parse`, and `manifest::load` for bytes that may not be
//! UTF-8): every input gives the desired state or at least one error, each diagnostic inside
//! the input, printable, and free of any age identity pasted into it. A manifest that passes
//! is planned against an empty account, and the plan renders printable.

use std::path::Path;

use cfsecrets::live::LiveState;
use cfsecrets::manifest::{self, FileCheck, Parsed};
use cfsecrets::output::Palette;
use cfsecrets::plan::{self, PlanOptions, ValueFacts, render};
use proptest::prelude::*;
use proptest::sample::select;

use super::{IDENTITY, apply, bytes, config, edits, inside, no_identity, printable};

const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";

/// Every shape the manifest allows, valid as written.
const FULL: &str = "version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults:
  scopes: &sc [workers, ai_gateway]
safety: { max_deletes: 5, max_delete_percent: 30, min_existing: 10 }
accounts:
  staging:
    account_id: 00112233445566778899aabbccddeeff
    stores:
      s1:
        prune: all
        secrets: {}
  production:
    stores:
      default_secrets_store:
        prune: owned
        secrets:
          STRIPE_KEY: { value: values/a.age, scopes: [ai_gateway, workers], comment: live key }
          OPENAI_KEY: { value: { bundle: values/prod.env.age, key: OPENAI_KEY } }
          SENDGRID_KEY: { renamed_from: SENDGRID_API_KEY, value: keep, protect: true }
          OLD_TOKEN: { ensure: absent }
          DB_URL:
            value: values/b.age
            scopes: *sc
            comment: |
              a block comment
              on two lines
          \"QUOTED-1\": { value: 'values/q.age', ensure: present, protect: false }
";

const SEEDS: &[&str] = &[
    FULL,
    include_str!("../../../examples/multi-account/cfsecrets.yaml"),
    include_str!("../../../examples/small/cfsecrets.yaml"),
    include_str!("../../../examples/quickstart/cfsecrets.yaml"),
];

/// The manifest's own words and YAML's.
const TOKENS: &[&str] = &[
    "version: 1\n",
    "accounts:",
    "stores:",
    "secrets:",
    "value: ",
    "value: keep",
    "{ bundle: b.env.age, key: K }",
    "scopes: [workers]",
    "ensure: absent",
    "renamed_from: ",
    "protect: true",
    "prune: none",
    "comment: ",
    "account_id: ",
    "defaults:",
    "safety:",
    "max_deletes: ",
    "max_delete_percent: 101",
    "min_existing: -1",
    "recipients_file: ",
    "fingerprint_key: ",
    "values/a.age",
    "../outside.age",
    "/etc/passwd.age",
    "0123456789abcdef0123456789abcdef",
    "- ",
    "? ",
    ": ",
    "&a ",
    "*a",
    "*undefined",
    "<<: *sc",
    "!!str ",
    "!!binary ",
    "!custom ",
    "|",
    "|-\n",
    ">+\n",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n",
    "\"\\u202e\"",
    "\"\\x1b\"",
    "'it''s'",
    ".nan",
    ".inf",
    "~",
    "0o17",
    "A",
    "A: { value: values/a.age }\n",
    IDENTITY,
    IDENTITY,
    IDENTITY,
    "\"AGE-SECRET-KEY-1QFWZ\\u0033VGK\"",
];

/// Says every path exists (so sound manifests go on to every later check), or none.
struct Files(bool);

impl FileCheck for Files {
    fn is_file(&self, _: &Path) -> bool {
        self.0
    }
}

/// What must hold of what the reader made of `text`.
fn check(text: &str, parsed: Parsed) -> Result<(), TestCaseError> {
    let errors = parsed.diagnostics.error_count();
    prop_assert_eq!(
        parsed.desired.is_some(),
        errors == 0,
        "a desired state goes with no error, and only then"
    );
    for d in parsed.diagnostics.iter() {
        let message = d.to_string();
        prop_assert!(!d.message.trim().is_empty(), "an empty message: {message}");
        inside(text, d.line, d.column, &message)?;
        printable(&message)?;
        no_identity(&message, text)?;
    }
    if let Some(desired) = parsed.desired {
        let plan = plan::diff(
            &desired,
            &LiveState::default(),
            &ValueFacts::NotCompared,
            &PlanOptions::default(),
        );
        for line in render::text(&plan, &Palette::PLAIN).lines() {
            printable(line)?;
        }
    }
    Ok(())
}

fn parse(text: &str, env: bool, files: bool) -> Parsed {
    manifest::parse(
        Path::new("m.yaml"),
        text,
        Path::new("base"),
        env.then_some(ACCOUNT),
        &Files(files),
    )
}

proptest! {
    #![proptest_config(config(400, false))]

    #[test]
    fn broken_manifests_are_diagnosed(
        seed in select(SEEDS),
        edits in edits(&[TOKENS]),
        env in any::<bool>(),
        files in any::<bool>(),
    ) {
        let text = apply(seed, &edits);
        check(&text, parse(&text, env, files))?;
    }

    #[test]
    fn any_text_is_diagnosed(text in any::<String>(), files in any::<bool>()) {
        check(&text, parse(&text, false, files))?;
    }
}

proptest! {
    #![proptest_config(config(64, false))]

    /// Bytes that may not be UTF-8, through the file reader.
    #[test]
    fn any_bytes_are_diagnosed(bytes in bytes()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.yaml");
        std::fs::write(&path, &bytes).unwrap();
        let parsed = manifest::load(&path, None);
        match std::str::from_utf8(&bytes) {
            Ok(text) => check(text, parsed)?,
            Err(err) => {
                let all: Vec<_> = parsed.diagnostics.iter().collect();
                prop_assert_eq!(all.len(), 1);
                prop_assert!(parsed.desired.is_none());
                let valid = std::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap();
                inside(valid, all[0].line, all[0].column, &all[0].to_string())?;
                printable(&all[0].message)?;
            }
        }
    }
}

#[test]
fn the_seeds_are_sound() {
    for seed in SEEDS {
        let parsed = parse(seed, true, true);
        assert!(parsed.desired.is_some(), "{}", parsed.diagnostics);
    }
}
