//! The manifest: every validation rule, the full diagnostic output of a broken manifest
//! (snapshot), the schema against its committed copy, and `check` on the shipped examples.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use cfsecrets::domain::{AccountId, Scope, SecretName};
use cfsecrets::manifest::{
    self, Desired, DesiredSecret, Diagnostics, FileCheck, Prune, Safety, ValueSource,
};

use crate::docs::repo;

/// Files that "exist", relative to the base directory `base`.
struct Files(BTreeSet<PathBuf>);

impl Files {
    fn standard() -> Self {
        Self::with(&[])
    }

    fn with(extra: &[&str]) -> Self {
        let mut files: BTreeSet<PathBuf> = [
            ".age-recipients",
            "keys/fingerprint.age",
            "values/a.age",
            "values/b.age",
            "values/prod.env.age",
            "values/shared.yaml.age",
        ]
        .iter()
        .map(|f| Path::new("base").join(f))
        .collect();
        files.extend(extra.iter().map(|f| Path::new("base").join(f)));
        Self(files)
    }
}

impl FileCheck for Files {
    fn is_file(&self, path: &Path) -> bool {
        self.0.contains(path)
    }
}

/// The desired state of a manifest without any problem (no warning either), or every
/// diagnostic of one with an error.
fn parse_with(yaml: &str, env: Option<&str>, files: &Files) -> Result<Desired, Diagnostics> {
    manifest::parse(Path::new("m.yaml"), yaml, Path::new("base"), env, files)
        .into_result()
        .map(|(desired, warnings)| {
            assert!(warnings.is_empty(), "{warnings}");
            desired
        })
}

fn parse(yaml: &str) -> Result<Desired, Diagnostics> {
    parse_with(yaml, None, &Files::standard())
}

/// The diagnostics of an invalid manifest, one `m.yaml:L:C: error: …` string each.
fn errors(yaml: &str) -> Vec<String> {
    errors_with(yaml, None, &Files::standard())
}

fn errors_with(yaml: &str, env: Option<&str>, files: &Files) -> Vec<String> {
    match parse_with(yaml, env, files) {
        Ok(_) => panic!("expected diagnostics for:\n{yaml}"),
        Err(diags) => diags.iter().map(|d| d.to_string()).collect(),
    }
}

/// Asserts exactly one diagnostic, at `line:col`, whose message contains `needle`.
#[track_caller]
fn assert_one(yaml: &str, at: &str, needle: &str) {
    let all = errors(yaml);
    assert_eq!(all.len(), 1, "expected one diagnostic, got {all:#?}");
    let prefix = format!("m.yaml:{at}: error: ");
    assert!(
        all[0].starts_with(&prefix) && all[0].contains(needle),
        "expected `{prefix}…{needle}…`, got {:?}",
        all[0]
    );
}

const HEAD: &str = "version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults:
  scopes: [workers]
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      main:
        secrets:
";

/// A manifest whose one store holds `secrets` (each line indented by 10 spaces). The first
/// secret line is line 12.
fn with_secrets(secrets: &[&str]) -> String {
    let mut text = HEAD.to_string();
    for line in secrets {
        text.push_str("          ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn name(s: &str) -> SecretName {
    SecretName::parse(s).unwrap()
}

// ── a valid manifest ────────────────────────────────────────────────────────────────────

#[test]
fn a_valid_manifest_becomes_the_desired_state() {
    let yaml = "version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults: { scopes: [workers] }
safety: { max_deletes: 5 }
accounts:
  staging:
    account_id: 00112233445566778899aabbccddeeff
    stores:
      s1:
        prune: none
        secrets: {}
  production:
    stores:
      default_secrets_store:
        secrets:
          STRIPE_KEY: { value: values/a.age, scopes: [ai_gateway, workers], comment: live key }
          OPENAI_KEY: { value: { bundle: values/prod.env.age, key: OPENAI_KEY } }
          SENDGRID_KEY: { renamed_from: SENDGRID_API_KEY, value: keep, protect: true }
          OLD_TOKEN: { ensure: absent }
          DB_URL: { value: values/b.age, comment: '' }
";
    let env = "0123456789abcdef0123456789abcdef";
    let desired = parse_with(yaml, Some(env), &Files::standard()).expect("valid");
    assert_eq!(desired.base_dir, Path::new("base"));
    assert_eq!(desired.recipients_file, Path::new("base/.age-recipients"));
    assert_eq!(
        desired.fingerprint_key,
        Path::new("base/keys/fingerprint.age")
    );
    assert_eq!(
        desired.safety,
        Safety {
            max_deletes: Some(5),
            max_delete_percent: Some(30),
            min_existing: 10
        }
    );
    let labels: Vec<_> = desired.accounts.iter().map(|a| a.label.as_str()).collect();
    assert_eq!(labels, ["staging", "production"], "manifest order is kept");
    assert_eq!(desired.accounts[0].stores[0].prune, Prune::None);
    let prod = &desired.accounts[1];
    assert_eq!(prod.account_id, AccountId::parse(env).unwrap());
    let store = &prod.stores[0];
    assert_eq!(store.prune, Prune::Owned);
    assert_eq!(store.secrets.len(), 5);

    let DesiredSecret::Present(stripe) = &store.secrets[&name("STRIPE_KEY")] else {
        panic!("STRIPE_KEY is present")
    };
    assert_eq!(stripe.value, ValueSource::File("base/values/a.age".into()));
    assert_eq!(stripe.scopes, [Scope::AiGateway, Scope::Workers].into());
    assert_eq!(stripe.comment.as_deref(), Some("live key"));
    assert!(!stripe.protect);

    let DesiredSecret::Present(openai) = &store.secrets[&name("OPENAI_KEY")] else {
        panic!("OPENAI_KEY is present")
    };
    assert_eq!(
        openai.value,
        ValueSource::Bundle {
            path: "base/values/prod.env.age".into(),
            key: "OPENAI_KEY".into()
        }
    );
    assert_eq!(
        openai.scopes,
        [Scope::Workers].into(),
        "defaults.scopes apply"
    );

    let DesiredSecret::Present(sendgrid) = &store.secrets[&name("SENDGRID_KEY")] else {
        panic!("SENDGRID_KEY is present")
    };
    assert_eq!(sendgrid.value, ValueSource::Keep);
    assert_eq!(sendgrid.renamed_from, Some(name("SENDGRID_API_KEY")));
    assert!(sendgrid.protect);

    assert_eq!(store.secrets[&name("OLD_TOKEN")], DesiredSecret::Absent);
    let DesiredSecret::Present(db) = &store.secrets[&name("DB_URL")] else {
        panic!("DB_URL is present")
    };
    assert_eq!(db.comment, None, "an empty comment means no comment");

    let counts = desired.counts();
    assert_eq!(
        (
            counts.accounts,
            counts.stores,
            counts.secrets,
            counts.absent,
            counts.kept
        ),
        (2, 2, 5, 1, 1)
    );
}

#[test]
fn parsing_is_deterministic() {
    let yaml = with_secrets(&["A: { value: values/a.age }", "B: { value: keep }"]);
    assert_eq!(parse(&yaml).unwrap(), parse(&yaml).unwrap());
}

// ── the parser's rules: syntax, unknown and duplicate keys, types ──────────────────────

#[test]
fn yaml_syntax_errors_are_located() {
    assert_one(
        &with_secrets(&["A: { value: values/a.age"]),
        "12:14",
        "unclosed bracket",
    );
}

#[test]
fn unknown_keys_are_rejected_with_the_expected_ones() {
    assert_one(
        &with_secrets(&["A: { valu: values/a.age }"]),
        "12:16",
        "unknown key `valu`; expected one of `value`, `scopes`",
    );
    let top = with_secrets(&["A: { value: keep }"]).replace("defaults:", "default:");
    assert_one(&top, "4:1", "unknown key `default`");
}

#[test]
fn keep_cannot_be_combined_with_a_bundle() {
    // `value` holds one thing; `keep` beside a bundle is an unknown key of the bundle.
    assert_one(
        &with_secrets(&["A: { value: { bundle: values/prod.env.age, key: K, keep: true } }"]),
        "12:62",
        "unknown key `keep`; expected one of `bundle`, `key`",
    );
    // And two `value` keys are a duplicate.
    assert_one(
        &with_secrets(&["A: { value: keep, value: values/a.age }"]),
        "12:29",
        "duplicate key `value`",
    );
}

#[test]
fn duplicate_keys_are_rejected() {
    assert_one(
        &with_secrets(&["A: { value: keep }", "A: { value: keep }"]),
        "13:11",
        "duplicate key `A`",
    );
}

#[test]
fn syntax_errors_and_duplicate_keys_stop_the_run() {
    // Past a duplicate key the document cannot be trusted: the typo after it waits.
    assert_one(
        &with_secrets(&[
            "A: { value: keep }",
            "A: { value: keep }",
            "B: { valu: keep }",
        ]),
        "13:11",
        "duplicate key `A`",
    );
    assert_one(
        &with_secrets(&["A: { valu: keep }", "B: { value: keep"]),
        "13:14",
        "unclosed bracket",
    );
}

#[test]
fn wrong_types_are_rejected() {
    assert_one(
        &with_secrets(&["A: { value: [values/a.age] }"]),
        "12:23",
        "wrong type for `value`",
    );
    assert_one(
        &with_secrets(&["A: { value: keep, protect: maybe }"]),
        "12:38",
        "wrong type",
    );
    assert_one(
        &with_secrets(&["A: { ensure: gone }"]),
        "12:24",
        "unknown value `gone`; expected one of `present`, `absent`",
    );
    assert_one(
        &with_secrets(&["A: { value: keep }"]).replace("version: 1", "version: one"),
        "1:10",
        "an integer",
    );
}

#[test]
fn structural_problems_do_not_hide_each_other_or_the_rest() {
    // Three misspelled keys in three secrets, a string where a list belongs, a bad account
    // id in another account, a key misspelled at the top: one run reports every one of them.
    let yaml = "version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
default:
  scopes: [workers]
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      main:
        secrets:
          A: { valu: values/a.age }
          B: { value: keep, scope: [workers] }
          C: { value: keep, renamedFrom: OLD }
          D: { value: keep, scopes: workers }
  staging:
    account_id: 0123456789ABCDEF
    stores:
      main: { secrets: { E: { value: values/nope.age } } }
";
    let keys = "`value`, `scopes`, `comment`, `protect`, `renamed_from`, `ensure`";
    assert_eq!(
        errors(yaml),
        [
            "m.yaml:4:1: error: unknown key `default`; expected one of `version`, `recipients_file`, `fingerprint_key`, `defaults`, `safety`, `accounts`; did you mean `defaults`?".to_string(),
            format!("m.yaml:12:16: error: unknown key `valu`; expected one of {keys}; did you mean `value`?"),
            format!("m.yaml:13:29: error: unknown key `scope`; expected one of {keys}; did you mean `scopes`?"),
            format!("m.yaml:14:29: error: unknown key `renamedFrom`; expected one of {keys}; did you mean `renamed_from`?"),
            "m.yaml:15:37: error: wrong type for `scopes`: expected a list of scopes (e.g. `[workers]`), found a string".to_string(),
            "m.yaml:17:17: error: account `staging`: account id must be 32 lowercase hex characters, got 16 characters".to_string(),
            "m.yaml:19:38: error: value file `values/nope.age` of secret `E` does not exist".to_string(),
        ]
    );
}

#[test]
fn a_misspelled_required_key_is_not_also_missing() {
    let yaml = with_secrets(&["A: { value: keep }"]).replace("    stores:", "    store:");
    assert_one(
        &yaml,
        "9:5",
        "unknown key `store`; expected one of `account_id`, `stores`; did you mean `stores`?",
    );
    let yaml = with_secrets(&["A: { value: keep }"]).replace("    stores:", "    shops:");
    let all = errors(&yaml);
    assert_eq!(
        all,
        [
            "m.yaml:7:3: error: missing key `stores` in account `prod`",
            "m.yaml:9:5: error: unknown key `shops`; expected one of `account_id`, `stores`",
        ]
    );
}

#[test]
fn wrong_types_and_missing_keys_are_all_reported() {
    let yaml = with_secrets(&[
        "A: { value: { bundle: values/prod.env.age } }",
        "B: { value: keep, protect: maybe, comment: [x] }",
        "C: keep",
        "D: { value: 12 }",
        "E: { value: keep, scopes: [workers, [dex]] }",
    ])
    .replace("version: 1", "version: \"1\"")
    .replace("recipients_file: .age-recipients\n", "");
    assert_eq!(
        errors(&yaml),
        [
            "m.yaml:1:1: error: missing key `recipients_file`",
            "m.yaml:11:23: error: missing key `key` in the bundle value",
            "m.yaml:12:38: error: wrong type for `protect`: expected `true` or `false`, found a string",
            "m.yaml:12:54: error: wrong type for `comment`: expected a string, found a list",
            "m.yaml:13:14: error: wrong type for secret `C`: expected a map such as `{ value: … }`, found a string",
            "m.yaml:14:23: error: wrong type for `value`: expected a file path, `keep`, or a map `{ bundle, key }`, found an integer",
            "m.yaml:15:47: error: wrong type for an item of `scopes`: expected a scope name, found a list",
        ]
    );
}

#[test]
fn what_the_typed_parse_accepts_stays_accepted() {
    // Quoted numbers and booleans, numbers as strings, and nulls for optional keys.
    let yaml = with_secrets(&[
        "A: { value: keep, protect: \"true\", comment: 123, scopes: ~ }",
        "B: { value: { bundle: values/prod.env.age, key: 42 }, renamed_from: ~ }",
    ])
    .replace("version: 1", "version: \"1\"")
    .replace(
        "defaults:\n  scopes: [workers]",
        "defaults:\n  scopes: [workers]\nsafety:",
    );
    let desired = parse(&yaml).unwrap();
    let store = &desired.accounts[0].stores[0];
    let DesiredSecret::Present(a) = &store.secrets[&name("A")] else {
        panic!("A is present")
    };
    assert!(a.protect);
    assert_eq!(a.comment.as_deref(), Some("123"));
}

#[test]
fn missing_required_keys_are_rejected() {
    let yaml = with_secrets(&["A: { value: keep }"])
        .replace("fingerprint_key: keys/fingerprint.age\n", "");
    let all = errors(&yaml);
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(all[0].contains("missing key `fingerprint_key`"), "{all:?}");
}

// ── version, files ─────────────────────────────────────────────────────────────────────

#[test]
fn only_version_1_is_supported() {
    let yaml = with_secrets(&["A: { value: keep }"]).replace("version: 1", "version: 2");
    assert_one(&yaml, "1:10", "unsupported manifest version 2");
}

#[test]
fn missing_files_are_reported_each_at_its_place() {
    let yaml = with_secrets(&[
        "A: { value: values/missing.age }",
        "B: { value: { bundle: values/missing.env.age, key: K } }",
    ]);
    let only_keys = Files(
        [Path::new("base/keys/fingerprint.age").to_path_buf()]
            .into_iter()
            .collect(),
    );
    let all = errors_with(&yaml, None, &only_keys);
    assert_eq!(
        all,
        [
            "m.yaml:2:18: error: recipients file `.age-recipients` does not exist",
            "m.yaml:12:23: error: value file `values/missing.age` of secret `A` does not exist",
            "m.yaml:13:23: error: bundle file `values/missing.env.age` of secret `B` does not exist",
        ]
    );
    let no_key = Files::standard();
    let yaml = HEAD.replace("keys/fingerprint.age", "keys/other.age");
    let yaml = format!("{yaml}          A: {{ value: keep }}\n");
    let all = errors_with(&yaml, None, &no_key);
    assert_eq!(
        all,
        ["m.yaml:3:18: error: fingerprint key file `keys/other.age` does not exist"]
    );
}

#[test]
fn bundles_need_a_known_format_and_a_key() {
    assert_one(
        &with_secrets(&["A: { value: { bundle: values/a.age, key: K } }"]),
        "12:23",
        "must end in .env.age, .yaml.age or .yml.age",
    );
    assert_one(
        &with_secrets(&["A: { value: { bundle: values/shared.yaml.age, key: '' } }"]),
        "12:23",
        "secret `A` has an empty bundle key",
    );
}

#[test]
fn keep_is_lowercase_only() {
    assert_one(
        &with_secrets(&["A: { value: Keep }"]),
        "12:23",
        "write `keep` in lowercase",
    );
}

#[test]
fn a_value_that_is_not_a_sealed_path_is_refused_without_being_repeated() {
    let yaml = with_secrets(&["A: { value: sk_live_pasted_by_mistake_91 }"]);
    assert_one(&yaml, "12:23", "must be a sealed file ending in `.age`");
    assert!(
        !errors(&yaml)[0].contains("sk_live_pasted_by_mistake_91"),
        "the text is never repeated"
    );
}

// ── secrets ────────────────────────────────────────────────────────────────────────────

#[test]
fn secret_names_follow_the_pattern_and_length_limit() {
    assert_one(
        &with_secrets(&["'has space': { value: keep }"]),
        "12:11",
        "invalid secret name `has space`",
    );
    let long = "a".repeat(256);
    assert_one(
        &with_secrets(&[&format!("{long}: {{ value: keep }}")]),
        "12:11",
        "256 characters long; the limit is 255",
    );
    let ok = "a".repeat(255);
    assert!(parse(&with_secrets(&[&format!("{ok}: {{ value: keep }}")])).is_ok());
}

#[test]
fn a_present_secret_needs_a_value() {
    assert_one(
        &with_secrets(&["A: { scopes: [workers] }"]),
        "12:11",
        "secret `A` has no `value`",
    );
    assert_one(
        &with_secrets(&["A: { ensure: present }"]),
        "12:11",
        "secret `A` has no `value`",
    );
}

#[test]
fn ensure_absent_stands_alone() {
    assert_one(
        &with_secrets(&["A: { ensure: absent, value: keep, comment: x }"]),
        "12:24",
        "allows no other key (found `value`, `comment`)",
    );
    assert_one(
        &with_secrets(&["A: { ensure: absent, protect: false }"]),
        "12:24",
        "(found `protect`)",
    );
    assert!(parse(&with_secrets(&["A: { ensure: absent }"])).is_ok());
}

#[test]
fn scopes_must_be_known_non_empty_and_unique() {
    assert_one(
        &with_secrets(&["A: { value: keep, scopes: [ai-gateway] }"]),
        "12:38",
        "unknown scope `ai-gateway`; did you mean `ai_gateway`?",
    );
    assert_one(
        &with_secrets(&["A: { value: keep, scopes: [kv] }"]),
        "12:38",
        "unknown scope `kv`; expected one of `access`, `ai_gateway`",
    );
    assert_one(
        &with_secrets(&["A: { value: keep, scopes: [] }"]),
        "12:37",
        "secret `A` has an empty scope list",
    );
    assert_one(
        &with_secrets(&["A: { value: keep, scopes: [dex, dex] }"]),
        "12:43",
        "scope `dex` is listed twice",
    );
    let yaml = with_secrets(&["A: { value: keep }"]).replace("scopes: [workers]", "scopes: []");
    assert_one(&yaml, "5:11", "defaults.scopes has an empty scope list");
}

#[test]
fn a_secret_without_scopes_needs_defaults() {
    let yaml =
        with_secrets(&["A: { value: keep }"]).replace("defaults:\n  scopes: [workers]\n", "");
    assert_one(
        &yaml,
        "10:11",
        "secret `A` names no scopes and `defaults.scopes` is not set",
    );
}

// ── renames ────────────────────────────────────────────────────────────────────────────

#[test]
fn a_rename_target_must_not_be_declared() {
    assert_one(
        &with_secrets(&[
            "NEW: { renamed_from: OLD, value: keep }",
            "OLD: { value: keep }",
        ]),
        "12:32",
        "secret `NEW` is renamed from `OLD`, which is also declared in this store",
    );
    assert_one(
        &with_secrets(&[
            "NEW: { renamed_from: OLD, value: keep }",
            "OLD: { ensure: absent }",
        ]),
        "12:32",
        "also declared in this store (with `ensure: absent`)",
    );
}

#[test]
fn two_secrets_cannot_rename_from_the_same_name() {
    assert_one(
        &with_secrets(&[
            "A: { renamed_from: OLD, value: keep }",
            "B: { renamed_from: OLD, value: keep }",
        ]),
        "13:30",
        "secrets `A` and `B` are both renamed from `OLD`",
    );
}

#[test]
fn renames_cannot_chain() {
    assert_one(
        &with_secrets(&[
            "C: { renamed_from: B, value: keep }",
            "B: { renamed_from: A, value: keep }",
        ]),
        "12:30",
        "secret `C` is renamed from `B`, which is itself renamed from `A`; renames cannot chain",
    );
}

#[test]
fn rename_cycles_are_reported_once() {
    assert_one(
        &with_secrets(&[
            "A: { renamed_from: B, value: keep }",
            "B: { renamed_from: C, value: keep }",
            "C: { renamed_from: A, value: keep }",
        ]),
        "12:30",
        "renames form a cycle: `A` → `B` → `C` → `A`",
    );
    assert_one(
        &with_secrets(&["A: { renamed_from: A, value: keep }"]),
        "12:30",
        "secret `A` is renamed from itself",
    );
}

#[test]
fn a_rename_source_must_be_a_valid_name() {
    assert_one(
        &with_secrets(&["A: { renamed_from: 'old name', value: keep }"]),
        "12:30",
        "renamed from an invalid name `old name`",
    );
}

#[test]
fn the_same_name_in_two_stores_is_fine() {
    let yaml = format!(
        "{}          A: {{ value: keep }}\n      other:\n        secrets:\n          A: {{ value: keep }}\n",
        HEAD
    );
    assert!(parse(&yaml).is_ok(), "{:?}", parse(&yaml).err());
}

// ── accounts, stores, safety ──────────────────────────────────────────────────────────

#[test]
fn account_ids_must_be_well_formed() {
    let yaml = with_secrets(&["A: { value: keep }"]).replace(
        "0123456789abcdef0123456789abcdef",
        "0123456789ABCDEF0123456789abcdef",
    );
    assert_one(
        &yaml,
        "8:17",
        "account `prod`: account id must be 32 lowercase hex",
    );
}

const TWO_ACCOUNTS: &str = "version: 1
recipients_file: .age-recipients
fingerprint_key: keys/fingerprint.age
defaults: { scopes: [workers] }
accounts:
  a:
    stores: { s: { secrets: {} } }
  b:
    stores: { s: { secrets: {} } }
";

#[test]
fn a_missing_account_id_comes_from_the_environment_for_one_account_only() {
    let env = "0123456789abcdef0123456789abcdef";
    let all = errors_with(TWO_ACCOUNTS, None, &Files::standard());
    assert_eq!(
        all,
        [
            "m.yaml:6:3: error: account `a` has no `account_id` and CLOUDFLARE_ACCOUNT_ID is not set",
            "m.yaml:8:3: error: account `b` has no `account_id` and CLOUDFLARE_ACCOUNT_ID is not set",
        ]
    );
    let all = errors_with(TWO_ACCOUNTS, Some(env), &Files::standard());
    assert_eq!(
        all,
        [
            "m.yaml:8:3: error: account `b` has no `account_id`; only one account may take it from CLOUDFLARE_ACCOUNT_ID, and `a` already does"
        ]
    );
    let one = TWO_ACCOUNTS.replace(
        "  b:\n    stores",
        "  b:\n    account_id: 00112233445566778899aabbccddeeff\n    stores",
    );
    let desired = parse_with(&one, Some(env), &Files::standard()).unwrap();
    assert_eq!(desired.accounts[0].account_id.as_str(), env);
    let all = errors_with(&one, Some("not-an-id"), &Files::standard());
    assert_eq!(all.len(), 1, "{all:?}");
    assert!(
        all[0].starts_with("m.yaml:6:3: error: account `a` takes its id from CLOUDFLARE_ACCOUNT_ID, which is malformed"),
        "{all:?}"
    );
}

#[test]
fn two_accounts_cannot_share_an_id() {
    let yaml = TWO_ACCOUNTS
        .replace(
            "  a:\n    stores",
            "  a:\n    account_id: 00112233445566778899aabbccddeeff\n    stores",
        )
        .replace(
            "  b:\n    stores",
            "  b:\n    account_id: 00112233445566778899aabbccddeeff\n    stores",
        );
    assert_one(
        &yaml,
        "10:17",
        "account `b` has the same account id as account `a`",
    );
}

#[test]
fn accounts_and_stores_must_not_be_empty() {
    let yaml = "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\naccounts: {}\n";
    assert_one(yaml, "4:11", "`accounts` is empty");
    let yaml = "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\naccounts:\n  a:\n    account_id: 0123456789abcdef0123456789abcdef\n    stores: {}\n";
    assert_one(yaml, "7:13", "account `a` has no stores");
}

#[test]
fn an_entry_with_an_empty_body_is_called_empty_and_nothing_more() {
    let yaml = "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\n\
                accounts:\n  prod:\n";
    assert_one(
        yaml,
        "5:3",
        "account `prod` is empty; expected a map with `stores` and optionally `account_id`",
    );
    assert_one(
        &with_secrets(&["A:"]),
        "12:11",
        "secret `A` is empty; expected a map such as `{ value: … }`",
    );
}

#[test]
fn labels_and_store_names_are_single_path_segments() {
    let yaml = with_secrets(&["A: { value: keep }"]).replace("  prod:", "  '../prod':");
    assert_one(&yaml, "7:3", "account label `../prod` must not contain `/`");
    let yaml = with_secrets(&["A: { value: keep }"]).replace("      main:", "      '..':");
    assert_one(
        &yaml,
        "10:7",
        "store name `..` of account `prod` must not contain",
    );
    let yaml = with_secrets(&["A: { value: keep }"]).replace("      main:", "      '':");
    assert_one(&yaml, "10:7", "store name `` of account `prod` is empty");
}

#[test]
fn safety_numbers_must_be_in_range() {
    let base = with_secrets(&["A: { value: keep }"]);
    let with =
        |safety: &str| base.replacen("accounts:", &format!("safety: {safety}\naccounts:"), 1);
    assert_one(
        &with("{ max_delete_percent: 101 }"),
        "6:31",
        "safety.max_delete_percent must be between 0 and 100, got 101",
    );
    assert_one(
        &with("{ max_deletes: -1 }"),
        "6:24",
        "safety.max_deletes must be between 0 and 4294967295, got -1",
    );
    assert_one(
        &with("{ min_existing: 4294967296 }"),
        "6:25",
        "safety.min_existing must be between 0 and 4294967295",
    );
    let desired = parse(&with("{ max_delete_percent: 0, min_existing: 0 }")).unwrap();
    assert_eq!(
        desired.safety,
        Safety {
            max_deletes: None,
            max_delete_percent: Some(0),
            min_existing: 0
        }
    );
    assert_eq!(parse(&base).unwrap().safety, Safety::default());
}

// ── all at once ───────────────────────────────────────────────────────────────────────

const MANY_ERRORS: &str = "version: 2
recipients_file: .age-recipients
fingerprint_key: keys/missing.age
defaults:
  scopes: []
safety:
  max_delete_percent: 150
  max_deletes: -1
accounts:
  prod:
    account_id: 0123456789ABCDEF0123456789abcdef
    stores:
      main:
        secrets:
          \"bad name\":
            value: keep
          A: { value: values/nope.age, scopes: [ai-gateway, workers, workers, kv] }
          B: { ensure: absent, value: keep }
          C: { renamed_from: D, value: keep }
          D: { renamed_from: C, value: keep }
          E: { renamed_from: B, value: keep }
          F: { renamed_from: G, value: keep }
          H: { renamed_from: F, value: keep }
          I: { renamed_from: X, value: keep }
          J: { renamed_from: X, value: { bundle: b.txt, key: \"\" } }
          K: { scopes: [workers] }
          L: { value: Keep }
          M: { value: keep, scope: [workers] }
          N: { value: keep, protect: maybe, comment: [x] }
          O: keep
  staging:
    stores: {}
  dup2:
    account_id: 00112233445566778899aabbccddeeff
    stores:
      s: { secrets: {} }
  dup3:
    account_id: 00112233445566778899aabbccddeeff
    stores:
      s: { secrets: {} }
  qa:
    account_id: not-an-id
    store:
      s: { secrets: {} }
colour: blue
";

#[test]
fn every_problem_is_reported_in_one_run_sorted_by_position() {
    let diags = parse(MANY_ERRORS).unwrap_err();
    let positions: Vec<_> = diags.iter().map(|d| (d.line, d.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert_eq!(diags.error_count(), diags.len());
    insta::assert_snapshot!(diags.to_string());
}

// ── what the fuzz target found (tests/it/fuzz/manifest.rs) ───────────────────────────

/// An age identity, pasted where it does not belong.
const PASTED_KEY: &str =
    "AGE-SECRET-KEY-1QFWZ3VGK8YX7M2NCJ9HDLTR5UPE6SA4Q0W3RZXF8GVKJ7Y2MNC9DLHTP5U";

/// An age identity pasted where a key, a name, a path or a scope belongs was repeated in
/// the diagnostic (an account label in full, a duplicate key in full).
#[test]
fn an_identity_pasted_anywhere_in_a_manifest_is_never_shown() {
    let k = PASTED_KEY;
    let text = format!(
        "version: 1
recipients_file: .age-recipients
fingerprint_key: {k}
accounts:
  prod:
    account_id: 0123456789abcdef0123456789abcdef
    stores:
      main:
        secrets:
          A: {{ value: {k} }}
          B: {{ value: {{ bundle: {k}.env.age, key: {k} }} }}
          {k}: {{ value: values/a.age }}
          C: {{ value: values/a.age, comment: x, scopes: [{k}], {k}: 1 }}
          D: {{ value: values/a.age, renamed_from: {k}, ensure: {k}, protect: {k} }}
  {k}:
    stores: {{}}
"
    );
    let duplicate = format!("version: 1\n{k}: 1\n{k}: 2\n");
    for (text, at_least) in [(text, 10), (duplicate, 1)] {
        let all = errors(&text).join("\n");
        assert!(all.lines().count() >= at_least, "{all}");
        assert!(
            all.contains("<not shown: it looks like a private key>"),
            "{all}"
        );
        assert!(
            !all.to_ascii_uppercase().contains("AGE-SECRET-KEY"),
            "{all}"
        );
    }
}

/// About 50 levels of nested maps overflowed a 2 MiB stack (a test thread's, a tokio
/// worker's) in a debug build; the YAML reader's own limit was 64. The manifest's is 16,
/// and is said in words.
#[test]
fn deep_nesting_is_refused_in_words_on_a_small_stack() {
    let deep = |open: &str, close: &str, n: usize| {
        format!("version: 1\nx: {}1{}\n", open.repeat(n), close.repeat(n))
    };
    let texts = [
        deep("{a: ", "}", 60),
        deep("[", "]", 60),
        deep("{a: [", "]}", 30),
        deep("{a: ", "}", 5_000),
    ];
    let all = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || texts.iter().map(|text| errors(text)).collect::<Vec<_>>())
        .unwrap()
        .join()
        .expect("no stack overflow");
    for errors in all {
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("m.yaml:2:")
                && errors[0].ends_with(
                    ": error: the document is too large or too complex to read: nested more \
                     than 16 levels deep"
                ),
            "{errors:?}"
        );
    }
    // The deepest a manifest goes still reads.
    let deepest =
        with_secrets(&["A: { value: { bundle: values/prod.env.age, key: K }, scopes: [workers] }"]);
    assert!(parse(&deepest).is_ok());
}

// ── files on disk, the binary ─────────────────────────────────────────────────────────

fn cfsecrets() -> Command {
    let mut cmd = crate::support::bin();
    cmd.current_dir(repo());
    cmd
}

#[test]
fn load_reports_an_unreadable_manifest() {
    let diags = manifest::load(Path::new("does/not/exist.yaml"), None)
        .into_result()
        .unwrap_err();
    assert_eq!(
        diags.to_string(),
        "does/not/exist.yaml: error: cannot read the manifest: file not found"
    );
}

/// The line and column `load` gives the first byte that is not UTF-8.
fn bad_byte_at(bytes: &[u8]) -> (u64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.yaml");
    std::fs::write(&path, bytes).unwrap();
    let diags = manifest::load(&path, None).into_result().unwrap_err();
    let d = diags.iter().next().expect("a diagnostic");
    assert!(d.message.contains("not valid UTF-8"), "{d}");
    (d.line, d.column)
}

/// Found by the fuzz target: a carriage return ends a line for YAML (and for every other
/// diagnostic), but the position of a bad byte after one was counted on the line before.
#[test]
fn a_bad_byte_after_a_carriage_return_is_placed_as_yaml_counts_lines() {
    assert_eq!(bad_byte_at(b"\r\x80"), (2, 1));
    assert_eq!(bad_byte_at(b"a: 1\rb: \x80"), (2, 4));
    assert_eq!(bad_byte_at(b"a: 1\r\nb: \x80"), (2, 4));
    assert_eq!(bad_byte_at(b"\xc3\xa9\n \xc3\xa9\x00\xff"), (2, 4));
}

#[test]
fn the_examples_pass_check() {
    for (example, summary) in [
        ("small", "1 account, 1 store, 4 secrets (1 absent, 1 kept)"),
        (
            "multi-account",
            "2 accounts, 3 stores, 9 secrets (1 absent, 1 kept)",
        ),
    ] {
        let path = format!("examples/{example}/cfsecrets.yaml");
        let out = cfsecrets().args(["-f", &path, "check"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{example}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("ok: {path} — {summary}\n")
        );
        let text = std::fs::read_to_string(repo().join(&path)).unwrap();
        assert!(
            text.starts_with(
                "# yaml-language-server: $schema=../../schemas/manifest.schema.json\n"
            ),
            "{example} opens with the schema comment"
        );
    }
}

#[test]
fn example_values_are_armored_age_files() {
    for example in ["small", "multi-account"] {
        let (desired, warnings) = manifest::load(
            &repo().join(format!("examples/{example}/cfsecrets.yaml")),
            None,
        )
        .into_result()
        .unwrap();
        assert!(warnings.is_empty(), "{warnings}");
        let mut files = vec![desired.fingerprint_key.clone()];
        for store in desired.accounts.iter().flat_map(|a| &a.stores) {
            for secret in store.secrets.values() {
                if let DesiredSecret::Present(p) = secret {
                    match &p.value {
                        ValueSource::File(f) | ValueSource::Bundle { path: f, .. } => {
                            files.push(f.clone())
                        }
                        ValueSource::Keep => {}
                    }
                }
            }
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            assert!(
                text.starts_with("-----BEGIN AGE ENCRYPTED FILE-----\n")
                    && text
                        .trim_end()
                        .ends_with("-----END AGE ENCRYPTED FILE-----"),
                "{} is an armored age file",
                file.display()
            );
        }
    }
}

#[test]
fn check_prints_every_diagnostic_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cfsecrets.yaml");
    std::fs::write(&path, MANY_ERRORS).unwrap();
    std::fs::write(dir.path().join(".age-recipients"), "age1example\n").unwrap();
    let out = cfsecrets()
        .args(["-f".as_ref(), path.as_os_str(), "check".as_ref()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = parse(MANY_ERRORS).unwrap_err();
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len() + 1, "{stderr}");
    let prefix = format!(
        "{}:1:10: error: unsupported manifest version 2",
        path.display()
    );
    assert!(lines[0].starts_with(&prefix), "{stderr}");
    assert_eq!(
        lines.last().copied(),
        Some(format!("check failed: {} errors", expected.len()).as_str())
    );
}

#[test]
fn check_takes_the_account_id_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    // A real public key: `check` also reads the recipients file.
    std::fs::write(
        dir.path().join(".age-recipients"),
        "age1d8rgkwvge3thkexc4sfvr420906z3lwjm93gmr74ap7x5758qphsntqepz\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("keys")).unwrap();
    std::fs::write(dir.path().join("keys/fingerprint.age"), "sealed").unwrap();
    let yaml = "version: 1\nrecipients_file: .age-recipients\nfingerprint_key: keys/fingerprint.age\naccounts:\n  main:\n    stores:\n      s:\n        secrets:\n          A: { value: keep, scopes: [workers] }\n";
    let path = dir.path().join("cfsecrets.yaml");
    std::fs::write(&path, yaml).unwrap();
    let run = |env: Option<&str>| {
        let mut cmd = cfsecrets();
        cmd.args(["-f".as_ref(), path.as_os_str(), "check".as_ref()]);
        if let Some(env) = env {
            cmd.env("CLOUDFLARE_ACCOUNT_ID", env);
        }
        cmd.output().unwrap()
    };
    let without = run(None);
    assert_eq!(without.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&without.stderr).contains("CLOUDFLARE_ACCOUNT_ID is not set"));
    let with = run(Some("0123456789abcdef0123456789abcdef"));
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(String::from_utf8_lossy(&with.stdout).starts_with("ok: "));
}

#[test]
fn the_committed_schema_matches_the_types() {
    let generated = manifest::manifest_schema_json();
    let path = repo().join("schemas/manifest.schema.json");
    if std::env::var_os("CFSECRETS_UPDATE_SCHEMAS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "schemas/manifest.schema.json is out of date; regenerate it with\n  \
         CFSECRETS_UPDATE_SCHEMAS=1 cargo test --test it manifest::the_committed_schema_matches_the_types"
    );
    let out = cfsecrets().args(["schema", "manifest"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8(out.stdout).unwrap(), generated);
    let schema: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert_eq!(schema["properties"]["version"]["const"], 1);
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn the_plan_schema_is_printed_and_matches_the_committed_file() {
    let out = cfsecrets().args(["schema", "plan"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(repo().join("schemas/plan.schema.json")).unwrap();
    assert_eq!(printed, committed);
    let schema: serde_json::Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(schema["title"], "Plan");
}
