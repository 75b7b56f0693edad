//! The example apps of `rocket_opentracing` (`server.rs`, `client.rs`), run
//! from the repository root with `cargo run --example server` and
//! `cargo run --example client`. This library is empty.
