//! Pacing Management API calls to Storyblok's rate limit, shared by every clone of a client.
//!
//! Storyblok counts calls per space in fixed one-second windows (3/s Starter, 6/s paid)
//! and caps 30 requests in flight. The pacer keeps a sliding window: no more than `N` calls
//! start in any interval of one second plus a small margin. Any fixed one-second window,
//! wherever the server's clock puts its boundaries, is such an interval, so it sees at most
//! `N` calls; and the margin absorbs the jitter between sending and arriving. Steady state
//! runs at `N / 1.05` calls per second.
//!
//! On a 429 the pacer halves its rate (another client may share the space), then raises it
//! by one call per second every two seconds without a 429, back to the configured rate.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How fast the client may call Storyblok's Management API.
///
/// S3 uploads are not paced: only sign, finish and delete count against Storyblok's limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RateLimit {
    /// At most this many calls in any one-second window (the default is 6, the paid plans'
    /// limit; the Starter plan allows 3).
    PerSecond(u32),
    /// No pacing; 429 answers are still retried.
    Off,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::PerSecond(6)
    }
}

/// The margin added to each one-second window.
const MARGIN: Duration = Duration::from_millis(50);
/// How long after a 429 (or the last raise) the rate goes up by one.
const RECOVERY_STEP: Duration = Duration::from_secs(2);

pub(crate) struct Pacer {
    limit: Option<u32>,
    max_in_flight: usize,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// Start times of the calls inside the current window, oldest first.
    started: VecDeque<Instant>,
    in_flight: usize,
    /// The rate in force: the configured one, or less after a 429.
    current: u32,
    /// The last 429 or the last raise since, whichever is later.
    last_change: Instant,
}

/// A place among the calls in flight, given back when dropped.
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
}

impl Pacer {
    pub(crate) fn new(limit: RateLimit, max_in_flight: usize) -> Pacer {
        let limit = match limit {
            RateLimit::PerSecond(n) => Some(n.max(1)),
            RateLimit::Off => None,
        };
        Pacer {
            limit,
            max_in_flight: max_in_flight.max(1),
            state: Mutex::new(State {
                started: VecDeque::new(),
                in_flight: 0,
                current: limit.unwrap_or(u32::MAX),
                last_change: Instant::now(),
            }),
            changed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a place in flight and a slot in the rate window, then takes both.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let window = Duration::from_secs(1) + MARGIN;
        let mut state = self.lock();
        loop {
            if state.in_flight >= self.max_in_flight {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            if let Some(limit) = self.limit {
                let now = Instant::now();
                state.recover(limit, now);
                while state
                    .started
                    .front()
                    .is_some_and(|&t| now.duration_since(t) >= window)
                {
                    state.started.pop_front();
                }
                if state.started.len() >= state.current as usize {
                    // The oldest call leaves the window first; a 429 may shrink it further.
                    let oldest = state.started.front().copied().unwrap_or(now);
                    let wait = window.saturating_sub(now.duration_since(oldest));
                    state = self
                        .changed
                        .wait_timeout(state, wait.max(Duration::from_millis(1)))
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
                state.started.push_back(now);
            }
            state.in_flight += 1;
            return Permit { pacer: self };
        }
    }

    /// A 429 arrived: halve the rate.
    pub(crate) fn throttled(&self) {
        if self.limit.is_none() {
            return;
        }
        let mut state = self.lock();
        state.current = (state.current / 2).max(1);
        state.last_change = Instant::now();
    }

    /// The rate in force, for tests and diagnostics.
    #[cfg(test)]
    fn current(&self) -> u32 {
        let mut state = self.lock();
        if let Some(limit) = self.limit {
            state.recover(limit, Instant::now());
        }
        state.current
    }
}

impl State {
    /// Raises the rate by one per [`RECOVERY_STEP`] since the last change.
    fn recover(&mut self, limit: u32, now: Instant) {
        while self.current < limit && now.duration_since(self.last_change) >= RECOVERY_STEP {
            self.current += 1;
            self.last_change += RECOVERY_STEP;
        }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.pacer.lock();
        state.in_flight = state.in_flight.saturating_sub(1);
        drop(state);
        self.pacer.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_burst_up_to_the_limit_goes_at_once() {
        let pacer = Pacer::new(RateLimit::PerSecond(5), 30);
        let start = Instant::now();
        let permits: Vec<_> = (0..5).map(|_| pacer.acquire()).collect();
        assert!(start.elapsed() < Duration::from_millis(500));
        drop(permits);
    }

    #[test]
    fn never_more_than_the_limit_in_any_window() {
        let pacer = Arc::new(Pacer::new(RateLimit::PerSecond(4), 30));
        let starts = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (pacer, starts) = (pacer.clone(), starts.clone());
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        let _permit = pacer.acquire();
                        starts
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(Instant::now());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut starts = starts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        starts.sort();
        assert_eq!(starts.len(), 12);
        // Any 5 consecutive starts span at least one second.
        for w in starts.windows(5) {
            assert!(w[4].duration_since(w[0]) >= Duration::from_secs(1), "{w:?}");
        }
    }

    #[test]
    fn in_flight_is_capped() {
        let pacer = Arc::new(Pacer::new(RateLimit::Off, 2));
        let a = pacer.acquire();
        let _b = pacer.acquire();
        let waiter = {
            let pacer = pacer.clone();
            std::thread::spawn(move || {
                let _c = pacer.acquire();
                Instant::now()
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let released = Instant::now();
        drop(a);
        let entered = waiter.join().expect("thread");
        assert!(entered >= released, "the third call waited for a place");
    }

    #[test]
    fn a_429_halves_the_rate_and_it_recovers() {
        let pacer = Pacer::new(RateLimit::PerSecond(6), 30);
        pacer.throttled();
        assert_eq!(pacer.current(), 3);
        pacer.throttled();
        pacer.throttled();
        pacer.throttled();
        assert_eq!(pacer.current(), 1, "never below one");
        {
            let mut state = pacer.lock();
            state.last_change -= RECOVERY_STEP * 3;
        }
        assert_eq!(pacer.current(), 4);
        {
            let mut state = pacer.lock();
            state.last_change -= RECOVERY_STEP * 10;
        }
        assert_eq!(pacer.current(), 6, "never above the configured rate");
    }

    #[test]
    fn off_never_waits() {
        let pacer = Pacer::new(RateLimit::Off, 1000);
        let start = Instant::now();
        let permits: Vec<_> = (0..500).map(|_| pacer.acquire()).collect();
        assert_eq!(permits.len(), 500);
        assert!(start.elapsed() < Duration::from_secs(1));
        pacer.throttled();
        assert_eq!(pacer.current(), u32::MAX);
    }
}
