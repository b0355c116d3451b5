//! 12.4: the semaphore names of buffers named like the step's table rows, and the Linux and
//! Windows naming rules for every object of those buffers.

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then};
use zerobuffer::{NamedSemaphore, Reader};

use crate::drivers::endpoints::{with_cause, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::missing_objects;
use crate::drivers::roles::test_subject;
use crate::drivers::tables::{data_table, DataTable};
use crate::world::{ZbWorld, READ_TIMEOUT};

/// Upstream 12.4's table, for an orchestrator that drops tables.
const BUILT_IN_ROWS: &str = "
    | buffer_name                                            | description                     |
    | 550e8400-e29b-41d4-a716-446655440000                   | UUID format                     |
    | test_buffer-123                                        | alphanumeric with special chars |
    | very_long_buffer_name_that_tests_maximum_length_limits | max length                      |
";

/// The buffer names of the table's rows.
fn buffer_names(table: &DataTable) -> Result<Vec<String>> {
    let name = table
        .column("buffer_name")
        .or_else(|_| table.column("name"))?;
    let description = table.column("description").ok();
    if let Some(extra) = (0..table.header.len()).find(|i| *i != name && Some(*i) != description) {
        bail!(
            "the table's column '{}' is not one this step reads (buffer_name or name, and \
             description)",
            table.header[extra]
        );
    }
    table
        .map_rows(|row| {
            let base = row[name].trim();
            ensure!(!base.is_empty(), "the buffer name is empty");
            Ok(base.to_owned())
        })
        .map_err(with_cause)
}

/// Creates one buffer (default config) per row of the step's table: the name in column
/// `buffer_name` (or `name`); a `description` column only labels the row.
#[given(regex = r"^create buffers with various names:$")]
fn create_buffers_with_names(world: &mut ZbWorld, step: &Step) -> Result<()> {
    let table = data_table(world, step, BUILT_IN_ROWS)?;
    let bases = buffer_names(&table)?;
    let mut buffers = Vec::new();
    for (i, base) in bases.iter().enumerate() {
        let full = world.buffer_name(base);
        buffers.push(
            Reader::create(&full, DEFAULT_CONFIG)
                .with_context(|| format!("row {} ({base}): creating '{full}'", i + 1))?,
        );
    }
    test_subject(world)?.buffers.named.buffers = buffers;
    Ok(())
}

fn named_buffers(world: &mut ZbWorld) -> Result<&mut Vec<Reader>> {
    let buffers = &mut test_subject(world)?.buffers.named.buffers;
    ensure!(!buffers.is_empty(), "no buffers with various names exist");
    Ok(buffers)
}

#[then(regex = r"^verify semaphores created as '([^']*)' and '([^']*)'$")]
fn semaphores_named(world: &mut ZbWorld, data_sem: String, space_sem: String) -> Result<()> {
    for template in [&data_sem, &space_sem] {
        ensure!(
            template.contains("{name}"),
            "'{template}' has no {{name}} placeholder"
        );
    }
    for reader in named_buffers(world)?.iter() {
        let name = reader.name();
        let data = template_name(&data_sem, name)?;
        let space = template_name(&space_sem, name)?;
        // Open them by exactly those names and watch the library use them: a frame posts the
        // first, releasing it posts the second.
        let sem_w = NamedSemaphore::open(&format!("/{data}"))
            .with_context(|| format!("no semaphore '{data}' (/dev/shm/sem.{data})"))?;
        let sem_r = NamedSemaphore::open(&format!("/{space}"))
            .with_context(|| format!("no semaphore '{space}' (/dev/shm/sem.{space})"))?;
        let values = |what: &str| -> Result<(i32, i32)> {
            Ok((
                sem_w.value().with_context(|| format!("{data} {what}"))?,
                sem_r.value().with_context(|| format!("{space} {what}"))?,
            ))
        };
        ensure!(values("fresh")? == (0, 0), "fresh semaphores are not 0");
        let mut writer = zerobuffer::Writer::connect(name)?;
        writer.write_frame(b"naming")?;
        ensure!(
            values("after a write")? == (1, 0),
            "a write did not post '{data}' alone"
        );
        drop(reader.read_frame(READ_TIMEOUT)?);
        ensure!(
            values("after a read")? == (0, 1),
            "a read did not take '{data}' and post '{space}'"
        );
    }
    Ok(())
}

fn template_name(template: &str, name: &str) -> Result<String> {
    let out = template.replace("{name}", name);
    ensure!(
        out.starts_with("sem-") && out.ends_with(name),
        "'{template}' does not give a semaphore name of the form sem-?-NAME"
    );
    Ok(out)
}

/// Why `name` cannot be a Windows file or kernel-object name component, if it cannot.
fn windows_rule_broken(name: &str) -> Option<String> {
    const RESERVED: [&str; 4] = ["CON", "PRN", "AUX", "NUL"];
    if name.len() > 260 {
        return Some(format!("{} characters exceed MAX_PATH (260)", name.len()));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || "<>:\"/\\|?*".contains(*c))
    {
        return Some(format!("{c:?} is not allowed"));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Some("a trailing dot or space is dropped by Windows".into());
    }
    let stem = name
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let device = RESERVED.contains(&stem.as_str())
        || ((stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.len() == 4
            && stem.as_bytes()[3].is_ascii_digit());
    device.then(|| format!("'{stem}' is a reserved device name"))
}

#[then(regex = r"^verify both Linux and Windows naming rules respected$")]
fn naming_rules_respected(world: &mut ZbWorld) -> Result<()> {
    for reader in named_buffers(world)?.iter() {
        let name = reader.name();
        // Linux: every object is a file name of at most 255 bytes in /dev/shm or the lock dir.
        let files = [
            name.to_owned(),
            format!("sem.sem-w-{name}"),
            format!("sem.sem-r-{name}"),
            format!("{name}.lock"),
        ];
        for file in &files {
            ensure!(
                file.len() <= 255 && !file.contains('/') && !file.contains('\0'),
                "'{file}' breaks the Linux file-name rules"
            );
        }
        let missing = missing_objects(name);
        ensure!(
            missing.is_empty(),
            "Linux did not accept every object of '{name}': {missing:?} do not exist"
        );
        // Windows: the same names become kernel objects (sem-w-NAME ...) and the lock file.
        for object in [
            name.to_owned(),
            format!("sem-w-{name}"),
            format!("sem-r-{name}"),
            format!("{name}.lock"),
        ] {
            if let Some(why) = windows_rule_broken(&object) {
                bail!("'{object}' breaks the Windows naming rules: {why}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_rows_are_all_interpreted() {
        let names = buffer_names(&DataTable::parse(BUILT_IN_ROWS).unwrap()).unwrap();
        assert_eq!(names.len(), 3);
        assert_eq!(names[1], "test_buffer-123");
    }
}
