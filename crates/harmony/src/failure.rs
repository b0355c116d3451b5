//! What failed in a scenario run: the step, and each role that failed it (a broadcast can
//! fail on several), with that role's platform and the error. Expected failures are matched
//! against this, never against the free-form message.

use serde::Serialize;

/// The `step` of a failure before the first step ran (spawn, `health`, `initialize`).
pub const START: &str = "(start)";
/// The step of a failure that showed only when the scenario ended (a serve's `cleanup`
/// reported a background job's error).
pub const END: &str = "(end of scenario)";

/// One role's part in a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleFailure {
    pub role: String,
    /// The platform that role ran on in this run (empty for a role the scenario lacks).
    pub platform: String,
    /// The serve's error text, or what harmony saw (a timeout, a death, a protocol error).
    pub error: String,
}

/// The failing step and who failed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepFailure {
    /// The step text as sent (or [`START`]).
    pub step: String,
    /// Which of the scenario's steps it is (background steps first); none for [`START`] and
    /// [`END`]. The text alone cannot tell apart two steps written alike.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    pub roles: Vec<RoleFailure>,
}

/// What one serve process of a failed run printed: its stderr's last lines and the logs its
/// step responses carried, for the reports (`results.json`, the results page).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RoleOutput {
    pub role: String,
    pub platform: String,
    /// The last lines of the process's stderr (`RunOptions::stderr_lines` of them).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stderr_tail: String,
    /// The step logs, one line each (`[Level] message`), each step's led by its text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

impl RoleOutput {
    /// Whether there is nothing to show.
    pub fn is_empty(&self) -> bool {
        self.stderr_tail.is_empty() && self.logs.is_empty()
    }
}

/// The last `lines` lines of `text`.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

impl RoleFailure {
    pub fn new(role: &str, platform: &str, error: impl Into<String>) -> RoleFailure {
        RoleFailure {
            role: role.to_owned(),
            platform: platform.to_owned(),
            error: error.into(),
        }
    }

    /// `reader on rust, step "…", error "…"` (the error's first line).
    pub fn describe(&self, step: &str) -> String {
        format!(
            "{} on {}, step {:?}, error {:?}",
            self.role,
            self.platform,
            step,
            self.error.lines().next().unwrap_or_default()
        )
    }
}

impl StepFailure {
    /// Every role's part, `; `-separated.
    pub fn describe(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.describe(&self.step))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A failure inside a run: the message harmony prints (with stderr tails) and the roles that
/// failed, whose step the caller knows.
#[derive(Debug, Clone)]
pub(crate) struct Fault {
    pub message: String,
    pub roles: Vec<RoleFailure>,
}

impl Fault {
    /// One role failed; `error` is its short form, `message` the full text.
    pub fn one(failure: RoleFailure, message: String) -> Fault {
        Fault {
            message,
            roles: vec![failure],
        }
    }

    /// One role failed and the message is its error.
    pub fn simple(role: &str, platform: &str, error: String) -> Fault {
        Fault::one(RoleFailure::new(role, platform, error.clone()), error)
    }

    /// The failure at `step` (the `index`th step, or [`START`] / [`END`] without one).
    pub fn at(self, step: &str, index: Option<usize>) -> (String, StepFailure) {
        (
            self.message,
            StepFailure {
                step: step.to_owned(),
                index,
                roles: self.roles,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_every_role_with_the_first_line_of_its_error() {
        let failure = StepFailure {
            step: "the 'reader' process x".into(),
            index: Some(0),
            roles: vec![
                RoleFailure::new("reader", "rust", "boom\ntrace"),
                RoleFailure::new("writer", "python", "no"),
            ],
        };
        assert_eq!(
            failure.describe(),
            "reader on rust, step \"the 'reader' process x\", error \"boom\"; \
             writer on python, step \"the 'reader' process x\", error \"no\""
        );
    }
}
