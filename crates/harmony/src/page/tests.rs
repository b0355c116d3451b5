use std::path::Path;

use super::*;
use crate::failure::{RoleFailure, RoleOutput, StepFailure};
use crate::undefined::UndefinedStep;

fn record(combination: &str, scenario: &str, status: Status) -> Record {
    Record {
        status,
        seconds: 0.5,
        assignment: vec![("reader".into(), "rust".into())],
        ..Record::new(
            combination,
            &combination.replace('_', "/"),
            "01-BasicCommunication",
            scenario,
        )
    }
}

fn records() -> Vec<Record> {
    let mut fail = record("rust_python", "Test 1.2 - <Two>", Status::Fail);
    fail.detail = "Scenario failed: boom & <b>".into();
    fail.failure = Some(StepFailure {
        step: "the 'writer' process writes 'x'".into(),
        index: Some(1),
        roles: vec![RoleFailure::new("writer", "python", "BufferFull <now>")],
    });
    fail.output = vec![RoleOutput {
        role: "writer".into(),
        platform: "python".into(),
        stderr_tail: "Traceback <tail>".into(),
        logs: vec![
            "the 'writer' process writes 'x':".into(),
            "  [Error] full".into(),
        ],
    }];
    let mut xfail = record("rust", "Test 1.2 - <Two>", Status::Xfail);
    xfail.detail = "peer defect #12 — got: writer on rust, step …".into();
    let mut undefined = record("rust", "Test 1.3 - Three", Status::Undefined);
    undefined.undefined = vec![UndefinedStep {
        step: "the moon".into(),
        nearest: Vec::new(),
    }];
    vec![
        record("rust", "Test 1.1 - One", Status::Pass),
        record("rust_python", "Test 1.1 - One", Status::Pass),
        xfail,
        fail,
        undefined,
    ]
}

#[test]
fn a_self_contained_matrix_with_totals_and_escaped_details() {
    let records = records();
    let html = render(&Page {
        title: "harmony rust rust_python",
        records: &records,
        baseline: None,
    });
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Nothing is fetched: no external script, style, font or image.
    for external in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        assert!(!html.contains(external), "{external}");
    }
    // Two columns, three rows; the missing cell says so.
    assert!(html.contains("<th scope=\"col\">rust<br>"));
    assert!(html.contains("<th scope=\"col\">rust_python<br>"));
    assert_eq!(html.matches("<tr id=\"row-").count(), 3);
    assert!(html.contains("<td class=\"cell none\">not run</td>"));
    // Escaped everywhere, with the one escaper.
    assert!(html.contains("Test 1.2 - &lt;Two&gt;"));
    assert!(!html.contains("<Two>") && !html.contains("<tail>") && !html.contains("<b>"));
    assert!(html.contains("Scenario failed: boom &amp; &lt;b&gt;"));
    // The failing cell's panel: step, role, platform, error, stderr tail, logs.
    let panel = &html[html.find("id=\"cell-3\"").unwrap()..];
    let panel = &panel[..panel.find("</details>").unwrap()];
    for text in [
        "the &apos;writer&apos; process writes &apos;x&apos;",
        "<td class=\"role\">writer</td><td class=\"platform\">python</td>",
        "BufferFull &lt;now&gt;",
        "writer on python: stderr (last lines)",
        "Traceback &lt;tail&gt;",
        "  [Error] full",
    ] {
        assert!(panel.contains(text), "{text} in {panel}");
    }
    // The xfail's reason without what it got; the undefined step with its (lack of) hint.
    assert!(html.contains("<dt>expected-failure reason</dt><dd><pre>peer defect #12</pre>"));
    assert!(html.contains("<code class=\"step\">the moon</code> — nearest: no close match"));
    // Words and symbols, not colour alone; totals per column.
    assert!(html.contains("<span class=\"badge st-fail\"><span class=\"sym\" aria-hidden=\"true\">✗</span> fail</span>"));
    assert!(html.contains("<span class=\"total st-pass\">1 pass</span> <span class=\"total st-undefined\">1 undefined</span> <span class=\"total st-xfail\">1 xfail</span>"));
    // Passing cells have no panel; the rows that fail are marked for "only failures".
    assert!(!html.contains("id=\"cell-0\""));
    assert!(html.contains("<tr id=\"row-0\" data-failing=\"false\""));
    assert!(html.contains("<tr id=\"row-1\" data-failing=\"true\""));
    assert!(!html.contains("Compared with the baseline"));
}

#[test]
fn a_baseline_marks_the_cells_that_changed() {
    let records = records();
    let earlier = r#"{"results": [
        {"combination": "rust_python", "scenario": "Test 1.1 - One", "status": "fail"},
        {"combination": "rust_python", "scenario": "Test 1.2 - <Two>", "status": "pass"},
        {"combination": "rust", "scenario": "Test 1.3 - Three", "status": "undefined"}
    ]}"#;
    let baseline = Baseline::parse(earlier, Path::new("old/results.json")).unwrap();
    let html = render(&Page {
        title: "t",
        records: &records,
        baseline: Some(&baseline),
    });
    assert!(html.contains("Compared with the baseline <code>old/results.json</code>: <span class=\"change new-failure\">1 new failure</span>, <span class=\"change new-pass\">1 new pass</span>."), "{html}");
    assert!(html.contains("<td class=\"cell st-fail new-failure\""));
    assert!(html.contains("<td class=\"cell st-pass new-pass\""));
    // A new pass gets a panel saying what it was.
    let panel = &html[html.find("id=\"cell-1\"").unwrap()..];
    assert!(panel.contains("<dt>in the baseline</dt><dd><span class=\"badge st-fail\">"));
    // Test 1.3 was undefined and still is: no mark.
    assert!(!html.contains("st-undefined new-failure"));
}
