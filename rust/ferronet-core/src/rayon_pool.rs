//! A rayon pool for bulk, independent work: Monte Carlo chains, sorts of
//! millions of keys. Sized by the same setting as the kernels' team
//! ([`crate::parallel::num_threads`], `set_num_threads`,
//! `FERRONET_NUM_THREADS`), never by rayon's global pool.
//!
//! Work here runs for milliseconds to seconds at a time, so rayon's thread
//! wake-ups (tens of µs) do not matter and its work stealing balances uneven
//! tasks (clusters of very different sizes, sort partitions). The training
//! step's chain of short kernels stays on [`crate::parallel`]'s team, whose
//! dispatch costs about a microsecond.
//!
//! Like the team, the pool is rebuilt when the thread count changes and in a
//! child process after `fork` (the inherited pool's threads do not exist
//! there; it is leaked, not joined).

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex, Once};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(usize, Arc<ThreadPool>)>> = Mutex::new(None);
static FORKED: AtomicBool = AtomicBool::new(false);
static ATFORK: Once = Once::new();

extern "C" fn mark_forked() {
    FORKED.store(true, SeqCst);
}

/// The pool for `num_threads()`, built if needed; None if the system refuses
/// to start its threads (the caller then runs serially).
fn pool() -> Option<Arc<ThreadPool>> {
    ATFORK.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(mark_forked));
    });
    let n = crate::parallel::num_threads();
    let mut guard = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if FORKED.swap(false, SeqCst) {
        if let Some(old) = guard.take() {
            std::mem::forget(old);
        }
    }
    match guard.as_ref() {
        Some((threads, p)) if *threads == n => Some(p.clone()),
        _ => {
            let p = ThreadPoolBuilder::new().num_threads(n).thread_name(|i| format!("ferronet-rayon-{i}")).build();
            let p = Arc::new(p.ok()?);
            *guard = Some((n, p.clone()));
            Some(p)
        }
    }
}

/// Run `f(parallel)` inside the pool: with `parallel` true, rayon's
/// parallel iterators and `join` in `f` use the pool's `num_threads()`
/// threads. With one thread, or if no pool can be started, `f(false)` runs on
/// the caller and must not use rayon (outside a pool, rayon would fall
/// through to its global pool, sized by all cores).
pub fn install<R: Send>(f: impl FnOnce(bool) -> R + Send) -> R {
    if crate::parallel::num_threads() > 1 {
        if let Some(p) = pool() {
            return p.install(|| f(true));
        }
    }
    f(false)
}
