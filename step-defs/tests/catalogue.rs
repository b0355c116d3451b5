//! Every line of the shared step vocabulary (`step-patterns.txt`: keyword, TAB, regex) is
//! bound under that keyword with exactly that regex, anchored `^…$`, and nothing else is bound.

use std::collections::BTreeSet;

fn anchored(regex: &str) -> String {
    let body = regex.strip_suffix('$').unwrap_or(regex);
    format!("^{body}$")
}

fn vocabulary() -> BTreeSet<(String, String)> {
    include_str!("step-patterns.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (keyword, regex) = line.split_once('\t').expect("keyword<TAB>regex");
            (keyword.to_owned(), anchored(regex))
        })
        .collect()
}

fn bound() -> Vec<(String, String)> {
    zerobuffer_steps::step_catalogue()
        .into_iter()
        .map(|(k, r)| (k.to_owned(), r))
        .collect()
}

#[test]
fn every_vocabulary_line_is_bound() {
    let bound: BTreeSet<_> = bound().into_iter().collect();
    let missing: Vec<_> = vocabulary().difference(&bound).cloned().collect();
    assert!(
        missing.is_empty(),
        "{} of 344 vocabulary lines are not bound:\n{}",
        missing.len(),
        missing
            .iter()
            .map(|(k, r)| format!("  {k}\t{r}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn nothing_outside_the_vocabulary_is_bound_and_nothing_twice() {
    let vocabulary = vocabulary();
    let mut seen = BTreeSet::new();
    for (keyword, regex) in bound() {
        assert!(
            vocabulary.contains(&(keyword.clone(), regex.clone())),
            "bound but not in the vocabulary: {keyword}\t{regex}"
        );
        assert!(
            seen.insert((keyword.clone(), regex.clone())),
            "bound twice: {keyword}\t{regex}"
        );
    }
}
