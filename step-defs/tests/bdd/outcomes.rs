//! What each scenario of a run did, read back from the Cucumber JSON report cucumber-rs
//! writes (`target/bdd/cucumber.json`): its status and, for a failure, the step that failed,
//! the role that step runs as (routed exactly as harmony routes it) and the error.

use std::path::Path;

use harmony::features::Scenario as Routed;
use serde_json::Value;

/// How one scenario ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Passed,
    Failed(Failure),
}

/// The first failing step of a scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The step text without its keyword, or `end of scenario` for a failing After hook.
    pub step: String,
    /// The role the step runs as (`None`: a broadcast step, or the end of the scenario).
    pub role: Option<String>,
    pub error: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Test N.M - Title`.
    pub scenario: String,
    pub status: Status,
    /// The time its steps (Background included) and hooks took, in nanoseconds.
    pub nanos: u64,
}

/// The step the After hook stands for in a failure.
pub const END_OF_SCENARIO: &str = "end of scenario";

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn failed(result: &Value) -> Option<String> {
    let result = result.get("result")?;
    match text(result, "status") {
        "passed" => None,
        // cucumber-rs skips a step only when no binding matches it. The runner leaves such
        // scenarios out before the run; one that got here anyway fails, as undefined.
        "skipped" => Some("undefined step: no binding matches it".to_owned()),
        _ => Some(error_text(text(result, "error_message"))),
    }
}

/// The step's own message: cucumber-rs puts the binding's location first ("Matched: …")
/// and wraps a panic ("Step panicked. Captured output: …").
fn error_text(message: &str) -> String {
    let lines: Vec<&str> = message
        .lines()
        .filter(|l| !l.starts_with("Matched: "))
        .collect();
    let text = lines.join("\n");
    text.strip_prefix("Step panicked. Captured output: ")
        .unwrap_or(&text)
        .to_owned()
}

/// The outcomes in `json` (the report's text); `routed` are the same features as harmony
/// reads them, for the role of a failing step.
pub fn read(json: &str, routed: &[Routed]) -> Result<Vec<Outcome>, String> {
    let features: Value =
        serde_json::from_str(json).map_err(|e| format!("the Cucumber JSON report: {e}"))?;
    let mut outcomes = Vec::new();
    for feature in features.as_array().into_iter().flatten() {
        // The report lists a scenario's Background as an element of its own just before it.
        let mut background: Vec<Value> = Vec::new();
        for element in feature["elements"].as_array().into_iter().flatten() {
            let steps = element["steps"].as_array().cloned().unwrap_or_default();
            if text(element, "type") == "background" {
                background = steps;
                continue;
            }
            let scenario = text(element, "name").to_owned();
            let steps: Vec<Value> = std::mem::take(&mut background)
                .into_iter()
                .chain(steps)
                .collect();
            let failure = steps
                .iter()
                .enumerate()
                .find_map(|(i, step)| failed(step).map(|error| (i, step, error)))
                .map(|(i, step, error)| {
                    let step_text = text(step, "name").trim().to_owned();
                    let role = role_of(routed, &scenario, i, &step_text);
                    Failure {
                        step: step_text,
                        role,
                        error,
                    }
                })
                .or_else(|| {
                    let hooks = element["before"].as_array().into_iter().flatten();
                    let hooks = hooks.chain(element["after"].as_array().into_iter().flatten());
                    hooks.filter_map(failed).next().map(|error| Failure {
                        step: END_OF_SCENARIO.to_owned(),
                        role: None,
                        error,
                    })
                });
            let hooks = ["before", "after"]
                .iter()
                .flat_map(|key| element[*key].as_array().into_iter().flatten());
            let nanos = steps
                .iter()
                .chain(hooks)
                .filter_map(|s| s["result"]["duration"].as_u64())
                .sum();
            outcomes.push(Outcome {
                scenario,
                nanos,
                status: failure.map_or(Status::Passed, Status::Failed),
            });
        }
    }
    Ok(outcomes)
}

/// The role of step `index` (text `step`) of `scenario`, as harmony would route it.
fn role_of(routed: &[Routed], scenario: &str, index: usize, step: &str) -> Option<String> {
    let steps = &routed.iter().find(|s| s.name == scenario)?.steps;
    let at_index = steps.get(index).filter(|s| s.text == step);
    at_index
        .or_else(|| steps.iter().find(|s| s.text == step))?
        .process
        .clone()
}

/// Reads the report at `path`.
pub fn load(path: &Path, routed: &[Routed]) -> Result<Vec<Outcome>, String> {
    let json = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read(&json, routed)
}
