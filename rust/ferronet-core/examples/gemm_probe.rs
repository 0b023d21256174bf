//! GEMM throughput probe: `cargo run --release -p ferronet-core --example gemm_probe -- M N K [REPS [t] [bf16]]`
//! prints the best GFLOP/s of a row-major f32 `M×K · K×N` product, or with `t`
//! of `M×K · (N×K)ᵀ` (a transposed view of B, as a dense layer's dx uses),
//! with `bf16` of the bfloat16 product (AMX tiles when available),
//! on FERRONET_NUM_THREADS threads.

use ferronet_core::gemm::{gemm, gemm_bf16, MatPtr};
use std::time::Instant;
fn main() {
    let args: Vec<usize> = std::env::args().skip(1).take(4).map(|s| s.parse().unwrap()).collect();
    let flags: Vec<String> = std::env::args().skip(5).collect();
    let transposed = flags.iter().any(|f| f == "t");
    let bf16 = flags.iter().any(|f| f == "bf16");
    let (m, n, k) = (args[0], args[1], args[2]);
    let reps = args.get(3).copied().unwrap_or(10);
    let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut c = vec![0f32; m * n];
    let av = MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
    let bv = if transposed {
        MatPtr { ptr: b.as_ptr(), rs: 1, cs: k as isize }
    } else {
        MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 }
    };
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        if bf16 {
            unsafe { gemm_bf16(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false) };
        } else {
            unsafe { gemm(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false) };
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let amx = ferronet_core::simd::amx_enabled();
    println!(
        "{m}x{n}x{k}{}: {:.1} GFLOP/s",
        if bf16 { format!(" bf16 amx={amx}") } else { String::new() },
        2.0 * (m * n * k) as f64 / best / 1e9
    );
}
