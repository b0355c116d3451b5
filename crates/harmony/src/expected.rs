//! `conformance/expected-failures.toml`: known failures, each naming a combination, a
//! scenario number and the reason: a list of `[[failure]]` tables.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFailure {
    /// A combination name (`python_rust`), or `*` for every combination.
    pub combination: String,
    /// A scenario number (`2.2`) or filter (`4.*`).
    pub scenario: String,
    pub reason: String,
    /// The failure comes and goes (a race in the peer): a pass is reported as a plain pass,
    /// not as XPASS, because it is no sign that the entry can go.
    #[serde(default)]
    pub intermittent: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedFailures {
    #[serde(default)]
    failure: Vec<ExpectedFailure>,
}

pub fn parse(text: &str) -> Result<Vec<ExpectedFailure>> {
    Ok(toml::from_str::<ExpectedFailures>(text)?.failure)
}

/// Reads the list at `path`; a missing file is an error (callers decide whether no list
/// at a default location is fine).
pub fn load(path: &Path) -> Result<Vec<ExpectedFailure>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

/// The entry expecting `scenario_number` to fail under `combination`.
pub fn lookup<'a>(
    list: &'a [ExpectedFailure],
    combination: &str,
    scenario_number: &str,
) -> Option<&'a ExpectedFailure> {
    list.iter().find(|e| {
        (e.combination == "*" || e.combination == combination)
            && match e.scenario.strip_suffix('*') {
                Some(prefix) => scenario_number.starts_with(prefix),
                None => e.scenario == scenario_number,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries() {
        let text = "# x\n[[failure]]\ncombination = \"python\"\nscenario = \"2.2\"\nreason = \"no \\\"crash\\\"\"\n";
        let list = parse(text).unwrap();
        assert_eq!(list[0].reason, "no \"crash\"");
        assert!(lookup(&list, "python", "2.2").is_some());
        assert!(lookup(&list, "rust", "2.2").is_none());
        assert!(!list[0].intermittent);
        assert!(parse("[[failure]]\ncombination = \"x\"\n").is_err());
        let flaky = "[[failure]]\ncombination = \"*\"\nscenario = \"1.*\"\nreason = \"r\"\nintermittent = true\n";
        let list = parse(flaky).unwrap();
        assert!(list[0].intermittent);
        assert!(lookup(&list, "rust", "1.7").is_some());
    }
}
