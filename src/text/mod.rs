//! Pure text helpers shared by every room:
//!
//! * `words.rs` — the count words (`1 store`, `2 stores`) and numbers (`250,000`,
//!   `1,048,576 bytes`);
//! * `filter.rs` — the one terminal-safe filter for text that comes from outside (a user's
//!   file, a live comment, a server's message), and the clipped form a message quotes;
//! * `secret.rs` — the one rule for what looks like a secret pasted in the wrong place (an
//!   age identity or an API token), which every argument, path variable and manifest name
//!   goes through, and the forms a message may show instead;
//! * `redact.rs` — removing the values a request or a program was given from what a server
//!   or the program says back (echoed whole, cut short, JSON-escaped or re-cased).
//!
//! A leaf: it imports nothing from the crate, so the core (manifest, plan, apply), the client
//! and the wrangler room can word their messages without depending on [`crate::output`], the
//! room that prints.

mod filter;
mod redact;
mod secret;
mod words;

pub use filter::{clipped, is_unsafe, printable};
pub use redact::{Short, redact, redact_as};
pub use secret::{
    SecretShape, is_plain, looks_like_api_token, looks_like_private_key, secret_shape,
    unless_secret, without_secrets,
};
pub use words::{bytes, count, thousands};
