//! The wall clock components see. Normally the system clock; with
//! `--test-clock` it can be moved forward by the admin endpoint so
//! end-to-end tests can simulate minutes in milliseconds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime_wasi::HostWallClock;

/// System time plus an offset that only the test clock moves.
#[derive(Clone, Default)]
pub struct AppClock {
    offset_ms: Arc<AtomicI64>,
}

impl AppClock {
    /// Moves the clock forward (or back, with a negative amount).
    pub fn advance(&self, by: Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    pub fn now(&self) -> Duration {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as i64;
        let ms = (system + self.offset_ms.load(Ordering::SeqCst)).max(0);
        Duration::from_millis(ms as u64)
    }
}

impl HostWallClock for AppClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        AppClock::now(self)
    }
}
