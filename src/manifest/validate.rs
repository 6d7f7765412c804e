//! Semantic checks on the raw manifest, turning it into [`Desired`] or into every problem at
//! once. Pure: the only outside fact it consults is whether a referenced file exists, asked
//! through [`FileCheck`] so tests can answer without a file system.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_saphyr::{Location, Spanned};

use crate::fs::Escape;

use crate::domain::{
    AccountId, MAX_BUNDLE_FILE_BYTES, MAX_RECIPIENTS_FILE_BYTES, MAX_SEALED_VALUE_FILE_BYTES,
    Scope, Scopes, SecretName, check_label,
};
use crate::manifest::diagnostic::{Diagnostic, Diagnostics, quoted, shown};
use crate::manifest::model::{
    Desired, DesiredAccount, DesiredSecret, DesiredStore, PresentSecret, Safety, ValueSource,
};
use crate::manifest::raw::BUNDLE_SUFFIXES;
use crate::manifest::raw::{Ensure, RawAccount, RawManifest, RawSafety, RawSecret, RawValue};

/// What is at a path a manifest names, resolved against its directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// A regular file of this many bytes.
    File {
        size: u64,
    },
    Missing,
    /// Something else: "a directory", "a FIFO (named pipe)", "a device"…
    NotAFile(&'static str),
    /// It cannot be looked at; the reason ("permission denied").
    Unreadable(String),
}

/// Answers what is at a path (already resolved against the manifest's directory), so that
/// validation stays free of file-system access.
pub trait FileCheck {
    /// Whether the path is a regular file.
    fn is_file(&self, path: &Path) -> bool;

    /// What is at the path. The default knows regular files (of no particular size, so
    /// never too large) and missing ones.
    fn kind(&self, path: &Path) -> PathKind {
        if self.is_file(path) {
            PathKind::File { size: 0 }
        } else {
            PathKind::Missing
        }
    }

    /// Whether `path` resolves, through any symbolic link, to a place inside `dir`. The
    /// default (a file system without links) says yes.
    fn stays_inside(&self, path: &Path, dir: &Path) -> bool {
        let _ = (path, dir);
        true
    }
}

/// The real file system (symbolic links followed).
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl FileCheck for RealFs {
    fn is_file(&self, path: &Path) -> bool {
        path.is_file()
    }

    fn kind(&self, path: &Path) -> PathKind {
        match std::fs::metadata(path) {
            Ok(meta) => match crate::fs::Kind::of(&meta) {
                crate::fs::Kind::File { size } => PathKind::File { size },
                other => PathKind::NotAFile(other.describe()),
            },
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                PathKind::Missing
            }
            Err(err) => PathKind::Unreadable(crate::fs::io_reason(&err)),
        }
    }

    fn stays_inside(&self, path: &Path, dir: &Path) -> bool {
        crate::fs::stays_inside(path, dir)
    }
}

/// How a path the manifest names leaves its directory, or `None` when it stays inside: an
/// absolute path, `..` climbing out, or a symbolic link to a place outside. Paths stay
/// inside the project, so nothing outside it is read, and nothing outside it is rewritten
/// (`reseal`, `secret set`).
pub fn escape_problem(written: &str, base_dir: &Path, fs: &dyn FileCheck) -> Option<&'static str> {
    match crate::fs::lexical_escape(Path::new(written)) {
        Some(Escape::Absolute) => Some("must be a path relative to the manifest's directory"),
        Some(Escape::ClimbsOut) => Some("climbs out of the manifest's directory (`..`)"),
        None if !fs.stays_inside(&base_dir.join(written), base_dir) => {
            Some("resolves outside the manifest's directory (through a symbolic link)")
        }
        None => None,
    }
}

struct Ctx<'a> {
    path: &'a Path,
    base_dir: &'a Path,
    fs: &'a dyn FileCheck,
    diags: Diagnostics,
}

impl Ctx<'_> {
    fn error(&mut self, at: &Location, message: impl Into<String>) {
        self.diags.push(Diagnostic::error(
            self.path,
            at.line(),
            at.column(),
            message,
        ));
    }

    /// The rule for text the manifest names things with (a label, a store or secret name, a
    /// comment, a bundle key): text that looks like a secret pasted in the wrong place
    /// ([`crate::text::secret_shape`]) is an error that does not show it, so it is never
    /// printed in a plan, sent to Cloudflare or made a file name. Returns whether it was.
    fn secret_shaped(&mut self, at: &Location, text: &str, what: &str) -> bool {
        let Some(shape) = crate::text::secret_shape(text) else {
            return false;
        };
        self.error(
            at,
            format!(
                "{what} looks like {}, not a name or a comment; it is not shown, used or sent",
                shape.noun()
            ),
        );
        true
    }

    /// A path the manifest requires to exist; returns it resolved.
    fn required_file(&mut self, written: &Spanned<String>, what: &str, limit: u64) -> PathBuf {
        let resolved = self.base_dir.join(&written.value);
        if written.value.trim().is_empty() {
            self.error(&written.referenced, format!("{what} path is empty"));
        } else if let Some(problem) = self.file_problem(&written.value, limit) {
            self.error(
                &written.referenced,
                format!("{what} `{}` {problem}", shown(&written.value)),
            );
        }
        resolved
    }

    /// What is wrong with the file `written` names ("is not a path" for text that looks
    /// like a secret, "climbs out of the manifest's directory", "does not exist", "is a directory, not a file", "is too large (…)"), or
    /// `None` for a regular file inside the manifest's directory of at most `limit` bytes.
    fn file_problem(&self, written: &str, limit: u64) -> Option<String> {
        // A secret pasted in place of a path: not looked up (and not shown, by `shown`).
        if crate::text::secret_shape(written).is_some() {
            return Some("is not a path; nothing was read".to_string());
        }
        if let Some(problem) = escape_problem(written, self.base_dir, self.fs) {
            return Some(problem.to_string());
        }
        match self.fs.kind(&self.base_dir.join(written)) {
            PathKind::File { size } if size > limit => Some(format!(
                "is too large ({}; the limit is {})",
                crate::text::bytes(size),
                crate::text::bytes(limit)
            )),
            PathKind::File { .. } => None,
            PathKind::Missing => Some("does not exist".to_string()),
            PathKind::NotAFile(what) => Some(format!("is {what}, not a file")),
            PathKind::Unreadable(reason) => Some(format!("cannot be read ({reason})")),
        }
    }

    /// Checks a scope list; `None` when any problem was reported.
    fn scopes(&mut self, list: &Spanned<Vec<Spanned<String>>>, owner: &str) -> Option<Scopes> {
        let mut ok = true;
        if list.value.is_empty() {
            self.error(
                &list.referenced,
                format!(
                    "{owner} has an empty scope list; name at least one of {}",
                    Scope::listed()
                ),
            );
            return None;
        }
        let mut scopes = Scopes::new();
        for item in &list.value {
            match Scope::parse(&item.value) {
                Ok(scope) => {
                    if !scopes.insert(scope) {
                        ok = false;
                        self.error(
                            &item.referenced,
                            format!("scope `{scope}` is listed twice in {owner}"),
                        );
                    }
                }
                Err(unknown) => {
                    ok = false;
                    self.error(&item.referenced, unknown.to_string());
                }
            }
        }
        ok.then_some(scopes)
    }

    fn safety(&mut self, raw: Option<&Spanned<RawSafety>>) -> Safety {
        let mut safety = Safety::default();
        let Some(raw) = raw else { return safety };
        let raw = &raw.value;
        if let Some(n) = &raw.max_deletes {
            safety.max_deletes = self.in_range(n, "max_deletes", u32::MAX.into());
        }
        if let Some(n) = &raw.max_delete_percent {
            safety.max_delete_percent = self
                .in_range(n, "max_delete_percent", 100)
                .and_then(|p| u8::try_from(p).ok());
        }
        if let Some(n) = &raw.min_existing
            && let Some(n) = self.in_range(n, "min_existing", u32::MAX.into())
        {
            safety.min_existing = n;
        }
        safety
    }

    fn in_range(&mut self, n: &Spanned<i64>, key: &str, max: i64) -> Option<u32> {
        if (0..=max).contains(&n.value) {
            u32::try_from(n.value).ok()
        } else {
            self.error(
                &n.referenced,
                format!("safety.{key} must be between 0 and {max}, got {}", n.value),
            );
            None
        }
    }
}

/// One secret of a store, as far as the rename checks need it.
struct Entry<'r> {
    name: &'r Spanned<String>,
    raw: &'r RawSecret,
    /// `renamed_from` when it parsed and the secret is present.
    renamed_from: Option<&'r Spanned<String>>,
}

/// Validates `raw` into the desired state, with every problem found (in no particular
/// order). The desired state is `None` when any problem is an error.
pub fn validate(
    path: &Path,
    base_dir: &Path,
    raw: &RawManifest,
    env_account_id: Option<&str>,
    fs: &dyn FileCheck,
) -> (Option<Desired>, Diagnostics) {
    let mut cx = Ctx {
        path,
        base_dir,
        fs,
        diags: Diagnostics::new(),
    };
    // A key in a `broken` set was present but unreadable; the structural pass reported it.
    let (recipients_file, fingerprint_key) = cx.header(raw);
    let defaults = cx.defaults(raw);
    let safety = cx.safety(raw.safety.as_ref());
    if !raw.broken.has("accounts") && raw.accounts.value.0.is_empty() {
        cx.error(
            &raw.accounts.referenced,
            "`accounts` is empty; declare at least one account",
        );
    }
    let mut ids = AccountIds {
        env: env_account_id,
        env_user: None,
        seen: Vec::new(),
    };
    let mut accounts = Vec::new();
    for (label, account) in &raw.accounts.value.0 {
        if let Some(account) = cx.account(label, account, &mut ids, &defaults) {
            accounts.push(account);
        }
    }
    let diags = cx.diags;
    if diags.has_errors() {
        return (None, diags);
    }
    let desired = Desired {
        manifest_path: path.to_path_buf(),
        base_dir: base_dir.to_path_buf(),
        recipients_file,
        fingerprint_key,
        safety,
        accounts,
    };
    (Some(desired), diags)
}

/// The default scopes, as far as secrets without their own need them.
struct Defaults {
    /// The checked `defaults.scopes`, when written and sound.
    scopes: Option<Scopes>,
    /// `defaults.scopes` is written (possibly broken: its secrets are then skipped, not
    /// blamed).
    declared: bool,
}

/// Account ids seen so far, and which account took its id from the environment.
struct AccountIds<'r> {
    env: Option<&'r str>,
    env_user: Option<&'r str>,
    seen: Vec<(AccountId, &'r str)>,
}

impl<'r> Ctx<'_> {
    /// `version`, and the two files every manifest names, resolved.
    fn header(&mut self, raw: &RawManifest) -> (PathBuf, PathBuf) {
        if !raw.broken.has("version") && raw.version.value != 1 {
            self.error(
                &raw.version.referenced,
                format!(
                    "unsupported manifest version {}; this cfsecrets reads version 1",
                    raw.version.value
                ),
            );
        }
        let recipients_file = if raw.broken.has("recipients_file") {
            PathBuf::new()
        } else {
            self.required_file(
                &raw.recipients_file,
                "recipients file",
                MAX_RECIPIENTS_FILE_BYTES,
            )
        };
        let fingerprint_key = if raw.broken.has("fingerprint_key") {
            PathBuf::new()
        } else {
            self.required_file(
                &raw.fingerprint_key,
                "fingerprint key file",
                MAX_SEALED_VALUE_FILE_BYTES,
            )
        };
        (recipients_file, fingerprint_key)
    }

    fn defaults(&mut self, raw: &RawManifest) -> Defaults {
        let list = raw.defaults.as_ref().and_then(|d| d.scopes.as_ref());
        let scopes = list.and_then(|list| self.scopes(list, "defaults.scopes"));
        let declared = list.is_some()
            || raw.broken.has("defaults")
            || raw
                .defaults
                .as_ref()
                .is_some_and(|d| d.broken.has("scopes"));
        Defaults { scopes, declared }
    }

    /// One account and its stores; `None` when its id is unknown (already reported).
    fn account(
        &mut self,
        label: &'r Spanned<String>,
        account: &'r RawAccount,
        ids: &mut AccountIds<'r>,
        defaults: &Defaults,
    ) -> Option<DesiredAccount> {
        let name = label.value.as_str();
        if !self.secret_shaped(&label.referenced, name, "an account label")
            && let Err(reason) = check_label(name)
        {
            self.error(
                &label.referenced,
                format!("account label `{}` {reason}", shown(name)),
            );
        }
        let (id, id_at) = self.account_id(label, account, ids);
        if let Some(id) = &id {
            if let Some((_, other)) = ids.seen.iter().find(|(seen, _)| seen == id) {
                self.error(
                    id_at,
                    format!(
                        "account `{}` has the same account id as account `{}`",
                        shown(name),
                        shown(other)
                    ),
                );
            } else {
                ids.seen.push((id.clone(), name));
            }
        }
        if !account.broken.has("stores") && account.stores.value.0.is_empty() {
            self.error(
                &account.stores.referenced,
                format!(
                    "account `{}` has no stores; declare at least one",
                    shown(name)
                ),
            );
        }
        let mut stores = Vec::new();
        for (store_name, store) in &account.stores.value.0 {
            let what = format!("a store name of account `{}`", shown(name));
            if !self.secret_shaped(&store_name.referenced, &store_name.value, &what)
                && let Err(reason) = check_label(&store_name.value)
            {
                self.error(
                    &store_name.referenced,
                    format!(
                        "store name `{}` of account `{}` {reason}",
                        shown(&store_name.value),
                        shown(name)
                    ),
                );
            }
            let secrets = validate_secrets(
                self,
                &store.secrets.value.0,
                defaults.declared,
                defaults.scopes.as_ref(),
            );
            stores.push(DesiredStore {
                name: store_name.value.clone(),
                prune: store.prune.unwrap_or_default(),
                secrets,
            });
        }
        Some(DesiredAccount {
            label: name.to_string(),
            account_id: id?,
            stores,
        })
    }

    /// The account's id, written or taken from `CLOUDFLARE_ACCOUNT_ID` (by one account at
    /// most), and where to point at it.
    fn account_id<'l>(
        &mut self,
        label: &'l Spanned<String>,
        account: &'l RawAccount,
        ids: &mut AccountIds<'r>,
    ) -> (Option<AccountId>, &'l Location)
    where
        'l: 'r,
    {
        let name = shown(&label.value);
        if let Some(written) = &account.account_id {
            let id = AccountId::parse(&written.value)
                .map_err(|reason| {
                    self.error(&written.referenced, format!("account `{name}`: {reason}"))
                })
                .ok();
            return (id, &written.referenced);
        }
        if account.broken.has("account_id") {
            return (None, &label.referenced);
        }
        let id = match (ids.env, ids.env_user) {
            (None, _) => {
                self.error(
                    &label.referenced,
                    format!(
                        "account `{name}` has no `account_id` and CLOUDFLARE_ACCOUNT_ID is not set"
                    ),
                );
                None
            }
            (Some(_), Some(first)) => {
                self.error(
                    &label.referenced,
                    format!(
                        "account `{name}` has no `account_id`; only one account may take it from CLOUDFLARE_ACCOUNT_ID, and `{}` already does",
                        shown(first)
                    ),
                );
                None
            }
            (Some(env), None) => {
                ids.env_user = Some(&label.value);
                AccountId::parse(env.trim())
                    .map_err(|reason| {
                        self.error(
                            &label.referenced,
                            format!(
                                "account `{name}` takes its id from CLOUDFLARE_ACCOUNT_ID, which is malformed: {reason}"
                            ),
                        )
                    })
                    .ok()
            }
        };
        (id, &label.referenced)
    }
}

fn validate_secrets(
    cx: &mut Ctx<'_>,
    raw: &[(Spanned<String>, RawSecret)],
    defaults_declared: bool,
    default_scopes: Option<&Scopes>,
) -> BTreeMap<SecretName, DesiredSecret> {
    let mut out = BTreeMap::new();
    let mut entries = Vec::new();
    for (name_sp, secret) in raw {
        let display = shown(&name_sp.value);
        let name = if cx.secret_shaped(&name_sp.referenced, &name_sp.value, "a secret name") {
            None
        } else {
            SecretName::parse(&name_sp.value)
                .map_err(|reason| {
                    cx.error(
                        &name_sp.referenced,
                        format!("invalid secret name `{display}`: {reason}"),
                    )
                })
                .ok()
        };
        let mut entry = Entry {
            name: name_sp,
            raw: secret,
            renamed_from: None,
        };

        let absent = secret
            .ensure
            .as_ref()
            .is_some_and(|e| e.value == Ensure::Absent);
        let written = |key: &str, set: bool| set || secret.broken.has(key);
        let desired = if secret.broken.has("ensure") {
            // Present or absent is unknown, so what it requires is too.
            None
        } else if absent {
            let others: Vec<&str> = [
                ("value", written("value", secret.value.is_some())),
                ("scopes", written("scopes", secret.scopes.is_some())),
                ("comment", written("comment", secret.comment.is_some())),
                ("protect", written("protect", secret.protect.is_some())),
                (
                    "renamed_from",
                    written("renamed_from", secret.renamed_from.is_some()),
                ),
            ]
            .into_iter()
            .filter_map(|(key, set)| set.then_some(key))
            .collect();
            if !others.is_empty() {
                let at = &secret.ensure.as_ref().expect("absent").referenced;
                cx.error(
                    at,
                    format!(
                        "secret `{display}` has `ensure: absent`, which allows no other key (found {})",
                        quoted(&others)
                    ),
                );
            }
            Some(DesiredSecret::Absent)
        } else {
            present_secret(
                cx,
                &display,
                name_sp,
                secret,
                defaults_declared,
                default_scopes,
                &mut entry,
            )
            .map(DesiredSecret::Present)
        };
        if let (Some(name), Some(desired)) = (name, desired) {
            out.insert(name, desired);
        }
        entries.push(entry);
    }
    check_renames(cx, &entries);
    out
}

fn present_secret<'r>(
    cx: &mut Ctx<'_>,
    display: &str,
    name_sp: &Spanned<String>,
    secret: &'r RawSecret,
    defaults_declared: bool,
    default_scopes: Option<&Scopes>,
    entry: &mut Entry<'r>,
) -> Option<PresentSecret> {
    let value = match &secret.value {
        None if secret.broken.has("value") => None,
        None => {
            cx.error(
                &name_sp.referenced,
                format!(
                    "secret `{display}` has no `value`; give a sealed file path, `keep`, or `{{ bundle, key }}`"
                ),
            );
            None
        }
        Some(value) => value_source(cx, display, value),
    };

    let owner = format!("secret `{display}`");
    let scopes = match &secret.scopes {
        Some(list) => cx.scopes(list, &owner),
        None if secret.broken.has("scopes") => None,
        None if defaults_declared => default_scopes.cloned(),
        None => {
            cx.error(
                &name_sp.referenced,
                format!("secret `{display}` names no scopes and `defaults.scopes` is not set"),
            );
            None
        }
    };

    let renamed_from = match &secret.renamed_from {
        None => Some(None),
        Some(old) if cx.secret_shaped(&old.referenced, &old.value, "`renamed_from`") => None,
        Some(old) => match SecretName::parse(&old.value) {
            Ok(old_name) => {
                entry.renamed_from = Some(old);
                Some(Some(old_name))
            }
            Err(reason) => {
                cx.error(
                    &old.referenced,
                    format!(
                        "secret `{display}` is renamed from an invalid name `{}`: {reason}",
                        shown(&old.value)
                    ),
                );
                None
            }
        },
    };

    let comment = secret
        .comment
        .as_ref()
        .map(|c| c.value.clone())
        .filter(|c| !c.is_empty());
    let comment_refused = secret.comment.as_ref().is_some_and(|c| {
        cx.secret_shaped(
            &c.referenced,
            &c.value,
            &format!("the comment of secret `{display}`"),
        )
    });
    let protect = secret.protect.as_ref().is_some_and(|p| p.value);
    if comment_refused {
        return None;
    }
    Some(PresentSecret {
        value: value?,
        scopes: scopes?,
        comment,
        protect,
        renamed_from: renamed_from?,
    })
}

fn value_source(cx: &mut Ctx<'_>, display: &str, value: &Spanned<RawValue>) -> Option<ValueSource> {
    let at = &value.referenced;
    match &value.value {
        RawValue::Path(p) if p == "keep" => Some(ValueSource::Keep),
        RawValue::Path(p) if p.trim().is_empty() => {
            cx.error(at, format!("secret `{display}` has an empty value path"));
            None
        }
        // A value that is not a sealed file's path may be a plaintext secret pasted in by
        // mistake: refuse it without repeating it (CI logs are often public).
        RawValue::Path(p) if !p.ends_with(".age") && !p.eq_ignore_ascii_case("keep") => {
            cx.error(
                at,
                format!(
                    "`value` of secret `{display}` must be a sealed file ending in `.age`, `keep`, \
                     or `{{ bundle, key }}`; the text given is not shown in case it is a secret"
                ),
            );
            None
        }
        RawValue::Path(p) => match cx.file_problem(p, MAX_SEALED_VALUE_FILE_BYTES) {
            None => Some(ValueSource::File(cx.base_dir.join(p))),
            Some(problem) => {
                let hint = if p.eq_ignore_ascii_case("keep") {
                    " (write `keep` in lowercase to leave the value unmanaged)"
                } else {
                    ""
                };
                cx.error(
                    at,
                    format!(
                        "value file `{}` of secret `{display}` {problem}{hint}",
                        shown(p)
                    ),
                );
                None
            }
        },
        RawValue::Bundle(bundle) => {
            let mut ok = true;
            if bundle.bundle.trim().is_empty() {
                ok = false;
                cx.error(at, format!("secret `{display}` has an empty bundle path"));
            } else if !BUNDLE_SUFFIXES.iter().any(|s| bundle.bundle.ends_with(s)) {
                ok = false;
                // Text that is not even a sealed file's path is not repeated, like such a
                // `value:`: it may be a plaintext value pasted in by mistake.
                let message = if bundle.bundle.ends_with(".age") {
                    format!(
                        "bundle `{}` of secret `{display}` must end in .env.age, .yaml.age or .yml.age",
                        shown(&bundle.bundle)
                    )
                } else {
                    format!(
                        "bundle of secret `{display}` must be a sealed file ending in .env.age, \
                         .yaml.age or .yml.age; the text given is not shown in case it is a secret"
                    )
                };
                cx.error(at, message);
            }
            let resolved = cx.base_dir.join(&bundle.bundle);
            if ok && let Some(problem) = cx.file_problem(&bundle.bundle, MAX_BUNDLE_FILE_BYTES) {
                ok = false;
                cx.error(
                    at,
                    format!(
                        "bundle file `{}` of secret `{display}` {problem}",
                        shown(&bundle.bundle)
                    ),
                );
            }
            if bundle.key.trim().is_empty() {
                ok = false;
                cx.error(at, format!("secret `{display}` has an empty bundle key"));
            } else if cx.secret_shaped(
                at,
                &bundle.key,
                &format!("the bundle key of secret `{display}`"),
            ) {
                ok = false;
            }
            ok.then(|| ValueSource::Bundle {
                path: resolved,
                key: bundle.key.clone(),
            })
        }
    }
}

/// Rename rules within one store: a secret cannot be renamed from itself, from a name the
/// store also declares (a collision), from a secret that is itself renamed (a chain), in a
/// cycle, or from a name another secret is already renamed from.
fn check_renames(cx: &mut Ctx<'_>, entries: &[Entry<'_>]) {
    let declared: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.value.as_str(), i))
        .collect();
    let mut first_rename: HashMap<&str, String> = HashMap::new();
    for (index, entry) in entries.iter().enumerate() {
        let Some(old) = entry.renamed_from else {
            continue;
        };
        let name = shown(&entry.name.value);
        let old_name = old.value.as_str();
        if let Some(earlier) = first_rename.get(old_name) {
            cx.error(
                &old.referenced,
                format!(
                    "secrets `{earlier}` and `{name}` are both renamed from `{}`",
                    shown(old_name)
                ),
            );
        } else {
            first_rename.insert(old_name, name.clone());
        }
        if old_name == entry.name.value {
            cx.error(
                &old.referenced,
                format!("secret `{name}` is renamed from itself"),
            );
            continue;
        }
        if let Some(&target) = declared.get(old_name)
            && let Some(message) = rename_problem(entries, &declared, index, target)
        {
            cx.error(&old.referenced, message);
        }
    }
}

/// What is wrong with entry `index` being renamed from `target`, which the store also
/// declares: a cycle (reported once, at its first member in manifest order), a chain, or
/// a collision.
fn rename_problem(
    entries: &[Entry<'_>],
    declared: &HashMap<&str, usize>,
    index: usize,
    target: usize,
) -> Option<String> {
    let name = shown(&entries[index].name.value);
    let old_name = shown(&entries[target].name.value);
    if let Some(cycle) = cycle_through(entries, declared, index, target) {
        if cycle.iter().min() != Some(&index) {
            return None;
        }
        let mut names: Vec<String> = cycle
            .iter()
            .map(|&i| format!("`{}`", shown(&entries[i].name.value)))
            .collect();
        names.push(format!("`{name}`"));
        return Some(format!(
            "renames form a cycle: {} (read → as \"is renamed from\")",
            names.join(" → ")
        ));
    }
    if let Some(next) = entries[target].renamed_from {
        return Some(format!(
            "secret `{name}` is renamed from `{old_name}`, which is itself renamed from `{}`; renames cannot chain",
            shown(&next.value)
        ));
    }
    let how = if entries[target]
        .raw
        .ensure
        .as_ref()
        .is_some_and(|e| e.value == Ensure::Absent)
    {
        " (with `ensure: absent`)"
    } else {
        ""
    };
    Some(format!(
        "secret `{name}` is renamed from `{old_name}`, which is also declared in this store{how}"
    ))
}

/// The entries that the `renamed_from` links lead through, from `index` by way of
/// `target`, when they come back to `index`; `None` when they end elsewhere.
fn cycle_through(
    entries: &[Entry<'_>],
    declared: &HashMap<&str, usize>,
    index: usize,
    target: usize,
) -> Option<Vec<usize>> {
    let mut path = vec![index];
    let mut cursor = target;
    loop {
        if cursor == index {
            return Some(path);
        }
        if path.contains(&cursor) {
            return None;
        }
        path.push(cursor);
        cursor = *entries[cursor]
            .renamed_from
            .and_then(|next| declared.get(next.value.as_str()))?;
    }
}
