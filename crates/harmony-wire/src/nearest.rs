//! The lines of a [`Vocabulary`] nearest to a step text no line matches.
//!
//! Both texts are normalised first ([`normalise`]: lower case, blanks collapsed, every quoted
//! value and every capture reduced to a placeholder), so only the wording counts, not the
//! values. The distance is an edit distance in words ([`distance::words`]): inserting or
//! deleting a word costs 1, replacing one word by another their character distance over the
//! longer one's length (`config` for `configuration` costs 0.54, `of` for `with` 1), and the
//! similarity is `1 - distance / longer word count`. A line is a close match at [`CLOSE`]
//! similarity or more; [`nearest`] gives the [`MAX`] best of those, best first. Each is shown
//! as its template with the step's own values put where the alignment of the two texts puts
//! them beside the same word (`size '1024'` goes into `size '…'`); the others stay `…`.

use serde::Serialize;

use crate::distance::{self, Alignment};
use crate::vocabulary::{Pattern, Vocabulary, PLACEHOLDER};
use crate::StepType;

/// The least similarity of a suggestion.
pub const CLOSE: f64 = 0.6;
/// At most this many suggestions.
pub const MAX: usize = 3;

/// One line of the vocabulary near a step text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The line's template, with the step's values where they fit.
    pub text: String,
    /// The keywords the line is listed under.
    #[serde(serialize_with = "keywords")]
    pub kinds: Vec<StepType>,
    /// Word edits between the normalised texts (see the module docs).
    pub distance: f64,
    /// `1 - distance / longer word count`, 0 to 1.
    pub similarity: f64,
}

fn keywords<S: serde::Serializer>(kinds: &[StepType], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(kinds.iter().map(|k| k.keyword()))
}

impl Suggestion {
    /// The similarity in whole percent (rounded down).
    pub fn percent(&self) -> u32 {
        (self.similarity * 100.0).floor() as u32
    }

    /// `Given/When the 'writer' process …`.
    pub fn with_keywords(&self) -> String {
        let words: Vec<&str> = self.kinds.iter().map(|k| k.keyword()).collect();
        format!("{} {}", words.join("/"), self.text)
    }
}

/// The text compared: lower case, blanks collapsed, each quoted value as `'…'` (a capture
/// placeholder stays `…`).
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.trim().chars().peekable();
    let mut blank = false;
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            blank = true;
            continue;
        }
        if blank && !out.is_empty() {
            out.push(' ');
        }
        blank = false;
        if c == '\'' && chars.clone().any(|q| q == '\'') {
            for q in chars.by_ref() {
                if q == '\'' {
                    break;
                }
            }
            out.push('\'');
            out.push(PLACEHOLDER);
            out.push('\'');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// The quoted values of a step text, in order (an unclosed last quote holds none).
pub fn quoted_values(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split('\'').collect();
    let closed = parts.len() - (1 - parts.len() % 2);
    parts[..closed]
        .iter()
        .skip(1)
        .step_by(2)
        .map(|s| (*s).to_owned())
        .collect()
}

fn words(normalised: &str) -> Vec<&str> {
    normalised.split(' ').filter(|w| !w.is_empty()).collect()
}

/// `1 - distance / longer word count` (1 for two empty texts), never below 0.
pub fn similarity(distance: f64, a: usize, b: usize) -> f64 {
    let longer = a.max(b);
    if longer == 0 {
        return 1.0;
    }
    (1.0 - distance / longer as f64).max(0.0)
}

/// For each word, the index of the one placeholder it holds (counting placeholders from
/// the start), or `None` for a word with none or several.
fn placeholders(words: &[&str]) -> (Vec<Option<usize>>, usize) {
    let mut seen = 0;
    let slots = words
        .iter()
        .map(|w| {
            let n = w.matches(PLACEHOLDER).count();
            seen += n;
            (n == 1).then(|| seen - 1)
        })
        .collect();
    (slots, seen)
}

/// The step's value for each capture of the line, where the alignment pairs a value of the
/// step with a capture of the line and the word before both (after, at the start) is the same.
fn fills(
    step: &[&str],
    line: &[&str],
    alignment: &Alignment,
    values: &[String],
    captures: usize,
) -> Vec<Option<String>> {
    let mut filled = vec![None; captures];
    let (step_slots, step_count) = placeholders(step);
    let (line_slots, line_count) = placeholders(line);
    if step_count != values.len() || line_count != captures {
        return filled;
    }
    let same = |i: usize, j: usize| step.get(i).is_some_and(|w| line.get(j) == Some(w));
    for &(i, j) in &alignment.pairs {
        let (Some(value), Some(capture)) = (step_slots[i], line_slots[j]) else {
            continue;
        };
        // A value follows its label (`size '…'`, `the '…' process`); one that opens its
        // text is known by the word after it.
        let beside = if i == 0 || j == 0 {
            same(i + 1, j + 1)
        } else {
            same(i - 1, j - 1)
        };
        if beside {
            filled[capture] = Some(values[value].clone());
        }
    }
    filled
}

fn suggestion(pattern: &Pattern, step: &[&str], values: &[String]) -> Suggestion {
    let line = normalise(&pattern.template.render());
    let line = words(&line);
    let alignment = distance::words(step, &line);
    let filled = fills(step, &line, &alignment, values, pattern.template.captures());
    Suggestion {
        text: pattern.template.fill(&filled),
        kinds: pattern.kinds.clone(),
        distance: alignment.distance,
        similarity: similarity(alignment.distance, step.len(), line.len()),
    }
}

/// The [`MAX`] lines of `vocabulary` nearest to `text` with at least [`CLOSE`] similarity,
/// best first (ties in vocabulary order); empty when nothing is close.
pub fn nearest(vocabulary: &Vocabulary, text: &str) -> Vec<Suggestion> {
    let step = normalise(text);
    let step = words(&step);
    let values = quoted_values(text);
    let mut all: Vec<Suggestion> = vocabulary
        .patterns()
        .iter()
        .map(|p| suggestion(p, &step, &values))
        .filter(|s| s.similarity >= CLOSE)
        .collect();
    all.sort_by(|a, b| b.similarity.total_cmp(&a.similarity));
    all.truncate(MAX);
    all
}

/// `nearest: "…" (93%), "…" (71%)`, or `nearest: no close match`.
pub fn hint(suggestions: &[Suggestion]) -> String {
    if suggestions.is_empty() {
        return "nearest: no close match".to_owned();
    }
    let each: Vec<String> = suggestions
        .iter()
        .map(|s| format!("{:?} ({}%)", s.text, s.percent()))
        .collect();
    format!("nearest: {}", each.join(", "))
}

/// The error for a step nothing matches: `undefined step: "…"; nearest: "…" (93%), …`.
pub fn undefined_message(vocabulary: &Vocabulary, text: &str) -> String {
    format!(
        "undefined step: {text:?}; {}",
        hint(&nearest(vocabulary, text))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_keeps_the_wording_only() {
        assert_eq!(
            normalise("  The 'Reader'   process writes frame with size '1024' "),
            "the '…' process writes frame with size '…'"
        );
        assert_eq!(
            normalise("the '…' process should read … frames"),
            "the '…' process should read … frames"
        );
        assert_eq!(normalise("it's"), "it's", "an unclosed quote is text");
        assert_eq!(
            quoted_values("the 'a' x 'b c' y 'open"),
            ["a".to_owned(), "b c".to_owned()]
        );
        assert_eq!(quoted_values("none"), Vec::<String>::new());
        assert_eq!(quoted_values("'x'"), ["x".to_owned()]);
        assert_eq!(similarity(0.0, 0, 0), 1.0);
        assert_eq!(similarity(5.0, 1, 1), 0.0);
        assert!((similarity(1.0, 4, 2) - 0.75).abs() < 1e-9);
    }

    #[test]
    fn an_older_wording_finds_todays_line_with_its_values() {
        let ours = Vocabulary::ours();
        let found = nearest(
            ours,
            "the 'writer' process writes a frame of size '1024' with sequence '1'",
        );
        assert!(!found.is_empty() && found.len() <= MAX);
        assert_eq!(
            found[0].text,
            "the 'writer' process writes frame with size '1024' and sequence '1'"
        );
        assert_eq!(found[0].kinds, [StepType::When]);
        assert!(found.windows(2).all(|w| w[0].similarity >= w[1].similarity));
        assert!(found.iter().all(|s| s.similarity >= CLOSE));
        let created = nearest(
            ours,
            "the 'reader' process creates buffer 'b' with default configuration",
        );
        assert_eq!(
            created[0].with_keywords(),
            "Given/When the 'reader' process creates buffer 'b' with default config"
        );
    }

    #[test]
    fn values_go_only_beside_the_same_word() {
        let ours = Vocabulary::ours();
        let text = "the 'reader' process should receive frame with sequence '1' and size '1024'";
        let found = nearest(ours, text);
        assert_eq!(
            found[0].text,
            "the 'reader' process should read frame with sequence '1' and size '1024'"
        );
        // "size '…' and sequence '…'" in the other order keeps its placeholders.
        for s in &found {
            assert!(
                !s.text.contains("size '1' ") && !s.text.contains("sequence '1024'"),
                "{s:?}"
            );
        }
    }

    #[test]
    fn nothing_near_says_so() {
        let ours = Vocabulary::ours();
        assert!(nearest(ours, "the operator presses the big red button").is_empty());
        assert_eq!(
            undefined_message(ours, "the moon is made of cheese"),
            "undefined step: \"the moon is made of cheese\"; nearest: no close match"
        );
        let message = undefined_message(
            ours,
            "the 'reader' process should receive frame with sequence '1' and size '1024'",
        );
        assert!(
            message.starts_with(
                "undefined step: \"the 'reader' process should receive frame with sequence \
                 '1' and size '1024'\"; nearest: \"the 'reader' process should read frame \
                 with sequence '1' and size '1024'\" ("
            ),
            "{message}"
        );
    }
}
