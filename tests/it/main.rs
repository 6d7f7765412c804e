//! The one integration-test binary. Each module is a chapter; the list reads like a table of
//! contents. Tests that need a server start the emulator in-process on 127.0.0.1:0.

mod bad_input;
mod ci_example;
mod client;
mod contract;
mod docs;
mod e2e;
mod emulator;
mod journeys;
mod leaks;
mod manifest;
mod plan;
mod quickstart;
mod support;
mod values;
