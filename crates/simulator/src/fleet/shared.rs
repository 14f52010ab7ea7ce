//! The state the agents and the [`Fleet`](super::Fleet) handle share: the
//! counters under one lock, and the stop signal that ends every agent's waits.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::config::FleetConfig;
use super::summary::{Outcome, Summary};
use crate::{Closer, Device};

/// Counters and outcomes, under one lock so that a summary is consistent.
pub(super) struct State {
    pub(super) summary: Summary,
    pub(super) outcomes: BTreeMap<(String, String), Outcome>,
    /// Grows on every change, so that a waiter knows whether it missed one.
    pub(super) version: u64,
}

/// What the agents and the [`Fleet`](super::Fleet) handle share.
pub(super) struct Shared {
    pub(super) config: FleetConfig,
    pub(super) state: Mutex<State>,
    /// Signalled on every change of `state`.
    pub(super) changed: Condvar,
    stopping: Mutex<bool>,
    /// Signalled when `stopping` is set.
    stop_signal: Condvar,
    /// Per agent, a handle on its connected device, to end its waits when the fleet stops.
    closers: Mutex<Vec<Option<Closer>>>,
}

pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// The state of a fleet of `config.things` that starts counting from `summary`.
    pub(super) fn new(config: FleetConfig, summary: Summary) -> Shared {
        Shared {
            state: Mutex::new(State {
                summary,
                outcomes: BTreeMap::new(),
                version: 0,
            }),
            changed: Condvar::new(),
            stopping: Mutex::new(false),
            stop_signal: Condvar::new(),
            closers: Mutex::new((0..config.things.len()).map(|_| None).collect()),
            config,
        }
    }

    pub(super) fn update(&self, f: impl FnOnce(&mut State)) {
        let mut state = lock(&self.state);
        f(&mut state);
        state.version += 1;
        drop(state);
        self.changed.notify_all();
    }

    pub(super) fn record_error(&self, error: String) {
        self.update(|state| {
            state.summary.errors += 1;
            state.summary.last_error = Some(error);
        });
    }

    pub(super) fn is_stopping(&self) -> bool {
        *lock(&self.stopping)
    }

    /// Waits until `deadline` unless the fleet stops first; false when it stopped.
    pub(super) fn sleep_until(&self, deadline: Instant) -> bool {
        let mut stopping = lock(&self.stopping);
        while !*stopping {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            stopping = self
                .stop_signal
                .wait_timeout(stopping, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// Waits until the fleet stops.
    pub(super) fn wait_for_stop(&self) {
        let stopping = lock(&self.stopping);
        drop(
            self.stop_signal
                .wait_while(stopping, |stopping| !*stopping)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }

    /// Sets `stopping`, then closes every registered device: an agent that
    /// registers later sees `stopping` (see [`register`](Self::register)).
    pub(super) fn stop(&self) {
        *lock(&self.stopping) = true;
        self.stop_signal.notify_all();
        for closer in lock(&self.closers).iter().flatten() {
            closer.close();
        }
    }

    /// Lets [`stop`](Self::stop) close agent `index`'s device; false (and
    /// nothing registered) when the fleet is already stopping.
    pub(super) fn register(&self, index: usize, device: &Device) -> bool {
        let mut closers = lock(&self.closers);
        if self.is_stopping() {
            return false;
        }
        closers[index] = Some(device.closer());
        true
    }

    pub(super) fn unregister(&self, index: usize) {
        lock(&self.closers)[index] = None;
    }
}
