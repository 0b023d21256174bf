//! SGD, in place (Keras formulas and defaults).

use super::{check_finite, check_len, check_unit, part, BLOCK};
use crate::error::{value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// SGD hyper-parameters (Keras defaults: learning_rate=0.01, momentum=0, nesterov=False).
#[derive(Clone, Copy, Debug)]
pub struct Sgd {
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd { learning_rate: 0.01, momentum: 0.0, nesterov: false }
    }
}

struct SgdBody<'a, T> {
    p: SendPtr<T>,
    g: &'a [T],
    vel: Option<SendPtr<T>>,
    lr: T,
    mom: T,
    nesterov: bool,
}

impl<T: Float> Body for SgdBody<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let (p, g) = unsafe { (part(self.p, lo, hi), &self.g[lo..hi]) };
        match self.vel {
            None => sgd_plain(p, g, self.lr),
            Some(vel) => sgd_momentum(p, g, unsafe { part(vel, lo, hi) }, self.lr, self.mom, self.nesterov),
        }
    }
}

#[inline(always)]
fn sgd_plain<T: Float>(p: &mut [T], g: &[T], lr: T) {
    for (p, &g) in p.iter_mut().zip(g) {
        *p -= g * lr;
    }
}

#[inline(always)]
fn sgd_momentum<T: Float>(p: &mut [T], g: &[T], vel: &mut [T], lr: T, mom: T, nesterov: bool) {
    let it = p.iter_mut().zip(g).zip(vel.iter_mut());
    if nesterov {
        for ((p, &g), m) in it {
            *m = *m * mom - g * lr;
            *p += *m * mom - g * lr;
        }
    } else {
        for ((p, &g), m) in it {
            *m = *m * mom - g * lr;
            *p += *m;
        }
    }
}

/// One SGD step, in place:
/// without `velocity`, `p -= lr·g`; with it, `v = momentum·v - lr·g` and
/// `p += v` (or `p += momentum·v - lr·g` with Nesterov momentum).
pub fn sgd_update<T: Float>(param: &mut [T], grad: &[T], velocity: Option<&mut [T]>, h: &Sgd) -> Result<()> {
    sgd_update_on(simd::active(), param, grad, velocity, h)
}

pub(super) fn sgd_update_on<T: Float>(
    isa: Isa,
    param: &mut [T],
    grad: &[T],
    velocity: Option<&mut [T]>,
    h: &Sgd,
) -> Result<()> {
    const OP: &str = "sgd_update";
    check_finite(OP, &[("learning_rate", h.learning_rate), ("momentum", h.momentum)])?;
    check_unit(OP, "momentum", h.momentum, false)?;
    if h.momentum != 0.0 && velocity.is_none() {
        return value_err(
            OP,
            format!("momentum needs a velocity buffer. Received: momentum={}, velocity=None", h.momentum),
        );
    }
    let n = param.len();
    check_len(OP, n, &[("grad", Some(grad.len())), ("velocity", velocity.as_ref().map(|v| v.len()))])?;
    let body = SgdBody {
        p: SendPtr(param.as_mut_ptr()),
        g: grad,
        vel: velocity.map(|v| SendPtr(v.as_mut_ptr())),
        lr: T::from_f64(h.learning_rate),
        mom: T::from_f64(h.momentum),
        nesterov: h.nesterov,
    };
    sweep(isa, n, BLOCK, 3, &body);
    Ok(())
}
