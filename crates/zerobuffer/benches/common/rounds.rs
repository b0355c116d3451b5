//! Statistics over the rounds of a bench: medians, spreads, and ratios taken round by round.
//!
//! A ratio between two rows is the median over the rounds of (row time / baseline time in the
//! same round), not a ratio of two medians: on these shared machines the speed of the whole
//! box changes in phases lasting several rounds (seen: every pairing 5x slower for three
//! rounds, then fast), and only times taken side by side in one round cancel that out.

use std::time::Duration;

pub fn seconds(times: &[Duration]) -> Vec<f64> {
    times.iter().map(Duration::as_secs_f64).collect()
}

/// The middle value (the upper one of an even count); NaN for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// (max − min) / median.
pub fn spread(values: &[f64]) -> f64 {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (max - min) / median(values)
}

/// `times` over `baseline`, round by round.
pub fn round_ratios(times: &[Duration], baseline: &[Duration]) -> Vec<f64> {
    times
        .iter()
        .zip(baseline)
        .map(|(t, b)| t.as_secs_f64() / b.as_secs_f64())
        .collect()
}

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The times of one pairing in one case, one per round.
pub struct Row<P> {
    pub case: String,
    pub pairing: P,
    pub frames: u64,
    pub bytes: u64,
    pub times: Vec<Duration>,
}

impl<P: Copy + PartialEq> Row<P> {
    /// One row per pairing of a case, each with `frames` frames of `len` bytes.
    pub fn for_pairings(case: &str, pairings: &[P], frames: u64, len: usize) -> Vec<Row<P>> {
        pairings
            .iter()
            .map(|&pairing| Row {
                case: case.to_owned(),
                pairing,
                frames,
                bytes: frames * len as u64,
                times: Vec::new(),
            })
            .collect()
    }

    pub fn seconds(&self) -> Vec<f64> {
        seconds(&self.times)
    }

    /// This row's time over the `baseline` pairing's of the same case, round by round; None
    /// for the baseline itself or a case without one.
    pub fn ratios(&self, rows: &[Row<P>], baseline: P) -> Option<Vec<f64>> {
        if self.pairing == baseline {
            return None;
        }
        let base = rows
            .iter()
            .find(|r| r.case == self.case && r.pairing == baseline)?;
        Some(round_ratios(&self.times, &base.times))
    }
}

/// Runs every row's pairing once per round, the order rotated each round so no pairing always
/// goes first, and records the times.
pub fn interleave<P>(
    rows: &mut [Row<P>],
    rounds: usize,
    mut timed: impl FnMut(&Row<P>) -> BoxResult<Duration>,
) -> BoxResult<()> {
    for round in 0..rounds {
        for k in 0..rows.len() {
            let i = (round + k) % rows.len();
            let elapsed = timed(&rows[i])?;
            rows[i].times.push(elapsed);
        }
    }
    Ok(())
}

/// Frames per job so that one job takes about `per_round` seconds: doubles a probe of
/// `first` frames, run by `job`, until it lasts long enough to give a usable rate.
pub fn calibrate_frames(
    per_round: f64,
    first: u64,
    mut job: impl FnMut(u64) -> BoxResult<Duration>,
) -> BoxResult<u64> {
    let mut probe = first.max(1);
    let rate = loop {
        let secs = job(probe)?.as_secs_f64();
        if secs >= (per_round / 4.0).min(0.05) {
            break probe as f64 / secs;
        }
        probe *= 2;
    };
    Ok((rate * per_round) as u64)
}

/// What a table row shows of its pairing.
pub trait Labelled {
    fn label(&self) -> &str;
}

const GIB: f64 = (1u64 << 30) as f64;

/// The shape of a results table: column widths, the ratio's digits, and what the ratio is
/// taken against (one line under the header says it).
pub struct Table {
    pub case_width: usize,
    pub pairing_width: usize,
    pub ratio_digits: usize,
    /// e.g. "bare -> bare, below 1 is faster".
    pub baseline: &'static str,
}

impl Table {
    pub fn print_header(&self) {
        let (c, p) = (self.case_width, self.pairing_width);
        println!(
            "{:<c$} {:<p$} {:>9} {:>10} {:>8} {:>7} {:>7}",
            "case", "pairing", "frames", "median ms", "GiB/s", "ratio", "spread"
        );
        println!(
            "(ratio: median of the per-round time ratios to {}; spread: (max - min) / median \
             of those ratios, or of the baseline's own times)",
            self.baseline
        );
    }

    /// One line per row: throughput of payload bytes, ratio to the `baseline` pairing, spread
    /// of the rounds.
    pub fn print_rows<P: Copy + PartialEq + Labelled>(&self, rows: &[Row<P>], baseline: P) {
        let (c, p, d) = (self.case_width, self.pairing_width, self.ratio_digits);
        for row in rows {
            let secs = median(&row.seconds());
            let (ratio, spread) = match row.ratios(rows, baseline) {
                Some(r) => (format!("{:.d$}x", median(&r)), spread(&r)),
                _ => ("-".into(), spread(&row.seconds())),
            };
            println!(
                "{:<c$} {:<p$} {:>9} {:>10.3} {:>8.d$} {:>7} {:>6.0}%",
                row.case,
                row.pairing.label(),
                row.frames,
                secs * 1e3,
                row.bytes as f64 / GIB / secs,
                ratio,
                spread * 100.0,
            );
        }
    }
}
