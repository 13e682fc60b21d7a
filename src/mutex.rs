//! Locks that survive a panic elsewhere.
//!
//! A thread that panics while it holds one of the SDK's mutexes (a progress callback
//! of the caller's, say) leaves data that is still consistent: every critical section
//! here writes whole values. So a poisoned lock is taken as it is, and one panic does
//! not turn into a panic on every thread that shares the client.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value inside `mutex`, poisoned or not.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `condvar` with `guard`, at most `timeout` (for ever with `None`), poisoned or
/// not; the guard again.
pub(crate) fn wait<'g, T>(
    condvar: &Condvar,
    guard: MutexGuard<'g, T>,
    timeout: Option<Duration>,
) -> MutexGuard<'g, T> {
    match timeout {
        Some(timeout) => {
            condvar
                .wait_timeout(guard, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
        None => condvar.wait(guard).unwrap_or_else(PoisonError::into_inner),
    }
}
