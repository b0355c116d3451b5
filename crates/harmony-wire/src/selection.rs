//! Which scenarios run: the filter every runner accepts, scenario numbers, and the tags that
//! make a scenario impossible on this host (skipped with the reason, never passed).

use std::fmt;
use std::str::FromStr;

/// The `N.M` of a `Test N.M - Title`, both parts numbers.
pub fn scenario_number(title: &str) -> Option<&str> {
    let id = title.strip_prefix("Test ")?.split_whitespace().next()?;
    let (major, minor) = id.split_once('.')?;
    (major.parse::<u32>().is_ok() && minor.parse::<u32>().is_ok()).then_some(id)
}

/// One form of a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Wanted {
    /// `1.1`: exactly Test 1.1 (not 1.10).
    Exact(String),
    /// `13.*`: every Test 13.M.
    Group(String),
}

/// A scenario filter: `1.1`, `13.*`, or a comma-separated list of those; empty selects all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(Vec<Wanted>);

impl FromStr for Filter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.trim().is_empty() {
            return Ok(Filter::default());
        }
        text.split(',')
            .map(str::trim)
            .map(|one| {
                let is_number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
                match one.strip_suffix(".*") {
                    Some(group) if is_number(group) => Ok(Wanted::Group(group.to_owned())),
                    _ => match one.split_once('.') {
                        Some((a, b)) if is_number(a) && is_number(b) => {
                            Ok(Wanted::Exact(one.to_owned()))
                        }
                        _ => Err(format!(
                            "'{one}' is not a scenario filter: use N.M (one scenario), N.* (a \
                             group) or a comma-separated list of those"
                        )),
                    },
                }
            })
            .collect::<Result<_, _>>()
            .map(Filter)
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|w| match w {
                Wanted::Exact(id) => id.clone(),
                Wanted::Group(g) => format!("{g}.*"),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl Filter {
    /// Whether the scenario titled `title` is selected. A title without a `Test N.M` number
    /// is selected only by the empty filter.
    pub fn selects(&self, title: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        scenario_number(title).is_some_and(|id| self.selects_number(id))
    }

    /// Whether scenario `N.M` is selected.
    pub fn selects_number(&self, id: &str) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let major = id.split('.').next().unwrap_or_default();
        self.0.iter().any(|w| match w {
            Wanted::Exact(e) => e == id,
            Wanted::Group(g) => g == major,
        })
    }
}

/// Why a scenario with these tags (feature and scenario tags, with or without `@`) cannot
/// run on this host, if it cannot.
pub fn skip_reason<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    let mut reason = None;
    for tag in tags {
        let why = match tag.trim_start_matches('@') {
            "windows" if !cfg!(windows) => "@windows scenario; this host is not Windows",
            "macos" if !cfg!(target_os = "macos") => "@macos scenario; this host is not macOS",
            "linux" if !cfg!(target_os = "linux") => "@linux scenario; this host is not Linux",
            "multi-user" => {
                "@multi-user scenario: needs two OS user accounts and the right to run \
                 processes as them"
            }
            _ => continue,
        };
        reason.get_or_insert(why);
    }
    reason
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        let f = |s: &str| s.parse::<Filter>().unwrap();
        assert!(f("1.1").selects("Test 1.1 - A") && !f("1.1").selects("Test 1.10 - B"));
        assert!(f("1.*").selects("Test 1.10 - B") && !f("1.*").selects("Test 13.1 - C"));
        assert!(f("13.*").selects("Test 13.1 - C") && f("").selects("Test 1.1 - A"));
        assert!(f("4.2, 1.1").selects("Test 1.1 - A"));
        assert!(f("").selects("Untitled") && !f("1.1").selects("Untitled"));
        assert_eq!(f("4.2, 13.*").to_string(), "4.2,13.*");
        for bad in ["1*", "1", "x.1", "1.1.1", "1.1,", "*"] {
            assert!(bad.parse::<Filter>().is_err(), "{bad}");
        }
    }

    #[test]
    fn numbers_and_skips() {
        assert_eq!(scenario_number("Test 4.10 - X"), Some("4.10"));
        assert_eq!(scenario_number("Test x.1 - X"), None);
        assert!(skip_reason(["@windows"]).is_some());
        assert!(skip_reason(["multi-user", "linux"])
            .unwrap()
            .contains("two OS user"));
        assert_eq!(skip_reason(["linux", "benchmark"]), None);
    }
}
