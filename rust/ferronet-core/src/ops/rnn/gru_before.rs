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

use super::backward::{step_grads, step_h_prev, with_step_buffers, GradPtrs};
use super::cells::{backward_on, forward_on, Pass, RowBwd, RowFwd};
use super::{part, part_mut, project_inputs, row_at, rows, Grads, Inputs, Rnn, Saved, Weights};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::vmath::{MulAdd, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;

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
    let gu = 3 * u;
    project_inputs(rnn, w.kernel, inp.x, saved.gates);
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
        // Stage 1: h·R_zr for the whole batch, then z, r and r⊙h per row.
        unsafe { times_r(nb, u, hr, hr_rs, w.recurrent, 0, 2 * u, rec.as_mut_ptr()) };
        let (rec_p, prev, hr) = (SendPtr(rec.as_mut_ptr()), SendPtr(prev as *mut T), SendPtr(hr as *mut T));
        rows(isa, nb, 2 * u, |b| unsafe {
            let row = b * nt + s;
            let h_prev = row_at(prev.get(), b, prev_rs, u);
            let g = part_mut(gates, row, gu);
            let a = part_mut(aux, row, u);
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
        unsafe { times_r(nb, u, aux.get().add(s * u), nt * u, w.recurrent, 2 * u, u, cand.as_mut_ptr()) };
        let cand_p = SendPtr(cand.as_mut_ptr());
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            if inp.mask.is_some_and(|m| m[row] == 0) {
                return;
            }
            let h_prev = row_at(prev.get(), b, prev_rs, u);
            let r = RowFwd {
                pass: Pass::Candidate,
                gates: part_mut(gates, row, gu),
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
    with_step_buffers(rnn, &inp, |dg, _, h_rec| {
        through_time::<M, T>(isa, rnn, w, inp, saved, d_states, grads, dg, h_rec)
    })
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
    dg: &mut [T],
    h_rec: &mut [T],
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let gu = 3 * u;
    let mut d_rh = vec![T::ZERO; nb * u];
    let grads_p = GradPtrs::new(&mut grads);
    grads.dh0.fill(T::ZERO);
    let dh = SendPtr(grads.dh0.as_mut_ptr());
    let (states, gates) = (saved.states.as_ptr(), saved.gates.as_ptr());
    let (pdg, pd_rh) = (SendPtr(dg.as_mut_ptr()), SendPtr(d_rh.as_mut_ptr()));
    let skipped = |row: usize| inp.mask.is_some_and(|m| m[row] == 0);
    for s in (0..nt).rev() {
        let (states, gates) = (SendPtr(states as *mut T), SendPtr(gates as *mut T));
        // SAFETY: h_rec holds nb rows of units.
        let h_prev = unsafe { step_h_prev(rnn, &inp, saved.states, s, h_rec.as_mut_ptr()) };
        // Stage 1: dL/dh of step s -> dz, dĥ and dh·z.
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            let dh_b = part_mut(dh, b, u);
            for (d, &g) in dh_b.iter_mut().zip(part(d_states.as_ptr(), row, u)) {
                *d += g;
            }
            if skipped(row) {
                // A skipped step passes its state gradient through, and its gates have none.
                part_mut(pdg, b, gu).fill(T::ZERO);
                return;
            }
            let h_prev = if s == 0 { part(inp.h0.as_ptr(), b, u) } else { part(states.get(), row - 1, u) };
            let r = RowBwd {
                pass: Pass::Gates,
                gates: part(gates.get(), row, gu),
                aux: &[],
                h: &[],
                h_prev,
                h_rec: &[],
                c_prev: &[],
                dh: dh_b,
                dc: &mut [],
                dg_in: part_mut(pdg, b, gu),
                dg_rec: &mut [],
            };
            backward_on::<M, T>(isa, cell, act, ract, u, r);
        });
        // Stage 2: dL/d(r⊙h) = dĥ·R_hᵀ, then dr and the part of dL/dh_rec through r⊙h.
        unsafe { times_rt(nb, u, pdg.get().add(2 * u), gu, w.recurrent, 2 * u, u, d_rh.as_mut_ptr(), false) };
        rows(isa, nb, u, |b| unsafe {
            let row = b * nt + s;
            if skipped(row) {
                return; // its dĥ row is 0, so is its dL/d(r⊙h) row
            }
            let r = RowBwd {
                pass: Pass::Candidate,
                gates: part(gates.get(), row, gu),
                aux: &[],
                h: &[],
                h_prev: &[],
                h_rec: std::slice::from_raw_parts(h_prev.at(b, 0), u),
                c_prev: &[],
                dh: &mut [],
                dc: &mut [],
                dg_in: part_mut(pdg, b, gu),
                dg_rec: part_mut(pd_rh, b, u),
            };
            backward_on::<M, T>(isa, cell, act, ract, u, r);
        });
        // Stage 3: dL/dh_rec += [dz, dr]·R_zrᵀ; dL/dh_prev += dL/dh_rec (times the dropout factors).
        unsafe { times_rt(nb, u, pdg.get(), gu, w.recurrent, 0, 2 * u, d_rh.as_mut_ptr(), true) };
        // The step's weight and input gradients, while its gate gradients are in cache.
        // SAFETY: dg holds nb rows of G·units; the gradients are as checked.
        unsafe { step_grads(rnn, &w, &inp, saved.aux, grads_p, s, s + 1 == nt, pdg.get(), pdg.get(), h_prev) };
        let d = unsafe { std::slice::from_raw_parts_mut(dh.get(), nb * u) };
        match inp.recurrent_scale {
            Some(k) => d.iter_mut().zip(&d_rh).zip(k).for_each(|((d, &g), &k)| *d += g * k),
            None => d.iter_mut().zip(&d_rh).for_each(|(d, &g)| *d += g),
        }
    }
}
