//! Results and their reports: the live line, the final table, the summary line, JUnit XML,
//! JSON and a Markdown matrix (scenario × combination).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::failure::StepFailure;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    /// A listed expected failure that failed.
    Xfail,
    /// A listed expected failure that passed: the list should shrink.
    Xpass,
    Skip,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Xfail => "XFAIL",
            Status::Xpass => "XPASS",
            Status::Skip => "SKIP",
        }
    }

    fn cell(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "**FAIL**",
            Status::Xfail => "xfail",
            Status::Xpass => "**XPASS**",
            Status::Skip => "skip",
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
    /// What failed (step, roles, platforms, errors), for a run that failed.
    pub failure: Option<StepFailure>,
}

impl Record {
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

/// The plain line: `N passed, N failed, N skipped`. An XFAIL counts as passed; an XPASS passed
/// too (it is reported in the table so the expected-failures entry gets removed, but a peer
/// that got better must not turn the run red).
pub fn summary_line(records: &[Record]) -> String {
    let passed = count(records, Status::Pass)
        + count(records, Status::Xfail)
        + count(records, Status::Xpass);
    let failed = count(records, Status::Fail);
    format!(
        "{passed} passed, {failed} failed, {} skipped",
        count(records, Status::Skip)
    )
}

/// The final table: every result (a FAIL or XPASS with the first line of its detail
/// below it), then counts.
pub fn table(records: &[Record]) -> String {
    let mut out = String::new();
    let width = records
        .iter()
        .map(|r| r.test_name().len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(out, "{:<6} {:<width$} {:>7}", "status", "test", "seconds");
    for r in records {
        let _ = writeln!(
            out,
            "{:<6} {:<width$} {:>7.1}",
            r.status.word(),
            r.test_name(),
            r.seconds
        );
        if matches!(r.status, Status::Fail | Status::Xpass) {
            let _ = writeln!(
                out,
                "       {}",
                r.detail.lines().next().unwrap_or_default()
            );
        }
    }
    let _ = writeln!(
        out,
        "{} pass, {} fail, {} xfail, {} xpass, {} skip",
        count(records, Status::Pass),
        count(records, Status::Fail),
        count(records, Status::Xfail),
        count(records, Status::Xpass),
        count(records, Status::Skip)
    );
    out
}

fn xml_escape(text: &str) -> String {
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
    let failures = count(records, Status::Fail) + count(records, Status::Xpass);
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
            .filter(|r| matches!(r.status, Status::Fail | Status::Xpass))
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
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

pub fn json(records: &[Record]) -> String {
    let summary = serde_json::json!({
        "passed": count(records, Status::Pass),
        "failed": count(records, Status::Fail),
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
    let notes: Vec<&Record> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Fail | Status::Xpass))
        .collect();
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
            combination: "rust_python".into(),
            platforms: "rust/python".into(),
            feature: "01-BasicCommunication".into(),
            scenario: "Test 1.1 - Simple <Write>".into(),
            number: "1.1".into(),
            status,
            seconds: 1.0,
            assignment: vec![("reader".into(), "rust".into())],
            detail: "why & how".into(),
            failure: None,
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
}
