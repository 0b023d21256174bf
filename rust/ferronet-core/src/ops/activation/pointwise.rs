//! Each activation's value `f(x)` next to its backward rule `df(dy, saved)`.

use crate::ops::vmath::{self, MulAdd, VFloat};

/// One activation: its value and its backward rule.
///
/// Implementations mark both methods `#[inline(always)]` so they are
/// compiled inside the per-ISA loops of [`sweep`].
pub(super) trait Pointwise<T>: Copy + Sync {
    fn f<M: MulAdd>(&self, x: T) -> T;
    /// dL/dx from dL/dy and the saved tensor (x, or y for sigmoid/tanh).
    fn df<M: MulAdd>(&self, dy: T, saved: T) -> T;
}

#[derive(Clone, Copy)]
pub(super) struct Relu;

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
pub(super) struct LeakyRelu<T> {
    pub(super) slope: T,
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
pub(super) struct Elu<T> {
    pub(super) alpha: T,
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
pub(super) struct Sigmoid;

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
pub(super) struct Tanh;

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
pub(super) struct Softplus;

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
pub(super) struct Silu;

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
pub(super) struct GeluErf;

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
pub(super) struct GeluTanh;

pub(super) const GELU_K: f64 = 0.797_884_560_802_865_4; // √(2/π)
pub(super) const GELU_C: f64 = 0.044_715;

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
