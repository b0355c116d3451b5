//! `zerobuffer inspect`: the decoded control block (OIEB) of a buffer, as a table or JSON.

use std::io::{self, Write};

use anyhow::{Context, Result};
use serde::Serialize;
use zerobuffer::BufferInfo;

use crate::InspectArgs;

pub fn run(args: &InspectArgs) -> Result<()> {
    let info = zerobuffer::inspect(&args.name)
        .with_context(|| format!("cannot inspect buffer {:?}", args.name))?;
    let report = Report::from(&info);
    let mut out = io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else {
        write!(out, "{}", report.table())?;
    }
    Ok(())
}

/// Every OIEB field plus the segment size and the liveness of both processes.
#[derive(Debug, Serialize)]
struct Report {
    name: String,
    segment_size: u64,
    oieb_size: u32,
    /// "major.minor.patch"
    version: String,
    version_reserved: u8,
    metadata_size: u64,
    metadata_free_bytes: u64,
    metadata_written_bytes: u64,
    payload_size: u64,
    payload_free_bytes: u64,
    payload_write_pos: u64,
    payload_read_pos: u64,
    payload_written_count: u64,
    payload_read_count: u64,
    writer_pid: u64,
    writer_alive: bool,
    reader_pid: u64,
    reader_alive: bool,
}

impl From<&BufferInfo> for Report {
    fn from(info: &BufferInfo) -> Self {
        let o = &info.oieb;
        let [major, minor, patch, reserved] = o.version;
        Report {
            name: info.name.clone(),
            segment_size: info.segment_size,
            oieb_size: o.oieb_size,
            version: format!("{major}.{minor}.{patch}"),
            version_reserved: reserved,
            metadata_size: o.metadata_size,
            metadata_free_bytes: o.metadata_free_bytes,
            metadata_written_bytes: o.metadata_written_bytes,
            payload_size: o.payload_size,
            payload_free_bytes: o.payload_free_bytes,
            payload_write_pos: o.payload_write_pos,
            payload_read_pos: o.payload_read_pos,
            payload_written_count: o.payload_written_count,
            payload_read_count: o.payload_read_count,
            writer_pid: o.writer_pid,
            writer_alive: info.writer_alive,
            reader_pid: o.reader_pid,
            reader_alive: info.reader_alive,
        }
    }
}

impl Report {
    /// One `label  value` line per field, values aligned.
    fn table(&self) -> String {
        let rows = [
            ("buffer", self.name.clone()),
            ("segment size", format!("{} bytes", self.segment_size)),
            ("oieb size", self.oieb_size.to_string()),
            (
                "version",
                format!("{} (reserved byte {})", self.version, self.version_reserved),
            ),
            ("metadata size", self.metadata_size.to_string()),
            ("metadata free bytes", self.metadata_free_bytes.to_string()),
            (
                "metadata written bytes",
                self.metadata_written_bytes.to_string(),
            ),
            ("payload size", self.payload_size.to_string()),
            ("payload free bytes", self.payload_free_bytes.to_string()),
            ("payload write pos", self.payload_write_pos.to_string()),
            ("payload read pos", self.payload_read_pos.to_string()),
            (
                "payload written count",
                self.payload_written_count.to_string(),
            ),
            ("payload read count", self.payload_read_count.to_string()),
            ("writer pid", pid_text(self.writer_pid, self.writer_alive)),
            ("reader pid", pid_text(self.reader_pid, self.reader_alive)),
        ];
        let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0);
        rows.iter()
            .map(|(label, value)| format!("{label:<width$}  {value}\n"))
            .collect()
    }
}

fn pid_text(pid: u64, alive: bool) -> String {
    match (pid, alive) {
        (0, _) => "0 (none)".to_owned(),
        (pid, true) => format!("{pid} (alive)"),
        (pid, false) => format!("{pid} (dead)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_aligned_and_names_pids() {
        let report = Report {
            name: "b".into(),
            segment_size: 1280,
            oieb_size: 128,
            version: "1.0.0".into(),
            version_reserved: 0,
            metadata_size: 128,
            metadata_free_bytes: 128,
            metadata_written_bytes: 0,
            payload_size: 1024,
            payload_free_bytes: 1024,
            payload_write_pos: 0,
            payload_read_pos: 0,
            payload_written_count: 0,
            payload_read_count: 0,
            writer_pid: 0,
            writer_alive: false,
            reader_pid: 42,
            reader_alive: true,
        };
        let table = report.table();
        assert_eq!(table.lines().count(), 15);
        // The longest label is "metadata written bytes" (22): values start at column 24.
        for line in table.lines() {
            assert_eq!(&line[22..24], "  ", "{table}");
            assert_ne!(line.as_bytes()[24], b' ', "{table}");
        }
        let row =
            |label: &str| table.lines().find(|l| l.starts_with(label)).unwrap()[24..].to_owned();
        assert_eq!(row("writer pid"), "0 (none)");
        assert_eq!(row("reader pid"), "42 (alive)");
        assert_eq!(row("version"), "1.0.0 (reserved byte 0)");
    }
}
