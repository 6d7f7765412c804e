//! TODO(owner): module docs.

pub mod model;
pub use model::*;
