//! The local runner: every scenario of `features/` in this one process.
//!
//! ```text
//! cargo test -p zerobuffer-steps --test bdd -- [FILTER] [--features DIR] [-v]
//! ```
//! FILTER selects scenarios by id: `1.1` is exactly Test 1.1 (not 1.10), `13.*` the group,
//! `1.1,4.2` a list. Scenarios run one at a time: steps block on semaphores, and cucumber-rs
//! polls every scenario on one task, so concurrency would only interleave waits; unique buffer
//! names (see `naming.rs`) keep even concurrent runs of the suite apart. Scenarios tagged for
//! another platform or needing what a test host does not have are reported as skipped with
//! their reason. Writes JUnit XML to `target/bdd/junit.xml`, Cucumber JSON to
//! `target/bdd/cucumber.json` (for any Cucumber report viewer), and ends with the plain line
//! `N passed, N failed, N skipped`.

mod outcomes;
mod verdicts;

use std::path::PathBuf;
use std::process::ExitCode;

use cucumber::gherkin::{Feature, Scenario};
use cucumber::writer::Stats as _;
use cucumber::{writer, World as _, WriterExt as _};
use harmony_wire::{selection, Filter};
use zerobuffer_steps::alloc_counter::CountingAllocator;
use zerobuffer_steps::ZbWorld;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

struct Options {
    filter: Filter,
    features: PathBuf,
    /// Known failures (harmony's format, combination `in-process`); none by default.
    expected_failures: Option<PathBuf>,
    verbose: bool,
}

fn parse_args() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = Options {
        filter: Filter::default(),
        features: root.join("features"),
        expected_failures: None,
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--features" => {
                let dir = args.next().ok_or("--features needs a directory")?;
                options.features = PathBuf::from(dir);
            }
            "--expected-failures" => {
                let file = args.next().ok_or("--expected-failures needs a file")?;
                options.expected_failures = Some(PathBuf::from(file));
            }
            "-v" | "--verbose" => options.verbose = true,
            // Flags cargo's test harness protocol may pass; they mean nothing here.
            "--nocapture" | "--quiet" | "-q" | "--test-threads" | "--color" => {}
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => options.filter = other.parse()?,
        }
    }
    Ok(options)
}

fn skip_reason(feature: &Feature, scenario: &Scenario) -> Option<&'static str> {
    let tags = feature.tags.iter().chain(scenario.tags.iter());
    selection::skip_reason(tags.map(String::as_str))
}

/// Scenarios the filter selects but this host cannot run, found before the run.
fn skipped_scenarios(options: &Options) -> Result<Vec<(String, &'static str)>, String> {
    let mut skipped = Vec::new();
    let entries = std::fs::read_dir(&options.features)
        .map_err(|e| format!("cannot read {}: {e}", options.features.display()))?;
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "feature"))
        .collect();
    paths.sort();
    for path in paths {
        let feature = Feature::parse_path(&path, Default::default())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for scenario in &feature.scenarios {
            if options.filter.selects(&scenario.name) {
                if let Some(reason) = skip_reason(&feature, scenario) {
                    skipped.push((scenario.name.clone(), reason));
                }
            }
        }
    }
    Ok(skipped)
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bdd: {e}");
            return ExitCode::from(2);
        }
    };
    let level = if options.verbose { "debug" } else { "warn" };
    tracing_subscriber_init(level);
    let skipped = match skipped_scenarios(&options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("bdd: {e}");
            return ExitCode::from(2);
        }
    };
    let expected = match &options.expected_failures {
        None => Vec::new(),
        Some(path) => match harmony::expected::load(path) {
            Ok(list) => list,
            Err(e) => {
                eprintln!("bdd: {e:#}");
                return ExitCode::from(2);
            }
        },
    };
    let routed = match harmony::features::load_dir(&options.features) {
        Ok(routed) => routed,
        Err(e) => {
            eprintln!("bdd: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let report = runtime.block_on(run(&options));
    let outcomes = outcomes::load(&report.json, &routed);
    put_in_place(&report.json, &report.json.with_file_name("cucumber.json"));
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("bdd: {e}");
            return ExitCode::from(2);
        }
    };
    let tally = verdicts::judge(&outcomes, &expected);
    for line in &tally.lines {
        println!("{line}");
    }
    // Parse errors have no scenario of their own; count them as failures.
    let (passed, failed) = (tally.passed, tally.failed + report.parsing_errors);
    let ran_none = outcomes.is_empty();
    for (name, reason) in &skipped {
        println!("SKIPPED {name}: {reason}");
    }
    if ran_none && skipped.is_empty() {
        println!("no scenario matches {:?}", options.filter.to_string());
        println!("0 passed, 1 failed, 0 skipped");
        return ExitCode::FAILURE;
    }
    if tally.xfail + tally.xpass > 0 {
        println!(
            "({} expected failures, {} unexpected passes, counted as passed)",
            tally.xfail, tally.xpass
        );
    }
    println!(
        "{passed} passed, {failed} failed, {} skipped",
        skipped.len()
    );
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Where a run's reports are, and what has no scenario of its own.
struct Report {
    json: PathBuf,
    parsing_errors: usize,
}

async fn run(options: &Options) -> Report {
    let junit_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bdd");
    std::fs::create_dir_all(&junit_dir).expect("create target/bdd");
    // Written under names of this run's own (see `put_in_place`); the verdicts come from
    // the Cucumber JSON report.
    let own_report = junit_dir.join(format!("junit-{}.xml", std::process::id()));
    let junit = std::fs::File::create(&own_report).expect("create the JUnit report");
    let own_json = junit_dir.join(format!("cucumber-{}.json", std::process::id()));
    let json = std::fs::File::create(&own_json).expect("create the Cucumber JSON report");
    let filter = options.filter.clone();
    let result = ZbWorld::cucumber()
        .max_concurrent_scenarios(1)
        .fail_on_skipped()
        .after(|_feature, _rule, _scenario, _finished, world| {
            Box::pin(async move {
                if let Some(world) = world {
                    if let Err(e) = world.finish() {
                        panic!("end of scenario: {e:#}");
                    }
                }
            })
        })
        .with_writer(
            writer::Basic::stdout()
                .summarized()
                .tee::<ZbWorld, _>(writer::JUnit::for_tee(junit, 0))
                .tee::<ZbWorld, _>(writer::Json::for_tee(json))
                .normalized(),
        )
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .filter_run(&options.features, move |feature, _rule, scenario| {
            filter.selects(&scenario.name) && skip_reason(feature, scenario).is_none()
        })
        .await;
    put_in_place(&own_report, &junit_dir.join("junit.xml"));
    Report {
        json: own_json,
        parsing_errors: result.parsing_errors(),
    }
}

/// Reports are written under a name of this run's own and renamed when done, so overlapping
/// runs of the suite cannot mix them.
fn put_in_place(own: &std::path::Path, place: &std::path::Path) {
    if let Err(e) = std::fs::rename(own, place) {
        eprintln!("bdd: cannot move {} into place: {e}", place.display());
    }
}

fn tracing_subscriber_init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
