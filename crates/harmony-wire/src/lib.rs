//! The contract shared by our orchestrator (`harmony`), our serve (`zerobuffer-serve`) and
//! the in-process runner: what travels with a step besides its text.

pub mod parameters;

pub use parameters::{ParametersError, StepParameters};
