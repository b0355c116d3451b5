//! Scenario selection with test.sh's filter forms: `1.1` (exactly that test, not 1.10),
//! `13.*` (a group), and comma-separated lists of those.

use crate::features::Scenario;

/// Whether `scenario` matches `filter` (empty = everything).
pub fn matches(filter: &str, scenario: &Scenario) -> bool {
    if filter.trim().is_empty() {
        return true;
    }
    let Some(number) = scenario.number() else {
        return false;
    };
    filter.split(',').map(str::trim).any(|one| {
        if let Some(prefix) = one.strip_suffix('*') {
            number.starts_with(prefix)
        } else {
            number == one
        }
    })
}

/// Why a scenario is skipped on this host, from its tags.
pub fn skip_reason(scenario: &Scenario) -> Option<String> {
    let windows = scenario.tags.iter().any(|t| t == "windows");
    if windows && !cfg!(windows) {
        return Some("@windows scenario; this host is not Windows".into());
    }
    let linux = scenario.tags.iter().any(|t| t == "linux");
    if linux && !cfg!(target_os = "linux") {
        return Some("@linux scenario; this host is not Linux".into());
    }
    // Same reason as the in-process runner gives (step-defs/tests/bdd.rs).
    if scenario.tags.iter().any(|t| t == "multi-user") {
        return Some(
            "@multi-user scenario: needs two OS user accounts and the right to run processes as them"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(name: &str) -> Scenario {
        Scenario {
            feature: "01-X".into(),
            feature_id: 1,
            name: name.into(),
            tags: vec![],
            steps: vec![],
            roles: vec![],
        }
    }

    #[test]
    fn filters() {
        let s11 = scenario("Test 1.1 - A");
        let s110 = scenario("Test 1.10 - B");
        let s131 = scenario("Test 13.1 - C");
        assert!(matches("1.1", &s11) && !matches("1.1", &s110));
        assert!(matches("1.*", &s110) && !matches("1.*", &s131));
        assert!(matches("13.*", &s131) && matches("", &s11));
        assert!(matches("4.2, 1.1", &s11));
    }
}
