//! 2-D convolution (cross-correlation, as Keras and PyTorch compute it) on
//! NHWC images and HWIO kernels, as GEMMs over im2col tiles.
//!
//! With `M = N·OH·OW` output pixels and `K = KH·KW·C` taps, the forward pass is
//! `Y (M×F) = P (M×K) · W (K×F)` where row `r` of the patch matrix `P` holds
//! the input window of output pixel `r` — and an HWIO kernel already *is* the
//! row-major `K×F` matrix W. `P` is never built whole: each task fills a tile
//! of rows in a per-thread buffer and multiplies it at once, while it is hot.
//! Backward: `dW = Pᵀ·dY` (summed over tiles in a fixed order), `db = Σ_rows dY`,
//! `dP = dY·Wᵀ` scattered back into dx one image at a time.

use crate::error::{shape_err, Result};
use crate::gemm::{self, GemmFloat, MatPtr, PackedB, Precision};
use crate::ops::activation::{self, Activation};
pub use crate::ops::conv_direct::ConvFloat;
use crate::ops::{conv2d_bf16, conv_direct};
use crate::parallel::{self, SendPtr};
use crate::shape::{fmt_shape, Padding, Window};
use crate::workspace::{with_scratch, Slot};

const OP: &str = "conv2d";
/// Output pixels per forward tile (a tile of P is TILE × K).
const TILE: usize = 128;
/// The same on AMX, whose products pack the kernel once per tile.
const TILE_BF16: usize = 512;
/// Most partial sums the weight gradient splits the output pixels into (a
/// function of the problem only, so sums never depend on the thread count).
const WGRAD_PARTS: usize = 16;
/// Fewest output pixels per partial sum.
const WGRAD_MIN_ROWS: usize = 1024;
/// Bytes of patch rows built at a time inside a partial (kept in L2).
const WGRAD_TILE_BYTES: usize = 1 << 18;

/// Geometry of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    pub batch: usize,
    pub channels: usize,
    pub filters: usize,
    pub h: Window,
    pub w: Window,
}

impl Conv2d {
    /// Checks `x` (N,H,W,C) against kernel `k` (KH,KW,C,F) and derives the output size.
    pub fn new(
        x_shape: &[usize],
        k_shape: &[usize],
        strides: (usize, usize),
        padding: Padding,
        dilation: (usize, usize),
    ) -> Result<Conv2d> {
        if x_shape.len() != 4 || k_shape.len() != 4 {
            return shape_err(
                OP,
                format!(
                    "expected an NHWC input (batch, height, width, channels) and an HWIO kernel (kh, kw, in_channels, filters). Received: x.shape={}, kernel.shape={}",
                    fmt_shape(x_shape),
                    fmt_shape(k_shape)
                ),
            );
        }
        if x_shape[3] != k_shape[2] {
            return shape_err(
                OP,
                format!(
                    "input has {} channels but the kernel expects {} (kernel.shape[2]). Received: x.shape={}, kernel.shape={}",
                    x_shape[3],
                    k_shape[2],
                    fmt_shape(x_shape),
                    fmt_shape(k_shape)
                ),
            );
        }
        let h = Window::new(OP, x_shape[1], k_shape[0], strides.0, dilation.0, padding)?;
        let w = Window::new(OP, x_shape[2], k_shape[1], strides.1, dilation.1, padding)?;
        Ok(Conv2d { batch: x_shape[0], channels: x_shape[3], filters: k_shape[3], h, w })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.h.output, self.w.output, self.filters]
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.h.input, self.w.input, self.channels]
    }

    pub fn kernel_shape(&self) -> [usize; 4] {
        [self.h.size, self.w.size, self.channels, self.filters]
    }

    /// Taps per output pixel (columns of P).
    /// The convolution whose forward pass is this one's input gradient, for
    /// unit strides and dilations: dy (its input, F channels) correlated with
    /// the kernel turned by 180° and transposed, padded so that every output
    /// pixel of this convolution reaching an input pixel is summed.
    fn adjoint(&self) -> Option<Conv2d> {
        let flip = |w: &Window| {
            (w.stride == 1 && w.dilation == 1 && w.pad_before < w.size).then_some(Window {
                input: w.output,
                size: w.size,
                stride: 1,
                dilation: 1,
                pad_before: w.size - 1 - w.pad_before,
                output: w.input,
            })
        };
        Some(Conv2d {
            batch: self.batch,
            channels: self.filters,
            filters: self.channels,
            h: flip(&self.h)?,
            w: flip(&self.w)?,
        })
    }

    pub(crate) fn k(&self) -> usize {
        self.h.size * self.w.size * self.channels
    }

    /// Output pixels (rows of P).
    pub(crate) fn m(&self) -> usize {
        self.batch * self.h.output * self.w.output
    }

    fn check_len(&self, what: &str, got: usize, want: &[usize]) -> Result<()> {
        let n: usize = want.iter().product();
        if got != n {
            return shape_err(
                OP,
                format!("{what} must have shape {} ({n} elements). Received: {got} elements", fmt_shape(want)),
            );
        }
        Ok(())
    }

    /// `y = act(conv(x, w) (+ bias))` with the products in `precision`; `y`
    /// has [`Conv2d::output_shape`]. The activation is applied to each tile of
    /// output rows as soon as it is computed, while it is in cache.
    pub fn forward<T: ConvFloat>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        act: Option<Activation>,
        y: &mut [T],
        precision: Precision,
    ) -> Result<()> {
        precision.check::<T>(OP)?;
        if let Some(a) = act {
            a.check()?;
        }
        self.check_len("x", x.len(), &self.input_shape())?;
        self.check_len("kernel", w.len(), &self.kernel_shape())?;
        self.check_len("out", y.len(), &self.output_shape())?;
        if let Some(b) = bias {
            self.check_len("bias", b.len(), &[self.filters])?;
        }
        if precision == Precision::Bfloat16 {
            conv2d_bf16::forward(self, x, w, bias, act, y);
            return Ok(());
        }
        self.forward_in(x, w, bias, act, y, Precision::Float32);
        Ok(())
    }

    /// The forward pass on checked arguments, its GEMMs in `precision`.
    pub(crate) fn forward_in<T: ConvFloat>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        act: Option<Activation>,
        y: &mut [T],
        precision: Precision,
    ) {
        let (m, k, f) = (self.m(), self.k(), self.filters);
        if m == 0 || f == 0 {
            return;
        }
        if conv_direct::usable(self) || (precision == Precision::Float32 && conv_direct::forward_usable::<T>(self)) {
            return conv_direct::forward(self, x, w, bias, act, y);
        }
        let wm = MatPtr { ptr: w.as_ptr(), rs: f as isize, cs: 1 };
        let y_ptr = SendPtr(y.as_mut_ptr());
        let direct = self.h.size == 1 && self.w.size == 1 && self.h.stride == 1 && self.w.stride == 1;
        let par = parallel::worth_parallel(m * k * f, 1 << 18);
        let tile_rows = if precision == Precision::Bfloat16 { TILE_BF16 } else { TILE };
        // In float32 the kernel is packed once and shared by every tile.
        with_packed_kernel(precision, k, f, wm, |wp| unsafe {
            {
                let tile = |t: usize| {
                    let r0 = t * tile_rows;
                    let rows = tile_rows.min(m - r0);
                    // SAFETY: tiles write disjoint row ranges of y.
                    let yt = std::slice::from_raw_parts_mut(y_ptr.get().add(r0 * f), rows * f);
                    if let Some(b) = bias {
                        for row in yt.chunks_exact_mut(f) {
                            row.copy_from_slice(b);
                        }
                    }
                    with_scratch(Slot::Im2col, |s| {
                        let a = if direct {
                            // 1×1 stride-1 convolution: P is x itself.
                            MatPtr { ptr: x[r0 * k..].as_ptr(), rs: k as isize, cs: 1 }
                        } else {
                            let p = s.slice::<T>(rows * k);
                            self.im2col(x, r0, rows, p);
                            MatPtr { ptr: p.as_ptr(), rs: k as isize, cs: 1 }
                        };
                        product(precision, rows, k, f, a, wm, wp, yt.as_mut_ptr(), bias.is_some());
                    });
                    if let Some(a) = act {
                        activation::apply_in_place(a, yt);
                    }
                };
                let tiles = m.div_ceil(tile_rows);
                if par {
                    parallel::for_each(tiles, tile);
                } else {
                    (0..tiles).for_each(tile);
                }
            }
        })
    }

    /// Gradients of the forward pass, the products in `precision` (db, a sum,
    /// always in the operands' type); each output is computed only when asked for.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<T: ConvFloat>(
        &self,
        dy: &[T],
        x: &[T],
        w: &[T],
        dx: Option<&mut [T]>,
        dw: Option<&mut [T]>,
        db: Option<&mut [T]>,
        precision: Precision,
    ) -> Result<()> {
        precision.check::<T>(OP)?;
        self.check_len("dy", dy.len(), &self.output_shape())?;
        self.check_len("x", x.len(), &self.input_shape())?;
        self.check_len("kernel", w.len(), &self.kernel_shape())?;
        if let Some(db) = &db {
            self.check_len("db", db.len(), &[self.filters])?;
        }
        if let Some(dw) = &dw {
            self.check_len("dw", dw.len(), &self.kernel_shape())?;
        }
        if let Some(dx) = &dx {
            self.check_len("dx", dx.len(), &self.input_shape())?;
        }
        if self.filters == 0 {
            // No filters: dW and db are empty and nothing flows back to x.
            if let Some(dx) = dx {
                dx.fill(T::ZERO);
            }
            return Ok(());
        }
        if self.k() == 0 {
            // No input channels: dx and dW are empty; db is still the sum of dy.
            if let Some(db) = db {
                crate::ops::reduce::sum_rows(dy, self.m(), self.filters, db)?;
            }
            return Ok(());
        }
        if precision == Precision::Bfloat16 {
            if let Some(db) = db {
                crate::ops::reduce::sum_rows(dy, self.m(), self.filters, db)?;
            }
            conv2d_bf16::backward(self, dy, x, w, dx, dw);
            return Ok(());
        }
        self.backward_in(dy, x, w, dx, dw, db, Precision::Float32)
    }

    /// The backward pass on checked arguments, its GEMMs in `precision`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn backward_in<T: ConvFloat>(
        &self,
        dy: &[T],
        x: &[T],
        w: &[T],
        dx: Option<&mut [T]>,
        dw: Option<&mut [T]>,
        db: Option<&mut [T]>,
        precision: Precision,
    ) -> Result<()> {
        match (dw, db) {
            (Some(dw), db) if self.m() > 0 && conv_direct::weight_grad_usable::<T>(self) => {
                conv_direct::weight_grad(self, dy, x, dw, db)
            }
            (Some(dw), db) => self.weight_grad(dy, x, dw, db, precision),
            (None, Some(db)) => crate::ops::reduce::sum_rows(dy, self.m(), self.filters, db)?,
            (None, None) => {}
        }
        if let Some(dx) = dx {
            self.input_grad(dy, w, dx, precision);
        }
        Ok(())
    }

    /// dW (K×F) = Σ_p P_pᵀ · dY_p over fixed parts p of the output pixels,
    /// and db = Σ_p Σ_rows dY_p: parts run in parallel into their own partial
    /// sums (each part walks its rows in L2-sized tiles of P, accumulating),
    /// and the partials are then added in part order — the same arithmetic
    /// on any number of threads.
    fn weight_grad<T: ConvFloat>(&self, dy: &[T], x: &[T], dw: &mut [T], db: Option<&mut [T]>, precision: Precision) {
        let (m, k, f) = (self.m(), self.k(), self.filters);
        if m == 0 {
            dw.fill(T::ZERO);
            if let Some(db) = db {
                db.fill(T::ZERO);
            }
            return;
        }
        let direct = self.h.size == 1 && self.w.size == 1 && self.h.stride == 1 && self.w.stride == 1;
        let parts = m.div_ceil(WGRAD_MIN_ROWS).clamp(1, WGRAD_PARTS);
        let per_part = m.div_ceil(parts);
        let tile = (WGRAD_TILE_BYTES / (k * std::mem::size_of::<T>())).clamp(64, 4096);
        let with_db = db.is_some();
        // Rows of part `p` into `out` (k × f) and, with db, their column sums into `out_db` (f).
        let part = |p: usize, out: *mut T, out_db: *mut T| {
            let (lo, hi) = (p * per_part, ((p + 1) * per_part).min(m));
            if with_db {
                // SAFETY: each part owns its `f` partial sums.
                unsafe { std::slice::from_raw_parts_mut(out_db, f) }.fill(T::ZERO);
            }
            with_scratch(Slot::Im2col, |s| {
                for r0 in (lo..hi).step_by(tile) {
                    let rows = tile.min(hi - r0);
                    let pt = if direct {
                        MatPtr { ptr: x[r0 * k..].as_ptr(), rs: 1, cs: k as isize }
                    } else {
                        let p = s.slice::<T>(rows * k);
                        self.im2col(x, r0, rows, p);
                        MatPtr { ptr: p.as_ptr(), rs: 1, cs: k as isize }
                    };
                    let dyb = &dy[r0 * f..(r0 + rows) * f];
                    let dym = MatPtr { ptr: dyb.as_ptr(), rs: f as isize, cs: 1 };
                    // SAFETY: `out` holds k·f values owned by this part.
                    unsafe { gemm::gemm_in(precision, true, k, f, rows, pt, dym, out, f as isize, 1, r0 > lo) };
                    if with_db {
                        let acc = unsafe { std::slice::from_raw_parts_mut(out_db, f) };
                        for row in dyb.chunks_exact(f) {
                            for (a, &v) in acc.iter_mut().zip(row) {
                                *a += v;
                            }
                        }
                    }
                }
            })
        };
        if parts == 1 {
            let db_ptr = db.map_or(std::ptr::null_mut(), |d| d.as_mut_ptr());
            return part(0, dw.as_mut_ptr(), db_ptr);
        }
        // Each part's partial: dW (k·f values), then db (f values).
        let kf = k * f;
        let stride = kf + f;
        let par = parallel::worth_parallel(m * kf, 1 << 18);
        with_scratch(Slot::Partial, |ps| {
            let partial = ps.slice::<T>(parts * stride);
            let pp = SendPtr(partial.as_mut_ptr());
            let one = |p: usize| unsafe { part(p, pp.get().add(p * stride), pp.get().add(p * stride + kf)) };
            if par {
                parallel::for_each(parts, one);
            } else {
                (0..parts).for_each(one);
            }
            sum_parts(partial, parts, stride, dw, db, par);
        })
    }

    /// dx: per image, dP rows = dY rows · Wᵀ, scattered back (images in parallel).
    fn input_grad<T: ConvFloat>(&self, dy: &[T], w: &[T], dx: &mut [T], precision: Precision) {
        if precision == Precision::Float32 {
            if let Some(g) = self.adjoint().filter(conv_direct::forward_usable::<T>) {
                // Few input channels: dx is the direct convolution of dy with the kernel turned by
                // 180° and transposed, (KH, KW, F, C), with no patch matrix and no scatter-add.
                return with_scratch(Slot::Im2col, |s| {
                    let (kh, kw, c, f) = (self.h.size, self.w.size, self.channels, self.filters);
                    let wr = s.slice::<T>(kh * kw * f * c);
                    for (t, tap) in wr.chunks_exact_mut(f * c).enumerate() {
                        let src = &w[(kh * kw - 1 - t) * c * f..(kh * kw - t) * c * f];
                        for (j, row) in tap.chunks_exact_mut(c).enumerate() {
                            for (i, v) in row.iter_mut().enumerate() {
                                *v = src[i * f + j];
                            }
                        }
                    }
                    conv_direct::forward(&g, dy, wr, None, None, dx);
                });
            }
            if conv_direct::transpose::usable(self) {
                return conv_direct::transpose::input_grad(self, dy, w, None, dx);
            }
        }
        let (k, f) = (self.k(), self.filters);
        let plane = self.h.output * self.w.output;
        let img = self.h.input * self.w.input * self.channels;
        let wt = MatPtr { ptr: w.as_ptr(), rs: 1, cs: f as isize };
        if img == 0 {
            return;
        }
        let par = parallel::worth_parallel(self.m() * k * f, 1 << 18);
        with_packed_kernel(precision, f, k, wt, |wp| unsafe {
            {
                let one = |(n, dxi): (usize, &mut [T])| {
                    dxi.fill(T::ZERO);
                    with_scratch(Slot::Im2col, |s| {
                        for b0 in (0..plane).step_by(TILE) {
                            let rows = TILE.min(plane - b0);
                            let r0 = n * plane + b0;
                            let dp = s.slice::<T>(rows * k);
                            let dyb = MatPtr { ptr: dy[r0 * f..].as_ptr(), rs: f as isize, cs: 1 };
                            product(precision, rows, f, k, dyb, wt, wp, dp.as_mut_ptr(), false);
                            self.col2im_add(dp, r0, rows, dxi, n * img);
                        }
                    })
                };
                let images = dx.len() / img;
                let dx_ptr = SendPtr(dx.as_mut_ptr());
                // SAFETY (of each call): image n's slice of dx is written by its task only.
                let image = |n: usize| one((n, std::slice::from_raw_parts_mut(dx_ptr.get().add(n * img), img)));
                if par {
                    parallel::for_each(images, image);
                } else {
                    (0..images).for_each(image);
                }
            }
        })
    }
}

/// Calls `f` with the `k × n` kernel matrix `b` packed once for the float32
/// GEMM, or with `None` for bfloat16 on AMX, whose products pack per call.
fn with_packed_kernel<T: GemmFloat, R>(
    precision: Precision,
    k: usize,
    n: usize,
    b: MatPtr<T>,
    f: impl FnOnce(Option<&PackedB<T>>) -> R,
) -> R {
    match precision {
        // SAFETY: b views a whole kernel slice.
        Precision::Float32 => unsafe { gemm::with_packed_b(k, n, b, |wp| f(Some(wp))) },
        Precision::Bfloat16 => f(None),
    }
}

/// `C = A·B` (`+=` when `accumulate`) for `rows` rows of A (`rows × inner`)
/// and a `inner × cols` B on this thread: with the packed kernel, or in
/// `precision` from `b` itself. C is row-major with rows `cols` apart.
#[allow(clippy::too_many_arguments)]
unsafe fn product<T: GemmFloat>(
    precision: Precision,
    rows: usize,
    inner: usize,
    cols: usize,
    a: MatPtr<T>,
    b: MatPtr<T>,
    packed: Option<&PackedB<T>>,
    c: *mut T,
    accumulate: bool,
) {
    match packed {
        Some(wp) => gemm::gemm_packed(rows, a, wp, c, cols as isize, 1, accumulate),
        None => gemm::gemm_in(precision, true, rows, cols, inner, a, b, c, cols as isize, 1, accumulate),
    }
}

/// dW and db as the sums, in part order, of `parts` partial results laid out
/// `stride` apart (each dW's `dw.len()` values, then db's): the same
/// arithmetic on any number of threads, split over elements when `par`.
pub(crate) fn sum_parts<T: crate::Float>(
    partial: &[T],
    parts: usize,
    stride: usize,
    dw: &mut [T],
    db: Option<&mut [T]>,
    par: bool,
) {
    const CHUNK: usize = 4096;
    let kf = dw.len();
    let len = kf + db.as_ref().map_or(0, |d| d.len());
    let dwp = SendPtr(dw.as_mut_ptr());
    let dbp = SendPtr(db.map_or(std::ptr::null_mut(), |d| d.as_mut_ptr()));
    let reduce = |chunk: usize| {
        for e in chunk * CHUNK..((chunk + 1) * CHUNK).min(len) {
            let sum = (1..parts).fold(partial[e], |acc, p| acc + partial[p * stride + e]);
            // SAFETY: element e of dW (or of db past dW) belongs to this chunk only.
            unsafe { *(if e < kf { dwp.get().add(e) } else { dbp.get().add(e - kf) }) = sum };
        }
    };
    if par {
        parallel::for_each(len.div_ceil(CHUNK), reduce);
    } else {
        (0..len.div_ceil(CHUNK)).for_each(reduce);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((*seed >> 11) as f64 / (1u64 << 53) as f64) - 0.5
    }

    /// Direct 7-loop reference.
    fn naive(g: &Conv2d, x: &[f64], w: &[f64]) -> Vec<f64> {
        let [n_, oh_, ow_, f_] = g.output_shape();
        let mut y = vec![0.0; n_ * oh_ * ow_ * f_];
        for n in 0..n_ {
            for oh in 0..oh_ {
                for ow in 0..ow_ {
                    for f in 0..f_ {
                        let mut s = 0.0;
                        for th in 0..g.h.size {
                            for tw in 0..g.w.size {
                                if let (Some(ih), Some(iw)) = (g.h.source(oh, th), g.w.source(ow, tw)) {
                                    for c in 0..g.channels {
                                        s += x[((n * g.h.input + ih) * g.w.input + iw) * g.channels + c]
                                            * w[((th * g.w.size + tw) * g.channels + c) * f_ + f];
                                    }
                                }
                            }
                        }
                        y[((n * oh_ + oh) * ow_ + ow) * f_ + f] = s;
                    }
                }
            }
        }
        y
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn forward_and_adjoint_match_reference() {
        let cases = [
            ([2, 7, 6, 3], [3, 3, 3, 4], (1, 1), Padding::Valid, (1, 1)),
            ([2, 7, 6, 3], [3, 3, 3, 4], (2, 1), Padding::Same, (1, 1)),
            ([1, 9, 9, 2], [3, 2, 2, 5], (1, 2), Padding::Same, (2, 1)),
            ([3, 5, 5, 4], [1, 1, 4, 6], (1, 1), Padding::Valid, (1, 1)),
            ([2, 30, 30, 1], [3, 3, 1, 8], (1, 1), Padding::Valid, (1, 1)),
        ];
        let mut seed = 11;
        for (xs, ks, st, pad, dil) in cases {
            let g = Conv2d::new(&xs, &ks, st, pad, dil).unwrap();
            let x: Vec<f64> = (0..xs.iter().product::<usize>()).map(|_| lcg(&mut seed)).collect();
            let w: Vec<f64> = (0..ks.iter().product::<usize>()).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f64> = (0..ks[3]).map(|_| lcg(&mut seed)).collect();
            let mut y = vec![0.0; g.output_shape().iter().product()];
            g.forward(&x, &w, Some(&b), None, &mut y, Precision::Float32).unwrap();
            let mut y_relu = vec![0.0; y.len()];
            g.forward(&x, &w, Some(&b), Some(Activation::Relu), &mut y_relu, Precision::Float32).unwrap();
            assert!(y.iter().zip(&y_relu).all(|(&a, &r)| r == a.max(0.0)));
            let want = naive(&g, &x, &w);
            for (i, (&got, &wv)) in y.iter().zip(&want).enumerate() {
                assert!((got - wv - b[i % ks[3]]).abs() < 1e-12);
            }
            // Adjoint identities: <dy, conv(dx_dir)> = <dx, dx_dir> etc.
            let dy: Vec<f64> = (0..y.len()).map(|_| lcg(&mut seed)).collect();
            let (mut dx, mut dw, mut db) = (vec![0.0; x.len()], vec![0.0; w.len()], vec![0.0; b.len()]);
            g.backward(&dy, &x, &w, Some(&mut dx), Some(&mut dw), Some(&mut db), Precision::Float32).unwrap();
            let lhs = dot(&dy, &want);
            assert!((dot(&dx, &x) - lhs).abs() < 1e-9 * (1.0 + lhs.abs()));
            assert!((dot(&dw, &w) - lhs).abs() < 1e-9 * (1.0 + lhs.abs()));
            let sum_dy: f64 = dy.iter().step_by(ks[3]).sum();
            assert!((db[0] - sum_dy).abs() < 1e-12);
        }
    }
}
