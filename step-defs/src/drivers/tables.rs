//! The data table of a table step ("measure latency for frame sizes:" and its rows).
//!
//! The rows come from the step itself: the feature file's table in-process, the table our
//! harmony sends in `Parameters` through a serve. Only under an orchestrator that drops
//! tables (upstream Harmony sends `Parameters: {}`), which the serve marks with
//! [`ZbWorld::tables_may_be_dropped`], does a step fall back to the rows built into it; the
//! in-process runner never does, so the feature file stays the single source of truth.
//!
//! Steps interpret every row: a row they cannot interpret fails the step with its number
//! ("row 3: unknown corruption type 'xyz'"), never silently skipped. Rows are numbered from
//! 1, not counting the header row.

use anyhow::{anyhow, bail, Context as _, Result};
use cucumber::gherkin::Step;

use crate::world::ZbWorld;

/// A table: its header row and its data rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTable {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// The rows are the step's built-in ones (the orchestrator sent none).
    pub built_in: bool,
}

impl DataTable {
    fn from_rows(mut rows: Vec<Vec<String>>, built_in: bool) -> Result<Self> {
        if rows.is_empty() {
            bail!("the data table is empty (it needs a header row)");
        }
        let header = rows.remove(0);
        for (i, row) in rows.iter().enumerate() {
            if row.len() != header.len() {
                bail!(
                    "row {}: {} cells, the header has {} ({})",
                    i + 1,
                    row.len(),
                    header.len(),
                    header.join(", ")
                );
            }
        }
        Ok(DataTable {
            header,
            rows,
            built_in,
        })
    }

    /// Parses Gherkin table text: one `| a | b |` line per row, the first the header.
    pub fn parse(text: &str) -> Result<Self> {
        let rows = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|line| {
                let inner = line
                    .strip_prefix('|')
                    .and_then(|l| l.strip_suffix('|'))
                    .ok_or_else(|| anyhow!("'{line}' is not a table row"))?;
                Ok(inner.split('|').map(|c| c.trim().to_owned()).collect())
            })
            .collect::<Result<Vec<Vec<String>>>>()?;
        Self::from_rows(rows, false)
    }

    /// The index of column `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Result<usize> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                anyhow!(
                    "the table has no column '{name}' (its columns: {})",
                    self.header.join(", ")
                )
            })
    }

    /// Fails unless the header is exactly `names` (case-insensitive), in that order.
    pub fn expect_columns(&self, names: &[&str]) -> Result<()> {
        let same = self.header.len() == names.len()
            && self
                .header
                .iter()
                .zip(names)
                .all(|(h, n)| h.eq_ignore_ascii_case(n));
        if !same {
            bail!(
                "the table's columns are [{}]; this step reads [{}]",
                self.header.join(", "),
                names.join(", ")
            );
        }
        Ok(())
    }

    /// Each data row with its number (from 1), for "row N: ..." messages.
    pub fn numbered(&self) -> impl Iterator<Item = (usize, &[String])> {
        self.rows
            .iter()
            .enumerate()
            .map(|(i, r)| (i + 1, r.as_slice()))
    }

    /// Interprets every row with `f`; the first row it rejects fails the whole table with
    /// that row's number.
    pub fn map_rows<T>(&self, mut f: impl FnMut(&[String]) -> Result<T>) -> Result<Vec<T>> {
        self.numbered()
            .map(|(n, row)| f(row).with_context(|| format!("row {n} ({})", row.join(" | "))))
            .collect()
    }
}

/// The table of `step`, or, only where the orchestrator drops tables, `built_in` (Gherkin
/// table text with the rows the shared feature file lists). In-process a table step without
/// a table fails: the feature file must say what the step does.
pub fn data_table(world: &ZbWorld, step: &Step, built_in: &str) -> Result<DataTable> {
    match &step.table {
        Some(table) => DataTable::from_rows(table.rows.clone(), false),
        None if world.tables_may_be_dropped => {
            tracing::info!(
                step = %step.value,
                "the orchestrator sent no data table: using the rows built into the step"
            );
            let mut table = DataTable::parse(built_in).context("the built-in rows")?;
            table.built_in = true;
            Ok(table)
        }
        None => bail!("this step needs a data table below it in the feature file"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_gherkin_table_text() {
        let t = DataTable::parse("| size | count |\n  | 1KB | 10 |\n| 1MB | 2 |\n").unwrap();
        assert_eq!(t.header, ["size", "count"]);
        assert_eq!(t.rows, [["1KB", "10"], ["1MB", "2"]]);
        assert_eq!(t.column("COUNT").unwrap(), 1);
        assert!(t
            .column("x")
            .unwrap_err()
            .to_string()
            .contains("size, count"));
        t.expect_columns(&["Size", "count"]).unwrap();
        assert!(t.expect_columns(&["size"]).is_err());
        assert!(DataTable::parse("| a |\n| 1 | 2 |").is_err());
        assert!(DataTable::parse("a | b").is_err());
    }

    #[test]
    fn a_row_that_cannot_be_read_is_named() {
        let t = DataTable::parse("| n |\n| 1 |\n| x |").unwrap();
        let e = t
            .map_rows(|r| r[0].parse::<u32>().map_err(anyhow::Error::from))
            .unwrap_err();
        assert!(format!("{e:#}").starts_with("row 2 (x): "), "{e:#}");
    }

    #[test]
    fn tables_come_from_the_step_and_fall_back_only_where_dropped() {
        let mut world = ZbWorld::new();
        let mut step = Step {
            keyword: "Then ".into(),
            ty: cucumber::gherkin::StepType::Then,
            value: "x".into(),
            docstring: None,
            table: None,
            span: Default::default(),
            position: Default::default(),
        };
        let e = data_table(&world, &step, "| a |\n| 1 |").unwrap_err();
        assert!(e.to_string().contains("needs a data table"), "{e}");
        world.tables_may_be_dropped = true;
        let t = data_table(&world, &step, "| a |\n| 1 |").unwrap();
        assert!(t.built_in && t.rows == [["1"]]);
        step.table = Some(cucumber::gherkin::Table {
            rows: vec![vec!["a".into()], vec!["2".into()]],
            span: Default::default(),
            position: Default::default(),
        });
        let t = data_table(&world, &step, "| a |\n| 1 |").unwrap();
        assert!(!t.built_in && t.rows == [["2"]]);
    }
}
