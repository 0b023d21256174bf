//! Fork-join dispatch latency: `cargo run --release -p ferronet-core --example dispatch_probe`
//! times a two-task `parallel::for_each` (5 µs of work per task) after the
//! calling thread spent a given gap elsewhere, as Python does between kernels.

use ferronet_core::parallel;
use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {}
}

fn main() {
    parallel::set_num_threads(2);
    for gap in [0u64, 20, 50, 100, 300, 1000, 5000] {
        let mut v = Vec::new();
        for _ in 0..2000 {
            spin(Duration::from_micros(gap));
            let t = Instant::now();
            parallel::for_each(2, |_| spin(Duration::from_micros(5)));
            v.push(t.elapsed().as_secs_f64() * 1e6);
        }
        v.sort_by(|a, b| a.total_cmp(b));
        println!("gap {gap:>5} µs: median {:.1} µs, p90 {:.1} µs", v[1000], v[1800]);
    }
}
