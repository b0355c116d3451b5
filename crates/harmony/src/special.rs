//! Steps the orchestrator handles itself and never sends (harmony.md §3.8).

use std::sync::OnceLock;

use regex::Regex;

use crate::routing::RoutedStep;
use harmony_wire::StepType;

#[derive(Debug, Clone, PartialEq)]
pub enum Special {
    /// `wait for 'N' seconds`, any keyword.
    Wait(f64),
    /// When `the 'x' process shutdown / is shutdown`.
    Shutdown(String),
    /// When `the 'x' process killed / is killed`.
    Killed(String),
    /// When `the 'x' process crashes`.
    Crashes(String),
}

/// The special meaning of a step, if any. An unparsable wait is left to the serve.
pub fn special(step: &RoutedStep) -> Option<Special> {
    static WAIT: OnceLock<Regex> = OnceLock::new();
    static LIFECYCLE: OnceLock<Regex> = OnceLock::new();
    let wait = WAIT.get_or_init(|| Regex::new(r"(?i)wait for '([^']+)' seconds").unwrap());
    if let Some(c) = wait.captures(&step.text) {
        if let Ok(seconds) = c[1].trim().parse::<f64>() {
            if seconds.is_finite() && seconds >= 0.0 {
                return Some(Special::Wait(seconds));
            }
        }
    }
    if step.step_type != StepType::When {
        return None;
    }
    let lifecycle = LIFECYCLE.get_or_init(|| {
        Regex::new(r"(?i)the '([^']+)' process (?:is )?(shutdown|killed|crashes)").unwrap()
    });
    let c = lifecycle.captures(&step.text)?;
    let role = c[1].to_owned();
    Some(match c[2].to_ascii_lowercase().as_str() {
        "shutdown" => Special::Shutdown(role),
        "killed" => Special::Killed(role),
        _ => Special::Crashes(role),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step_type: u8, text: &str) -> RoutedStep {
        let step_type = StepType::from_number(step_type.into()).unwrap();
        RoutedStep {
            step_type,
            text: text.into(),
            process: None,
            parameters: Default::default(),
        }
    }

    #[test]
    fn specials_follow_the_step_type() {
        assert_eq!(
            special(&step(2, "wait for '2' seconds")),
            Some(Special::Wait(2.0))
        );
        assert_eq!(
            special(&step(
                1,
                "the 'writer' process is killed while write in progress"
            )),
            Some(Special::Killed("writer".into()))
        );
        assert_eq!(
            special(&step(1, "the 'reader' process crashes")),
            Some(Special::Crashes("reader".into()))
        );
        assert_eq!(special(&step(2, "the 'reader' process crashes")), None);
    }
}
