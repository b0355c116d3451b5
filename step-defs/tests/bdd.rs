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
//! their reason. Writes JUnit XML to `target/bdd/junit.xml` and ends with the plain line
//! `N passed, N failed, N skipped`.

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
    verbose: bool,
}

fn parse_args() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = Options {
        filter: Filter::default(),
        features: root.join("features"),
        verbose: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--features" => {
                let dir = args.next().ok_or("--features needs a directory")?;
                options.features = PathBuf::from(dir);
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
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (passed, failed, ran_none) = runtime.block_on(run(&options));
    for (name, reason) in &skipped {
        println!("SKIPPED {name}: {reason}");
    }
    if ran_none && skipped.is_empty() {
        println!("no scenario matches {:?}", options.filter.to_string());
        println!("0 passed, 1 failed, 0 skipped");
        return ExitCode::FAILURE;
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

async fn run(options: &Options) -> (usize, usize, bool) {
    let junit_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bdd");
    std::fs::create_dir_all(&junit_dir).expect("create target/bdd");
    // Written under a name of our own and renamed at the end, so overlapping runs of the
    // suite cannot mix their reports (the counts below come from this file).
    let own_report = junit_dir.join(format!("junit-{}.xml", std::process::id()));
    let junit = std::fs::File::create(&own_report).expect("create the JUnit report");
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
                .normalized(),
        )
        .with_cli(cucumber::cli::Opts::<_, _, _, cucumber::cli::Empty>::default())
        .filter_run(&options.features, move |feature, _rule, scenario| {
            filter.selects(&scenario.name) && skip_reason(feature, scenario).is_none()
        })
        .await;
    let (total, passed) = count_junit_cases(&own_report);
    if let Err(e) = std::fs::rename(&own_report, junit_dir.join("junit.xml")) {
        eprintln!("bdd: cannot move the JUnit report into place: {e}");
    }
    // Parse and hook errors have no test case of their own; count them as failures.
    let failed = total - passed + result.parsing_errors() + result.hook_errors();
    (passed, failed, total == 0)
}

/// Scenarios in the JUnit report, and how many of them passed (no failure, error or skip).
fn count_junit_cases(path: &std::path::Path) -> (usize, usize) {
    let xml = std::fs::read_to_string(path).unwrap_or_default();
    let mut total = 0;
    let mut passed = 0;
    for case in xml.split("<testcase").skip(1) {
        let body = case.split("</testcase>").next().unwrap_or(case);
        total += 1;
        if !["<failure", "<error", "<skipped"]
            .iter()
            .any(|t| body.contains(t))
        {
            passed += 1;
        }
    }
    (total, passed)
}

fn tracing_subscriber_init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
