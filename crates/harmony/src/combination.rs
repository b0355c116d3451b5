//! Combinations: which platform runs each role (harmony.md §4.4). Roles are sorted
//! alphabetically and take the platforms of the combination name in order, so `rust_csharp`
//! means Rust reader (or client) and C# writer (or server). A one-platform name (`rust`) gives
//! every role that platform; a scenario with fewer roles than the name has parts runs only
//! under single-platform names, as upstream generates one-role tests per platform.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Combination {
    pub platforms: Vec<String>,
}

impl Combination {
    /// `rust`, `rust_python`, `rust-python`.
    pub fn parse(name: &str) -> Result<Combination, String> {
        let platforms: Vec<String> = name.split(['_', '-']).map(str::to_owned).collect();
        if platforms.iter().any(String::is_empty) {
            return Err(format!("'{name}' is not PLATFORM or PLATFORM_PLATFORM"));
        }
        Ok(Combination { platforms }.normalized())
    }

    /// `rust_rust` is `rust`.
    fn normalized(mut self) -> Combination {
        if self.platforms.len() > 1 && self.platforms.iter().all(|p| *p == self.platforms[0]) {
            self.platforms.truncate(1);
        }
        self
    }

    /// Every pair of `available` platforms (same-platform pairs as one name).
    pub fn all(available: &[&str]) -> Vec<Combination> {
        let mut all = Vec::new();
        for a in available {
            for b in available {
                let c = Combination {
                    platforms: vec![a.to_string(), b.to_string()],
                }
                .normalized();
                all.push(c);
            }
        }
        all
    }

    /// The platform of each role (in the given order), or why the scenario does not run
    /// under this combination.
    pub fn assign(&self, roles: &[String]) -> Result<Vec<(String, String)>, String> {
        if roles.is_empty() {
            return Err("names no process (upstream does not generate it)".into());
        }
        let mut sorted: Vec<&String> = roles.iter().collect();
        sorted.sort();
        let platform_of = |role: &String| -> String {
            if self.platforms.len() == 1 {
                return self.platforms[0].clone();
            }
            let index = sorted.iter().position(|r| *r == role).expect("own role");
            self.platforms[index].clone()
        };
        if self.platforms.len() > 1 && self.platforms.len() != roles.len() {
            return Err(format!(
                "{} role(s), {} platforms: runs under single-platform combinations",
                roles.len(),
                self.platforms.len()
            ));
        }
        Ok(roles.iter().map(|r| (r.clone(), platform_of(r))).collect())
    }

    /// `rust/python`, as in Harmony's test names (`rust/rust` for `rust` with two roles).
    pub fn label(&self, roles: usize) -> String {
        if self.platforms.len() == 1 {
            vec![self.platforms[0].as_str(); roles.max(1)].join("/")
        } else {
            self.platforms.join("/")
        }
    }

    pub fn name(&self) -> String {
        self.platforms.join("_")
    }
}

impl fmt::Display for Combination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sorted_roles_take_platforms_in_order() {
        let c = Combination::parse("rust_csharp").unwrap();
        let got = c.assign(&roles(&["writer", "reader"])).unwrap();
        assert_eq!(
            got,
            [
                ("writer".into(), "csharp".into()),
                ("reader".into(), "rust".into())
            ]
        );
        let got = c.assign(&roles(&["server", "client"])).unwrap();
        assert_eq!(got[1], ("client".into(), "rust".into()));
        assert!(c.assign(&roles(&["reader"])).is_err());
        assert!(c.assign(&[]).is_err());
        let one = Combination::parse("rust").unwrap();
        assert_eq!(one.assign(&roles(&["reader"])).unwrap().len(), 1);
        assert_eq!(one.label(2), "rust/rust");
        assert_eq!(
            Combination::parse("python_python").unwrap().name(),
            "python"
        );
        assert_eq!(Combination::all(&["python", "rust"]).len(), 4);
    }
}
