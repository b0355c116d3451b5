//! Finding the Python peer: the venv's interpreter (`.venv/bin/python` at the workspace root,
//! made by `scripts/install-peers.sh`), its `zerobuffer` module and this bench's `peer.py`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::{BoxResult, TIMEOUT};

/// Prints the installed version; fails if the module does not import.
const PROBE: &str =
    "import zerobuffer, importlib.metadata as m; print(m.version('zerobuffer-ipc'))";

/// What starts a Python endpoint.
pub struct PythonPeer {
    pub python: PathBuf,
    pub script: PathBuf,
    /// The installed `zerobuffer-ipc` version, for the header line.
    pub version: String,
}

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// `Ok(Err(why))` when the peer is not installed: the bench is then skipped, not failed.
pub fn find() -> BoxResult<Result<PythonPeer, String>> {
    let python = workspace_root().join(".venv/bin/python");
    if !python.exists() {
        return Ok(Err(format!(
            "{} not found (scripts/install-peers.sh installs the Python peer)",
            python.display()
        )));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/python_peer/peer.py");
    if !script.exists() {
        return Err(format!("{} is missing", script.display()).into());
    }
    let (ok, stdout, stderr) = run_bounded(Command::new(&python).args(["-c", PROBE]))?;
    if !ok {
        let last = stderr.lines().last().unwrap_or("no message").to_owned();
        return Ok(Err(format!(
            "the zerobuffer module does not import in {} ({last}; scripts/install-peers.sh \
             installs it)",
            python.display()
        )));
    }
    Ok(Ok(PythonPeer {
        python,
        script,
        version: stdout.trim().to_owned(),
    }))
}

/// Runs `command` to the end, killing it after [`TIMEOUT`]: success, stdout and stderr.
fn run_bounded(command: &mut Command) -> BoxResult<(bool, String, String)> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = Instant::now() + TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the Python probe did not finish within {TIMEOUT:?}").into());
        }
        thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout)?;
    }
    if let Some(mut err) = child.stderr.take() {
        err.read_to_string(&mut stderr)?;
    }
    Ok((status.success(), stdout, stderr))
}
