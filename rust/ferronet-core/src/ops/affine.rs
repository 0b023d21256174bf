//! Projective transforms of NHWC images (`keras.ops.image.affine_transform`),
//! the geometry behind resizing and the random rotation, translation and zoom
//! layers, with the gradient with respect to the image.
//!
//! Each image `b` has a transform `[a0, a1, a2, b0, b1, b2, c0, c1]` mapping
//! output pixel `(x, y)` to input point `((a0·x + a1·y + a2) / k, (b0·x + b1·y
//! + b2) / k)`, `k = c0·x + c1·y + 1`. The value there is the nearest pixel
//! or the bilinear blend of the four around it; a pixel index outside the
//! image is brought back by the fill mode: `reflect` mirrors about the edge
//! (`d c b a | a b c d | d c b a`), `wrap` tiles, `nearest` repeats the edge,
//! and `constant` reads `fill_value` (`scipy.ndimage`'s `reflect`,
//! `grid-wrap`, `nearest` and `grid-constant`).
//!
//! Coordinates are computed in f64. The forward pass gathers, one output row
//! per task; the gradient scatters into the input, one image per task, in
//! output-pixel order — so both are bitwise identical for any thread count.

use crate::error::{shape_err, value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::fmt_shape;
use crate::simd::{self, Isa};

const OP: &str = "affine_transform";
/// Elements touched per parallel block.
const BLOCK: usize = 1 << 15;

/// How a pixel value is read at a fractional point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interpolation {
    Nearest,
    Bilinear,
}

/// How points outside the image are filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FillMode {
    Reflect,
    Wrap,
    Constant,
    Nearest,
}

impl Interpolation {
    pub fn parse(s: &str) -> Result<Interpolation> {
        match s.to_ascii_lowercase().as_str() {
            "nearest" => Ok(Interpolation::Nearest),
            "bilinear" => Ok(Interpolation::Bilinear),
            _ => value_err(OP, format!("interpolation must be 'nearest' or 'bilinear'. Received: interpolation={s:?}")),
        }
    }
}

impl FillMode {
    pub fn parse(s: &str) -> Result<FillMode> {
        match s.to_ascii_lowercase().as_str() {
            "reflect" => Ok(FillMode::Reflect),
            "wrap" => Ok(FillMode::Wrap),
            "constant" => Ok(FillMode::Constant),
            "nearest" => Ok(FillMode::Nearest),
            _ => value_err(
                OP,
                format!("fill_mode must be 'reflect', 'wrap', 'constant' or 'nearest'. Received: fill_mode={s:?}"),
            ),
        }
    }

    /// The pixel index standing for index `i` of an axis of `len` pixels, None for the fill value.
    #[inline(always)]
    fn index(self, i: i64, len: usize) -> Option<usize> {
        let n = len as i64;
        if n == 0 {
            return None;
        }
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        Some(match self {
            FillMode::Constant => return None,
            FillMode::Nearest => i.clamp(0, n - 1),
            FillMode::Wrap => i.rem_euclid(n),
            FillMode::Reflect => {
                let r = i.rem_euclid(2 * n);
                if r >= n {
                    2 * n - 1 - r
                } else {
                    r
                }
            }
        } as usize)
    }
}

/// Geometry of one transform: input `(n, h, w, c)`, output `(n, oh, ow, c)`.
#[derive(Clone, Copy, Debug)]
pub struct Affine {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub channels: usize,
    pub out_h: usize,
    pub out_w: usize,
    pub interpolation: Interpolation,
    pub fill_mode: FillMode,
}

/// Where one output pixel reads: up to four input pixels (None = fill) and their weights.
struct Taps {
    px: [Option<usize>; 4],
    wt: [f64; 4],
}

impl Affine {
    /// Checks the input shape and the `(8,)` or `(n, 8)` transforms.
    pub fn new(
        x_shape: &[usize],
        transforms_len: usize,
        out_hw: (usize, usize),
        interpolation: Interpolation,
        fill_mode: FillMode,
    ) -> Result<Affine> {
        if x_shape.len() != 4 {
            return shape_err(
                OP,
                format!(
                    "expected NHWC images (batch, height, width, channels). Received: images.shape={}",
                    fmt_shape(x_shape)
                ),
            );
        }
        if transforms_len != 8 * x_shape[0] {
            return shape_err(
                OP,
                format!(
                    "expected one transform of 8 numbers per image, (batch, 8) = ({}, 8). Received: {transforms_len} numbers",
                    x_shape[0]
                ),
            );
        }
        let [batch, h, w, channels] = [x_shape[0], x_shape[1], x_shape[2], x_shape[3]];
        Ok(Affine { batch, h, w, channels, out_h: out_hw.0, out_w: out_hw.1, interpolation, fill_mode })
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.h, self.w, self.channels]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.channels]
    }

    fn check(&self, name: &str, len: usize, shape: &[usize]) -> Result<()> {
        if len != shape.iter().product::<usize>() {
            return shape_err(OP, format!("{name} must have shape {}. Received: {len} elements", fmt_shape(shape)));
        }
        Ok(())
    }

    /// Pixel index (row-major within the image) of `(y, x)`, None for the fill value.
    #[inline(always)]
    fn pixel(&self, y: f64, x: f64) -> Option<usize> {
        let f = self.fill_mode;
        Some(f.index(y as i64, self.h)? * self.w + f.index(x as i64, self.w)?)
    }

    /// The input pixels and weights output pixel `(oy, ox)` of image `t` reads.
    #[inline(always)]
    fn taps(&self, t: &[f64], oy: usize, ox: usize) -> Taps {
        let (xo, yo) = (ox as f64, oy as f64);
        let none = Taps { px: [None; 4], wt: [1.0, 0.0, 0.0, 0.0] };
        let k = t[6] * xo + t[7] * yo + 1.0;
        let xi = (t[0] * xo + t[1] * yo + t[2]) / k;
        let yi = (t[3] * xo + t[4] * yo + t[5]) / k;
        if k == 0.0 || !(xi.is_finite() && yi.is_finite()) {
            return none;
        }
        match self.interpolation {
            // NOTE: halves away from zero, as C's round (TensorFlow's choice).
            Interpolation::Nearest => {
                Taps { px: [self.pixel(yi.round(), xi.round()), None, None, None], wt: [1.0, 0.0, 0.0, 0.0] }
            }
            Interpolation::Bilinear => {
                let (y0, x0) = (yi.floor(), xi.floor());
                let (fy, fx) = (yi - y0, xi - x0);
                Taps {
                    px: [
                        self.pixel(y0, x0),
                        self.pixel(y0, x0 + 1.0),
                        self.pixel(y0 + 1.0, x0),
                        self.pixel(y0 + 1.0, x0 + 1.0),
                    ],
                    wt: [(1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx, fy * (1.0 - fx), fy * fx],
                }
            }
        }
    }

    /// `y` = the transformed images.
    pub fn forward<T: Float>(&self, x: &[T], transforms: &[f64], fill_value: T, y: &mut [T]) -> Result<()> {
        self.forward_on(simd::active(), x, transforms, fill_value, y)
    }

    fn forward_on<T: Float>(&self, isa: Isa, x: &[T], transforms: &[f64], fill_value: T, y: &mut [T]) -> Result<()> {
        self.check("images", x.len(), &self.input_shape())?;
        self.check("out", y.len(), &self.output_shape())?;
        if y.is_empty() {
            return Ok(());
        }
        let per_row = self.out_w * self.channels * 4;
        let body = Forward { g: self, x, t: transforms, fill: fill_value, y: SendPtr(y.as_mut_ptr()) };
        sweep(isa, self.batch * self.out_h, block_for(per_row, BLOCK), per_row, &body);
        Ok(())
    }

    /// `dx` = gradient of the transform with respect to the images.
    pub fn backward<T: Float>(&self, dy: &[T], transforms: &[f64], dx: &mut [T]) -> Result<()> {
        self.backward_on(simd::active(), dy, transforms, dx)
    }

    fn backward_on<T: Float>(&self, isa: Isa, dy: &[T], transforms: &[f64], dx: &mut [T]) -> Result<()> {
        self.check("dy", dy.len(), &self.output_shape())?;
        self.check("out", dx.len(), &self.input_shape())?;
        if dx.is_empty() {
            return Ok(());
        }
        let per_image = self.out_h * self.out_w * self.channels * 4 + self.h * self.w * self.channels;
        let body = Backward { g: self, dy, t: transforms, dx: SendPtr(dx.as_mut_ptr()) };
        sweep(isa, self.batch, 1, per_image, &body);
        Ok(())
    }
}

/// `out = Σ w_k · src_k` over four rows lane by lane.
struct Blend<'a, T> {
    out: &'a mut [T],
    src: [&'a [T]; 4],
    w: [T; 4],
}

impl<T: Float> Lanes for Blend<'_, T> {
    fn len(&self) -> usize {
        self.out.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let s = [arr::<T, G>(self.src[0], i), arr(self.src[1], i), arr(self.src[2], i), arr(self.src[3], i)];
        let mut o = [T::ZERO; G];
        for k in 0..G {
            o[k] = self.w[0] * s[0][k] + self.w[1] * s[1][k] + self.w[2] * s[2][k] + self.w[3] * s[3][k];
        }
        *arr_mut(self.out, i) = o;
    }
}

/// `acc += w · g` lane by lane.
struct Axpy<'a, T> {
    acc: &'a mut [T],
    g: &'a [T],
    w: T,
}

impl<T: Float> Lanes for Axpy<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut a, g) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.g, i));
        for k in 0..G {
            a[k] += self.w * g[k];
        }
        *arr_mut(self.acc, i) = a;
    }
}

/// Output rows `lo..hi` (over batch × output height).
struct Forward<'a, T> {
    g: &'a Affine,
    x: &'a [T],
    t: &'a [f64],
    fill: T,
    y: SendPtr<T>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let (c, ow, oh) = (g.channels, g.out_w, g.out_h);
        let image = g.h * g.w * c;
        // SAFETY: output rows lo..hi belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * ow * c), (hi - lo) * ow * c) };
        let fill = vec![self.fill; c];
        for (r, yrow) in (lo..hi).zip(y.chunks_exact_mut(ow * c)) {
            let (b, oy) = (r / oh, r % oh);
            let x = &self.x[b * image..(b + 1) * image];
            let t = &self.t[b * 8..b * 8 + 8];
            for (ox, out) in yrow.chunks_exact_mut(c).enumerate() {
                let taps = g.taps(t, oy, ox);
                let src = taps.px.map(|p| p.map_or(&fill[..], |p| &x[p * c..(p + 1) * c]));
                let w = taps.wt.map(T::from_f64);
                lanes(Blend { out, src, w });
            }
        }
    }
}

/// Images `lo..hi` of dx, each scattered from its dy in output-pixel order.
struct Backward<'a, T> {
    g: &'a Affine,
    dy: &'a [T],
    t: &'a [f64],
    dx: SendPtr<T>,
}

impl<T: Float> Body for Backward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let c = g.channels;
        let (image, out_image) = (g.h * g.w * c, g.out_h * g.out_w * c);
        // SAFETY: images lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * image), (hi - lo) * image) };
        for (b, dximg) in (lo..hi).zip(dx.chunks_exact_mut(image.max(1))) {
            dximg.fill(T::ZERO);
            let t = &self.t[b * 8..b * 8 + 8];
            let dy = &self.dy[b * out_image..(b + 1) * out_image];
            for (p, gpx) in dy.chunks_exact(c.max(1)).enumerate() {
                let taps = g.taps(t, p / g.out_w, p % g.out_w);
                for (px, w) in taps.px.iter().zip(taps.wt) {
                    if let (Some(px), true) = (px, w != 0.0) {
                        lanes(Axpy { acc: &mut dximg[px * c..(px + 1) * c], g: gpx, w: T::from_f64(w) });
                    }
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
    fn fill_modes_map_indices_as_scipy_ndimage() {
        let at = |m: FillMode, i| m.index(i, 4);
        assert_eq!([-1, -4, -5, 4, 7, 8, 2].map(|i| at(FillMode::Reflect, i).unwrap()), [0, 3, 3, 3, 0, 0, 2]);
        assert_eq!([-1, -4, 4, 5, 9].map(|i| at(FillMode::Wrap, i).unwrap()), [3, 0, 0, 1, 1]);
        assert_eq!([-3, 9].map(|i| at(FillMode::Nearest, i).unwrap()), [0, 3]);
        assert_eq!([-1, 4, 0].map(|i| at(FillMode::Constant, i)), [None, None, Some(0)]);
        assert_eq!(FillMode::Reflect.index(5, 0), None);
    }

    #[test]
    fn identity_and_integer_shift_move_pixels_exactly() {
        let s = [2, 5, 4, 3];
        let x = data(s.iter().product(), 1);
        for interp in [Interpolation::Nearest, Interpolation::Bilinear] {
            let g = Affine::new(&s, 16, (5, 4), interp, FillMode::Constant).unwrap();
            let mut t = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
            t.extend([1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]); // image 1 reads one column to the right
            let mut y = vec![f64::NAN; x.len()];
            g.forward(&x, &t, 9.0, &mut y).unwrap();
            assert_eq!(&y[..60], &x[..60]);
            for row in 0..5 {
                for col in 0..4 {
                    for ch in 0..3 {
                        let got = y[60 + (row * 4 + col) * 3 + ch];
                        let want = if col == 3 { 9.0 } else { x[60 + (row * 4 + col + 1) * 3 + ch] };
                        assert_eq!(got, want);
                    }
                }
            }
        }
    }

    #[test]
    fn gradient_is_the_transpose_and_thread_count_free() {
        let s = [3, 9, 7, 19];
        let x = data(s.iter().product(), 2);
        let mut t = Vec::new();
        for b in 0..3 {
            let a = 0.3 * b as f64 + 0.2;
            t.extend([a.cos() * 1.1, -a.sin(), 2.0, a.sin(), a.cos() * 0.9, -1.5, 0.001 * b as f64, 0.0]);
        }
        let threads = parallel::num_threads();
        for isa in simd::supported() {
            for fill in [FillMode::Reflect, FillMode::Wrap, FillMode::Constant, FillMode::Nearest] {
                for interp in [Interpolation::Nearest, Interpolation::Bilinear] {
                    let g = Affine::new(&s, 24, (6, 11), interp, fill).unwrap();
                    let ys = g.output_shape();
                    let dy = data(ys.iter().product(), 3);
                    let mut y = vec![0.0; dy.len()];
                    g.forward_on(isa, &x, &t, 0.0, &mut y).unwrap();
                    let mut dx = vec![f64::NAN; x.len()];
                    g.backward_on(isa, &dy, &t, &mut dx).unwrap();
                    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
                    assert!((dot(&y, &dy) - dot(&x, &dx)).abs() < 1e-10, "{isa:?} {fill:?} {interp:?}");
                    parallel::set_num_threads(3);
                    let (mut y3, mut dx3) = (vec![0.0; y.len()], vec![0.0; dx.len()]);
                    g.forward_on(isa, &x, &t, 0.0, &mut y3).unwrap();
                    g.backward_on(isa, &dy, &t, &mut dx3).unwrap();
                    parallel::set_num_threads(1);
                    let (mut y1, mut dx1) = (vec![0.0; y.len()], vec![0.0; dx.len()]);
                    g.forward_on(isa, &x, &t, 0.0, &mut y1).unwrap();
                    g.backward_on(isa, &dy, &t, &mut dx1).unwrap();
                    parallel::set_num_threads(threads);
                    assert!(y1 == y3 && dx1 == dx3 && y1 == y);
                }
            }
        }
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(Affine::new(&[2, 3, 3], 16, (3, 3), Interpolation::Nearest, FillMode::Wrap).is_err());
        assert!(Affine::new(&[2, 3, 3, 1], 8, (3, 3), Interpolation::Nearest, FillMode::Wrap).is_err());
        assert!(FillMode::parse("mirror").is_err() && Interpolation::parse("cubic").is_err());
    }
}
