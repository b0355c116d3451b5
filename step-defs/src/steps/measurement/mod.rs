//! Measurement: benchmarks (feature 14), CPU time (feature 09) and the long run (11.3).
//!
//! Every step measures for real, reports its numbers (tracing, info level) and asserts what
//! its text claims: the bound the text gives (14.3's 5 %, 14.4's 100 ns, 14.6's 80 %), or where
//! it gives none a bound stated in the step's doc comment and in the feature file's comment.
//!
//! Harmony routes the reader/writer benchmark steps (14.1, 14.2, 14.6) to the writer. A
//! background job writes seeded frames and times what it sees in the OIEB; the reader
//! consumes and checks them through its standby drain (see [`crate::drivers::drain`]), which
//! the job requests and withdraws. The reporting steps join the job. Scenarios that name no
//! process (14.3–14.5) build their own buffers and threads.

mod barriers;
mod cpu;
mod latency;
mod long_run;
mod signalling;
mod throughput;
mod utilisation;
mod wrap;
