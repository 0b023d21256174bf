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
    // One step's gate gradients (input side, and recurrent side for GRU) and, with recurrent dropout,
    // the states it started from as its product saw them, in buffers kept from call to call.
    let (nb, gu, u) = (rnn.batch, rnn.gu(), rnn.units);
    let gru = rnn.cell == Cell::Gru;
    with_scratch(Slot::SeqA, |a| {
        with_scratch(Slot::SeqB, |r| {
            with_scratch(Slot::SeqC, |c| {
                let (dg_in, dg_rec) = (a.slice::<T>(nb * gu), r.slice::<T>(if gru { nb * gu } else { 0 }));
                let h_rec = c.slice::<T>(if inp.recurrent_scale.is_some() { nb * u } else { 0 });
                through_time::<M, T>(isa, rnn, w, inp, saved, d_states, grads, dg_in, dg_rec, h_rec)
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
    grads: Grads<'_, T>,
    dg_in: &mut [T],
    dg_rec: &mut [T],
    h_rec: &mut [T],
) {
    let Rnn { cell, activation: act, recurrent_activation: ract, batch: nb, steps: nt, units: u, .. } = *rnn;
    let (gu, su) = (rnn.gu(), rnn.su());
    let gru = cell == Cell::Gru;
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
    let grads_p = GradPtrs {
        dx: grads.dx.as_mut_ptr(),
        dkernel: grads.dkernel.as_mut_ptr(),
        drecurrent: grads.drecurrent.as_mut_ptr(),
        dbias: grads.dbias.map_or(std::ptr::null_mut(), |d| d.as_mut_ptr()),
    };
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
            unsafe { step_grads(rnn, &w, &inp, saved.states, grads_p, s, s + 1 == nt, pin.get(), prec.get(), h_rec_p) };
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

/// The gradients [`through_time`] writes step by step.
#[derive(Clone, Copy)]
struct GradPtrs<T> {
    dx: *mut T,
    dkernel: *mut T,
    drecurrent: *mut T,
    /// Null without a bias.
    dbias: *mut T,
}

/// Step `s`'s share of the weight and input gradients, from its gate
/// gradients `dg_in` (and `dg_rec` for GRU; the same buffer otherwise), `nb`
/// rows each: `dx[:, s] = dG·Wᵀ`, `dkernel += x[:, s]ᵀ·dG`, `drecurrent +=
/// h_prevᵀ·dG_rec` and the bias gradients' column sums (overwritten instead
/// of added to at the `first` step visited).
///
/// # Safety
/// The pointers address the checked buffers of `rnn`; `h_rec` holds `nb·units`
/// values when there is recurrent dropout.
#[allow(clippy::too_many_arguments)]
unsafe fn step_grads<T: GemmFloat>(
    rnn: &Rnn,
    w: &Weights<'_, T>,
    inp: &Inputs<'_, T>,
    states: &[T],
    g: GradPtrs<T>,
    s: usize,
    first: bool,
    dg_in: *const T,
    dg_rec: *const T,
    h_rec: *mut T,
) {
    let (nb, nt, nf, u, gu, su) = (rnn.batch, rnn.steps, rnn.features, rnn.units, rnn.gu(), rnn.su());
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
    // h_prev as the recurrent product saw it: the initial state or the previous step's h (times the
    // recurrent dropout factors).
    let (mut hp, mut hrs) = if s == 0 { (inp.h0.as_ptr(), u) } else { (states.as_ptr().add((s - 1) * su), nt * su) };
    if let Some(k) = inp.recurrent_scale {
        for b in 0..nb {
            for j in 0..u {
                *h_rec.add(b * u + j) = *hp.add(b * hrs + j) * k[b * u + j];
            }
        }
        (hp, hrs) = (h_rec as *const T, u);
    }
    let ht = MatPtr { ptr: hp, rs: 1, cs: hrs as isize };
    gemm::gemm(u, gu, nb, ht, MatPtr { ptr: dg_rec, rs: gu as isize, cs: 1 }, g.drecurrent, gu as isize, 1, !first);
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

/// `dx = dG·Wᵀ` and `dkernel = Xᵀ·dG` over all `batch·steps` rows, from the
/// gradients `dg` of the input-side pre-activations.
pub(super) fn input_grads<T: GemmFloat>(rnn: &Rnn, kernel: &[T], x: &[T], dg: &[T], dx: &mut [T], dk: &mut [T]) {
    let (rows_all, nf, gu) = (rnn.batch * rnn.steps, rnn.features, rnn.gu());
    unsafe {
        gemm::gemm(
            rows_all,
            nf,
            gu,
            MatPtr { ptr: dg.as_ptr(), rs: gu as isize, cs: 1 },
            MatPtr { ptr: kernel.as_ptr(), rs: 1, cs: gu as isize },
            dx.as_mut_ptr(),
            nf as isize,
            1,
            false,
        );
        gemm::gemm(
            nf,
            gu,
            rows_all,
            MatPtr { ptr: x.as_ptr(), rs: 1, cs: nf as isize },
            MatPtr { ptr: dg.as_ptr(), rs: gu as isize, cs: 1 },
            dk.as_mut_ptr(),
            gu as isize,
            1,
            false,
        );
    }
}

/// `(batch·steps, units)` into `h_prev`: the `h` each step started from, as
/// the recurrent product saw it (times the recurrent dropout factors).
pub(super) fn prev_states<T: GemmFloat>(rnn: &Rnn, inp: &Inputs<'_, T>, states: &[T], h_prev: &mut [T]) {
    let (nb, nt, u, su) = (rnn.batch, rnn.steps, rnn.units, rnn.su());
    for bi in 0..nb {
        for s in 0..nt {
            let dst = &mut h_prev[(bi * nt + s) * u..(bi * nt + s + 1) * u];
            let src = if s == 0 {
                &inp.h0[bi * u..(bi + 1) * u]
            } else {
                &states[(bi * nt + s - 1) * su..(bi * nt + s - 1) * su + u]
            };
            match inp.recurrent_scale {
                Some(k) => dst.iter_mut().zip(src).zip(&k[bi * u..(bi + 1) * u]).for_each(|((d, &v), &k)| *d = v * k),
                None => dst.copy_from_slice(src),
            }
        }
    }
}

/// `out[j] = Σ_i a[i, j]` (the bias gradients), in a fixed order whatever
/// the thread count (see [`crate::ops::reduce::sum_rows`]).
pub(super) fn column_sums<T: GemmFloat>(a: &[T], n: usize, out: &mut [T]) {
    let rows = a.len() / n;
    crate::ops::reduce::sum_rows(a, rows, n, out).expect("the gate gradients are rows × n");
}
