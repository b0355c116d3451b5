//! Reads the list: `[[failure]]` tables, unknown keys refused, every field but `intermittent`
//! required and non-empty. Errors name the entry and its line.

use std::ops::Range;
use std::path::Path;

use anyhow::{bail, Context as _, Result};
use harmony_wire::Filter;
use serde::Deserialize;
use toml::Spanned;

use super::ExpectedFailure;

/// One table as written; `Option`s so a missing field is reported with its entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    combination: Option<String>,
    scenario: Option<String>,
    platform: Option<String>,
    role: Option<String>,
    step: Option<String>,
    error: Option<String>,
    reason: Option<String>,
    #[serde(default)]
    intermittent: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    failure: Vec<Spanned<Raw>>,
}

/// The line (from 1) of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Lines of the `[[failure]]` headers, in order (for errors toml reports without an entry).
fn header_lines(text: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l: String = l.chars().filter(|c| !c.is_whitespace()).collect();
            l.starts_with("[[failure]]")
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// `entry N (line L): ` of the entry containing `line`, if any.
fn entry_at(text: &str, line: usize) -> Option<String> {
    let headers = header_lines(text);
    let index = headers.iter().rposition(|&h| h <= line)?;
    Some(format!("entry {} (line {})", index + 1, headers[index]))
}

/// The entry's first line: its `[[failure]]` header if one starts the span's line or
/// precedes it, else the span's own line.
fn entry_line(text: &str, span: &Range<usize>) -> usize {
    let line = line_of(text, span.start);
    header_lines(text)
        .into_iter()
        .rfind(|&h| h <= line)
        .unwrap_or(line)
}

fn check(raw: Raw, entry: usize, line: usize) -> Result<ExpectedFailure> {
    let fields = [
        ("combination", raw.combination),
        ("scenario", raw.scenario),
        ("platform", raw.platform),
        ("role", raw.role),
        ("step", raw.step),
        ("error", raw.error),
        ("reason", raw.reason),
    ];
    let missing: Vec<String> = fields
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(k, _)| format!("`{k}`"))
        .collect();
    let at = format!("entry {entry} (line {line})");
    match missing.len() {
        0 => {}
        1 => bail!("{at}: missing field {}", missing[0]),
        _ => bail!("{at}: missing fields {}", missing.join(", ")),
    }
    // An empty substring would match any step or error.
    if let Some((k, _)) = fields
        .iter()
        .find(|(_, v)| v.as_deref().is_some_and(|v| v.trim().is_empty()))
    {
        bail!("{at}: field `{k}` is empty");
    }
    let [combination, scenario, platform, role, step, error, reason] =
        fields.map(|(_, v)| v.unwrap_or_default());
    let scenario: Filter = scenario
        .parse()
        .map_err(|e| anyhow::anyhow!("{at}: field `scenario`: {e}"))?;
    Ok(ExpectedFailure {
        combination,
        scenario,
        platform,
        role,
        step,
        error,
        reason,
        intermittent: raw.intermittent,
        entry,
        line,
    })
}

pub fn parse(text: &str) -> Result<Vec<ExpectedFailure>> {
    let file: File = match toml::from_str(text) {
        Ok(file) => file,
        Err(e) => {
            let line = e.span().map(|s| line_of(text, s.start));
            let message = e.message().trim();
            match line {
                Some(line) => match entry_at(text, line) {
                    Some(at) => bail!("{at}: {message} (at line {line})"),
                    None => bail!("line {line}: {message}"),
                },
                None => bail!("{message}"),
            }
        }
    };
    file.failure
        .into_iter()
        .enumerate()
        .map(|(i, spanned)| {
            let line = entry_line(text, &spanned.span());
            check(spanned.into_inner(), i + 1, line)
        })
        .collect()
}

/// Reads the list at `path`; a missing file is an error (callers decide whether no list
/// at a default location is fine).
pub fn load(path: &Path) -> Result<Vec<ExpectedFailure>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&text).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "[[failure]]\ncombination = \"python\"\nscenario = \"2.2\"\n\
        platform = \"python\"\nrole = \"writer\"\nstep = \"we run\"\nerror = \"no step\"\n\
        reason = \"no \\\"binding\\\"\"\n";

    #[test]
    fn parses_entries_with_their_lines() {
        let text = format!("# comment\n\n{ONE}\n{ONE}intermittent = true\n");
        let list = parse(&text).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((list[0].entry, list[0].line), (1, 3));
        assert_eq!((list[1].entry, list[1].line), (2, 12));
        assert_eq!(list[0].reason, "no \"binding\"");
        assert_eq!(
            (list[0].role.as_str(), list[0].step.as_str()),
            ("writer", "we run")
        );
        assert!(!list[0].intermittent && list[1].intermittent);
        assert!(parse("# nothing\n").unwrap().is_empty());
    }

    #[test]
    fn refuses_missing_empty_and_unknown_fields_naming_the_entry() {
        let without_step = format!("{ONE}\n{}", ONE.replace("step = \"we run\"\n", ""));
        let e = parse(&without_step).unwrap_err().to_string();
        assert_eq!(e, "entry 2 (line 10): missing field `step`");
        let bare = format!("{ONE}\n[[failure]]\ncombination = \"x\"\n");
        let e = parse(&bare).unwrap_err().to_string();
        assert!(
            e.starts_with("entry 2 (line 10): missing fields `scenario`, `platform`"),
            "{e}"
        );
        let empty = ONE.replace("error = \"no step\"", "error = \"\"");
        let e = parse(&empty).unwrap_err().to_string();
        assert_eq!(e, "entry 1 (line 1): field `error` is empty");
        let unknown = format!("{ONE}\n{ONE}colour = \"red\"\n");
        let e = parse(&unknown).unwrap_err().to_string();
        assert!(
            e.starts_with("entry 2 (line 10): unknown field `colour`"),
            "{e}"
        );
        assert!(parse("[[failure]]\nscenario = 3\n").is_err());
    }
}
