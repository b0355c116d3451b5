//! Feature files → scenarios ready to run: Background and Scenario routed separately and
//! joined, roles in order of first appearance, feature id from the file name.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};

use harmony_wire::StepParameters;

use crate::routing::{self, RoutedStep};

#[derive(Debug, Clone)]
pub struct Scenario {
    /// The feature file name without `.feature`, e.g. `01-BasicCommunication`.
    pub feature: String,
    /// The integer before the first `-` of the file name.
    pub feature_id: u32,
    /// The scenario title, e.g. `Test 1.1 - Simple Write-Read Cycle`.
    pub name: String,
    /// Scenario tags and feature tags, without `@`.
    pub tags: Vec<String>,
    pub steps: Vec<RoutedStep>,
    /// Roles in order of first appearance.
    pub roles: Vec<String>,
    /// Where it is written, for reports that point at the text (Cucumber JSON).
    pub source: Source,
}

/// Where a scenario and its steps are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// The `Feature:` title.
    pub feature_name: String,
    /// The `Scenario:` line.
    pub line: usize,
    /// The `Background:` line, when the feature has one; its steps come first in `steps`.
    pub background_line: Option<usize>,
    /// How many of the steps are the Background's.
    pub background_steps: usize,
    /// One per routed step, in order: the keyword as written (`And `) and its line.
    pub steps: Vec<SourceStep>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStep {
    pub keyword: String,
    pub line: usize,
}

impl Scenario {
    /// The `N.M` of a `Test N.M - ...` title.
    pub fn number(&self) -> Option<&str> {
        harmony_wire::selection::scenario_number(&self.name)
    }
}

/// The feature id of `NN-Name.feature`.
pub fn feature_id(path: &Path) -> Result<u32> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.split('-')
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("{}: the file name must start with 'NN-'", path.display()))
}

/// Parses one feature file.
pub fn load_file(path: &Path) -> Result<Vec<Scenario>> {
    let feature = gherkin::Feature::parse_path(path, gherkin::GherkinEnv::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    scenarios(&feature, path)
}

/// Parses the text of a feature file as if it were read from `path` (which gives the feature
/// id and name); the fuzz target `features` feeds it arbitrary text.
pub fn parse_text(text: &str, path: &Path) -> Result<Vec<Scenario>> {
    let feature = gherkin::Feature::parse(text, gherkin::GherkinEnv::default())
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    scenarios(&feature, path)
}

/// The routed scenarios of a parsed feature.
fn scenarios(feature: &gherkin::Feature, path: &Path) -> Result<Vec<Scenario>> {
    let id = feature_id(path)?;
    let stem = path
        .file_stem()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let section = |steps: &[gherkin::Step]| {
        let mut routed =
            routing::route(steps.iter().map(|s| (s.keyword.as_str(), s.value.as_str())));
        for (routed, step) in routed.iter_mut().zip(steps) {
            routed.parameters = StepParameters {
                table: step.table.as_ref().map(|t| t.rows.clone()),
                doc_string: step.docstring.clone(),
            };
        }
        routed
    };
    let background = feature
        .background
        .as_ref()
        .map(|b| section(&b.steps))
        .unwrap_or_default();
    Ok(feature
        .scenarios
        .iter()
        .map(|scenario| {
            let mut steps = background.clone();
            steps.extend(section(&scenario.steps));
            let mut tags: Vec<String> = scenario
                .tags
                .iter()
                .chain(&feature.tags)
                .map(|t| t.trim_start_matches('@').to_owned())
                .collect();
            tags.dedup();
            let background_steps = feature.background.as_ref().map_or(0, |b| b.steps.len());
            let source = Source {
                path: path.to_owned(),
                feature_name: feature.name.clone(),
                line: scenario.position.line,
                background_line: feature.background.as_ref().map(|b| b.position.line),
                background_steps,
                steps: feature
                    .background
                    .iter()
                    .flat_map(|b| &b.steps)
                    .chain(&scenario.steps)
                    .map(|step| SourceStep {
                        keyword: step.keyword.clone(),
                        line: step.position.line,
                    })
                    .collect(),
            };
            Scenario {
                feature: stem.clone(),
                feature_id: id,
                name: scenario.name.clone(),
                tags,
                roles: routing::roles(&steps),
                steps,
                source,
            }
        })
        .collect())
}

/// Every `*.feature` of `dir`, in file-name order.
pub fn load_dir(dir: &Path) -> Result<Vec<Scenario>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the features directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "feature"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no .feature files in {}", dir.display());
    }
    let mut all = Vec::new();
    for file in files {
        all.extend(load_file(&file)?);
    }
    Ok(all)
}
