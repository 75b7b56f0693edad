//! A logger capturing the records of the `log` crate, for tests that check
//! what the crate logs. A test binary that uses it calls [`install`] first:
//! Rocket then keeps its own logger out (and leaves the level alone).
//! Records are kept from every test of the binary; each test picks its own
//! out by their content (a port, a trace id, a span name).
#![allow(dead_code)]

use log::{Level, LevelFilter, Log, Metadata, Record};
use parking_lot::Mutex;
use std::time::{Duration, Instant};

/// One captured record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub level: Level,
    pub message: String,
}

struct Capture;

static RECORDS: Mutex<Vec<Captured>> = Mutex::new(Vec::new());
static LOGGER: Capture = Capture;

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= Level::Info
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            RECORDS.lock().push(Captured {
                level: record.level(),
                message: record.args().to_string(),
            });
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger (`info` and above) for this test binary;
/// later calls do nothing. Panics if another logger was installed first.
pub fn install() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        log::set_logger(&LOGGER).expect("no other logger in this test binary");
        log::set_max_level(LevelFilter::Info);
    });
}

/// The messages captured so far at `level` that contain `needle`.
pub fn messages(level: Level, needle: &str) -> Vec<String> {
    RECORDS
        .lock()
        .iter()
        .filter(|r| r.level == level && r.message.contains(needle))
        .map(|r| r.message.clone())
        .collect()
}

/// Waits up to `timeout` until at least `count` messages at `level`
/// contain `needle`; returns those captured by then.
pub fn wait_for(level: Level, needle: &str, count: usize, timeout: Duration) -> Vec<String> {
    let deadline = Instant::now() + timeout;
    loop {
        let found = messages(level, needle);
        if found.len() >= count || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
