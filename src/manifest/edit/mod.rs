//! Editing the manifest: the comment-preserving entry edits of `secret set`, `import-env`
//! and `rm` ([`text`]), the
//! resolution of which entry an edit targets ([`target`]), and the check that an edit
//! introduces no problem, made with the real reader and validator ([`check`]).

pub mod check;
pub mod target;
pub mod text;

pub use check::{AlsoExisting, EditCheck, check_edit};
pub use target::{EntryRequest, EntryTarget, TargetError, resolve_store};
pub use text::{
    EditError, EditOutcome, EntryAt, EntryUpdate, EntryValue, remove_entry, set_absent,
    set_entries, set_entry,
};
