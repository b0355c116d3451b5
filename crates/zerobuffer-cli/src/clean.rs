//! `zerobuffer clean`: remove what dead readers and writers left behind.

use std::io::{self, Write};

use anyhow::{Context, Result};
use zerobuffer::CleanOutcome;

use crate::CleanArgs;

pub fn run(args: &CleanArgs) -> Result<()> {
    let results = match &args.name {
        Some(name) => {
            let outcome = zerobuffer::clean_stale(name)
                .with_context(|| format!("cannot clean buffer {name:?}"))?;
            vec![(name.clone(), outcome)]
        }
        None => zerobuffer::clean_all_stale().context("cannot clean stale buffers")?,
    };
    let mut out = io::stdout().lock();
    if results.is_empty() {
        writeln!(out, "nothing to clean")?;
    }
    for (name, outcome) in &results {
        writeln!(out, "{}", describe(name, outcome))?;
    }
    Ok(())
}

fn describe(name: &str, outcome: &CleanOutcome) -> String {
    match outcome {
        CleanOutcome::NotFound => format!("{name}: nothing found"),
        CleanOutcome::InUse => format!("{name}: in use by a live reader or writer, left alone"),
        CleanOutcome::Foreign => format!("{name}: not a ZeroBuffer segment, left alone"),
        CleanOutcome::Removed(paths) => format!("{name}: removed {}", paths.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_well() {
        let removed =
            CleanOutcome::Removed(vec!["/dev/shm/b".into(), "/tmp/zerobuffer/b.lock".into()]);
        assert_eq!(
            describe("b", &removed),
            "b: removed /dev/shm/b, /tmp/zerobuffer/b.lock"
        );
        assert_eq!(
            describe("b", &CleanOutcome::InUse),
            "b: in use by a live reader or writer, left alone"
        );
    }
}
