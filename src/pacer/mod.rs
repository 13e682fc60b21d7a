//! Pacing Management API calls to Storyblok's rate limit, shared by every clone of a client.
//!
//! Storyblok counts calls per space in fixed one-second windows (3/s Starter, 6/s paid)
//! and caps 30 requests in flight. The pacer has `N` slots. A call takes a free slot when
//! it starts; when it ends, its slot stays taken for one more second. The server saw the
//! call arrive at some moment before it answered, so the next call in that slot arrives
//! at least a second later: no interval of one second, and so no fixed window wherever
//! its boundaries lie, sees more than `N` arrivals, however long connections take to set
//! up. Steady state runs at `N` calls per (one second plus a call's round trip).
//!
//! On a 429 the pacer halves its rate (another client may share the space) — once per
//! burst: a 429 to a call that started before the last change is not counted again —
//! then raises it by one call per second every two seconds without a 429.

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

/// Whether the clients of one machine share their pacing of a space.
///
/// Cargo runs a workspace's build scripts in parallel, CI runs jobs side by side: several
/// processes may call one space at once, on one rate limit. By default they share their
/// slots through a small state file per API host and space, so together they keep to the
/// limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SharedPacing {
    /// Share with every client of this user on this machine, through a state file in the
    /// user's cache folder (or, failing that, a temporary folder named with the user's id).
    #[default]
    Machine,
    /// Share through state files in this folder (for example one that several containers
    /// mount).
    Dir(std::path::PathBuf),
    /// Pace this client (and its clones) alone.
    Off,
}

/// How long a slot stays taken after its call ended.
const WINDOW: Duration = Duration::from_secs(1);
/// How long after a 429 (or the last raise) the rate goes up by one.
const RECOVERY_STEP: Duration = Duration::from_secs(2);

pub(crate) struct Pacer {
    limit: Option<u32>,
    max_in_flight: usize,
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// The rate slots taken: by a call still running, or until a moment after one ended.
    slots: Vec<Slot>,
    next_call: u64,
    in_flight: usize,
    /// The rate in force: the configured one, or less after a 429.
    current: u32,
    /// The last 429 or the last raise since, whichever is later.
    last_change: Instant,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Running(u64),
    Until(Instant),
}

/// A call's place in flight and in the rate window, given back when dropped.
pub(crate) struct Permit<'a> {
    pacer: &'a Pacer,
    call: Option<u64>,
    started: Instant,
}

impl Permit<'_> {
    /// When the call took its place.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }
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
                slots: Vec::new(),
                next_call: 0,
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

    /// Waits for a place in flight and a free rate slot, then takes both.
    pub(crate) fn acquire(&self) -> Permit<'_> {
        let mut state = self.lock();
        loop {
            if state.in_flight >= self.max_in_flight {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            let now = Instant::now();
            let mut call = None;
            if let Some(limit) = self.limit {
                state.recover(limit, now);
                state
                    .slots
                    .retain(|slot| !matches!(slot, Slot::Until(t) if *t <= now));
                if state.slots.len() >= state.current as usize {
                    // Wait for the first slot to come free, or for a running call to end.
                    let next_free = state.slots.iter().filter_map(|slot| match slot {
                        Slot::Until(t) => Some(*t),
                        Slot::Running(_) => None,
                    });
                    state = match next_free.min() {
                        Some(t) => {
                            let wait = t
                                .saturating_duration_since(now)
                                .max(Duration::from_millis(1));
                            self.changed
                                .wait_timeout(state, wait)
                                .unwrap_or_else(PoisonError::into_inner)
                                .0
                        }
                        None => self
                            .changed
                            .wait(state)
                            .unwrap_or_else(PoisonError::into_inner),
                    };
                    continue;
                }
                let id = state.next_call;
                state.next_call += 1;
                state.slots.push(Slot::Running(id));
                call = Some(id);
            }
            state.in_flight += 1;
            return Permit {
                pacer: self,
                call,
                started: now,
            };
        }
    }

    /// A 429 answered a call that started at `started`: halve the rate, once per burst.
    pub(crate) fn throttled(&self, started: Instant) {
        if self.limit.is_none() {
            return;
        }
        let mut state = self.lock();
        if started < state.last_change {
            return; // sent before the last change: the rate already answered it
        }
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
        if let Some(call) = self.call {
            let until = Instant::now() + WINDOW;
            if let Some(slot) = state.slots.iter_mut().find(|s| **s == Slot::Running(call)) {
                *slot = Slot::Until(until);
            }
        }
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
    fn a_slot_stays_taken_for_a_second_after_its_call() {
        let pacer = Arc::new(Pacer::new(RateLimit::PerSecond(4), 30));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (pacer, calls) = (pacer.clone(), calls.clone());
                std::thread::spawn(move || {
                    for _ in 0..3 {
                        let permit = pacer.acquire();
                        std::thread::sleep(Duration::from_millis(20)); // the round trip
                        let ended = Instant::now();
                        let started = permit.started();
                        drop(permit);
                        calls
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((started, ended));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let mut calls = calls.lock().unwrap_or_else(PoisonError::into_inner).clone();
        calls.sort();
        assert_eq!(calls.len(), 12);
        // Of any 5 calls, two shared a slot: the later started a second after the
        // earlier ended, so wherever a server saw them arrive, no second held all 5.
        for w in calls.windows(5) {
            let last_start = w[4].0;
            let earliest_end = w[..4].iter().map(|c| c.1).min().expect("four");
            assert!(last_start >= earliest_end + WINDOW, "{w:?}");
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
    fn a_429_halves_the_rate_once_per_burst_and_it_recovers() {
        let pacer = Pacer::new(RateLimit::PerSecond(6), 30);
        let burst = Instant::now();
        std::thread::sleep(Duration::from_millis(2));
        pacer.throttled(burst);
        assert_eq!(pacer.current(), 3);
        pacer.throttled(burst);
        assert_eq!(pacer.current(), 3, "the same burst counts once");
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(2));
            pacer.throttled(Instant::now());
        }
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
        pacer.throttled(Instant::now());
        assert_eq!(pacer.current(), u32::MAX);
    }
}
