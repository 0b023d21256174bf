//! The backward pass: per (batch, head), scores recomputed tile by tile from
//! the forward's log-sum-exp.
//!
//! With `P = softmax(S)`, `dP = dO·Vᵀ` and `Δ_i = dO_i·O_i`, the logit
//! gradient is `dS = P ∘ (dP - Δ)`; then `dQ = scale·dS·K`, `dK = dSᵀ·(scale·Q)`
//! and `dV = Pᵀ·dO`. A unit owns a whole (batch, head): `dK` and `dV` sum over
//! every query row, and one owner keeps that sum in one order.

use super::{check, gather, gather_t, isa, key_end, rows_times_rows, tile_dot_rows, tile_exp, tile_outer_rows};
use super::{Attention, Logits, KT};
use crate::error::Result;
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use std::marker::PhantomData;

/// Query rows computed together.
const R: usize = 4;

/// The backward's read-only inputs besides the forward's operands.
#[derive(Clone, Copy)]
struct Saved<'a, T> {
    out: &'a [T],
    lse: &'a [T],
    dout: &'a [T],
}

struct Backward<'a, T, M> {
    a: Attention<'a, T>,
    logits: Logits<'a, T>,
    saved: Saved<'a, T>,
    dq: SendPtr<T>,
    dk: SendPtr<T>,
    dv: SendPtr<T>,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for Backward<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        for u in lo..hi {
            self.unit(u);
        }
    }
}

impl<T: VFloat, M: MulAdd> Backward<'_, T, M> {
    #[inline(always)]
    fn unit(&self, u: usize) {
        let (a, sv) = (&self.a, &self.saved);
        let d = a.dims;
        let (b, h) = (u / d.heads, u % d.heads);
        let tp = d.tk_padded();
        let inf = T::from_f64(f64::INFINITY);
        let kt = gather_t(a.k, b, h, d.tk, d.heads, d.dk, tp, d.tk);
        let kr = gather(a.k, b, h, d.tk, d.heads, d.dk, tp, d.tk);
        let vt = gather_t(a.v, b, h, d.tk, d.heads, d.dv, tp, d.tk);
        // dKᵀ and dVᵀ of this head, token columns.
        let (mut dkt, mut dvt) = (vec![T::ZERO; d.dk * tp], vec![T::ZERO; d.dv * tp]);
        // STAGE: R query rows at a time share every load of the key and value tiles and
        // every read-modify-write of dKᵀ and dVᵀ (the last group repeats its last row with
        // a zero output gradient, so the copies add nothing).
        let (mut qs, mut go, mut dq) = (vec![T::ZERO; R * d.dk], vec![T::ZERO; R * d.dv], vec![T::ZERO; R * d.dk]);
        let (mut s, mut p, mut dp) = ([[T::ZERO; KT]; R], [[T::ZERO; KT]; R], [[T::ZERO; KT]; R]);
        let uniform = T::ONE / T::from_usize(d.tk);
        for g0 in (0..d.tq).step_by(R) {
            let rows: [usize; R] = std::array::from_fn(|r| (g0 + r).min(d.tq - 1));
            let mut lse = [T::ZERO; R];
            let mut delta = [T::ZERO; R];
            let mut kmax = 0;
            for (r, &i) in rows.iter().enumerate() {
                let row = (b * d.tq + i) * d.heads + h;
                for (o, &x) in qs[r * d.dk..][..d.dk].iter_mut().zip(&a.q[row * d.dk..][..d.dk]) {
                    *o = x * a.scale;
                }
                let real = g0 + r < d.tq;
                let g = &mut go[r * d.dv..][..d.dv];
                g.copy_from_slice(&sv.dout[row * d.dv..][..d.dv]);
                if !real {
                    g.iter_mut().for_each(|x| *x = T::ZERO);
                }
                delta[r] = dot(g, &sv.out[row * d.dv..][..d.dv]);
                lse[r] = sv.lse[(b * d.heads + h) * d.tq + i];
                // A row that saw no key had the mean of all values.
                kmax = kmax.max(if lse[r] == inf { d.tk } else { key_end(a.causal, i, d.tk) });
            }
            dq.iter_mut().for_each(|x| *x = T::ZERO);
            for j0 in (0..kmax).step_by(KT) {
                // STAGE: P of this tile, from the recomputed logits.
                tile_dot_rows::<M, T, R>(&qs, d.dk, &kt, tp, j0, &mut s);
                // STAGE: dS = P ∘ (dO·Vᵀ - Δ).
                tile_dot_rows::<M, T, R>(&go, d.dv, &vt, tp, j0, &mut dp);
                for r in 0..R {
                    if lse[r] == inf {
                        for (j, (pj, dj)) in p[r].iter_mut().zip(dp[r].iter_mut()).enumerate() {
                            *pj = if j0 + j < d.tk { uniform } else { T::ZERO };
                            *dj = T::ZERO;
                        }
                        continue;
                    }
                    self.logits.apply(&mut s[r], b, h, rows[r], j0, key_end(a.causal, rows[r], d.tk));
                    tile_exp::<M, T>(&s[r], lse[r], &mut p[r]);
                    for j in 0..KT {
                        dp[r][j] = p[r][j] * (dp[r][j] - delta[r]);
                    }
                }
                rows_times_rows::<M, T, R>(&mut dq, &dp, &kr, j0);
                tile_outer_rows::<M, T, R>(&qs, d.dk, &dp, &mut dkt, tp, j0);
                tile_outer_rows::<M, T, R>(&go, d.dv, &p, &mut dvt, tp, j0);
            }
            for (r, &i) in rows.iter().enumerate().take(d.tq - g0) {
                let row = (b * d.tq + i) * d.heads + h;
                // SAFETY: row `row` of dq belongs to this unit's (b, h).
                let out = unsafe { std::slice::from_raw_parts_mut(self.dq.get().add(row * d.dk), d.dk) };
                for (o, &x) in out.iter_mut().zip(&dq[r * d.dk..][..d.dk]) {
                    *o = x * a.scale;
                }
            }
        }
        // STAGE: dKᵀ, dVᵀ back to the (batch, tokens, heads, dim) layout.
        for j in 0..d.tk {
            let row = (b * d.tk + j) * d.heads + h;
            // SAFETY: key rows of head h in batch b belong to this unit.
            let (gk, gv) = unsafe {
                (
                    std::slice::from_raw_parts_mut(self.dk.get().add(row * d.dk), d.dk),
                    std::slice::from_raw_parts_mut(self.dv.get().add(row * d.dv), d.dv),
                )
            };
            for (c, o) in gk.iter_mut().enumerate() {
                *o = dkt[c * tp + j];
            }
            for (c, o) in gv.iter_mut().enumerate() {
                *o = dvt[c * tp + j];
            }
        }
    }
}

/// Σ a·b in index order.
#[inline(always)]
fn dot<T: VFloat>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::ZERO, |s, (&x, &y)| s + x * y)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn backward_on<T: VFloat>(
    isa: Isa,
    a: &Attention<'_, T>,
    out: &[T],
    lse: &[T],
    dout: &[T],
    dq: &mut [T],
    dk: &mut [T],
    dv: &mut [T],
) -> Result<()> {
    let d = a.dims;
    let lens = [
        ("out", out.len(), d.out_len()),
        ("lse", lse.len(), d.lse_len()),
        ("dout", dout.len(), d.out_len()),
        ("dq", dq.len(), d.q_len()),
        ("dk", dk.len(), d.k_len()),
        ("dv", dv.len(), d.v_len()),
    ];
    let logits = check("attention_backward", a, &lens)?;
    dq.iter_mut().for_each(|x| *x = T::ZERO);
    dk.iter_mut().for_each(|x| *x = T::ZERO);
    dv.iter_mut().for_each(|x| *x = T::ZERO);
    if d.tq == 0 || d.tk == 0 {
        return Ok(());
    }
    let saved = Saved { out, lse, dout };
    let (dq, dk, dv) = (SendPtr(dq.as_mut_ptr()), SendPtr(dk.as_mut_ptr()), SendPtr(dv.as_mut_ptr()));
    let cost = d.tq * d.tk * (3 * d.dk + 2 * d.dv);
    if has_fma(isa) {
        let body = Backward { a: *a, logits, saved, dq, dk, dv, ma: PhantomData::<Fused> };
        sweep(isa, d.batch * d.heads, 1, cost, &body);
    } else {
        let body = Backward { a: *a, logits, saved, dq, dk, dv, ma: PhantomData::<Plain> };
        sweep(isa, d.batch * d.heads, 1, cost, &body);
    }
    Ok(())
}

/// Attention backward: from the forward's `out` and `lse` and the output
/// gradient `dout`, writes `dq`, `dk`, `dv` (shaped like `q`, `k`, `v`).
/// The mask and bias get no gradient.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward<T: VFloat>(
    a: &Attention<'_, T>,
    out: &[T],
    lse: &[T],
    dout: &[T],
    dq: &mut [T],
    dk: &mut [T],
    dv: &mut [T],
) -> Result<()> {
    backward_on(isa(), a, out, lse, dout, dq, dk, dv)
}
