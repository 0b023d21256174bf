use super::*;
use crate::simd::Isa;

fn naive(m: usize, n: usize, k: usize, a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

fn lcg(seed: &mut u64) -> f64 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
}

fn check<T: GemmFloat>(isa: Isa, m: usize, n: usize, k: usize, trans_a: bool, tol: f64) {
    let mut seed = (m * 131 + n * 17 + k) as u64;
    let a64: Vec<f64> = (0..m * k).map(|_| lcg(&mut seed)).collect();
    let b64: Vec<f64> = (0..k * n).map(|_| lcg(&mut seed)).collect();
    let want = naive(m, n, k, &a64, &b64);
    // A stored transposed (k × m) when trans_a, to exercise strided packing.
    let a: Vec<T> = if trans_a {
        (0..k * m).map(|idx| T::from_f64(a64[(idx % m) * k + idx / m])).collect()
    } else {
        a64.iter().map(|&v| T::from_f64(v)).collect()
    };
    let b: Vec<T> = b64.iter().map(|&v| T::from_f64(v)).collect();
    let av = if trans_a {
        MatPtr { ptr: a.as_ptr(), rs: 1, cs: m as isize }
    } else {
        MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 }
    };
    let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
    let spec = T::spec(isa);
    let use_narrow = n <= 2 * spec.lanes && spec.lanes > 1;
    let wide_kernel = spec.wide.filter(|_| !use_narrow && n <= 4 * spec.lanes);
    let run = |c: &mut Vec<T>, acc: bool, threads: usize| unsafe {
        if use_narrow {
            narrow(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, acc, threads, spec)
        } else if let Some(kernel) = wide_kernel {
            wide(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, acc, threads, kernel, spec.lanes)
        } else {
            blocked(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, acc, threads, spec)
        }
    };
    for threads in [1, 3] {
        let mut c = vec![T::from_f64(7.0); m * n];
        run(&mut c, false, threads);
        for (idx, (&got, &w)) in c.iter().zip(&want).enumerate() {
            assert!(
                (got.to_f64() - w).abs() <= tol * (1.0 + w.abs()),
                "{isa:?} {m}x{n}x{k} threads={threads} at {idx}: {got:?} vs {w}"
            );
        }
        // accumulate adds onto C
        run(&mut c, true, threads);
        for (&got, &w) in c.iter().zip(&want) {
            assert!((got.to_f64() - 2.0 * w).abs() <= 2.0 * tol * (1.0 + w.abs()));
        }
    }
}

const SHAPES: [(usize, usize, usize); 18] = [
    // up to four registers wide: the wide kernels (B in place at exactly four)
    (100, 64, 300),
    (13, 40, 129),
    (64, 32, 700),
    (7, 20, 5),
    (6, 60, 128),
    (40, 27, 300),
    (300, 3, 70),
    (5, 16, 33),
    (9, 1, 100),
    (1, 1, 1),
    (7, 5, 3),
    (8, 32, 16),
    (13, 37, 300),
    (33, 65, 257),
    (64, 10, 512),
    (130, 70, 520),
    (5, 300, 40),
    (300, 2100, 3),
];

#[test]
fn every_supported_kernel_matches_reference() {
    for isa in crate::simd::supported() {
        for &(m, n, k) in &SHAPES {
            for trans in [false, true] {
                check::<f32>(isa, m, n, k, trans, 1e-4);
                check::<f64>(isa, m, n, k, trans, 1e-12);
            }
        }
    }
}

#[test]
fn result_is_independent_of_thread_count() {
    let (m, n, k) = (97, 131, 600);
    let mut seed = 3;
    let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed) as f32).collect();
    let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed) as f32).collect();
    let av = MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
    let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
    let spec = f32::spec(simd::active());
    let run = |threads| {
        let mut c = vec![0f32; m * n];
        unsafe { blocked(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false, threads, spec) };
        c
    };
    let one = run(1);
    for t in [2, 3, 5, 8] {
        assert!(one.iter().zip(run(t)).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

#[test]
fn wide_result_is_independent_of_thread_count() {
    let (m, n, k) = (64, 64, 1000);
    let mut seed = 4;
    let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed) as f32).collect();
    let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed) as f32).collect();
    // A transposed, as in a weight gradient xᵀ·dy.
    let av = MatPtr { ptr: a.as_ptr(), rs: 1, cs: m as isize };
    let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
    let spec = f32::spec(simd::active());
    let Some(kernel) = spec.wide else { return };
    let run = |threads| {
        let mut c = vec![0f32; m * n];
        unsafe { wide(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false, threads, kernel, spec.lanes) };
        c
    };
    let one = run(1);
    for t in [2, 3, 5] {
        assert!(one.iter().zip(run(t)).all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}

/// Both paths of `gemm_packed` (A read in place up to one mc block of rows, packed
/// beyond), overwriting and accumulating, give the blocked product's bits.
#[test]
fn prepacked_b_matches_blocked_bit_for_bit() {
    let cases = [(37usize, 70usize, 600usize), (64, 512, 160), (96, 40, 33), (130, 2100, 40), (5, 3, 9)];
    for (&(m, n, k), accumulate) in cases.iter().flat_map(|c| [(c, false), (c, true)]) {
        let mut seed = 5;
        let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed) as f32).collect();
        let c0: Vec<f32> = (0..m * n).map(|_| lcg(&mut seed) as f32).collect();
        let av = MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
        let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
        let spec = f32::spec(simd::active());
        let mut want = c0.clone();
        unsafe { blocked(m, n, k, av, bv, want.as_mut_ptr(), n as isize, 1, accumulate, 1, spec) };
        let mut got = c0.clone();
        unsafe { with_packed_b(k, n, bv, |p| gemm_packed(m, av, p, got.as_mut_ptr(), n as isize, 1, accumulate)) };
        assert!(got.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()), "{m}x{n}x{k} accumulate {accumulate}");
    }
}

#[test]
fn zero_k_clears_or_keeps_c() {
    let a: Vec<f32> = vec![];
    let mut c = vec![5f32; 6];
    let av = MatPtr { ptr: a.as_ptr(), rs: 0, cs: 1 };
    unsafe { gemm(2, 3, 0, av, av, c.as_mut_ptr(), 3, 1, true) };
    assert_eq!(c, vec![5.0; 6]);
    unsafe { gemm(2, 3, 0, av, av, c.as_mut_ptr(), 3, 1, false) };
    assert_eq!(c, vec![0.0; 6]);
}
