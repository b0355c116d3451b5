//! Undefined steps over a whole run, reported the same way by both runners: each distinct
//! step text once, with the scenarios that use it and its nearest lines of our vocabulary,
//! then the line counting the scenarios, just before the closing `N passed, N failed, N
//! skipped` (which counts them as failed).
//!
//! A scenario with an undefined step is *undefined*: it does not run at all, and it fails the
//! run. A dry run (`--dry-run`) decides the same for every selected scenario and runs none.

use std::fmt::Write as _;

use crate::nearest::{nearest, Suggestion};
use crate::vocabulary::Vocabulary;
use crate::StepType;

/// What a dry run prints just before its closing line; the rule of its counts.
pub const DRY_RUN_NOTE: &str = "dry run: nothing ran; passed = scenarios whose every step is \
     defined, failed = scenarios with an undefined step, skipped = scenarios their tags skip";

/// At most this many scenarios are named for one step.
const NAMED_SCENARIOS: usize = 5;

/// One distinct undefined step text.
#[derive(Debug, Clone, PartialEq)]
pub struct UndefinedStep {
    pub text: String,
    /// The kinds it was used as (empty when the runner looks a step up under every kind).
    pub kinds: Vec<StepType>,
    /// The scenarios using it, each once, in order of first use.
    pub scenarios: Vec<String>,
    pub nearest: Vec<Suggestion>,
}

/// The undefined steps of a run.
#[derive(Debug, Clone, Default)]
pub struct Undefined {
    steps: Vec<UndefinedStep>,
    /// Undefined scenario runs (one scenario under two combinations counts twice).
    scenarios: usize,
}

impl Undefined {
    /// Records an undefined scenario and its undefined steps, each with the kind it was used
    /// as (`None`: looked up under every kind). Suggestions come from `vocabulary`.
    pub fn add<'a>(
        &mut self,
        vocabulary: &Vocabulary,
        scenario: &str,
        steps: impl IntoIterator<Item = (Option<StepType>, &'a str)>,
    ) {
        self.scenarios += 1;
        for (kind, text) in steps {
            let index = match self.steps.iter().position(|s| s.text == text) {
                Some(index) => index,
                None => {
                    self.steps.push(UndefinedStep {
                        text: text.to_owned(),
                        kinds: Vec::new(),
                        scenarios: Vec::new(),
                        nearest: nearest(vocabulary, text),
                    });
                    self.steps.len() - 1
                }
            };
            let step = &mut self.steps[index];
            if let Some(kind) = kind.filter(|k| !step.kinds.contains(k)) {
                step.kinds.push(kind);
            }
            if !step.scenarios.iter().any(|s| s == scenario) {
                step.scenarios.push(scenario.to_owned());
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.scenarios == 0
    }

    /// Undefined scenario runs.
    pub fn scenarios(&self) -> usize {
        self.scenarios
    }

    pub fn steps(&self) -> &[UndefinedStep] {
        &self.steps
    }

    /// Every distinct step with its scenarios and suggestions (empty when none). A step
    /// used as a kind the vocabulary does not list it under says which kinds it has.
    pub fn report(&self, vocabulary: &Vocabulary) -> String {
        let mut out = String::new();
        if self.steps.is_empty() {
            return out;
        }
        let _ = writeln!(
            out,
            "undefined steps ({} distinct; a scenario with one does not run):",
            self.steps.len()
        );
        for step in &self.steps {
            let used: Vec<&str> = step.kinds.iter().map(|k| k.keyword()).collect();
            let used = if used.is_empty() {
                String::new()
            } else {
                format!(" ({})", used.join("/"))
            };
            let _ = writeln!(out, "  {:?}{used}", step.text);
            let listed = vocabulary.kinds_of(&step.text);
            if !listed.is_empty() {
                let listed: Vec<&str> = listed.iter().map(|k| k.keyword()).collect();
                let _ = writeln!(
                    out,
                    "      the vocabulary has it only as {}",
                    listed.join("/")
                );
            }
            let names: Vec<&str> = step
                .scenarios
                .iter()
                .take(NAMED_SCENARIOS)
                .map(String::as_str)
                .collect();
            let mut named = names.join("; ");
            if step.scenarios.len() > NAMED_SCENARIOS {
                let more = step.scenarios.len() - NAMED_SCENARIOS;
                let _ = write!(named, "; and {more} more");
            }
            let _ = writeln!(out, "      in: {named}");
            if step.nearest.is_empty() {
                let _ = writeln!(out, "      nearest: no close match");
            }
            for (i, s) in step.nearest.iter().enumerate() {
                let lead = if i == 0 { "nearest:" } else { "        " };
                let _ = writeln!(
                    out,
                    "      {lead} {:>3}% ({:.1} word edits)  {}",
                    s.percent(),
                    s.distance,
                    s.with_keywords()
                );
            }
        }
        out
    }

    /// `3 scenarios undefined (5 distinct steps; see above)`, or `None` when none was.
    pub fn count_line(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        Some(format!(
            "{} undefined ({}; see above)",
            plural(self.scenarios, "scenario", "scenarios"),
            plural(self.steps.len(), "distinct step", "distinct steps")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "the 'writer' process writes a frame of size '1024' with sequence '1'";
    const MOON: &str = "the moon is made of cheese";

    #[test]
    fn each_distinct_step_once_with_its_scenarios_and_suggestions() {
        let ours = Vocabulary::ours();
        let mut undefined = Undefined::default();
        assert!(undefined.is_empty() && undefined.count_line().is_none());
        assert_eq!(undefined.report(ours), "");
        undefined.add(ours, "Test 1.1 - A", [(Some(StepType::When), OLD)]);
        undefined.add(
            ours,
            "Test 1.3 - B",
            [(Some(StepType::When), OLD), (Some(StepType::Then), MOON)],
        );
        undefined.add(ours, "Test 1.3 - B", [(None, MOON)]);
        assert_eq!(undefined.scenarios(), 3);
        assert_eq!(undefined.steps().len(), 2);
        assert_eq!(
            undefined.steps()[0].scenarios,
            ["Test 1.1 - A", "Test 1.3 - B"]
        );
        let report = undefined.report(ours);
        assert_eq!(report.matches(OLD).count(), 1, "{report}");
        assert!(
            report.starts_with("undefined steps (2 distinct;"),
            "{report}"
        );
        assert!(
            report.contains(&format!(
                "  {OLD:?} (When)\n      in: Test 1.1 - A; Test 1.3 - B\n      nearest: "
            )),
            "{report}"
        );
        assert!(
            report.contains(
                "When the 'writer' process writes frame with size '1024' and sequence '1'"
            ),
            "{report}"
        );
        assert!(
            report.contains(&format!(
                "  {MOON:?} (Then)\n      in: Test 1.3 - B\n      nearest: no close match\n"
            )),
            "{report}"
        );
        assert_eq!(
            undefined.count_line().unwrap(),
            "3 scenarios undefined (2 distinct steps; see above)"
        );
    }

    #[test]
    fn a_step_used_as_another_kind_says_which_it_has() {
        let ours = Vocabulary::ours();
        let mut undefined = Undefined::default();
        let connect = "the 'writer' process connects to buffer 'b'";
        undefined.add(ours, "Test 1.1 - A", [(Some(StepType::Then), connect)]);
        let report = undefined.report(ours);
        assert!(
            report.contains("the vocabulary has it only as Given/When"),
            "{report}"
        );
        assert_eq!(
            undefined.count_line().unwrap(),
            "1 scenario undefined (1 distinct step; see above)"
        );
    }
}
