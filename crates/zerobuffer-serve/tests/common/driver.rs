//! A small Harmony-style driver: runs one scenario of a feature file against serve processes,
//! one per role, routing steps as the upstream orchestrator does (harmony.md §3, §4):
//!
//! - the process is extracted from the start of the step text (rules of §3.2);
//! - a step naming no process goes to the last process named in its section (Background or
//!   Scenario), whatever its keyword; before any, it is broadcast to every role;
//! - And/But/`*` take the type of the previous step of the section (Given if first);
//! - the full text is sent (keyword removed), tables and doc strings are not;
//! - `wait for 'N' seconds`, and When steps `the 'x' process is killed / crashes / shutdown`
//!   are done here and never sent.
//!
//! A full orchestrator is a later issue; this one exists to test serves over the wire.

#![allow(dead_code)]

use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use cucumber::gherkin::{self, Feature};
use regex::Regex;
use serde_json::{json, Value};

use super::serve::Serve;

/// How a serve is started for a role.
#[derive(Debug, Clone)]
pub enum Platform {
    Rust,
    Python(PathBuf),
}

impl Platform {
    fn is_rust(&self) -> bool {
        matches!(self, Platform::Rust)
    }

    fn name(&self) -> &'static str {
        match self {
            Platform::Rust => "rust",
            Platform::Python(_) => "python",
        }
    }
}

/// One step as the orchestrator sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedStep {
    /// 0 Given, 1 When, 2 Then.
    pub step_type: u8,
    pub text: String,
    /// The explicit or inherited process; `None` means broadcast.
    pub process: Option<String>,
}

/// A scenario with its Background, routed.
#[derive(Debug, Clone)]
pub struct Plan {
    pub feature_id: u64,
    pub name: String,
    pub steps: Vec<RoutedStep>,
    /// Roles in order of first appearance.
    pub roles: Vec<String>,
}

/// Rules 1–6 of harmony.md §3.2, tried in order at the start of the text.
pub fn extract_process(text: &str) -> Option<String> {
    // (pattern, whether the role is the lower-cased capture: rules 5 and 6)
    const RULES: [(&str, bool); 6] = [
        (r"(?i)^the '([^']+)' process\s", false),
        (r"(?i)^'(\w+)' process\s", false),
        (r"(?i)^the '(\w+)'\s", false),
        (r"(?i)^'(\w+)'\s", false),
        (r"(?i)^the (writer|reader) is '", true),
        (r"(?i)^two (reader|writer)s '[^']*' and '", true),
    ];
    RULES.iter().find_map(|(pattern, lower)| {
        let captures = Regex::new(pattern).expect("valid rule").captures(text)?;
        let name = captures[1].to_owned();
        Some(if *lower {
            name.to_ascii_lowercase()
        } else {
            name
        })
    })
}

fn route(steps: &[gherkin::Step]) -> Vec<RoutedStep> {
    let mut last_type = None;
    let mut last_process: Option<String> = None;
    steps
        .iter()
        .map(|step| {
            let step_type = match step.keyword.trim() {
                "Given" => 0,
                "When" => 1,
                "Then" => 2,
                _ => last_type.unwrap_or(0),
            };
            last_type = Some(step_type);
            let text = step.value.trim().to_owned();
            let process = match extract_process(&text) {
                Some(process) => {
                    last_process = Some(process.clone());
                    Some(process)
                }
                None => last_process.clone(),
            };
            RoutedStep {
                step_type,
                text,
                process,
            }
        })
        .collect()
}

/// The feature id: the integer before the first `-` of the file name.
fn feature_id(path: &Path) -> u64 {
    let name = path.file_name().unwrap().to_string_lossy();
    name.split('-')
        .next()
        .unwrap()
        .parse()
        .expect("NN-Name.feature")
}

/// Plans the scenario whose name starts with `Test <id> ` (e.g. `1.1`).
pub fn plan(feature_path: &Path, id: &str) -> Plan {
    let feature = Feature::parse_path(feature_path, Default::default())
        .unwrap_or_else(|e| panic!("{}: {e}", feature_path.display()));
    let prefix = format!("Test {id} ");
    let scenario = feature
        .scenarios
        .iter()
        .find(|s| s.name.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no scenario {prefix:?} in {}", feature_path.display()));
    let mut steps = feature
        .background
        .as_ref()
        .map(|b| route(&b.steps))
        .unwrap_or_default();
    steps.extend(route(&scenario.steps));
    let mut roles = Vec::new();
    for step in &steps {
        if let Some(p) = &step.process {
            if !roles.contains(p) {
                roles.push(p.clone());
            }
        }
    }
    Plan {
        feature_id: feature_id(feature_path),
        name: scenario.name.clone(),
        steps,
        roles,
    }
}

pub fn features_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../features")
}

/// The run id of one scenario run: this test process's pid as host pid, and a feature id
/// unique in this process (`<feature> * 1000 + n`), so scenario runs in parallel threads never
/// share buffer names.
pub fn unique_run(feature_id: u64) -> (u64, u64) {
    static RUNS: AtomicU64 = AtomicU64::new(1);
    (
        u64::from(std::process::id()),
        feature_id * 1000 + RUNS.fetch_add(1, Ordering::Relaxed),
    )
}

/// Options of a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Treat "the 'x' process is killed" as a crash (the `crash` RPC) instead of Harmony's
    /// teardown of that process.
    pub kill_by_crash: bool,
}

/// A special step of harmony.md §3.8.
enum Special {
    Wait(f64),
    Shutdown(String),
    Killed(String),
    Crashes(String),
}

fn special(step: &RoutedStep) -> Option<Special> {
    let wait = Regex::new(r"(?i)wait for '([^']+)' seconds").unwrap();
    if let Some(c) = wait.captures(&step.text) {
        return Some(Special::Wait(c[1].parse().expect("seconds")));
    }
    if step.step_type != 1 {
        return None;
    }
    let lifecycle =
        Regex::new(r"(?i)the '([^']+)' process (?:is )?(shutdown|killed|crashes)").unwrap();
    let c = lifecycle.captures(&step.text)?;
    let role = c[1].to_owned();
    Some(match c[2].to_ascii_lowercase().as_str() {
        "shutdown" => Special::Shutdown(role),
        "killed" => Special::Killed(role),
        _ => Special::Crashes(role),
    })
}

/// How long one step may take before the driver gives up on the serve.
const STEP_WAIT: Duration = Duration::from_secs(60);
const CALL_WAIT: Duration = Duration::from_secs(20);

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

struct Role {
    name: String,
    platform: Platform,
    serve: Serve,
    /// Killed or crashed by a step.
    dead: bool,
}

const SIGABRT: i32 = 6;

/// Harmony's teardown of one process; our serve must exit 0 on stdin EOF, without the kill.
fn check_teardown(role: &mut Role) -> Result<(), String> {
    let (status, killed) = role.serve.teardown();
    if role.platform.is_rust() && (killed || !status.success()) {
        return Err(format!(
            "{} did not exit cleanly on stdin EOF: {status:?}, killed: {killed}",
            role.serve.label
        ));
    }
    Ok(())
}

/// Runs `plan` with the platform of each role; returns the first failure as Harmony words
/// it. Every serve is torn down afterwards, and the run must leave no shared-memory object
/// or lock file with its run id behind.
pub fn run(
    plan: &Plan,
    platforms: &[(&str, Platform)],
    options: &RunOptions,
) -> Result<(), String> {
    let (host_pid, feature_id) = unique_run(plan.feature_id);
    let suffix = format!("_{host_pid}_{feature_id}");
    let env = [
        ("HARMONY_HOST_PID", host_pid.to_string()),
        ("HARMONY_FEATURE_ID", feature_id.to_string()),
    ];
    let mut roles = Vec::new();
    let outcome = (|| {
        for role in &plan.roles {
            let platform = platforms
                .iter()
                .find(|(r, _)| r == role)
                .map(|(_, p)| p.clone())
                .ok_or_else(|| format!("no platform for role '{role}'"))?;
            let label = format!("{}:{role}", platform.name());
            let mut serve = match &platform {
                Platform::Rust => Serve::rust(&label, &env, &[]),
                Platform::Python(python) => Serve::python(&label, python, &env),
            };
            let health = serve.result("health", json!([]), CALL_WAIT);
            if health != json!(true) {
                return Err(format!("Process {role} health check failed: {health}"));
            }
            let init = json!([{
                "Role": role, "Platform": platform.name(), "Scenario": "test",
                "HostPid": host_pid, "FeatureId": feature_id,
                "TestRunId": format!("{host_pid}_{feature_id}"),
            }]);
            serve.result("initialize", init, CALL_WAIT);
            roles.push(Role {
                name: role.clone(),
                platform,
                serve,
                dead: false,
            });
        }
        for step in &plan.steps {
            execute(&mut roles, step, options)?;
        }
        Ok(())
    })();
    let mut stderr = String::new();
    let mut outcome = outcome;
    for role in &mut roles {
        if !role.dead {
            if let Err(e) = check_teardown(role) {
                outcome = outcome.and(Err(e));
            }
        }
        stderr.push_str(&format!(
            "--- {} stderr ---\n{}",
            role.serve.label,
            role.serve.stderr()
        ));
    }
    let leftovers = leftovers(&suffix);
    match (outcome, leftovers.is_empty()) {
        (Ok(()), true) => Ok(()),
        (Ok(()), false) => Err(format!(
            "{}: left behind {leftovers:?}\n{stderr}",
            plan.name
        )),
        (Err(e), _) => Err(format!("{}: Scenario failed: {e}\n{stderr}", plan.name)),
    }
}

/// Shared-memory objects and lock files whose name carries `suffix`.
pub fn leftovers(suffix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["/dev/shm", "/tmp/zerobuffer", "/tmp/zerobuffer/locks"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.contains(&format!("{suffix}_"))
                    || name.contains(&format!("{suffix}."))
                    || name.ends_with(suffix)
                {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found
}

fn find<'a>(roles: &'a mut [Role], name: &str) -> Result<&'a mut Role, String> {
    roles
        .iter_mut()
        .find(|r| r.name == name)
        .ok_or_else(|| format!("no process '{name}'"))
}

fn execute(roles: &mut [Role], step: &RoutedStep, options: &RunOptions) -> Result<(), String> {
    match special(step) {
        Some(Special::Wait(seconds)) => {
            thread::sleep(Duration::from_secs_f64(seconds));
            return Ok(());
        }
        Some(Special::Shutdown(role)) => {
            let role = find(roles, &role)?;
            role.serve.result("shutdown", json!([]), CALL_WAIT);
            thread::sleep(Duration::from_secs(1));
            return Ok(());
        }
        Some(Special::Killed(name)) if !options.kill_by_crash => {
            let role = find(roles, &name)?;
            check_teardown(role)?;
            role.dead = true;
            return Ok(());
        }
        Some(Special::Killed(name) | Special::Crashes(name)) => {
            let role = find(roles, &name)?;
            let token = json!([{"IsCancellationRequested": false, "CanBeCanceled": false}]);
            let reply = role.serve.call("crash", token, CALL_WAIT);
            if reply.get("result") != Some(&Value::Null) {
                return Err(format!("crash of '{name}' answered {reply}"));
            }
            thread::sleep(Duration::from_millis(500));
            match role.serve.wait_exit(Duration::from_millis(500)) {
                Some(status) if status.signal() == Some(SIGABRT) || !role.platform.is_rust() => {}
                other => return Err(format!("'{name}' did not abort after crash: {other:?}")),
            }
            role.dead = true;
            role.serve.expect_stdout_end(Duration::from_secs(1));
            return Ok(());
        }
        None => {}
    }
    let targets: Vec<(usize, bool)> = match &step.process {
        Some(process) => {
            let index = roles
                .iter()
                .position(|r| &r.name == process)
                .ok_or_else(|| format!("no process '{process}'"))?;
            vec![(index, false)]
        }
        None => (0..roles.len()).map(|i| (i, true)).collect(),
    };
    // Broadcasts go out concurrently: every request first, then every answer.
    let mut ids = Vec::new();
    for &(index, broadcast) in &targets {
        let role = &mut roles[index];
        let params = json!([{
            "Process": role.name, "StepType": step.step_type, "Step": step.text,
            "Parameters": {}, "Context": {}, "IsBroadcast": broadcast,
        }]);
        ids.push((index, role.serve.request("executeStep", params)));
    }
    let mut errors = Vec::new();
    for (index, id) in ids {
        let role = &mut roles[index];
        let message = role.serve.response(&json!(id), STEP_WAIT);
        let Some(result) = message.get("result") else {
            errors.push(format!("{}: {message}", role.name));
            continue;
        };
        let strict = matches!(role.platform, Platform::Rust);
        check_step_response(result, strict).map_err(|e| format!("{}: {e}", role.name))?;
        let get = |name: &str| {
            result
                .as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null)
        };
        if get("success") != json!(true) {
            errors.push(format!(
                "{} [{}] {:?}: {} (logs: {})",
                role.name,
                role.platform.name(),
                step.text,
                get("error"),
                get("logs")
            ));
        }
    }
    match (errors.len(), targets.len()) {
        (0, _) => Ok(()),
        (_, 1) => Err(format!("Execution failed: {}", errors.join(", "))),
        _ => Err(format!("Broadcast failed on: {}", errors.join(", "))),
    }
}
