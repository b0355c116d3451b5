//! The pieces of the results page: a status badge, a matrix cell, a cell's detail panel,
//! the controls. Every text is escaped with `report::xml_escape`.

use std::fmt::Write as _;

use crate::failure::{RoleOutput, StepFailure};
use crate::report::{xml_escape as escape, Record, Status};
use crate::undefined::UndefinedStep;

use super::Change;

/// The filter box and "only failures" (shown only when the script runs; see `style.css`).
pub const CONTROLS: &str = "<div class=\"controls\">\
<label>Filter <input id=\"filter\" type=\"search\" placeholder=\"scenario, status, role, error…\" \
autocomplete=\"off\"></label>\
<label><input id=\"only-failures\" type=\"checkbox\"> only failures (FAIL, UNDEFINED)</label>\
<span id=\"shown\" aria-live=\"polite\"></span></div>\n\
<noscript><p class=\"note\">Scripts are off: the filter is unavailable; every detail below \
still expands.</p></noscript>\n";

/// The status's word on the page (and in its CSS class): `pass`, `fail`, `undefined`, ….
pub fn name(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Xfail => "xfail",
        Status::Xpass => "xpass",
        Status::Skip => "skip",
        Status::Undefined => "undefined",
    }
}

/// A symbol beside the word, so neither colour nor the word alone carries the status.
fn symbol(status: Status) -> &'static str {
    match status {
        Status::Pass => "✓",
        Status::Fail => "✗",
        Status::Xfail => "≈",
        Status::Xpass => "!",
        Status::Skip => "–",
        Status::Undefined => "?",
    }
}

/// `<span class="badge st-fail">✗ fail</span>`.
pub fn badge(status: Status) -> String {
    format!(
        "<span class=\"badge st-{n}\"><span class=\"sym\" aria-hidden=\"true\">{}</span> {n}</span>",
        symbol(status),
        n = name(status)
    )
}

fn change_tag(change: Option<Change>) -> String {
    change.map_or_else(String::new, |c| {
        format!(" <span class=\"change {}\">{}</span>", c.class(), c.label())
    })
}

/// Whether a record gets a detail panel.
fn has_detail(record: &Record, change: Option<Change>) -> bool {
    record.status != Status::Pass || change.is_some()
}

/// One cell of the matrix: the badge, linked to its panel when it has one, and the change.
pub fn cell(record: &Record, index: usize, change: Option<Change>) -> String {
    let first = record.detail.lines().next().unwrap_or_default();
    let class = change.map_or(String::new(), |c| format!(" {}", c.class()));
    let badge = badge(record.status);
    let inner = if has_detail(record, change) {
        format!("<a class=\"cell-link\" href=\"#cell-{index}\">{badge}</a>")
    } else {
        badge
    };
    format!(
        "<td class=\"cell st-{}{class}\" title=\"{}\">{inner}{}</td>",
        name(record.status),
        escape(first),
        change_tag(change)
    )
}

/// What the filter box searches in a record: combination, platforms, status, failure, detail.
pub fn search_text(record: &Record) -> String {
    let mut text = format!(
        "{} {} {} {}",
        record.combination,
        record.platforms,
        name(record.status),
        record.detail
    );
    if let Some(failure) = &record.failure {
        let _ = write!(text, " {}", failure.step);
        for role in &failure.roles {
            let _ = write!(text, " {} {} {}", role.role, role.platform, role.error);
        }
    }
    text
}

/// A definition-list entry whose value is preformatted text.
fn pre(out: &mut String, term: &str, text: &str) {
    if !text.is_empty() {
        let _ = writeln!(out, "<dt>{term}</dt><dd><pre>{}</pre></dd>", escape(text));
    }
}

fn failure(out: &mut String, failure: &StepFailure) {
    let _ = write!(
        out,
        "<dt>failing step</dt><dd><code class=\"step\">{}</code></dd>\n\
         <dt>failed on</dt><dd><table class=\"roles\"><thead><tr><th>role</th><th>platform</th>\
         <th>error</th></tr></thead><tbody>",
        escape(&failure.step)
    );
    for role in &failure.roles {
        let platform = if role.platform.is_empty() {
            "(none)"
        } else {
            &role.platform
        };
        let _ = write!(
            out,
            "<tr><td class=\"role\">{}</td><td class=\"platform\">{}</td>\
             <td><pre class=\"error\">{}</pre></td></tr>",
            escape(&role.role),
            escape(platform),
            escape(&role.error)
        );
    }
    out.push_str("</tbody></table></dd>\n");
}

fn undefined(out: &mut String, steps: &[UndefinedStep]) {
    out.push_str("<dt>undefined steps</dt><dd><ul class=\"undefined\">");
    for step in steps {
        let _ = write!(
            out,
            "<li><code class=\"step\">{}</code>",
            escape(&step.step)
        );
        if step.nearest.is_empty() {
            out.push_str(" — nearest: no close match");
        } else {
            out.push_str(" — nearest:<ul>");
            for s in &step.nearest {
                let _ = write!(
                    out,
                    "<li><code>{}</code> ({}%)</li>",
                    escape(&s.text),
                    s.percent()
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></dd>\n");
}

fn outputs(out: &mut String, outputs: &[RoleOutput]) {
    for o in outputs {
        let who = escape(&format!("{} on {}", o.role, o.platform));
        if !o.stderr_tail.is_empty() {
            let _ = writeln!(
                out,
                "<h4>{who}: stderr (last lines)</h4><pre class=\"stderr\">{}</pre>",
                escape(&o.stderr_tail)
            );
        }
        if !o.logs.is_empty() {
            let _ = writeln!(
                out,
                "<h4>{who}: step logs</h4><pre class=\"logs\">{}</pre>",
                escape(&o.logs.join("\n"))
            );
        }
    }
}

/// The panel of a cell that did not simply pass (id `cell-INDEX`, in row `row-ROW`).
pub fn detail(
    record: &Record,
    index: usize,
    row: usize,
    change: Option<Change>,
    before: Option<Status>,
) -> String {
    // A scenario that never ran (skipped, undefined) has no time to show.
    let seconds = if record.seconds > 0.0 {
        format!(" <span class=\"seconds\">({:.1} s)</span>", record.seconds)
    } else {
        String::new()
    };
    let mut out = format!(
        "<details class=\"detail st-{}\" id=\"cell-{index}\" data-row=\"row-{row}\">\n\
         <summary>{} <strong>{}</strong> <span class=\"platforms\">{}</span> · {}{seconds}{}\
         </summary>\n<dl>\n",
        name(record.status),
        badge(record.status),
        escape(&record.combination),
        escape(&record.platforms),
        escape(&record.scenario),
        change_tag(change)
    );
    if let Some(f) = &record.failure {
        failure(&mut out, f);
    }
    match record.status {
        Status::Xfail => {
            let (reason, _got) = record
                .detail
                .split_once(" — got: ")
                .unwrap_or((&record.detail, ""));
            pre(&mut out, "expected-failure reason", reason);
        }
        Status::Xpass => pre(&mut out, "expected-failure entry", &record.detail),
        Status::Skip => pre(&mut out, "skip reason", &record.detail),
        Status::Undefined => undefined(&mut out, &record.undefined),
        Status::Fail | Status::Pass => pre(&mut out, "message", &record.detail),
    }
    if !record.assignment.is_empty() {
        let each: Vec<String> = record
            .assignment
            .iter()
            .map(|(role, platform)| format!("{role} → {platform}"))
            .collect();
        let _ = writeln!(
            out,
            "<dt>assignment</dt><dd>{}</dd>",
            escape(&each.join(", "))
        );
    }
    if let Some(before) = before {
        let _ = writeln!(out, "<dt>in the baseline</dt><dd>{}</dd>", badge(before));
    } else if change.is_some() {
        out.push_str("<dt>in the baseline</dt><dd>absent</dd>\n");
    }
    out.push_str("</dl>\n");
    outputs(&mut out, &record.output);
    out.push_str("</details>\n");
    out
}
