//! The selected scenarios, before anything runs: each is skipped by a tag (with the reason),
//! undefined (a step no binding matches, looked up exactly as cucumber-rs looks it up: in the
//! bindings of its Given/When/Then kind) or to run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use cucumber::gherkin::{self, Feature, Scenario};
use cucumber::World as _;
use harmony_wire::{selection, Filter, StepType};
use zerobuffer_steps::ZbWorld;

/// What will become of a selected scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Run,
    Skip(&'static str),
    /// Its undefined steps (Background first), each with its kind, each text once.
    Undefined(Vec<(StepType, String)>),
}

#[derive(Debug, Clone)]
pub struct Planned {
    /// The feature's name (`Feature: …`).
    pub feature: String,
    pub path: PathBuf,
    /// `Test N.M - Title`.
    pub name: String,
    pub line: usize,
    pub column: usize,
    pub verdict: Verdict,
}

/// How cucumber-rs names a scenario to the filter: feature name, scenario name, line.
pub type Key = (String, String, usize);

impl Planned {
    pub fn key(&self) -> Key {
        (self.feature.clone(), self.name.clone(), self.line)
    }
}

/// The key of a scenario as cucumber-rs hands it to the run's filter.
pub fn key(feature: &Feature, scenario: &Scenario) -> Key {
    (
        feature.name.clone(),
        scenario.name.clone(),
        scenario.position.line,
    )
}

/// The keys of the undefined scenarios (the run leaves them out).
pub fn undefined_keys(planned: &[Planned]) -> HashSet<Key> {
    planned
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Undefined(_)))
        .map(Planned::key)
        .collect()
}

pub fn skip_reason(feature: &Feature, scenario: &Scenario) -> Option<&'static str> {
    let tags = feature.tags.iter().chain(scenario.tags.iter());
    selection::skip_reason(tags.map(String::as_str))
}

fn kind(ty: gherkin::StepType) -> StepType {
    match ty {
        gherkin::StepType::Given => StepType::Given,
        gherkin::StepType::When => StepType::When,
        gherkin::StepType::Then => StepType::Then,
    }
}

/// The `*.feature` files of `dir`, sorted.
fn feature_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "feature"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Every scenario of `dir` that `filter` selects, in file and line order.
pub fn scan(dir: &Path, filter: &Filter) -> Result<Vec<Planned>, String> {
    let bindings = ZbWorld::collection();
    let mut planned = Vec::new();
    for path in feature_files(dir)? {
        let feature = Feature::parse_path(&path, Default::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let background = feature.background.as_ref().map(|b| b.steps.as_slice());
        for scenario in feature.scenarios.iter().filter(|s| filter.selects(&s.name)) {
            let verdict = match skip_reason(&feature, scenario) {
                Some(reason) => Verdict::Skip(reason),
                None => {
                    let mut undefined: Vec<(StepType, String)> = Vec::new();
                    let steps = background.unwrap_or_default().iter().chain(&scenario.steps);
                    // An ambiguous step is defined (cucumber-rs fails it when it runs).
                    for step in steps.filter(|s| matches!(bindings.find(s), Ok(None))) {
                        if !undefined.iter().any(|(_, text)| *text == step.value) {
                            undefined.push((kind(step.ty), step.value.clone()));
                        }
                    }
                    if undefined.is_empty() {
                        Verdict::Run
                    } else {
                        Verdict::Undefined(undefined)
                    }
                }
            };
            planned.push(Planned {
                feature: feature.name.clone(),
                path: path.clone(),
                name: scenario.name.clone(),
                line: scenario.position.line,
                column: scenario.position.col,
                verdict,
            });
        }
    }
    Ok(planned)
}
