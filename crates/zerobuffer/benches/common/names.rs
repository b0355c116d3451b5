//! Buffer names for the benches that open a fresh buffer per session, checked for leftovers
//! at the end.

/// Hands out a fresh buffer name per session and remembers them for the leftover check.
pub struct BufferNames {
    kind: &'static str,
    used: Vec<String>,
}

impl BufferNames {
    /// Names `zb_bench_{kind}_{pid}_{n}`.
    pub fn new(kind: &'static str) -> BufferNames {
        BufferNames {
            kind,
            used: Vec::new(),
        }
    }

    pub fn fresh(&mut self) -> String {
        // The `zb_bench_` prefix is what scripts/run-tests.sh looks for when hunting leaks.
        let name = format!(
            "zb_bench_{}_{}_{}",
            self.kind,
            std::process::id(),
            self.used.len()
        );
        self.used.push(name.clone());
        name
    }

    pub fn warn_about_leftovers(&self) {
        for name in &self.used {
            let left = zerobuffer_test_support::leftovers(name);
            if !left.is_empty() {
                eprintln!("warning: buffer {name} left behind: {left:?}");
            }
        }
    }
}
