//! The serve's wire, apart from the steps it executes: `Content-Length` framing
//! ([`framing`]) and the JSON-RPC envelope and request shapes ([`protocol`]). The binary
//! (`src/main.rs`, feature `serve`) uses them; so does the fuzz target `serve_wire`, which
//! feeds them arbitrary bytes without building the steps.

pub mod framing;
pub mod protocol;
