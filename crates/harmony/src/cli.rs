//! Command line: what to run, where the configuration is, where reports go.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Parser;

use harmony::config::Config;
use harmony::scenario::RunOptions;
use harmony_wire::Filter;

use crate::{chaos, dry_run, execute, plan};

#[derive(Debug, Parser)]
#[command(
    name = "harmony",
    version,
    about = "Runs the ZeroBuffer suite across serve processes of any language"
)]
pub struct Args {
    /// Combinations: PLATFORM (both roles), PLATFORM_PLATFORM (reader/client first, in
    /// sorted role order), or `all` (every available combination).
    #[arg(default_value = "all")]
    pub combinations: Vec<String>,
    /// Scenarios: `1.1` (exactly), `13.*` (a group), or a comma-separated list.
    #[arg(long, short, default_value = "")]
    pub filter: Filter,
    /// List the selected scenarios with their role → platform assignment; run nothing.
    #[arg(long)]
    pub list: bool,
    /// Parse and route every selected scenario and list its undefined steps (no line of our
    /// vocabulary matches them) with the nearest lines; start nothing, write no report. The
    /// closing line counts as passed the scenarios whose every step is defined, as failed
    /// those with an undefined step, as skipped those their tags skip; exit 1 if any is
    /// undefined.
    #[arg(long)]
    pub dry_run: bool,
    /// Scenario runs at the same time (each has its own run id, so buffers never collide).
    #[arg(short = 'j', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// The configuration, in Harmony's format.
    #[arg(long, default_value = "harmony-config.json")]
    pub config: PathBuf,
    /// The directory of feature files (default: the config's `featuresPath`), e.g. the
    /// family's shared suite as upstream has it.
    #[arg(long)]
    pub features: Option<PathBuf>,
    /// Known failures (default: conformance/expected-failures.toml beside the config, if
    /// present; none with --features, whose suite is not the one that list is about).
    #[arg(long)]
    pub expected_failures: Option<PathBuf>,
    /// Directory of the reports: junit.xml, results.json, matrix.md, index.html (the results
    /// page).
    #[arg(long, default_value = "target/harmony")]
    pub out_dir: PathBuf,
    /// An earlier run's results.json: the results page marks the cells that changed since
    /// (new failure, new pass). A missing or malformed file is an error.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// A kill storm (see `chaos`): `--chaos-runs` runs of the selected scenarios picked at
    /// random from SEED, each with a SIGKILL of a random role before a random step; then
    /// every selected scenario once more. Counts hangs, processes left and leaks; writes no
    /// report.
    #[arg(long, value_name = "SEED")]
    pub chaos: Option<u64>,
    /// How many runs the kill storm makes.
    #[arg(long, default_value_t = 300, requires = "chaos")]
    pub chaos_runs: usize,
    /// Per-step limit in milliseconds (default: the config's defaultTimeoutMs).
    #[arg(long)]
    pub step_timeout_ms: Option<u64>,
    /// Harmony's strict behaviour: a step routed to a role the scenario killed or crashed
    /// fails, instead of going to a fresh process for that role (which Test 2.3 needs).
    #[arg(long)]
    pub no_restart: bool,
    /// Step logs and serve stderr on this terminal.
    #[arg(short, long)]
    pub verbose: bool,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let config = Config::load(&args.config, |v| std::env::var(v).ok())?;
    let features = args.features.as_ref().unwrap_or(&config.features_path);
    let scenarios = harmony::features::load_dir(features)?;
    let plan = match plan::plan(&config, &args.combinations, &args.filter, &scenarios) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("harmony: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    if args.list {
        for item in &plan {
            println!("{}", item.describe());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if plan.is_empty() {
        eprintln!("harmony: no scenario matches '{}'", args.filter);
        return Ok(ExitCode::from(2));
    }
    if args.dry_run {
        return Ok(dry_run::run(&plan));
    }
    let base = args.config.parent().map(PathBuf::from).unwrap_or_default();
    // The default list may be absent (no known failures); a list named on the command line
    // must exist.
    let expected = match &args.expected_failures {
        Some(path) => harmony::expected::load(path)?,
        None if args.features.is_some() => Vec::new(),
        None => {
            let path = base.join("conformance/expected-failures.toml");
            if path.exists() {
                harmony::expected::load(&path)?
            } else {
                Vec::new()
            }
        }
    };
    let baseline = args
        .baseline
        .as_deref()
        .map(harmony::page::Baseline::load)
        .transpose()?;
    if let Err(message) = plan::startable(&plan) {
        eprintln!("harmony: {message}");
        return Ok(ExitCode::from(2));
    }
    let options = RunOptions {
        step_timeout: Duration::from_millis(
            args.step_timeout_ms.unwrap_or(config.default_timeout_ms),
        ),
        init_delay: Duration::from_millis(config.process_initialization_delay_ms),
        stderr_lines: if args.verbose { 200 } else { 20 },
        restart_ended: !args.no_restart,
        ..RunOptions::default()
    };
    if let Some(seed) = args.chaos {
        let jobs = usize::from(args.jobs);
        let runs = args.chaos_runs;
        return Ok(chaos::run(
            &plan,
            &expected,
            &options,
            seed,
            runs,
            jobs,
            args.verbose,
        ));
    }
    let outcome = execute::execute(
        &plan,
        &expected,
        &options,
        usize::from(args.jobs),
        args.verbose,
    );
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    let write = |name: &str, text: String| -> Result<()> {
        let path = args.out_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
    };
    write(
        "junit.xml",
        harmony::report::junit(&outcome.records, outcome.elapsed),
    )?;
    write("results.json", harmony::report::json(&outcome.records))?;
    write("matrix.md", harmony::report::markdown(&outcome.records))?;
    let title = format!("harmony {}", args.combinations.join(" "));
    let page = harmony::page::Page {
        title: &title,
        records: &outcome.records,
        baseline: baseline.as_ref(),
    };
    write("index.html", harmony::page::render(&page))?;
    for (combination, text) in
        harmony::cucumber_json::by_combination(&plan::with_scenarios(&plan, &outcome.records))
    {
        write(&format!("cucumber-{combination}.json"), text)?;
    }
    println!();
    print!("{}", harmony::report::table(&outcome.records));
    println!(
        "reports: {}/{{junit.xml,results.json,matrix.md,index.html,cucumber-<combination>.json}}",
        args.out_dir.display()
    );
    let vocabulary = harmony_wire::Vocabulary::ours();
    let undefined = harmony::undefined::collect(&outcome.records, vocabulary);
    print!("{}", undefined.report(vocabulary));
    if let Some(count) = undefined.count_line() {
        println!("{count}");
    }
    println!("{}", harmony::report::summary_line(&outcome.records));
    Ok(if outcome.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
