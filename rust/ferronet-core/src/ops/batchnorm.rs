//! Batch normalization over the last axis: `x` is viewed as `(rows, cols)`
//! and every column is one channel. Statistics are two-pass — the mean
//! first, then the mean squared deviation from it (no `E[x²] - E[x]²`) —
//! with the fixed-order column sums of [`crate::ops::reduce`].

use crate::error::{value_err, Result};
use crate::float::Float;
use crate::ops::reduce::{check_channels, check_matrix, column_sums, Plain, RowTerm};
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// Elements per parallel block of the element-wise passes.
const BLOCK: usize = 1 << 14;

/// Squared deviations from the column means.
struct SqDev<'a, T> {
    x: &'a [T],
    mean: &'a [T],
}

impl<T: Float> RowTerm<T> for SqDev<'_, T> {
    #[inline(always)]
    fn add_row(&self, r: usize, acc: &mut [T]) {
        let cols = self.mean.len();
        lanes(SqDevRow { acc, x: &self.x[r * cols..(r + 1) * cols], mean: self.mean });
    }
}

/// `acc += (x - mean)²` lane by lane.
struct SqDevRow<'a, T> {
    acc: &'a mut [T],
    x: &'a [T],
    mean: &'a [T],
}

impl<T: Float> Lanes for SqDevRow<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut a, x, m) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.x, i), *arr::<T, G>(self.mean, i));
        for k in 0..G {
            let d = x[k] - m[k];
            a[k] += d * d;
        }
        *arr_mut(self.acc, i) = a;
    }
}

/// `Σ dy` and `Σ dy·(x - mean)` per column (the batch-norm backward sums).
struct GradSums<'a, T> {
    dy: &'a [T],
    x: &'a [T],
    mean: &'a [T],
}

impl<T: Float> RowTerm<T> for GradSums<'_, T> {
    #[inline(always)]
    fn add_row(&self, r: usize, acc: &mut [T]) {
        let cols = self.mean.len();
        let (sdy, sdyx) = acc.split_at_mut(cols);
        let (dy, x) = (&self.dy[r * cols..(r + 1) * cols], &self.x[r * cols..(r + 1) * cols]);
        lanes(GradRow { sdy, sdyx, dy, x, mean: self.mean });
    }
}

/// `sdy += dy`, `sdyx += dy·(x - mean)` lane by lane.
struct GradRow<'a, T> {
    sdy: &'a mut [T],
    sdyx: &'a mut [T],
    dy: &'a [T],
    x: &'a [T],
    mean: &'a [T],
}

impl<T: Float> Lanes for GradRow<'_, T> {
    fn len(&self) -> usize {
        self.sdy.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut s1, mut s2) = (*arr::<T, G>(self.sdy, i), *arr::<T, G>(self.sdyx, i));
        let (g, x, m) = (*arr::<T, G>(self.dy, i), *arr::<T, G>(self.x, i), *arr::<T, G>(self.mean, i));
        for k in 0..G {
            s1[k] += g[k];
            s2[k] += g[k] * (x[k] - m[k]);
        }
        *arr_mut(self.sdy, i) = s1;
        *arr_mut(self.sdyx, i) = s2;
    }
}

fn check_epsilon(op: &'static str, eps: f64) -> Result<()> {
    if !(eps >= 0.0 && eps.is_finite()) {
        return value_err(op, format!("epsilon must be finite and non-negative. Received: epsilon={eps}"));
    }
    Ok(())
}

/// `y = (x - mean[c])·scale[c] + shift[c]`, row by row.
struct Affine<'a, T> {
    x: &'a [T],
    y: SendPtr<T>,
    mean: &'a [T],
    scale: &'a [T],
    shift: &'a [T],
}

impl<T: Float> Body for Affine<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let cols = self.mean.len();
        // SAFETY: rows lo..hi of y belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * cols), (hi - lo) * cols) };
        for (y, x) in y.chunks_exact_mut(cols).zip(self.x[lo * cols..hi * cols].chunks_exact(cols)) {
            lanes(AffineRow { y, x, p: self });
        }
    }
}

struct AffineRow<'a, 'b, T> {
    y: &'a mut [T],
    x: &'a [T],
    p: &'a Affine<'b, T>,
}

impl<T: Float> Lanes for AffineRow<'_, '_, T> {
    fn len(&self) -> usize {
        self.y.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (x, m) = (*arr::<T, G>(self.x, i), *arr::<T, G>(self.p.mean, i));
        let (s, b) = (*arr::<T, G>(self.p.scale, i), *arr::<T, G>(self.p.shift, i));
        let mut y = [T::ZERO; G];
        for k in 0..G {
            y[k] = (x[k] - m[k]) * s[k] + b[k];
        }
        *arr_mut(self.y, i) = y;
    }
}

fn affine<T: Float>(isa: Isa, x: &[T], mean: &[T], scale: &[T], shift: &[T], y: &mut [T]) {
    let cols = mean.len();
    if cols == 0 {
        return;
    }
    let body = Affine { x, y: SendPtr(y.as_mut_ptr()), mean, scale, shift };
    sweep(isa, x.len() / cols, block_for(cols, BLOCK), 2 * cols, &body);
}

/// Training-mode batch norm: the batch mean and biased variance of every
/// column, and `y = (x - mean)·γ/√(var + ε) + β`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_train<T: Float>(
    x: &[T],
    rows: usize,
    cols: usize,
    gamma: &[T],
    beta: &[T],
    epsilon: f64,
    y: &mut [T],
    mean: &mut [T],
    var: &mut [T],
) -> Result<()> {
    batch_norm_train_on(simd::active(), x, rows, cols, gamma, beta, epsilon, y, mean, var)
}

#[allow(clippy::too_many_arguments)]
fn batch_norm_train_on<T: Float>(
    isa: Isa,
    x: &[T],
    rows: usize,
    cols: usize,
    gamma: &[T],
    beta: &[T],
    epsilon: f64,
    y: &mut [T],
    mean: &mut [T],
    var: &mut [T],
) -> Result<()> {
    const OP: &str = "batch_norm_train";
    check_epsilon(OP, epsilon)?;
    check_matrix(OP, "x", x.len(), rows, cols)?;
    check_matrix(OP, "out", y.len(), rows, cols)?;
    check_channels(
        OP,
        cols,
        &[("gamma", gamma.len()), ("beta", beta.len()), ("mean", mean.len()), ("var", var.len())],
    )?;
    // Pass 1: the mean. Pass 2: the mean squared deviation from it.
    let n = T::from_usize(rows);
    column_sums(isa, &Plain { x, cols }, rows, cols, mean);
    mean.iter_mut().for_each(|m| *m = *m / n);
    column_sums(isa, &SqDev { x, mean }, rows, cols, var);
    var.iter_mut().for_each(|v| *v = *v / n);
    let scale: Vec<T> =
        var.iter().zip(gamma).map(|(&v, &g)| T::from_f64(g.to_f64() / (v.to_f64() + epsilon).sqrt())).collect();
    affine(isa, x, mean, &scale, beta, y);
    Ok(())
}

/// Inference-mode batch norm with given statistics:
/// `y = (x - mean)·γ/√(var + ε) + β`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_infer<T: Float>(
    x: &[T],
    rows: usize,
    cols: usize,
    gamma: &[T],
    beta: &[T],
    mean: &[T],
    var: &[T],
    epsilon: f64,
    y: &mut [T],
) -> Result<()> {
    const OP: &str = "batch_norm_infer";
    check_epsilon(OP, epsilon)?;
    check_matrix(OP, "x", x.len(), rows, cols)?;
    check_matrix(OP, "out", y.len(), rows, cols)?;
    check_channels(
        OP,
        cols,
        &[("gamma", gamma.len()), ("beta", beta.len()), ("mean", mean.len()), ("var", var.len())],
    )?;
    let scale: Vec<T> =
        var.iter().zip(gamma).map(|(&v, &g)| T::from_f64(g.to_f64() / (v.to_f64() + epsilon).sqrt())).collect();
    affine(simd::active(), x, mean, &scale, beta, y);
    Ok(())
}

/// `dx = k[0]·dy + k[1]·(x - mean) + k[2]` per column.
struct InputGrad<'a, T> {
    dy: &'a [T],
    x: &'a [T],
    dx: SendPtr<T>,
    mean: &'a [T],
    k: [Vec<T>; 3],
}

impl<T: Float> Body for InputGrad<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let cols = self.mean.len();
        // SAFETY: rows lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * cols), (hi - lo) * cols) };
        let rows = dx.chunks_exact_mut(cols).zip(self.dy[lo * cols..hi * cols].chunks_exact(cols));
        for ((dx, dy), x) in rows.zip(self.x[lo * cols..hi * cols].chunks_exact(cols)) {
            lanes(InputGradRow { dx, dy, x, p: self });
        }
    }
}

struct InputGradRow<'a, 'b, T> {
    dx: &'a mut [T],
    dy: &'a [T],
    x: &'a [T],
    p: &'a InputGrad<'b, T>,
}

impl<T: Float> Lanes for InputGradRow<'_, '_, T> {
    fn len(&self) -> usize {
        self.dx.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (g, x, m) = (*arr::<T, G>(self.dy, i), *arr::<T, G>(self.x, i), *arr::<T, G>(self.p.mean, i));
        let [k0, k1, k2] = &self.p.k;
        let (k0, k1, k2) = (*arr::<T, G>(k0, i), *arr::<T, G>(k1, i), *arr::<T, G>(k2, i));
        let mut dx = [T::ZERO; G];
        for k in 0..G {
            dx[k] = k0[k] * g[k] + k1[k] * (x[k] - m[k]) + k2[k];
        }
        *arr_mut(self.dx, i) = dx;
    }
}

/// Gradients of [`batch_norm_train`] given the batch statistics it returned:
/// with `x̂ = (x - mean)/√(var + ε)`, `dβ = Σ dy`, `dγ = Σ dy·x̂` and
/// `dx = γ/√(var + ε) · (dy - dβ/N - x̂·dγ/N)`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward<T: Float>(
    dy: &[T],
    x: &[T],
    rows: usize,
    cols: usize,
    gamma: &[T],
    mean: &[T],
    var: &[T],
    epsilon: f64,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) -> Result<()> {
    batch_norm_backward_on(simd::active(), dy, x, rows, cols, gamma, mean, var, epsilon, dx, dgamma, dbeta)
}

#[allow(clippy::too_many_arguments)]
fn batch_norm_backward_on<T: Float>(
    isa: Isa,
    dy: &[T],
    x: &[T],
    rows: usize,
    cols: usize,
    gamma: &[T],
    mean: &[T],
    var: &[T],
    epsilon: f64,
    dx: &mut [T],
    dgamma: &mut [T],
    dbeta: &mut [T],
) -> Result<()> {
    const OP: &str = "batch_norm_backward";
    check_epsilon(OP, epsilon)?;
    check_matrix(OP, "x", x.len(), rows, cols)?;
    check_matrix(OP, "dy", dy.len(), rows, cols)?;
    check_matrix(OP, "dx", dx.len(), rows, cols)?;
    check_channels(
        OP,
        cols,
        &[
            ("gamma", gamma.len()),
            ("mean", mean.len()),
            ("var", var.len()),
            ("dgamma", dgamma.len()),
            ("dbeta", dbeta.len()),
        ],
    )?;
    if cols == 0 {
        return Ok(());
    }
    let mut sums = vec![T::ZERO; 2 * cols];
    column_sums(isa, &GradSums { dy, x, mean }, rows, 2 * cols, &mut sums);
    let n = rows as f64;
    let mut k = [vec![T::ZERO; cols], vec![T::ZERO; cols], vec![T::ZERO; cols]];
    for c in 0..cols {
        let inv = 1.0 / (var[c].to_f64() + epsilon).sqrt();
        let (sdy, sdyx) = (sums[c].to_f64(), sums[cols + c].to_f64());
        // An empty batch has NaN statistics, but its sums are still 0.
        let dg = if rows == 0 { 0.0 } else { sdyx * inv };
        dbeta[c] = T::from_f64(sdy);
        dgamma[c] = T::from_f64(dg);
        let gi = gamma[c].to_f64() * inv;
        k[0][c] = T::from_f64(gi);
        k[1][c] = T::from_f64(-gi * inv * dg / n);
        k[2][c] = T::from_f64(-gi * sdy / n);
    }
    let body = InputGrad { dy, x, dx: SendPtr(dx.as_mut_ptr()), mean, k };
    sweep(isa, rows, block_for(cols, BLOCK), 3 * cols, &body);
    Ok(())
}
#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::uniform as data;

    fn reference_train(
        x: &[f64],
        rows: usize,
        cols: usize,
        g: &[f64],
        b: &[f64],
        eps: f64,
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mean: Vec<f64> = (0..cols).map(|c| (0..rows).map(|r| x[r * cols + c]).sum::<f64>() / rows as f64).collect();
        let var: Vec<f64> = (0..cols)
            .map(|c| (0..rows).map(|r| (x[r * cols + c] - mean[c]).powi(2)).sum::<f64>() / rows as f64)
            .collect();
        let y = (0..rows * cols)
            .map(|i| {
                let c = i % cols;
                (x[i] - mean[c]) / (var[c] + eps).sqrt() * g[c] + b[c]
            })
            .collect();
        (y, mean, var)
    }

    #[test]
    fn train_and_infer_match_reference() {
        for isa in simd::supported() {
            for (rows, cols) in [(1, 1), (7, 3), (300, 17)] {
                let x: Vec<f64> = data(rows * cols, 5).iter().map(|v| v * 3.0 + 100.0).collect();
                let (g, b) = (data(cols, 6), data(cols, 7));
                let (wy, wm, wv) = reference_train(&x, rows, cols, &g, &b, 1e-3);
                let (mut y, mut m, mut v) = (vec![0.0; rows * cols], vec![0.0; cols], vec![0.0; cols]);
                batch_norm_train_on(isa, &x, rows, cols, &g, &b, 1e-3, &mut y, &mut m, &mut v).unwrap();
                for i in 0..rows * cols {
                    assert!((y[i] - wy[i]).abs() < 1e-9, "y[{i}]");
                }
                for c in 0..cols {
                    assert!((m[c] - wm[c]).abs() < 1e-12 && (v[c] - wv[c]).abs() < 1e-12);
                }
                let mut yi = vec![0.0; rows * cols];
                batch_norm_infer(&x, rows, cols, &g, &b, &m, &v, 1e-3, &mut yi).unwrap();
                assert_eq!(y, yi);
            }
        }
    }

    #[test]
    fn backward_matches_central_differences() {
        let (rows, cols, eps) = (9, 4, 1e-3);
        let x = data(rows * cols, 11);
        let (g, b, w) = (data(cols, 12), data(cols, 13), data(rows * cols, 14));
        // Loss L = Σ w·y, so dy = w.
        let loss = |x: &[f64], g: &[f64], b: &[f64]| -> f64 {
            let (y, _, _) = reference_train(x, rows, cols, g, b, eps);
            y.iter().zip(&w).map(|(y, w)| y * w).sum()
        };
        for isa in simd::supported() {
            let (mut y, mut m, mut v) = (vec![0.0; rows * cols], vec![0.0; cols], vec![0.0; cols]);
            batch_norm_train_on(isa, &x, rows, cols, &g, &b, eps, &mut y, &mut m, &mut v).unwrap();
            let (mut dx, mut dg, mut db) = (vec![0.0; rows * cols], vec![0.0; cols], vec![0.0; cols]);
            batch_norm_backward_on(isa, &w, &x, rows, cols, &g, &m, &v, eps, &mut dx, &mut dg, &mut db).unwrap();
            let h = 1e-6;
            for i in 0..rows * cols {
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let num = (loss(&xp, &g, &b) - loss(&xm, &g, &b)) / (2.0 * h);
                assert!((dx[i] - num).abs() < 1e-6, "dx[{i}]: {} vs {num}", dx[i]);
            }
            for c in 0..cols {
                let (mut gp, mut gm, mut bp, mut bm) = (g.clone(), g.clone(), b.clone(), b.clone());
                gp[c] += h;
                gm[c] -= h;
                bp[c] += h;
                bm[c] -= h;
                let ng = (loss(&x, &gp, &b) - loss(&x, &gm, &b)) / (2.0 * h);
                let nb = (loss(&x, &g, &bp) - loss(&x, &g, &bm)) / (2.0 * h);
                assert!((dg[c] - ng).abs() < 1e-6 && (db[c] - nb).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn shapes_are_checked() {
        let x = vec![0f32; 6];
        let (mut y, mut m, mut v) = (vec![0f32; 6], vec![0f32; 3], vec![0f32; 3]);
        let e = batch_norm_train(&x, 2, 3, &[1.0; 2], &[0.0; 3], 1e-3, &mut y, &mut m, &mut v).unwrap_err();
        assert!(e.to_string().contains("gamma has 2 elements"), "{e}");
        let e = batch_norm_train(&x, 2, 3, &[1.0; 3], &[0.0; 3], -1.0, &mut y, &mut m, &mut v).unwrap_err();
        assert!(e.to_string().contains("epsilon=-1"), "{e}");
    }
}
