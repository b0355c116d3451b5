//! Results and their reports: the live line, the final table, the summary line, JUnit XML,
//! JSON and a Markdown matrix (scenario × combination); the HTML results page is
//! `crate::page`. An UNDEFINED scenario (a step our
//! vocabulary lacks; it never ran) counts as failed everywhere, and is named as undefined.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::failure::{RoleOutput, StepFailure};
use crate::undefined::UndefinedStep;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// A listed expected failure that failed.
    Xfail,
    /// A listed expected failure that passed: the list should shrink.
    Xpass,
    Skip,
    /// A step no line of our vocabulary matches: the scenario did not run, and fails.
    Undefined,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Xfail => "XFAIL",
            Status::Xpass => "XPASS",
            Status::Skip => "SKIP",
            Status::Undefined => "UNDEFINED",
        }
    }

    fn cell(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "**FAIL**",
            Status::Xfail => "xfail",
            Status::Xpass => "**XPASS**",
            Status::Skip => "skip",
            Status::Undefined => "**UNDEFINED**",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub combination: String,
    /// `rust/python`
    pub platforms: String,
    pub feature: String,
    pub scenario: String,
    pub number: String,
    pub status: Status,
    pub seconds: f64,
    /// Role → platform, in role order.
    pub assignment: Vec<(String, String)>,
    /// The failure, skip reason or expected-failure reason.
    pub detail: String,
    /// What failed (step, roles, platforms, errors), for a run that failed (for an
    /// undefined scenario: its first undefined step).
    pub failure: Option<StepFailure>,
    /// The undefined steps of an UNDEFINED scenario, with their nearest lines.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub undefined: Vec<UndefinedStep>,
    /// What each serve process printed, for a run that failed: its stderr tail and step
    /// logs (empty in-process, and for a run that passed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output: Vec<RoleOutput>,
}

impl Record {
    /// A SKIP record with nothing more to say yet: its number taken from the title
    /// (`Test N.M - …`), no time, no assignment, no detail.
    pub fn new(combination: &str, platforms: &str, feature: &str, scenario: &str) -> Record {
        Record {
            combination: combination.to_owned(),
            platforms: platforms.to_owned(),
            feature: feature.to_owned(),
            scenario: scenario.to_owned(),
            number: harmony_wire::selection::scenario_number(scenario)
                .unwrap_or_default()
                .to_owned(),
            status: Status::Skip,
            seconds: 0.0,
            assignment: Vec::new(),
            detail: String::new(),
            failure: None,
            undefined: Vec::new(),
            output: Vec::new(),
        }
    }

    /// Harmony's test name: `rust/python | Test 1.1 - ...`.
    pub fn test_name(&self) -> String {
        format!("{} | {}", self.platforms, self.scenario)
    }

    pub fn live_line(&self) -> String {
        let mut line = format!(
            "{:<5} {} ({:.1}s)",
            self.status.word(),
            self.test_name(),
            self.seconds
        );
        if matches!(self.status, Status::Skip | Status::Xfail | Status::Xpass) {
            let first = self.detail.lines().next().unwrap_or_default();
            let _ = write!(line, ": {first}");
        }
        line
    }
}

pub fn count(records: &[Record], status: Status) -> usize {
    records.iter().filter(|r| r.status == status).count()
}

/// FAIL and UNDEFINED: what fails a run.
pub fn failed(records: &[Record]) -> usize {
    count(records, Status::Fail) + count(records, Status::Undefined)
}

/// The plain line: `N passed, N failed, N skipped`. An XFAIL counts as passed; an XPASS passed
/// too (it is reported in the table so the expected-failures entry gets removed, but a peer
/// that got better must not turn the run red); an UNDEFINED failed.
pub fn summary_line(records: &[Record]) -> String {
    let passed = count(records, Status::Pass)
        + count(records, Status::Xfail)
        + count(records, Status::Xpass);
    let failed = failed(records);
    format!(
        "{passed} passed, {failed} failed, {} skipped",
        count(records, Status::Skip)
    )
}

/// Statuses whose detail the table and the matrix show.
fn noted(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Xpass | Status::Undefined)
}

/// The final table: every result (a FAIL, XPASS or UNDEFINED with the first line of its
/// detail below it), then counts.
pub fn table(records: &[Record]) -> String {
    let mut out = String::new();
    let width = records
        .iter()
        .map(|r| r.test_name().len())
        .max()
        .unwrap_or(0);
    let status = records
        .iter()
        .map(|r| r.status.word().len())
        .max()
        .unwrap_or(0)
        .max(6);
    let _ = writeln!(
        out,
        "{:<status$} {:<width$} {:>7}",
        "status", "test", "seconds"
    );
    for r in records {
        let _ = writeln!(
            out,
            "{:<status$} {:<width$} {:>7.1}",
            r.status.word(),
            r.test_name(),
            r.seconds
        );
        if noted(r.status) {
            let _ = writeln!(
                out,
                "{:status$} {}",
                "",
                r.detail.lines().next().unwrap_or_default()
            );
        }
    }
    let undefined = count(records, Status::Undefined);
    let _ = writeln!(
        out,
        "{} pass, {} fail, {} xfail, {} xpass, {} skip{}",
        count(records, Status::Pass),
        count(records, Status::Fail),
        count(records, Status::Xfail),
        count(records, Status::Xpass),
        count(records, Status::Skip),
        if undefined > 0 {
            format!(", {undefined} undefined")
        } else {
            String::new()
        }
    );
    out
}

/// Text made safe inside XML or HTML markup (attribute values included); control characters
/// XML cannot carry are dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: one testsuite per combination, one testcase per `platforms | scenario`.
pub fn junit(records: &[Record], total: Duration) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let failures = failed(records) + count(records, Status::Xpass);
    let _ = writeln!(
        out,
        "<testsuites name=\"harmony\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        records.len(),
        total.as_secs_f64()
    );
    let combinations: BTreeSet<&str> = records.iter().map(|r| r.combination.as_str()).collect();
    for combination in combinations {
        let mine: Vec<&Record> = records
            .iter()
            .filter(|r| r.combination == combination)
            .collect();
        let fails = mine
            .iter()
            .filter(|r| matches!(r.status, Status::Fail | Status::Xpass | Status::Undefined))
            .count();
        let skips = mine.iter().filter(|r| r.status == Status::Skip).count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{fails}\" skipped=\"{skips}\">",
            xml_escape(combination),
            mine.len()
        );
        for r in mine {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml_escape(&r.feature),
                xml_escape(&r.test_name()),
                r.seconds
            );
            let detail = xml_escape(&r.detail);
            match r.status {
                Status::Pass => out.push_str("/>\n"),
                Status::Fail => {
                    let first = xml_escape(r.detail.lines().next().unwrap_or_default());
                    let _ = writeln!(
                        out,
                        ">\n      <failure message=\"{first}\">{detail}</failure>\n    </testcase>"
                    );
                }
                Status::Xpass => {
                    let _ = writeln!(out, ">\n      <failure message=\"unexpected pass: remove it from expected-failures.toml\">{detail}</failure>\n    </testcase>");
                }
                Status::Xfail => {
                    let _ = writeln!(out, ">\n      <skipped message=\"expected failure: {detail}\"/>\n    </testcase>");
                }
                Status::Skip => {
                    let _ = writeln!(
                        out,
                        ">\n      <skipped message=\"{detail}\"/>\n    </testcase>"
                    );
                }
                Status::Undefined => {
                    let first = xml_escape(r.detail.lines().next().unwrap_or_default());
                    let hints: Vec<String> = r.undefined.iter().map(|u| u.message()).collect();
                    let body = xml_escape(&hints.join("\n"));
                    let _ = writeln!(
                        out,
                        ">\n      <failure type=\"undefined\" message=\"{first}\">{body}</failure>\n    </testcase>"
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Counts and every record; `failed` counts FAIL and UNDEFINED, `undefined` UNDEFINED alone
/// (an undefined record lists its steps, each with its `nearest` lines).
pub fn json(records: &[Record]) -> String {
    let summary = serde_json::json!({
        "passed": count(records, Status::Pass),
        "failed": failed(records),
        "undefined": count(records, Status::Undefined),
        "xfail": count(records, Status::Xfail),
        "xpass": count(records, Status::Xpass),
        "skipped": count(records, Status::Skip),
        "results": records,
    });
    serde_json::to_string_pretty(&summary).expect("serializable") + "\n"
}

/// A Markdown table, one row per scenario and one column per combination, then what each
/// FAIL and XPASS was.
pub fn markdown(records: &[Record]) -> String {
    let mut combinations: Vec<&str> = Vec::new();
    let mut scenarios: Vec<&str> = Vec::new();
    for r in records {
        if !combinations.contains(&r.combination.as_str()) {
            combinations.push(&r.combination);
        }
        if !scenarios.contains(&r.scenario.as_str()) {
            scenarios.push(&r.scenario);
        }
    }
    let mut out = format!("| scenario | {} |\n", combinations.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(combinations.len()));
    for scenario in scenarios {
        let cells: Vec<&str> = combinations
            .iter()
            .map(|c| {
                records
                    .iter()
                    .find(|r| r.scenario == scenario && r.combination == *c)
                    .map_or("", |r| r.status.cell())
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} |",
            scenario.replace('|', "\\|"),
            cells.join(" | ")
        );
    }
    let notes: Vec<&Record> = records.iter().filter(|r| noted(r.status)).collect();
    if !notes.is_empty() {
        out.push('\n');
    }
    for r in notes {
        let first = r.detail.lines().next().unwrap_or_default();
        let _ = writeln!(
            out,
            "- {} `{}` {}: {}",
            r.status.word(),
            r.combination,
            r.scenario.replace('|', "\\|"),
            first.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n{}", summary_line(records));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: Status) -> Record {
        Record {
            status,
            seconds: 1.0,
            assignment: vec![("reader".into(), "rust".into())],
            detail: "why & how".into(),
            ..Record::new(
                "rust_python",
                "rust/python",
                "01-BasicCommunication",
                "Test 1.1 - Simple <Write>",
            )
        }
    }

    #[test]
    fn reports() {
        let mut fail = record(Status::Fail);
        fail.detail = "failed differently than expected: a | b\nmore".into();
        let records = [record(Status::Pass), record(Status::Xfail), fail];
        assert_eq!(summary_line(&records), "2 passed, 1 failed, 0 skipped");
        let xml = junit(&records, Duration::from_secs(3));
        assert!(xml.contains("name=\"rust/python | Test 1.1 - Simple &lt;Write&gt;\""));
        assert!(xml.contains("why &amp; how"));
        let md = markdown(&records);
        assert!(md.starts_with("| scenario | rust_python |"));
        assert!(md.contains("- FAIL `rust_python` Test 1.1 - Simple <Write>: failed differently than expected: a \\| b\n"), "{md}");
        assert!(table(&records).contains("\n       failed differently than expected: a | b\n"));
        assert!(json(&records).contains("\"status\": \"xfail\""));
    }

    #[test]
    fn undefined_fails_and_says_so_everywhere() {
        let mut undefined = record(Status::Undefined);
        undefined.scenario = "Test 1.2 - Older".into();
        undefined.detail = "undefined step: \"the moon\"".into();
        undefined.undefined = vec![UndefinedStep {
            step: "the moon".into(),
            nearest: Vec::new(),
        }];
        let records = [record(Status::Pass), undefined, record(Status::Skip)];
        assert_eq!(summary_line(&records), "1 passed, 1 failed, 1 skipped");
        let xml = junit(&records, Duration::from_secs(1));
        assert!(xml.contains("failures=\"1\""), "{xml}");
        assert!(xml.contains("<failure type=\"undefined\" message=\"undefined step: &quot;the moon&quot;\">undefined step: &quot;the moon&quot;; nearest: no close match</failure>"), "{xml}");
        let md = markdown(&records);
        assert!(md.contains("| **UNDEFINED** |"), "{md}");
        assert!(
            md.contains("- UNDEFINED `rust_python` Test 1.2 - Older: undefined step"),
            "{md}"
        );
        let table = table(&records);
        assert!(table.contains("UNDEFINED rust/python"), "{table}");
        assert!(
            table.ends_with("1 pass, 0 fail, 0 xfail, 0 xpass, 1 skip, 1 undefined\n"),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&json(&records)).unwrap();
        assert_eq!(
            (json["failed"].as_u64(), json["undefined"].as_u64()),
            (Some(1), Some(1))
        );
        assert_eq!(json["results"][1]["status"], "undefined");
        assert_eq!(
            json["results"][1]["undefined"],
            serde_json::json!([{"step": "the moon", "nearest": []}])
        );
        assert!(
            json["results"][0].get("undefined").is_none(),
            "only when there are some"
        );
    }
}
