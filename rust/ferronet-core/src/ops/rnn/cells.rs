//! The per-step element-wise work of each cell: gate non-linearities after
//! the recurrent product (forward) and the gate gradients before it
//! (backward), one batch row at a time.
//!
//! Keras' layouts: LSTM gates `i, f, c, o`, GRU gates `z, r, h`, each block
//! `units` wide. Every row is computed by one thread in a fixed order, so
//! results do not depend on the thread count.

use super::{Act, Cell};
use crate::ops::vmath::{self, MulAdd, VFloat};

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

/// One row's forward inputs and outputs (slices of `units`-wide blocks).
pub(super) struct RowFwd<'a, T> {
    /// The input projection `x·W` of this step (`G·units`), overwritten with
    /// the activated gates.
    pub gates: &'a mut [T],
    /// The recurrent product `h·R` (`G·units`).
    pub rec: &'a [T],
    /// Input bias (`G·units`) and, for GRU with `reset_after`, recurrent bias.
    pub bias: Option<&'a [T]>,
    pub rec_bias: Option<&'a [T]>,
    pub h_prev: &'a [T],
    pub c_prev: &'a [T],
    pub h: &'a mut [T],
    /// LSTM: the new cell state; GRU: the recurrent part of the candidate
    /// (`h·R_h + b_h`, needed by the reset gate's gradient).
    pub aux: &'a mut [T],
}

#[inline(always)]
fn at<T: Copy>(s: Option<&[T]>, i: usize, zero: T) -> T {
    match s {
        Some(s) => s[i],
        None => zero,
    }
}

/// The forward step of one row.
#[inline(always)]
pub(super) fn forward_row<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowFwd<'_, T>) {
    let z = T::ZERO;
    match cell {
        Cell::Simple => {
            for j in 0..u {
                let v = act.f::<M, T>(r.gates[j] + r.rec[j] + at(r.bias, j, z));
                r.gates[j] = v;
                r.h[j] = v;
            }
        }
        Cell::Lstm => {
            for j in 0..u {
                let pre = |k: usize| r.gates[k * u + j] + r.rec[k * u + j] + at(r.bias, k * u + j, z);
                let (i, f, g, o) =
                    (ract.f::<M, T>(pre(0)), ract.f::<M, T>(pre(1)), act.f::<M, T>(pre(2)), ract.f::<M, T>(pre(3)));
                let c = f * r.c_prev[j] + i * g;
                r.gates[j] = i;
                r.gates[u + j] = f;
                r.gates[2 * u + j] = g;
                r.gates[3 * u + j] = o;
                r.aux[j] = c;
                r.h[j] = o * act.f::<M, T>(c);
            }
        }
        Cell::Gru => {
            for j in 0..u {
                let xin = |k: usize| r.gates[k * u + j] + at(r.bias, k * u + j, z);
                let rin = |k: usize| r.rec[k * u + j] + at(r.rec_bias, k * u + j, z);
                let zg = ract.f::<M, T>(xin(0) + rin(0));
                let rg = ract.f::<M, T>(xin(1) + rin(1));
                let rh = rin(2);
                let hh = act.f::<M, T>(xin(2) + rg * rh);
                r.gates[j] = zg;
                r.gates[u + j] = rg;
                r.gates[2 * u + j] = hh;
                r.aux[j] = rh;
                r.h[j] = zg * r.h_prev[j] + (T::ONE - zg) * hh;
            }
        }
    }
}

/// One row's backward inputs and outputs.
pub(super) struct RowBwd<'a, T> {
    pub gates: &'a [T],
    pub aux: &'a [T],
    pub h: &'a [T],
    pub h_prev: &'a [T],
    pub c_prev: &'a [T],
    /// In: dL/dh of this step (state and output); out: the part of dL/dh_prev
    /// that does not go through the recurrent product.
    pub dh: &'a mut [T],
    /// LSTM: in dL/dc of this step, out dL/dc_prev.
    pub dc: &'a mut [T],
    /// Out: gradients of the pre-activations on the input side (`x·W + b`).
    pub dg_in: &'a mut [T],
    /// Out (GRU only): gradients on the recurrent side (`h·R + b_rec`).
    pub dg_rec: &'a mut [T],
}

/// The backward step of one row.
#[inline(always)]
pub(super) fn backward_row<M: MulAdd, T: VFloat>(cell: Cell, act: Act, ract: Act, u: usize, r: RowBwd<'_, T>) {
    match cell {
        Cell::Simple => {
            for j in 0..u {
                r.dg_in[j] = r.dh[j] * act.slope(r.h[j]);
                r.dh[j] = T::ZERO;
            }
        }
        Cell::Lstm => {
            for j in 0..u {
                let (i, f, g, o) = (r.gates[j], r.gates[u + j], r.gates[2 * u + j], r.gates[3 * u + j]);
                let tc = act.f::<M, T>(r.aux[j]);
                let dh = r.dh[j];
                let dct = r.dc[j] + dh * o * act.slope(tc);
                r.dg_in[j] = dct * g * ract.slope(i);
                r.dg_in[u + j] = dct * r.c_prev[j] * ract.slope(f);
                r.dg_in[2 * u + j] = dct * i * act.slope(g);
                r.dg_in[3 * u + j] = dh * tc * ract.slope(o);
                r.dc[j] = dct * f;
                r.dh[j] = T::ZERO;
            }
        }
        Cell::Gru => {
            for j in 0..u {
                let (zg, rg, hh) = (r.gates[j], r.gates[u + j], r.gates[2 * u + j]);
                let dh = r.dh[j];
                let dz = dh * (r.h_prev[j] - hh) * ract.slope(zg);
                let dhh = dh * (T::ONE - zg) * act.slope(hh);
                let dr = dhh * r.aux[j] * ract.slope(rg);
                r.dg_in[j] = dz;
                r.dg_in[u + j] = dr;
                r.dg_in[2 * u + j] = dhh;
                r.dg_rec[j] = dz;
                r.dg_rec[u + j] = dr;
                r.dg_rec[2 * u + j] = dhh * rg;
                r.dh[j] = dh * zg;
            }
        }
    }
}
