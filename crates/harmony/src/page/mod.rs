//! The results page: one self-contained HTML file (`index.html` beside the other reports),
//! readable offline and as a CI artifact — no external script, font or style. Scenario rows ×
//! combination columns; each cell says its status in words and a symbol as well as a colour;
//! totals per column; for each cell that did not simply pass, a `<details>` panel (the
//! failing step, each failing role with its platform and error, the expected-failure or skip
//! reason, the undefined steps with their nearest lines, each serve's stderr tail and step
//! logs). A filter box and an "only failures" box hide rows (a small inline script; without
//! scripts every panel is still there to expand). With a [`Baseline`], cells that changed
//! are marked "new failure" or "new pass".
//!
//! `harmony` writes it for its combinations, the in-process runner for its one column
//! (`in-process`); both hand [`render`] their [`Record`]s.

mod baseline;
mod markup;

pub use baseline::{Baseline, BaselineError, Change};

use std::fmt::Write as _;

use crate::report::{self, xml_escape as escape, Record, Status};

/// What to render.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    /// What ran, e.g. `harmony rust rust_python` or `in-process runner`.
    pub title: &'a str,
    pub records: &'a [Record],
    /// An earlier run to compare with.
    pub baseline: Option<&'a Baseline>,
}

const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("script.js");

/// Every status, in the order the totals list them.
const STATUSES: [Status; 6] = [
    Status::Pass,
    Status::Fail,
    Status::Undefined,
    Status::Xfail,
    Status::Xpass,
    Status::Skip,
];

/// What fails a run; the rows "only failures" keeps have one.
fn failing(status: Status) -> bool {
    matches!(status, Status::Fail | Status::Undefined)
}

/// The page's grid: columns and rows in order of first appearance.
struct Grid<'a> {
    combinations: Vec<&'a str>,
    scenarios: Vec<&'a str>,
}

impl<'a> Grid<'a> {
    fn of(records: &'a [Record]) -> Grid<'a> {
        let mut grid = Grid {
            combinations: Vec::new(),
            scenarios: Vec::new(),
        };
        for r in records {
            if !grid.combinations.contains(&r.combination.as_str()) {
                grid.combinations.push(&r.combination);
            }
            if !grid.scenarios.contains(&r.scenario.as_str()) {
                grid.scenarios.push(&r.scenario);
            }
        }
        grid
    }
}

/// The index of the record of (`scenario`, `combination`).
fn find(records: &[Record], scenario: &str, combination: &str) -> Option<usize> {
    records
        .iter()
        .position(|r| r.scenario == scenario && r.combination == combination)
}

/// The whole page.
pub fn render(page: &Page) -> String {
    let records = page.records;
    let grid = Grid::of(records);
    let changes: Vec<Option<Change>> = records
        .iter()
        .map(|r| page.baseline.and_then(|b| b.change(r)))
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title} — conformance results</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n",
        title = escape(page.title)
    );
    header(&mut out, page, &changes);
    out.push_str(markup::CONTROLS);
    table(&mut out, records, &grid, &changes);
    out.push_str("<section id=\"details\">\n<h2>Details</h2>\n");
    let mut any = false;
    for (row, scenario) in grid.scenarios.iter().enumerate() {
        for combination in &grid.combinations {
            let Some(index) = find(records, scenario, combination) else {
                continue;
            };
            let record = &records[index];
            if record.status != Status::Pass || changes[index].is_some() {
                any = true;
                let before = page.baseline.and_then(|b| b.before(record));
                out.push_str(&markup::detail(record, index, row, changes[index], before));
            }
        }
    }
    if !any {
        out.push_str("<p>Every scenario passed: nothing to show.</p>\n");
    }
    let _ = write!(
        out,
        "</section>\n<script>\n{SCRIPT}</script>\n</body>\n</html>\n"
    );
    out
}

/// The title, the summary line, the baseline's changes and the legend.
fn header(out: &mut String, page: &Page, changes: &[Option<Change>]) {
    let seconds: f64 = page.records.iter().map(|r| r.seconds).sum();
    let _ = write!(
        out,
        "<header>\n<h1>Conformance results</h1>\n<p class=\"what\">{}</p>\n\
         <p class=\"summary\"><strong>{}</strong> ({} results, {seconds:.1} s of scenarios)</p>\n",
        escape(page.title),
        escape(&report::summary_line(page.records)),
        page.records.len()
    );
    if let Some(baseline) = page.baseline {
        let count = |c: Change| {
            let n = changes.iter().filter(|x| **x == Some(c)).count();
            let plural = match (n, c) {
                (1, _) => "",
                (_, Change::NewFailure) => "s",
                (_, Change::NewPass) => "es",
            };
            format!("{n} {}{plural}", c.label())
        };
        let _ = writeln!(
            out,
            "<p class=\"baseline\">Compared with the baseline <code>{}</code>: \
             <span class=\"change new-failure\">{}</span>, \
             <span class=\"change new-pass\">{}</span>.</p>",
            escape(&baseline.source),
            count(Change::NewFailure),
            count(Change::NewPass)
        );
    }
    out.push_str("<p class=\"legend\">");
    for status in STATUSES {
        let _ = write!(out, "{} ", markup::badge(status));
    }
    out.push_str(
        "— XFAIL: a listed expected failure that failed as listed; XPASS: a listed one that \
         passed (its entry can go); UNDEFINED: a step no line of the vocabulary matches.</p>\n\
         </header>\n",
    );
}

/// The matrix: one row per scenario, one column per combination, totals below.
fn table(out: &mut String, records: &[Record], grid: &Grid, changes: &[Option<Change>]) {
    out.push_str("<table id=\"results\">\n<thead><tr><th scope=\"col\">scenario</th>");
    for combination in &grid.combinations {
        let platforms = records
            .iter()
            .find(|r| r.combination == *combination)
            .map_or("", |r| r.platforms.as_str());
        let _ = write!(
            out,
            "<th scope=\"col\">{}<br><span class=\"platforms\">{}</span></th>",
            escape(combination),
            escape(platforms)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (row, scenario) in grid.scenarios.iter().enumerate() {
        let cells: Vec<Option<usize>> = grid
            .combinations
            .iter()
            .map(|c| find(records, scenario, c))
            .collect();
        let mine = || cells.iter().flatten().map(|&i| &records[i]);
        let feature = mine().next().map_or("", |r| r.feature.as_str());
        let search: Vec<String> = mine().map(markup::search_text).collect();
        let _ = write!(
            out,
            "<tr id=\"row-{row}\" data-failing=\"{}\" data-search=\"{}\">\
             <th scope=\"row\">{}<br><span class=\"feature\">{}</span></th>",
            mine().any(|r| failing(r.status)),
            escape(&format!("{scenario} {feature} {}", search.join(" ")).to_lowercase()),
            escape(scenario),
            escape(feature)
        );
        for cell in &cells {
            match cell {
                Some(i) => out.push_str(&markup::cell(&records[*i], *i, changes[*i])),
                None => out.push_str("<td class=\"cell none\">not run</td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n<tfoot><tr><th scope=\"row\">totals</th>");
    for combination in &grid.combinations {
        out.push_str("<td class=\"totals\">");
        for status in STATUSES {
            let n = records
                .iter()
                .filter(|r| r.combination == *combination && r.status == status)
                .count();
            if n > 0 {
                let _ = write!(
                    out,
                    "<span class=\"total st-{}\">{n} {}</span> ",
                    markup::name(status),
                    markup::name(status)
                );
            }
        }
        out.push_str("</td>");
    }
    out.push_str("</tr></tfoot>\n</table>\n");
}

#[cfg(test)]
mod tests;
