//! Adam and AdamW, in place (Keras formulas and defaults).

use super::{check_finite, check_len, check_unit, part, BLOCK};
use crate::error::{value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// Adam / AdamW hyper-parameters (Keras defaults: learning_rate=0.001,
/// beta_1=0.9, beta_2=0.999, epsilon=1e-7; AdamW weight_decay=0.004).
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    pub learning_rate: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
    /// Decoupled weight decay (0 for plain Adam).
    pub weight_decay: f64,
    /// 1-based iteration count (Keras' `iterations + 1`).
    pub step: u64,
}

impl Default for Adam {
    fn default() -> Self {
        Adam { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, weight_decay: 0.0, step: 1 }
    }
}

impl Adam {
    /// Checks the hyper-parameters (errors name `op`).
    pub(crate) fn check(&self, op: &'static str) -> Result<()> {
        check_finite(
            op,
            &[
                ("learning_rate", self.learning_rate),
                ("beta_1", self.beta_1),
                ("beta_2", self.beta_2),
                ("epsilon", self.epsilon),
                ("weight_decay", self.weight_decay),
            ],
        )?;
        check_unit(op, "beta_1", self.beta_1, true)?;
        check_unit(op, "beta_2", self.beta_2, true)?;
        if self.step == 0 {
            return value_err(op, "step is the 1-based iteration count (Keras' iterations + 1). Received: step=0");
        }
        Ok(())
    }

    /// This step's coefficients in the element type.
    pub(crate) fn coef<T: Float>(&self) -> AdamCoef<T> {
        let t = self.step as f64;
        let alpha = self.learning_rate * (1.0 - self.beta_2.powf(t)).sqrt() / (1.0 - self.beta_1.powf(t));
        AdamCoef {
            one_minus_b1: T::from_f64(1.0 - self.beta_1),
            one_minus_b2: T::from_f64(1.0 - self.beta_2),
            alpha: T::from_f64(alpha),
            eps: T::from_f64(self.epsilon),
        }
    }
}

/// One Adam step's coefficients, shared by the stand-alone update and the
/// dense layer's fused weight-gradient update (one formula, bit for bit).
#[derive(Clone, Copy)]
pub(crate) struct AdamCoef<T> {
    one_minus_b1: T,
    one_minus_b2: T,
    alpha: T,
    eps: T,
}

struct AdamBody<'a, T> {
    p: SendPtr<T>,
    g: &'a [T],
    m: SendPtr<T>,
    v: SendPtr<T>,
    vhat: Option<SendPtr<T>>,
    decay: Option<T>,
    c: AdamCoef<T>,
}

impl<T: Float> Body for AdamBody<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let (p, g, m, v) =
            unsafe { (part(self.p, lo, hi), &self.g[lo..hi], part(self.m, lo, hi), part(self.v, lo, hi)) };
        if let Some(decay) = self.decay {
            for p in p.iter_mut() {
                *p = *p - *p * decay;
            }
        }
        match self.vhat {
            None => adam_plain(p, g, m, v, &self.c),
            Some(vh) => adam_amsgrad(p, g, m, v, unsafe { part(vh, lo, hi) }, &self.c),
        }
    }
}

/// `p`, `m`, `v` updated in place from gradient `g` (all of one length).
#[inline(always)]
pub(crate) fn adam_plain<T: Float>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], c: &AdamCoef<T>) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m += (g - *m) * c.one_minus_b1;
        *v += (g * g - *v) * c.one_minus_b2;
        *p -= (*m * c.alpha) / (v.sqrt() + c.eps);
    }
}

#[inline(always)]
fn adam_amsgrad<T: Float>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], vhat: &mut [T], c: &AdamCoef<T>) {
    for ((((p, &g), m), v), vh) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()).zip(vhat.iter_mut()) {
        *m += (g - *m) * c.one_minus_b1;
        *v += (g * g - *v) * c.one_minus_b2;
        // np.maximum: NaN in either operand propagates.
        *vh = if *v > *vh || v.is_nan() { *v } else { *vh };
        *p -= (*m * c.alpha) / (vh.sqrt() + c.eps);
    }
}

/// One Adam step, in place (AMSGrad when `vhat` is given):
/// `m += (g - m)(1 - β1)`, `v += (g² - v)(1 - β2)`, `v̂ = max(v̂, v)`,
/// `p -= α·m / (√v + ε)` with `α = lr·√(1 - β2^t) / (1 - β1^t)`.
/// With `h.weight_decay > 0` (AdamW) `p -= lr·wd·p` comes first, as Keras
/// applies decoupled weight decay before the update step.
pub fn adam_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
    vhat: Option<&mut [T]>,
    h: &Adam,
) -> Result<()> {
    adam_update_on(simd::active(), "adam_update", param, grad, m, v, vhat, h)
}

/// [`adam_update`] under the name AdamW (its errors say `adamw_update`);
/// `h.weight_decay` is the decoupled decay.
pub fn adamw_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
    vhat: Option<&mut [T]>,
    h: &Adam,
) -> Result<()> {
    adam_update_on(simd::active(), "adamw_update", param, grad, m, v, vhat, h)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn adam_update_on<T: Float>(
    isa: Isa,
    op: &'static str,
    param: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
    vhat: Option<&mut [T]>,
    h: &Adam,
) -> Result<()> {
    h.check(op)?;
    let n = param.len();
    check_len(
        op,
        n,
        &[
            ("grad", Some(grad.len())),
            ("m", Some(m.len())),
            ("v", Some(v.len())),
            ("vhat", vhat.as_ref().map(|v| v.len())),
        ],
    )?;
    let body = AdamBody {
        p: SendPtr(param.as_mut_ptr()),
        g: grad,
        m: SendPtr(m.as_mut_ptr()),
        v: SendPtr(v.as_mut_ptr()),
        vhat: vhat.map(|v| SendPtr(v.as_mut_ptr())),
        decay: (h.weight_decay != 0.0).then(|| T::from_f64(h.learning_rate * h.weight_decay)),
        c: h.coef(),
    };
    sweep(isa, n, BLOCK, 5, &body);
    Ok(())
}
