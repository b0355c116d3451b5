pub mod driver;
pub mod serve;
pub mod session;

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The venv's Python if the PyPI serve imports; `None` (after a loud message) when it is
/// missing outside CI. Under `CI=true` a missing peer fails the test.
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn python_serve() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import zerobuffer_serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    let message = "the Python serve is not installed: run scripts/install-peers.sh";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message} (required under CI=true)");
    }
    eprintln!("\n!!!!! SKIPPED: {message} !!!!!\n");
    None
}
