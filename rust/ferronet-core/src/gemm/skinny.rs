//! The shapes that pack differently from the blocked loops: narrow and wide
//! products (at most two or four registers wide, A read in place) and
//! short-A products (A packed once, B packed a panel at a time while its row
//! tiles meet it).

use super::kernel::{Spec, WideFn, NARROW_MR, WIDE_MR};
use super::{pack, GemmFloat, MatPtr};
use crate::parallel::{self, SendPtr};
use crate::workspace::{with_scratch, Slot};

/// Products with at most `2·spec.lanes` columns: B packed once into one
/// zero-padded sliver one or two registers wide, A read in place, rows split
/// over threads.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn narrow<T: GemmFloat>(
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
    let (width, kernel) = if n <= spec.lanes { (spec.lanes, spec.narrow[0]) } else { (2 * spec.lanes, spec.narrow[1]) };
    let c_ptr = SendPtr(c);
    with_scratch(Slot::PackB, |scratch| {
        let bp = scratch.slice::<T>(k * width);
        pack::pack_b_panel(bp.as_mut_ptr(), b, 0, k, 0, n, width, 0);
        let bp = &*bp;
        let rows = |t: usize| {
            let i0 = t * NARROW_MR;
            let at = MatPtr { ptr: a.at(i0, 0), ..a };
            kernel(
                k,
                at,
                bp.as_ptr(),
                c_ptr.get().offset(i0 as isize * rsc),
                rsc,
                csc,
                NARROW_MR.min(m - i0),
                n,
                accumulate,
            );
        };
        let tiles = m.div_ceil(NARROW_MR);
        if threads > 1 {
            parallel::for_each(tiles, rows);
        } else {
            (0..tiles).for_each(rows);
        }
    })
}

/// Rows of B per slice in [`wide`] (32 KiB of `f32` at four registers' width).
const WIDE_KC: usize = 128;

/// Products with at most four registers of columns, on `kernel`: A read in
/// place [`WIDE_MR`] rows at a time, rows split over threads. B is read in
/// place when it is row-major and exactly four registers wide (a weight
/// gradient's output gradient, `x·W` with 64 units), else packed once into
/// one zero-padded sliver. No operand is copied in full, which is what such
/// products cost most when k or m is short.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn wide<T: GemmFloat>(
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
    kernel: WideFn<T>,
    lanes: usize,
) {
    let width = 4 * lanes;
    let c_ptr = SendPtr(c);
    let tiles = m.div_ceil(WIDE_MR);
    // One group of row tiles per thread; a group meets B a slice of WIDE_KC rows at a
    // time, which stays in L1 while each of its tiles reads it.
    let groups = tiles.min(threads.max(1));
    let per = tiles.div_ceil(groups);
    let run = |bp: *const T, ldb: usize| {
        let bp = SendPtr(bp as *mut T);
        let group = |g: usize| {
            for pc in (0..k).step_by(WIDE_KC) {
                let kc = WIDE_KC.min(k - pc);
                for t in g * per..((g + 1) * per).min(tiles) {
                    let i0 = t * WIDE_MR;
                    let at = MatPtr { ptr: a.at(i0, pc), ..a };
                    let c_tile = c_ptr.get().offset(i0 as isize * rsc);
                    let rows = WIDE_MR.min(m - i0);
                    kernel(kc, at, bp.get().add(pc * ldb), ldb, c_tile, rsc, csc, rows, n, accumulate || pc > 0);
                }
            }
        };
        if groups > 1 {
            parallel::for_each(groups, group);
        } else {
            group(0);
        }
    };
    if n == width && b.cs == 1 && b.rs > 0 {
        run(b.ptr, b.rs as usize);
    } else {
        with_scratch(Slot::PackB, |scratch| {
            let bp = scratch.slice::<T>(k * width);
            pack::pack_b_panel(bp.as_mut_ptr(), b, 0, k, 0, n, width, 0);
            run(bp.as_ptr(), width);
        })
    }
}

/// Products with a short A (a dense layer at batch ≤ 256): A is packed once,
/// all of k, and shared by the threads, which take groups of B's `nr`-wide
/// panels (several groups per thread so a busy core can fall behind). Each
/// panel is packed one k slice at a time into a buffer that stays in the
/// thread's L1/L2 while every row tile of A meets it, so B is read from memory
/// exactly once, contiguously, whatever its layout or row stride (reading a
/// row-major B in place instead walks one cache-set-aliased line pair per k step).
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn short_a<T: GemmFloat>(
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
    let Spec { mr, nr, kc: kc_max, .. } = spec;
    let m_pad = m.next_multiple_of(mr);
    let panels = n.div_ceil(nr);
    let c_ptr = SendPtr(c);
    with_scratch(Slot::PackA, |scratch_a| {
        // Slice `pc` of A (kc wide) starts at `m_pad·pc`, sliver `ir` at `+ ir·kc`.
        let ap = scratch_a.slice::<T>(m_pad * k);
        for pc in (0..k).step_by(kc_max) {
            pack::pack_a(&mut ap[m_pad * pc..], a, 0, m, pc, kc_max.min(k - pc), mr);
        }
        let ap = &*ap;
        let run_panels = |range: std::ops::Range<usize>| {
            with_scratch(Slot::PackB, |scratch_b| {
                let bp = scratch_b.slice::<T>(kc_max.min(k) * nr);
                for q in range {
                    let jr = q * nr;
                    let cols = nr.min(n - jr);
                    // A full panel of a row-major B is packed by the first row
                    // tile's kernel as it reads it; any other is packed first.
                    let on_the_fly = cols == nr && b.cs == 1;
                    for pc in (0..k).step_by(kc_max) {
                        let kc = kc_max.min(k - pc);
                        let acc = accumulate || pc > 0;
                        let mut ir0 = 0;
                        if on_the_fly {
                            (spec.kernel_packing)(
                                kc,
                                ap.as_ptr().add(m_pad * pc),
                                b.at(pc, jr),
                                b.rs as usize,
                                bp.as_mut_ptr(),
                                c_ptr.get().offset(jr as isize * csc),
                                rsc,
                                csc,
                                mr.min(m),
                                cols,
                                acc,
                            );
                            ir0 = mr;
                        } else {
                            pack::pack_b_panel(bp.as_mut_ptr(), b, pc, kc, jr, cols, nr, 0);
                        }
                        for ir in (ir0..m).step_by(mr) {
                            let c_tile = c_ptr.get().offset(ir as isize * rsc + jr as isize * csc);
                            (spec.kernel)(
                                kc,
                                ap.as_ptr().add(m_pad * pc + ir * kc),
                                bp.as_ptr(),
                                c_tile,
                                rsc,
                                csc,
                                mr.min(m - ir),
                                cols,
                                acc,
                            );
                        }
                    }
                }
            })
        };
        if threads > 1 && panels > 1 {
            let groups = panels.min(4 * threads);
            let per = panels.div_ceil(groups);
            let groups = panels.div_ceil(per);
            parallel::for_each(groups, |g| run_panels(g * per..((g + 1) * per).min(panels)));
        } else {
            run_panels(0..panels);
        }
    })
}
