//! The log records of one step, returned in its `executeStep` result (harmony.md §2.3).
//!
//! [`CaptureLayer`] copies every tracing event emitted on a thread that is capturing (the
//! World thread while a step runs, see [`capture`]) into that step's list, with an ISO-8601
//! UTC timestamp and the integer Microsoft `LogLevel`. Events of other threads (background
//! jobs, the RPC loop) only go to stderr. A step keeps at most [`MAX_RECORDS`] records; the
//! rest are counted in a final warning record.

use harmony_wire::LogEntry;
use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Records kept per step.
pub const MAX_RECORDS: usize = 200;

/// A step's log record (Harmony's `LogResponse`), stamped now.
pub fn record(level: Level, message: String) -> LogEntry {
    LogEntry {
        timestamp: timestamp(SystemTime::now()),
        level: log_level(level),
        message,
    }
}

/// ISO-8601 UTC timestamp with millisecond precision.
pub fn timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The Microsoft `LogLevel` number of a tracing level.
pub fn log_level(level: Level) -> u8 {
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

struct Capture {
    records: Vec<LogEntry>,
    dropped: usize,
}

thread_local! {
    static CAPTURE: RefCell<Option<Capture>> = const { RefCell::new(None) };
}

/// Runs `f` with capturing on for this thread; returns its value and the records.
pub async fn capture<T>(f: impl std::future::Future<Output = T>) -> (T, Vec<LogEntry>) {
    CAPTURE.with(|c| {
        *c.borrow_mut() = Some(Capture {
            records: Vec::new(),
            dropped: 0,
        })
    });
    let value = f.await;
    let capture = CAPTURE.with(|c| c.borrow_mut().take());
    let mut records = Vec::new();
    if let Some(capture) = capture {
        records = capture.records;
        if capture.dropped > 0 {
            records.push(record(
                Level::WARN,
                format!(
                    "{} more log records of this step were dropped",
                    capture.dropped
                ),
            ));
        }
    }
    (value, records)
}

/// Copies events of capturing threads into their step's records.
pub struct CaptureLayer;

impl<S: Subscriber> Layer<S> for CaptureLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        // `try_with`/`try_borrow_mut`: never panic inside the subscriber, even during thread
        // teardown or if an event is emitted while a record is being pushed.
        let _ = CAPTURE.try_with(|c| {
            let Ok(mut slot) = c.try_borrow_mut() else {
                return;
            };
            let Some(capture) = slot.as_mut() else {
                return;
            };
            if capture.records.len() >= MAX_RECORDS {
                capture.dropped += 1;
                return;
            }
            let mut message = Message::default();
            event.record(&mut message);
            capture
                .records
                .push(record(*event.metadata().level(), message.finish()));
        });
    }
}

/// `message` first, then the other fields as `name=value`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Message {
    fn finish(self) -> String {
        match (self.text.is_empty(), self.fields.is_empty()) {
            (_, true) => self.text,
            (true, false) => self.fields,
            (false, false) => format!("{} {}", self.text, self.fields),
        }
    }
}

impl Visit for Message {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            self.record_debug(field, &format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            if !self.fields.is_empty() {
                self.fields.push(' ');
            }
            let _ = write!(self.fields, "{}={value:?}", field.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn timestamps_are_iso_8601_utc_with_milliseconds() {
        let t = UNIX_EPOCH + Duration::from_millis(1_755_075_928_412);
        assert_eq!(timestamp(t), "2025-08-13T09:05:28.412Z");
    }

    #[test]
    fn levels_are_microsoft_log_levels() {
        assert_eq!(
            [
                Level::TRACE,
                Level::DEBUG,
                Level::INFO,
                Level::WARN,
                Level::ERROR
            ]
            .map(log_level),
            [0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn captures_only_while_capturing_and_caps_the_count() {
        let subscriber = tracing_subscriber::registry().with(CaptureLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before");
            let ((), records) = futures::executor::block_on(capture(async {
                tracing::warn!(buffer = "b_1_2", "created");
                tracing::error!("failed: {}", 42);
                for i in 0..MAX_RECORDS {
                    tracing::debug!(i, "many");
                }
            }));
            tracing::info!("after");
            assert_eq!(records.len(), MAX_RECORDS + 1);
            assert_eq!(records[0].level, 3);
            assert_eq!(records[0].message, "created buffer=b_1_2");
            assert_eq!(records[1].message, "failed: 42");
            assert_eq!(records[1].level, 4);
            let last = records.last().unwrap();
            assert_eq!(last.message, "2 more log records of this step were dropped");
        });
    }
}
