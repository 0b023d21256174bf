//! The backward pass: per (batch, head), scores recomputed tile by tile from
//! the forward's log-sum-exp.
//!
//! With `P = softmax(S)`, `dP = dO·Vᵀ` and `Δ_i = dO_i·O_i`, the logit
//! gradient is `dS = P ∘ (dP - Δ)`; then `dQ = scale·dS·K`, `dK = dSᵀ·(scale·Q)`
//! and `dV = Pᵀ·dO`. A unit owns a whole (batch, head): `dK` and `dV` sum over
//! every query row, and one owner keeps that sum in one order.

use super::{check, gather, gather_t, isa, key_end, rows_times, tile_dot, tile_exp, tile_outer};
use super::{Attention, Logits, KT};
use crate::error::Result;
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use std::marker::PhantomData;

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
        let (mut qs, mut dq) = (vec![T::ZERO; d.dk], vec![T::ZERO; d.dk]);
        let (mut s, mut p, mut dp) = ([T::ZERO; KT], [T::ZERO; KT], [T::ZERO; KT]);
        for i in 0..d.tq {
            let row = (b * d.tq + i) * d.heads + h;
            let qrow = &a.q[row * d.dk..][..d.dk];
            let go = &sv.dout[row * d.dv..][..d.dv];
            let lse = sv.lse[(b * d.heads + h) * d.tq + i];
            if lse == inf {
                // A row that saw no key: out is the mean of all values.
                let w = T::ONE / T::from_usize(d.tk);
                let wt = [w; KT];
                for j0 in (0..d.tk).step_by(KT) {
                    tile_outer::<M, T>(go, &wt, &mut dvt, tp, j0);
                }
                continue;
            }
            for (o, &x) in qs.iter_mut().zip(qrow) {
                *o = x * a.scale;
            }
            let delta = dot(go, &sv.out[row * d.dv..][..d.dv]);
            dq.iter_mut().for_each(|x| *x = T::ZERO);
            let kend = key_end(a.causal, i, d.tk);
            for j0 in (0..kend).step_by(KT) {
                // STAGE: P of this tile, from the recomputed logits.
                tile_dot::<M, T>(&qs, &kt, tp, j0, &mut s);
                self.logits.apply(&mut s, b, h, i, j0, kend);
                tile_exp::<M, T>(&s, lse, &mut p);
                // STAGE: dS = P ∘ (dO·Vᵀ - Δ).
                tile_dot::<M, T>(go, &vt, tp, j0, &mut dp);
                for j in 0..KT {
                    dp[j] = p[j] * (dp[j] - delta);
                }
                rows_times::<M, T>(&mut dq, &dp, &kr, j0);
                tile_outer::<M, T>(&qs, &dp, &mut dkt, tp, j0);
                tile_outer::<M, T>(go, &p, &mut dvt, tp, j0);
            }
            // SAFETY: row `row` of dq belongs to this unit's (b, h).
            let out = unsafe { std::slice::from_raw_parts_mut(self.dq.get().add(row * d.dk), d.dk) };
            for (o, &x) in out.iter_mut().zip(&dq) {
                *o = x * a.scale;
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
