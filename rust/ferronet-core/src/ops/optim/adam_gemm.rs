//! A GEMM whose result is used in registers instead of stored: a dense
//! layer's weight gradient `G = Xᵀ·dY` applied as an Adam step to the
//! weights and their moments tile by tile, so G never exists in memory and
//! the optimizer's pass over the weights overlaps the arithmetic.

use super::adam::{adam_plain, AdamCoef};
use crate::gemm::{self, gemm, GemmFloat, MatPtr};
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd;
use crate::workspace::{with_scratch, Slot};

/// Rows of G per parallel block (whole register tiles).
const BLOCK_ROWS: usize = 48;

struct AdamGemm<'a, T> {
    a: MatPtr<T>,
    bp: &'a [T],
    n: usize,
    k: usize,
    p: SendPtr<T>,
    m: SendPtr<T>,
    v: SendPtr<T>,
    coef: AdamCoef<T>,
}

impl<T: GemmFloat> Body for AdamGemm<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let spec = T::spec(simd::active());
        let (mr, nr, n, k) = (spec.mr, spec.nr, self.n, self.k);
        with_scratch(Slot::PackA, |s| {
            let rows = hi - lo;
            let ap = s.slice::<T>(rows.next_multiple_of(mr) * k);
            // SAFETY: rows lo..hi of A are valid (the caller's contract).
            unsafe { gemm::pack_a(ap, self.a, lo, rows, 0, k, mr) };
            with_scratch(Slot::Im2col, |gs| {
                // One strip of `mr` full rows of G at a time (L1-sized), then one
                // Adam pass over those rows, which are contiguous in the parameters
                // and moments: long sequential streams the prefetchers follow.
                let g = gs.slice::<T>(mr * n.next_multiple_of(nr));
                let ld = n.next_multiple_of(nr);
                for ir in (0..rows).step_by(mr) {
                    let strip = mr.min(rows - ir);
                    for q in 0..n.div_ceil(nr) {
                        // SAFETY: the strip buffer holds mr rows of ld ≥ (q+1)·nr values.
                        unsafe {
                            (spec.kernel)(
                                k,
                                ap.as_ptr().add(ir * k),
                                self.bp.as_ptr().add(q * k * nr),
                                g.as_mut_ptr().add(q * nr),
                                ld as isize,
                                1,
                                mr,
                                nr,
                                false,
                            )
                        };
                    }
                    let at = (lo + ir) * n;
                    let len = strip * n;
                    // SAFETY: rows lo+ir.. of the parameters belong to this block.
                    let (p, m, v) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(self.p.get().add(at), len),
                            std::slice::from_raw_parts_mut(self.m.get().add(at), len),
                            std::slice::from_raw_parts_mut(self.v.get().add(at), len),
                        )
                    };
                    if ld == n {
                        adam_plain(p, &g[..len], m, v, &self.coef);
                    } else {
                        for i in 0..strip {
                            let r = i * n..(i + 1) * n;
                            let (p, m, v) = (&mut p[r.clone()], &mut m[r.clone()], &mut v[r]);
                            adam_plain(p, &g[i * ld..i * ld + n], m, v, &self.coef);
                        }
                    }
                }
            })
        })
    }
}

/// One Adam step on the row-major `m × n` parameters `p` (moments `mom`,
/// `vel`) with gradient `A·B` (`A` m × k, `B` k × n), the gradient consumed
/// tile by tile in registers. Each element gets exactly the update the
/// stand-alone Adam kernel would apply to the stored product.
///
/// # Safety
/// A and B must be valid for reads, `p`, `mom`, `vel` for `m·n` reads and
/// writes, none overlapping another.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm_adam<T: GemmFloat>(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    p: *mut T,
    mom: *mut T,
    vel: *mut T,
    coef: &AdamCoef<T>,
) {
    if m == 0 || n == 0 {
        return;
    }
    let isa = simd::active();
    let spec = T::spec(isa);
    let (p, mom, vel) = (SendPtr(p), SendPtr(mom), SendPtr(vel));
    if k > spec.kc || m * n * k <= gemm::SMALL {
        // A long batch (the product is summed in k slices) or a tiny product
        // (summed by a plain loop): store it first, as `gemm` would.
        return with_scratch(Slot::Partial, |s| {
            let g = s.slice::<T>(m * n);
            gemm(m, n, k, a, b, g.as_mut_ptr(), n as isize, 1, false);
            let g = &*g;
            let body = Slices { g, p, m: mom, v: vel, coef: *coef };
            sweep(isa, m * n, 1 << 14, 5, &body);
        });
    }
    with_scratch(Slot::PackB, |s| {
        let panels = n.div_ceil(spec.nr);
        let bp = s.slice::<T>(panels * k * spec.nr);
        for q in 0..panels {
            gemm::pack_b_panel(bp.as_mut_ptr(), b, 0, k, 0, n, spec.nr, q);
        }
        let body = AdamGemm { a, bp, n, k, p, m: mom, v: vel, coef: *coef };
        sweep(isa, m, BLOCK_ROWS.next_multiple_of(spec.mr), n * k, &body);
    })
}

/// The stand-alone update over a stored gradient (the long-batch fallback).
struct Slices<'a, T> {
    g: &'a [T],
    p: SendPtr<T>,
    m: SendPtr<T>,
    v: SendPtr<T>,
    coef: AdamCoef<T>,
}

impl<T: GemmFloat> Body for Slices<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint ranges of equally long buffers.
        let part = |x: SendPtr<T>| unsafe { std::slice::from_raw_parts_mut(x.get().add(lo), hi - lo) };
        adam_plain(part(self.p), &self.g[lo..hi], part(self.m), part(self.v), &self.coef);
    }
}
