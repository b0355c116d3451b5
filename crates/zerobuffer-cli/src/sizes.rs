//! Frame sizes for `write`: one fixed size or the deterministic cycle `MIN..MAX`.

use std::fmt;
use std::str::FromStr;

/// Frame `i` (1-based) has `min + (i - 1) % (max - min + 1)` bytes: MIN, MIN+1, ..., MAX, MIN, ...
///
/// The same formula as the Python peer's `MIN + S*((i-1) % ((MAX-MIN)//S + 1))` with step 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameSizes {
    min: u64,
    max: u64,
}

impl FrameSizes {
    /// `None` unless `1 <= min <= max`.
    pub fn new(min: u64, max: u64) -> Option<Self> {
        (1 <= min && min <= max).then_some(FrameSizes { min, max })
    }

    /// Every frame `size` bytes (`size >= 1`).
    pub fn fixed(size: u64) -> Option<Self> {
        Self::new(size, size)
    }

    /// Size of frame number `i` (1-based).
    pub fn size_of(&self, i: u64) -> u64 {
        let span = self.max - self.min + 1;
        self.min + (i.saturating_sub(1)) % span
    }

    pub fn max(&self) -> u64 {
        self.max
    }
}

impl FromStr for FrameSizes {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let syntax = || format!("expected MIN..MAX (e.g. 16..4096), got {text:?}");
        let (min, max) = text.split_once("..").ok_or_else(syntax)?;
        let parse = |s: &str| s.trim().parse::<u64>().map_err(|_| syntax());
        let (min, max) = (parse(min)?, parse(max)?);
        FrameSizes::new(min, max)
            .ok_or_else(|| format!("need 1 <= MIN <= MAX, got MIN={min}, MAX={max}"))
    }
}

impl fmt::Display for FrameSizes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}", self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_cycle_from_min_to_max() {
        let s: FrameSizes = "3..5".parse().unwrap();
        let got: Vec<u64> = (1..=7).map(|i| s.size_of(i)).collect();
        assert_eq!(got, [3, 4, 5, 3, 4, 5, 3]);
        assert_eq!(FrameSizes::fixed(9).unwrap().size_of(1000), 9);
        assert_eq!("7..7".parse::<FrameSizes>().unwrap().size_of(3), 7);
    }

    #[test]
    fn bad_ranges_are_explained() {
        for bad in ["", "5", "3-4", "a..4", "1..b", "..4", "1..", "-1..4"] {
            let err = bad.parse::<FrameSizes>().unwrap_err();
            assert!(err.contains("expected MIN..MAX"), "{bad:?}: {err}");
        }
        for bad in ["0..4", "5..3"] {
            let err = bad.parse::<FrameSizes>().unwrap_err();
            assert!(err.contains("1 <= MIN <= MAX"), "{bad:?}: {err}");
        }
    }
}
