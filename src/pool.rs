//! A few threads working through a list, each taking the next item when it is free.

use std::sync::Mutex;

/// Calls `work` on every item, on up to `threads` threads (at least one), and returns the
/// results in input order. A panic in `work` is passed on once every thread has stopped.
pub(crate) fn map<T: Send, R: Send>(
    items: Vec<T>,
    threads: usize,
    work: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    let count = items.len();
    let queue = Mutex::new(items.into_iter().enumerate());
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..count).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, count.max(1)) {
            scope.spawn(|| {
                loop {
                    let next = crate::mutex::lock(&queue).next();
                    let Some((index, item)) = next else { break };
                    let result = work(item);
                    crate::mutex::lock(&results)[index] = Some(result);
                }
            });
        }
    });
    // Every slot is filled: a worker stops only when the queue is empty, or panics, and a
    // panic was passed on above.
    crate::mutex::into_inner(results)
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn results_come_in_input_order_from_several_threads() {
        let threads = Mutex::new(HashSet::new());
        let out = map((0..64).collect(), 4, |i: u64| {
            threads
                .lock()
                .expect("lock")
                .insert(std::thread::current().id());
            std::thread::sleep(std::time::Duration::from_millis(i % 3));
            i * 2
        });
        assert_eq!(out, (0..64).map(|i| i * 2).collect::<Vec<_>>());
        assert!(threads.into_inner().expect("lock").len() <= 4);
        assert!(map(Vec::<u8>::new(), 0, |i| i).is_empty());
    }
}
