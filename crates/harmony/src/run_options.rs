//! How `scenario::run` runs a scenario: limits, what a kill is, leftovers, checks on the
//! responses, restarts, and the kill storm's unasked-for SIGKILL.

use std::time::Duration;

use serde_json::Value;

/// What "the 'x' process is killed" does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillMode {
    /// SIGKILL at once: a real, abrupt death (the default).
    Sigkill,
    /// Upstream Harmony's teardown of that process: stdin closed, 5 s, then SIGKILL.
    Teardown,
    /// The `crash` call, as for "crashes".
    Crash,
}

/// Checks a `StepResponse` beyond what Harmony requires (tests use it to hold a serve to
/// a canonical form); gets the platform name and the `result`.
pub type ResponseCheck = fn(&str, &Value) -> Result<(), String>;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Limit of each call; a process that exceeds it is killed and the scenario fails.
    pub step_timeout: Duration,
    /// Sleep after each process start (`processInitializationDelayMs`).
    pub init_delay: Duration,
    pub kill_mode: KillMode,
    /// Remove shared-memory objects and lock files carrying the run id afterwards.
    pub remove_leftovers: bool,
    pub check_response: Option<ResponseCheck>,
    /// Lines of stderr kept in failure messages.
    pub stderr_lines: usize,
    /// Start a fresh process for a role the scenario killed or crashed when a later step is
    /// routed to it (see the module docs).
    pub restart_ended: bool,
    /// A SIGKILL the scenario does not ask for (`harmony --chaos`).
    pub chaos_kill: Option<ChaosKill>,
}

/// SIGKILL `role`'s process just before the `before_step`th step (background steps first)
/// is sent, as if it had died there; the run goes on as after "the 'x' process is killed".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaosKill {
    pub before_step: usize,
    pub role: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            step_timeout: Duration::from_secs(30),
            init_delay: Duration::ZERO,
            kill_mode: KillMode::Sigkill,
            remove_leftovers: true,
            check_response: None,
            stderr_lines: 20,
            restart_ended: true,
            chaos_kill: None,
        }
    }
}
