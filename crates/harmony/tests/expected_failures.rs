//! Expected failures pin what fails: the `harmony` binary against `harmony-fake-serve` (a
//! serve that fails on purpose, `tests/support/fake_serve.rs`) on both platforms, with a
//! temporary config, feature file and expected-failures list. A listed scenario that fails
//! any other way than its entry says is FAIL ("failed differently"), never XFAIL. The last
//! test reads the results page of such a run, and its `--baseline`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Roles sorted: under `python_rust` the reader runs on python, the writer on rust.
const FEATURE: &str = "Feature: Fake
  Scenario: Test 1.1 - Two roles
    Given the test environment is initialized
    And the 'reader' process creates buffer 'fake' with default config
    And the 'writer' process connects to buffer 'fake'
    Then the 'reader' process should read frame with data 'x'
";

const ERROR: &str = "fake serve: failed on purpose";

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    /// `python` and `rust` are the fake serve with these `FAKE_SERVE_FAIL` rules; `features`
    /// is the temporary feature file unless given.
    fn new(python_fails: &str, rust_fails: &str, features: Option<&Path>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let features = match features {
            Some(path) => path.to_path_buf(),
            None => {
                let path = dir.path().join("features");
                std::fs::create_dir(&path).unwrap();
                std::fs::write(path.join("01-Fake.feature"), FEATURE).unwrap();
                path
            }
        };
        let serve = env!("CARGO_BIN_EXE_harmony-fake-serve");
        let platform = |fails: &str| {
            serde_json::json!({
                "executable": serve, "arguments": "",
                "environmentVariables": {"FAKE_SERVE_FAIL": fails},
            })
        };
        let config = serde_json::json!({
            "platforms": {"python": platform(python_fails), "rust": platform(rust_fails)},
            "featuresPath": features,
        });
        std::fs::write(dir.path().join("harmony-config.json"), config.to_string()).unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Runs `python_rust` on `scenario` with `expected` as the list.
    fn run(&self, scenario: &str, expected: &Path) -> Output {
        self.run_env(scenario, expected, &[])
    }

    /// The same, with extra environment for both serves.
    fn run_env(&self, scenario: &str, expected: &Path, env: &[(&str, &str)]) -> Output {
        self.command(scenario, expected)
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// The command [`Fixture::run`] runs, to add to.
    fn command(&self, scenario: &str, expected: &Path) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_harmony"));
        command
            .current_dir(self.dir.path())
            .env_remove("ZEROBUFFER_SERVE_PYTHON")
            .env_remove("ZEROBUFFER_SERVE_RUST")
            .arg("python_rust")
            .args(["--filter", scenario])
            .arg("--config")
            .arg(self.path("harmony-config.json"))
            .arg("--expected-failures")
            .arg(expected)
            .arg("--out-dir")
            .arg(self.path("out"));
        command
    }

    /// Writes `entries` as the list and runs Test 1.1.
    fn run_with(&self, entries: &str) -> Output {
        let list = self.path("expected-failures.toml");
        std::fs::write(&list, entries).unwrap();
        self.run("1.1", &list)
    }

    fn report(&self, name: &str) -> String {
        std::fs::read_to_string(self.path("out").join(name)).unwrap()
    }
}

fn entry(role: &str, platform: &str, step: &str) -> String {
    format!(
        "[[failure]]\ncombination = \"python_rust\"\nscenario = \"1.1\"\nplatform = \"{platform}\"\n\
         role = \"{role}\"\nstep = \"{step}\"\nerror = \"on purpose\"\nreason = \"a peer defect\"\n"
    )
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A FAIL saying it failed differently, in the output and in every report.
fn assert_failed_differently(fixture: &Fixture, out: &Output, actual: &str) {
    let all = text(out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL  python/rust | Test 1.1"), "{all}");
    assert!(
        stdout.contains("failed differently than expected: expected "),
        "{all}"
    );
    assert!(stdout.contains(actual), "{actual} in {all}");
    for report in ["junit.xml", "results.json", "matrix.md"] {
        let report = fixture.report(report);
        assert!(
            report.contains("failed differently than expected"),
            "{report}"
        );
    }
}

#[test]
fn a_listed_scenario_failing_at_another_step_fails_differently() {
    let fixture = Fixture::new("creates buffer", "none", None);
    let out = fixture.run_with(&entry("reader", "python", "should read frame"));
    assert_failed_differently(
        &fixture,
        &out,
        "actual reader on python, step \"the 'reader' process creates buffer 'fake' with default config\"",
    );
}

#[test]
fn a_listed_step_failing_in_another_role_and_platform_fails_differently() {
    // The first step is a broadcast: only the writer (rust) fails it.
    let fixture = Fixture::new("none", "environment", None);
    let out = fixture.run_with(&entry("reader", "python", "environment is initialized"));
    let actual = format!(
        "actual writer on rust, step \"the test environment is initialized\", error \"{ERROR}\""
    );
    assert_failed_differently(&fixture, &out, &actual);
    let results: serde_json::Value = serde_json::from_str(&fixture.report("results.json")).unwrap();
    assert_eq!(
        results["results"][0]["failure"],
        serde_json::json!({
            "step": "the test environment is initialized",
            "index": 0,
            "roles": [{"role": "writer", "platform": "rust", "error": ERROR}],
        })
    );
}

#[test]
fn failing_exactly_as_listed_is_xfail() {
    let fixture = Fixture::new("should read frame", "none", None);
    let out = fixture.run_with(&entry("reader", "python", "should read frame"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(0), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("XFAIL python/rust | Test 1.1 - Two roles"),
        "{all}"
    );
    assert!(fixture.report("results.json").contains("\"xfail\": 1"));
}

#[test]
fn an_intermittent_entry_is_pinned_too() {
    let flaky = entry("reader", "python", "should read frame") + "intermittent = true\n";
    let fixture = Fixture::new("creates buffer", "none", None);
    assert_failed_differently(
        &fixture,
        &fixture.run_with(&flaky),
        "actual reader on python",
    );
    let fixture = Fixture::new("none", "none", None);
    let out = fixture.run_with(&flaky);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("PASS  python/rust | Test 1.1"));
}

#[test]
fn the_loader_refuses_an_entry_without_step_naming_its_line() {
    let fixture = Fixture::new("none", "none", None);
    let good = entry("reader", "python", "should read frame");
    let bad = good.replace("step = \"should read frame\"\n", "");
    let out = fixture.run_with(&format!("# known failures\n\n{good}\n{bad}"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("entry 2 (line 12): missing field `step`"),
        "{all}"
    );
    assert!(out.stdout.is_empty(), "nothing runs: {all}");
}

/// The regression this guards against: our serve failing every step of a scenario the real
/// list expects to fail because of the Python peer.
#[test]
fn our_serve_failing_every_step_is_never_excused_by_the_real_list() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let fixture = Fixture::new("none", "all", Some(&root.join("features")));
    let out = fixture.run("3.1", &root.join("conformance/expected-failures.toml"));
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("failed differently than expected"),
        "{all}"
    );
}

#[test]
fn a_failure_that_shows_only_at_the_end_fails_the_scenario() {
    let fixture = Fixture::new("none", "none", None);
    let list = fixture.path("expected-failures.toml");
    std::fs::write(&list, "").unwrap();
    let why = "background work failed: 'writer': job died";
    let out = fixture.run_env("1.1", &list, &[("FAKE_SERVE_CLEANUP_ERROR", why)]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("ended with errors") && all.contains(why),
        "{all}"
    );
    // Without the error the same run passes: the steps themselves are fine.
    let out = fixture.run("1.1", &list);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// A scenario with a step our vocabulary lacks is UNDEFINED before any process starts, in
/// the output and every report, and no entry excuses it; the defined ones still run.
#[test]
fn an_undefined_scenario_runs_nothing_and_no_entry_excuses_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let features = root.join("step-defs/tests/fixtures/other-vocabulary");
    let fixture = Fixture::new("none", "none", Some(&features));
    let list = fixture.path("expected-failures.toml");
    std::fs::write(&list, entry("reader", "python", "should receive frame")).unwrap();
    let out = fixture.run("", &list);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for line in [
        "UNDEFINED python/rust | Test 1.1 - Write and read one frame, older words",
        "      undefined step: \"the 'writer' process writes a frame of size '1024' with sequence '1'\"",
        "PASS  python/rust | Test 1.2 - Every step in today's vocabulary",
        "PASS  python/rust | Test 3.2 - Zero-copy in today's vocabulary",
        // One role: not a two-platform scenario, so skipped before anything is judged.
        "SKIP  python/rust | Test 2.2 - A step nobody ever wrote",
    ] {
        assert!(stdout.lines().any(|l| l.starts_with(line)), "{line:?} in {all}");
    }
    let tail: Vec<&str> = stdout.lines().rev().take(2).collect();
    assert_eq!(
        tail,
        [
            "2 passed, 3 failed, 2 skipped",
            "3 scenarios undefined (6 distinct steps; see above)"
        ],
        "{all}"
    );
    // Each distinct step once in the list before the closing lines, with its nearest line.
    let block = &stdout[stdout.find("undefined steps (6 distinct").expect(&all)..];
    let receive = "\"the 'reader' process should receive frame with sequence '1' and size '1024'\"";
    assert_eq!(block.matches(receive).count(), 1, "{block}");
    assert!(block.contains("nearest:  94% (0.7 word edits)  Then the 'reader' process should read frame with sequence '1' and size '1024'"), "{block}");
    let results: serde_json::Value = serde_json::from_str(&fixture.report("results.json")).unwrap();
    assert_eq!(
        (results["failed"].as_u64(), results["undefined"].as_u64()),
        (Some(3), Some(3))
    );
    let first = &results["results"][0];
    assert_eq!(first["status"], "undefined");
    assert_eq!(first["seconds"], 0.0, "nothing ran");
    assert_eq!(
        first["undefined"][1]["nearest"][0]["text"],
        "the 'reader' process should read frame with sequence '1' and size '1024'"
    );
    assert!(fixture
        .report("junit.xml")
        .contains("<failure type=\"undefined\""));
    assert!(fixture.report("matrix.md").contains("**UNDEFINED**"));
}

/// The results page and results.json of a real run carry what the failing serve printed
/// (stderr tail, step logs), and `--baseline` marks a cell that passed before as a new
/// failure; a baseline that is missing or not a results.json stops harmony before it runs.
#[test]
fn the_results_page_shows_stderr_logs_and_what_changed_since_the_baseline() {
    let fixture = Fixture::new("should read frame", "none", None);
    let baseline = fixture.path("baseline.json");
    std::fs::write(
        &baseline,
        r#"{"results": [{"combination": "python_rust", "scenario": "Test 1.1 - Two roles", "status": "pass"}]}"#,
    )
    .unwrap();
    let out = fixture
        .command("1.1", Path::new("/dev/null"))
        .arg("--baseline")
        .arg(&baseline)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("matrix.md,index.html,"), "{all}");
    let page = fixture.report("index.html");
    for expected in [
        "<td class=\"cell st-fail new-failure\"",
        "<td class=\"role\">reader</td><td class=\"platform\">python</td>",
        "fake serve: failed on purpose",
        "reader on python: stderr (last lines)",
        "process should read frame with data &apos;x&apos;&quot; -&gt; fail",
        "reader on python: step logs",
        "  [Error] fake serve: failing",
    ] {
        assert!(page.contains(expected), "{expected:?} in {page}");
    }
    let json: serde_json::Value = serde_json::from_str(&fixture.report("results.json")).unwrap();
    let output = &json["results"][0]["output"];
    let reader = output
        .as_array()
        .and_then(|o| o.iter().find(|o| o["role"] == "reader"))
        .unwrap_or_else(|| panic!("{output}"));
    assert_eq!(reader["platform"], "python");
    assert!(
        reader["stderr_tail"].as_str().unwrap().ends_with("-> fail"),
        "{reader}"
    );
    assert_eq!(reader["logs"].as_array().map(Vec::len), Some(6), "{reader}");

    for (content, says) in [
        (None, "cannot read the baseline"),
        (Some("{\"results\": 1}"), "is not a harmony results.json"),
    ] {
        let path = fixture.path("bad-baseline.json");
        let _ = std::fs::remove_file(&path);
        if let Some(content) = content {
            std::fs::write(&path, content).unwrap();
        }
        let out = fixture
            .command("1.1", Path::new("/dev/null"))
            .arg("--baseline")
            .arg(&path)
            .output()
            .unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{all}");
        assert!(
            all.contains(says) && all.contains("bad-baseline.json"),
            "{all}"
        );
        assert!(out.stdout.is_empty(), "nothing runs: {all}");
    }
}
