//! Depthwise 2-D convolution on NHWC images (Keras `DepthwiseConv2D`): every
//! input channel is convolved with its own `depth_multiplier` filters, and
//! output channel `ci·dm + m` is input channel `ci` seen through filter `m`.
//!
//! The kernel `(kh, kw, c, dm)` is, per tap, a row of `c·dm` weights in output
//! channel order. With `dm > 1` the input is first widened to `c·dm` channels
//! (channel `ci` repeated `dm` times), so every loop is an element-wise
//! multiply-add over one pixel's channels, vectorised through [`lanes`].
//!
//! Forward and input gradient are gathers (each output row, resp. input row,
//! is written by one block). The kernel and bias gradients are sums over all
//! output pixels: the rows are cut into chunks whose size depends on the
//! problem only, each chunk sums into its own partial, and the partials are
//! added in chunk order, so results are bitwise identical for any number of
//! threads.

use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::{fmt_shape, Padding, Window};
use crate::simd::{self, Isa};

const OP: &str = "depthwise_conv2d";
/// Elements touched per parallel block.
const BLOCK: usize = 1 << 15;

/// `acc += a · b` lane by lane.
struct MulAdd<'a, T> {
    acc: &'a mut [T],
    a: &'a [T],
    b: &'a [T],
}

impl<T: Float> Lanes for MulAdd<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut s, a, b) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.a, i), *arr::<T, G>(self.b, i));
        for k in 0..G {
            s[k] += a[k] * b[k];
        }
        *arr_mut(self.acc, i) = s;
    }
}

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

#[inline(always)]
fn mul_add<T: Float>(acc: &mut [T], a: &[T], b: &[T]) {
    lanes(MulAdd { acc, a, b })
}

#[inline(always)]
fn add_to<T: Float>(acc: &mut [T], a: &[T]) {
    lanes(AddTo { acc, a })
}

/// Geometry of one depthwise convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depthwise2d {
    pub batch: usize,
    pub channels: usize,
    pub multiplier: usize,
    pub h: Window,
    pub w: Window,
}

impl Depthwise2d {
    /// Checks `x` (N,H,W,C) against kernel `k` (KH,KW,C,DM) and derives the output size.
    pub fn new(
        x_shape: &[usize],
        k_shape: &[usize],
        strides: (usize, usize),
        padding: Padding,
        dilation: (usize, usize),
    ) -> Result<Depthwise2d> {
        if x_shape.len() != 4 || k_shape.len() != 4 || k_shape[2] != x_shape[3] {
            return shape_err(
                OP,
                format!(
                    "expected an NHWC input (batch, height, width, channels) and a kernel (kh, kw, channels, depth_multiplier) with the input's channels. Received: x.shape={}, kernel.shape={}",
                    fmt_shape(x_shape),
                    fmt_shape(k_shape)
                ),
            );
        }
        let h = Window::new(OP, x_shape[1], k_shape[0], strides.0, dilation.0, padding)?;
        let w = Window::new(OP, x_shape[2], k_shape[1], strides.1, dilation.1, padding)?;
        Ok(Depthwise2d { batch: x_shape[0], channels: x_shape[3], multiplier: k_shape[3], h, w })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.h.output, self.w.output, self.channels * self.multiplier]
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.h.input, self.w.input, self.channels]
    }

    pub fn kernel_shape(&self) -> [usize; 4] {
        [self.h.size, self.w.size, self.channels, self.multiplier]
    }

    /// Output channels (`channels · multiplier`).
    fn wide(&self) -> usize {
        self.channels * self.multiplier
    }

    fn check(&self, name: &str, len: usize, shape: &[usize]) -> Result<()> {
        if len != shape.iter().product::<usize>() {
            return shape_err(OP, format!("{name} must have shape {}. Received: {len} elements", fmt_shape(shape)));
        }
        Ok(())
    }

    /// `y = depthwise(x, k) + bias`.
    pub fn forward<T: Float>(&self, x: &[T], k: &[T], bias: Option<&[T]>, y: &mut [T]) -> Result<()> {
        self.forward_on(simd::active(), x, k, bias, y)
    }

    fn forward_on<T: Float>(&self, isa: Isa, x: &[T], k: &[T], bias: Option<&[T]>, y: &mut [T]) -> Result<()> {
        self.check("x", x.len(), &self.input_shape())?;
        self.check("kernel", k.len(), &self.kernel_shape())?;
        self.check("out", y.len(), &self.output_shape())?;
        if let Some(b) = bias {
            self.check("bias", b.len(), &[self.wide()])?;
        }
        if y.is_empty() {
            return Ok(());
        }
        let widened = self.widen(isa, x);
        let xe = widened.as_deref().unwrap_or(x);
        let rows = self.batch * self.h.output;
        let per_row = self.w.output * self.wide() * self.h.size * self.w.size;
        let body = Forward { g: self, x: xe, k, bias, y: SendPtr(y.as_mut_ptr()) };
        sweep(isa, rows, block_for(per_row, BLOCK), per_row, &body);
        Ok(())
    }

    /// Gradients: `dx` (input), `dk` (kernel) and `db` (bias), each when asked for.
    pub fn backward<T: Float>(
        &self,
        dy: &[T],
        x: &[T],
        k: &[T],
        dx: Option<&mut [T]>,
        dk: Option<&mut [T]>,
        db: Option<&mut [T]>,
    ) -> Result<()> {
        self.backward_on(simd::active(), dy, x, k, dx, dk, db)
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_on<T: Float>(
        &self,
        isa: Isa,
        dy: &[T],
        x: &[T],
        k: &[T],
        dx: Option<&mut [T]>,
        dk: Option<&mut [T]>,
        db: Option<&mut [T]>,
    ) -> Result<()> {
        self.check("dy", dy.len(), &self.output_shape())?;
        self.check("kernel", k.len(), &self.kernel_shape())?;
        if dk.is_some() {
            self.check("x", x.len(), &self.input_shape())?;
        }
        if let Some(dx) = &dx {
            self.check("dx", dx.len(), &self.input_shape())?;
        }
        if let Some(dk) = &dk {
            self.check("dk", dk.len(), &self.kernel_shape())?;
        }
        if let Some(db) = &db {
            self.check("db", db.len(), &[self.wide()])?;
        }
        if let Some(dx) = dx {
            dx.fill(T::ZERO);
            if !dy.is_empty() {
                let rows = self.batch * self.h.input;
                let per_row = self.w.input * self.wide() * self.h.size * self.w.size;
                let body = InputGrad { g: self, dy, k, dx: SendPtr(dx.as_mut_ptr()) };
                sweep(isa, rows, block_for(per_row, BLOCK), per_row, &body);
            }
        }
        if dk.is_some() || db.is_some() {
            let widened = if dk.is_some() { self.widen(isa, x) } else { None };
            self.param_grads(isa, dy, widened.as_deref().unwrap_or(x), dk, db);
        }
        Ok(())
    }

    /// The input widened to `c·dm` channels (None when `dm == 1`: `x` itself serves).
    fn widen<T: Float>(&self, isa: Isa, x: &[T]) -> Option<Vec<T>> {
        let (c, dm) = (self.channels, self.multiplier);
        if dm == 1 {
            return None;
        }
        let pixels = self.batch * self.h.input * self.w.input;
        let mut xe = vec![T::ZERO; pixels * c * dm];
        let body = Widen { c, dm, x, xe: SendPtr(xe.as_mut_ptr()) };
        sweep(isa, pixels, block_for(c * dm, BLOCK), c * dm, &body);
        Some(xe)
    }

    /// Kernel and bias gradients: per-chunk partials, then their sum in chunk order.
    fn param_grads<T: Float>(&self, isa: Isa, dy: &[T], xe: &[T], dk: Option<&mut [T]>, db: Option<&mut [T]>) {
        let cw = self.wide();
        let taps = self.h.size * self.w.size;
        let rows = self.batch * self.h.output;
        let per_row = self.w.output * cw * (taps + 1);
        let chunk = block_for(per_row, BLOCK);
        let chunks = rows.div_ceil(chunk).max(1);
        let part = taps * cw + cw;
        let mut partials = vec![T::ZERO; chunks * part];
        let want_k = dk.is_some();
        let body = ParamGrad { g: self, dy, x: xe, chunk, want_k, parts: SendPtr(partials.as_mut_ptr()) };
        sweep(isa, chunks, 1, chunk * per_row, &body);
        let mut total = vec![T::ZERO; part];
        let sum = SumParts { parts: &partials, chunks, part, total: SendPtr(total.as_mut_ptr()) };
        sweep(isa, part, BLOCK, chunks, &sum);
        if let Some(dk) = dk {
            dk.copy_from_slice(&total[..taps * cw]);
        }
        if let Some(db) = db {
            db.copy_from_slice(&total[taps * cw..]);
        }
    }
}

/// Pixels `lo..hi`: channel `ci` copied to `ci·dm .. ci·dm + dm`.
struct Widen<'a, T> {
    c: usize,
    dm: usize,
    x: &'a [T],
    xe: SendPtr<T>,
}

impl<T: Float> Body for Widen<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (c, dm) = (self.c, self.dm);
        // SAFETY: pixels lo..hi of xe belong to this block.
        let xe = unsafe { std::slice::from_raw_parts_mut(self.xe.get().add(lo * c * dm), (hi - lo) * c * dm) };
        for (out, px) in xe.chunks_exact_mut(c * dm).zip(self.x[lo * c..hi * c].chunks_exact(c)) {
            for (o, &v) in out.chunks_exact_mut(dm).zip(px) {
                o.fill(v);
            }
        }
    }
}

/// Output rows `lo..hi` (over batch × output height).
struct Forward<'a, T> {
    g: &'a Depthwise2d,
    x: &'a [T],
    k: &'a [T],
    bias: Option<&'a [T]>,
    y: SendPtr<T>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let (cw, ow, oh) = (g.wide(), g.w.output, g.h.output);
        let (ih, iw) = (g.h.input, g.w.input);
        // SAFETY: output rows lo..hi belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * ow * cw), (hi - lo) * ow * cw) };
        for (r, yrow) in (lo..hi).zip(y.chunks_exact_mut(ow * cw)) {
            let (b, oy) = (r / oh, r % oh);
            match self.bias {
                Some(bias) => yrow.chunks_exact_mut(cw).for_each(|p| p.copy_from_slice(bias)),
                None => yrow.fill(T::ZERO),
            }
            for i in 0..g.h.size {
                let Some(iy) = g.h.source(oy, i) else { continue };
                let xrow = &self.x[(b * ih + iy) * iw * cw..(b * ih + iy + 1) * iw * cw];
                for j in 0..g.w.size {
                    let ktap = &self.k[(i * g.w.size + j) * cw..(i * g.w.size + j + 1) * cw];
                    for (ox, ypx) in yrow.chunks_exact_mut(cw).enumerate() {
                        if let Some(ix) = g.w.source(ox, j) {
                            mul_add(ypx, &xrow[ix * cw..(ix + 1) * cw], ktap);
                        }
                    }
                }
            }
        }
    }
}

/// The output index `o` with `o·stride + t·dilation - pad == i`, if any.
#[inline(always)]
fn target(win: &Window, i: usize, t: usize) -> Option<usize> {
    let num = (i + win.pad_before) as isize - (t * win.dilation) as isize;
    if num < 0 || !(num as usize).is_multiple_of(win.stride) {
        return None;
    }
    let o = num as usize / win.stride;
    (o < win.output).then_some(o)
}

/// Input rows `lo..hi` of dx (over batch × input height), gathered from dy.
struct InputGrad<'a, T> {
    g: &'a Depthwise2d,
    dy: &'a [T],
    k: &'a [T],
    dx: SendPtr<T>,
}

impl<T: Float> Body for InputGrad<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let (c, dm, cw) = (g.channels, g.multiplier, g.wide());
        let (ih, iw, oh, ow) = (g.h.input, g.w.input, g.h.output, g.w.output);
        // SAFETY: input rows lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * iw * c), (hi - lo) * iw * c) };
        let mut wide = vec![T::ZERO; iw * cw];
        for (r, dxrow) in (lo..hi).zip(dx.chunks_exact_mut(iw * c)) {
            let (b, iy) = (r / ih, r % ih);
            let acc: &mut [T] = if dm == 1 { dxrow } else { &mut wide };
            acc.fill(T::ZERO);
            for i in 0..g.h.size {
                let Some(oy) = target(&g.h, iy, i) else { continue };
                let dyrow = &self.dy[(b * oh + oy) * ow * cw..(b * oh + oy + 1) * ow * cw];
                for j in 0..g.w.size {
                    let ktap = &self.k[(i * g.w.size + j) * cw..(i * g.w.size + j + 1) * cw];
                    for (ix, apx) in acc.chunks_exact_mut(cw).enumerate() {
                        if let Some(ox) = target(&g.w, ix, j) {
                            mul_add(apx, &dyrow[ox * cw..(ox + 1) * cw], ktap);
                        }
                    }
                }
            }
            if dm > 1 {
                // The dm filters of one input channel sum into its gradient, in filter order.
                for (d, w) in dxrow.iter_mut().zip(wide.chunks_exact(dm)) {
                    *d = w.iter().fold(T::ZERO, |s, &v| s + v);
                }
            }
        }
    }
}

/// Chunks `lo..hi` of output rows, each summed into its own partial `[dk | db]`.
struct ParamGrad<'a, T> {
    g: &'a Depthwise2d,
    dy: &'a [T],
    x: &'a [T],
    chunk: usize,
    want_k: bool,
    parts: SendPtr<T>,
}

impl<T: Float> Body for ParamGrad<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let g = self.g;
        let cw = g.wide();
        let (ih, iw, oh, ow) = (g.h.input, g.w.input, g.h.output, g.w.output);
        let taps = g.h.size * g.w.size;
        let part = taps * cw + cw;
        let rows = g.batch * oh;
        // SAFETY: partials lo..hi belong to this block.
        let parts = unsafe { std::slice::from_raw_parts_mut(self.parts.get().add(lo * part), (hi - lo) * part) };
        for (ch, p) in (lo..hi).zip(parts.chunks_exact_mut(part)) {
            let (dk, db) = p.split_at_mut(taps * cw);
            for r in ch * self.chunk..((ch + 1) * self.chunk).min(rows) {
                let (b, oy) = (r / oh, r % oh);
                let dyrow = &self.dy[r * ow * cw..(r + 1) * ow * cw];
                for px in dyrow.chunks_exact(cw) {
                    add_to(db, px);
                }
                if !self.want_k {
                    continue;
                }
                for i in 0..g.h.size {
                    let Some(iy) = g.h.source(oy, i) else { continue };
                    let xrow = &self.x[(b * ih + iy) * iw * cw..(b * ih + iy + 1) * iw * cw];
                    for j in 0..g.w.size {
                        let ktap = &mut dk[(i * g.w.size + j) * cw..(i * g.w.size + j + 1) * cw];
                        for (ox, dpx) in dyrow.chunks_exact(cw).enumerate() {
                            if let Some(ix) = g.w.source(ox, j) {
                                mul_add(ktap, &xrow[ix * cw..(ix + 1) * cw], dpx);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Elements `lo..hi` of the total: the partials added in chunk order.
struct SumParts<'a, T> {
    parts: &'a [T],
    chunks: usize,
    part: usize,
    total: SendPtr<T>,
}

impl<T: Float> Body for SumParts<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: elements lo..hi of the total belong to this block.
        let total = unsafe { std::slice::from_raw_parts_mut(self.total.get().add(lo), hi - lo) };
        total.fill(T::ZERO);
        for c in 0..self.chunks {
            add_to(total, &self.parts[c * self.part + lo..c * self.part + hi]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;
    use crate::testing::uniform as data;

    /// Direct definition: y[b,oy,ox,ci·dm+m] = Σ x[b, oy·s+i·d-p, ox·s+j·d-p, ci] · k[i,j,ci,m].
    fn naive(g: &Depthwise2d, x: &[f64], k: &[f64]) -> Vec<f64> {
        let [n, oh, ow, cw] = g.output_shape();
        let (c, dm, ih, iw) = (g.channels, g.multiplier, g.h.input, g.w.input);
        let mut y = vec![0.0; n * oh * ow * cw];
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for ci in 0..c {
                        for m in 0..dm {
                            let mut s = 0.0;
                            for i in 0..g.h.size {
                                for j in 0..g.w.size {
                                    if let (Some(iy), Some(ix)) = (g.h.source(oy, i), g.w.source(ox, j)) {
                                        s += x[((b * ih + iy) * iw + ix) * c + ci]
                                            * k[((i * g.w.size + j) * c + ci) * dm + m];
                                    }
                                }
                            }
                            y[((b * oh + oy) * ow + ox) * cw + ci * dm + m] = s;
                        }
                    }
                }
            }
        }
        y
    }

    const CASES: [([usize; 4], [usize; 4], (usize, usize), Padding, (usize, usize)); 5] = [
        ([2, 7, 6, 3], [3, 3, 3, 1], (1, 1), Padding::Same, (1, 1)),
        ([1, 9, 8, 5], [3, 2, 5, 2], (2, 2), Padding::Same, (1, 1)),
        ([2, 8, 8, 17], [3, 3, 17, 3], (1, 2), Padding::Valid, (1, 1)),
        ([1, 10, 9, 4], [3, 3, 4, 1], (1, 1), Padding::Same, (2, 2)),
        ([3, 5, 5, 33], [5, 5, 33, 1], (2, 1), Padding::Valid, (1, 1)),
    ];

    #[test]
    fn forward_and_gradients_match_the_definition_on_every_path() {
        for isa in simd::supported() {
            for (xs, ks, st, pad, dil) in CASES {
                let g = Depthwise2d::new(&xs, &ks, st, pad, dil).unwrap();
                let (x, k) = (data(xs.iter().product(), 1), data(ks.iter().product(), 2));
                let bias = data(g.wide(), 3);
                let ys = g.output_shape();
                let mut y = vec![f64::NAN; ys.iter().product()];
                g.forward_on(isa, &x, &k, Some(&bias), &mut y).unwrap();
                let want = naive(&g, &x, &k);
                for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                    assert!((a - b - bias[i % g.wide()]).abs() < 1e-12, "{isa:?} {xs:?} {i}");
                }
                // Gradients as directional derivatives of the linear map <dy, y(x, k)>.
                let dy = data(y.len(), 4);
                let (mut dx, mut dk, mut db) = (vec![f64::NAN; x.len()], vec![f64::NAN; k.len()], vec![0.0; g.wide()]);
                g.backward_on(isa, &dy, &x, &k, Some(&mut dx), Some(&mut dk), Some(&mut db)).unwrap();
                let (ux, uk) = (data(x.len(), 5), data(k.len(), 6));
                let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
                assert!((dot(&dy, &naive(&g, &ux, &k)) - dot(&dx, &ux)).abs() < 1e-10, "{isa:?} dx {xs:?}");
                assert!((dot(&dy, &naive(&g, &x, &uk)) - dot(&dk, &uk)).abs() < 1e-10, "{isa:?} dk {xs:?}");
                for (ch, &v) in db.iter().enumerate() {
                    let s: f64 = dy.iter().skip(ch).step_by(g.wide()).sum();
                    assert!((v - s).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (xs, ks) = ([8, 28, 28, 32], [3, 3, 32, 2]);
        let g = Depthwise2d::new(&xs, &ks, (1, 1), Padding::Same, (1, 1)).unwrap();
        let (x, k) = (data(xs.iter().product(), 7), data(ks.iter().product(), 8));
        let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let k: Vec<f32> = k.iter().map(|&v| v as f32).collect();
        let threads = parallel::num_threads();
        let run = |t| {
            parallel::set_num_threads(t);
            let mut y = vec![0f32; g.output_shape().iter().product()];
            g.forward(&x, &k, None, &mut y).unwrap();
            let (mut dx, mut dk, mut db) = (vec![0f32; x.len()], vec![0f32; k.len()], vec![0f32; g.wide()]);
            g.backward(&y, &x, &k, Some(&mut dx), Some(&mut dk), Some(&mut db)).unwrap();
            (y, dx, dk, db)
        };
        let one = run(1);
        let three = run(3);
        parallel::set_num_threads(threads);
        assert!(one == three);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        assert!(Depthwise2d::new(&[1, 4, 4, 3], &[3, 3, 2, 1], (1, 1), Padding::Same, (1, 1)).is_err());
        let g = Depthwise2d::new(&[1, 4, 4, 3], &[3, 3, 3, 1], (1, 1), Padding::Same, (1, 1)).unwrap();
        assert!(g.forward(&[0f32; 47], &[0f32; 27], None, &mut [0f32; 48]).is_err());
        assert!(g.forward(&[0f32; 48], &[0f32; 27], Some(&[0f32; 2]), &mut [0f32; 48]).is_err());
    }
}
