//! RMSprop, in place (Keras formulas and defaults).

use super::{check_finite, check_len, check_unit, part, BLOCK};
use crate::error::{value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// RMSprop hyper-parameters (Keras defaults: learning_rate=0.001, rho=0.9,
/// momentum=0, epsilon=1e-7).
#[derive(Clone, Copy, Debug)]
pub struct RmsProp {
    pub learning_rate: f64,
    pub rho: f64,
    pub momentum: f64,
    pub epsilon: f64,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { learning_rate: 0.001, rho: 0.9, momentum: 0.0, epsilon: 1e-7 }
    }
}

struct RmsBody<'a, T> {
    p: SendPtr<T>,
    g: &'a [T],
    vel: SendPtr<T>,
    mom_buf: Option<SendPtr<T>>,
    avg: Option<SendPtr<T>>,
    lr: T,
    rho: T,
    one_minus_rho: T,
    mom: T,
    eps: T,
}

impl<T: Float> Body for RmsBody<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let (p, g, vel) = unsafe { (part(self.p, lo, hi), &self.g[lo..hi], part(self.vel, lo, hi)) };
        let mb = self.mom_buf.map(|b| unsafe { part(b, lo, hi) });
        let avg = self.avg.map(|b| unsafe { part(b, lo, hi) });
        match (mb, avg) {
            (None, None) => {
                for ((p, &g), v) in p.iter_mut().zip(g).zip(vel.iter_mut()) {
                    *v = self.rho * *v + self.one_minus_rho * (g * g);
                    *p -= (self.lr * g) / (*v + self.eps).sqrt();
                }
            }
            (Some(mb), None) => {
                for (((p, &g), v), b) in p.iter_mut().zip(g).zip(vel.iter_mut()).zip(mb.iter_mut()) {
                    *v = self.rho * *v + self.one_minus_rho * (g * g);
                    *b = self.mom * *b + (self.lr * g) / (*v + self.eps).sqrt();
                    *p -= *b;
                }
            }
            (None, Some(avg)) => {
                for (((p, &g), v), a) in p.iter_mut().zip(g).zip(vel.iter_mut()).zip(avg.iter_mut()) {
                    *v = self.rho * *v + self.one_minus_rho * (g * g);
                    *a = self.rho * *a + self.one_minus_rho * g;
                    *p -= (self.lr * g) / (*v - *a * *a + self.eps).sqrt();
                }
            }
            (Some(mb), Some(avg)) => {
                let it = p.iter_mut().zip(g).zip(vel.iter_mut()).zip(mb.iter_mut()).zip(avg.iter_mut());
                for ((((p, &g), v), b), a) in it {
                    *v = self.rho * *v + self.one_minus_rho * (g * g);
                    *a = self.rho * *a + self.one_minus_rho * g;
                    *b = self.mom * *b + (self.lr * g) / (*v - *a * *a + self.eps).sqrt();
                    *p -= *b;
                }
            }
        }
    }
}

/// One RMSprop step, in place: `v = ρv + (1-ρ)g²`; centered (when
/// `average_grad` is given) `a = ρa + (1-ρ)g` and the denominator is
/// `√(v - a² + ε)`, else `√(v + ε)`; the increment `lr·g / denominator` is
/// subtracted from `p`, or with momentum accumulated as `b = μb + increment`
/// and `p -= b`.
pub fn rmsprop_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    velocity: &mut [T],
    momentum_buf: Option<&mut [T]>,
    average_grad: Option<&mut [T]>,
    h: &RmsProp,
) -> Result<()> {
    rmsprop_update_on(simd::active(), param, grad, velocity, momentum_buf, average_grad, h)
}

pub(super) fn rmsprop_update_on<T: Float>(
    isa: Isa,
    param: &mut [T],
    grad: &[T],
    velocity: &mut [T],
    momentum_buf: Option<&mut [T]>,
    average_grad: Option<&mut [T]>,
    h: &RmsProp,
) -> Result<()> {
    const OP: &str = "rmsprop_update";
    check_finite(
        OP,
        &[("learning_rate", h.learning_rate), ("rho", h.rho), ("momentum", h.momentum), ("epsilon", h.epsilon)],
    )?;
    check_unit(OP, "rho", h.rho, false)?;
    check_unit(OP, "momentum", h.momentum, false)?;
    if h.momentum > 0.0 && momentum_buf.is_none() {
        return value_err(
            OP,
            format!("momentum needs a momentum buffer. Received: momentum={}, momentum_buf=None", h.momentum),
        );
    }
    let n = param.len();
    check_len(
        OP,
        n,
        &[
            ("grad", Some(grad.len())),
            ("velocity", Some(velocity.len())),
            ("momentum_buf", momentum_buf.as_ref().map(|v| v.len())),
            ("average_grad", average_grad.as_ref().map(|v| v.len())),
        ],
    )?;
    let body = RmsBody {
        p: SendPtr(param.as_mut_ptr()),
        g: grad,
        vel: SendPtr(velocity.as_mut_ptr()),
        mom_buf: momentum_buf.map(|v| SendPtr(v.as_mut_ptr())),
        avg: average_grad.map(|v| SendPtr(v.as_mut_ptr())),
        lr: T::from_f64(h.learning_rate),
        rho: T::from_f64(h.rho),
        one_minus_rho: T::from_f64(1.0 - h.rho),
        mom: T::from_f64(h.momentum),
        eps: T::from_f64(h.epsilon),
    };
    sweep(isa, n, BLOCK, 5, &body);
    Ok(())
}
