//! Adagrad, in place (Keras formulas and defaults).

use super::{check_finite, check_len, part, BLOCK};
use crate::error::Result;
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// Adagrad hyper-parameters (Keras defaults: learning_rate=0.001,
/// epsilon=1e-7; the accumulator starts at `initial_accumulator_value`=0.1).
#[derive(Clone, Copy, Debug)]
pub struct Adagrad {
    pub learning_rate: f64,
    pub epsilon: f64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad { learning_rate: 0.001, epsilon: 1e-7 }
    }
}

struct AdagradBody<'a, T> {
    p: SendPtr<T>,
    g: &'a [T],
    acc: SendPtr<T>,
    lr: T,
    eps: T,
}

impl<T: Float> Body for AdagradBody<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let (p, g, acc) = unsafe { (part(self.p, lo, hi), &self.g[lo..hi], part(self.acc, lo, hi)) };
        for ((p, &g), a) in p.iter_mut().zip(g).zip(acc.iter_mut()) {
            *a += g * g;
            *p -= (self.lr * g) / (*a + self.eps).sqrt();
        }
    }
}

/// One Adagrad step, in place: `acc += g²`, `p -= lr·g / √(acc + ε)`.
pub fn adagrad_update<T: Float>(param: &mut [T], grad: &[T], accumulator: &mut [T], h: &Adagrad) -> Result<()> {
    adagrad_update_on(simd::active(), param, grad, accumulator, h)
}

pub(super) fn adagrad_update_on<T: Float>(
    isa: Isa,
    param: &mut [T],
    grad: &[T],
    accumulator: &mut [T],
    h: &Adagrad,
) -> Result<()> {
    const OP: &str = "adagrad_update";
    check_finite(OP, &[("learning_rate", h.learning_rate), ("epsilon", h.epsilon)])?;
    let n = param.len();
    check_len(OP, n, &[("grad", Some(grad.len())), ("accumulator", Some(accumulator.len()))])?;
    let body = AdagradBody {
        p: SendPtr(param.as_mut_ptr()),
        g: grad,
        acc: SendPtr(accumulator.as_mut_ptr()),
        lr: T::from_f64(h.learning_rate),
        eps: T::from_f64(h.epsilon),
    };
    sweep(isa, n, BLOCK, 3, &body);
    Ok(())
}
