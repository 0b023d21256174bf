//! The forward pass: per (batch, head, query block), keys visited tile by
//! tile with an online softmax.

use super::{
    check, gather, gather_t, halve, isa, key_end, rows_times_rows, tile_dot_rows, tile_exp, tile_max, tile_sum,
};
use super::{Attention, Logits, KT, ROW_KEYS};
use crate::error::{shape_err, Result};
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{self, has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use std::marker::PhantomData;

/// Fewest query rows per forward unit.
const QB_MIN: usize = 32;
/// Query rows computed together.
const R: usize = 4;

struct Forward<'a, T, M> {
    a: Attention<'a, T>,
    logits: Logits<'a, T>,
    out: SendPtr<T>,
    lse: SendPtr<T>,
    blocks: usize,
    /// Query rows per unit.
    qb: usize,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for Forward<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        for u in lo..hi {
            self.unit(u);
        }
    }
}

impl<T: VFloat, M: MulAdd> Forward<'_, T, M> {
    #[inline(always)]
    fn unit(&self, u: usize) {
        let a = &self.a;
        let d = a.dims;
        let (bh, blk) = (u / self.blocks, u % self.blocks);
        let (b, h) = (bh / d.heads, bh % d.heads);
        let (i0, i1) = (blk * self.qb, ((blk + 1) * self.qb).min(d.tq));
        let tp = d.tk_padded();
        // Keys this block can see at most.
        let upto = key_end(a.causal, i1 - 1, d.tk);
        let kt = gather_t(a.k, b, h, d.tk, d.heads, d.dk, tp, upto);
        let vr = gather(a.v, b, h, d.tk, d.heads, d.dv, tp, upto);
        // STAGE: R query rows at a time share every load of the key and value tiles
        // (the last group repeats its last row and drops the copies).
        let (mut qs, mut acc) = (vec![T::ZERO; R * d.dk], vec![T::ZERO; R * d.dv]);
        let (mut s, mut p) = ([[T::ZERO; KT]; R], [[T::ZERO; KT]; R]);
        let whole = upto.div_ceil(KT) * KT <= ROW_KEYS;
        // Whole rows: row r's scores at scores[r·len ..], len = the visible keys padded to tiles.
        let mut scores = vec![T::ZERO; if whole { upto.div_ceil(KT) * KT * R } else { 0 }];
        for g0 in (i0..i1).step_by(R) {
            let rows: [usize; R] = std::array::from_fn(|r| (g0 + r).min(i1 - 1));
            for (r, &i) in rows.iter().enumerate() {
                let qrow = &a.q[((b * d.tq + i) * d.heads + h) * d.dk..][..d.dk];
                for (o, &x) in qs[r * d.dk..][..d.dk].iter_mut().zip(qrow) {
                    *o = x * a.scale;
                }
            }
            acc.iter_mut().for_each(|x| *x = T::ZERO);
            let (mut m, mut l) = ([T::NEG_INFINITY; R], [T::ZERO; R]);
            let kend: [usize; R] = rows.map(|i| key_end(a.causal, i, d.tk));
            if whole {
                self.whole_rows(b, h, &rows, &kend, &qs, &kt, &vr, &mut scores, &mut acc, &mut m, &mut l);
            }
            for j0 in (0..if whole { 0 } else { kend[R - 1] }).step_by(KT) {
                tile_dot_rows::<M, T, R>(&qs, d.dk, &kt, tp, j0, &mut s);
                for r in 0..R {
                    self.logits.apply(&mut s[r], b, h, rows[r], j0, kend[r]);
                    let mt = tile_max(&s[r]);
                    if mt == T::NEG_INFINITY {
                        p[r] = [T::ZERO; KT];
                        continue;
                    }
                    // Rescale what was accumulated under the old maximum.
                    let m_new = if mt > m[r] { mt } else { m[r] };
                    if m_new != m[r] {
                        let alpha = vmath::exp::<M, T>(m[r] - m_new);
                        l[r] *= alpha;
                        acc[r * d.dv..][..d.dv].iter_mut().for_each(|x| *x *= alpha);
                        m[r] = m_new;
                    }
                    tile_exp::<M, T>(&s[r], m[r], &mut p[r]);
                    l[r] += tile_sum(&p[r]);
                }
                rows_times_rows::<M, T, R>(&mut acc, &p, &vr, j0);
            }
            for (r, &i) in rows.iter().enumerate().take(i1 - g0) {
                let at = (b * d.tq + i) * d.heads + h;
                // SAFETY: query rows i0..i1 of head h in batch b belong to this unit.
                let (out, lse) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(self.out.get().add(at * d.dv), d.dv),
                        &mut *self.lse.get().add((b * d.heads + h) * d.tq + i),
                    )
                };
                if l[r] > T::ZERO {
                    let inv = T::ONE / l[r];
                    for (o, &x) in out.iter_mut().zip(&acc[r * d.dv..][..d.dv]) {
                        *o = x * inv;
                    }
                    *lse = m[r] + l[r].ln();
                } else {
                    uniform(a, b, h, out);
                    *lse = T::from_f64(f64::INFINITY);
                }
            }
        }
    }
}

impl<T: VFloat, M: MulAdd> Forward<'_, T, M> {
    /// The softmax-weighted values of `R` query rows whose visible keys all fit in `scores`:
    /// every score first, then per row one maximum `m`, the exponentials and their sum `l`,
    /// then the products with the values into `acc` (`m` stays -inf for a row that sees no key).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn whole_rows(
        &self,
        b: usize,
        h: usize,
        rows: &[usize; R],
        kend: &[usize; R],
        qs: &[T],
        kt: &[T],
        vr: &[T],
        scores: &mut [T],
        acc: &mut [T],
        m: &mut [T; R],
        l: &mut [T; R],
    ) {
        let (d, tp) = (self.a.dims, self.a.dims.tk_padded());
        let tiles = kend[R - 1].div_ceil(KT);
        let len = scores.len() / R;
        let mut s = [[T::ZERO; KT]; R];
        for t in 0..tiles {
            tile_dot_rows::<M, T, R>(qs, d.dk, kt, tp, t * KT, &mut s);
            for r in 0..R {
                self.logits.apply(&mut s[r], b, h, rows[r], t * KT, kend[r]);
                scores[r * len + t * KT..][..KT].copy_from_slice(&s[r]);
            }
        }
        // Each row in flat passes over all its keys (loops long enough to keep their constants in registers).
        for r in 0..R {
            let row = &mut scores[r * len..][..tiles * KT];
            let mut mx = [T::NEG_INFINITY; 16];
            for c in row.chunks_exact(16) {
                for g in 0..16 {
                    mx[g] = if c[g] > mx[g] { c[g] } else { mx[g] };
                }
            }
            m[r] = halve(&mut mx, |a, b| if b > a { b } else { a });
            if m[r] == T::NEG_INFINITY {
                row.fill(T::ZERO);
                continue;
            }
            let mr = m[r];
            row.iter_mut().for_each(|x| *x = vmath::exp::<M, T>(*x - mr));
            let mut sum = [T::ZERO; 16];
            for c in row.chunks_exact(16) {
                for g in 0..16 {
                    sum[g] += c[g];
                }
            }
            l[r] = halve(&mut sum, |a, b| a + b);
        }
        for t in 0..tiles {
            for r in 0..R {
                s[r].copy_from_slice(&scores[r * len + t * KT..][..KT]);
            }
            rows_times_rows::<M, T, R>(acc, &s, vr, t * KT);
        }
    }
}

/// The output of a query row that sees no key: the mean of all values.
fn uniform<T: VFloat>(a: &Attention<'_, T>, b: usize, h: usize, out: &mut [T]) {
    let d = a.dims;
    out.iter_mut().for_each(|x| *x = T::ZERO);
    for j in 0..d.tk {
        for (o, &x) in out.iter_mut().zip(&a.v[((b * d.tk + j) * d.heads + h) * d.dv..][..d.dv]) {
            *o += x;
        }
    }
    let inv = T::ONE / T::from_usize(d.tk.max(1));
    out.iter_mut().for_each(|x| *x = *x * inv);
}

pub(super) fn forward_on<T: VFloat>(isa: Isa, a: &Attention<'_, T>, out: &mut [T], lse: &mut [T]) -> Result<()> {
    const OP: &str = "attention";
    let d = a.dims;
    let logits = check(OP, a, &[("out", out.len(), d.out_len()), ("lse", lse.len(), d.lse_len())])?;
    if d.tk == 0 && d.out_len() > 0 {
        return shape_err(OP, "attention needs at least one key. Received: keys=0");
    }
    if d.out_len() == 0 && d.lse_len() == 0 {
        return Ok(());
    }
    // Each unit gathers its head's keys and values: as few units as keep every thread busy
    // (rows are computed alike in any block, so the split never changes a result).
    let want = 4 * crate::parallel::num_threads();
    let qb = (d.tq * d.batch * d.heads).div_ceil(want).max(QB_MIN).min(d.tq.max(1)).next_multiple_of(R);
    let blocks = d.tq.div_ceil(qb);
    let units = d.batch * d.heads * blocks;
    let (out, lse) = (SendPtr(out.as_mut_ptr()), SendPtr(lse.as_mut_ptr()));
    let cost = qb.min(d.tq) * d.tk * (d.dk + d.dv);
    if has_fma(isa) {
        let body = Forward { a: *a, logits, out, lse, blocks, qb, ma: PhantomData::<Fused> };
        sweep(isa, units, 1, cost, &body);
    } else {
        let body = Forward { a: *a, logits, out, lse, blocks, qb, ma: PhantomData::<Plain> };
        sweep(isa, units, 1, cost, &body);
    }
    Ok(())
}

/// Attention forward: writes `out` `(batch, tq, heads, dv)` and each query
/// row's log-sum-exp of its logits into `lse` `(batch, heads, tq)` (`+inf`
/// for a row that sees no key), which [`super::attention_backward`] takes.
pub fn attention_forward<T: VFloat>(a: &Attention<'_, T>, out: &mut [T], lse: &mut [T]) -> Result<()> {
    forward_on(isa(), a, out, lse)
}
