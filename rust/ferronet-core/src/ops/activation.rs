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
use crate::ops::vmath::{self, has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};
use std::marker::PhantomData;

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

/// One activation: its value and its backward rule.
///
/// Implementations mark both methods `#[inline(always)]` so they are
/// compiled inside the per-ISA loops of [`sweep`].
trait Pointwise<T>: Copy + Sync {
    fn f<M: MulAdd>(&self, x: T) -> T;
    /// dL/dx from dL/dy and the saved tensor (x, or y for sigmoid/tanh).
    fn df<M: MulAdd>(&self, dy: T, saved: T) -> T;
}

#[derive(Clone, Copy)]
struct Relu;

impl<T: VFloat> Pointwise<T> for Relu {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        // NOTE: `x < 0`, not `x.max(0)`: a NaN must come out as NaN.
        if x < T::ZERO {
            T::ZERO
        } else {
            x
        }
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        if x > T::ZERO {
            dy
        } else {
            T::ZERO
        }
    }
}

#[derive(Clone, Copy)]
struct LeakyRelu<T> {
    slope: T,
}

impl<T: VFloat> Pointwise<T> for LeakyRelu<T> {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        if x < T::ZERO {
            self.slope * x
        } else {
            x
        }
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        if x > T::ZERO {
            dy
        } else {
            self.slope * dy
        }
    }
}

#[derive(Clone, Copy)]
struct Elu<T> {
    alpha: T,
}

impl<T: VFloat> Pointwise<T> for Elu<T> {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        let neg = self.alpha * vmath::expm1_nonpos::<M, T>(x);
        if x > T::ZERO {
            x
        } else {
            neg
        }
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        let neg = dy * (self.alpha * vmath::exp::<M, T>(x));
        if x > T::ZERO {
            dy
        } else {
            neg
        }
    }
}

#[derive(Clone, Copy)]
struct Sigmoid;

impl<T: VFloat> Pointwise<T> for Sigmoid {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        vmath::sigmoid::<M, T>(x)
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, y: T) -> T {
        dy * (y * (T::ONE - y))
    }
}

#[derive(Clone, Copy)]
struct Tanh;

impl<T: VFloat> Pointwise<T> for Tanh {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        vmath::tanh::<M, T>(x)
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, y: T) -> T {
        dy * (T::ONE - y * y)
    }
}

#[derive(Clone, Copy)]
struct Softplus;

impl<T: VFloat> Pointwise<T> for Softplus {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        vmath::softplus::<M, T>(x)
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        dy * vmath::sigmoid::<M, T>(x)
    }
}

#[derive(Clone, Copy)]
struct Silu;

impl<T: VFloat> Pointwise<T> for Silu {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        x * vmath::sigmoid::<M, T>(x)
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        // d/dx x·σ(x) = σ + x·σ(1-σ)
        let (s, slope) = vmath::sigmoid_and_slope::<M, T>(x);
        dy * (s + x * slope)
    }
}

/// GELU, exact: x·Φ(x), which is x/2·(1 + erf(x/√2)) without that form's
/// cancellation for x < 0.
#[derive(Clone, Copy)]
struct GeluErf;

impl<T: VFloat> Pointwise<T> for GeluErf {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        x * vmath::normal_cdf_pdf::<M, T>(x).0
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        // Φ(x) + x·φ(x)
        let (cdf, pdf) = vmath::normal_cdf_pdf::<M, T>(x);
        dy * (cdf + x * pdf)
    }
}

/// GELU, tanh approximation: x/2·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715x³),
/// computed as x·σ(2u) (the same function, without cancellation for x < 0).
#[derive(Clone, Copy)]
struct GeluTanh;

const GELU_K: f64 = 0.797_884_560_802_865_4; // √(2/π)
const GELU_C: f64 = 0.044_715;

impl<T: VFloat> Pointwise<T> for GeluTanh {
    #[inline(always)]
    fn f<M: MulAdd>(&self, x: T) -> T {
        let two_u = T::from_f64(2.0 * GELU_K) * (x + T::from_f64(GELU_C) * x * x * x);
        x * vmath::sigmoid::<M, T>(two_u)
    }
    #[inline(always)]
    fn df<M: MulAdd>(&self, dy: T, x: T) -> T {
        // d/dx x·σ(2u) = σ + x·σ(1-σ)·2u'. NOTE: x is clamped inside u and u'
        // (σ has long saturated at |x| = 1e6) so that x³ cannot overflow and
        // turn σ(1-σ)·2u' = 0·∞ into NaN.
        let big = T::from_f64(1e6);
        let xc = if x > big {
            big
        } else if x < -big {
            -big
        } else {
            x
        };
        let x2 = xc * xc;
        let two_u = T::from_f64(2.0 * GELU_K) * (xc + T::from_f64(GELU_C) * x2 * xc);
        let two_du = T::from_f64(2.0 * GELU_K) * (T::ONE + T::from_f64(3.0 * GELU_C) * x2);
        let (s, slope) = vmath::sigmoid_and_slope::<M, T>(two_u);
        dy * (s + x * slope * two_du)
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

#[cfg(test)]
mod tests {
    /// Kernels flush subnormal results (and intermediates) to zero (crate::fpenv):
    /// values within ~100x the smallest normal float32 of zero may come out as zero.
    const FLUSHED_F32: f64 = 100.0 * f32::MIN_POSITIVE as f64;
    use super::*;

    const ALL: [Activation; 10] = [
        Activation::Relu,
        Activation::LeakyRelu { negative_slope: 0.2 },
        Activation::Elu { alpha: 1.0 },
        Activation::Elu { alpha: 0.5 },
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Softplus,
        Activation::Gelu { approximate: false },
        Activation::Gelu { approximate: true },
        Activation::Silu,
    ];

    #[test]
    fn in_place_equals_out_of_place() {
        let xs: Vec<f32> = (0..3000).map(|i| (i as f32 - 1500.0) * 0.0131).chain([f32::NAN, -0.0]).collect();
        for act in ALL {
            let mut want = vec![0.0; xs.len()];
            forward(act, &xs, &mut want).unwrap();
            let mut got = xs.clone();
            forward_in_place(act, &mut got).unwrap();
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "{}", act.name());
        }
    }

    /// Straightforward f64 definitions (std functions).
    fn reference(act: Activation, x: f64) -> f64 {
        let sig = |x: f64| {
            if x >= 0.0 {
                1.0 / (1.0 + (-x).exp())
            } else {
                x.exp() / (1.0 + x.exp())
            }
        };
        match act {
            Activation::Relu => {
                if x < 0.0 {
                    0.0
                } else {
                    x
                }
            }
            Activation::LeakyRelu { negative_slope } => {
                if x < 0.0 {
                    negative_slope * x
                } else {
                    x
                }
            }
            Activation::Elu { alpha } => {
                if x > 0.0 {
                    x
                } else {
                    alpha * x.exp_m1()
                }
            }
            Activation::Sigmoid => sig(x),
            Activation::Tanh => x.tanh(),
            Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
            Activation::Gelu { approximate: false } => {
                0.5 * x * (1.0 + crate::float::erf_f64(x / std::f64::consts::SQRT_2))
            }
            // = x/2·(1 + tanh(u)), without its cancellation for x < 0
            Activation::Gelu { approximate: true } => x * sig(2.0 * GELU_K * (x + GELU_C * x * x * x)),
            Activation::Silu => x * sig(x),
        }
    }

    fn inputs(n: usize) -> Vec<f64> {
        // A deterministic spread over [-12, 12], plus the edges.
        let mut v: Vec<f64> = (0..n).map(|i| ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 24.0).collect();
        v.extend([0.0, -0.0, 1e-6, -1e-6, 40.0, -40.0, 1e30, -1e30, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
        v
    }

    fn close(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
        (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= atol + rtol * want.abs()
    }

    #[test]
    fn forward_matches_reference_on_every_path() {
        let xs = inputs(100_003); // over several blocks, odd tail
        for isa in simd::supported() {
            for act in ALL {
                let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
                let mut y32 = vec![0f32; xs.len()];
                forward_on(isa, act, &x32, &mut y32).unwrap();
                let mut y64 = vec![0f64; xs.len()];
                forward_on(isa, act, &xs, &mut y64).unwrap();
                for i in 0..xs.len() {
                    // NOTE: tanh-GELU rounds its argument 2u = 2√(2/π)(x + 0.044715x³)
                    // before the exponential, which multiplies that rounding error by |2u|.
                    let amplify = match act {
                        Activation::Gelu { approximate: true } => {
                            1.0 + (2.0 * GELU_K * (xs[i] + GELU_C * xs[i].powi(3))).abs()
                        }
                        _ => 1.0,
                    };
                    // NOTE: the reference for exact GELU is x/2·(1 + erf(x/√2)), which
                    // cancels for x < 0: it is only good to ~1e-16·|x| absolutely there
                    // (vmath's tests check Φ's tail against an exact table).
                    let gelu = act == Activation::Gelu { approximate: false };
                    let atol = |x: f64| if gelu { 1e-16 * x.abs() } else { 0.0 };
                    let want = reference(act, x32[i] as f64);
                    assert!(
                        close(y32[i] as f64, want, 1e-6 * amplify, FLUSHED_F32 + atol(x32[i] as f64)),
                        "{isa:?} {act:?} f32 x={} got {} want {want}",
                        x32[i],
                        y32[i]
                    );
                    let want = reference(act, xs[i]);
                    assert!(
                        close(y64[i], want, 1e-14 * amplify, 1e-300 + atol(xs[i])),
                        "{isa:?} {act:?} f64 x={} got {} want {want}",
                        xs[i],
                        y64[i]
                    );
                }
            }
        }
    }

    #[test]
    fn fma_paths_round_identically() {
        // AVX2 and AVX-512 evaluate the same fused operations in the same
        // order, so they agree bit for bit (the portable path, without FMA,
        // is held to the reference by the test above instead).
        let fma_paths: Vec<Isa> = simd::supported().into_iter().filter(|&i| has_fma(i)).collect();
        let Some(&first) = fma_paths.first() else { return };
        let xs: Vec<f32> = inputs(5_001).iter().map(|&v| v as f32).collect();
        let dy: Vec<f32> = (0..xs.len()).map(|i| (i % 7) as f32 - 3.0).collect();
        for act in ALL {
            let mut want = vec![0f32; xs.len()];
            forward_on(first, act, &xs, &mut want).unwrap();
            let mut want_dx = vec![0f32; xs.len()];
            backward_on(first, act, &dy, &xs, &mut want_dx).unwrap();
            for &isa in &fma_paths {
                let mut got = vec![0f32; xs.len()];
                forward_on(isa, act, &xs, &mut got).unwrap();
                let mut dx = vec![0f32; xs.len()];
                backward_on(isa, act, &dy, &xs, &mut dx).unwrap();
                for i in 0..xs.len() {
                    // Bitwise, except that a NaN's sign may differ.
                    let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                    assert!(same(got[i], want[i]), "{isa:?} {act:?} x={}", xs[i]);
                    assert!(same(dx[i], want_dx[i]), "{isa:?} {act:?}' x={}", xs[i]);
                }
            }
        }
    }

    #[test]
    fn backward_matches_central_differences() {
        // Away from the kinks of relu/leaky_relu/elu at 0.
        let xs: Vec<f64> = inputs(2_001).into_iter().filter(|x| x.is_finite() && x.abs() > 1e-3).collect();
        let dy: Vec<f64> = (0..xs.len()).map(|i| 1.0 + (i % 5) as f64 * 0.25).collect();
        for isa in simd::supported() {
            for act in ALL {
                let saved: Vec<f64> = if act.backward_takes_output() {
                    xs.iter().map(|&x| reference(act, x)).collect()
                } else {
                    xs.clone()
                };
                let mut dx = vec![0f64; xs.len()];
                backward_on(isa, act, &dy, &saved, &mut dx).unwrap();
                for i in 0..xs.len() {
                    let h = 1e-6 * xs[i].abs().max(1.0);
                    let num = (reference(act, xs[i] + h) - reference(act, xs[i] - h)) / (2.0 * h) * dy[i];
                    assert!(close(dx[i], num, 1e-6, 1e-8), "{isa:?} {act:?}' x={} got {} want {num}", xs[i], dx[i]);
                }
            }
        }
    }

    #[test]
    fn rejects_bad_arguments() {
        let mut out = [0f32; 2];
        assert!(forward(Activation::Relu, &[1f32; 3], &mut out).is_err());
        let e = forward(Activation::Elu { alpha: f64::NAN }, &[1f32; 2], &mut out).unwrap_err();
        assert!(e.to_string().contains("alpha=NaN"), "{e}");
        assert!(backward(Activation::Sigmoid, &[1f32; 2], &[1f32; 3], &mut out).is_err());
        forward::<f32>(Activation::Tanh, &[], &mut []).unwrap();
    }
}
