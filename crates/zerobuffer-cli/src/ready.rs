//! `--ready-file`: tells scripts (and tests) that a command has set up its side and may be
//! talked to.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

/// Creates `path` holding this process's pid. The file appears complete (write, then rename);
/// it is left in place.
pub fn write_ready_file(path: &Path) -> Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    fs::write(&partial, format!("{}\n", std::process::id()))
        .and_then(|()| fs::rename(&partial, path))
        .with_context(|| format!("cannot create ready file {}", path.display()))
}
