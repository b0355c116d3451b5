//! The runner's command line.

use std::path::PathBuf;

use harmony_wire::Filter;

/// What `--help` prints.
pub const HELP: &str = "\
The in-process runner of the shared Gherkin suite.

usage: cargo test -p zerobuffer-steps --test bdd -- [FILTER] [OPTIONS]

  FILTER                  1.1 (exactly Test 1.1), 13.* (a group), 1.1,4.2 (a list)
  --features DIR          feature files to run (default: features/)
  --expected-failures F   known failures (harmony's format, combination \"in-process\")
  --out-dir DIR           where junit.xml and cucumber.json go (default: target/bdd)
  --dry-run               parse and route every selected scenario, list its undefined
                          steps with the nearest lines of the vocabulary; run nothing
  -v, --verbose           the steps' logs (tracing at debug level, on stderr)
  -h, --help              this text

A step no binding matches (by its Given/When/Then kind, as cucumber-rs looks it up) is
undefined: its scenario is UNDEFINED, does not run, and counts as failed. Each distinct
undefined step is listed once, with the nearest lines of the vocabulary, before the line
'N scenarios undefined (M distinct steps; see above)' and the closing line
'N passed, N failed, N skipped'. Exit status 1 when a scenario failed or is undefined.

--dry-run ends with the same closing line: passed = scenarios whose every step is defined,
failed = scenarios with an undefined step, skipped = scenarios their tags skip.
";

pub struct Options {
    pub filter: Filter,
    pub features: PathBuf,
    /// Known failures (harmony's format, combination `in-process`); none by default.
    pub expected_failures: Option<PathBuf>,
    /// Where the reports go.
    pub out_dir: PathBuf,
    pub dry_run: bool,
    pub verbose: bool,
    pub help: bool,
}

pub fn parse_args() -> Result<Options, String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut options = Options {
        filter: Filter::default(),
        features: root.join("features"),
        expected_failures: None,
        out_dir: root.join("target/bdd"),
        dry_run: false,
        verbose: false,
        help: false,
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
            "--out-dir" => {
                let dir = args.next().ok_or("--out-dir needs a directory")?;
                options.out_dir = PathBuf::from(dir);
            }
            "--dry-run" => options.dry_run = true,
            "-v" | "--verbose" => options.verbose = true,
            "-h" | "--help" => options.help = true,
            // Flags cargo's test harness protocol may pass; they mean nothing here.
            "--nocapture" | "--quiet" | "-q" | "--test-threads" | "--color" => {}
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => options.filter = other.parse()?,
        }
    }
    Ok(options)
}
