//! Locks that survive a panic elsewhere.
//!
//! A thread that panics while it holds one of the SDK's mutexes (a progress callback
//! of the caller's, say) leaves data that is still consistent: every critical section
//! here writes whole values. So a poisoned lock is taken as it is, and one panic does
//! not turn into a panic on every thread that shares the client.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The value inside `mutex`, poisoned or not.
pub(crate) fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(PoisonError::into_inner)
}
