//! Runs suite scenarios against serve processes with the harmony crate's orchestrator, and
//! holds our serve to more than Harmony requires: the canonical `StepResponse` form, a clean
//! exit 0 on stdin EOF, `abort` on `crash`, and no shared-memory object or lock file left
//! behind.

#![allow(dead_code, unused_imports)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};

use harmony::config::Platform as ServePlatform;
use harmony::features::Scenario;
use harmony::scenario::{self, KillMode};
use regex::Regex;
use serde_json::{json, Value};

pub use harmony::routing::extract_process;
pub use harmony::scenario::leftovers;

/// How a serve is started for a role.
#[derive(Debug, Clone)]
pub enum Platform {
    Rust,
    Python(PathBuf),
}

impl Platform {
    fn serve(&self) -> ServePlatform {
        let (name, executable, arguments) = match self {
            Platform::Rust => ("rust", super::serve::serve_binary(), vec![]),
            Platform::Python(python) => (
                "python",
                python.clone(),
                vec!["-m".to_owned(), "zerobuffer_serve".to_owned()],
            ),
        };
        let mut environment = std::collections::BTreeMap::new();
        environment.insert("RUST_LOG".to_owned(), "info".to_owned());
        ServePlatform {
            name: name.to_owned(),
            executable,
            arguments,
            working_directory: None,
            environment,
            source: "test".to_owned(),
        }
    }
}

/// A scenario with its Background, routed.
pub type Plan = Scenario;

/// Plans the scenario whose name starts with `Test <id> ` (e.g. `1.1`).
pub fn plan(feature_path: &Path, id: &str) -> Plan {
    let scenarios = harmony::features::load_file(feature_path)
        .unwrap_or_else(|e| panic!("{}: {e:#}", feature_path.display()));
    let prefix = format!("Test {id} ");
    scenarios
        .into_iter()
        .find(|s| s.name.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no scenario {prefix:?} in {}", feature_path.display()))
}

pub fn features_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

/// Options of a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// What "the 'x' process is killed" does.
    pub kill_mode: KillMode,
    /// A step routed to a killed or crashed role goes to a fresh process (harmony's
    /// extension); `false` is upstream Harmony's behaviour.
    pub restart_ended: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            kill_mode: KillMode::Sigkill,
            restart_ended: true,
        }
    }
}

fn strict_for_rust(platform: &str, result: &Value) -> Result<(), String> {
    check_step_response(result, platform == "rust")
}

const SIGABRT: i32 = 6;

/// Runs `plan` with the platform of each role; returns the first failure as Harmony words
/// it, with every serve's stderr.
pub fn run(
    plan: &Plan,
    platforms: &[(&str, Platform)],
    options: &RunOptions,
) -> Result<(), String> {
    let mut assignment = Vec::new();
    for role in &plan.roles {
        let platform = platforms
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, p)| p.serve())
            .ok_or_else(|| format!("no platform for role '{role}'"))?;
        assignment.push((role.clone(), platform));
    }
    let run_options = scenario::RunOptions {
        step_timeout: std::time::Duration::from_secs(60),
        kill_mode: options.kill_mode,
        restart_ended: options.restart_ended,
        remove_leftovers: false,
        check_response: Some(strict_for_rust),
        ..scenario::RunOptions::default()
    };
    let run = scenario::run(&plan.steps, &assignment, plan.feature_id, &run_options);
    let mut outcome = run.outcome.clone();
    let mut stderr = String::new();
    for end in &run.roles {
        let rust = end.platform == "rust";
        let status = end.status.expect("reaped");
        let clean = !end.killed_at_teardown && status.success();
        if rust && end.ended_by.is_none() && !clean {
            outcome = outcome.and(Err(format!(
                "{}:{} did not exit cleanly on stdin EOF: {status:?}, killed: {}",
                end.platform, end.role, end.killed_at_teardown
            )));
        }
        if rust && end.ended_by == Some("crashed") && status.signal() != Some(SIGABRT) {
            outcome = outcome.and(Err(format!(
                "{}:{} did not abort after crash: {status:?}",
                end.platform, end.role
            )));
        }
        stderr.push_str(&format!(
            "--- {}:{} stderr ---\n{}",
            end.platform, end.role, end.stderr
        ));
    }
    for path in &run.leftovers {
        let _ = std::fs::remove_file(path);
    }
    match (outcome, run.leftovers.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(format!(
            "{}: left behind {:?}\n{stderr}",
            plan.name, run.leftovers
        )),
        (Err(e), _) => Err(format!("{}: Scenario failed: {e}\n{stderr}", plan.name)),
    }
}

/// Checks a `StepResponse` the way Harmony's client reads it (keys case-insensitive); with
/// `strict`, also the canonical form our serve promises: PascalCase, every field present,
/// integer levels, ISO-8601 UTC timestamps.
pub fn check_step_response(result: &Value, strict: bool) -> Result<(), String> {
    let object = result
        .as_object()
        .ok_or_else(|| format!("result is not an object: {result}"))?;
    let get = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let success = get("success").and_then(Value::as_bool);
    if success.is_none() {
        return Err(format!("no boolean Success: {result}"));
    }
    if !strict {
        return Ok(());
    }
    let mut keys: Vec<_> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["Context", "Error", "Logs", "Success"] {
        return Err(format!(
            "fields are not Success/Error/Context/Logs: {result}"
        ));
    }
    if object["Context"] != json!({}) {
        return Err(format!("Context is not {{}}: {result}"));
    }
    let iso = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    for log in object["Logs"].as_array().ok_or("Logs is not an array")? {
        let ok = log["Timestamp"].as_str().is_some_and(|t| iso.is_match(t))
            && log["Level"].as_u64().is_some_and(|l| l <= 6)
            && log["Message"].is_string()
            && log.as_object().is_some_and(|o| o.len() == 3);
        if !ok {
            return Err(format!("malformed log record: {log}"));
        }
    }
    Ok(())
}
