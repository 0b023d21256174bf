//! Backpropagation through time (see the module documentation of [`super`]).

use super::cells::{backward_on, Pass, RowBwd};
use super::{gru_before, part, part_mut, rows, step_product, Cell, Grads, Inputs, Rnn, Saved, Weights};
use crate::error::{shape_err, value_err, Result};
use crate::gemm::{self, GemmFloat, MatPtr};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};
use crate::workspace::{with_scratch, Slot};

const OP_B: &str = "rnn_backward";

/// Backpropagation through time. `d_states` is dL/d`states` (same layout);
/// `saved` is what [`rnn_forward`] wrote for the same inputs.
pub fn rnn_backward<T: GemmFloat + VFloat>(
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    grads: Grads<'_, T>,
) -> Result<()> {
    rnn.check(OP_B, &w, &inp)?;
    rnn.check_saved(OP_B, saved.states.len(), saved.gates.len(), saved.aux.len())?;
    let (b, t, f, u, gu) = (rnn.batch, rnn.steps, rnn.features, rnn.units, rnn.gu());
    let sizes = [
        ("d_states", d_states.len(), b * t * rnn.su()),
        ("dx", grads.dx.len(), b * t * f),
        ("dkernel", grads.dkernel.len(), f * gu),
        ("drecurrent", grads.drecurrent.len(), u * gu),
        ("dh0", grads.dh0.len(), b * u),
        ("dbias", grads.dbias.as_ref().map_or(rnn.bias_len(), |d| d.len()), rnn.bias_len()),
        ("dc0", grads.dc0.as_ref().map_or(b * u, |d| d.len()), b * u),
    ];
    for (name, got, want) in sizes {
        if got != want {
            return shape_err(OP_B, format!("{name} must hold {want} elements. Received: {got}"));
        }
    }
    if (grads.dc0.is_some()) != (rnn.cell == Cell::Lstm) || grads.dbias.is_some() != w.bias.is_some() {
        return value_err(
            OP_B,
            "dc0 is needed exactly for an LSTM and dbias exactly with a bias. Received: a mismatch",
        );
    }
    let isa = simd::active();
    if has_fma(isa) {
        backward_with::<Fused, T>(isa, rnn, w, inp, saved, d_states, grads);
    } else {
        backward_with::<Plain, T>(isa, rnn, w, inp, saved, d_states, grads);
    }
    Ok(())
}

fn backward_with<M: MulAdd, T: GemmFloat + VFloat>(
    isa: Isa,
    rnn: &Rnn,
    w: Weights<'_, T>,
    inp: Inputs<'_, T>,
    saved: Saved<'_, T>,
    d_states: &[T],
    grads: Grads<'_, T>,
) {
    if rnn.cell == Cell::GruResetBefore {
        return gru_before::backward::<M, T>(isa, rnn, w, inp, saved, d_states, grads);
    }
    with_step_buffers(rnn, &inp, |dg_in, dg_rec, h_rec| {
        through_time::<M, T>(isa, rnn, w, inp, saved, d_states, grads, dg_in, dg_rec, h_rec)
    })
}

/// Calls `f` with one step's buffers, kept from call to call: the gate
/// gradients (`batch × G·units`; on the recurrent side too for GRU, else
/// empty) and, with recurrent dropout, the state the step started from as its
/// product saw it (`batch × units`, else empty; see [`step_h_prev`]).
pub(super) fn with_step_buffers<T: Copy, R>(
    rnn: &Rnn,
    inp: &Inputs<'_, T>,
    f: impl FnOnce(&mut [T], &mut [T], &mut [T]) -> R,
) -> R {
    let (nb, gu, u) = (rnn.batch, rnn.gu(), rnn.units);
    let rec = if rnn.cell == Cell::Gru { nb * gu } else { 0 };
    let h = if inp.recurrent_scale.is_some() { nb * u } else { 0 };
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqB, |r| with_scratch(Slot::SeqC, |c| f(a.slice(nb * gu), r.slice(rec), c.slice(h))))
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
    dg_in: &mut [T],
    dg_rec: &mut [T],
    h_rec: &mut [T],
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, su) = (rnn.gu(), rnn.su());
    let gru = cell == Cell::Gru;
    let grads_p = GradPtrs::new(&mut grads);
    let (dh, dc) = (SendPtr(grads.dh0.as_mut_ptr()), grads.dc0.map(|d| SendPtr(d.as_mut_ptr())));
    let mut tmp = vec![T::ZERO; if inp.recurrent_scale.is_some() { nb * u } else { 0 }];
    let zeros = vec![T::ZERO; u];
    let (states, gates, aux) =
        (SendPtr(saved.states.as_mut_ptr()), SendPtr(saved.gates.as_mut_ptr()), SendPtr(saved.aux.as_mut_ptr()));
    unsafe {
        std::ptr::write_bytes(dh.get(), 0, nb * u);
        if let Some(dc) = dc {
            std::ptr::write_bytes(dc.get(), 0, nb * u);
        }
    }
    let (pin, prec) =
        (SendPtr(dg_in.as_mut_ptr()), SendPtr(if gru { dg_rec.as_mut_ptr() } else { dg_in.as_mut_ptr() }));
    let rt = MatPtr { ptr: w.recurrent.as_ptr(), rs: 1, cs: gu as isize };
    let h_rec_p = h_rec.as_mut_ptr();
    let steps = |rt_packed: &gemm::PackedB<T>| {
        for s in (0..nt).rev() {
            // Stage 1: dL/dh, dL/dc of step s -> gate gradients and the direct part of dL/dh_prev.
            let zeros = &zeros;
            rows(isa, nb, gu, |b| unsafe {
                let (states, gates, aux) = (states.get() as *const T, gates.get() as *const T, aux.get() as *const T);
                let row = b * nt + s;
                let dh_b = part_mut(dh, b, u);
                let ds = part(d_states.as_ptr(), row, su);
                for j in 0..u {
                    dh_b[j] += ds[j];
                }
                let dc_b = match dc {
                    Some(dc) => {
                        let d = part_mut(dc, b, u);
                        for j in 0..u {
                            d[j] += ds[u + j];
                        }
                        d
                    }
                    None => &mut [],
                };
                if inp.mask.is_some_and(|m| m[row] == 0) {
                    // A skipped step passes its state gradient through, and its gates have none.
                    part_mut(pin, b, gu).fill(T::ZERO);
                    if gru {
                        part_mut(prec, b, gu).fill(T::ZERO);
                    }
                    return;
                }
                let (h_prev, c_prev) = if s == 0 {
                    (part(inp.h0.as_ptr(), b, u), inp.c0.map_or(&zeros[..], |c| part(c.as_ptr(), b, u)))
                } else {
                    let p = part(states, row - 1, su);
                    (&p[..u], if cell == Cell::Lstm { &p[u..] } else { &zeros[..] })
                };
                let st = part(states, row, su);
                let aux_row = if cell != Cell::Simple { part(aux, row, u) } else { &zeros[..] };
                let dg_rec_row: &mut [T] = if gru { part_mut(prec, b, gu) } else { &mut [] };
                let r = RowBwd {
                    pass: Pass::Gates,
                    gates: part(gates, row, gu),
                    aux: aux_row,
                    h: &st[..u],
                    h_prev,
                    h_rec: h_prev,
                    c_prev,
                    dh: dh_b,
                    dc: dc_b,
                    dg_in: part_mut(pin, b, gu),
                    dg_rec: dg_rec_row,
                };
                backward_on::<M, T>(isa, cell, act, ract, u, r);
            });
            // Stage 2: the weight and input gradients of step s, while its gate gradients are in cache.
            // SAFETY: the step buffers hold nb rows of G·units; x, dx, states and the gradients are as checked.
            unsafe {
                let h_prev = step_h_prev(rnn, &inp, saved.states, s, h_rec_p);
                step_grads(rnn, &w, &inp, saved.aux, grads_p, s, s + 1 == nt, pin.get(), prec.get(), h_prev)
            };
            // Stage 3: dL/dh_prev += dG_rec(step s) · Rᵀ (zero rows for skipped steps add nothing).
            let a = MatPtr { ptr: prec.get() as *const T, rs: gu as isize, cs: 1 };
            // SAFETY (of both products): `a` has nb rows of G·units values, dh and tmp nb rows of units.
            match inp.recurrent_scale {
                None => unsafe { step_product(nb, a, rt_packed, dh.get(), u, true) },
                Some(scale) => {
                    unsafe { step_product(nb, a, rt_packed, tmp.as_mut_ptr(), u, false) };
                    let d = unsafe { std::slice::from_raw_parts_mut(dh.get(), nb * u) };
                    for ((d, &t), &k) in d.iter_mut().zip(&tmp).zip(scale) {
                        *d += t * k;
                    }
                }
            }
        }
    };
    // SAFETY: Rᵀ is G·units × units, as checked.
    unsafe { gemm::with_packed_b(gu, u, rt, steps) };
}

/// The gradients the backward passes write step by step.
#[derive(Clone, Copy)]
pub(super) struct GradPtrs<T> {
    pub dx: *mut T,
    pub dkernel: *mut T,
    pub drecurrent: *mut T,
    /// Null without a bias.
    pub dbias: *mut T,
}

impl<T> GradPtrs<T> {
    pub(super) fn new(g: &mut Grads<'_, T>) -> Self {
        GradPtrs {
            dx: g.dx.as_mut_ptr(),
            dkernel: g.dkernel.as_mut_ptr(),
            drecurrent: g.drecurrent.as_mut_ptr(),
            dbias: g.dbias.as_mut().map_or(std::ptr::null_mut(), |d| d.as_mut_ptr()),
        }
    }
}

/// The `h` step `s` started from as its recurrent product saw it, `nb` rows
/// of `units`: the initial state or the previous step's `h`, read in place,
/// or (with recurrent dropout) times the dropout factors, written to `buf`.
///
/// # Safety
/// `buf` holds `nb·units` values when there is recurrent dropout.
pub(super) unsafe fn step_h_prev<T: GemmFloat>(
    rnn: &Rnn,
    inp: &Inputs<'_, T>,
    states: &[T],
    s: usize,
    buf: *mut T,
) -> MatPtr<T> {
    let (nb, nt, u, su) = (rnn.batch, rnn.steps, rnn.units, rnn.su());
    let (hp, rs) = if s == 0 { (inp.h0.as_ptr(), u) } else { (states.as_ptr().add((s - 1) * su), nt * su) };
    match inp.recurrent_scale {
        None => MatPtr { ptr: hp, rs: rs as isize, cs: 1 },
        Some(k) => {
            for b in 0..nb {
                for j in 0..u {
                    *buf.add(b * u + j) = *hp.add(b * rs + j) * k[b * u + j];
                }
            }
            MatPtr { ptr: buf as *const T, rs: u as isize, cs: 1 }
        }
    }
}

/// Step `s`'s share of the weight and input gradients, from its gate
/// gradients `dg_in` (and `dg_rec` for GRU; the same buffer otherwise), `nb`
/// rows each, and `h_prev` ([`step_h_prev`]): `dx[:, s] = dG·Wᵀ`, `dkernel
/// += x[:, s]ᵀ·dG`, `drecurrent += h_prevᵀ·dG_rec` (for the reset-before GRU
/// `(r⊙h)ᵀ·dG` in the candidate's columns, `r⊙h` from `aux`) and the bias
/// gradients' column sums, overwritten instead of added to at the `first`
/// step visited.
///
/// # Safety
/// The pointers address the checked buffers of `rnn`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn step_grads<T: GemmFloat>(
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    aux: &[T],
    g: GradPtrs<T>,
    s: usize,
    first: bool,
    dg_in: *const T,
    dg_rec: *const T,
    h_prev: MatPtr<T>,
) {
    let (nb, nt, nf, u, gu) = (rnn.batch, rnn.steps, rnn.features, rnn.units, rnn.gu());
    let dgi = MatPtr { ptr: dg_in, rs: gu as isize, cs: 1 };
    // dx rows (b, s), nt·nf apart.
    gemm::gemm(
        nb,
        nf,
        gu,
        dgi,
        MatPtr { ptr: w.kernel.as_ptr(), rs: 1, cs: gu as isize },
        g.dx.add(s * nf),
        (nt * nf) as isize,
        1,
        false,
    );
    // x[:, s]ᵀ: element (feature i, batch b) at x[(b·nt + s)·nf + i].
    let xt = MatPtr { ptr: inp.x.as_ptr().add(s * nf), rs: 1, cs: (nt * nf) as isize };
    gemm::gemm(nf, gu, nb, xt, dgi, g.dkernel, gu as isize, 1, !first);
    let dgr = MatPtr { ptr: dg_rec, rs: gu as isize, cs: 1 };
    if rnn.cell == Cell::GruResetBefore {
        // z, r columns from h_prev; the candidate's from r⊙h (rows (b, s) of aux, nt·units apart).
        gemm::gemm(u, 2 * u, nb, h_prev.t(), dgr, g.drecurrent, gu as isize, 1, !first);
        let rh = MatPtr { ptr: aux.as_ptr().add(s * u), rs: 1, cs: (nt * u) as isize };
        let dgh = MatPtr { ptr: dg_rec.add(2 * u), ..dgr };
        gemm::gemm(u, u, nb, rh, dgh, g.drecurrent.add(2 * u), gu as isize, 1, !first);
    } else {
        gemm::gemm(u, gu, nb, h_prev.t(), dgr, g.drecurrent, gu as isize, 1, !first);
    }
    if !g.dbias.is_null() {
        let sides: &[*const T] = if rnn.cell == Cell::Gru { &[dg_in, dg_rec] } else { &[dg_in] };
        for (side, &dg) in sides.iter().enumerate() {
            let db = std::slice::from_raw_parts_mut(g.dbias.add(side * gu), gu);
            if first {
                db.fill(T::ZERO);
            }
            for b in 0..nb {
                for (d, &v) in db.iter_mut().zip(std::slice::from_raw_parts(dg.add(b * gu), gu)) {
                    *d += v;
                }
            }
        }
    }
}
