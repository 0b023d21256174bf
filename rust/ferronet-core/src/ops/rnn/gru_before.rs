//! The reset-before GRU (Keras' `reset_after=False`, Cho et al.'s first form):
//!
//! ```text
//! z = σ(x·W_z + h·R_z + b_z)    r = σ(x·W_r + h·R_r + b_r)
//! ĥ = tanh(x·W_h + (r⊙h)·R_h + b_h)    h' = z⊙h + (1−z)⊙ĥ
//! ```
//!
//! `r` is needed before the candidate's recurrent product, so each step runs
//! two GEMMs over the batch: `h·R[:, :2u]`, the gates pass (which also forms
//! `r⊙h`, saved in `aux`), then `(r⊙h)·R[:, 2u:]` and the candidate pass.
//! Backward mirrors it: a pass for `dz`, `dĥ`, then `dĥ·R_hᵀ`, a pass for `dr`,
//! then `[dz, dr]·R_zrᵀ`. The weight gradients are GEMMs over all steps:
//! `dR[:, :2u] = H_prevᵀ·[dz, dr]` and `dR[:, 2u:] = (r⊙h)ᵀ·dĥ`. With
//! recurrent dropout, `h` above is the dropped state in both products and the
//! undropped one in `z⊙h`, as in the other cells.

use super::backward::{bias_sums, scatter_back, step_grads, GradPtrs};
use super::cells::{backward_on, forward_on, Pass, RowBwd, RowFwd};
use super::{gather_step, part, part_mut, row_at, rows, Grads, Inputs, Rnn, Saved, Weights};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::vmath::{MulAdd, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use crate::workspace::{with_scratch, Slot};

/// `c = a·R[:, cols]` for a `(batch, units)` left factor with row stride `rs`.
///
/// # Safety
/// `a` must hold `nb` rows of `u` values `rs` apart and `c` `nb·n` values.
#[allow(clippy::too_many_arguments)]
unsafe fn times_r<T: GemmFloat>(nb: usize, u: usize, a: *const T, rs: usize, r: &[T], col: usize, n: usize, c: *mut T) {
    let gu = 3 * u;
    let rk = MatPtr { ptr: r.as_ptr().add(col), rs: gu as isize, cs: 1 };
    gemm::gemm(nb, n, u, MatPtr { ptr: a, rs: rs as isize, cs: 1 }, rk, c, n as isize, 1, false);
}

/// `c = a·R[:, col..col+k]ᵀ` (or `c += …` with `accumulate`) for `a` `(batch, k)`
/// with row stride `rs`.
///
/// # Safety
/// As [`times_r`], with `a` holding `nb` rows of `k` values and `c` `nb·u`.
#[allow(clippy::too_many_arguments)]
unsafe fn times_rt<T: GemmFloat>(
    nb: usize,
    u: usize,
    a: *const T,
    rs: usize,
    r: &[T],
    col: usize,
    k: usize,
    c: *mut T,
    accumulate: bool,
) {
    let gu = 3 * u;
    let rt = MatPtr { ptr: r.as_ptr().add(col), rs: 1, cs: gu as isize };
    gemm::gemm(nb, u, k, MatPtr { ptr: a, rs: rs as isize, cs: 1 }, rt, c, u as isize, 1, accumulate);
}

pub(super) fn forward<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, nf) = (3 * u, rnn.features);
    let mut rec = vec![T::ZERO; nb * 2 * u];
    let mut cand = vec![T::ZERO; nb * u];
    let mut dropped = vec![T::ZERO; if inp.recurrent_scale.is_some() { nb * u } else { 0 }];
    let (states, gates, aux) =
        (SendPtr(saved.states.as_mut_ptr()), SendPtr(saved.gates.as_mut_ptr()), SendPtr(saved.aux.as_mut_ptr()));
    for s in 0..nt {
        let (prev, prev_rs) =
            if s == 0 { (inp.h0.as_ptr(), u) } else { (unsafe { states.get().add((s - 1) * u) } as *const T, nt * u) };
        let (mut hr, mut hr_rs) = (prev, prev_rs);
        if let Some(scale) = inp.recurrent_scale {
            for b in 0..nb {
                for j in 0..u {
                    dropped[b * u + j] = unsafe { *prev.add(b * prev_rs + j) } * scale[b * u + j];
                }
            }
            (hr, hr_rs) = (dropped.as_ptr(), u);
        }
        // Stage 1: x_s·W and h·R_zr for the whole batch, then z, r and r⊙h per row.
        unsafe {
            let x_s = MatPtr { ptr: inp.x.as_ptr().add(s * nf), rs: (nt * nf) as isize, cs: 1 };
            let wk = MatPtr { ptr: w.kernel.as_ptr(), rs: gu as isize, cs: 1 };
            gemm::gemm(nb, gu, nf, x_s, wk, gates.get().add(s * nb * gu), gu as isize, 1, false);
            times_r(nb, u, hr, hr_rs, w.recurrent, 0, 2 * u, rec.as_mut_ptr());
        }
        let (rec_p, prev, hr) = (SendPtr(rec.as_mut_ptr()), SendPtr(prev as *mut T), SendPtr(hr as *mut T));
        rows(isa, nb, 2 * u, |b| unsafe {
            let (row, srow) = (b * nt + s, s * nb + b);
            let h_prev = row_at(prev.get(), b, prev_rs, u);
            let g = part_mut(gates, srow, gu);
            let a = part_mut(aux, srow, u);
            if inp.mask.is_some_and(|m| m[row] == 0) {
                // A skipped step: the state goes through unchanged.
                part_mut(states, row, u).copy_from_slice(h_prev);
                g.fill(T::ZERO);
                a.fill(T::ZERO);
                return;
            }
            let h_rec = row_at(hr.get(), b, hr_rs, u);
            let rec = part_mut(rec_p, b, 2 * u);
            let r = RowFwd {
                pass: Pass::Gates,
                gates: g,
                rec,
                bias: w.bias,
                rec_bias: None,
                h_prev,
                h_rec,
                c_prev: &[],
                h: &mut [],
                c: &mut [],
                aux: a,
            };
            forward_on::<M, T>(isa, cell, act, ract, u, r);
        });
        // Stage 2: (r⊙h)·R_h (skipped rows have r⊙h = 0), then ĥ and the new state per row.
        unsafe { times_r(nb, u, aux.get().add(s * nb * u), u, w.recurrent, 2 * u, u, cand.as_mut_ptr()) };
        let cand_p = SendPtr(cand.as_mut_ptr());
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            if inp.mask.is_some_and(|m| m[row] == 0) {
                return;
            }
            let h_prev = row_at(prev.get(), b, prev_rs, u);
            let r = RowFwd {
                pass: Pass::Candidate,
                gates: part_mut(gates, s * nb + b, gu),
                rec: part_mut(cand_p, b, u),
                bias: w.bias,
                rec_bias: None,
                h_prev,
                h_rec: &[],
                c_prev: &[],
                h: part_mut(states, row, u),
                c: &mut [],
                aux: &mut [],
            };
            forward_on::<M, T>(isa, cell, act, ract, u, r);
        });
    }
}

pub(super) fn backward<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    grads: Grads<'_, T>,
) {
    let (nb, u) = (rnn.batch, rnn.units);
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqC, |c| {
            let (h_rec, d_rh) = c.slice(2 * nb * u).split_at_mut(nb * u);
            let bufs = StepBuffers { dg: a.slice(nb * 3 * u), h_rec, d_rh };
            through_time::<M, T>(isa, rnn, w, inp, saved, d_states, grads, bufs)
        })
    })
}

/// One step's buffers, kept from call to call (per-thread scratch): the
/// gate gradients (`batch × 3·units`), the state the step started from as
/// its products saw it ([`gather_step`]) and its gradient (`batch × units`).
struct StepBuffers<'a, T> {
    dg: &'a mut [T],
    h_rec: &'a mut [T],
    d_rh: &'a mut [T],
}

#[allow(clippy::too_many_arguments)]
fn through_time<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    mut grads: Grads<'_, T>,
    bufs: StepBuffers<'_, T>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let gu = 3 * u;
    let StepBuffers { dg, h_rec, d_rh } = bufs;
    let grads_p = GradPtrs::new(&mut grads);
    grads.dh0.fill(T::ZERO);
    let dh = SendPtr(grads.dh0.as_mut_ptr());
    let (states, gates) = (saved.states.as_ptr(), saved.gates.as_ptr());
    let (pdg, pd_rh) = (SendPtr(dg.as_mut_ptr()), SendPtr(d_rh.as_mut_ptr()));
    let skipped = |row: usize| inp.mask.is_some_and(|m| m[row] == 0);
    for s in (0..nt).rev() {
        let (states, gates) = (SendPtr(states as *mut T), SendPtr(gates as *mut T));
        // SAFETY: h_rec holds nb rows of units.
        unsafe { gather_step(rnn, &inp, states.get(), s, 0..nb, false, h_rec) };
        let h_rec_p = SendPtr(h_rec.as_mut_ptr());
        // Stage 1: dL/dh of step s -> dz, dĥ and dh·z.
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            let dh_b = part_mut(dh, b, u);
            let d_out = part(d_states.as_ptr(), row, u);
            if skipped(row) {
                // A skipped step passes its state gradient through, and its gates have none.
                dh_b.iter_mut().zip(d_out).for_each(|(d, &g)| *d += g);
                part_mut(pdg, b, gu).fill(T::ZERO);
                return;
            }
            let h_prev = if s == 0 { part(inp.h0.as_ptr(), b, u) } else { part(states.get(), row - 1, u) };
            let r = RowBwd {
                pass: Pass::Gates,
                gates: part(gates.get(), s * nb + b, gu),
                aux: &[],
                h: &[],
                h_prev,
                h_rec: &[],
                c_prev: &[],
                d_out,
                dh: dh_b,
                dc: &mut [],
                dg_in: part_mut(pdg, b, gu),
                dg_rec: &mut [],
            };
            backward_on::<M, T>(isa, cell, act, ract, u, r);
        });
        // Stage 2: dL/d(r⊙h) = dĥ·R_hᵀ, then dr and the part of dL/dh_rec through r⊙h.
        unsafe { times_rt(nb, u, pdg.get().add(2 * u), gu, w.recurrent, 2 * u, u, pd_rh.get(), false) };
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            if skipped(row) {
                return; // its dĥ row is 0, so is its dL/d(r⊙h) row
            }
            let r = RowBwd {
                pass: Pass::Candidate,
                gates: part(gates.get(), s * nb + b, gu),
                aux: &[],
                h: &[],
                h_prev: &[],
                h_rec: part(h_rec_p.get(), b, u),
                c_prev: &[],
                d_out: &[],
                dh: &mut [],
                dc: &mut [],
                dg_in: part_mut(pdg, b, gu),
                dg_rec: part_mut(pd_rh, b, u),
            };
            backward_on::<M, T>(isa, cell, act, ract, u, r);
        });
        // Stage 3: dL/dh_rec += [dz, dr]·R_zrᵀ; dL/dh_prev += dL/dh_rec (times the dropout factors).
        unsafe { times_rt(nb, u, pdg.get(), gu, w.recurrent, 0, 2 * u, pd_rh.get(), true) };
        // The step's weight and input gradients, while its gate gradients are in cache.
        // SAFETY: dg holds nb rows of G·units; the gradients are as checked.
        unsafe {
            let first = s + 1 == nt;
            let h_prev_t = MatPtr { ptr: h_rec_p.get() as *const T, rs: 1, cs: u as isize };
            let (p, all) = (pdg.get(), 0..nb);
            step_grads(rnn, &w, &inp, saved.aux.as_ptr(), grads_p, all.clone(), s, first, p, p, h_prev_t);
            bias_sums(rnn, grads_p, nb, first, p, p);
            scatter_back(rnn, &inp, s, all, d_rh, None, dh.get());
        }
    }
}
