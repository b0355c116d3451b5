//! `harmony-config.json` in Harmony's format (harmony.md §7), keys case-insensitive, plus
//! the environment override `ZEROBUFFER_SERVE_<PLATFORM>` (a full command line).
//!
//! Relative executables and working directories are resolved against the config file's
//! directory (upstream resolves them against the orchestrator's cwd), so the runner works
//! from any directory. A platform whose executable is empty (and not overridden) is "not
//! configured"; asking for it is an error that names the variable to set. Whether a
//! configured serve can be started (its program and working directory exist) is checked
//! only when a run is about to start it ([`Platform::startable`]), so listing scenarios or a
//! usage error never fails for want of a built serve.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct Platform {
    pub name: String,
    pub executable: PathBuf,
    pub arguments: Vec<String>,
    pub working_directory: Option<PathBuf>,
    pub environment: BTreeMap<String, String>,
    /// Where the command came from, for messages.
    pub source: String,
}

#[derive(Debug, Clone)]
pub struct Config {
    /// By name (it sets the order of `all`); `Err` says why a platform is not configured.
    pub platforms: Vec<(String, Result<Platform, String>)>,
    pub features_path: PathBuf,
    pub default_timeout_ms: u64,
    pub process_initialization_delay_ms: u64,
}

/// `ZEROBUFFER_SERVE_<PLATFORM>`.
pub fn override_variable(platform: &str) -> String {
    let name: String = platform
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("ZEROBUFFER_SERVE_{name}")
}

/// Splits an argument string the way .NET does for the common cases: whitespace separates,
/// double quotes group, `\"` is a literal quote.
pub fn split_command_line(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

fn get<'a>(object: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    object
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn string(object: &serde_json::Map<String, Value>, key: &str) -> String {
    get(object, key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn resolve(base: &Path, path: &str) -> PathBuf {
    let path = PathBuf::from(path);
    if path.is_absolute() {
        path
    } else {
        base.join(path)
    }
}

impl Platform {
    /// Checks that the command can be started: its program exists as a file (the upstream
    /// check), looked up on `PATH` only when the name has no `/` (an override like
    /// `dotnet x.dll`), and its working directory exists. The error names the variable that
    /// overrides the command.
    pub fn startable(&self) -> Result<(), String> {
        let exe = &self.executable;
        let found = if exe.components().count() == 1 && !exe.is_absolute() {
            std::env::var_os("PATH").is_some_and(|paths| {
                std::env::split_paths(&paths).any(|dir| dir.join(exe).is_file())
            })
        } else {
            exe.is_file()
        };
        let variable = override_variable(&self.name);
        if !found {
            return Err(format!(
                "the serve of platform '{}' ({}) does not exist: {}; set {variable}",
                self.name,
                self.source,
                exe.display()
            ));
        }
        if let Some(dir) = &self.working_directory {
            if !dir.is_dir() {
                return Err(format!(
                    "the working directory of platform '{}' does not exist: {}; set {variable}",
                    self.name,
                    dir.display()
                ));
            }
        }
        Ok(())
    }
}

impl Config {
    /// Reads `path`, applying `ZEROBUFFER_SERVE_<PLATFORM>` from `env`.
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let base = if base.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            base
        };
        Self::parse(&text, &base, env).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str, base: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config> {
        let root: Value = serde_json::from_str(text)?;
        let Some(root) = root.as_object() else {
            bail!("the configuration is not a JSON object");
        };
        let mut platforms = Vec::new();
        if let Some(map) = get(root, "platforms").and_then(Value::as_object) {
            for (name, entry) in map {
                let empty = serde_json::Map::new();
                let entry = entry.as_object().unwrap_or(&empty);
                let variable = override_variable(name);
                let working_directory = match string(entry, "workingDirectory") {
                    dir if dir.is_empty() => None,
                    dir => Some(resolve(base, &dir)),
                };
                let mut environment = BTreeMap::new();
                if let Some(vars) = get(entry, "environmentVariables").and_then(Value::as_object) {
                    for (k, v) in vars {
                        let value = v.as_str().map(str::to_owned).unwrap_or(v.to_string());
                        environment.insert(k.clone(), value);
                    }
                }
                let (executable, arguments, source) = match env(&variable) {
                    Some(line) if !line.trim().is_empty() => {
                        let mut words = split_command_line(&line);
                        let program = words.remove(0);
                        (PathBuf::from(program), words, format!("from ${variable}"))
                    }
                    _ => {
                        let exe = string(entry, "executable");
                        let args = split_command_line(&string(entry, "arguments"));
                        if exe.is_empty() {
                            platforms.push((
                                name.clone(),
                                Err(format!(
                                    "platform '{name}' is not available: set {variable} to its \
                                     serve's command line (e.g. {variable}=/path/to/serve)"
                                )),
                            ));
                            continue;
                        }
                        let exe = if exe.contains('/') {
                            resolve(base, &exe)
                        } else {
                            PathBuf::from(exe)
                        };
                        (exe, args, "from harmony-config.json".to_owned())
                    }
                };
                let platform = Platform {
                    name: name.clone(),
                    executable,
                    arguments,
                    working_directory,
                    environment,
                    source,
                };
                platforms.push((name.clone(), Ok(platform)));
            }
        }
        if platforms.is_empty() {
            bail!("no platforms configured");
        }
        let number =
            |key: &str, default: u64| get(root, key).and_then(Value::as_u64).unwrap_or(default);
        let features = match string(root, "featuresPath") {
            p if p.is_empty() => "features".to_owned(),
            p => p,
        };
        Ok(Config {
            platforms,
            features_path: resolve(base, &features),
            default_timeout_ms: number("defaultTimeoutMs", 30_000),
            process_initialization_delay_ms: number("processInitializationDelayMs", 0),
        })
    }

    /// The configured platform `name`, or why it is not configured.
    pub fn platform(&self, name: &str) -> Result<&Platform, String> {
        match self.platforms.iter().find(|(n, _)| n == name) {
            Some((_, Ok(p))) => Ok(p),
            Some((_, Err(e))) => Err(e.clone()),
            None => Err(format!(
                "unknown platform '{name}' (configured: {}); add it to harmony-config.json",
                self.platforms
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The names of the platforms that are configured and can be started now.
    pub fn available(&self) -> Vec<&str> {
        self.platforms
            .iter()
            .filter(|(_, p)| p.as_ref().is_ok_and(|p| p.startable().is_ok()))
            .map(|(n, _)| n.as_str())
            .collect()
    }

    /// Why a platform is left out of `all`, for each one that is.
    pub fn unavailable(&self) -> Vec<(&str, String)> {
        self.platforms
            .iter()
            .filter_map(|(n, p)| {
                let why = match p {
                    Ok(p) => p.startable().err()?,
                    Err(e) => e.clone(),
                };
                Some((n.as_str(), why))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "Platforms": {
            "rust": { "executable": "/bin/sh", "arguments": "-c \"exit 0\"", "workingDirectory": "" },
            "cpp": { "executable": "" }
        },
        "featuresPath": "features",
        "DefaultTimeoutMs": 1000
    }"#;

    #[test]
    fn parses_harmony_format_and_overrides() {
        let config = Config::parse(CONFIG, Path::new("/repo"), |_| None).unwrap();
        let rust = config.platform("rust").unwrap();
        assert_eq!(rust.arguments, ["-c", "exit 0"]);
        assert_eq!(config.default_timeout_ms, 1000);
        assert_eq!(config.process_initialization_delay_ms, 0);
        assert_eq!(config.features_path, Path::new("/repo/features"));
        let error = config.platform("cpp").unwrap_err();
        assert!(error.contains("ZEROBUFFER_SERVE_CPP"), "{error}");
        assert_eq!(config.available(), ["rust"]);

        let env = |v: &str| (v == "ZEROBUFFER_SERVE_CPP").then(|| "/bin/sh -c true".to_owned());
        let config = Config::parse(CONFIG, Path::new("/repo"), env).unwrap();
        let cpp = config.platform("cpp").unwrap();
        assert_eq!(
            (cpp.executable.as_path(), cpp.arguments.len()),
            (Path::new("/bin/sh"), 2)
        );
    }
}
