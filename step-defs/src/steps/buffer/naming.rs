//! Buffer names: special characters and the length limit (8.3), and the semaphore names of
//! buffers named like the step's table rows with the Linux and Windows naming rules for every
//! object of those buffers (12.4).

use anyhow::{bail, ensure, Result};
use cucumber::gherkin::Step;
use cucumber::{given, then, when};
use zerobuffer::{NamedSemaphore, Reader, MAX_NAME_LEN};

use crate::drivers::endpoints::{name_round_trip, refused_as_invalid, with_cause, DEFAULT_CONFIG};
use crate::drivers::explain::Explain as _;
use crate::drivers::os::missing_objects;
use crate::drivers::roles::test_subject;
use crate::drivers::tables::{data_table, DataTable};
use crate::state::buffers::LengthTest;
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

/// Names that are valid file names but hostile to naive code (spaces, quotes, shell and regex
/// metacharacters, a backslash, non-ASCII, leading dash and dot).
const SPECIAL_NAMES: [&str; 9] = [
    "with space",
    "quote'double\"",
    "shell;|&$(x)`y`*?",
    "regex.^+[]{}()\\",
    "unicode-ümlaut-日本",
    "-leading-dash",
    ".leading-dot",
    "percent%s%n",
    "tab\tand\nnewline",
];

#[then(regex = r"^test with buffer names containing special characters$")]
fn special_character_names(world: &mut ZbWorld) -> Result<()> {
    let mut problems = Vec::new();
    for base in SPECIAL_NAMES {
        let name = world.buffer_name(base);
        if let Err(e) = name_round_trip(&name) {
            problems.push(format!("{name:?}: {e}"));
        }
    }
    // What can never be a file name is refused before any OS call.
    let valid = world.buffer_name("slash-test");
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        format!("a/{valid}"),
        format!("{valid}\0nul"),
    ] {
        if let Err(e) = refused_as_invalid(&bad) {
            problems.push(format!("{bad:?}: {e}"));
        }
    }
    ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(())
}

/// Characters every implementation and both OSes accept in object names.
fn portable(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// The feature-file part of a mangled name: `base_<pid>_<n>` → `base`.
fn base_of(name: &str) -> &str {
    let mut parts = name.rsplitn(3, '_');
    let (Some(b), Some(a), Some(base)) = (parts.next(), parts.next(), parts.next()) else {
        return name;
    };
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        base
    } else {
        name
    }
}

/// Windows kernel object names: anything but a backslash (the namespace separator), at most
/// MAX_PATH (260) characters including the `Global\` or `Local\` prefix.
fn valid_windows_object(name: &str) -> bool {
    !name.contains('\\') && format!("Global\\{name}").chars().count() <= 260
}

#[then(regex = r"^verify name contains only alphanumeric and dash$")]
fn name_alphanumeric_and_dash(world: &mut ZbWorld) -> Result<()> {
    let name = world.current()?.buffer()?.to_owned();
    let base = base_of(&name);
    let bad: String = base.chars().filter(|&c| !portable(c)).collect();
    ensure!(
        bad.is_empty(),
        "the buffer name '{base}' contains {bad:?} besides letters, digits and '-'"
    );
    // The run suffix (steps.md §0.3) adds only '_' and digits.
    let suffix = &name[base.len()..];
    ensure!(
        suffix.chars().all(|c| c == '_' || c.is_ascii_digit()),
        "the run suffix '{suffix}' is not '_' and digits"
    );
    Ok(())
}

#[then(regex = r"^same name rules work on both platforms$")]
fn same_rules_on_both(world: &mut ZbWorld) -> Result<()> {
    // Only Linux is at hand: every object name of this buffer must be valid under the Linux
    // rules (checked by creating them) and under the Windows rules (checked by rule).
    let name = world.current()?.buffer()?.to_owned();
    zerobuffer::validate_name(&name)?;
    let missing = missing_objects(&name);
    ensure!(
        missing.is_empty(),
        "missing on Linux: {}",
        missing.join(", ")
    );
    for object in [
        name.clone(),
        format!("sem-w-{name}"),
        format!("sem-r-{name}"),
    ] {
        ensure!(
            valid_windows_object(&object),
            "'{object}' is not a valid Windows object name"
        );
    }
    Ok(())
}

#[when(regex = r"^test maximum name length$")]
fn test_maximum_name_length(world: &mut ZbWorld) -> Result<()> {
    // Names get the run suffix: pad the base so the full name is exactly the limit.
    let suffix = world.buffer_name("n").len() - 1;
    let longest = world.buffer_name(&"n".repeat(MAX_NAME_LEN - suffix));
    let too_long = world.buffer_name(&"o".repeat(MAX_NAME_LEN + 1 - suffix));
    let outcome = LengthTest {
        longest: Some((longest.len(), name_round_trip(&longest))),
        too_long: Some((too_long.len(), refused_as_invalid(&too_long))),
    };
    world.current()?.buffers.length_test = outcome;
    Ok(())
}

#[then(regex = r"^both platforms should handle it correctly$")]
fn both_platforms_handle_it(world: &mut ZbWorld) -> Result<()> {
    let test = &mut world.current()?.buffers.length_test;
    let (Some((long_len, longest)), Some((over_len, too_long))) =
        (test.longest.take(), test.too_long.take())
    else {
        bail!("'test maximum name length' did not run");
    };
    ensure!(
        long_len == MAX_NAME_LEN && over_len == MAX_NAME_LEN + 1,
        "tested lengths {long_len} and {over_len}"
    );
    longest.with_context(|| format!("a {long_len}-byte name (the limit) failed"))?;
    too_long.with_context(|| format!("a {over_len}-byte name was not refused"))?;
    // Linux: `sem.sem-w-` + 245 bytes is the 255-byte file-name limit. Windows: the same
    // names with their namespace prefix stay within MAX_PATH.
    let longest_sem = format!("sem-w-{}", "n".repeat(MAX_NAME_LEN));
    ensure!(
        format!("sem.{longest_sem}").len() == 255,
        "the longest semaphore file name is not 255 bytes"
    );
    ensure!(
        valid_windows_object(&longest_sem),
        "the longest semaphore name exceeds the Windows limit"
    );
    Ok(())
}
