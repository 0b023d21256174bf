//! BLIS-style GEMM: `C (+)= A · B` for strided `f32`/`f64` matrices.
//!
//! The five loops around the micro-kernel, outermost first:
//! LOOP 5 splits n into `nc` panels of B (kept in L3),
//! LOOP 4 splits k into `kc` slices and packs the `kc × nc` slice of B,
//! LOOP 3 splits m into `mc` blocks and packs each `mc × kc` block of A (L2),
//! LOOP 2 walks the `nr`-wide micro-panels of packed B (one sits in L1),
//! LOOP 1 walks the `mr`-tall micro-panels of packed A, calling the kernel.
//! Threads share LOOP 3 (and LOOP 2 when m is short); k is never split, so
//! every element of C is summed in the same order whatever the thread count.

pub mod bf16;
mod kernel;
mod pack;
mod skinny;

pub use bf16::{gemm_bf16, gemm_bf16_serial};
pub use kernel::GemmFloat;
pub(crate) use kernel::{store_tile, Spec, NARROW_MR};
pub use pack::MatPtr;
pub(crate) use pack::{pack_a, pack_b_panel};

use crate::error::{value_err, Result};
use crate::parallel::{self, SendPtr};
use crate::simd;
use crate::workspace::{with_scratch, Slot};
use skinny::{narrow, short_a, wide};

/// How a product's multiplications are done.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// In the operands' own type (float32 or float64).
    #[default]
    Float32,
    /// float32 operands rounded to bfloat16, products summed in float32
    /// (see [`bf16`]).
    Bfloat16,
}

impl Precision {
    /// The precision named `name` (`"float32"` or `"bfloat16"`).
    pub fn parse(op: &'static str, name: &str) -> Result<Precision> {
        match name {
            "float32" => Ok(Precision::Float32),
            "bfloat16" => Ok(Precision::Bfloat16),
            _ => value_err(op, format!("precision must be 'float32' or 'bfloat16'. Received: precision='{name}'")),
        }
    }

    /// An error unless operands of type `T` can be multiplied in this precision.
    pub fn check<T: GemmFloat>(self, op: &'static str) -> Result<()> {
        if self == Precision::Bfloat16 && T::BF16.is_none() {
            return value_err(
                op,
                format!("precision='bfloat16' needs float32 operands. Received: {}", std::any::type_name::<T>()),
            );
        }
        Ok(())
    }
}

/// [`gemm`] (or with `serial` [`gemm_serial`]) in `precision`, which must
/// have passed [`Precision::check`] for `T`.
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_in<T: GemmFloat>(
    precision: Precision,
    serial: bool,
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    match (precision, T::BF16) {
        (Precision::Bfloat16, Some(bf16)) => bf16(m, n, k, a, b, c, rsc, csc, accumulate, serial),
        _ if serial => gemm_serial(m, n, k, a, b, c, rsc, csc, accumulate),
        _ => gemm(m, n, k, a, b, c, rsc, csc, accumulate),
    }
}

/// Below this many multiply-adds a product runs on one thread.
const PAR_THRESHOLD: usize = 1 << 19;
/// Up to this many rows of A, products take the short-A path (A packed once,
/// B packed a panel at a time).
const SHORT_A_MAX_M: usize = 256;
/// Below this many multiply-adds packing costs more than it saves.
pub(crate) const SMALL: usize = 4096;

/// `C = A·B` (or `C += A·B` when `accumulate`) for an `m × k` A, a `k × n` B
/// and an `m × n` C, each given by a pointer and element strides.
///
/// # Safety
/// Every addressed element must be valid for reads (A, B) and writes (C), and
/// C must not overlap A or B.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    let threads = if parallel::worth_parallel(m * n * k, PAR_THRESHOLD) { parallel::num_threads() } else { 1 };
    gemm_with_threads(m, n, k, a, b, c, rsc, csc, accumulate, threads)
}

/// [`gemm`] on the calling thread only (for callers that are already
/// parallel over an outer dimension, such as a batch).
///
/// # Safety
/// As for [`gemm`].
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_serial<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    gemm_with_threads(m, n, k, a, b, c, rsc, csc, accumulate, 1)
}

#[allow(clippy::too_many_arguments)]
unsafe fn gemm_with_threads<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    *c.offset(i as isize * rsc + j as isize * csc) = T::ZERO;
                }
            }
        }
        return;
    }
    if m * n * k <= SMALL {
        return gemm_small(m, n, k, a, b, c, rsc, csc, accumulate);
    }
    let spec = T::spec(simd::active());
    // A product at most two registers wide: read the big operand A in place
    // rather than pack it, since packing would cost as much as the math (a
    // 10-class head, its weight gradient) — when each step down k reads
    // neighbouring elements of a few rows (A row-major or column-major, or
    // small): otherwise every element would cost a cache line. The same for
    // a product two registers tall, seen transposed, but only into a
    // column-major C: its tiles write C down the columns, and into a
    // row-major C threads would share every cache line of it (and a dense
    // layer's forward at batch 32 would read its weights down the columns,
    // half a cache line per step, instead of along the rows). When both fit,
    // pack the narrower operand.
    let in_place_ok = |x: MatPtr<T>, rows: usize| x.cs == 1 || x.rs == 1 || rows * k <= 8192;
    if spec.lanes > 1 {
        let w = 2 * spec.lanes;
        let width = |cols: usize| if cols <= spec.lanes { 1 } else { 2 };
        let direct = n <= w && in_place_ok(a, m);
        let transposed = m <= w && rsc == 1 && in_place_ok(b.t(), n);
        if transposed && (!direct || width(m) < width(n)) {
            return narrow(n, m, k, b.t(), a.t(), c, csc, rsc, accumulate, threads, spec);
        }
        if direct {
            return narrow(m, n, k, a, b, c, rsc, csc, accumulate, threads, spec);
        }
        // Up to four registers wide, the same with more columns per row tile, when a row tile
        // reads whole cache lines of A: its rows run along memory, or A is stored transposed
        // and short enough that the row tiles share each line (a weight gradient xᵀ·dy with
        // 64 units; with hundreds of rows, each k step would fetch a line per tile instead).
        let tile_rows_ok = a.cs == 1 || (a.rs == 1 && m <= 128) || m * k <= 8192;
        if let Some(kernel) = spec.wide.filter(|_| n <= 2 * w && tile_rows_ok) {
            return wide(m, n, k, a, b, c, rsc, csc, accumulate, threads, kernel, spec.lanes);
        }
    }
    // C = A·B and Cᵀ = Bᵀ·Aᵀ are the same product. Kernels store whole
    // registers only into rows of C with unit stride, so that decides the
    // orientation; when neither has it, pick the one whose ragged edges waste
    // fewer kernel lanes.
    let waste = |m: usize, n: usize| m.next_multiple_of(spec.mr) * n.next_multiple_of(spec.nr);
    let flip = if csc == 1 {
        false
    } else if rsc == 1 {
        true
    } else {
        waste(n, m) < waste(m, n)
    };
    if flip {
        return blocked(n, m, k, b.t(), a.t(), c, csc, rsc, accumulate, threads, spec);
    }
    blocked(m, n, k, a, b, c, rsc, csc, accumulate, threads, spec)
}

/// Tiny products: a direct loop, each dot product summed in k order.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_small<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = T::ZERO;
            for p in 0..k {
                s += *a.at(i, p) * *b.at(p, j);
            }
            let dst = c.offset(i as isize * rsc + j as isize * csc);
            *dst = if accumulate { *dst + s } else { s };
        }
    }
}

#[allow(clippy::too_many_arguments)]
unsafe fn blocked<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    threads: usize,
    spec: Spec<T>,
) {
    if m <= SHORT_A_MAX_M {
        return short_a(m, n, k, a, b, c, rsc, csc, accumulate, threads, spec);
    }
    let Spec { mr, nr, kc: kc_max, mc: mc_max, nc: nc_max, .. } = spec;
    // With several threads, shrink the A blocks so each thread gets one.
    let mc_blk = if threads > 1 { mc_max.min(m.div_ceil(threads).next_multiple_of(mr)) } else { mc_max };
    let m_blocks = m.div_ceil(mc_blk);
    let c_ptr = SendPtr(c);

    let body = || {
        with_scratch(Slot::PackB, |scratch_b| {
            // LOOP 5: split n into nc panels.
            for jc in (0..n).step_by(nc_max) {
                let nc = nc_max.min(n - jc);
                let panels = nc.div_ceil(nr);
                // Split LOOP 2 too when there are fewer A blocks than threads.
                let n_split = if m_blocks < threads { (threads / m_blocks).min(panels) } else { 1 };
                let panels_per = panels.div_ceil(n_split);
                // LOOP 4: split k into kc slices (never across threads).
                for pc in (0..k).step_by(kc_max) {
                    let kc = kc_max.min(k - pc);
                    let acc = accumulate || pc > 0;
                    // Pack B~.
                    let bp = scratch_b.slice::<T>(kc * panels * nr);
                    let bp_ptr = SendPtr(bp.as_mut_ptr());
                    let pack_one = |q: usize| pack::pack_b_panel(bp_ptr.get(), b, pc, kc, jc, nc, nr, q);
                    if threads > 1 {
                        parallel::for_each(panels, pack_one);
                    } else {
                        (0..panels).for_each(pack_one);
                    }
                    // LOOP 3 (× part of LOOP 2): one task per (A block, B part).
                    let task = |t: usize| {
                        let (ib, part) = (t / n_split, t % n_split);
                        let ic = ib * mc_blk;
                        let mc = mc_blk.min(m - ic);
                        let panels_here = part * panels_per..((part + 1) * panels_per).min(panels);
                        with_scratch(Slot::PackA, |scratch_a| {
                            let ap = scratch_a.slice::<T>(mc.next_multiple_of(mr) * kc);
                            pack::pack_a(ap, a, ic, mc, pc, kc, mr);
                            let c_blk = c_ptr.get().offset(ic as isize * rsc + jc as isize * csc);
                            macro_kernel(&spec, ap, mc, bp_ptr.get(), panels_here, nc, kc, c_blk, rsc, csc, acc);
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
    };
    body()
}

/// LOOP 2 and LOOP 1: a packed `mc × kc` block of A times the packed B
/// micro-panels `panels` of an `nc`-wide slice (panel `q` at `bp + q·kc·nr`),
/// into C at `c` (the block's corner).
#[allow(clippy::too_many_arguments)]
unsafe fn macro_kernel<T: GemmFloat>(
    spec: &Spec<T>,
    ap: &[T],
    mc: usize,
    bp: *const T,
    panels: std::ops::Range<usize>,
    nc: usize,
    kc: usize,
    c: *mut T,
    rsc: isize,
    csc: isize,
    acc: bool,
) {
    let (mr, nr) = (spec.mr, spec.nr);
    // LOOP 2: micro-panels of B~ (one stays in L1 over LOOP 1).
    for q in panels {
        let jr = q * nr;
        let bq = bp.add(q * kc * nr);
        // LOOP 1: micro-panels of A~.
        for ir in (0..mc).step_by(mr) {
            let c_tile = c.offset(ir as isize * rsc + jr as isize * csc);
            (spec.kernel)(kc, ap.as_ptr().add(ir * kc), bq, c_tile, rsc, csc, mr.min(mc - ir), nr.min(nc - jr), acc);
        }
    }
}

/// A `k × n` matrix B packed once for many products `A·B` with different A
/// (one weight matrix times every im2col tile of a convolution).
pub struct PackedB<'a, T> {
    data: &'a [T],
    k: usize,
    n: usize,
    spec: Spec<T>,
}

impl<T: GemmFloat> PackedB<'_, T> {
    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }

    /// Start of the packed `(jc, pc)` block: blocks are laid out jc-major,
    /// each `kc × nc` (nc rounded up to nr), so full jc blocks take `k·nc_max`.
    fn block(&self, jc: usize, pc: usize) -> *const T {
        let panels = (self.spec.nc.min(self.n - jc)).div_ceil(self.spec.nr);
        self.data[jc * self.k + pc * panels * self.spec.nr..].as_ptr()
    }
}

/// Pack B (`k × n`) into this thread's packing buffer and call `f` with it.
///
/// # Safety
/// Every element of B must be valid for reads.
pub unsafe fn with_packed_b<T: GemmFloat, R>(k: usize, n: usize, b: MatPtr<T>, f: impl FnOnce(&PackedB<T>) -> R) -> R {
    with_packed_b_in(Slot::PackB, k, n, b, f)
}

/// [`with_packed_b`] into the packing buffer `slot` (a second B held at the
/// same time takes [`Slot::PackB2`]).
///
/// # Safety
/// As [`with_packed_b`].
pub(crate) unsafe fn with_packed_b_in<T: GemmFloat, R>(
    slot: Slot,
    k: usize,
    n: usize,
    b: MatPtr<T>,
    f: impl FnOnce(&PackedB<T>) -> R,
) -> R {
    let spec = T::spec(simd::active());
    let (nr, kc_max, nc_max) = (spec.nr, spec.kc, spec.nc);
    with_scratch(slot, |scratch| {
        let total = k * n.next_multiple_of(nr).max(nr);
        let buf = scratch.slice::<T>(total);
        let base = SendPtr(buf.as_mut_ptr());
        let mut jobs = Vec::new();
        for jc in (0..n).step_by(nc_max) {
            let nc = nc_max.min(n - jc);
            let panels = nc.div_ceil(nr);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                jobs.extend((0..panels).map(|q| (jc, nc, pc, kc, jc * k + pc * panels * nr, q)));
            }
        }
        let pack = |&(jc, nc, pc, kc, off, q): &(usize, usize, usize, usize, usize, usize)| {
            pack::pack_b_panel(base.get().add(off), b, pc, kc, jc, nc, nr, q)
        };
        if parallel::worth_parallel(k * n, 1 << 16) {
            parallel::for_each(jobs.len(), |i| pack(&jobs[i]));
        } else {
            jobs.iter().for_each(pack);
        }
        f(&PackedB { data: buf, k, n, spec })
    })
}

/// `C (+)= A·B` for an `m × k` A and a pre-packed B, on the calling thread.
///
/// # Safety
/// As for [`gemm`].
pub unsafe fn gemm_packed<T: GemmFloat>(
    m: usize,
    a: MatPtr<T>,
    b: &PackedB<T>,
    c: *mut T,
    rsc: isize,
    csc: isize,
    accumulate: bool,
) {
    let (k, n, spec) = (b.k, b.n, b.spec);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        return gemm_small(m, n, 0, a, a, c, rsc, csc, accumulate);
    }
    // A block of A that fits one mc block is read in place by the narrow kernel,
    // whose two registers are one packed panel of B: packing it would cost more
    // than it saves (a recurrent step's product). The sums run in the same order
    // as the packed kernel's, so the result is the same.
    let in_place = m <= spec.mc && 2 * spec.lanes == spec.nr;
    for jc in (0..n).step_by(spec.nc) {
        let nc = spec.nc.min(n - jc);
        let panels = nc.div_ceil(spec.nr);
        for pc in (0..k).step_by(spec.kc) {
            let kc = spec.kc.min(k - pc);
            let bp = b.block(jc, pc);
            if in_place {
                for q in 0..panels {
                    let jr = q * spec.nr;
                    for ir in (0..m).step_by(NARROW_MR) {
                        let at = MatPtr { ptr: a.at(ir, pc), ..a };
                        let c_tile = c.offset(ir as isize * rsc + (jc + jr) as isize * csc);
                        let (rows, cols) = (NARROW_MR.min(m - ir), spec.nr.min(nc - jr));
                        (spec.narrow[1])(
                            kc,
                            at,
                            bp.add(q * kc * spec.nr),
                            c_tile,
                            rsc,
                            csc,
                            rows,
                            cols,
                            accumulate || pc > 0,
                        );
                    }
                }
                continue;
            }
            for ic in (0..m).step_by(spec.mc) {
                let mc = spec.mc.min(m - ic);
                with_scratch(Slot::PackA, |scratch_a| {
                    let ap = scratch_a.slice::<T>(mc.next_multiple_of(spec.mr) * kc);
                    pack::pack_a(ap, a, ic, mc, pc, kc, spec.mr);
                    let c_blk = c.offset(ic as isize * rsc + jc as isize * csc);
                    macro_kernel(&spec, ap, mc, bp, 0..panels, nc, kc, c_blk, rsc, csc, accumulate || pc > 0);
                })
            }
        }
    }
}

#[cfg(test)]
mod tests;
