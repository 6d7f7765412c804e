//! Editing the manifest: the comment-preserving entry edit of `secret set` ([`text`]), the
//! resolution of which entry an edit targets ([`target`]), and the check that an edit
//! introduces no problem, made with the real reader and validator ([`check`]).

pub mod check;
pub mod target;
pub mod text;

pub use check::{AlsoExisting, EditCheck, check_edit};
pub use target::{EntryRequest, EntryTarget, TargetError};
pub use text::{EditError, EditOutcome, EntryUpdate, set_entry};
