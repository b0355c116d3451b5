//! Cucumber JSON, one file per combination (`cucumber-<combination>.json`), in the shape
//! cucumber-rs's `output-json` writes for the in-process runner (`target/bdd/cucumber.json`),
//! so any Cucumber report viewer reads both: features, each with its Background and scenario
//! elements, each step with its keyword, line and result.
//!
//! A step's result is what happened to it in that run. Harmony does not time single steps,
//! so only the scenario's whole time is given, on its last step that ran. What harmony's own
//! reports add is carried in the terms of the format:
//! - FAIL: the steps before the failing one passed, it failed (every role's error), the rest
//!   were skipped. A failure while starting the serves is a failed `before` hook, one that
//!   showed only at the end of the scenario a failed `after` hook.
//! - XFAIL: the same steps, with the tag `@xfail` and the expected-failure reason in the
//!   error; XPASS: passed, tagged `@xpass`. (Cucumber has no expected failures.)
//! - UNDEFINED: its undefined steps `undefined` (the nearest lines in the error), the others
//!   `skipped`. SKIP: every step `skipped`, the reason in the scenario's description.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::failure::END;
use crate::features::Scenario;
use crate::report::{Record, Status};

/// `(combination, JSON text)` for every combination of `runs`, in name order.
pub fn by_combination(runs: &[(&Record, &Scenario)]) -> Vec<(String, String)> {
    let mut combinations: BTreeMap<&str, Vec<(&Record, &Scenario)>> = BTreeMap::new();
    for &(record, scenario) in runs {
        combinations
            .entry(record.combination.as_str())
            .or_default()
            .push((record, scenario));
    }
    combinations
        .into_iter()
        .map(|(name, runs)| {
            let text = serde_json::to_string_pretty(&features(&runs)).unwrap_or_default();
            (name.to_owned(), text)
        })
        .collect()
}

/// The features of one combination's runs, in the order their scenarios ran.
fn features(runs: &[(&Record, &Scenario)]) -> Value {
    let mut order: Vec<&std::path::Path> = Vec::new();
    for (_, scenario) in runs {
        if !order.contains(&scenario.source.path.as_path()) {
            order.push(&scenario.source.path);
        }
    }
    let features: Vec<Value> = order
        .into_iter()
        .map(|path| {
            let mine: Vec<&(&Record, &Scenario)> =
                runs.iter().filter(|(_, s)| s.source.path == path).collect();
            let name = &mine[0].1.source.feature_name;
            let elements: Vec<Value> = mine
                .iter()
                .flat_map(|(record, scenario)| elements(record, scenario))
                .collect();
            json!({
                "uri": path.display().to_string(),
                "keyword": "Feature",
                "name": name,
                "tags": [],
                "elements": elements,
            })
        })
        .collect();
    Value::Array(features)
}

/// What happened to one step.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Passed,
    Failed(String),
    Skipped,
    Undefined(String),
}

/// The result object of a step or hook.
fn result(outcome: &Outcome, duration: Option<Duration>) -> Value {
    let (status, error) = match outcome {
        Outcome::Passed => ("passed", None),
        Outcome::Failed(e) => ("failed", Some(e)),
        Outcome::Skipped => ("skipped", None),
        Outcome::Undefined(e) => ("undefined", Some(e)),
    };
    let mut result = json!({ "status": status });
    if let Some(d) = duration {
        result["duration"] = json!(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }
    if let Some(e) = error {
        result["error_message"] = json!(e);
    }
    result
}

/// The error text of a failed run: every role's part, and for an XFAIL why it is expected.
fn failure_text(record: &Record) -> String {
    let described = record
        .failure
        .as_ref()
        .map(|f| f.describe())
        .unwrap_or_else(|| record.detail.clone());
    match record.status {
        Status::Xfail => format!("XFAIL, expected: {}\n{described}", record.detail),
        _ => described,
    }
}

/// Each step's outcome, and the `before` / `after` hook's when one failed.
fn outcomes(
    record: &Record,
    scenario: &Scenario,
) -> (Vec<Outcome>, Option<Outcome>, Option<Outcome>) {
    let steps = scenario.steps.len();
    let all = |o: Outcome| vec![o; steps];
    match record.status {
        Status::Pass | Status::Xpass => (all(Outcome::Passed), None, None),
        Status::Skip => (all(Outcome::Skipped), None, None),
        // Every step written like an undefined one is undefined; the others did not run.
        Status::Undefined => {
            let outcomes = scenario
                .steps
                .iter()
                .map(|step| {
                    record
                        .undefined
                        .iter()
                        .find(|u| u.step == step.text)
                        .map_or(Outcome::Skipped, |u| Outcome::Undefined(u.message()))
                })
                .collect();
            (outcomes, None, None)
        }
        Status::Fail | Status::Xfail => {
            let error = failure_text(record);
            let failure = record.failure.as_ref();
            match (
                failure.map(|f| f.step.as_str()),
                failure.and_then(|f| f.index),
            ) {
                (_, Some(index)) if index < steps => {
                    let outcomes = (0..steps)
                        .map(|i| match i.cmp(&index) {
                            Ordering::Less => Outcome::Passed,
                            Ordering::Equal => Outcome::Failed(error.clone()),
                            Ordering::Greater => Outcome::Skipped,
                        })
                        .collect();
                    (outcomes, None, None)
                }
                (Some(END), _) => (all(Outcome::Passed), None, Some(Outcome::Failed(error))),
                // START, or a failure not placed on a step (none of harmony's own runs):
                // before the first step rather than lost.
                _ => (all(Outcome::Skipped), Some(Outcome::Failed(error)), None),
            }
        }
    }
}

/// A hook entry (`before` / `after`).
fn hook(outcome: &Outcome, name: &str) -> Value {
    json!([{ "match": { "location": name }, "result": result(outcome, None) }])
}

/// `text` as cucumber-rs makes element ids: lower case, runs of other characters as `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// The Background element (when the feature has one) and the scenario's.
fn elements(record: &Record, scenario: &Scenario) -> Vec<Value> {
    let source = &scenario.source;
    let (outcomes, before, after) = outcomes(record, scenario);
    // The whole time goes on the last step that ran (none ran: on nothing).
    let timed = outcomes
        .iter()
        .rposition(|o| matches!(o, Outcome::Passed | Outcome::Failed(_)));
    let duration = Duration::from_secs_f64(record.seconds.max(0.0));
    let steps: Vec<Value> = scenario
        .steps
        .iter()
        .zip(&source.steps)
        .zip(&outcomes)
        .enumerate()
        .map(|(i, ((step, written), outcome))| {
            let mut value = json!({
                "keyword": written.keyword,
                "line": written.line,
                "name": step.text,
                "result": result(outcome, (timed == Some(i)).then_some(duration)),
            });
            if let Some(table) = &step.parameters.table {
                let rows: Vec<Value> = table
                    .iter()
                    .map(|cells| json!({ "cells": cells }))
                    .collect();
                value["rows"] = Value::Array(rows);
            }
            value
        })
        .collect();
    let split = source.background_steps.min(steps.len());
    let (background, own) = steps.split_at(split);
    let id = format!("{}/{}", slug(&source.feature_name), slug(&scenario.name));
    let mut tags: Vec<Value> = scenario
        .tags
        .iter()
        .map(|t| json!({ "name": format!("@{t}") }))
        .collect();
    match record.status {
        Status::Xfail => tags.push(json!({ "name": "@xfail" })),
        Status::Xpass => tags.push(json!({ "name": "@xpass" })),
        _ => {}
    }
    let mut scenario_element = json!({
        "keyword": "Scenario",
        "type": "scenario",
        "id": id,
        "line": source.line,
        "name": scenario.name,
        "description": if record.status == Status::Skip { record.detail.as_str() } else { "" },
        "tags": tags,
        "steps": own,
    });
    if let Some(outcome) = &before {
        scenario_element["before"] =
            hook(outcome, "harmony: starting the serves (health, initialize)");
    }
    if let Some(outcome) = &after {
        scenario_element["after"] = hook(outcome, "harmony: the end of the scenario (cleanup)");
    }
    let mut elements = Vec::new();
    if let (Some(line), false) = (source.background_line, background.is_empty()) {
        elements.push(json!({
            "keyword": "Background",
            "type": "background",
            "id": id,
            "line": line,
            "name": scenario.name,
            "tags": [],
            "steps": background,
        }));
    }
    elements.push(scenario_element);
    elements
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::{RoleFailure, StepFailure, START};
    use crate::undefined::UndefinedStep;

    const FEATURE: &str = "Feature: Things
  Background:
    Given the test environment is initialized

  @fast
  Scenario: Test 1.1 - One
    Given the 'reader' process creates buffer 'b' with default configuration
    When the 'writer' process connects to buffer 'b'
    Then the 'reader' process should read frame with size '1'
";

    fn scenario() -> Scenario {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("harmony-cucumber-json-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("01-Things.feature");
        std::fs::write(&path, FEATURE).unwrap();
        let mut scenarios = crate::features::load_file(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        scenarios.remove(0)
    }

    fn record(status: Status) -> Record {
        Record {
            status,
            seconds: 0.5,
            assignment: vec![
                ("reader".into(), "rust".into()),
                ("writer".into(), "python".into()),
            ],
            ..Record::new("rust_python", "rust/python", "01-Things", "Test 1.1 - One")
        }
    }

    fn failing(step: &str, index: Option<usize>) -> Option<StepFailure> {
        Some(StepFailure {
            step: step.into(),
            index,
            roles: vec![RoleFailure::new("writer", "python", "boom")],
        })
    }

    /// The elements of the one feature the record gives.
    fn written(record: &Record) -> Vec<Value> {
        let scenario = scenario();
        let files = by_combination(&[(record, &scenario)]);
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].0, "rust_python");
        let features: Value = serde_json::from_str(&files[0].1).unwrap();
        assert_eq!(features[0]["name"], "Things");
        assert!(features[0]["uri"]
            .as_str()
            .unwrap()
            .ends_with("01-Things.feature"));
        features[0]["elements"].as_array().unwrap().clone()
    }

    fn statuses(element: &Value) -> Vec<String> {
        element["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["result"]["status"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_pass_is_a_background_and_a_scenario_with_their_lines() {
        let elements = written(&record(Status::Pass));
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0]["type"], "background");
        assert_eq!(elements[0]["line"], 2);
        assert_eq!(elements[0]["steps"][0]["keyword"], "Given ");
        assert_eq!(elements[0]["steps"][0]["line"], 3);
        let scenario = &elements[1];
        assert_eq!(scenario["type"], "scenario");
        assert_eq!(scenario["line"], 6);
        assert_eq!(scenario["id"], "things/test-1-1-one");
        assert_eq!(scenario["tags"], json!([{ "name": "@fast" }]));
        assert_eq!(statuses(scenario), ["passed", "passed", "passed"]);
        assert_eq!(scenario["steps"][1]["keyword"], "When ");
        assert_eq!(scenario["steps"][2]["result"]["duration"], 500_000_000u64);
        assert!(scenario["steps"][1]["result"].get("duration").is_none());
    }

    #[test]
    fn a_failure_fails_the_step_it_happened_at_and_skips_the_rest() {
        let mut r = record(Status::Fail);
        r.failure = failing("the 'writer' process connects to buffer 'b'", Some(2));
        let elements = written(&r);
        assert_eq!(statuses(&elements[0]), ["passed"]);
        assert_eq!(statuses(&elements[1]), ["passed", "failed", "skipped"]);
        let error = elements[1]["steps"][1]["result"]["error_message"]
            .as_str()
            .unwrap();
        assert!(
            error.contains("writer on python") && error.contains("boom"),
            "{error}"
        );
    }

    #[test]
    fn an_expected_failure_says_so_and_is_tagged() {
        let mut r = record(Status::Xfail);
        r.detail = "the peer's defect D7".into();
        r.failure = failing(
            "the 'reader' process should read frame with size '1'",
            Some(3),
        );
        let elements = written(&r);
        assert_eq!(statuses(&elements[1]), ["passed", "passed", "failed"]);
        let error = elements[1]["steps"][2]["result"]["error_message"]
            .as_str()
            .unwrap();
        assert!(
            error.starts_with("XFAIL, expected: the peer's defect D7\n"),
            "{error}"
        );
        assert!(elements[1]["tags"]
            .as_array()
            .unwrap()
            .contains(&json!({ "name": "@xfail" })));
    }

    #[test]
    fn start_and_end_failures_are_hooks() {
        let mut r = record(Status::Fail);
        r.failure = failing(START, None);
        let elements = written(&r);
        assert_eq!(elements[1]["before"][0]["result"]["status"], "failed");
        assert_eq!(statuses(&elements[0]), ["skipped"]);
        assert_eq!(statuses(&elements[1]), ["skipped", "skipped", "skipped"]);
        r.failure = failing(END, None);
        let elements = written(&r);
        assert_eq!(elements[1]["after"][0]["result"]["status"], "failed");
        assert_eq!(statuses(&elements[1]), ["passed", "passed", "passed"]);
    }

    #[test]
    fn undefined_steps_are_undefined_with_their_hint_and_skips_say_why() {
        let mut r = record(Status::Undefined);
        r.undefined = vec![UndefinedStep {
            step: "the 'writer' process connects to buffer 'b'".into(),
            nearest: Vec::new(),
        }];
        let elements = written(&r);
        assert_eq!(statuses(&elements[1]), ["skipped", "undefined", "skipped"]);
        let error = elements[1]["steps"][1]["result"]["error_message"]
            .as_str()
            .unwrap();
        assert!(error.starts_with("undefined step: "), "{error}");

        let mut r = record(Status::Skip);
        r.detail = "needs two OS accounts".into();
        let elements = written(&r);
        assert_eq!(statuses(&elements[1]), ["skipped", "skipped", "skipped"]);
        assert_eq!(elements[1]["description"], "needs two OS accounts");
    }
}
