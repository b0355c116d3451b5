//! Group O of steps.md: the DuplexChannel steps of feature 13 (P261–P315), over
//! [`crate::drivers::duplex`]. The server process keeps its `DuplexServer` in `duplex_server`,
//! the client its `DuplexClient` in `duplex_client`.
//!
//! The steps of 13.6 (a full response ring) are in [`full_ring`], of 13.8 (the XOR handler) in
//! [`transform`], of 13.10 (disposing the server) in [`dispose`]; the other bindings are in
//! [`server_steps`] and [`client_steps`].

mod client_steps;
mod dispose;
mod full_ring;
mod server_steps;
mod transform;
