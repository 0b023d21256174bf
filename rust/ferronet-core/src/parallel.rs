//! ferronet's threads: a fork-join team of the calling thread plus
//! `num_threads() - 1` workers, sized by `set_num_threads` /
//! `FERRONET_NUM_THREADS`.
//!
//! A training step is a chain of short kernels (tens to hundreds of µs) with
//! Python running in between. A general work-stealing pool parks its workers
//! in the kernel as soon as they run dry and blocks the caller on a condition
//! variable, so each kernel paid two thread wake-ups: about 20 µs here, as much
//! as a batch-32 dense layer's whole backward pass. The team instead keeps its
//! workers polling for a while after each job (2 ms, `FERRONET_SPIN_US`),
//! the calling thread does its share of the work rather than sleep, and a
//! dispatch costs about a microsecond. Idle workers then park, so a process
//! that stops computing stops using CPU.
//!
//! [`for_each`] hands out indices one at a time, so each index's work is done
//! by exactly one thread and results never depend on the thread count. A
//! `for_each` inside a task, or from a second thread while the team is busy,
//! runs serially on its caller. A panic in a task is re-raised on the calling
//! thread once the job has drained.
//!
//! After `fork` the child has none of the parent's workers; the team is
//! marked stale by a `pthread_atfork` handler and rebuilt on first use.
//!
//! The team has at most [`MAX_THREADS`] threads. Workers are started
//! fallibly: when the system refuses a thread, the ones already started are
//! stopped and the previous team stays in use ([`try_set_num_threads`]), or
//! kernels run on the calling thread alone (a team built lazily).

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

/// How long an idle worker keeps polling for the next job before parking
/// (`FERRONET_SPIN_US` microseconds, default 2000).
fn spin() -> Duration {
    static SPIN_US: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    Duration::from_micros(
        *SPIN_US
            .get_or_init(|| std::env::var("FERRONET_SPIN_US").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(2000)),
    )
}

static REQUESTED: AtomicUsize = AtomicUsize::new(0);
static FORKED: AtomicBool = AtomicBool::new(false);
static TEAM: Mutex<Option<Arc<Team>>> = Mutex::new(None);
static ATFORK: Once = Once::new();

thread_local! {
    /// Set while this thread runs tasks of a job: nested jobs run serially.
    static IN_JOB: Cell<bool> = const { Cell::new(false) };
}

extern "C" fn mark_forked() {
    FORKED.store(true, SeqCst);
}

/// The largest team: far more threads than cores only adds switching, and
/// each thread reserves stack address space.
pub const MAX_THREADS: usize = 256;

fn default_threads() -> usize {
    std::env::var("FERRONET_NUM_THREADS")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .min(MAX_THREADS)
}

/// Number of threads kernels use.
pub fn num_threads() -> usize {
    match REQUESTED.load(Relaxed) {
        0 => {
            let n = default_threads();
            REQUESTED.store(n, Relaxed);
            n
        }
        n => n,
    }
}

/// Set the number of threads kernels use (clamped to `1..=MAX_THREADS`);
/// the team is (re)built on the next parallel job.
pub fn set_num_threads(n: usize) {
    REQUESTED.store(n.clamp(1, MAX_THREADS), Relaxed);
}

/// Set the number of threads and start the team now. If the system cannot
/// start that many threads, the ones started are stopped, the previous
/// setting and team stay in use, and the error is returned.
pub fn try_set_num_threads(n: usize) -> crate::Result<()> {
    if n == 0 || n > MAX_THREADS {
        return crate::error::value_err(
            "set_num_threads",
            format!("the number of threads must be between 1 and {MAX_THREADS}. Received: n={n}"),
        );
    }
    let mut guard = lock_team();
    if n == 1 || guard.as_ref().is_some_and(|t| t.workers == n - 1) {
        REQUESTED.store(n, Relaxed);
        return Ok(());
    }
    match Team::start(n - 1) {
        Ok(t) => {
            if let Some(old) = guard.replace(t) {
                old.stop();
            }
            REQUESTED.store(n, Relaxed);
            Ok(())
        }
        Err(e) => crate::error::value_err(
            "set_num_threads",
            format!("the system refused to start {n} threads ({e}); still using {}. Received: n={n}", num_threads()),
        ),
    }
}

/// Whether work of `cost` (roughly, multiply-adds or element operations)
/// is worth spreading over threads.
#[inline]
pub fn worth_parallel(cost: usize, threshold: usize) -> bool {
    cost >= threshold && num_threads() > 1
}

/// Run `f(i)` for every `i` in `0..count`, spread over the team (the calling
/// thread included), and return when all have finished.
pub fn for_each(count: usize, f: impl Fn(usize) + Sync) {
    if count == 0 {
        return;
    }
    if count == 1 || num_threads() == 1 || IN_JOB.with(Cell::get) {
        return serial(count, f);
    }
    let Some(team) = team() else {
        return serial(count, f);
    };
    // Another thread (a second Python thread with the GIL released) is using
    // the team: do this job alone rather than wait for it.
    let Ok(_turn) = team.dispatch.try_lock() else {
        return serial(count, f);
    };
    // About eight claims per thread: few enough to cost nothing, enough to even out uneven indices.
    let chunk = (count / (8 * (team.workers + 1))).max(1);
    let job =
        Job { f: &f, count, chunk, next: AtomicUsize::new(0), done: AtomicUsize::new(0), panic: Mutex::new(None) };
    // NOTE: the pointer is cleared and every worker has detached (below)
    // before `job` and `f` go out of scope; the lifetime is erased only for
    // the time a worker may hold it.
    let erased = (&job as *const Job<'_>).cast::<Job<'static>>().cast_mut();
    team.job.store(erased, SeqCst);
    team.epoch.fetch_add(1, SeqCst);
    if team.sleepers.load(SeqCst) > 0 {
        let _g = team.lock.lock().unwrap_or_else(|e| e.into_inner());
        team.wake.notify_all();
    }
    job.work();
    let mut spins = 0u32;
    while job.done.load(Acquire) < count {
        backoff(&mut spins);
    }
    team.job.store(std::ptr::null_mut(), SeqCst);
    while team.attached.load(SeqCst) > 0 {
        backoff(&mut spins);
    }
    let payload = job.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(p) = payload {
        resume_unwind(p);
    }
}

/// A job on the calling thread alone, with the team's panic behaviour: every
/// index still runs, then the first panic is re-raised.
fn serial(count: usize, f: impl Fn(usize)) {
    let mut first = None;
    for i in 0..count {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i))) {
            first.get_or_insert(p);
        }
    }
    if let Some(p) = first {
        resume_unwind(p);
    }
}

/// Busy-wait politely: pause, and after a while give the core away (a
/// worker may have been descheduled).
#[inline]
fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 1 << 16 {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    count: usize,
    /// Indices claimed at a time: every claim is a read-modify-write of a
    /// cache line the other cores also write, which costs more than a small
    /// index's work (about a tenth of a microsecond between two cores).
    chunk: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

impl Job<'_> {
    /// Claim and run runs of indices until none are left.
    fn work(&self) {
        let was = IN_JOB.with(|c| c.replace(true));
        loop {
            let i = self.next.fetch_add(self.chunk, Relaxed);
            if i >= self.count {
                break;
            }
            let end = (i + self.chunk).min(self.count);
            for j in i..end {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| (self.f)(j))) {
                    self.panic.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(p);
                }
            }
            self.done.fetch_add(end - i, Release);
        }
        IN_JOB.with(|c| c.set(was));
    }
}

struct Team {
    workers: usize,
    /// The job being run, or null between jobs.
    job: AtomicPtr<Job<'static>>,
    /// Bumped for every job, so a polling worker notices a new one.
    epoch: AtomicU64,
    /// Workers currently holding `job`.
    attached: AtomicUsize,
    sleepers: AtomicUsize,
    shutdown: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
    dispatch: Mutex<()>,
}

impl Team {
    /// A team of `workers` running workers, or the spawn error (after
    /// stopping the workers already started).
    fn start(workers: usize) -> std::io::Result<Arc<Team>> {
        let team = Arc::new(Team {
            workers,
            job: AtomicPtr::new(std::ptr::null_mut()),
            epoch: AtomicU64::new(0),
            attached: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            dispatch: Mutex::new(()),
        });
        let mut started = Vec::with_capacity(workers);
        for i in 0..workers {
            let t = team.clone();
            match std::thread::Builder::new().name(format!("ferronet-{}", i + 1)).spawn(move || t.worker()) {
                Ok(handle) => started.push(handle),
                Err(e) => {
                    team.stop();
                    for handle in started {
                        let _ = handle.join();
                    }
                    return Err(e);
                }
            }
        }
        Ok(team)
    }

    fn worker(&self) {
        crate::fpenv::flush_to_zero_on_this_thread();
        let spin = spin();
        let mut seen = self.epoch.load(SeqCst);
        loop {
            let mut since = Instant::now();
            let mut polls = 0u32;
            loop {
                let e = self.epoch.load(Acquire);
                if e != seen {
                    seen = e;
                    break;
                }
                if self.shutdown.load(Relaxed) {
                    return;
                }
                std::hint::spin_loop();
                polls += 1;
                if polls % 256 == 0 && since.elapsed() > spin {
                    self.park(seen);
                    since = Instant::now();
                }
            }
            self.attached.fetch_add(1, SeqCst);
            let job = self.job.load(SeqCst);
            if !job.is_null() {
                // SAFETY: the dispatcher keeps the job alive until `attached` is back to zero.
                unsafe { (*job).work() };
            }
            self.attached.fetch_sub(1, SeqCst);
        }
    }

    /// Sleep until the epoch moves past `seen` (or the team shuts down).
    fn park(&self, seen: u64) {
        let mut g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.sleepers.fetch_add(1, SeqCst);
        while self.epoch.load(SeqCst) == seen && !self.shutdown.load(SeqCst) {
            g = self.wake.wait(g).unwrap_or_else(|e| e.into_inner());
        }
        self.sleepers.fetch_sub(1, SeqCst);
    }

    fn stop(&self) {
        self.shutdown.store(true, SeqCst);
        let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }
}

/// The team slot, after dropping a team inherited through `fork`.
fn lock_team() -> std::sync::MutexGuard<'static, Option<Arc<Team>>> {
    ATFORK.call_once(|| unsafe {
        libc::pthread_atfork(None, None, Some(mark_forked));
    });
    let mut guard = TEAM.lock().unwrap_or_else(|e| e.into_inner());
    if FORKED.swap(false, SeqCst) {
        // NOTE: the inherited team's threads do not exist in this process and
        // its locks may be held by them; it is leaked, not stopped.
        if let Some(old) = guard.take() {
            std::mem::forget(old);
        }
    }
    guard
}

/// The team for `num_threads()`, started if needed; None (run serially, and
/// from now on with one thread) if the system refuses to start it.
fn team() -> Option<Arc<Team>> {
    let workers = num_threads() - 1;
    let mut guard = lock_team();
    match guard.as_ref() {
        Some(t) if t.workers == workers => Some(t.clone()),
        _ => {
            if let Some(old) = guard.take() {
                old.stop();
            }
            let Ok(t) = Team::start(workers) else {
                REQUESTED.store(1, Relaxed);
                return None;
            };
            *guard = Some(t.clone());
            Some(t)
        }
    }
}

/// A raw pointer that may cross threads; each user guarantees disjoint writes.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_counts_outside_the_cap_are_refused_and_change_nothing() {
        let _ = try_set_num_threads(2);
        assert!(try_set_num_threads(0).is_err());
        assert!(try_set_num_threads(MAX_THREADS + 1).is_err());
        assert!(try_set_num_threads(5000).is_err());
        assert_eq!(num_threads(), 2);
        let total = AtomicUsize::new(0);
        for_each(10, |_| {
            total.fetch_add(1, Relaxed);
        });
        assert_eq!(total.load(Relaxed), 10);
    }

    #[test]
    fn every_index_runs_once() {
        set_num_threads(2);
        for count in [0, 1, 2, 3, 100, 1000] {
            let hits: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
            for_each(count, |i| {
                hits[i].fetch_add(1, Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Relaxed) == 1), "count {count}");
        }
    }

    #[test]
    fn nested_jobs_run_serially() {
        set_num_threads(2);
        let total = AtomicUsize::new(0);
        for_each(8, |_| {
            for_each(8, |_| {
                total.fetch_add(1, Relaxed);
            })
        });
        assert_eq!(total.load(Relaxed), 64);
    }

    #[test]
    fn concurrent_callers_both_finish() {
        set_num_threads(2);
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        for_each(16, |_| {
                            total.fetch_add(1, Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Relaxed), 4 * 200 * 16);
    }

    #[test]
    fn panic_reaches_the_caller_after_the_job_drains() {
        set_num_threads(2);
        let ran = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            for_each(64, |i| {
                ran.fetch_add(1, Relaxed);
                if i == 5 {
                    panic!("task 5");
                }
            })
        }));
        assert!(r.is_err());
        assert_eq!(ran.load(Relaxed), 64);
        // The team still works afterwards.
        let total = AtomicUsize::new(0);
        for_each(10, |_| {
            total.fetch_add(1, Relaxed);
        });
        assert_eq!(total.load(Relaxed), 10);
    }
}
