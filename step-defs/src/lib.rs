//! Step definitions of the shared ZeroBuffer suite (`features/`), in one cucumber-rs World.
//!
//! The local runner (`step-defs/tests/bdd.rs`) runs them in-process; the serve finds the same
//! functions by step text through `ZbWorld::collection()`.
//!
//! Two layers: [`drivers`] hold the mechanisms (endpoints, frame patterns, the ring oracle,
//! faults, OS probes, measurement); the bindings in `steps` parse a step's captures, call
//! drivers and assert. A binding module imports drivers, never another binding module.

mod captures;
pub mod drivers;
mod state;
mod steps;
pub mod world;

pub use drivers::{alloc_counter, jobs, naming};

pub use world::{ReceivedFrame, ZbWorld};

use cucumber::codegen::{StepConstructor as _, WorldInventory};

/// The keyword and regex of every step binding, as `discover` lists them.
pub fn step_catalogue() -> Vec<(&'static str, String)> {
    let mut steps = Vec::new();
    for s in cucumber::codegen::inventory::iter::<<ZbWorld as WorldInventory>::Given> {
        steps.push(("given", (s.inner().1)().as_str().to_owned()));
    }
    for s in cucumber::codegen::inventory::iter::<<ZbWorld as WorldInventory>::When> {
        steps.push(("when", (s.inner().1)().as_str().to_owned()));
    }
    for s in cucumber::codegen::inventory::iter::<<ZbWorld as WorldInventory>::Then> {
        steps.push(("then", (s.inner().1)().as_str().to_owned()));
    }
    // The inventory's order is the link order, which differs between binaries: sort, so
    // `discover` answers the same list in the same order from any build.
    let rank = |kind: &str| ["given", "when", "then"].iter().position(|k| *k == kind);
    steps.sort_by(|a, b| (rank(a.0), &a.1).cmp(&(rank(b.0), &b.1)));
    steps
}
