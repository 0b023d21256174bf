//! Fork-join dispatch latency: `cargo run --release -p ferronet-core --example dispatch_probe`
//! times a two-task job (5 µs of work per task) after the calling thread spent
//! a given gap elsewhere, as Python does between kernels: on ferronet's team
//! (`parallel::for_each`), and on a two-thread rayon pool (`join` and `scope`),
//! the three interleaved so they see the same machine load.

use ferronet_core::parallel;
use std::time::{Duration, Instant};

fn spin(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {}
}

fn median_p90(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    (v[v.len() / 2], v[v.len() * 9 / 10])
}

fn main() {
    parallel::set_num_threads(2);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a rayon pool");
    let work = || spin(Duration::from_micros(5));
    println!("two tasks of 5 µs after a gap; median / p90 µs of the whole job");
    println!("{:>8} | {:>17} | {:>17} | {:>17}", "gap µs", "ferronet team", "rayon join", "rayon scope");
    for gap in [0u64, 20, 50, 100, 300, 1000, 5000] {
        let (mut team, mut join, mut scope) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..2000 {
            spin(Duration::from_micros(gap));
            let t = Instant::now();
            parallel::for_each(2, |_| work());
            team.push(t.elapsed().as_secs_f64() * 1e6);
            spin(Duration::from_micros(gap));
            let t = Instant::now();
            pool.install(|| rayon::join(work, work));
            join.push(t.elapsed().as_secs_f64() * 1e6);
            spin(Duration::from_micros(gap));
            let t = Instant::now();
            pool.scope(|s| {
                s.spawn(|_| work());
                s.spawn(|_| work());
            });
            scope.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let cells: Vec<String> = [&mut team, &mut join, &mut scope]
            .into_iter()
            .map(|v| {
                let (m, p) = median_p90(v);
                format!("{m:>7.1} / {p:>7.1}")
            })
            .collect();
        println!("{gap:>8} | {} | {} | {}", cells[0], cells[1], cells[2]);
    }
}
