//! Harmony, the cross-language conformance runner of the ZeroBuffer family.
//!
//! It drives serve processes of any language through the orchestrator ⇄ serve contract
//! (`shared/spec/harmony.md`): features are parsed and routed exactly as the upstream C#
//! orchestrator routes them, each scenario gets fresh serve processes, and every process is
//! reaped at the end. The `harmony` binary adds configuration, selection and reports.

pub mod combination;
pub mod config;
pub mod cucumber_json;
pub mod expected;
pub mod failure;
pub mod features;
pub mod framing;
pub mod leftovers;
pub mod page;
pub mod report;
pub mod run_id;
pub mod run_options;
pub mod scenario;
pub mod serve_process;
pub mod special;
pub mod undefined;

/// Routing lives in the shared contract crate; re-exported under its old path.
pub use harmony_wire::routing;
