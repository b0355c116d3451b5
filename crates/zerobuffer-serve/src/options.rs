//! Command-line options. None is needed: Harmony starts a serve without arguments (its config
//! passes `""`, older documents pass `serve`), so unknown arguments are ignored with a warning.

use std::time::Duration;

/// Default per-step limit (harmony.md §6).
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(30);

pub const USAGE: &str = "\
zerobuffer-serve: executes ZeroBuffer suite steps for a Harmony orchestrator.
JSON-RPC 2.0 with Content-Length framing on stdin/stdout; logs on stderr (RUST_LOG).

Options:
  --step-timeout DURATION   limit of one step (default 30s); e.g. 30, 2.5, 500ms, 1m
  -h, --help                this text
Unknown arguments are ignored.";

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub step_timeout: Duration,
    pub help: bool,
    /// Arguments that were ignored.
    pub ignored: Vec<String>,
}

impl Options {
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
        let mut options = Options {
            step_timeout: DEFAULT_STEP_TIMEOUT,
            help: false,
            ignored: Vec::new(),
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            if let Some(value) = arg.strip_prefix("--step-timeout=") {
                options.step_timeout = parse_duration(value)?;
            } else if arg == "--step-timeout" {
                let value = args.next().ok_or("--step-timeout needs a duration")?;
                options.step_timeout = parse_duration(&value)?;
            } else if arg == "-h" || arg == "--help" {
                options.help = true;
            } else {
                options.ignored.push(arg);
            }
        }
        Ok(options)
    }
}

/// Seconds (`30`, `2.5`) or a duration with units (`500ms`, `1m 30s`); must be > 0.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 && seconds < 1e9 => {
            Duration::from_secs_f64(seconds)
        }
        Ok(_) => return Err(format!("step timeout {text:?} must be a positive duration")),
        Err(_) => humantime::parse_duration(text.trim())
            .map_err(|e| format!("step timeout {text:?} is not a duration: {e}"))?,
    };
    if duration.is_zero() {
        return Err(format!("step timeout {text:?} must be a positive duration"));
    }
    Ok(duration)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_ignored_arguments() {
        let o = parse(&["serve", "--unknown"]).unwrap();
        assert_eq!(o.step_timeout, DEFAULT_STEP_TIMEOUT);
        assert_eq!(o.ignored, ["serve", "--unknown"]);
    }

    #[test]
    fn step_timeouts() {
        assert_eq!(
            parse(&["--step-timeout", "2"]).unwrap().step_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(
            parse(&["--step-timeout=500ms"]).unwrap().step_timeout,
            Duration::from_millis(500)
        );
        assert_eq!(
            parse(&["--step-timeout", "1.5"]).unwrap().step_timeout,
            Duration::from_millis(1500)
        );
        for bad in ["0", "-1", "abc", "0s"] {
            assert!(parse(&["--step-timeout", bad]).is_err(), "{bad}");
        }
        assert!(parse(&["--step-timeout"]).is_err());
    }
}
