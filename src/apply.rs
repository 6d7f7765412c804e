//! Executes a `Plan` in order against the client.
