//! Step bindings, one module per subject (not per feature file): the buffer, frames,
//! metadata, lifecycle, duplex, faults, inspection and measurement. Within a subject, one
//! file per concept; a file's doc names the scenarios it serves.
//!
//! Conventions every module follows:
//! - Each regex is the line of `step-defs/tests/step-patterns.txt` anchored as `^…$`, bound
//!   under each keyword that file lists for it (several attributes on one function).
//! - Steps whose text starts with `the 'x' process` act on `world.process(x)`; texts that
//!   name no process the way Harmony extracts one (`a second 'writer' process …`,
//!   subject-less texts) act on `world.current()`, where Harmony would route them.
//! - Steps return `anyhow::Result<()>`: an error fails the step with its message.
//! - Every wait is bounded; background (BG) steps start work in `state.jobs` and return.
//! - A binding is thin: its captures are typed (`crate::captures`), the work is done by
//!   `crate::drivers`, and it imports drivers only, never another binding module.

mod buffer;
mod duplex;
mod faults;
mod frames;
mod inspection;
mod lifecycle;
mod measurement;
mod metadata;
