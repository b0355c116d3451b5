//! Undefined steps, decided by harmony itself before anything is sent: a step is defined when
//! harmony handles it (a wait, a kill, a crash, a shutdown) or when some line of our
//! vocabulary matches it the way our serve looks steps up (any keyword, with the process
//! phrase put back). Anything else is undefined for every platform, whatever a foreign serve
//! would answer for it, and its scenario is UNDEFINED without a process being started.

use serde::Serialize;

use harmony_wire::nearest::{self, Suggestion};
use harmony_wire::{Undefined, Vocabulary};

use crate::report::{Record, Status};
use crate::routing::RoutedStep;
use crate::special::special;

/// An undefined step of one scenario, as the reports record it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UndefinedStep {
    /// The step text without its keyword.
    pub step: String,
    /// The nearest lines of our vocabulary, best first (empty: no close match).
    pub nearest: Vec<Suggestion>,
}

impl UndefinedStep {
    /// `undefined step: "…"; nearest: "…" (93%), …`.
    pub fn message(&self) -> String {
        format!(
            "undefined step: {:?}; {}",
            self.step,
            nearest::hint(&self.nearest)
        )
    }
}

/// Whether harmony can run `step`: it handles the step itself, or our vocabulary has it.
pub fn is_defined(step: &RoutedStep, vocabulary: &Vocabulary) -> bool {
    special(step).is_some() || vocabulary.defines(&step.text, step.process.as_deref())
}

/// The undefined steps of a scenario, each distinct text once, in order.
pub fn undefined_steps(steps: &[RoutedStep], vocabulary: &Vocabulary) -> Vec<UndefinedStep> {
    let mut found: Vec<UndefinedStep> = Vec::new();
    for step in steps.iter().filter(|s| !is_defined(s, vocabulary)) {
        if !found.iter().any(|u| u.step == step.text) {
            found.push(UndefinedStep {
                step: step.text.clone(),
                nearest: nearest::nearest(vocabulary, &step.text),
            });
        }
    }
    found
}

/// The undefined steps of a run's records, for the report before the closing line.
pub fn collect(records: &[Record], vocabulary: &Vocabulary) -> Undefined {
    let mut undefined = Undefined::default();
    for record in records.iter().filter(|r| r.status == Status::Undefined) {
        let steps = record.undefined.iter().map(|u| (None, u.step.as_str()));
        undefined.add(vocabulary, &record.scenario, steps);
    }
    undefined
}

#[cfg(test)]
mod tests {
    use super::*;
    use harmony_wire::routing::route;

    #[test]
    fn special_and_vocabulary_steps_are_defined_the_rest_is_not() {
        let steps = route([
            ("Given ", "the test environment is initialized"),
            (
                "Given ",
                "the 'reader' process creates buffer 'b' with default config",
            ),
            // Harmony's own: never sent, so defined whatever the vocabulary says.
            ("When ", "the 'reader' process is shutdown"),
            ("Then ", "wait for '1' seconds"),
            // The process phrase put back, as our serve does.
            ("Then ", "should read frame with data 'x'"),
            (
                "Then ",
                "the 'reader' process should receive frame with data 'x'",
            ),
            (
                "And ",
                "the 'reader' process should receive frame with data 'x'",
            ),
            ("And ", "the moon is made of cheese"),
        ]);
        let ours = Vocabulary::ours();
        let undefined = undefined_steps(&steps, ours);
        let texts: Vec<&str> = undefined.iter().map(|u| u.step.as_str()).collect();
        assert_eq!(
            texts,
            [
                "the 'reader' process should receive frame with data 'x'",
                "the moon is made of cheese"
            ]
        );
        assert_eq!(
            undefined[0].nearest[0].text,
            "the 'reader' process should read frame with data 'x'"
        );
        assert!(undefined[1]
            .message()
            .ends_with("; nearest: no close match"));
    }
}
