//! The local runner: every scenario of `features/` in this one process.
//!
//! ```text
//! cargo test -p zerobuffer-steps --test bdd -- [FILTER] [--features DIR] [--dry-run] [-v]
//! ```
//! FILTER selects scenarios by id: `1.1` is exactly Test 1.1 (not 1.10), `13.*` the group,
//! `1.1,4.2` a list (all options: [`options::HELP`], `-- --help`). Scenarios run one at a
//! time: steps block on semaphores, and cucumber-rs polls every scenario on one task, so
//! concurrency would only interleave waits; unique buffer names (see `naming.rs`) keep even
//! concurrent runs of the suite apart. Scenarios tagged for another platform or needing what
//! a test host does not have are reported as skipped with their reason. A scenario with a
//! step no binding matches is UNDEFINED: it does not run and counts as failed, and each
//! distinct undefined step is listed once with the nearest lines of the vocabulary
//! (harmony-wire's `undefined`, as harmony lists them). `--dry-run` decides that for every
//! selected scenario and runs none. Writes JUnit XML to `target/bdd/junit.xml` (undefined
//! scenarios included), Cucumber JSON to `target/bdd/cucumber.json` (for any Cucumber report
//! viewer), the results page to `target/bdd/index.html` (harmony's page, one column
//! `in-process`; see `page`), and ends with the plain line `N passed, N failed, N skipped`.

mod junit;
mod options;
mod outcomes;
mod page;
mod scan;
mod undefined;
mod verdicts;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use cucumber::writer::Stats as _;
use cucumber::{writer, World as _, WriterExt as _};
use harmony_wire::Vocabulary;
use zerobuffer_steps::alloc_counter::CountingAllocator;
use zerobuffer_steps::ZbWorld;

use options::Options;
use scan::{Planned, Verdict};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Prints `bdd: <error>` and gives the usage-error status.
fn usage(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("bdd: {error}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let options = match options::parse_args() {
        Ok(o) => o,
        Err(e) => return usage(e),
    };
    if options.help {
        print!("{}", options::HELP);
        return ExitCode::SUCCESS;
    }
    let level = if options.verbose { "debug" } else { "warn" };
    tracing_subscriber_init(level);
    let planned = match scan::scan(&options.features, &options.filter) {
        Ok(planned) => planned,
        Err(e) => return usage(e),
    };
    // Routed as harmony routes them: the roles of failing steps, and the features checked.
    let routed = match harmony::features::load_dir(&options.features) {
        Ok(routed) => routed,
        Err(e) => return usage(format!("{e:#}")),
    };
    if planned.is_empty() {
        println!("no scenario matches {:?}", options.filter.to_string());
        println!("0 passed, 1 failed, 0 skipped");
        return ExitCode::FAILURE;
    }
    let vocabulary = Vocabulary::ours();
    if options.dry_run {
        return undefined::dry_run(&planned, vocabulary);
    }
    let expected = match &options.expected_failures {
        None => Vec::new(),
        Some(path) => match harmony::expected::load(path) {
            Ok(list) => list,
            Err(e) => return usage(format!("{e:#}")),
        },
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let left_out = scan::undefined_keys(&planned);
    let report = runtime.block_on(run(&options, left_out));
    junit::add_undefined(&report.junit, &planned, vocabulary);
    put_in_place(&report.junit, &options.out_dir.join("junit.xml"));
    let outcomes = outcomes::load(&report.json, &routed);
    put_in_place(&report.json, &options.out_dir.join("cucumber.json"));
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => return usage(e),
    };
    let tally = verdicts::judge(&outcomes, &expected);
    let records = page::records(&planned, &outcomes, &expected, &routed, vocabulary);
    page::write(&options.out_dir.join("index.html"), &records);
    for line in &tally.lines {
        println!("{line}");
    }
    let skipped: Vec<&Planned> = planned
        .iter()
        .filter(|p| matches!(p.verdict, Verdict::Skip(_)))
        .collect();
    for p in &skipped {
        if let Verdict::Skip(reason) = p.verdict {
            println!("SKIPPED {}: {reason}", p.name);
        }
    }
    for p in &planned {
        for line in undefined::lines(p) {
            println!("{line}");
        }
    }
    if tally.xfail + tally.xpass > 0 {
        println!(
            "({} expected failures, {} unexpected passes, counted as passed)",
            tally.xfail, tally.xpass
        );
    }
    let undefined = undefined::collect(&planned, vocabulary);
    undefined::print_report(&undefined, vocabulary);
    // Parse errors have no scenario of their own; count them as failures, and so the
    // undefined scenarios.
    let passed = tally.passed;
    let failed = tally.failed + report.parsing_errors + undefined.scenarios();
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

/// Where a run's reports are (under names of this run's own), and what has no scenario of
/// its own.
struct Report {
    junit: PathBuf,
    json: PathBuf,
    parsing_errors: usize,
}

/// Runs the selected scenarios but those skipped by a tag and the undefined ones (`left_out`).
async fn run(options: &Options, left_out: HashSet<scan::Key>) -> Report {
    let dir = &options.out_dir;
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    // Written under names of this run's own (see `put_in_place`); the verdicts come from
    // the Cucumber JSON report.
    let own_report = dir.join(format!("junit-{}.xml", std::process::id()));
    let junit = std::fs::File::create(&own_report).expect("create the JUnit report");
    let own_json = dir.join(format!("cucumber-{}.json", std::process::id()));
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
            filter.selects(&scenario.name)
                && scan::skip_reason(feature, scenario).is_none()
                && !left_out.contains(&scan::key(feature, scenario))
        })
        .await;
    Report {
        junit: own_report,
        json: own_json,
        parsing_errors: result.parsing_errors(),
    }
}

/// Reports are written under a name of this run's own and renamed when done, so overlapping
/// runs of the suite cannot mix them.
fn put_in_place(own: &Path, place: &Path) {
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
