//! The reset-before GRU (Keras' `reset_after=False`, Cho et al.'s first form):
//!
//! ```text
//! z = σ(x·W_z + h·R_z + b_z)    r = σ(x·W_r + h·R_r + b_r)
//! ĥ = tanh(x·W_h + (r⊙h)·R_h + b_h)    h' = z⊙h + (1−z)⊙ĥ
//! ```
//!
//! `r` is needed before the candidate's recurrent product, so each step runs
//! three GEMMs over a block of batch rows: `x_s·W` and `h·R[:, :2u]`, the
//! gates pass (which also forms `r⊙h`, saved in `aux`), then `(r⊙h)·R[:, 2u:]`
//! and the candidate pass. Backward mirrors it: a pass for `dz`, `dĥ`, then
//! `dĥ·R_hᵀ`, a pass for `dr`, then `[dz, dr]·R_zrᵀ`, and the step's share of
//! the weight gradients, `dR[:, :2u] += h_prevᵀ·[dz, dr]` and `dR[:, 2u:] +=
//! (r⊙h)ᵀ·dĥ`. Both passes run on the same blocks of rows as the other cells
//! (see [`super::backward`]). With recurrent dropout, `h` above is the dropped
//! state in both products and the undropped one in `z⊙h`, as in the other
//! cells.

use super::backward::{bias_sums, scatter_back, Back, GradPtrs};
use super::cells::{backward_on, forward_on, Pass, RowBwd, RowFwd};
use super::{by_rows, gather_step, part, part_mut, state_before, Inputs, Rnn, Saved, Weights};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::vmath::{MulAdd, VFloat};
use crate::parallel::SendPtr;
use crate::simd::Isa;
use crate::workspace::{with_scratch, Slot};
use std::ops::Range;

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
    let (states, gates, aux) =
        (SendPtr(saved.states.as_mut_ptr()), SendPtr(saved.gates.as_mut_ptr()), SendPtr(saved.aux.as_mut_ptr()));
    // SAFETY: each block of rows is one thread's, over every step.
    by_rows(rnn, |rows| unsafe { forward_rows::<M, T>(isa, rnn, &w, &inp, [states, gates, aux], rows) });
}

/// Every step of the batch rows `rows` (see [`super::by_rows`]).
///
/// # Safety
/// `out` holds the checked saved buffers (states, gates, aux); no other thread touches these rows.
unsafe fn forward_rows<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    out: [SendPtr<T>; 3],
    rows: Range<usize>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, nf, m, r0) = (3 * u, rnn.features, rows.len(), rows.start);
    let [states, gates, aux] = out;
    with_scratch(Slot::SeqC, |buf| {
        let (h_rec, rest) = buf.slice::<T>(4 * m * u).split_at_mut(m * u);
        let (rec, cand) = rest.split_at_mut(2 * m * u);
        for s in 0..nt {
            // Stage 1: x_s·W and h·R_zr for these rows, then z, r and r⊙h per row.
            gather_step(rnn, inp, states.get(), s, rows.clone(), false, h_rec);
            let x_s = MatPtr { ptr: inp.x.as_ptr().add((r0 * nt + s) * nf), rs: (nt * nf) as isize, cs: 1 };
            let wk = MatPtr { ptr: w.kernel.as_ptr(), rs: gu as isize, cs: 1 };
            gemm::gemm(m, gu, nf, x_s, wk, gates.get().add((s * nb + r0) * gu), gu as isize, 1, false);
            times_r(m, u, h_rec.as_ptr(), u, w.recurrent, 0, 2 * u, rec.as_mut_ptr());
            for (i, b) in rows.clone().enumerate() {
                let (row, srow) = (b * nt + s, s * nb + b);
                let h_prev = state_before(rnn, inp, states.get(), b, s).0;
                let g = part_mut(gates, srow, gu);
                let a = part_mut(aux, srow, u);
                if inp.mask.is_some_and(|m| m[row] == 0) {
                    // A skipped step: the state goes through unchanged.
                    part_mut(states, row, u).copy_from_slice(h_prev);
                    g.fill(T::ZERO);
                    a.fill(T::ZERO);
                    continue;
                }
                let r = RowFwd {
                    pass: Pass::Gates,
                    gates: g,
                    rec: &mut rec[i * 2 * u..(i + 1) * 2 * u],
                    bias: w.bias,
                    rec_bias: None,
                    h_prev,
                    h_rec: &h_rec[i * u..(i + 1) * u],
                    c_prev: &[],
                    h: &mut [],
                    c: &mut [],
                    aux: a,
                };
                forward_on::<M, T>(isa, cell, act, ract, u, r);
            }
            // Stage 2: (r⊙h)·R_h (skipped rows have r⊙h = 0), then ĥ and the new state per row.
            times_r(m, u, aux.get().add((s * nb + r0) * u), u, w.recurrent, 2 * u, u, cand.as_mut_ptr());
            for (i, b) in rows.clone().enumerate() {
                let row = b * nt + s;
                if inp.mask.is_some_and(|m| m[row] == 0) {
                    continue;
                }
                let h_prev = state_before(rnn, inp, states.get(), b, s).0;
                let r = RowFwd {
                    pass: Pass::Candidate,
                    gates: part_mut(gates, s * nb + b, gu),
                    rec: &mut cand[i * u..(i + 1) * u],
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
            }
        }
    })
}

/// Backpropagation through every step for the batch rows `rows`, their
/// share of the weight gradients written to `g` (see the backward pass's
/// blocks in [`super::backward`]).
///
/// # Safety
/// As the other cells' blocks: the pointers address the checked buffers of
/// `rnn`; no other thread touches these rows or `g`'s weight gradients.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn block_steps<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    d_states: &[T],
    out: Back<T>,
    g: GradPtrs<T>,
    rows: Range<usize>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, m, r0) = (3 * u, rows.len(), rows.start);
    let (states, gates, aux) = (out.states.get() as *const T, out.gates.get() as *const T, out.aux.get() as *const T);
    std::ptr::write_bytes(out.dh.get().add(r0 * u), 0, m * u);
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqC, |c| {
            let dg = a.slice::<T>(m * gu);
            let (h_rec, d_rh) = c.slice::<T>(2 * m * u).split_at_mut(m * u);
            for s in (0..nt).rev() {
                gather_step(rnn, inp, states, s, rows.clone(), false, h_rec);
                // Stage 1: dL/dh of step s -> dz, dĥ and dh·z.
                for (i, b) in rows.clone().enumerate() {
                    let row = b * nt + s;
                    let dh_b = part_mut(out.dh, b, u);
                    let d_out = part(d_states.as_ptr(), row, u);
                    let dg_row = &mut dg[i * gu..(i + 1) * gu];
                    if inp.mask.is_some_and(|m| m[row] == 0) {
                        // A skipped step passes its state gradient through, and its gates have none.
                        dh_b.iter_mut().zip(d_out).for_each(|(d, &g)| *d += g);
                        dg_row.fill(T::ZERO);
                        continue;
                    }
                    let h_prev = state_before(rnn, inp, states, b, s).0;
                    let r = RowBwd {
                        pass: Pass::Gates,
                        gates: part(gates, s * nb + b, gu),
                        aux: &[],
                        h: &[],
                        h_prev,
                        h_rec: &[],
                        c_prev: &[],
                        d_out,
                        dh: dh_b,
                        dc: &mut [],
                        dg_in: dg_row,
                        dg_rec: &mut [],
                    };
                    backward_on::<M, T>(isa, cell, act, ract, u, r);
                }
                // Stage 2: dL/d(r⊙h) = dĥ·R_hᵀ, then dr and the part of dL/dh_rec through r⊙h.
                times_rt(m, u, dg.as_ptr().add(2 * u), gu, w.recurrent, 2 * u, u, d_rh.as_mut_ptr(), false);
                for (i, b) in rows.clone().enumerate() {
                    if inp.mask.is_some_and(|m| m[b * nt + s] == 0) {
                        continue; // its dĥ row is 0, so is its dL/d(r⊙h) row
                    }
                    let r = RowBwd {
                        pass: Pass::Candidate,
                        gates: part(gates, s * nb + b, gu),
                        aux: &[],
                        h: &[],
                        h_prev: &[],
                        h_rec: &h_rec[i * u..(i + 1) * u],
                        c_prev: &[],
                        d_out: &[],
                        dh: &mut [],
                        dc: &mut [],
                        dg_in: &mut dg[i * gu..(i + 1) * gu],
                        dg_rec: &mut d_rh[i * u..(i + 1) * u],
                    };
                    backward_on::<M, T>(isa, cell, act, ract, u, r);
                }
                // Stage 3: dL/dh_rec += [dz, dr]·R_zrᵀ; dL/dh_prev += dL/dh_rec (times the dropout factors).
                times_rt(m, u, dg.as_ptr(), gu, w.recurrent, 0, 2 * u, d_rh.as_mut_ptr(), true);
                // The step's weight and input gradients, while its gate gradients are in cache.
                let first = s + 1 == nt;
                let (p, h_prev_t) = (dg.as_ptr(), MatPtr { ptr: h_rec.as_ptr(), rs: 1, cs: u as isize });
                step_grads(rnn, w, inp, aux, g, rows.clone(), s, first, p, h_prev_t);
                bias_sums(isa, rnn, g, m, first, p, p);
                scatter_back(rnn, inp, s, rows.clone(), d_rh, None, out.dh.get());
            }
        })
    })
}

/// Step `s`'s share of the weight and input gradients for the batch rows
/// `rows`, from their gate gradients `dg` and the state the step started
/// from as its product saw it, `h_prevᵀ`: `dx[:, s] = dG·Wᵀ`, `dkernel +=
/// x[:, s]ᵀ·dG`, and `drecurrent += h_prevᵀ·dG` in the z and r columns and
/// `(r⊙h)ᵀ·dG` in the candidate's (`r⊙h` from `aux`), overwritten instead of
/// added to at the `first` step visited.
///
/// # Safety
/// The pointers address the checked buffers of `rnn`.
#[allow(clippy::too_many_arguments)]
unsafe fn step_grads<T: GemmFloat>(
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    aux: *const T,
    g: GradPtrs<T>,
    rows: Range<usize>,
    s: usize,
    first: bool,
    dg: *const T,
    h_prev_t: MatPtr<T>,
) {
    let (nt, nf, u, gu) = (rnn.steps, rnn.features, rnn.units, rnn.gu());
    let (nb, r0) = (rows.len(), rows.start);
    let dgi = MatPtr { ptr: dg, rs: gu as isize, cs: 1 };
    // dx rows (b, s), nt·nf apart.
    gemm::gemm(
        nb,
        nf,
        gu,
        dgi,
        MatPtr { ptr: w.kernel.as_ptr(), rs: 1, cs: gu as isize },
        g.dx.add((r0 * nt + s) * nf),
        (nt * nf) as isize,
        1,
        false,
    );
    // x[:, s]ᵀ: element (feature i, batch b) at x[(b·nt + s)·nf + i].
    let xt = MatPtr { ptr: inp.x.as_ptr().add((r0 * nt + s) * nf), rs: 1, cs: (nt * nf) as isize };
    gemm::gemm(nf, gu, nb, xt, dgi, g.dkernel, gu as isize, 1, !first);
    // z, r columns from h_prev; the candidate's from r⊙h (step s's rows of aux, units apart).
    gemm::gemm(u, 2 * u, nb, h_prev_t, dgi, g.drecurrent, gu as isize, 1, !first);
    let rh = MatPtr { ptr: aux.add((s * rnn.batch + r0) * u), rs: 1, cs: u as isize };
    let dgh = MatPtr { ptr: dg.add(2 * u), ..dgi };
    gemm::gemm(u, u, nb, rh, dgh, g.drecurrent.add(2 * u), gu as isize, 1, !first);
}
