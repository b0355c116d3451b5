//! Buffer names used by the suite (protocol.md §11.4, harmony.md §9).
//!
//! Under an orchestrator both processes of a scenario get `HARMONY_HOST_PID` and
//! `HARMONY_FEATURE_ID`, and every implementation maps a feature-file name `base` to
//! `base_<HARMONY_HOST_PID>_<HARMONY_FEATURE_ID>`, so they meet on the same shared memory.
//! Without those variables (local runs) the suffix is `_<pid>_<n>`, unique per World in this
//! process, so concurrent runs and scenarios never collide.
//!
//! A serve also learns the host pid and feature id from `initialize`. Rule
//! ([`BufferNames::for_run`]): the environment wins when both variables are set and non-empty
//! (that is what every other serve uses, so a Rust serve and a Python serve always meet);
//! otherwise the `initialize` values are used when both are > 0; otherwise the local fallback.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use zerobuffer::duplex::{request_buffer_name, response_buffer_name};

/// Maps feature-file buffer names to real ones and remembers them for cleanup.
#[derive(Debug)]
pub struct BufferNames {
    suffix: String,
    resolved: HashMap<String, String>,
}

impl BufferNames {
    pub fn from_environment() -> Self {
        Self::for_run(None)
    }

    /// Names for a run the orchestrator announced as `(host pid, feature id)` in `initialize`.
    /// `HARMONY_HOST_PID` / `HARMONY_FEATURE_ID` still win when both are set and non-empty;
    /// the announced pair is used only without them, and only when both values are > 0.
    pub fn for_run(announced: Option<(u64, u64)>) -> Self {
        let harmony = (
            std::env::var("HARMONY_HOST_PID"),
            std::env::var("HARMONY_FEATURE_ID"),
        );
        let suffix = match (harmony, announced) {
            ((Ok(pid), Ok(feature)), _) if !pid.is_empty() && !feature.is_empty() => {
                format!("_{pid}_{feature}")
            }
            (_, Some((pid, feature))) if pid > 0 && feature > 0 => format!("_{pid}_{feature}"),
            _ => {
                static WORLDS: AtomicU64 = AtomicU64::new(0);
                let n = WORLDS.fetch_add(1, Ordering::Relaxed);
                format!("_{}_{n}", std::process::id())
            }
        };
        BufferNames {
            suffix,
            resolved: HashMap::new(),
        }
    }

    /// The suffix appended to every base name (`_<host pid>_<feature id>` under Harmony).
    pub fn suffix(&self) -> &str {
        &self.suffix
    }

    /// The real name of buffer (or duplex channel) `base`.
    pub fn resolve(&mut self, base: &str) -> String {
        self.resolved
            .entry(base.to_owned())
            .or_insert_with(|| format!("{base}{}", self.suffix))
            .clone()
    }

    /// Removes whatever is left of every name this scenario used (their own readers and
    /// writers are closed by then; leftovers of simulated crashes go here).
    pub fn remove_all(&mut self) {
        for name in self.resolved.values() {
            for buffer in [
                name.clone(),
                request_buffer_name(name),
                response_buffer_name(name),
            ] {
                if zerobuffer::validate_name(&buffer).is_ok() {
                    if let Err(e) = zerobuffer::clean_stale(&buffer) {
                        tracing::warn!(%buffer, error = %e, "cleanup failed");
                    }
                }
            }
        }
        self.resolved.clear();
    }
}
