//! Cross-entropy over classes, fused with its gradient: per-sample loss and
//! the gradient w.r.t. the predictions in one pass over the data.
//!
//! - softmax cross-entropy from logits, with sparse class ids or
//!   one-hot/probability targets; stable for any finite logits (the row max
//!   is subtracted before exponentiating);
//! - categorical cross-entropy of probabilities, as Keras computes it.
//!
//! Element-wise losses (sigmoid cross-entropy, MSE, ...) live in
//! [`crate::ops::pointwise_loss`], margin losses in [`crate::ops::margin_loss`].
//!
//! The returned loss is per sample and unweighted; `sample_weight` and
//! `scale` only multiply the gradient, so a caller reducing with
//! `Σ scale·wᵢ·lossᵢ` gets exactly this gradient.

use crate::error::{shape_err, value_err, Result};
use crate::ops::softmax::{row_dot, row_max, row_sum};
use crate::ops::sweep::{block_for, sweep, Body};
use crate::ops::vmath::{self, has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::shape::fmt_shape;
use crate::simd::{self, Isa};
use std::marker::PhantomData;

/// Elements a parallel block should touch, about.
const BLOCK_ELEMS: usize = 1 << 14;

/// Targets of a softmax cross-entropy.
#[derive(Clone, Copy, Debug)]
pub enum Labels<'a, T> {
    /// One class id per sample.
    Sparse(&'a [i64]),
    /// A row of `classes` target probabilities (one-hot or soft) per sample.
    Dense(&'a [T]),
}

pub(crate) fn check_scale(op: &'static str, scale: f64) -> Result<()> {
    if !scale.is_finite() {
        return value_err(op, format!("scale must be finite. Received: scale={scale}"));
    }
    Ok(())
}

pub(crate) fn check_weight<T>(op: &'static str, rows: usize, weight: Option<&[T]>) -> Result<()> {
    match weight {
        Some(w) if w.len() != rows => shape_err(
            op,
            format!(
                "sample_weight must have one entry per sample ({rows}). Received: sample_weight has {} elements",
                w.len()
            ),
        ),
        _ => Ok(()),
    }
}

pub(crate) fn check_outputs(op: &'static str, rows: usize, elems: usize, loss: usize, grad: usize) -> Result<()> {
    if loss != rows || grad != elems {
        return shape_err(
            op,
            format!("expected {rows} losses and {elems} gradient elements. Received: loss has {loss}, grad has {grad}"),
        );
    }
    Ok(())
}

/// Checks the arguments of a loss over rows of `classes` predictions and
/// returns the number of rows.
pub(crate) fn check_classes<T>(
    op: &'static str,
    pred: &str,
    len: usize,
    classes: usize,
    labels: &Labels<'_, T>,
    scale: f64,
) -> Result<usize> {
    check_scale(op, scale)?;
    if classes == 0 || len % classes != 0 {
        return shape_err(
            op,
            format!(
                "{pred} must hold rows of at least one class. Received: {len} {pred} elements in rows of {classes}"
            ),
        );
    }
    let rows = len / classes;
    let shape = fmt_shape(&[rows, classes]);
    match *labels {
        Labels::Sparse(y) => {
            if y.len() != rows {
                return shape_err(
                    op,
                    format!(
                        "class-id labels must have one entry per sample. Received: {} labels for {pred} of shape {shape}",
                        y.len()
                    ),
                );
            }
            if let Some((i, &v)) = y.iter().enumerate().find(|(_, &v)| v < 0 || v as u64 >= classes as u64) {
                return value_err(
                    op,
                    format!(
                        "labels[{i}]={v} is not a class id: there are {classes} classes, so ids must be in [0, {classes}). Received: labels[{i}]={v}, {pred}.shape={shape}"
                    ),
                );
            }
        }
        Labels::Dense(t) if t.len() != len => {
            return shape_err(
                op,
                format!(
                    "probability labels must have the shape of {pred} {shape}. Received: {} label elements",
                    t.len()
                ),
            );
        }
        Labels::Dense(_) => {}
    }
    Ok(rows)
}

struct SoftmaxXent<'a, T, M> {
    z: &'a [T],
    labels: Labels<'a, T>,
    weight: Option<&'a [T]>,
    scale: T,
    classes: usize,
    loss: SendPtr<T>,
    grad: SendPtr<T>,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for SoftmaxXent<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let c = self.classes;
        for r in lo..hi {
            let z = &self.z[r * c..(r + 1) * c];
            // SAFETY: row r of grad and loss belong to this block only.
            let g = unsafe { std::slice::from_raw_parts_mut(self.grad.get().add(r * c), c) };
            let coef = self.scale * self.weight.map_or(T::ONE, |w| w[r]);
            let m = row_max(z);
            let loss = match self.labels {
                Labels::Sparse(y) => {
                    let y = y[r] as usize;
                    for (g, &z) in g.iter_mut().zip(z) {
                        *g = vmath::exp_nonpos::<M, T>(z - m);
                    }
                    let s = row_sum(g);
                    let f = coef / s;
                    for g in g.iter_mut() {
                        *g *= f;
                    }
                    g[y] -= coef;
                    (m - z[y]) + s.ln()
                }
                Labels::Dense(t) => {
                    // loss = Σ t·(m - z) + ln(s)·Σ t: each (m - z) is exact
                    // near the max, so no large terms cancel.
                    let t = &t[r * c..(r + 1) * c];
                    for (g, &z) in g.iter_mut().zip(z) {
                        *g = m - z;
                    }
                    let tz = row_dot(t, g);
                    for g in g.iter_mut() {
                        *g = vmath::exp::<M, T>(-*g);
                    }
                    let s = row_sum(g);
                    let t_sum = row_sum(t);
                    // The exact gradient of this loss: Σt·softmax - t
                    // (softmax - t for targets that sum to 1).
                    let f = coef * t_sum / s;
                    for (g, &t) in g.iter_mut().zip(t) {
                        *g = *g * f - coef * t;
                    }
                    tz + s.ln() * t_sum
                }
            };
            unsafe { *self.loss.get().add(r) = loss };
        }
    }
}

/// Softmax cross-entropy over rows of `classes` logits.
///
/// `loss[i] = -Σ_c t_ic · log softmax(z_i)_c`, and `grad` (same layout as
/// `logits`) = `scale · w_i · (Σ_c t_ic · softmax(z_i) - t_i)`, which is
/// `scale · w_i · (softmax(z_i) - t_i)` for one-hot or probability targets.
/// A class id outside `[0, classes)` is an error naming the sample.
#[allow(clippy::too_many_arguments)]
pub fn softmax_cross_entropy<T: VFloat>(
    logits: &[T],
    classes: usize,
    labels: Labels<'_, T>,
    sample_weight: Option<&[T]>,
    scale: f64,
    loss: &mut [T],
    grad: &mut [T],
) -> Result<()> {
    softmax_cross_entropy_on(simd::active(), logits, classes, labels, sample_weight, scale, loss, grad)
}

#[allow(clippy::too_many_arguments)]
fn softmax_cross_entropy_on<T: VFloat>(
    isa: Isa,
    logits: &[T],
    classes: usize,
    labels: Labels<'_, T>,
    sample_weight: Option<&[T]>,
    scale: f64,
    loss: &mut [T],
    grad: &mut [T],
) -> Result<()> {
    const OP: &str = "softmax_cross_entropy";
    let rows = check_classes(OP, "logits", logits.len(), classes, &labels, scale)?;
    check_weight(OP, rows, sample_weight)?;
    check_outputs(OP, rows, logits.len(), loss.len(), grad.len())?;
    let (loss, grad, scale) = (SendPtr(loss.as_mut_ptr()), SendPtr(grad.as_mut_ptr()), T::from_f64(scale));
    let (block, cost) = (block_for(classes, BLOCK_ELEMS), classes * 10);
    macro_rules! run {
        ($m:ty) => {{
            let ma = PhantomData::<$m>;
            let body = SoftmaxXent { z: logits, labels, weight: sample_weight, scale, classes, loss, grad, ma };
            sweep(isa, rows, block, cost, &body)
        }};
    }
    if has_fma(isa) {
        run!(Fused)
    } else {
        run!(Plain)
    }
    Ok(())
}

/// Keras' `backend.epsilon()`, the clipping margin of probabilities.
const EPSILON: f64 = 1e-7;

struct CategoricalXent<'a, T, M> {
    p: &'a [T],
    labels: Labels<'a, T>,
    weight: Option<&'a [T]>,
    scale: T,
    classes: usize,
    loss: SendPtr<T>,
    grad: SendPtr<T>,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for CategoricalXent<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let c = self.classes;
        let (eps, top) = (T::from_f64(EPSILON), T::from_f64(1.0 - EPSILON));
        // dloss/dq of one (normalised) probability, zero where the clip holds it.
        let dq = |q: T, t: T| {
            let clipped = if q < eps {
                eps
            } else if q > top {
                top
            } else {
                q
            };
            if q < eps || q > top {
                T::ZERO
            } else {
                -t / clipped
            }
        };
        for r in lo..hi {
            let p = &self.p[r * c..(r + 1) * c];
            // SAFETY: row r of grad and loss belong to this block only.
            let g = unsafe { std::slice::from_raw_parts_mut(self.grad.get().add(r * c), c) };
            let coef = self.scale * self.weight.map_or(T::ONE, |w| w[r]);
            let s = row_sum(p);
            let loss = match self.labels {
                Labels::Sparse(y) => {
                    // Only q_y = p_y/S enters: dloss/dp_j = G·(δ_jy - q_y)/S.
                    let y = y[r] as usize;
                    let qy = p[y] / s;
                    let gy = dq(qy, T::ONE) * coef / s;
                    let off = -gy * qy;
                    g.fill(off);
                    g[y] = off + gy;
                    let clipped = if qy < eps {
                        eps
                    } else if qy > top {
                        top
                    } else {
                        qy
                    };
                    -clipped.ln()
                }
                Labels::Dense(t) => {
                    let t = &t[r * c..(r + 1) * c];
                    for ((g, &p), &t) in g.iter_mut().zip(p).zip(t) {
                        let q = p / s;
                        let clipped = if q < eps {
                            eps
                        } else if q > top {
                            top
                        } else {
                            q
                        };
                        *g = t * vmath::ln::<M, T>(clipped);
                    }
                    let loss = -row_sum(g);
                    for ((g, &p), &t) in g.iter_mut().zip(p).zip(t) {
                        *g = dq(p / s, t);
                    }
                    // dloss/dp_j = (G_j - Σ_i G_i q_i) / S with q = p/S.
                    let d = row_dot(g, p) / s;
                    let f = coef / s;
                    for g in g.iter_mut() {
                        *g = (*g - d) * f;
                    }
                    loss
                }
            };
            unsafe { *self.loss.get().add(r) = loss };
        }
    }
}

/// Categorical cross-entropy of probabilities, as Keras' `from_logits=False`
/// computes it: each row is renormalised (q = p/Σp) and clipped to
/// [1e-7, 1 - 1e-7], `loss[i] = -Σ_c t_ic · ln q_ic`. The gradient w.r.t. `p`
/// goes through the normalisation, is zero where the clip holds, and is
/// multiplied by `scale · w_i`.
#[allow(clippy::too_many_arguments)]
pub fn categorical_crossentropy<T: VFloat>(
    probs: &[T],
    classes: usize,
    labels: Labels<'_, T>,
    sample_weight: Option<&[T]>,
    scale: f64,
    loss: &mut [T],
    grad: &mut [T],
) -> Result<()> {
    categorical_crossentropy_on(simd::active(), probs, classes, labels, sample_weight, scale, loss, grad)
}

#[allow(clippy::too_many_arguments)]
fn categorical_crossentropy_on<T: VFloat>(
    isa: Isa,
    probs: &[T],
    classes: usize,
    labels: Labels<'_, T>,
    sample_weight: Option<&[T]>,
    scale: f64,
    loss: &mut [T],
    grad: &mut [T],
) -> Result<()> {
    const OP: &str = "categorical_crossentropy";
    let rows = check_classes(OP, "y_pred", probs.len(), classes, &labels, scale)?;
    check_weight(OP, rows, sample_weight)?;
    check_outputs(OP, rows, probs.len(), loss.len(), grad.len())?;
    let (loss, grad, scale) = (SendPtr(loss.as_mut_ptr()), SendPtr(grad.as_mut_ptr()), T::from_f64(scale));
    let (block, cost) = (block_for(classes, BLOCK_ELEMS), classes * 10);
    macro_rules! run {
        ($m:ty) => {{
            let ma = PhantomData::<$m>;
            let body = CategoricalXent { p: probs, labels, weight: sample_weight, scale, classes, loss, grad, ma };
            sweep(isa, rows, block, cost, &body)
        }};
    }
    if has_fma(isa) {
        run!(Fused)
    } else {
        run!(Plain)
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64, scale: f64) -> Vec<f64> {
        (0..n).map(|i| (((i as u64 * 2_654_435_761 + seed) % 10_007) as f64 / 10_007.0 - 0.5) * scale).collect()
    }

    /// f64 reference: (loss, grad) of softmax cross-entropy for dense targets.
    fn softmax_ref(z: &[f64], t: &[f64], c: usize, w: &[f64], scale: f64) -> (Vec<f64>, Vec<f64>) {
        let (mut loss, mut grad) = (vec![], vec![]);
        for (r, (z, t)) in z.chunks(c).zip(t.chunks(c)).enumerate() {
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            loss.push(-z.iter().zip(t).map(|(z, t)| t * (z - lse)).sum::<f64>());
            let ts: f64 = t.iter().sum();
            grad.extend(z.iter().zip(t).map(|(z, t)| scale * w[r] * (ts * (z - lse).exp() - t)));
        }
        (loss, grad)
    }

    fn assert_close(got: &[f64], want: &[f64], rtol: f64, what: &str) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= rtol * (1.0 + w.abs()), "{what}[{i}]: {g} vs {w}");
        }
    }

    #[test]
    fn softmax_xent_matches_reference_on_every_path() {
        for isa in simd::supported() {
            for (n, c) in [(7, 3), (33, 10), (5, 1000), (2, 17)] {
                let z = data(n * c, 3, 10.0);
                let ids: Vec<i64> = (0..n).map(|i| (i * 7 % c) as i64).collect();
                let onehot: Vec<f64> =
                    (0..n * c).map(|j| if ids[j / c] as usize == j % c { 1.0 } else { 0.0 }).collect();
                let soft: Vec<f64> = data(n * c, 5, 1.0).iter().map(|v| v + 0.5).collect();
                let w = data(n, 9, 2.0);
                for (labels, t) in
                    [(Labels::Sparse(&ids), &onehot), (Labels::Dense(&onehot), &onehot), (Labels::Dense(&soft), &soft)]
                {
                    let (want_l, want_g) = softmax_ref(&z, t, c, &w, 0.5);
                    let (mut l, mut g) = (vec![0.0; n], vec![0.0; n * c]);
                    softmax_cross_entropy_on(isa, &z, c, labels, Some(&w), 0.5, &mut l, &mut g).unwrap();
                    assert_close(&l, &want_l, 1e-14, "loss");
                    assert_close(&g, &want_g, 1e-14, "grad");
                    let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
                    let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                    let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
                    let labels32 = match labels {
                        Labels::Sparse(y) => Labels::Sparse(y),
                        Labels::Dense(_) => Labels::Dense(&t32[..]),
                    };
                    let (mut l, mut g) = (vec![0f32; n], vec![0f32; n * c]);
                    softmax_cross_entropy_on(isa, &z32, c, labels32, Some(&w32), 0.5, &mut l, &mut g).unwrap();
                    let up = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
                    let w64 = up(&w32);
                    let (want_l, want_g) = softmax_ref(&up(&z32), &up(&t32), c, &w64, 0.5);
                    assert_close(&up(&l), &want_l, 2e-6, "loss32");
                    assert_close(&up(&g), &want_g, 2e-6, "grad32");
                }
            }
        }
    }

    #[test]
    fn softmax_xent_is_stable_for_huge_logits() {
        let z = [1e4f32, -1e4, 0.0, 1e4 - 2.0];
        let (mut l, mut g) = ([0f32; 2], [0f32; 4]);
        softmax_cross_entropy(&z, 2, Labels::Sparse(&[1, 0]), None, 1.0, &mut l, &mut g).unwrap();
        // Row 0: lse = 1e4, loss = 1e4 - (-1e4). Row 1: lse = 1e4 - 2, loss = lse - 0.
        assert_eq!(l, [2e4, 9998.0]);
        assert_eq!(g, [1.0, -1.0, -1.0, 1.0]);
    }

    #[test]
    fn softmax_xent_names_bad_labels() {
        let (mut l, mut g) = ([0f32; 2], [0f32; 6]);
        let e = softmax_cross_entropy(&[0f32; 6], 3, Labels::Sparse(&[0, 3]), None, 1.0, &mut l, &mut g).unwrap_err();
        assert!(
            e.to_string().contains("labels[1]=3 is not a class id: there are 3 classes")
                && e.to_string().contains("(2, 3)"),
            "{e}"
        );
        let e = softmax_cross_entropy(&[0f32; 6], 3, Labels::Sparse(&[-1, 0]), None, 1.0, &mut l, &mut g).unwrap_err();
        assert!(e.to_string().contains("labels[0]=-1"), "{e}");
        assert!(softmax_cross_entropy(&[0f32; 6], 3, Labels::Dense(&[0f32; 4]), None, 1.0, &mut l, &mut g).is_err());
        assert!(softmax_cross_entropy(&[0f32; 6], 0, Labels::Dense(&[0f32; 6]), None, 1.0, &mut l, &mut g).is_err());
        assert!(
            softmax_cross_entropy(&[0f32; 6], 3, Labels::Sparse(&[0, 0]), Some(&[1.0]), 1.0, &mut l, &mut g).is_err()
        );
    }

    /// Keras' categorical cross-entropy of probabilities, per row, in f64.
    fn cce_ref(p: &[f64], t: &[f64], c: usize) -> Vec<f64> {
        p.chunks(c)
            .zip(t.chunks(c))
            .map(|(p, t)| {
                let s: f64 = p.iter().sum();
                -p.iter().zip(t).map(|(p, t)| t * (p / s).clamp(EPSILON, 1.0 - EPSILON).ln()).sum::<f64>()
            })
            .collect()
    }

    #[test]
    fn categorical_xent_matches_keras_and_central_differences() {
        for isa in simd::supported() {
            for (n, c) in [(5, 4), (3, 37)] {
                let mut p: Vec<f64> = data(n * c, 3, 1.0).iter().map(|v| v + 0.55).collect();
                p[1] = 1e-12; // clipped: no gradient through its own log, only through Σp
                let ids: Vec<i64> = (0..n).map(|i| ((i * 5 + 1) % c) as i64).collect();
                let onehot: Vec<f64> =
                    (0..n * c).map(|j| if ids[j / c] as usize == j % c { 1.0 } else { 0.0 }).collect();
                let soft: Vec<f64> = data(n * c, 5, 1.0).iter().map(|v| v + 0.5).collect();
                let w = data(n, 9, 2.0);
                for (labels, t) in
                    [(Labels::Sparse(&ids), &onehot), (Labels::Dense(&soft), &soft), (Labels::Dense(&onehot), &onehot)]
                {
                    let (mut l, mut g) = (vec![0.0; n], vec![0.0; n * c]);
                    categorical_crossentropy_on(isa, &p, c, labels, Some(&w), 0.5, &mut l, &mut g).unwrap();
                    assert_close(&l, &cce_ref(&p, t, c), 1e-14, "cce loss");
                    let total = |p: &[f64]| cce_ref(p, t, c).iter().zip(&w).map(|(l, w)| 0.5 * w * l).sum::<f64>();
                    for j in 0..n * c {
                        // A step that keeps the clipped probability clipped; the
                        // difference quotient's noise is then ~eps·|total|/h.
                        let (h, tol) = if p[j] < 1e-6 { (1e-9, 3e-5) } else { (1e-6, 1e-7) };
                        let (mut a, mut b) = (p.clone(), p.clone());
                        a[j] += h;
                        b[j] -= h;
                        let num = (total(&a) - total(&b)) / (2.0 * h);
                        assert!(
                            (g[j] - num).abs() <= tol * (1.0 + num.abs()),
                            "{isa:?} cce grad[{j}]: {} vs {num}",
                            g[j]
                        );
                    }
                    let p32: Vec<f32> = p.iter().map(|&v| v as f32).collect();
                    let t32: Vec<f32> = t.iter().map(|&v| v as f32).collect();
                    let labels32 = match labels {
                        Labels::Sparse(y) => Labels::Sparse(y),
                        Labels::Dense(_) => Labels::Dense(&t32[..]),
                    };
                    let (mut l32, mut g32) = (vec![0f32; n], vec![0f32; n * c]);
                    categorical_crossentropy_on(isa, &p32, c, labels32, None, 1.0, &mut l32, &mut g32).unwrap();
                    let up = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
                    assert_close(&up(&l32), &cce_ref(&up(&p32), &up(&t32), c), 2e-6, "cce loss32");
                }
            }
        }
    }
}
