//! Group M of steps.md: feature 11, stress. Create/destroy cycles (alone and against a writer
//! that keeps connecting), a long continuous write/read run, and buffer exhaustion under a
//! lowered descriptor limit. The probes they share are in [`crate::drivers::os`].

mod cycles;
mod exhaustion;
mod long_run;
mod under_load;
