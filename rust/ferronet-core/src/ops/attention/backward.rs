//! The backward pass: per (batch, head), blocks of `W` query rows in the
//! lanes of a register, scores recomputed tile by tile from the forward's
//! log-sum-exp.
//!
//! With `P = softmax(S)`, `dP = dO·Vᵀ` and `Δ_i = dO_i·O_i`, the logit
//! gradient is `dS = P ∘ (dP - Δ)`; then `dQ = scale·dS·K`, `dK = dSᵀ·(scale·Q)`
//! and `dV = Pᵀ·dO`. A unit owns a whole (batch, head): `dK` and `dV` sum over
//! every query row, and one owner keeps that sum in one order.

use super::lanes::{axpy_cols, dot_rows, dots, lane_row, outer, transpose_rows, Block, Rows};
use super::{check, isa, key_end, Attention, Logits, KT};
use crate::error::Result;
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{self, MulAdd, VFloat};
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

struct Backward<'a, T, M, V, const W: usize> {
    a: Attention<'a, T>,
    logits: Logits<'a, T>,
    saved: Saved<'a, T>,
    dq: SendPtr<T>,
    dk: SendPtr<T>,
    dv: SendPtr<T>,
    ma: PhantomData<(M, fn() -> V)>,
}

/// Per-thread buffers of one block of `W` query rows (tiles of `W` lanes).
struct Scratch<T> {
    /// Scaled queries, transposed (`dk × W`) and as `W` rows of `dk`.
    qt: Vec<T>,
    qr: Vec<T>,
    /// Output gradients, transposed (`dv × W`) and as `W` rows of `dv`.
    gt: Vec<T>,
    gr: Vec<T>,
    /// dQᵀ sums, `dk × W`.
    dqt: Vec<T>,
    /// One tile of probabilities and one of logit gradients, `KT × W` each.
    p: Vec<T>,
    ds: Vec<T>,
}

impl<T: VFloat, M: MulAdd, V: Block<T>, const W: usize> Body for Backward<'_, T, M, V, W> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (d, w) = (self.a.dims, W);
        let tile = KT.min(d.tk) * w;
        let mut sc = Scratch {
            qt: vec![T::ZERO; d.dk * w],
            qr: vec![T::ZERO; w * d.dk],
            gt: vec![T::ZERO; d.dv * w],
            gr: vec![T::ZERO; w * d.dv],
            dqt: vec![T::ZERO; d.dk * w],
            p: vec![T::ZERO; tile],
            ds: vec![T::ZERO; tile],
        };
        for u in lo..hi {
            for r0 in (0..d.tq).step_by(w) {
                self.block(u / d.heads, u % d.heads, r0, (d.tq - r0).min(w), &mut sc);
            }
        }
    }
}

impl<T: VFloat, M: MulAdd, V: Block<T>, const W: usize> Backward<'_, T, M, V, W> {
    /// Query rows `r0 .. r0 + nl` of head `h` in batch `b`: their `dq`, and their share of
    /// the head's `dk` and `dv`. Lanes past `nl` repeat the last query with a zero output
    /// gradient and count as rows that saw no key, so they add nothing.
    #[inline(always)]
    fn block(&self, b: usize, h: usize, r0: usize, nl: usize, sc: &mut Scratch<T>) {
        let (a, sv, w) = (&self.a, &self.saved, W);
        let d = a.dims;
        let inf = T::from_f64(f64::INFINITY);
        let (kbase, vbase) = ((b * d.tk * d.heads + h) * d.dk, (b * d.tk * d.heads + h) * d.dv);
        let kv = Rows { data: &a.k[kbase..], rs: d.heads * d.dk };
        let vv = Rows { data: &a.v[vbase..], rs: d.heads * d.dv };
        // The block's rows (lanes past nl repeat the last), as offsets from its first row.
        let first = (b * d.tq + r0) * d.heads + h;
        let (rq, rv) = (d.heads * d.dk, d.heads * d.dv);
        let iq: [i32; W] = std::array::from_fn(|l| (l.min(nl - 1) * rq) as i32);
        let iv: [i32; W] = std::array::from_fn(|l| (l.min(nl - 1) * rv) as i32);
        let keep: [T; W] = std::array::from_fn(|l| if l < nl { T::ONE } else { T::ZERO });
        let (q, g, o) = (&a.q[first * d.dk..], &sv.dout[first * d.dv..], &sv.out[first * d.dv..]);
        transpose_rows::<T, V>(q, &iq, &[a.scale; W], &mut sc.qt);
        transpose_rows::<T, V>(g, &iv, &keep, &mut sc.gt);
        let mut delta = [T::ZERO; W];
        dot_rows::<T, V>(&sc.gt, o, &iv, &mut delta);
        let mut lse = [inf; W];
        for l in 0..w {
            let (qr, gr) = (&mut sc.qr[l * d.dk..][..d.dk], &mut sc.gr[l * d.dv..][..d.dv]);
            qr.iter_mut().zip(&q[iq[l] as usize..]).for_each(|(y, &x)| *y = x * a.scale);
            if l < nl {
                gr.copy_from_slice(&g[iv[l] as usize..][..d.dv]);
                lse[l] = sv.lse[(b * d.heads + h) * d.tq + r0 + l];
            } else {
                gr.fill(T::ZERO);
            }
        }
        // A row that saw no key had the mean of all values: P = 1/tk on every key, dS = 0.
        let nokey: [bool; W] = std::array::from_fn(|l| lse[l] == inf);
        let lse0: [T; W] = std::array::from_fn(|l| if nokey[l] { T::ZERO } else { lse[l] });
        let uniform = T::ONE / T::from_usize(d.tk);
        let kmax = if nokey.iter().any(|&n| n) { d.tk } else { key_end(a.causal, r0 + nl - 1, d.tk) };
        sc.dqt.fill(T::ZERO);
        for t0 in (0..kmax).step_by(KT) {
            let n = KT.min(kmax - t0) * w;
            let (p, ds) = (&mut sc.p[..n], &mut sc.ds[..n]);
            // STAGE: P of this tile, from the recomputed logits; dS = P ∘ (dO·Vᵀ - Δ).
            dots::<T, V>(&sc.qt, kv, t0, p);
            self.logits.apply_lanes(p, w, b, h, r0, nl, t0, a.causal);
            dots::<T, V>(&sc.gt, vv, t0, ds);
            for (pj, dj) in p.as_chunks_mut::<W>().0.iter_mut().zip(ds.as_chunks_mut::<W>().0) {
                for l in 0..W {
                    let e = vmath::exp_nonpos::<M, T>(pj[l] - lse0[l]);
                    pj[l] = if nokey[l] { uniform } else { e };
                    dj[l] = if nokey[l] { T::ZERO } else { pj[l] * (dj[l] - delta[l]) };
                }
            }
            // STAGE: dQᵀ += dSᵀ·K; dK += dS·(scale·Q); dV += P·dO.
            axpy_cols::<T, V>(ds, kv, t0, &mut sc.dqt);
            // SAFETY: key rows of head h in batch b belong to this unit.
            unsafe {
                outer::<T, V>(ds, &sc.qr, d.dk, self.dk.get().add(kbase), d.heads * d.dk, t0);
                outer::<T, V>(p, &sc.gr, d.dv, self.dv.get().add(vbase), d.heads * d.dv, t0);
            }
        }
        for l in 0..nl {
            let row = (b * d.tq + r0 + l) * d.heads + h;
            // SAFETY: row `row` of dq belongs to this unit's (b, h).
            let out = unsafe { std::slice::from_raw_parts_mut(self.dq.get().add(row * d.dk), d.dk) };
            lane_row::<T, V>(&sc.dqt, l, a.scale, out);
        }
    }
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
    macro_rules! go {
        ($m:ty, $v:ty, $w:literal) => {{
            assert_eq!(<$v as crate::simd::Vector<T>>::W, $w, "attention: register width");
            let body = Backward::<T, $m, $v, $w> { a: *a, logits, saved, dq, dk, dv, ma: PhantomData };
            sweep(isa, d.batch * d.heads, 1, cost, &body)
        }};
    }
    on_registers!(isa, T, go);
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
