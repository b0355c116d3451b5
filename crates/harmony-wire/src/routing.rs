//! Step routing exactly as the upstream orchestrator does it (harmony.md §3.2–§3.4):
//! the process is extracted from the start of the text, a step naming none inherits the last
//! process named in its section (whatever its keyword), steps before any named process are
//! broadcast, And/But/`*` take the previous step's type, and the full text is sent. Unlike
//! upstream, the step's data table and doc string travel too (in `Parameters`).

use std::sync::OnceLock;

use regex::Regex;

use crate::{StepParameters, StepType};

/// One step as the orchestrator sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedStep {
    /// Given, When or Then (And/But take the previous step's); sent as 0, 1, 2.
    pub step_type: StepType,
    /// The text without keyword, trimmed.
    pub text: String,
    /// The explicit or inherited process; `None` means broadcast.
    pub process: Option<String>,
    /// The step's data table and doc string, sent in `Parameters` (upstream Harmony drops
    /// them; see [`crate::parameters`]).
    pub parameters: StepParameters,
}

/// Rules 1–6 of harmony.md §3.2, tried in order at the start of the text.
pub fn extract_process(text: &str) -> Option<String> {
    static RULES: OnceLock<Vec<(Regex, bool)>> = OnceLock::new();
    // (pattern, whether the role is the lower-cased capture: rules 5 and 6)
    let rules = RULES.get_or_init(|| {
        [
            (r"(?i)^the '([^']+)' process\s", false),
            (r"(?i)^'(\w+)' process\s", false),
            (r"(?i)^the '(\w+)'\s", false),
            (r"(?i)^'(\w+)'\s", false),
            (r"(?i)^the (writer|reader) is '", true),
            (r"(?i)^two (reader|writer)s '[^']*' and '", true),
        ]
        .into_iter()
        .map(|(p, lower)| (Regex::new(p).expect("valid rule"), lower))
        .collect()
    });
    rules.iter().find_map(|(rule, lower)| {
        let name = rule.captures(text)?[1].to_owned();
        Some(if *lower {
            name.to_ascii_lowercase()
        } else {
            name
        })
    })
}

/// Routes the steps of one section (a Background or a Scenario), given as (keyword, text).
pub fn route<'a>(steps: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<RoutedStep> {
    let mut last_type = None;
    let mut last_process: Option<String> = None;
    steps
        .into_iter()
        .map(|(keyword, text)| {
            // Gherkin keywords are case-sensitive: only the exact words have a kind.
            let own = match keyword.trim() {
                "Given" => Some(StepType::Given),
                "When" => Some(StepType::When),
                "Then" => Some(StepType::Then),
                _ => None,
            };
            let step_type = own.or(last_type).unwrap_or(StepType::Given);
            last_type = Some(step_type);
            let text = text.trim().to_owned();
            let process = match extract_process(&text) {
                Some(process) => {
                    last_process = Some(process.clone());
                    Some(process)
                }
                None => last_process.clone(),
            };
            RoutedStep {
                step_type,
                text,
                process,
                parameters: StepParameters::default(),
            }
        })
        .collect()
}

/// The roles of a routed scenario, in order of first appearance.
pub fn roles(steps: &[RoutedStep]) -> Vec<String> {
    let mut roles: Vec<String> = Vec::new();
    for process in steps.iter().filter_map(|s| s.process.as_ref()) {
        if !roles.contains(process) {
            roles.push(process.clone());
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extraction_rules() {
        let cases = [
            (
                "the 'reader' process signals space available",
                Some("reader"),
            ),
            ("the 'writer 2' process connects", Some("writer 2")),
            ("'writer' process writes data", Some("writer")),
            ("the 'client' connects", Some("client")),
            ("'server' starts listening", Some("server")),
            ("the writer is 'x'", Some("writer")),
            ("two readers 'a' and 'b' connect", Some("reader")),
            ("a second 'writer' process attempts to connect", None),
            ("the new reader should detect stale resources", None),
            ("no sequence errors should have occurred", None),
        ];
        for (text, role) in cases {
            assert_eq!(extract_process(text).as_deref(), role, "{text}");
        }
    }

    #[test]
    fn inheritance_types_and_broadcast() {
        let steps = route([
            ("Given ", "the test environment is initialized"),
            ("Given ", "the 'reader' process creates buffer 'b'"),
            ("And ", "the 'writer' process connects to buffer 'b'"),
            ("Then ", "wait for '2' seconds"),
            ("But ", "no sequence errors should have occurred"),
        ]);
        assert_eq!(steps[0].process, None);
        assert_eq!(steps[2].step_type, StepType::Given);
        assert_eq!(
            (steps[3].step_type, steps[3].process.as_deref()),
            (StepType::Then, Some("writer"))
        );
        assert_eq!(steps[4].step_type, StepType::Then);
        assert_eq!(roles(&steps), ["reader", "writer"]);
        assert_eq!(route([("And ", "x")])[0].step_type, StepType::Given);
    }
}
