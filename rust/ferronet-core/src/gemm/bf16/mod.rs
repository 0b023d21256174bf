//! bfloat16 GEMM: `C (+)= bf16(A) · bf16(B)` for float32 matrices, with the
//! operands rounded to bfloat16 (to nearest, ties to even) and the products
//! summed in float32.
//!
//! On AMX the operands are rounded while they are packed, and the tile
//! micro-kernel ([`tile`]) multiplies 32 × 32 blocks of C. The loops around
//! it are the float32 GEMM's (see [`crate::gemm`]): LOOP 5 splits n into
//! `NC` panels, LOOP 4 k into `KC` slices (B's slice packed into VNNI panels),
//! LOOP 3 m into `mc` blocks (packed into 32-row panels), LOOP 2 walks B's
//! 32-column panels, LOOP 2½ splits a panel's k slice into `SUB`-step
//! sub-slices and LOOP 1 walks A's 32-row panels. Threads share LOOP 3 (and
//! LOOP 2 when m is short); each element of C is one chain of tile products
//! over k in order, continued from C (or from the block holding the sums
//! between sub-slices), so results are the same on any number of threads.
//!
//! Without AMX (another CPU, an OS that refuses the tile state, or a vector
//! path named by `FERRONET_SIMD`) the same rounding is applied to copies of
//! the operands and the float32 GEMM multiplies them: the products of two
//! bfloat16 values are exact in float32, so both paths differ only in the
//! order of the float32 sums.

mod pack;
mod tile;

pub use pack::{bf16_bits, round_bf16};

use super::MatPtr;
use crate::parallel::{self, SendPtr};
use crate::simd;
use crate::workspace::{with_scratch, Slot};
use tile::{Tiles, STEP};

/// Rows of A (and columns of B) per micro-panel; k values per step.
const MR: usize = 32;
const NR: usize = 32;
/// Cache blocking, chosen by measurement at n = 1024. Tile loads limit the
/// kernel (one per tile product), and run at full speed only from L1: each
/// micro-kernel call covers `SUB` k steps (16 KiB of B's panel, met by every
/// A micro-panel of the block in turn). k is packed in deep `KC` slices so C
/// itself is reloaded only between those; the A block (256 rows × KC) stays in L2.
const SUB: usize = 8;
const KC: usize = 2048;
const MC: usize = 256;
const NC: usize = 2048;
/// Below this many multiply-adds a product runs on one thread.
const PAR_THRESHOLD: usize = 1 << 20;
/// Below this many multiply-adds the tile set-up costs more than it saves.
const SMALL: usize = 1 << 14;

/// `C = bf16(A)·bf16(B)` (or `C +=` when `accumulate`) for an `m × k` A, a
/// `k × n` B and an `m × n` C, each given by a pointer and element strides.
///
/// # Safety
/// Every addressed element must be valid for reads (A, B) and writes (C), and
/// C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_bf16(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    let threads = if parallel::worth_parallel(m * n * k, PAR_THRESHOLD) { parallel::num_threads() } else { 1 };
    with_threads(m, n, k, a, b, c, rsc, csc, accumulate, threads, simd::amx_enabled())
}

/// [`gemm_bf16`] on the calling thread only.
///
/// # Safety
/// As for [`gemm_bf16`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_bf16_serial(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    with_threads(m, n, k, a, b, c, rsc, csc, accumulate, 1, simd::amx_enabled())
}

#[allow(clippy::too_many_arguments)]
unsafe fn with_threads(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    threads: usize,
    amx: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if !amx || k == 0 || m * n * k <= SMALL {
        return rounded(m, n, k, a, b, c, rsc, csc, accumulate, threads);
    }
    // The kernel stores rows of C with unit stride; a column-major C is the
    // transposed product Cᵀ = Bᵀ·Aᵀ.
    if csc != 1 && rsc == 1 {
        return blocked(n, m, k, b.t(), a.t(), c, csc, rsc, accumulate, threads);
    }
    blocked(m, n, k, a, b, c, rsc, csc, accumulate, threads)
}

/// The path without AMX: rounded copies of A and B, multiplied by the float32 GEMM.
#[allow(clippy::too_many_arguments)]
unsafe fn rounded(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    threads: usize,
) {
    with_scratch(Slot::RoundA, |sa| {
        with_scratch(Slot::RoundB, |sb| {
            let ra = round_copy(a, m, k, sa.slice::<f32>(m * k));
            let rb = round_copy(b, k, n, sb.slice::<f32>(k * n));
            super::gemm_with_threads(m, n, k, ra, rb, c, rsc, csc, accumulate, threads)
        })
    })
}

/// `x` (`rows × cols`) rounded to bfloat16 values into `dst`, keeping a
/// column-major layout column-major (so both are read in order).
unsafe fn round_copy(x: MatPtr<f32>, rows: usize, cols: usize, dst: &mut [f32]) -> MatPtr<f32> {
    if x.rs == 1 && x.cs != 1 {
        round_copy(x.t(), cols, rows, dst).t()
    } else {
        for i in 0..rows {
            let out = &mut dst[i * cols..(i + 1) * cols];
            for (j, o) in out.iter_mut().enumerate() {
                *o = round_bf16(*x.at(i, j));
            }
        }
        MatPtr { ptr: dst.as_ptr(), rs: cols as isize, cs: 1 }
    }
}

/// The AMX path (see the module documentation for the loops).
#[allow(clippy::too_many_arguments)]
unsafe fn blocked(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    threads: usize,
) {
    // With several threads, shrink the A blocks so each thread gets one.
    let mc_blk = if threads > 1 { MC.min(m.div_ceil(threads).next_multiple_of(MR)) } else { MC };
    let m_blocks = m.div_ceil(mc_blk);
    let c_ptr = SendPtr(c);
    with_scratch(Slot::PackB, |scratch_b| {
        // LOOP 5: split n into NC panels.
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            let panels = nc.div_ceil(NR);
            let n_split = if m_blocks < threads { (threads / m_blocks).min(panels) } else { 1 };
            let per = panels.div_ceil(n_split);
            // LOOP 4: split k into KC slices (never across threads).
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let steps = kc.div_ceil(32);
                let load_c = accumulate || pc > 0;
                // Pack B~ into VNNI panels.
                let bp = SendPtr(scratch_b.slice::<u16>(panels * steps * STEP).as_mut_ptr());
                if threads > 1 {
                    let per_task = steps.div_ceil(threads);
                    parallel::for_each(steps.div_ceil(per_task), |t| {
                        let range = t * per_task..((t + 1) * per_task).min(steps);
                        pack::pack_b(bp.get(), b, pc, kc, jc, nc, steps, range)
                    });
                } else {
                    pack::pack_b(bp.get(), b, pc, kc, jc, nc, steps, 0..steps);
                }
                // LOOP 3 (× part of LOOP 2): one task per (A block, B part).
                let task = |t: usize| {
                    let (ib, part) = (t / n_split, t % n_split);
                    let ic = ib * mc_blk;
                    let mc = mc_blk.min(m - ic);
                    with_scratch(Slot::PackA, |scratch_a| {
                        let ap = scratch_a.slice::<u16>(mc.div_ceil(MR) * steps * STEP).as_mut_ptr();
                        pack::pack_a(ap, a, ic, mc, pc, kc, steps);
                        let tiles = Tiles::configure();
                        let mut acc = Acc([[0.0; NR]; MC]);
                        // LOOP 2: B's micro-panels.
                        for q in part * per..((part + 1) * per).min(panels) {
                            let jr = q * NR;
                            let bq = bp.get().add(q * steps * STEP);
                            let cols = NR.min(nc - jr);
                            let whole = cols == NR && csc == 1 && rsc > 0;
                            // LOOP 2½: k in sub-slices of the panel that stay in L1 while
                            // every A micro-panel meets them. Between sub-slices the sums
                            // wait in `acc`, contiguous and aligned (C's own rows may sit
                            // 4 KiB apart, all in the same few L1 sets).
                            for s0 in (0..steps).step_by(SUB) {
                                let sub = SUB.min(steps - s0);
                                let (first, last) = (s0 == 0, s0 + sub == steps);
                                // LOOP 1: A's micro-panels.
                                for ir in (0..mc).step_by(MR) {
                                    let at = ap.add((ir / MR * steps + s0) * STEP);
                                    let ct = c_ptr.get().offset((ic + ir) as isize * rsc + (jc + jr) as isize * csc);
                                    let rows = MR.min(mc - ir);
                                    if !(whole && rows == MR) {
                                        // Edges and strided C: all of k at once, through a spill block.
                                        if first {
                                            run_kernel(&tiles, steps, at, bq, ct, rsc, csc, rows, cols, load_c);
                                        }
                                        continue;
                                    }
                                    let ldc = rsc as usize * 4;
                                    let held = acc.0[ir].as_mut_ptr();
                                    tiles.start(match (first, load_c) {
                                        (true, true) => Some((ct as *const f32, ldc)),
                                        (true, false) => None,
                                        (false, _) => Some((held as *const f32, NR * 4)),
                                    });
                                    tiles.run(sub, at, bq.add(s0 * STEP));
                                    if last {
                                        tiles.finish(ct, ldc);
                                    } else {
                                        tiles.finish(held, NR * 4);
                                    }
                                }
                            }
                        }
                    })
                };
                let tasks = m_blocks * n_split;
                if threads > 1 {
                    parallel::for_each(tasks, task);
                } else {
                    (0..tasks).for_each(task);
                }
            }
        }
    })
}

/// Sums of a block's `MC × 32` corner of C between k sub-slices.
#[repr(C, align(64))]
struct Acc([[f32; NR]; MC]);

#[repr(C, align(64))]
struct Block([[f32; NR]; MR]);

/// One micro-kernel call into C's `rows × cols` corner at `c`: straight into
/// C when the block is whole and C's rows are contiguous, else through a
/// spill block.
#[allow(clippy::too_many_arguments)]
#[inline]
unsafe fn run_kernel(
    tiles: &Tiles,
    steps: usize,
    a: *const u16,
    b: *const u16,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    rows: usize,
    cols: usize,
    load_c: bool,
) {
    if rows == MR && cols == NR && csc == 1 && rsc > 0 {
        return tiles.kernel(steps, a, b, c, rsc as usize * 4, load_c);
    }
    let mut spill = Block([[0.0; NR]; MR]);
    if load_c {
        for i in 0..rows {
            for j in 0..cols {
                spill.0[i][j] = *c.offset(i as isize * rsc + j as isize * csc);
            }
        }
    }
    tiles.kernel(steps, a, b, spill.0.as_mut_ptr().cast(), NR * 4, load_c);
    for i in 0..rows {
        for j in 0..cols {
            *c.offset(i as isize * rsc + j as isize * csc) = spill.0[i][j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// The scalar reference: exact products of the rounded operands, summed
    /// in float64; with the bound of a float32 sum of those products.
    fn reference(m: usize, n: usize, k: usize, a: MatPtr<f32>, b: MatPtr<f32>) -> (Vec<f64>, Vec<f64>) {
        let (mut c, mut bound) = (vec![0.0; m * n], vec![0.0; m * n]);
        for i in 0..m {
            for j in 0..n {
                let (mut s, mut abs) = (0f64, 0f64);
                for p in 0..k {
                    let t = unsafe { round_bf16(*a.at(i, p)) as f64 * round_bf16(*b.at(p, j)) as f64 };
                    s += t;
                    abs += t.abs();
                }
                c[i * n + j] = s;
                bound[i * n + j] = (k as f64 + 2.0) * f32::EPSILON as f64 * abs + 1e-30;
            }
        }
        (c, bound)
    }

    const SHAPES: [(usize, usize, usize); 10] = [
        (64, 33, 2100),
        (64, 64, 64),
        (33, 65, 257),
        (40, 27, 300),
        (300, 70, 520),
        (5, 300, 40),
        (1, 40, 513),
        (130, 31, 17),
        (97, 131, 600),
        (7, 5, 3),
    ];

    fn check(amx: bool, threads: usize) {
        for &(m, n, k) in &SHAPES {
            let mut seed = (m * 131 + n * 17 + k) as u64;
            let av: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let bv: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let bs: Vec<f32> = (0..4 * k * n)
                .map(|i| {
                    let (p, q) = (i / (4 * n), i % (4 * n));
                    if q % 2 == 0 && q / 2 < n {
                        bv[p * n + q / 2]
                    } else {
                        f32::NAN
                    }
                })
                .collect();
            // Row-major, column-major and general strided operands.
            let layouts_a = [
                MatPtr { ptr: av.as_ptr(), rs: k as isize, cs: 1 },
                MatPtr { ptr: av.as_ptr(), rs: 1, cs: m as isize },
            ];
            let layouts_b = [
                MatPtr { ptr: bv.as_ptr(), rs: n as isize, cs: 1 },
                MatPtr { ptr: bv.as_ptr(), rs: 1, cs: k as isize },
                // every other element of every other row
                MatPtr { ptr: bs.as_ptr(), rs: 4 * n as isize, cs: 2 },
            ];
            for (la, a) in layouts_a.iter().enumerate() {
                for (lb, b) in layouts_b.iter().enumerate() {
                    let (want, bound) = reference(m, n, k, *a, *b);
                    // C row-major, then column-major.
                    for c_rows in [true, false] {
                        let (rsc, csc) = if c_rows { (n as isize, 1) } else { (1, m as isize) };
                        let mut c = vec![3f32; m * n];
                        unsafe { with_threads(m, n, k, *a, *b, c.as_mut_ptr(), rsc, csc, false, threads, amx) };
                        let at =
                            |c: &[f32], i: usize, j: usize| c[(i as isize * rsc + j as isize * csc) as usize] as f64;
                        for i in 0..m {
                            for j in 0..n {
                                let (g, w) = (at(&c, i, j), want[i * n + j]);
                                assert!(
                                    (g - w).abs() <= bound[i * n + j],
                                    "amx={amx} {m}x{n}x{k} a{la} b{lb} c_rows={c_rows} ({i},{j}): {g} vs {w}"
                                );
                            }
                        }
                        // accumulate adds onto C
                        unsafe { with_threads(m, n, k, *a, *b, c.as_mut_ptr(), rsc, csc, true, threads, amx) };
                        for i in 0..m {
                            for j in 0..n {
                                let (g, w) = (at(&c, i, j), 2.0 * want[i * n + j]);
                                assert!((g - w).abs() <= 3.0 * bound[i * n + j], "accumulate {m}x{n}x{k} ({i},{j})");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn amx_matches_reference() {
        if simd::amx::available() {
            check(true, 1);
            check(true, 3);
        }
    }

    #[test]
    fn fallback_matches_reference() {
        check(false, 1);
        check(false, 2);
    }

    #[test]
    fn amx_result_is_independent_of_thread_count() {
        if !simd::amx::available() {
            return;
        }
        let (m, n, k) = (333, 517, 700);
        let mut seed = 3;
        let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
        let av = MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
        let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
        let run = |threads| {
            let mut c = vec![0f32; m * n];
            unsafe { with_threads(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false, threads, true) };
            c
        };
        let one = run(1);
        for t in [2, 3, 5, 8] {
            assert!(one.iter().zip(run(t)).all(|(x, y)| x.to_bits() == y.to_bits()), "threads={t}");
        }
    }

    #[test]
    fn nan_and_inf_propagate() {
        for amx in [false, simd::amx::available()] {
            let (m, n, k) = (40, 40, 40);
            let mut a = vec![1f32; m * k];
            a[3 * k + 4] = f32::NAN;
            a[5 * k + 6] = f32::INFINITY;
            let b = vec![1f32; k * n];
            let mut c = vec![0f32; m * n];
            let av = MatPtr { ptr: a.as_ptr(), rs: k as isize, cs: 1 };
            let bv = MatPtr { ptr: b.as_ptr(), rs: n as isize, cs: 1 };
            unsafe { with_threads(m, n, k, av, bv, c.as_mut_ptr(), n as isize, 1, false, 1, amx) };
            assert!(c[3 * n..4 * n].iter().all(|v| v.is_nan()), "amx={amx}");
            assert!(c[5 * n..6 * n].iter().all(|v| *v == f32::INFINITY), "amx={amx}");
            assert!(c[..n].iter().all(|v| *v == 40.0), "amx={amx}");
        }
    }
}
