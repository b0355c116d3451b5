//! Background work of BG steps: started by one step, joined (with a timeout) by a later step
//! or at the end of the scenario, whose errors are reported then.

use std::any::Any;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Result};

type Outcome = Result<Box<dyn Any + Send>>;

struct Job {
    label: String,
    stop: Arc<AtomicBool>,
    done: mpsc::Receiver<Outcome>,
    /// The outcome once received (a job is polled by `is_finished` before it is joined).
    outcome: Option<Outcome>,
}

/// The background jobs of one process.
#[derive(Default)]
pub struct Jobs {
    jobs: Vec<Job>,
}

/// Passed to a job: tells it when to stop early.
#[derive(Clone)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Jobs {
    /// Starts `work` on its own thread under `label` (labels are unique among running jobs).
    pub fn spawn<T, F>(&mut self, label: &str, work: F) -> Result<()>
    where
        T: Send + 'static,
        F: FnOnce(StopFlag) -> Result<T> + Send + 'static,
    {
        if self.jobs.iter().any(|j| j.label == label) {
            bail!("a background job '{label}' is already running");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let flag = StopFlag(Arc::clone(&stop));
        thread::Builder::new()
            .name(format!("bg-{label}"))
            .spawn(move || {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(flag)))
                    .unwrap_or_else(|p| Err(anyhow!("panicked: {}", panic_text(&p))))
                    .map(|v| Box::new(v) as Box<dyn Any + Send>);
                let _ = tx.send(outcome);
            })
            .map_err(|e| anyhow!("cannot start background job '{label}': {e}"))?;
        self.jobs.push(Job {
            label: label.to_owned(),
            stop,
            done: rx,
            outcome: None,
        });
        Ok(())
    }

    pub fn is_running(&self, label: &str) -> bool {
        self.jobs.iter().any(|j| j.label == label)
    }

    /// True once the job has ended (its outcome stays available to `join`).
    pub fn is_finished(&mut self, label: &str) -> Result<bool> {
        let job = self.find(label)?;
        if job.outcome.is_none() {
            if let Ok(outcome) = job.done.try_recv() {
                job.outcome = Some(outcome);
            }
        }
        Ok(job.outcome.is_some())
    }

    /// Asks the job to stop early (it decides when).
    pub fn request_stop(&mut self, label: &str) -> Result<()> {
        self.find(label)?.stop.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Waits up to `timeout` for the job and returns its result.
    pub fn join<T: 'static>(&mut self, label: &str, timeout: Duration) -> Result<T> {
        let index = self
            .jobs
            .iter()
            .position(|j| j.label == label)
            .ok_or_else(|| anyhow!("no background job '{label}' was started"))?;
        let job = &mut self.jobs[index];
        let outcome = match job.outcome.take() {
            Some(outcome) => outcome,
            None => job.done.recv_timeout(timeout).map_err(|_| {
                anyhow!("background job '{label}' did not finish within {timeout:?}")
            })?,
        };
        self.jobs.remove(index);
        let value = outcome.map_err(|e| e.context(format!("background job '{label}'")))?;
        value
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| anyhow!("background job '{label}' returned another type"))
    }

    /// Stops and joins every job within `timeout` overall; reports failures and stragglers.
    pub fn stop_all(&mut self, timeout: Duration) -> Result<()> {
        for job in &self.jobs {
            job.stop.store(true, Ordering::SeqCst);
        }
        let deadline = Instant::now() + timeout;
        let mut errors = Vec::new();
        for mut job in self.jobs.drain(..) {
            let left = deadline.saturating_duration_since(Instant::now());
            let outcome = match job.outcome.take() {
                Some(o) => Some(o),
                None => job.done.recv_timeout(left).ok(),
            };
            match outcome {
                Some(Ok(_)) => {}
                Some(Err(e)) => errors.push(format!("job '{}': {e}", job.label)),
                None => errors.push(format!(
                    "job '{}' did not stop within {timeout:?}",
                    job.label
                )),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            bail!(errors.join("; "))
        }
    }

    fn find(&mut self, label: &str) -> Result<&mut Job> {
        self.jobs
            .iter_mut()
            .find(|j| j.label == label)
            .ok_or_else(|| anyhow!("no background job '{label}' was started"))
    }
}

/// The message of a caught panic.
pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "unknown panic".to_owned())
}
