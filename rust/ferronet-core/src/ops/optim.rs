//! Fused in-place optimizer updates with Keras 3's formulas and defaults.
//!
//! Each update reads the gradient once and rewrites the parameter and its
//! optimizer state in one pass, in the order Keras' `update_step` assigns
//! them. Hyper-parameters arrive as `f64`; derived scalars (Adam's bias
//! correction) are computed in `f64` and rounded once to the element type.
//! Sorted in order of increasing complexity.

use crate::error::{shape_err, value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// Elements per parallel block of an update.
const BLOCK: usize = 1 << 14;

/// Checks that every optional state buffer has as many elements as `param`.
fn check_len(op: &'static str, param: usize, others: &[(&str, Option<usize>)]) -> Result<()> {
    for &(name, len) in others {
        if let Some(len) = len {
            if len != param {
                return shape_err(
                    op,
                    format!(
                        "{name} must have as many elements as param. Received: param has {param}, {name} has {len}"
                    ),
                );
            }
        }
    }
    Ok(())
}

fn check_finite(op: &'static str, args: &[(&str, f64)]) -> Result<()> {
    for &(name, v) in args {
        if !v.is_finite() {
            return value_err(op, format!("{name} must be finite. Received: {name}={v}"));
        }
    }
    Ok(())
}

fn check_unit(op: &'static str, name: &str, v: f64, open_top: bool) -> Result<()> {
    let ok = v >= 0.0 && if open_top { v < 1.0 } else { v <= 1.0 };
    if !ok {
        let range = if open_top { "[0, 1)" } else { "[0, 1]" };
        return value_err(op, format!("{name} must be in {range}. Received: {name}={v}"));
    }
    Ok(())
}

/// `(ptr, offset)` → the block `lo..hi` of a buffer as a slice.
///
/// # Safety
/// The pointer must address at least `hi` elements, and no other block may
/// touch `lo..hi` while the slice lives.
#[inline(always)]
unsafe fn part<'a, T>(p: SendPtr<T>, lo: usize, hi: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.get().add(lo), hi - lo)
}

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

fn sgd_update_on<T: Float>(isa: Isa, param: &mut [T], grad: &[T], velocity: Option<&mut [T]>, h: &Sgd) -> Result<()> {
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
fn adam_update_on<T: Float>(
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

fn rmsprop_update_on<T: Float>(
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

fn adagrad_update_on<T: Float>(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<f64> {
        // A small LCG: deterministic values in [-1, 1).
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    fn close(a: &[f64], b: &[f64], tol: f64) {
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "element {i}: {x} vs {y}");
        }
    }

    // Sizes around block and vector edges, one large enough to run in parallel.
    const SIZES: [usize; 4] = [1, 37, BLOCK + 5, 3 * BLOCK + 11];

    #[test]
    fn sgd_matches_reference() {
        for isa in simd::supported() {
            for &n in &SIZES {
                for (mom, nest) in [(0.0, false), (0.9, false), (0.9, true)] {
                    let h = Sgd { learning_rate: 0.1, momentum: mom, nesterov: nest };
                    let (mut p, mut vel) = (data(n, 1), data(n, 2));
                    let (mut rp, mut rv) = (p.clone(), vel.clone());
                    for step in 0..3 {
                        let g = data(n, 10 + step);
                        let vref = if mom == 0.0 { None } else { Some(&mut vel[..]) };
                        sgd_update_on(isa, &mut p, &g, vref, &h).unwrap();
                        for i in 0..n {
                            if mom == 0.0 {
                                rp[i] -= g[i] * 0.1;
                            } else {
                                rv[i] = rv[i] * mom - g[i] * 0.1;
                                rp[i] += if nest { rv[i] * mom - g[i] * 0.1 } else { rv[i] };
                            }
                        }
                    }
                    close(&p, &rp, 1e-14);
                    if mom != 0.0 {
                        close(&vel, &rv, 1e-14);
                    }
                }
            }
        }
    }

    #[test]
    fn adam_and_adamw_match_reference() {
        for isa in simd::supported() {
            for &n in &SIZES {
                for (wd, ams) in [(0.0, false), (0.0, true), (0.004, false), (0.01, true)] {
                    let (mut p, mut m, mut v, mut vh) = (data(n, 1), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                    let (mut rp, mut rm, mut rv, mut rvh) = (p.clone(), m.clone(), v.clone(), vh.clone());
                    for step in 1..=4u64 {
                        let g = data(n, 20 + step);
                        let h = Adam { learning_rate: 0.01, weight_decay: wd, step, ..Adam::default() };
                        let vhat = if ams { Some(&mut vh[..]) } else { None };
                        adam_update_on(isa, "adam_update", &mut p, &g, &mut m, &mut v, vhat, &h).unwrap();
                        let t = step as f64;
                        let alpha = 0.01 * (1.0 - 0.999f64.powf(t)).sqrt() / (1.0 - 0.9f64.powf(t));
                        for i in 0..n {
                            rp[i] -= rp[i] * (0.01 * wd);
                            rm[i] += (g[i] - rm[i]) * (1.0 - 0.9);
                            rv[i] += (g[i] * g[i] - rv[i]) * (1.0 - 0.999);
                            rvh[i] = rvh[i].max(rv[i]);
                            let den = if ams { rvh[i] } else { rv[i] };
                            rp[i] -= rm[i] * alpha / (den.sqrt() + 1e-7);
                        }
                    }
                    close(&p, &rp, 1e-13);
                    close(&m, &rm, 1e-13);
                    close(&v, &rv, 1e-13);
                }
            }
        }
    }

    #[test]
    fn rmsprop_matches_reference() {
        for isa in simd::supported() {
            for &n in &SIZES {
                for (mom, centered) in [(0.0, false), (0.5, false), (0.0, true), (0.5, true)] {
                    let h = RmsProp { learning_rate: 0.01, momentum: mom, ..RmsProp::default() };
                    let (mut p, mut vel, mut mb, mut avg) = (data(n, 1), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                    let (mut rp, mut rv, mut rmb, mut ravg) = (p.clone(), vel.clone(), mb.clone(), avg.clone());
                    for step in 0..3 {
                        let g = data(n, 30 + step);
                        let mbr = if mom > 0.0 { Some(&mut mb[..]) } else { None };
                        let avr = if centered { Some(&mut avg[..]) } else { None };
                        rmsprop_update_on(isa, &mut p, &g, &mut vel, mbr, avr, &h).unwrap();
                        for i in 0..n {
                            rv[i] = 0.9 * rv[i] + 0.1 * g[i] * g[i];
                            let den = if centered {
                                ravg[i] = 0.9 * ravg[i] + 0.1 * g[i];
                                rv[i] - ravg[i] * ravg[i] + 1e-7
                            } else {
                                rv[i] + 1e-7
                            };
                            let inc = 0.01 * g[i] / den.sqrt();
                            if mom > 0.0 {
                                rmb[i] = mom * rmb[i] + inc;
                                rp[i] -= rmb[i];
                            } else {
                                rp[i] -= inc;
                            }
                        }
                    }
                    close(&p, &rp, 1e-12);
                    close(&vel, &rv, 1e-12);
                }
            }
        }
    }

    #[test]
    fn adagrad_matches_reference() {
        for isa in simd::supported() {
            for &n in &SIZES {
                let h = Adagrad { learning_rate: 0.05, epsilon: 1e-7 };
                let (mut p, mut acc) = (data(n, 1), vec![0.1; n]);
                let (mut rp, mut racc) = (p.clone(), acc.clone());
                for step in 0..3 {
                    let g = data(n, 40 + step);
                    adagrad_update_on(isa, &mut p, &g, &mut acc, &h).unwrap();
                    for i in 0..n {
                        racc[i] += g[i] * g[i];
                        rp[i] -= 0.05 * g[i] / (racc[i] + 1e-7).sqrt();
                    }
                }
                close(&p, &rp, 1e-13);
                close(&acc, &racc, 1e-13);
            }
        }
    }

    #[test]
    fn f32_paths_agree_bitwise() {
        // No FMA contraction happens in these loops, so every ISA rounds alike.
        let n = 2 * BLOCK + 3;
        let g: Vec<f32> = data(n, 7).iter().map(|&v| v as f32).collect();
        let mut results = vec![];
        for isa in simd::supported() {
            let (mut p, mut m, mut v): (Vec<f32>, _, _) =
                (data(n, 3).iter().map(|&v| v as f32).collect(), vec![0f32; n], vec![0f32; n]);
            let h = Adam { step: 3, ..Adam::default() };
            adam_update_on(isa, "adam_update", &mut p, &g, &mut m, &mut v, None, &h).unwrap();
            results.push(p);
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
    }

    #[test]
    fn bad_arguments_are_reported() {
        let (mut p, g) = (vec![0f32; 4], vec![0f32; 3]);
        let e = sgd_update(&mut p, &g, None, &Sgd::default()).unwrap_err();
        assert!(e.to_string().contains("param has 4, grad has 3"), "{e}");
        let g = vec![0f32; 4];
        let e = sgd_update(&mut p, &g, None, &Sgd { momentum: 0.9, ..Sgd::default() }).unwrap_err();
        assert!(e.to_string().contains("velocity=None"), "{e}");
        let (mut m, mut v) = (vec![0f32; 4], vec![0f32; 4]);
        let e = adam_update(&mut p, &g, &mut m, &mut v, None, &Adam { step: 0, ..Adam::default() }).unwrap_err();
        assert!(e.to_string().contains("step=0"), "{e}");
        let e = adam_update(&mut p, &g, &mut m, &mut v, None, &Adam { beta_1: 1.0, ..Adam::default() }).unwrap_err();
        assert!(e.to_string().contains("beta_1=1"), "{e}");
        let e = rmsprop_update(&mut p, &g, &mut v, None, None, &RmsProp { momentum: 0.9, ..RmsProp::default() })
            .unwrap_err();
        assert!(e.to_string().contains("momentum_buf=None"), "{e}");
    }
}
