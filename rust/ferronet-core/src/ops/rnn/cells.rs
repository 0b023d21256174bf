//! The per-step element-wise work of each cell: gate non-linearities after
//! the recurrent product (forward) and the gate gradients before it
//! (backward), one batch row at a time.
//!
//! Keras' layouts: LSTM gates `i, f, c, o`, GRU gates `z, r, h`, each block
//! `units` wide. Every row is computed by one thread in a fixed order, so
//! results do not depend on the thread count.

#![allow(clippy::needless_range_loop)] // the gate blocks are indexed in step with each other

use super::{Act, Cell};
use crate::ops::sweep::{arr, arr_mut};
use crate::ops::vmath::{self, MulAdd, VFloat};
use crate::simd::Isa;

impl Act {
    /// The activation's value.
    #[inline(always)]
    pub(super) fn f<M: MulAdd, T: VFloat>(self, x: T) -> T {
        match self {
            Act::Linear => x,
            Act::Tanh => vmath::tanh::<M, T>(x),
            Act::Sigmoid => vmath::sigmoid::<M, T>(x),
            Act::Relu => {
                if x < T::ZERO {
                    T::ZERO
                } else {
                    x
                }
            }
        }
    }

    /// The slope f'(x) from the value y = f(x) (every supported activation
    /// has one).
    #[inline(always)]
    pub(super) fn slope<T: VFloat>(self, y: T) -> T {
        match self {
            Act::Linear => T::ONE,
            Act::Tanh => T::ONE - y * y,
            Act::Sigmoid => y * (T::ONE - y),
            Act::Relu => {
                if y > T::ZERO {
                    T::ONE
                } else {
                    T::ZERO
                }
            }
        }
    }
}

/// `f` applied in place over a slice. The activation is chosen outside the
/// loop, so each loop is branch-free and vectorises (see [`crate::ops::sweep`]).
#[inline(always)]
fn apply<M: MulAdd, T: VFloat>(act: Act, s: &mut [T]) {
    match act {
        Act::Linear => {}
        Act::Tanh => s.iter_mut().for_each(|v| *v = vmath::tanh::<M, T>(*v)),
        Act::Sigmoid => s.iter_mut().for_each(|v| *v = vmath::sigmoid::<M, T>(*v)),
        Act::Relu => s.iter_mut().for_each(|v| *v = Act::Relu.f::<M, T>(*v)),
    }
}

/// `dst[j] += a[j] + b[j]`, either term absent: `a` (the recurrent product)
/// is empty when the step product already summed it into `dst`.
#[inline(always)]
fn add2<T: VFloat>(dst: &mut [T], a: &[T], b: Option<&[T]>) {
    match (a.is_empty(), b) {
        (true, None) => {}
        (true, Some(b)) => dst.iter_mut().zip(b).for_each(|(d, &y)| *d += y),
        (false, Some(b)) => dst.iter_mut().zip(a).zip(b).for_each(|((d, &x), &y)| *d += x + y),
        (false, None) => dst.iter_mut().zip(a).for_each(|(d, &x)| *d += x),
    }
}

/// Which of the two element-wise passes of a reset-before GRU step a row
/// runs: the gates `z, r` (and `r⊙h`) before the product `(r⊙h)·R_h`, or the
/// candidate and new state after it. Other cells run `Gates` only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pass {
    Gates,
    Candidate,
}

/// One row's forward inputs and outputs (slices of `units`-wide blocks).
pub(super) struct RowFwd<'a, T> {
    pub pass: Pass,
    /// The input projection `x·W` of this step (`G·units`), overwritten with
    /// the activated gates.
    pub gates: &'a mut [T],
    /// The recurrent product `h·R` (`G·units`); GRU overwrites it. Reset-before
    /// GRU: `h·R_zr` (`2·units`) in the gates pass, `(r⊙h)·R_h` in the other.
    pub rec: &'a mut [T],
    /// Input bias (`G·units`) and, for GRU with `reset_after`, recurrent bias.
    pub bias: Option<&'a [T]>,
    pub rec_bias: Option<&'a [T]>,
    pub h_prev: &'a [T],
    /// Reset-before GRU: `h_prev` as the recurrent product sees it (after
    /// recurrent dropout).
    pub h_rec: &'a [T],
    pub c_prev: &'a [T],
    /// The new state: `h` (and `c` for LSTM).
    pub h: &'a mut [T],
    pub c: &'a mut [T],
    /// LSTM: `activation(c)`; GRU: the recurrent part of the candidate
    /// (`h·R_h + b_h`, needed by the reset gate's gradient); reset-before GRU:
    /// `r⊙h_rec`, the left factor of the second product.
    pub aux: &'a mut [T],
}

/// A GRU's new state `h = z⊙h_prev + (1−z)⊙ĥ`.
#[inline(always)]
fn blend<T: VFloat>(h: &mut [T], z: &[T], h_prev: &[T], hh: &[T]) {
    for (((h, &z), &hp), &hh) in h.iter_mut().zip(z).zip(h_prev).zip(hh) {
        *h = z * hp + (T::ONE - z) * hh;
    }
}

/// An LSTM row's gates and new state from its pre-activations, in one pass:
/// every value of a column is computed in registers and written once.
#[inline(always)]
fn lstm_state<M: MulAdd, T: VFloat>(act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    let (i, rest) = r.gates.split_at_mut(u);
    let (f, rest) = rest.split_at_mut(u);
    let (g, o) = rest.split_at_mut(u);
    let gates = i.iter_mut().zip(f.iter_mut()).zip(g.iter_mut().zip(o.iter_mut()));
    let state = r.c.iter_mut().zip(&r.c_prev[..u]).zip(r.aux.iter_mut().zip(r.h.iter_mut()));
    for (((i, f), (g, o)), ((c, &cp), (t, h))) in gates.zip(state) {
        let (iv, fv, gv, ov) = (ract.f::<M, T>(*i), ract.f::<M, T>(*f), act.f::<M, T>(*g), ract.f::<M, T>(*o));
        (*i, *f, *g, *o) = (iv, fv, gv, ov);
        *c = fv * cp + iv * gv;
        *t = act.f::<M, T>(*c);
        *h = ov * *t;
    }
}

/// The forward step of one row: one vectorised pass per stage.
#[inline(always)]
fn forward_row<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    match cell {
        Cell::Simple => {
            add2(r.gates, r.rec, r.bias);
            apply::<M, T>(act, r.gates);
            r.h.copy_from_slice(r.gates);
        }
        Cell::Lstm => {
            add2(r.gates, r.rec, r.bias);
            // NOTE: as in the backward pass, Keras' default pair gets a copy with the activations as constants.
            match (act, ract) {
                (Act::Tanh, Act::Sigmoid) => lstm_state::<M, T>(Act::Tanh, Act::Sigmoid, u, r),
                _ => lstm_state::<M, T>(act, ract, u, r),
            }
        }
        Cell::Gru => {
            if let Some(b) = r.bias {
                r.gates.iter_mut().zip(b).for_each(|(d, &x)| *d += x);
            }
            if let Some(b) = r.rec_bias {
                r.rec.iter_mut().zip(b).for_each(|(d, &x)| *d += x);
            }
            let (zr, hh) = r.gates.split_at_mut(2 * u);
            add2(zr, &r.rec[..2 * u], None);
            apply::<M, T>(ract, zr);
            let rh = &r.rec[2 * u..];
            for ((d, &rg), &rh) in hh.iter_mut().zip(&zr[u..]).zip(rh) {
                *d += rg * rh;
            }
            apply::<M, T>(act, hh);
            r.aux.copy_from_slice(rh);
            blend(r.h, &zr[..u], r.h_prev, hh);
        }
        Cell::GruResetBefore => {
            let (zr, hh) = r.gates.split_at_mut(2 * u);
            match r.pass {
                Pass::Gates => {
                    add2(zr, &r.rec[..2 * u], r.bias.map(|b| &b[..2 * u]));
                    apply::<M, T>(ract, zr);
                    for ((a, &rg), &h) in r.aux.iter_mut().zip(&zr[u..]).zip(r.h_rec) {
                        *a = rg * h;
                    }
                }
                Pass::Candidate => {
                    add2(hh, &r.rec[..u], r.bias.map(|b| &b[2 * u..]));
                    apply::<M, T>(act, hh);
                    blend(r.h, &zr[..u], r.h_prev, hh);
                }
            }
        }
    }
}

/// The first `N` `u`-wide blocks of `s`, each exactly `u` long: loops
/// indexing them by `j < u` carry no bounds checks and vectorise.
#[inline(always)]
fn blocks<T, const N: usize>(s: &[T], u: usize) -> [&[T]; N] {
    std::array::from_fn(|k| &s[k * u..(k + 1) * u])
}

/// [`blocks`] of a mutable slice.
#[inline(always)]
fn blocks_mut<T, const N: usize>(mut s: &mut [T], u: usize) -> [&mut [T]; N] {
    std::array::from_fn(|_| {
        let (block, rest) = std::mem::take(&mut s).split_at_mut(u);
        s = rest;
        block
    })
}

/// One row's backward inputs and outputs.
pub(super) struct RowBwd<'a, T> {
    pub pass: Pass,
    pub gates: &'a [T],
    pub aux: &'a [T],
    pub h: &'a [T],
    pub h_prev: &'a [T],
    /// Reset-before GRU: `h_prev` after recurrent dropout.
    pub h_rec: &'a [T],
    pub c_prev: &'a [T],
    /// dL/d(this step's states) from the layer's output (`S·units`, or for an
    /// LSTM `units`: h only, c's part zero), added to `dh` (and `dc`) first.
    pub d_out: &'a [T],
    /// In: dL/dh of this step through the next one; out: the part of
    /// dL/dh_prev that does not go through the recurrent product.
    pub dh: &'a mut [T],
    /// LSTM: in dL/dc of this step through the next one, out dL/dc_prev.
    pub dc: &'a mut [T],
    /// Out: gradients of the pre-activations on the input side (`x·W + b`).
    /// (LSTM reads `activation(c)` from `aux`.)
    pub dg_in: &'a mut [T],
    /// Out (GRU only): gradients on the recurrent side (`h·R + b_rec`).
    /// Reset-before GRU, candidate pass: in dL/d(r⊙h_rec), out its part
    /// `dL/d(r⊙h_rec) ⊙ r` of dL/dh_rec.
    pub dg_rec: &'a mut [T],
}

/// The backward step of one row.
#[allow(clippy::extra_unused_type_parameters)] // M kept so both row functions are chosen alike
#[inline(always)]
fn backward_row<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    // NOTE: Keras' default pair gets its own copy with the activations as constants, so the slope
    // matches fold away and the loops vectorise; other pairs branch per element.
    match (act, ract) {
        (Act::Tanh, Act::Sigmoid) => backward_cells(cell, Act::Tanh, Act::Sigmoid, u, r),
        _ => backward_cells(cell, act, ract, u, r),
    }
}

#[inline(always)]
fn backward_cells<T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    match cell {
        Cell::Simple => {
            for j in 0..u {
                r.dg_in[j] = (r.dh[j] + r.d_out[j]) * act.slope(r.h[j]);
                r.dh[j] = T::ZERO;
            }
        }
        Cell::Lstm if r.d_out.len() == u => lstm_cells::<T, false>(act, ract, u, r),
        Cell::Lstm => lstm_cells::<T, true>(act, ract, u, r),
        Cell::Gru => {
            let [zg, rg, hh] = blocks::<T, 3>(r.gates, u);
            let [dz_in, dr_in, dhh_in] = blocks_mut::<T, 3>(r.dg_in, u);
            let [dz_rec, dr_rec, dhh_rec] = blocks_mut::<T, 3>(r.dg_rec, u);
            let (h_prev, rh, d_out, dh) = (&r.h_prev[..u], &r.aux[..u], &r.d_out[..u], &mut r.dh[..u]);
            for j in 0..u {
                let dhj = dh[j] + d_out[j];
                let dz = dhj * (h_prev[j] - hh[j]) * ract.slope(zg[j]);
                let dhh = dhj * (T::ONE - zg[j]) * act.slope(hh[j]);
                let dr = dhh * rh[j] * ract.slope(rg[j]);
                (dz_in[j], dr_in[j], dhh_in[j]) = (dz, dr, dhh);
                (dz_rec[j], dr_rec[j], dhh_rec[j]) = (dz, dr, dhh * rg[j]);
                dh[j] = dhj * zg[j];
            }
        }
        Cell::GruResetBefore => match r.pass {
            // dL/dh -> dz, dĥ (whose input and recurrent sides are the same) and dh·z.
            Pass::Gates => {
                for j in 0..u {
                    let (zg, hh) = (r.gates[j], r.gates[2 * u + j]);
                    let dh = r.dh[j] + r.d_out[j];
                    r.dg_in[j] = dh * (r.h_prev[j] - hh) * ract.slope(zg);
                    r.dg_in[2 * u + j] = dh * (T::ONE - zg) * act.slope(hh);
                    r.dh[j] = dh * zg;
                }
            }
            // dL/d(r⊙h_rec) = dĥ·R_hᵀ -> dr and the part through r⊙h_rec.
            Pass::Candidate => {
                for j in 0..u {
                    let rg = r.gates[u + j];
                    let d = r.dg_rec[j];
                    r.dg_in[u + j] = d * r.h_rec[j] * ract.slope(rg);
                    r.dg_rec[j] = d * rg;
                }
            }
        },
    }
}

/// Columns per chunk of the LSTM backward: 64 bytes of `f32`, one AVX-512 register.
const CHUNK: usize = 16;

/// `CHUNK` columns of `s` from `j`, copied.
#[inline(always)]
fn at<T: Copy>(s: &[T], j: usize) -> [T; CHUNK] {
    *arr::<T, CHUNK>(s, j)
}

/// The LSTM's backward cells; `DC`: the output gradient has c's part too.
///
/// Whole chunks are read into local arrays, computed, then written: the
/// outputs cannot overlap an input still to be read, so the compiler needs no
/// run-time overlap checks between the dozen slices (which cost a third of
/// the row when the loop ran over them directly).
#[inline(always)]
fn lstm_cells<T: VFloat, const DC: bool>(act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    let [i, f, g, o] = blocks::<T, 4>(r.gates, u);
    let [di, df, dg, d_o] = blocks_mut::<T, 4>(r.dg_in, u);
    let dh_out = &r.d_out[..u];
    // (without c's part, an unread stand-in)
    let dc_out = if DC { &r.d_out[u..2 * u] } else { dh_out };
    let (tc, c_prev, dh, dc) = (&r.aux[..u], &r.c_prev[..u], &mut r.dh[..u], &mut r.dc[..u]);
    // One column's gradients (di, df, dg, do, dc_prev) from its dL/dh, dL/dc and saved values.
    let cell = |dhj: T, dcj: T, [iv, fv, gv, ov, t, cp]: [T; 6]| {
        let dct = dcj + dhj * ov * act.slope(t);
        (
            dct * gv * ract.slope(iv),
            dct * cp * ract.slope(fv),
            dct * iv * act.slope(gv),
            dhj * t * ract.slope(ov),
            dct * fv,
        )
    };
    let whole = u - u % CHUNK;
    for j in (0..whole).step_by(CHUNK) {
        let (dh_in, dh_o, dc_in, dc_o) = (at(dh, j), at(dh_out, j), at(dc, j), at(dc_out, j));
        let (iv, fv, gv, ov, t, cp) = (at(i, j), at(f, j), at(g, j), at(o, j), at(tc, j), at(c_prev, j));
        let z = [T::ZERO; CHUNK];
        let (mut vi, mut vf, mut vg, mut vo, mut vc) = (z, z, z, z, z);
        for l in 0..CHUNK {
            let dcj = if DC { dc_in[l] + dc_o[l] } else { dc_in[l] };
            (vi[l], vf[l], vg[l], vo[l], vc[l]) =
                cell(dh_in[l] + dh_o[l], dcj, [iv[l], fv[l], gv[l], ov[l], t[l], cp[l]]);
        }
        *arr_mut::<T, CHUNK>(di, j) = vi;
        *arr_mut::<T, CHUNK>(df, j) = vf;
        *arr_mut::<T, CHUNK>(dg, j) = vg;
        *arr_mut::<T, CHUNK>(d_o, j) = vo;
        *arr_mut::<T, CHUNK>(dc, j) = vc;
    }
    for j in whole..u {
        let dcj = if DC { dc[j] + dc_out[j] } else { dc[j] };
        (di[j], df[j], dg[j], d_o[j], dc[j]) = cell(dh[j] + dh_out[j], dcj, [i[j], f[j], g[j], o[j], tc[j], c_prev[j]]);
    }
    dh.fill(T::ZERO);
}

// Per-ISA entry points: the row functions are inlined into each, so their
// loops and the polynomial activations are compiled (and vectorised) for that
// instruction set, with hardware FMA where `M` is `Fused`.

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn forward_avx512<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    forward_row::<M, T>(cell, act, ract, u, r)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn forward_avx2<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    forward_row::<M, T>(cell, act, ract, u, r)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn backward_avx512<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    backward_row::<M, T>(cell, act, ract, u, r)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn backward_avx2<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    backward_row::<M, T>(cell, act, ract, u, r)
}

/// [`forward_row`] compiled for `isa` (a path this machine supports).
pub(super) fn forward_on<M: MulAdd, T: VFloat>(isa: Isa, cell: Cell, act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    match isa {
        // SAFETY: callers pass `simd::active()`, which only names supported paths.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { forward_avx512::<M, T>(cell, act, ract, u, r) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { forward_avx2::<M, T>(cell, act, ract, u, r) },
        _ => forward_row::<M, T>(cell, act, ract, u, r),
    }
}

/// [`backward_row`] compiled for `isa` (a path this machine supports).
pub(super) fn backward_on<M: MulAdd, T: VFloat>(isa: Isa, cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    match isa {
        // SAFETY: as in `forward_on`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { backward_avx512::<M, T>(cell, act, ract, u, r) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { backward_avx2::<M, T>(cell, act, ract, u, r) },
        _ => backward_row::<M, T>(cell, act, ract, u, r),
    }
}
