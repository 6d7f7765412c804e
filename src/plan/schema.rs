//! The JSON Schema of the plan document, generated from the [`Plan`] types.
//! `schemas/plan.schema.json` is this output, checked for drift by a test
//! (`CFSECRETS_UPDATE_SCHEMAS=1 cargo test --test it plan::schema` rewrites it).

use super::model::Plan;

/// The plan JSON Schema, pretty-printed with a trailing newline (`cfsecrets schema plan`).
pub fn plan_schema_json() -> String {
    let schema = schemars::schema_for!(Plan);
    let mut s = serde_json::to_string_pretty(&schema).expect("a schema always serializes");
    s.push('\n');
    s
}
