//! `--baseline results.json`: an earlier run's results (the format `report::json` writes),
//! and what changed since. Cells are matched by (combination, scenario). A cell that fails
//! now (FAIL or UNDEFINED) and did not fail then, or was not there, is a new failure; one
//! that passes now (PASS, XPASS, or XFAIL, which the summary counts as passed) and failed
//! then is a new pass. A SKIP is neither.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::report::{Record, Status};

/// Why a baseline cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("cannot read the baseline {}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the baseline {} is not a harmony results.json (`results: [{{combination, scenario, \
         status}}]`)",
        path.display()
    )]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// How a cell changed since the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    NewFailure,
    NewPass,
}

impl Change {
    /// `new failure`, `new pass`: the words the page shows.
    pub fn label(self) -> &'static str {
        match self {
            Change::NewFailure => "new failure",
            Change::NewPass => "new pass",
        }
    }

    /// The CSS class of a changed cell.
    pub fn class(self) -> &'static str {
        match self {
            Change::NewFailure => "new-failure",
            Change::NewPass => "new-pass",
        }
    }
}

#[derive(Deserialize)]
struct File {
    results: Vec<Cell>,
}

#[derive(Deserialize)]
struct Cell {
    combination: String,
    scenario: String,
    status: Status,
}

/// The statuses of an earlier run, by (combination, scenario).
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// Where it was read from, as the page names it.
    pub source: String,
    cells: HashMap<(String, String), Status>,
}

fn fails(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Undefined)
}

impl Baseline {
    /// Reads `path`; a missing or malformed file is an error, never an empty baseline.
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let text = std::fs::read_to_string(path).map_err(|source| BaselineError::Read {
            path: path.to_owned(),
            source,
        })?;
        Baseline::parse(&text, path)
    }

    /// Parses the text of a results.json read from `path`.
    pub fn parse(text: &str, path: &Path) -> Result<Baseline, BaselineError> {
        let file: File = serde_json::from_str(text).map_err(|source| BaselineError::Parse {
            path: path.to_owned(),
            source,
        })?;
        let cells = file
            .results
            .into_iter()
            .map(|c| ((c.combination, c.scenario), c.status))
            .collect();
        Ok(Baseline {
            source: path.display().to_string(),
            cells,
        })
    }

    /// The status `record`'s cell had, if the baseline has it.
    pub fn before(&self, record: &Record) -> Option<Status> {
        let key = (record.combination.clone(), record.scenario.clone());
        self.cells.get(&key).copied()
    }

    /// How `record`'s cell changed, if it did.
    pub fn change(&self, record: &Record) -> Option<Change> {
        let before = self.before(record);
        let now = record.status;
        if fails(now) && !before.is_some_and(fails) {
            Some(Change::NewFailure)
        } else if !fails(now) && now != Status::Skip && before.is_some_and(fails) {
            Some(Change::NewPass)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(combination: &str, scenario: &str, status: Status) -> Record {
        Record {
            status,
            ..Record::new(
                combination,
                &combination.replace('_', "/"),
                "01-BasicCommunication",
                scenario,
            )
        }
    }

    const EARLIER: &str = r#"{"passed": 1, "results": [
        {"combination": "rust", "scenario": "Test 1.1 - A", "status": "pass", "seconds": 1.0},
        {"combination": "rust", "scenario": "Test 1.2 - B", "status": "fail"},
        {"combination": "rust", "scenario": "Test 1.3 - C", "status": "xfail"},
        {"combination": "rust", "scenario": "Test 1.4 - D", "status": "undefined"},
        {"combination": "rust", "scenario": "Test 1.5 - E", "status": "skip"},
        {"combination": "python", "scenario": "Test 1.1 - A", "status": "fail"}
    ]}"#;

    fn change(
        baseline: &Baseline,
        combination: &str,
        scenario: &str,
        now: Status,
    ) -> Option<Change> {
        baseline.change(&record(combination, scenario, now))
    }

    #[test]
    fn marks_new_failures_and_new_passes_by_combination_and_scenario() {
        let base = Baseline::parse(EARLIER, Path::new("earlier.json")).unwrap();
        let (fail, pass) = (Some(Change::NewFailure), Some(Change::NewPass));
        // Was passing (pass, xfail, skip) or absent, now fails: new failure.
        assert_eq!(change(&base, "rust", "Test 1.1 - A", Status::Fail), fail);
        assert_eq!(
            change(&base, "rust", "Test 1.3 - C", Status::Undefined),
            fail
        );
        assert_eq!(change(&base, "rust", "Test 1.5 - E", Status::Fail), fail);
        assert_eq!(change(&base, "rust", "Test 9.9 - new", Status::Fail), fail);
        assert_eq!(
            change(&base, "rust_python", "Test 1.1 - A", Status::Fail),
            fail
        );
        // Was failing, now passes (pass, xpass, xfail): new pass.
        assert_eq!(change(&base, "rust", "Test 1.2 - B", Status::Pass), pass);
        assert_eq!(change(&base, "rust", "Test 1.4 - D", Status::Xfail), pass);
        assert_eq!(change(&base, "python", "Test 1.1 - A", Status::Xpass), pass);
        // No change: still failing, still passing, now skipped, absent and passing.
        assert_eq!(
            change(&base, "rust", "Test 1.2 - B", Status::Undefined),
            None
        );
        assert_eq!(change(&base, "rust", "Test 1.1 - A", Status::Pass), None);
        assert_eq!(change(&base, "rust", "Test 1.2 - B", Status::Skip), None);
        assert_eq!(change(&base, "rust", "Test 9.9 - new", Status::Pass), None);
        assert_eq!(Change::NewFailure.label(), "new failure");
    }

    #[test]
    fn a_missing_or_malformed_baseline_is_an_error() {
        let missing = Baseline::load(Path::new("/nonexistent/results.json")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "cannot read the baseline /nonexistent/results.json"
        );
        assert!(
            std::error::Error::source(&missing).is_some(),
            "the io error"
        );
        for text in [
            "",
            "{}",
            "[1, 2]",
            r#"{"results": [{"combination": "rust"}]}"#,
        ] {
            let error = Baseline::parse(text, Path::new("b.json")).unwrap_err();
            assert!(
                matches!(error, BaselineError::Parse { .. })
                    && error
                        .to_string()
                        .contains("b.json is not a harmony results.json"),
                "{text}: {error}"
            );
        }
        let unknown = r#"{"results": [{"combination": "rust", "scenario": "x", "status": "meh"}]}"#;
        assert!(Baseline::parse(unknown, Path::new("b.json")).is_err());
    }
}
