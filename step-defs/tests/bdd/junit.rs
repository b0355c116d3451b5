//! The undefined scenarios in the JUnit report: cucumber-rs never ran them, so they are added
//! to its `junit.xml`, one testsuite per feature named as cucumber-rs names it, each scenario
//! a testcase with a `<failure type="undefined">` naming its undefined steps and, in its
//! body, the nearest lines of the vocabulary.

use std::fmt::Write as _;
use std::path::Path;

use harmony::report::xml_escape as escape;
use harmony_wire::nearest;
use harmony_wire::Vocabulary;

use crate::scan::{Planned, Verdict};

/// The path as cucumber-rs shows it: relative to the working directory when inside it.
fn shown(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The testsuites of the undefined scenarios of `planned` (empty when none is).
pub fn undefined_suites(planned: &[Planned], vocabulary: &Vocabulary) -> String {
    let mut features: Vec<(&str, &Path)> = Vec::new();
    for p in planned {
        if matches!(p.verdict, Verdict::Undefined(_))
            && !features.iter().any(|(_, path)| *path == p.path)
        {
            features.push((&p.feature, &p.path));
        }
    }
    let mut out = String::new();
    for (feature, path) in features {
        let mine: Vec<(&Planned, &Vec<_>)> = planned
            .iter()
            .filter(|p| p.path == path)
            .filter_map(|p| match &p.verdict {
                Verdict::Undefined(steps) => Some((p, steps)),
                _ => None,
            })
            .collect();
        let name = escape(&format!("Feature: {feature}: {}", shown(path)));
        let _ = write!(
            out,
            "<testsuite name=\"{name}\" package=\"testsuite/{name}\" tests=\"{n}\" errors=\"0\" \
             failures=\"{n}\" hostname=\"localhost\" time=\"0\">",
            n = mine.len()
        );
        for (p, steps) in mine {
            let case = format!(
                "Scenario: {}: {}:{}:{}",
                p.name,
                shown(path),
                p.line,
                p.column
            );
            let first: Vec<String> = steps
                .iter()
                .map(|(_, text)| format!("undefined step: {text:?}"))
                .collect();
            let hints: Vec<String> = steps
                .iter()
                .map(|(_, text)| nearest::undefined_message(vocabulary, text))
                .collect();
            let _ = write!(
                out,
                "<testcase name=\"{}\" time=\"0\"><failure type=\"undefined\" message=\"{}\">{}</failure></testcase>",
                escape(&case),
                escape(&first.join("; ")),
                escape(&hints.join("\n"))
            );
        }
        out.push_str("</testsuite>");
    }
    out
}

/// `report` (cucumber-rs's JUnit XML) with `suites` added to its testsuites.
pub fn with_suites(report: &str, suites: &str) -> String {
    if suites.is_empty() {
        return report.to_owned();
    }
    if let Some(end) = report.rfind("</testsuites>") {
        return format!("{}{suites}{}", &report[..end], &report[end..]);
    }
    if let Some(empty) = report.rfind("<testsuites/>") {
        let rest = &report[empty + "<testsuites/>".len()..];
        return format!(
            "{}<testsuites>{suites}</testsuites>{rest}",
            &report[..empty]
        );
    }
    format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><testsuites>{suites}</testsuites>")
}

/// Adds the undefined scenarios of `planned` to the JUnit report at `path`.
pub fn add_undefined(path: &Path, planned: &[Planned], vocabulary: &Vocabulary) {
    let suites = undefined_suites(planned, vocabulary);
    if suites.is_empty() {
        return;
    }
    let report = std::fs::read_to_string(path).unwrap_or_default();
    if let Err(e) = std::fs::write(path, with_suites(&report, &suites)) {
        eprintln!(
            "bdd: cannot add the undefined scenarios to {}: {e}",
            path.display()
        );
    }
}
