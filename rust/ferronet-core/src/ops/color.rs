//! Per-image contrast and brightness of NHWC images (the random contrast and
//! brightness layers), with the gradient with respect to the images:
//!
//! `y = clip(f_b · (x − μ_bc) + μ_bc + δ_b, lo, hi)`,
//!
//! `μ_bc` the mean of channel `c` of image `b` when `center` is set (contrast),
//! else 0 (brightness, with `f = 1`). Each image is one task; its channel
//! sums run over the pixels in order, so results are bitwise identical for
//! any number of threads.

use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::fmt_shape;
use crate::simd::{self, Isa};

const OP: &str = "adjust_images";

/// `acc += a` lane by lane.
struct AddTo<'a, T> {
    acc: &'a mut [T],
    a: &'a [T],
}

impl<T: Float> Lanes for AddTo<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut s, a) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.a, i));
        for k in 0..G {
            s[k] += a[k];
        }
        *arr_mut(self.acc, i) = s;
    }
}

/// `y = clip(f · x + b, lo, hi)` lane by lane (`b` per channel).
struct ScaleShiftClip<'a, T> {
    y: &'a mut [T],
    x: &'a [T],
    b: &'a [T],
    f: T,
    lo: T,
    hi: T,
}

impl<T: Float> Lanes for ScaleShiftClip<'_, T> {
    fn len(&self) -> usize {
        self.y.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (x, b) = (*arr::<T, G>(self.x, i), *arr::<T, G>(self.b, i));
        let mut y = [T::ZERO; G];
        for k in 0..G {
            let v = self.f * x[k] + b[k];
            let v = if v < self.lo { self.lo } else { v };
            y[k] = if v > self.hi { self.hi } else { v };
        }
        *arr_mut(self.y, i) = y;
    }
}

/// `gm = g` where `lo <= f · x + b <= hi`, else 0; `dx = f · gm`; `sum += gm` (lane by lane).
struct MaskedGrad<'a, T> {
    dx: &'a mut [T],
    sum: &'a mut [T],
    g: &'a [T],
    x: &'a [T],
    b: &'a [T],
    f: T,
    lo: T,
    hi: T,
}

impl<T: Float> Lanes for MaskedGrad<'_, T> {
    fn len(&self) -> usize {
        self.dx.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (g, x, b) = (*arr::<T, G>(self.g, i), *arr::<T, G>(self.x, i), *arr::<T, G>(self.b, i));
        let mut s = *arr::<T, G>(self.sum, i);
        let mut d = [T::ZERO; G];
        for k in 0..G {
            let v = self.f * x[k] + b[k];
            let gm = if (v >= self.lo) & (v <= self.hi) { g[k] } else { T::ZERO };
            s[k] += gm;
            d[k] = self.f * gm;
        }
        *arr_mut(self.sum, i) = s;
        *arr_mut(self.dx, i) = d;
    }
}

#[inline(always)]
fn add_to<T: Float>(acc: &mut [T], a: &[T]) {
    lanes(AddTo { acc, a })
}

/// Geometry and parameters of one adjustment.
#[derive(Clone, Copy, Debug)]
pub struct Adjust<'a> {
    pub shape: [usize; 4],
    /// Contrast factor per image (1 for brightness).
    pub factor: &'a [f64],
    /// Offset per image.
    pub delta: &'a [f64],
    /// Subtract and restore the per-channel mean (contrast).
    pub center: bool,
    pub lo: f64,
    pub hi: f64,
}

impl Adjust<'_> {
    fn check(&self, name: &str, len: usize) -> Result<()> {
        let [n, ..] = self.shape;
        if self.factor.len() != n || self.delta.len() != n {
            return shape_err(
                OP,
                format!(
                    "expected one factor and one delta per image ({n}). Received: {} factors, {} deltas",
                    self.factor.len(),
                    self.delta.len()
                ),
            );
        }
        if len != self.shape.iter().product::<usize>() {
            return shape_err(
                OP,
                format!("{name} must have shape {}. Received: {len} elements", fmt_shape(&self.shape)),
            );
        }
        Ok(())
    }

    /// The per-channel shift `(1 − f) μ + δ` of image `b`.
    #[inline(always)]
    fn shift<T: Float>(&self, b: usize, image: &[T], out: &mut [T]) {
        let [_, h, w, c] = self.shape;
        out.fill(T::ZERO);
        if self.center && h * w > 0 {
            for px in image.chunks_exact(c) {
                add_to(out, px);
            }
        }
        let (f, d, p) = (T::from_f64(self.factor[b]), T::from_f64(self.delta[b]), T::from_usize((h * w).max(1)));
        for v in out.iter_mut() {
            *v = (T::ONE - f) * (*v / p) + d;
        }
    }

    /// `y` = the adjusted images.
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T]) -> Result<()> {
        self.forward_on(simd::active(), x, y)
    }

    fn forward_on<T: Float>(&self, isa: Isa, x: &[T], y: &mut [T]) -> Result<()> {
        self.check("images", x.len())?;
        self.check("out", y.len())?;
        let image = self.shape[1] * self.shape[2] * self.shape[3];
        if image == 0 {
            return Ok(());
        }
        let body = Forward { a: self, x, y: SendPtr(y.as_mut_ptr()) };
        sweep(isa, self.shape[0], block_for(image, 1 << 15), 2 * image, &body);
        Ok(())
    }

    /// `dx` = gradient of the adjustment at `x` with respect to the images.
    pub fn backward<T: Float>(&self, dy: &[T], x: &[T], dx: &mut [T]) -> Result<()> {
        self.backward_on(simd::active(), dy, x, dx)
    }

    fn backward_on<T: Float>(&self, isa: Isa, dy: &[T], x: &[T], dx: &mut [T]) -> Result<()> {
        self.check("dy", dy.len())?;
        self.check("images", x.len())?;
        self.check("out", dx.len())?;
        let image = self.shape[1] * self.shape[2] * self.shape[3];
        if image == 0 {
            return Ok(());
        }
        let body = Backward { a: self, dy, x, dx: SendPtr(dx.as_mut_ptr()) };
        sweep(isa, self.shape[0], block_for(image, 1 << 15), 4 * image, &body);
        Ok(())
    }
}

/// Images `lo..hi`.
struct Forward<'a, T> {
    a: &'a Adjust<'a>,
    x: &'a [T],
    y: SendPtr<T>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let [_, h, w, c] = self.a.shape;
        let image = h * w * c;
        let (vlo, vhi) = (T::from_f64(self.a.lo), T::from_f64(self.a.hi));
        // SAFETY: images lo..hi of y belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * image), (hi - lo) * image) };
        let mut shift = vec![T::ZERO; c];
        for (b, yimg) in (lo..hi).zip(y.chunks_exact_mut(image)) {
            let ximg = &self.x[b * image..(b + 1) * image];
            self.a.shift(b, ximg, &mut shift);
            let f = T::from_f64(self.a.factor[b]);
            for (ypx, xpx) in yimg.chunks_exact_mut(c).zip(ximg.chunks_exact(c)) {
                lanes(ScaleShiftClip { y: ypx, x: xpx, b: &shift, f, lo: vlo, hi: vhi });
            }
        }
    }
}

/// Images `lo..hi` of dx.
struct Backward<'a, T> {
    a: &'a Adjust<'a>,
    dy: &'a [T],
    x: &'a [T],
    dx: SendPtr<T>,
}

impl<T: Float> Body for Backward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let [_, h, w, c] = self.a.shape;
        let image = h * w * c;
        let (vlo, vhi) = (T::from_f64(self.a.lo), T::from_f64(self.a.hi));
        // SAFETY: images lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * image), (hi - lo) * image) };
        let (mut shift, mut sum) = (vec![T::ZERO; c], vec![T::ZERO; c]);
        for (b, dimg) in (lo..hi).zip(dx.chunks_exact_mut(image)) {
            let (ximg, gimg) = (&self.x[b * image..(b + 1) * image], &self.dy[b * image..(b + 1) * image]);
            self.a.shift(b, ximg, &mut shift);
            let f = T::from_f64(self.a.factor[b]);
            sum.fill(T::ZERO);
            for ((d, xp), gp) in dimg.chunks_exact_mut(c).zip(ximg.chunks_exact(c)).zip(gimg.chunks_exact(c)) {
                lanes(MaskedGrad { dx: d, sum: &mut sum, g: gp, x: xp, b: &shift, f, lo: vlo, hi: vhi });
            }
            if self.a.center {
                // The mean's share: every pixel of channel c gets (1 − f) · mean of the passed gradient.
                let k = (T::ONE - f) / T::from_usize(h * w);
                for v in sum.iter_mut() {
                    *v *= k;
                }
                for d in dimg.chunks_exact_mut(c) {
                    add_to(d, &sum);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;
    use crate::testing::uniform as data;

    #[test]
    fn contrast_and_brightness_match_the_definition_and_their_gradient() {
        let shape = [3, 5, 4, 19];
        let [n, h, w, c] = shape;
        let x = data(n * h * w * c, 1);
        let (factor, delta) = (vec![0.5, 1.7, 1.0], vec![0.1, -0.2, 0.0]);
        for center in [true, false] {
            let a = Adjust { shape, factor: &factor, delta: &delta, center, lo: -0.8, hi: 0.9 };
            for isa in simd::supported() {
                let mut y = vec![0.0; x.len()];
                a.forward_on(isa, &x, &mut y).unwrap();
                let mut pre = vec![0.0; x.len()];
                for b in 0..n {
                    for ch in 0..c {
                        let idx: Vec<usize> = (0..h * w).map(|p| (b * h * w + p) * c + ch).collect();
                        let mu = if center { idx.iter().map(|&i| x[i]).sum::<f64>() / (h * w) as f64 } else { 0.0 };
                        for &i in &idx {
                            pre[i] = factor[b] * (x[i] - mu) + mu + delta[b];
                            assert!((y[i] - pre[i].clamp(-0.8, 0.9)).abs() < 1e-14);
                        }
                    }
                }
                // Directional derivative along u (away from the clip boundaries) against dx.
                let (dy, u) = (data(x.len(), 2), data(x.len(), 3));
                let mut dx = vec![f64::NAN; x.len()];
                a.backward_on(isa, &dy, &x, &mut dx).unwrap();
                let eps = 1e-7;
                let shifted = |s: f64| {
                    let xs: Vec<f64> = x.iter().zip(&u).map(|(p, q)| p + s * q).collect();
                    let mut ys = vec![0.0; x.len()];
                    a.forward_on(isa, &xs, &mut ys).unwrap();
                    ys.iter().zip(&dy).map(|(p, q)| p * q).sum::<f64>()
                };
                let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
                let analytic: f64 = dx.iter().zip(&u).map(|(p, q)| p * q).sum();
                assert!((numeric - analytic).abs() < 1e-6, "{center} {isa:?} {numeric} {analytic}");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let shape = [16, 32, 32, 3];
        let x: Vec<f32> = data(shape.iter().product(), 4).iter().map(|&v| v as f32).collect();
        let (factor, delta): (Vec<f64>, Vec<f64>) = (0..16).map(|i| (0.5 + 0.1 * i as f64, 0.01 * i as f64)).unzip();
        let a = Adjust { shape, factor: &factor, delta: &delta, center: true, lo: -0.5, hi: 0.5 };
        let threads = parallel::num_threads();
        let run = |t| {
            parallel::set_num_threads(t);
            let (mut y, mut dx) = (vec![0f32; x.len()], vec![0f32; x.len()]);
            a.forward(&x, &mut y).unwrap();
            a.backward(&x, &x, &mut dx).unwrap();
            (y, dx)
        };
        let (one, three) = (run(1), run(3));
        parallel::set_num_threads(threads);
        assert!(one == three);
    }

    #[test]
    fn mismatched_parameters_are_errors() {
        let a = Adjust { shape: [2, 2, 2, 1], factor: &[1.0], delta: &[0.0, 0.0], center: true, lo: 0.0, hi: 1.0 };
        assert!(a.forward(&[0f32; 8], &mut [0f32; 8]).is_err());
    }
}
