//! Backpropagation through time (see the module documentation of [`super`]).

use super::cells::{backward_on, Pass, RowBwd};
use super::{
    gather_step, gru_before, part, part_mut, rows, stack_weights, step_product, Cell, Grads, Inputs, Rnn, Saved,
    Weights,
};
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
    with_step_buffers(rnn, |bufs| through_time::<M, T>(isa, rnn, w, inp, saved, d_states, grads, bufs))
}

/// One step's buffers, kept from call to call (per-thread scratch).
pub(super) struct StepBuffers<'a, T> {
    /// The gate gradients, `batch × G·units`, on the input side and (GRU
    /// only, else empty) the recurrent side.
    pub dg_in: &'a mut [T],
    pub dg_rec: &'a mut [T],
    /// The step's left factor ([`gather_step`]), `batch × width`, and its
    /// gradient: `width` is `features + units` for the cells with one sum,
    /// `units` for the GRUs.
    pub left: &'a mut [T],
    pub d_left: &'a mut [T],
    /// Cells with one sum: `[W; R]` and its gradient, `(features + units) ×
    /// G·units` (else empty).
    pub wr: &'a mut [T],
    pub dwr: &'a mut [T],
}

/// Whether `rnn`'s step is one product `[x_s | h]·[W; R]` (all cells but the GRUs).
pub(super) fn one_sum(rnn: &Rnn) -> bool {
    matches!(rnn.cell, Cell::Simple | Cell::Lstm)
}

/// Calls `f` with [`StepBuffers`] for `rnn`.
pub(super) fn with_step_buffers<T: Copy, R>(rnn: &Rnn, f: impl FnOnce(StepBuffers<'_, T>) -> R) -> R {
    let (nb, gu, u, k2) = (rnn.batch, rnn.gu(), rnn.units, rnn.features + rnn.units);
    let rec = if rnn.cell == Cell::Gru { nb * gu } else { 0 };
    let (width, wr) = if one_sum(rnn) { (k2, k2 * gu) } else { (u, 0) };
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqB, |b| {
            with_scratch(Slot::SeqC, |c| {
                let (dg_in, dg_rec) = a.slice(nb * gu + rec).split_at_mut(nb * gu);
                let (wr, dwr) = b.slice(2 * wr).split_at_mut(wr);
                let (left, d_left) = c.slice(2 * nb * width).split_at_mut(nb * width);
                f(StepBuffers { dg_in, dg_rec, left, d_left, wr, dwr })
            })
        })
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
    bufs: StepBuffers<'_, T>,
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, features: nf, units: u } = *rnn;
    let (gu, su) = (rnn.gu(), rnn.su());
    let (gru, fused) = (cell == Cell::Gru, one_sum(rnn));
    let width = if fused { nf + u } else { u };
    let grads_p = GradPtrs::new(&mut grads);
    let (dh, dc) = (SendPtr(grads.dh0.as_mut_ptr()), grads.dc0.map(|d| SendPtr(d.as_mut_ptr())));
    let states = saved.states.as_ptr();
    let (states_p, gates, aux) =
        (SendPtr(states as *mut T), SendPtr(saved.gates.as_mut_ptr()), SendPtr(saved.aux.as_mut_ptr()));
    unsafe {
        std::ptr::write_bytes(dh.get(), 0, nb * u);
        if let Some(dc) = dc {
            std::ptr::write_bytes(dc.get(), 0, nb * u);
        }
    }
    let StepBuffers { dg_in, dg_rec, left, d_left, wr, dwr } = bufs;
    let (pin, prec) =
        (SendPtr(dg_in.as_mut_ptr()), SendPtr(if gru { dg_rec.as_mut_ptr() } else { dg_in.as_mut_ptr() }));
    // The right factor of the products that send the gate gradients back: [W; R]ᵀ, or Rᵀ for GRU.
    let back = if fused {
        stack_weights(&w, wr);
        MatPtr { ptr: wr.as_ptr(), rs: 1, cs: gu as isize }
    } else {
        MatPtr { ptr: w.recurrent.as_ptr(), rs: 1, cs: gu as isize }
    };
    let steps = |back: &gemm::PackedB<T>| {
        for s in (0..nt).rev() {
            // Stage 1: dL/dh, dL/dc of step s -> gate gradients and the direct part of dL/dh_prev.
            rows(isa, nb, gu, |b| unsafe {
                let (states, gates, aux) = (states_p.get() as *const T, gates.get() as *const T, aux.get() as *const T);
                let (row, srow) = (b * nt + s, s * nb + b);
                let (dh_b, d_out) = (part_mut(dh, b, u), part(d_states.as_ptr(), row, su));
                let dc_b = dc.map_or(&mut [][..], |dc| part_mut(dc, b, u));
                if inp.mask.is_some_and(|m| m[row] == 0) {
                    // A skipped step passes its state gradient through, and its gates have none.
                    dh_b.iter_mut().zip(d_out).for_each(|(d, &g)| *d += g);
                    dc_b.iter_mut().zip(&d_out[u..]).for_each(|(d, &g)| *d += g);
                    part_mut(pin, b, gu).fill(T::ZERO);
                    if gru {
                        part_mut(prec, b, gu).fill(T::ZERO);
                    }
                    return;
                }
                let prev = if s == 0 { None } else { Some(part(states, row - 1, su)) };
                let h_prev = prev.map_or_else(|| part(inp.h0.as_ptr(), b, u), |p| &p[..u]);
                let c_prev = match (dc, prev) {
                    (None, _) => &[][..],
                    (Some(_), Some(p)) => &p[u..],
                    (Some(_), None) => part(inp.c0.unwrap_or(&[]).as_ptr(), b, u),
                };
                let r = RowBwd {
                    pass: Pass::Gates,
                    gates: part(gates, srow, gu),
                    aux: if cell != Cell::Simple { part(aux, srow, u) } else { &[] },
                    h: &part(states, row, su)[..u],
                    h_prev,
                    h_rec: h_prev,
                    c_prev,
                    d_out,
                    dh: dh_b,
                    dc: dc_b,
                    dg_in: part_mut(pin, b, gu),
                    dg_rec: if gru { part_mut(prec, b, gu) } else { &mut [] },
                };
                backward_on::<M, T>(isa, cell, act, ract, u, r);
            });
            // Stage 2: the weight and input gradients of step s, while its gate gradients are in cache,
            // and dL/dh_prev += dG_rec·Rᵀ.
            // SAFETY: the step buffers hold nb rows of G·units and of the left factor; the gradients
            // and saved buffers are as checked.
            unsafe {
                gather_step(rnn, &inp, states, s, 0..nb, fused, left);
                let (first, dg) = (s + 1 == nt, MatPtr { ptr: pin.get() as *const T, rs: gu as isize, cs: 1 });
                let lt = MatPtr { ptr: left.as_ptr(), rs: 1, cs: width as isize };
                if fused {
                    // d[W; R] (+)= [x_s | h]ᵀ·dG and [dx_s | dh_prev] = dG·[W; R]ᵀ.
                    gemm::gemm(width, gu, nb, lt, dg, dwr.as_mut_ptr(), gu as isize, 1, !first);
                    step_product(nb, dg, back, d_left.as_mut_ptr(), width, false);
                } else {
                    step_grads(rnn, &w, &inp, aux.get(), grads_p, s, first, pin.get(), prec.get(), lt);
                    let dgr = MatPtr { ptr: prec.get() as *const T, ..dg };
                    step_product(nb, dgr, back, d_left.as_mut_ptr(), width, false);
                }
                bias_sums(rnn, grads_p, first, pin.get(), prec.get());
                scatter_back(rnn, &inp, s, d_left, fused.then_some(grads_p.dx), dh.get());
            }
        }
    };
    // SAFETY: the packed factor is G·units × width, as checked.
    unsafe { gemm::with_packed_b(gu, width, back, steps) };
    if fused {
        grads.dkernel.copy_from_slice(&dwr[..nf * gu]);
        grads.drecurrent.copy_from_slice(&dwr[nf * gu..]);
    }
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

/// Hands step `s`'s left-factor gradient `d_left` (`batch × width`) back:
/// with `dx`, its first `features` columns are `dx[:, s]`; its last `units`
/// columns, times the recurrent dropout factors, are added to `dh`.
///
/// # Safety
/// `dx` is the `(batch, steps, features)` gradient and `dh` holds `batch × units`.
pub(super) unsafe fn scatter_back<T: VFloat>(
    rnn: &Rnn,
    inp: &Inputs<'_, T>,
    s: usize,
    d_left: &[T],
    dx: Option<*mut T>,
    dh: *mut T,
) {
    let (nt, nf, u) = (rnn.steps, rnn.features, rnn.units);
    let width = d_left.len() / rnn.batch;
    for (b, d) in d_left.chunks_exact(width).enumerate() {
        let (dxs, dhs) = d.split_at(width - u);
        if let Some(dx) = dx {
            std::ptr::copy_nonoverlapping(dxs.as_ptr(), dx.add((b * nt + s) * nf), nf);
        }
        let dh_b = std::slice::from_raw_parts_mut(dh.add(b * u), u);
        match inp.recurrent_scale {
            None => dh_b.iter_mut().zip(dhs).for_each(|(d, &g)| *d += g),
            Some(k) => dh_b.iter_mut().zip(dhs).zip(&k[b * u..(b + 1) * u]).for_each(|((d, &g), &k)| *d += g * k),
        }
    }
}

/// Step `s`'s share of the weight and input gradients of the GRUs, from
/// its gate gradients `dg_in` and `dg_rec`, `nb` rows each, and the state the
/// step started from as its product saw it, `h_prevᵀ`: `dx[:, s] = dG·Wᵀ`,
/// `dkernel += x[:, s]ᵀ·dG`, `drecurrent += h_prevᵀ·dG_rec` (for the
/// reset-before GRU `(r⊙h)ᵀ·dG` in the candidate's columns, `r⊙h` from
/// `aux`), overwritten instead of added to at the `first` step visited.
///
/// # Safety
/// The pointers address the checked buffers of `rnn`.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn step_grads<T: GemmFloat>(
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    aux: *const T,
    g: GradPtrs<T>,
    s: usize,
    first: bool,
    dg_in: *const T,
    dg_rec: *const T,
    h_prev_t: MatPtr<T>,
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
        // z, r columns from h_prev; the candidate's from r⊙h (step s's rows of aux, units apart).
        gemm::gemm(u, 2 * u, nb, h_prev_t, dgr, g.drecurrent, gu as isize, 1, !first);
        let rh = MatPtr { ptr: aux.add(s * nb * u), rs: 1, cs: u as isize };
        let dgh = MatPtr { ptr: dg_rec.add(2 * u), ..dgr };
        gemm::gemm(u, u, nb, rh, dgh, g.drecurrent.add(2 * u), gu as isize, 1, !first);
    } else {
        gemm::gemm(u, gu, nb, h_prev_t, dgr, g.drecurrent, gu as isize, 1, !first);
    }
}

/// Adds step `s`'s gate gradients (`nb` rows of `dg_in`, and of `dg_rec` for
/// the GRU's recurrent bias) to the bias gradient, overwriting it at the
/// `first` step visited.
///
/// # Safety
/// As [`step_grads`].
pub(super) unsafe fn bias_sums<T: GemmFloat>(
    rnn: &Rnn,
    g: GradPtrs<T>,
    first: bool,
    dg_in: *const T,
    dg_rec: *const T,
) {
    if g.dbias.is_null() {
        return;
    }
    let (nb, gu) = (rnn.batch, rnn.gu());
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
