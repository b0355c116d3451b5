//! The contract shared by our orchestrator (`harmony`), our serve (`zerobuffer-serve`) and
//! the in-process runner, so the three cannot disagree: step types and their numbers, what
//! travels with a step besides its text, routing and process extraction, the scenario filter
//! and the tags that skip a scenario, our step vocabulary (what is defined), the nearest
//! lines of it to an undefined step, and how a run reports its undefined steps.

pub mod distance;
pub mod messages;
pub mod nearest;
pub mod parameters;
pub mod routing;
pub mod selection;
pub mod step_type;
pub mod undefined;
pub mod vocabulary;

pub use messages::{LogEntry, StepRequest, StepResponse};
pub use nearest::Suggestion;
pub use parameters::{ParametersError, StepParameters};
pub use selection::Filter;
pub use step_type::StepType;
pub use undefined::Undefined;
pub use vocabulary::Vocabulary;
