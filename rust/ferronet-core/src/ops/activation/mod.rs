//! Element-wise activations and their gradients.
//!
//! Each activation is a small struct implementing [`Pointwise`]: its value
//! `f(x)` next to its backward rule `df(dy, saved)`. [`forward`] and
//! [`backward`] run one of them over slices with [`sweep`], so the loop is
//! compiled for the SIMD path in use and split over fixed-size blocks
//! (results are identical for any thread count). Everything is built from
//! the polynomial functions of [`vmath`] and vectorises, exact GELU included
//! (through a normal CDF that stays accurate in its left tail).

use crate::error::{shape_err, value_err, Result};
use crate::ops::sweep::{sweep, Body};
use crate::ops::vmath::{has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};
use std::marker::PhantomData;

mod pointwise;
#[cfg(test)]
mod tests;

use pointwise::*;

/// Elements per block of a sweep.
const BLOCK: usize = 1 << 14;

/// An activation and its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// max(x, 0).
    Relu,
    /// x for x ≥ 0, `negative_slope`·x below.
    LeakyRelu {
        negative_slope: f64,
    },
    /// x for x > 0, `alpha`·(e^x - 1) below.
    Elu {
        alpha: f64,
    },
    /// 1/(1 + e^-x).
    Sigmoid,
    Tanh,
    /// ln(1 + e^x).
    Softplus,
    /// x·Φ(x) (exact, with erf) or its tanh approximation.
    Gelu {
        approximate: bool,
    },
    /// x·σ(x), also called swish.
    Silu,
}

impl Activation {
    /// The op name used in messages ("relu", "gelu", ...).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Elu { .. } => "elu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Softplus => "softplus",
            Activation::Gelu { .. } => "gelu",
            Activation::Silu => "silu",
        }
    }

    /// Whether the backward pass takes the forward's output `y` (sigmoid,
    /// tanh) rather than its input `x`.
    pub fn backward_takes_output(&self) -> bool {
        matches!(self, Activation::Sigmoid | Activation::Tanh)
    }

    pub(crate) fn check(&self) -> Result<()> {
        let (name, v) = match *self {
            Activation::LeakyRelu { negative_slope } => ("negative_slope", negative_slope),
            Activation::Elu { alpha } => ("alpha", alpha),
            _ => return Ok(()),
        };
        if !v.is_finite() {
            return value_err(self.name(), format!("{name} must be finite. Received: {name}={v}"));
        }
        Ok(())
    }
}

struct Forward<'a, T, O, M> {
    x: &'a [T],
    y: SendPtr<T>,
    op: O,
    ma: PhantomData<M>,
}

impl<T: VFloat, O: Pointwise<T>, M: MulAdd> Body for Forward<'_, T, O, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: `y` holds as many elements as `x` and blocks are disjoint.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo), hi - lo) };
        for (y, &x) in y.iter_mut().zip(&self.x[lo..hi]) {
            *y = self.op.f::<M>(x);
        }
    }
}

struct InPlace<T, O, M> {
    y: SendPtr<T>,
    op: O,
    ma: PhantomData<M>,
}

impl<T: VFloat, O: Pointwise<T>, M: MulAdd> Body for InPlace<T, O, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint ranges of `y`.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo), hi - lo) };
        for v in y.iter_mut() {
            *v = self.op.f::<M>(*v);
        }
    }
}

struct Backward<'a, T, O, M> {
    dy: &'a [T],
    saved: &'a [T],
    dx: SendPtr<T>,
    op: O,
    ma: PhantomData<M>,
}

impl<T: VFloat, O: Pointwise<T>, M: MulAdd> Body for Backward<'_, T, O, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: as for `Forward`.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo), hi - lo) };
        let (dy, s) = (&self.dy[lo..hi], &self.saved[lo..hi]);
        for ((dx, &dy), &s) in dx.iter_mut().zip(dy).zip(s) {
            *dx = self.op.df::<M>(dy, s);
        }
    }
}

/// Rough cost of one element in "elements touched", for the parallel threshold.
fn cost(act: Activation) -> usize {
    match act {
        Activation::Relu | Activation::LeakyRelu { .. } => 2,
        Activation::Gelu { approximate: false } => 32,
        _ => 8,
    }
}

/// Something to run with the concrete op of an [`Activation`] (its type
/// differs per activation, so the one `match` lives in [`with_op`]).
trait WithOp<T> {
    fn run<O: Pointwise<T>>(self, op: O, cost: usize);
}

fn with_op<T: VFloat, W: WithOp<T>>(act: Activation, w: W) {
    let c = cost(act);
    match act {
        Activation::Relu => w.run(Relu, c),
        Activation::LeakyRelu { negative_slope } => w.run(LeakyRelu { slope: T::from_f64(negative_slope) }, c),
        Activation::Elu { alpha } => w.run(Elu { alpha: T::from_f64(alpha) }, c),
        Activation::Sigmoid => w.run(Sigmoid, c),
        Activation::Tanh => w.run(Tanh, c),
        Activation::Softplus => w.run(Softplus, c),
        Activation::Gelu { approximate: false } => w.run(GeluErf, c),
        Activation::Gelu { approximate: true } => w.run(GeluTanh, c),
        Activation::Silu => w.run(Silu, c),
    }
}

struct RunForward<'a, T> {
    isa: Isa,
    x: &'a [T],
    y: &'a mut [T],
}

impl<T: VFloat> WithOp<T> for RunForward<'_, T> {
    fn run<O: Pointwise<T>>(self, op: O, cost: usize) {
        let (isa, x, y) = (self.isa, self.x, SendPtr(self.y.as_mut_ptr()));
        if has_fma(isa) {
            sweep(isa, x.len(), BLOCK, cost, &Forward { x, y, op, ma: PhantomData::<Fused> });
        } else {
            sweep(isa, x.len(), BLOCK, cost, &Forward { x, y, op, ma: PhantomData::<Plain> });
        }
    }
}

struct RunInPlace<'a, T> {
    isa: Isa,
    y: &'a mut [T],
}

impl<T: VFloat> WithOp<T> for RunInPlace<'_, T> {
    fn run<O: Pointwise<T>>(self, op: O, cost: usize) {
        let (isa, n, y) = (self.isa, self.y.len(), SendPtr(self.y.as_mut_ptr()));
        if has_fma(isa) {
            sweep(isa, n, BLOCK, cost, &InPlace { y, op, ma: PhantomData::<Fused> });
        } else {
            sweep(isa, n, BLOCK, cost, &InPlace { y, op, ma: PhantomData::<Plain> });
        }
    }
}

struct RunBackward<'a, T> {
    isa: Isa,
    dy: &'a [T],
    saved: &'a [T],
    dx: &'a mut [T],
}

impl<T: VFloat> WithOp<T> for RunBackward<'_, T> {
    fn run<O: Pointwise<T>>(self, op: O, cost: usize) {
        let (isa, dy, saved, dx) = (self.isa, self.dy, self.saved, SendPtr(self.dx.as_mut_ptr()));
        if has_fma(isa) {
            sweep(isa, dy.len(), BLOCK, cost + 1, &Backward { dy, saved, dx, op, ma: PhantomData::<Fused> });
        } else {
            sweep(isa, dy.len(), BLOCK, cost + 1, &Backward { dy, saved, dx, op, ma: PhantomData::<Plain> });
        }
    }
}

/// `out[i] = act(x[i])`.
pub fn forward<T: VFloat>(act: Activation, x: &[T], out: &mut [T]) -> Result<()> {
    forward_on(simd::active(), act, x, out)
}

/// `y[i] = act(y[i])`, in place (a layer applying its activation to a tile
/// it has just computed, while the tile is in cache).
pub fn forward_in_place<T: VFloat>(act: Activation, y: &mut [T]) -> Result<()> {
    act.check()?;
    apply_in_place(act, y);
    Ok(())
}

/// [`forward_in_place`] for an activation already checked.
pub(crate) fn apply_in_place<T: VFloat>(act: Activation, y: &mut [T]) {
    with_op(act, RunInPlace { isa: simd::active(), y });
}

/// `dx[i]` = dL/dx from `dy[i]` = dL/dy and the saved tensor: the forward's
/// output for sigmoid and tanh ([`Activation::backward_takes_output`]), its
/// input otherwise.
pub fn backward<T: VFloat>(act: Activation, dy: &[T], saved: &[T], dx: &mut [T]) -> Result<()> {
    backward_on(simd::active(), act, dy, saved, dx)
}

fn forward_on<T: VFloat>(isa: Isa, act: Activation, x: &[T], out: &mut [T]) -> Result<()> {
    act.check()?;
    if x.len() != out.len() {
        return shape_err(
            act.name(),
            format!("out must have as many elements as x. Received: x has {}, out has {}", x.len(), out.len()),
        );
    }
    with_op(act, RunForward { isa, x, y: out });
    Ok(())
}

fn backward_on<T: VFloat>(isa: Isa, act: Activation, dy: &[T], saved: &[T], dx: &mut [T]) -> Result<()> {
    act.check()?;
    let saved_name = if act.backward_takes_output() { "y" } else { "x" };
    if dy.len() != saved.len() || dy.len() != dx.len() {
        return shape_err(
            act.name(),
            format!(
                "dy, {saved_name} and out must have the same number of elements. Received: dy has {}, {saved_name} has {}, out has {}",
                dy.len(),
                saved.len(),
                dx.len()
            ),
        );
    }
    with_op(act, RunBackward { isa, dy, saved, dx });
    Ok(())
}
