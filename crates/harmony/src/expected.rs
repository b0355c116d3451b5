//! `conformance/expected-failures.toml`: known failures, each pinned to what fails — the
//! combination and scenario, the role and the platform it runs on, the step (a substring of
//! its text) and the error (a substring) — with the reason. A failure of a listed scenario
//! that is not pinned by an entry is not excused: it "failed differently than expected".

mod load;

pub use load::{load, parse};

use harmony_wire::Filter;

use crate::failure::{RoleFailure, StepFailure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFailure {
    /// A combination name (`python_rust`), or `*` for every combination.
    pub combination: String,
    /// A scenario number (`2.2`), a group (`4.*`), or a list: the runners' filter.
    pub scenario: Filter,
    /// The platform of the failing role, exactly.
    pub platform: String,
    /// The failing role, exactly.
    pub role: String,
    /// A substring of the failing step's text (`(start)` before the first step).
    pub step: String,
    /// A substring of the error.
    pub error: String,
    pub reason: String,
    /// The failure comes and goes (a race in the peer): a pass is a plain pass, not XPASS.
    pub intermittent: bool,
    /// Where it is written: the entry's number (from 1) and line in the file.
    pub entry: usize,
    pub line: usize,
}

impl ExpectedFailure {
    /// Whether this entry is about `scenario_number` under `combination`.
    pub fn covers(&self, combination: &str, scenario_number: &str) -> bool {
        (self.combination == "*" || self.combination == combination)
            && self.scenario.selects_number(scenario_number)
    }

    /// Whether `failure` of `step` is exactly what this entry expects.
    pub fn pins(&self, step: &str, failure: &RoleFailure) -> bool {
        self.role == failure.role
            && self.platform == failure.platform
            && step.contains(&self.step)
            && failure.error.contains(&self.error)
    }

    /// `writer on python, step "…", error "…" (entry 3, line 20)`.
    pub fn describe(&self) -> String {
        format!(
            "{} on {}, step {:?}, error {:?} (entry {}, line {})",
            self.role, self.platform, self.step, self.error, self.entry, self.line
        )
    }
}

/// How a scenario's outcome compares with the list.
#[derive(Debug, PartialEq)]
pub enum Verdict<'a> {
    /// Passed, not listed.
    Pass,
    /// Passed; listed as intermittent.
    IntermittentPass(&'a ExpectedFailure),
    /// Passed; listed: the entry can go.
    Xpass(&'a ExpectedFailure),
    /// Failed, not listed.
    Fail,
    /// Failed exactly as listed: every failing role is pinned by one of these entries.
    Xfail(Vec<&'a ExpectedFailure>),
    /// Failed, listed, but some failing role is pinned by no entry.
    Different {
        expected: Vec<&'a ExpectedFailure>,
        unpinned: Vec<&'a RoleFailure>,
    },
}

/// Every entry about `scenario_number` under `combination`, in file order.
pub fn listed<'a>(
    list: &'a [ExpectedFailure],
    combination: &str,
    scenario_number: &str,
) -> Vec<&'a ExpectedFailure> {
    list.iter()
        .filter(|e| e.covers(combination, scenario_number))
        .collect()
}

/// Judges one scenario run. A broadcast can fail on several roles; each must be pinned (by
/// the same or another entry of the scenario), so a failure on our platform can never hide
/// behind an entry blaming a peer.
pub fn judge<'a>(
    list: &'a [ExpectedFailure],
    combination: &str,
    scenario_number: &str,
    failure: Option<&'a StepFailure>,
) -> Verdict<'a> {
    let entries = listed(list, combination, scenario_number);
    let Some(failure) = failure else {
        return match entries.iter().find(|e| e.intermittent) {
            Some(entry) => Verdict::IntermittentPass(entry),
            None => entries.first().map_or(Verdict::Pass, |e| Verdict::Xpass(e)),
        };
    };
    if entries.is_empty() {
        return Verdict::Fail;
    }
    let mut pinning: Vec<&ExpectedFailure> = Vec::new();
    let mut unpinned = Vec::new();
    for role in &failure.roles {
        match entries.iter().find(|e| e.pins(&failure.step, role)) {
            Some(entry) if !pinning.contains(entry) => pinning.push(entry),
            Some(_) => {}
            None => unpinned.push(role),
        }
    }
    if pinning.is_empty() || !unpinned.is_empty() {
        return Verdict::Different {
            expected: entries,
            unpinned,
        };
    }
    Verdict::Xfail(pinning)
}

/// The first line of a FAIL whose scenario is listed: `failed differently than expected:
/// expected …; actual …`.
pub fn differently(expected: &[&ExpectedFailure], unpinned: &[&RoleFailure], step: &str) -> String {
    let expected: Vec<String> = expected.iter().map(|e| e.describe()).collect();
    let actual: Vec<String> = unpinned.iter().map(|r| r.describe(step)).collect();
    let actual = if actual.is_empty() {
        "no role recorded".to_owned()
    } else {
        actual.join(" and ")
    };
    format!(
        "failed differently than expected: expected {}; actual {actual}",
        expected.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(role: &str, platform: &str, step: &str, error: &str) -> ExpectedFailure {
        ExpectedFailure {
            combination: "python_rust".into(),
            scenario: "3.1".parse().unwrap(),
            platform: platform.into(),
            role: role.into(),
            step: step.into(),
            error: error.into(),
            reason: "peer defect".into(),
            intermittent: false,
            entry: 1,
            line: 8,
        }
    }

    fn failed(step: &str, roles: &[(&str, &str, &str)]) -> StepFailure {
        StepFailure {
            step: step.into(),
            index: None,
            roles: roles
                .iter()
                .map(|(r, p, e)| RoleFailure::new(r, p, *e))
                .collect(),
        }
    }

    const STEP: &str = "the 'reader' process verifies the original metadata";

    #[test]
    fn a_failure_matching_every_field_is_xfail() {
        let list = [entry(
            "reader",
            "python",
            "verifies the original",
            "no step",
        )];
        let got = failed(STEP, &[("reader", "python", "no step matches: x")]);
        assert_eq!(
            judge(&list, "python_rust", "3.1", Some(&got)),
            Verdict::Xfail(vec![&list[0]])
        );
    }

    #[test]
    fn any_field_that_differs_makes_it_fail_differently() {
        let list = [entry(
            "reader",
            "python",
            "verifies the original",
            "no step",
        )];
        let cases = [
            failed(STEP, &[("writer", "python", "no step matches")]),
            failed(STEP, &[("reader", "rust", "no step matches")]),
            failed("another step", &[("reader", "python", "no step matches")]),
            failed(STEP, &[("reader", "python", "Step execution timeout")]),
            failed(STEP, &[]),
        ];
        for got in &cases {
            let verdict = judge(&list, "python_rust", "3.1", Some(got));
            assert!(
                matches!(&verdict, Verdict::Different { expected, .. } if expected.len() == 1),
                "{got:?}: {verdict:?}"
            );
        }
    }

    #[test]
    fn an_entry_blaming_python_never_excuses_a_rust_role_in_a_broadcast() {
        let list = [entry("writer", "python", "environment", "no step")];
        let got = failed(
            "the test environment is initialized",
            &[
                ("reader", "rust", "no step matches"),
                ("writer", "python", "no step matches"),
            ],
        );
        let verdict = judge(&list, "python_rust", "3.1", Some(&got));
        let Verdict::Different { expected, unpinned } = verdict else {
            panic!("{verdict:?}");
        };
        assert_eq!(unpinned, [&got.roles[0]]);
        let line = differently(&expected, &unpinned, &got.step);
        assert!(
            line.starts_with("failed differently than expected: expected writer on python, step \"environment\", error \"no step\" (entry 1, line 8); actual reader on rust, step \"the test environment is initialized\", error \"no step matches\""),
            "{line}"
        );
        // Both roles pinned (one entry each): expected.
        let both = [
            list[0].clone(),
            entry("reader", "python", "environment", "no step"),
        ];
        let python = failed(
            &got.step,
            &[
                ("reader", "python", "no step matches"),
                ("writer", "python", "no step matches"),
            ],
        );
        assert!(matches!(
            judge(&both, "python_rust", "3.1", Some(&python)),
            Verdict::Xfail(v) if v.len() == 2
        ));
    }

    #[test]
    fn passes_failures_and_wildcards() {
        let mut flaky = entry("client", "python", "at least", "less than minimum");
        flaky.intermittent = true;
        let list = [entry("reader", "python", "x", "y"), flaky];
        assert_eq!(judge(&list, "python_rust", "1.1", None), Verdict::Pass);
        assert_eq!(
            judge(&list, "python_rust", "3.1", None),
            Verdict::IntermittentPass(&list[1])
        );
        assert_eq!(
            judge(&list[..1], "python_rust", "3.1", None),
            Verdict::Xpass(&list[0])
        );
        let got = failed("x", &[("reader", "python", "y")]);
        assert_eq!(judge(&list, "rust", "3.1", Some(&got)), Verdict::Fail);
        let mut any = entry("reader", "python", "x", "y");
        (any.combination, any.scenario) = ("*".into(), "3.*".parse().unwrap());
        let any = [any];
        assert!(matches!(
            judge(&any, "python", "3.10", Some(&got)),
            Verdict::Xfail(_)
        ));
        assert_eq!(judge(&any, "python", "13.1", Some(&got)), Verdict::Fail);
    }
}
