//! The planner room: `diff(desired, live, value facts, options) -> Plan`, the renderers
//! (text, Markdown, JSON), the plan JSON Schema, the live-state digest and a simulator for
//! tests. The ownership marker it writes is a domain fact of its own: [`crate::marker`].
//!
//! Architecture invariant: nothing here does I/O, reads the clock, uses randomness or sees a
//! plaintext value. The planner works from fingerprints and lengths ([`ValueFacts`]) only;
//! the same inputs give a byte-identical plan.
//!
//! * [`diff()`] and [`PlanOptions`] — the planner, account by account in named steps (its
//!   docs list them), each step in its own file: `store` (one store: absent, present,
//!   undeclared secrets) with `change` (create, rename, update), `safety` (delete
//!   thresholds), `quota` (fit, and whether deletes run first) and `order` (stages).
//! * [`facts`] — [`ValueFacts`], what the planner knows of the values.
//! * [`model`] — the [`Plan`] document the applier executes (read its docs).
//! * [`check`] — [`check_appliable`] and [`RefusedPlan`]: whether a plan can be applied.
//! * [`compare`] — [`Plan::first_difference`]: where a saved plan and a plan made now part
//!   (account label and id, store, secret, field), for `apply FILE`.
//! * [`render`] — text, Markdown and JSON output.
//! * [`schema`] — `schemas/plan.schema.json`.
//! * [`digest`] — [`live_digest`], the live-snapshot hash a saved plan carries, and
//!   [`PlanDigest::moved_since`], which names the inputs of a saved plan that moved.
//! * [`simulate`] — test support: apply a plan to a [`crate::live::LiveState`] in memory.
//! * [`bindings`] — what a plan does to the secrets Workers bind (`plan --wrangler`): the
//!   inputs of [`crate::wrangler::check_live`], and a broken binding entered as a block.

pub mod bindings;
mod change;
pub mod check;
pub mod compare;
pub mod diff;
pub mod digest;
pub mod facts;
pub mod model;
mod order;
mod quota;
pub mod render;
mod safety;
pub mod schema;
pub mod simulate;
mod store;

pub use check::{Appliable, RefusedPlan, check_appliable};
pub use compare::PlanDifference;
pub use diff::{DEFAULT_BATCH_SIZE, MAX_VALUE_BYTES, PlanOptions, diff};
pub use digest::live_digest;
pub use facts::{ValueFact, ValueFacts};
pub use model::*;

use diff::{AccountPlanner, StoreWork};
