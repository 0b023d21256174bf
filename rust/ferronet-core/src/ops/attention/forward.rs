//! The forward pass: per (batch, head, query block), blocks of `W` query rows
//! in the lanes of a register, keys visited in tiles of [`KT`] with an online
//! softmax (one tile covers every key of most rows, and then nothing is
//! rescaled).

use super::lanes::{axpy_cols, dots, lane_row, transpose_rows, Block, Rows};
use super::{check, isa, key_end, Attention, Logits, KT};
use crate::error::{shape_err, Result};
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{self, MulAdd, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use std::marker::PhantomData;

/// Fewest query rows per forward unit.
const QB_MIN: usize = 32;

struct Forward<'a, T, M, V, const W: usize> {
    a: Attention<'a, T>,
    logits: Logits<'a, T>,
    out: SendPtr<T>,
    lse: SendPtr<T>,
    blocks: usize,
    /// Query rows per unit (a multiple of `W`).
    qb: usize,
    ma: PhantomData<(M, fn() -> V)>,
}

impl<T: VFloat, M: MulAdd, V: Block<T>, const W: usize> Body for Forward<'_, T, M, V, W> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let d = self.a.dims;
        // Per thread: the transposed queries, the output sums and one tile of scores.
        let (mut qt, mut ot) = (vec![T::ZERO; d.dk * W], vec![T::ZERO; d.dv * W]);
        let mut st = vec![T::ZERO; KT.min(d.tk) * W];
        for u in lo..hi {
            let (bh, blk) = (u / self.blocks, u % self.blocks);
            let (i0, i1) = (blk * self.qb, ((blk + 1) * self.qb).min(d.tq));
            for r0 in (i0..i1).step_by(W) {
                self.block(bh / d.heads, bh % d.heads, r0, (i1 - r0).min(W), &mut qt, &mut ot, &mut st);
            }
        }
    }
}

impl<T: VFloat, M: MulAdd, V: Block<T>, const W: usize> Forward<'_, T, M, V, W> {
    /// Query rows `r0 .. r0 + nl` of head `h` in batch `b` (lanes past `nl` repeat the last row).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn block(&self, b: usize, h: usize, r0: usize, nl: usize, qt: &mut [T], ot: &mut [T], st: &mut [T]) {
        let (a, w) = (&self.a, W);
        let d = a.dims;
        let kv = Rows { data: &a.k[(b * d.tk * d.heads + h) * d.dk..], rs: d.heads * d.dk };
        let vv = Rows { data: &a.v[(b * d.tk * d.heads + h) * d.dv..], rs: d.heads * d.dv };
        // The block's scaled queries, transposed (lanes past nl repeat the last row).
        let iq: [i32; W] = std::array::from_fn(|l| (l.min(nl - 1) * d.heads * d.dk) as i32);
        transpose_rows::<T, V>(&a.q[((b * d.tq + r0) * d.heads + h) * d.dk..], &iq, &[a.scale; W], qt);
        ot.fill(T::ZERO);
        let (mut m, mut sum) = ([T::NEG_INFINITY; W], [T::ZERO; W]);
        let kend = key_end(a.causal, r0 + nl - 1, d.tk);
        for t0 in (0..kend).step_by(KT) {
            let st = &mut st[..KT.min(kend - t0) * w];
            dots::<T, V>(qt, kv, t0, st);
            self.logits.apply_lanes(st, w, b, h, r0, nl, t0, a.causal);
            let mut mt = m;
            for s in st.as_chunks::<W>().0 {
                for l in 0..W {
                    mt[l] = if s[l] > mt[l] { s[l] } else { mt[l] };
                }
            }
            if t0 > 0 {
                // Rescale what was accumulated under the old maximum (nothing yet where it is -inf).
                let alpha: [T; W] = std::array::from_fn(|l| {
                    if m[l] == T::NEG_INFINITY {
                        T::ZERO
                    } else {
                        vmath::exp_nonpos::<M, T>(m[l] - mt[l])
                    }
                });
                if alpha.iter().any(|&x| x != T::ONE) {
                    for o in ot.as_chunks_mut::<W>().0 {
                        for l in 0..W {
                            o[l] *= alpha[l];
                        }
                    }
                    for l in 0..W {
                        sum[l] *= alpha[l];
                    }
                }
            }
            m = mt;
            // A lane that has seen no key yet subtracts 0: its exponentials are all 0.
            let ms: [T; W] = std::array::from_fn(|l| if m[l] == T::NEG_INFINITY { T::ZERO } else { m[l] });
            for s in st.as_chunks_mut::<W>().0 {
                for l in 0..W {
                    s[l] = vmath::exp_nonpos::<M, T>(s[l] - ms[l]);
                    sum[l] += s[l];
                }
            }
            axpy_cols::<T, V>(st, vv, t0, ot);
        }
        for l in 0..nl {
            let i = r0 + l;
            let at = (b * d.tq + i) * d.heads + h;
            // SAFETY: query rows of head h in batch b from this unit's block belong to it.
            let (out, lse) = unsafe {
                (
                    std::slice::from_raw_parts_mut(self.out.get().add(at * d.dv), d.dv),
                    &mut *self.lse.get().add((b * d.heads + h) * d.tq + i),
                )
            };
            if sum[l] > T::ZERO {
                lane_row::<T, V>(ot, l, T::ONE / sum[l], out);
                *lse = m[l] + sum[l].ln();
            } else {
                uniform(a, b, h, out);
                *lse = T::from_f64(f64::INFINITY);
            }
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
    out.iter_mut().for_each(|x| *x *= inv);
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
    let (out, lse) = (SendPtr(out.as_mut_ptr()), SendPtr(lse.as_mut_ptr()));
    macro_rules! go {
        ($m:ty, $v:ty, $w:literal) => {
            run::<T, $m, $v, $w>(isa, a, logits, out, lse)
        };
    }
    on_registers!(isa, T, go);
    Ok(())
}

/// The forward on registers `V` of `W` lanes (`W == V::W`).
fn run<T: VFloat, M: MulAdd, V: Block<T>, const W: usize>(
    isa: Isa,
    a: &Attention<'_, T>,
    logits: Logits<'_, T>,
    out: SendPtr<T>,
    lse: SendPtr<T>,
) {
    assert_eq!(V::W, W, "attention: register width");
    let d = a.dims;
    // As few units as keep every thread busy (rows are computed alike in any block,
    // so the split never changes a result).
    let want = 4 * crate::parallel::num_threads();
    let qb = (d.tq * d.batch * d.heads).div_ceil(want).max(QB_MIN).min(d.tq.max(1)).next_multiple_of(W);
    let blocks = d.tq.div_ceil(qb);
    let units = d.batch * d.heads * blocks;
    let cost = qb.min(d.tq) * d.tk * (d.dk + d.dv);
    let body = Forward::<T, M, V, W> { a: *a, logits, out, lse, blocks, qb, ma: PhantomData };
    sweep(isa, units, 1, cost, &body);
}

/// Attention forward: writes `out` `(batch, tq, heads, dv)` and each query
/// row's log-sum-exp of its logits into `lse` `(batch, heads, tq)` (`+inf`
/// for a row that sees no key), which [`super::attention_backward`] takes.
pub fn attention_forward<T: VFloat>(a: &Attention<'_, T>, out: &mut [T], lse: &mut [T]) -> Result<()> {
    forward_on(isa(), a, out, lse)
}
