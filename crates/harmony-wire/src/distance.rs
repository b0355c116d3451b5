//! Edit distances: in characters, and in words with a substitution weighted by how far the
//! two words are apart, with the alignment that achieves it.

/// Levenshtein distance in characters (not bytes).
pub fn chars(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// What replacing word `a` by `b` costs: their character distance over the longer one's
/// length, 0 (the same) to 1 (nothing in common).
pub fn replacing(a: &str, b: &str) -> f64 {
    let longer = a.chars().count().max(b.chars().count()).max(1);
    chars(a, b) as f64 / longer as f64
}

/// A cheapest way from one list of words to another.
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    /// Insertions and deletions cost 1, a substitution [`replacing`].
    pub distance: f64,
    /// The word pairs kept or replaced (index in `a`, index in `b`), in order.
    pub pairs: Vec<(usize, usize)>,
}

/// The edit distance in words between `a` and `b`, with its alignment (diagonal moves
/// preferred on ties).
pub fn words(a: &[&str], b: &[&str]) -> Alignment {
    let width = b.len() + 1;
    let mut cost = vec![0.0f64; (a.len() + 1) * width];
    for (j, first) in cost.iter_mut().take(width).enumerate() {
        *first = j as f64;
    }
    for i in 1..=a.len() {
        cost[i * width] = i as f64;
        for j in 1..width {
            let substitute = cost[(i - 1) * width + j - 1] + replacing(a[i - 1], b[j - 1]);
            let delete = cost[(i - 1) * width + j] + 1.0;
            let insert = cost[i * width + j - 1] + 1.0;
            cost[i * width + j] = substitute.min(delete).min(insert);
        }
    }
    let mut pairs = Vec::new();
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let here = cost[i * width + j];
        let diagonal = cost[(i - 1) * width + j - 1] + replacing(a[i - 1], b[j - 1]);
        if (here - diagonal).abs() < 1e-9 {
            pairs.push((i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if (here - (cost[(i - 1) * width + j] + 1.0)).abs() < 1e-9 {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    pairs.reverse();
    Alignment {
        distance: cost[a.len() * width + b.len()],
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn characters() {
        assert_eq!(chars("", ""), 0);
        assert_eq!(chars("kitten", "sitting"), 3);
        assert_eq!(chars("abc", ""), 3);
        assert_eq!(chars("flaw", "lawn"), 2);
        assert_eq!(chars("été", "ete"), 2, "characters, not bytes");
        assert!(close(replacing("config", "configuration"), 7.0 / 13.0));
        assert!(close(replacing("of", "with"), 1.0));
        assert!(close(replacing("", ""), 0.0));
    }

    #[test]
    fn words_and_their_alignment() {
        let config = words(&["with", "config"], &["with", "configuration"]);
        assert!(close(config.distance, 7.0 / 13.0), "{config:?}");
        assert_eq!(config.pairs, [(0, 0), (1, 1)]);
        let older = words(&["a", "frame", "of", "size"], &["frame", "with", "size"]);
        assert!(close(older.distance, 2.0), "{older:?}");
        assert_eq!(older.pairs, [(1, 0), (2, 1), (3, 2)]);
        let empty = words(&[], &["x", "y"]);
        assert!(close(empty.distance, 2.0) && empty.pairs.is_empty());
    }
}
