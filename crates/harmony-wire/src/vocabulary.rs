//! Our step vocabulary, `step-defs/tests/step-patterns.txt` (one `keyword<TAB>regex` a line,
//! matched as a whole line, case-sensitively, as every serve matches it), compiled in.
//!
//! It decides what is *defined*: harmony asks it before sending a step (a text no line of it
//! matches is undefined for every platform, whatever a foreign serve would answer), and each
//! line becomes a readable [`Template`] (`the '…' process writes frame with size '…'`) for
//! [`crate::nearest`]'s suggestions.

use std::sync::OnceLock;

use regex::Regex;

use crate::routing::extract_process;
use crate::StepType;

/// The text of our vocabulary (`step-defs/tests/step-patterns.txt`).
pub const OURS: &str = include_str!("../../../step-defs/tests/step-patterns.txt");

/// What a capture of a pattern shows as in a template.
pub const PLACEHOLDER: char = '…';

/// A vocabulary text that is not `keyword<TAB>regex` lines.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VocabularyError {
    #[error("vocabulary line {line}: expected `keyword<TAB>regex`, got {text:?}")]
    Malformed { line: usize, text: String },
    #[error("vocabulary line {line}: {keyword:?} is not given, when or then")]
    Keyword { line: usize, keyword: String },
    #[error("vocabulary line {line}: {source}")]
    Regex {
        line: usize,
        #[source]
        source: regex::Error,
    },
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// A capture group (or any other non-literal part of the regex).
    Capture,
}

/// A pattern as a person reads it: its literal text, with a placeholder for each capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Piece>);

impl Template {
    /// Reads a regex of the vocabulary's style: escapes become their character, each group
    /// (and any class, `.` or anchor) becomes one capture, quantifiers disappear.
    pub fn from_regex(regex: &str) -> Template {
        let mut pieces: Vec<Piece> = Vec::new();
        let mut text = String::new();
        let mut chars = regex.chars().peekable();
        let capture = |pieces: &mut Vec<Piece>, text: &mut String| {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(text)));
            }
            if pieces.last() != Some(&Piece::Capture) {
                pieces.push(Piece::Capture);
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) if e.is_ascii_alphanumeric() => capture(&mut pieces, &mut text),
                    Some(e) => text.push(e),
                    None => {}
                },
                '(' => {
                    skip_group(&mut chars);
                    capture(&mut pieces, &mut text);
                }
                '[' => {
                    skip_class(&mut chars);
                    capture(&mut pieces, &mut text);
                }
                '.' => capture(&mut pieces, &mut text),
                '^' | '$' | '*' | '+' | '?' => {}
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Template(pieces)
    }

    /// How many captures it has.
    pub fn captures(&self) -> usize {
        self.0.iter().filter(|p| **p == Piece::Capture).count()
    }

    /// The text with [`PLACEHOLDER`] for each capture.
    pub fn render(&self) -> String {
        self.fill(&[])
    }

    /// The text with `values[i]` in capture `i` where it is given, else [`PLACEHOLDER`].
    pub fn fill(&self, values: &[Option<String>]) -> String {
        let mut values = values.iter();
        self.0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Capture => values
                    .next()
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| PLACEHOLDER.to_string()),
            })
            .collect()
    }
}

/// Skips the rest of a group whose `(` was read (nested groups, classes and escapes too).
fn skip_group(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '[' => skip_class(chars),
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

/// Skips the rest of a class whose `[` was read.
fn skip_class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // A `]` right after `[` or `[^` is a member, not the end.
    if chars.peek() == Some(&'^') {
        chars.next();
    }
    if chars.peek() == Some(&']') {
        chars.next();
    }
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            ']' => return,
            _ => {}
        }
    }
}

/// One regex of the vocabulary, with every keyword it is listed under.
#[derive(Debug, Clone)]
pub struct Pattern {
    /// In order of their first line.
    pub kinds: Vec<StepType>,
    /// The regex as the vocabulary writes it (unanchored).
    pub source: String,
    pub template: Template,
    /// The 1-based line of its first appearance.
    pub line: usize,
    regex: Regex,
}

impl Pattern {
    /// Whether the whole of `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// The lines of a vocabulary, one [`Pattern`] per distinct regex.
#[derive(Debug, Clone)]
pub struct Vocabulary {
    patterns: Vec<Pattern>,
}

impl Vocabulary {
    /// Reads `keyword<TAB>regex` lines (blank lines ignored). A regex listed under several
    /// keywords is one pattern with several kinds.
    pub fn parse(text: &str) -> Result<Vocabulary, VocabularyError> {
        let mut patterns: Vec<Pattern> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            if raw.trim().is_empty() {
                continue;
            }
            let (keyword, source) = raw.split_once('\t').ok_or(VocabularyError::Malformed {
                line,
                text: raw.to_owned(),
            })?;
            let kind = match StepType::from_keyword(keyword) {
                Some(Some(kind)) => kind,
                _ => {
                    return Err(VocabularyError::Keyword {
                        line,
                        keyword: keyword.to_owned(),
                    })
                }
            };
            if let Some(known) = patterns.iter_mut().find(|p| p.source == source) {
                if !known.kinds.contains(&kind) {
                    known.kinds.push(kind);
                }
                continue;
            }
            let body = source.strip_suffix('$').unwrap_or(source);
            let body = body.strip_prefix('^').unwrap_or(body);
            let regex = Regex::new(&format!("^(?:{body})$"))
                .map_err(|source| VocabularyError::Regex { line, source })?;
            patterns.push(Pattern {
                kinds: vec![kind],
                source: source.to_owned(),
                template: Template::from_regex(source),
                line,
                regex,
            });
        }
        Ok(Vocabulary { patterns })
    }

    /// Our vocabulary ([`OURS`]), read once.
    pub fn ours() -> &'static Vocabulary {
        static OURS_READ: OnceLock<Vocabulary> = OnceLock::new();
        OURS_READ.get_or_init(|| {
            Vocabulary::parse(OURS).expect("step-patterns.txt is a valid vocabulary (unit-tested)")
        })
    }

    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// The kinds under which some pattern matches the whole of `text`.
    pub fn kinds_of(&self, text: &str) -> Vec<StepType> {
        let mut kinds = Vec::new();
        for pattern in self.patterns.iter().filter(|p| p.matches(text)) {
            for kind in &pattern.kinds {
                if !kinds.contains(kind) {
                    kinds.push(*kind);
                }
            }
        }
        kinds
    }

    /// Whether some pattern, under any keyword, matches `text` as our serve looks it up for
    /// `process` (see [`lookup_texts`]): our serve tries every kind, so the keyword never makes
    /// a text undefined across processes.
    pub fn defines(&self, text: &str, process: Option<&str>) -> bool {
        lookup_texts(text, process)
            .iter()
            .any(|t| self.patterns.iter().any(|p| p.matches(t)))
    }
}

/// The texts a serve looks a step up by: as received, then, for a text that names no process
/// (as the design documents send it), with `the '<process>' process ` in front.
pub fn lookup_texts(text: &str, process: Option<&str>) -> Vec<String> {
    let mut texts = vec![text.to_owned()];
    if let Some(process) = process.filter(|p| !p.is_empty()) {
        if extract_process(text).is_none() {
            texts.push(format!("the '{process}' process {text}"));
        }
    }
    texts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_reads_every_line_once_per_regex() {
        let ours = Vocabulary::ours();
        let lines = OURS.lines().filter(|l| !l.trim().is_empty()).count();
        let kinds: usize = ours.patterns().iter().map(|p| p.kinds.len()).sum();
        assert_eq!(kinds, lines);
        assert!(
            ours.patterns().len() < lines,
            "some regexes have two keywords"
        );
    }

    /// Each template, its captures filled with a word, is a text its own regex matches: the
    /// templates say exactly what the patterns accept.
    #[test]
    fn every_template_filled_in_matches_its_pattern() {
        for pattern in Vocabulary::ours().patterns() {
            let values = vec![Some("x".to_owned()); pattern.template.captures()];
            let text = pattern.template.fill(&values);
            assert!(
                pattern.matches(&text),
                "line {}: {text:?} does not match {:?}",
                pattern.line,
                pattern.source
            );
            assert!(!text.contains(['\\', '$']), "{text}");
        }
    }

    #[test]
    fn templates_read_like_steps() {
        let t = Template::from_regex(r"the '([^']*)' process writes frame with size '(.*)'$");
        assert_eq!(t.render(), "the '…' process writes frame with size '…'");
        assert_eq!(
            t.fill(&[Some("reader".into()), Some("1024".into())]),
            "the 'reader' process writes frame with size '1024'"
        );
        assert_eq!(
            t.fill(&[None, Some("1".into())]),
            "the '…' process writes frame with size '1'"
        );
        let escaped = Template::from_regex(r"report P99\.9 \(all\) [a-z]+ \d+ (?:x|y)");
        assert_eq!(escaped.render(), "report P99.9 (all) … … …");
    }

    #[test]
    fn definedness_ignores_the_keyword_and_knows_the_process_phrase() {
        let ours = Vocabulary::ours();
        let connect = "the 'writer' process connects to buffer 'b'";
        assert!(ours.defines(connect, None));
        assert_eq!(ours.kinds_of(connect), [StepType::Given, StepType::When]);
        assert!(ours.defines("connects to buffer 'b'", Some("writer")));
        assert!(!ours.defines("connects to buffer 'b'", None));
        assert!(!ours.defines("the moon is made of cheese", Some("reader")));
        // Whole lines only, case-sensitively.
        assert!(!ours.defines(&format!("{connect} twice"), None));
        assert!(!ours.defines("The test environment is initialized", None));
    }

    #[test]
    fn malformed_vocabularies_are_refused_with_the_line() {
        let e = Vocabulary::parse("given\tok\nno tab here").unwrap_err();
        assert!(
            matches!(e, VocabularyError::Malformed { line: 2, .. }),
            "{e}"
        );
        let e = Vocabulary::parse("\nsoit\tx").unwrap_err();
        assert!(
            e.to_string().starts_with("vocabulary line 2: \"soit\""),
            "{e}"
        );
        let e = Vocabulary::parse("then\tunclosed (").unwrap_err();
        assert!(matches!(e, VocabularyError::Regex { line: 1, .. }), "{e}");
    }
}
