//! 2-D max and average pooling over NHWC images, each forward next to its
//! backward (the global pools are in [`crate::ops::global_pool`]).
//!
//! Every loop runs over whole pixels, so the innermost loop walks the
//! channels of one pixel and is vectorised over them. Threads split the
//! output rows (all images' rows in one range) into fixed-size chunks.
//!
//! Padding follows Keras/TensorFlow: "same" gives `ceil(input / stride)`
//! outputs with the odd padding cell at the end; padded cells are never part
//! of a window (max ignores them, average divides by the valid cells only).
//! Max ties: the first maximum in row-major window order takes the gradient.
//! A NaN in a window makes the maximum NaN, and the first NaN takes it.

use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::{fmt_shape, Padding, Window};
use crate::simd::{self, Isa};

/// Elements touched per parallel chunk.
const BLOCK: usize = 1 << 15;

/// Window size, strides and padding of a 2-D pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2d {
    pub size: (usize, usize),
    pub strides: (usize, usize),
    pub padding: Padding,
}

/// The geometry of one pooling call: batch, channels and the two axes.
#[derive(Clone, Copy, Debug)]
pub struct PoolGeom {
    pub batch: usize,
    pub channels: usize,
    pub rows: Window,
    pub cols: Window,
}

pub(crate) fn check_4d(op: &'static str, name: &str, shape: &[usize]) -> Result<()> {
    if shape.len() != 4 {
        return shape_err(
            op,
            format!(
                "expected a 4-D {name} (batch, height, width, channels). Received: {name}.shape={}",
                fmt_shape(shape)
            ),
        );
    }
    Ok(())
}

impl PoolGeom {
    pub fn new(op: &'static str, x_shape: &[usize], p: &Pool2d) -> Result<PoolGeom> {
        check_4d(op, "x", x_shape)?;
        Ok(PoolGeom {
            batch: x_shape[0],
            channels: x_shape[3],
            rows: Window::new(op, x_shape[1], p.size.0, p.strides.0, 1, p.padding)?,
            cols: Window::new(op, x_shape[2], p.size.1, p.strides.1, 1, p.padding)?,
        })
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.rows.input, self.cols.input, self.channels]
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.rows.output, self.cols.output, self.channels]
    }

    /// Most valid cells in one window: the window clipped to the input (a
    /// window may be far larger than the image).
    fn max_taps(&self) -> usize {
        self.rows.size.min(self.rows.input) * self.cols.size.min(self.cols.input)
    }

    fn output_len(&self) -> usize {
        self.output_shape().iter().product()
    }

    /// Every input cell lies in exactly one window (e.g. 2×2 windows, stride
    /// 2, even sizes): the backward pass can write instead of accumulate.
    fn tiles(&self) -> bool {
        let tiles = |w: &Window| w.size == w.stride && w.pad_before == 0 && w.output * w.stride == w.input;
        tiles(&self.rows) && tiles(&self.cols)
    }

    /// Output rows (over all images) per parallel chunk. Chunks at least
    /// `ceil(size / stride)` rows apart never touch the same input row, so
    /// even and odd chunks may each run concurrently when windows overlap.
    fn chunk_rows(&self) -> usize {
        let per_row = self.cols.output * self.channels * self.rows.size * self.cols.size;
        block_for(per_row, BLOCK).max(self.rows.size.div_ceil(self.rows.stride))
    }
}

/// Input index range `lo..hi` of window `o` along one axis (padding cut off).
#[inline(always)]
fn span(w: &Window, o: usize) -> (usize, usize) {
    let start = (o * w.stride) as isize - w.pad_before as isize;
    let lo = start.max(0) as usize;
    let hi = ((start + w.size as isize).max(0) as usize).min(w.input);
    (lo, hi.max(lo))
}

pub(crate) fn check_len(op: &'static str, name: &str, len: usize, shape: &[usize]) -> Result<()> {
    let want: usize = shape.iter().product();
    if len != want {
        return shape_err(
            op,
            format!("{name} must have shape {}. Received: {name} has {len} elements", fmt_shape(shape)),
        );
    }
    Ok(())
}

/// The running maximum: NaN-propagating, and keeping the first of equals.
/// NOTE: `!(new <= cur)` rather than `new > cur`: it is also true for a NaN
/// `new`, which must win over a number.
#[inline(always)]
#[allow(clippy::eq_op, clippy::neg_cmp_op_on_partial_ord)]
pub(crate) fn pick<T: Float>(cur: T, new: T) -> T {
    if (cur == cur) & !(new <= cur) {
        new
    } else {
        cur
    }
}

/// Max or average pooling.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Max,
    Avg,
}

/// The valid cells of window `(oh, ow)`, row-major, as offsets into the
/// input rows `h0..h1` of one image (`taps` is reused between windows).
#[inline(always)]
fn window_taps(g: &PoolGeom, (h0, h1): (usize, usize), ow: usize, taps: &mut Vec<usize>) {
    let (w, c) = (g.cols.input, g.channels);
    let (w0, w1) = span(&g.cols, ow);
    taps.clear();
    for ih in 0..h1 - h0 {
        for iw in w0..w1 {
            taps.push((ih * w + iw) * c);
        }
    }
}

/// One output pixel of the forward pass: lanes outer, window cells inner,
/// so the running maximum (or sum) stays in registers.
struct PoolPixel<'a, T> {
    kind: Kind,
    /// The input rows the window spans.
    x: &'a [T],
    taps: &'a [usize],
    out: &'a mut [T],
}

impl<T: Float> Lanes for PoolPixel<'_, T> {
    fn len(&self) -> usize {
        self.out.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let mut acc = *arr::<T, G>(self.x, self.taps[0] + i);
        for &t in &self.taps[1..] {
            let v = *arr::<T, G>(self.x, t + i);
            for k in 0..G {
                acc[k] = if self.kind == Kind::Max { pick(acc[k], v[k]) } else { acc[k] + v[k] };
            }
        }
        if self.kind == Kind::Avg {
            let count = T::from_usize(self.taps.len());
            for a in acc.iter_mut() {
                *a = *a / count;
            }
        }
        *arr_mut(self.out, i) = acc;
    }
}

/// Forward over output rows `lo..hi` (row `r` = image `r / OH`, row `r % OH`).
struct Forward<'a, T> {
    g: PoolGeom,
    kind: Kind,
    x: &'a [T],
    y: SendPtr<T>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (g, c) = (&self.g, self.g.channels);
        let (h, w, oh_n, ow_n) = (g.rows.input, g.cols.input, g.rows.output, g.cols.output);
        // SAFETY: output rows lo..hi belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * ow_n * c), (hi - lo) * ow_n * c) };
        let mut taps = Vec::with_capacity(g.max_taps());
        for (r, yrow) in (lo..hi).zip(y.chunks_exact_mut(ow_n * c)) {
            let (n, oh) = (r / oh_n, r % oh_n);
            let (h0, h1) = span(&g.rows, oh);
            let x = &self.x[(n * h + h0) * w * c..(n * h + h1) * w * c];
            for (ow, out) in yrow.chunks_exact_mut(c).enumerate() {
                window_taps(g, (h0, h1), ow, &mut taps);
                lanes(PoolPixel { kind: self.kind, x, taps: &taps, out });
            }
        }
    }
}

fn forward<T: Float>(
    isa: Isa,
    op: &'static str,
    kind: Kind,
    x: &[T],
    x_shape: &[usize],
    p: &Pool2d,
    y: &mut [T],
) -> Result<()> {
    let g = PoolGeom::new(op, x_shape, p)?;
    check_len(op, "x", x.len(), &g.input_shape())?;
    check_len(op, "out", y.len(), &g.output_shape())?;
    if g.output_len() == 0 {
        return Ok(());
    }
    let per_row = g.cols.output * g.channels * g.rows.size * g.cols.size;
    let body = Forward { g, kind, x, y: SendPtr(y.as_mut_ptr()) };
    sweep(isa, g.batch * g.rows.output, g.chunk_rows(), per_row, &body);
    Ok(())
}

/// One output pixel of the backward pass, lanes outer and window cells
/// inner: max pooling recomputes the window maximum, then hands `dy` to the
/// first cell equal to it (or NaN); average pooling spreads `dy / count`.
struct UnpoolPixel<'a, T> {
    kind: Kind,
    /// The forward input's rows the window spans (max pooling only).
    x: &'a [T],
    taps: &'a [usize],
    dy: &'a [T],
    /// The gradient's rows the window spans.
    dx: &'a mut [T],
    accumulate: bool,
    /// Also the gradient of a ReLU before the pool (its output is `x`): a
    /// window whose maximum is not positive passes nothing.
    relu: bool,
}

impl<T: Float> UnpoolPixel<'_, T> {
    #[inline(always)]
    fn put<const G: usize>(&mut self, at: usize, mut g: [T; G]) {
        if self.accumulate {
            let d = *arr::<T, G>(self.dx, at);
            for k in 0..G {
                g[k] += d[k];
            }
        }
        *arr_mut(self.dx, at) = g;
    }
}

impl<T: Float> Lanes for UnpoolPixel<'_, T> {
    fn len(&self) -> usize {
        self.dy.len()
    }
    #[inline(always)]
    #[allow(clippy::eq_op)]
    fn group<const G: usize>(&mut self, i: usize) {
        let mut rem = *arr::<T, G>(self.dy, i);
        let taps = self.taps;
        if self.kind == Kind::Avg {
            let count = T::from_usize(taps.len());
            for r in rem.iter_mut() {
                *r = *r / count;
            }
            for &t in taps {
                self.put(t + i, rem);
            }
            return;
        }
        let mut max = *arr::<T, G>(self.x, taps[0] + i);
        for &t in &taps[1..] {
            let v = *arr::<T, G>(self.x, t + i);
            for k in 0..G {
                max[k] = pick(max[k], v[k]);
            }
        }
        for &t in taps {
            let v = *arr::<T, G>(self.x, t + i);
            let mut g = [T::ZERO; G];
            for k in 0..G {
                let hit = (v[k] == max[k]) | (v[k] != v[k]);
                let pass = hit & (!self.relu | (v[k] > T::ZERO));
                g[k] = if pass { rem[k] } else { T::ZERO };
                rem[k] = if hit { T::ZERO } else { rem[k] };
            }
            self.put(t + i, g);
        }
    }
}

/// Backward over chunks `lo..hi` of one phase: chunk `i` is output-row chunk
/// `i·step + phase`.
struct Backward<'a, T> {
    g: PoolGeom,
    kind: Kind,
    dy: &'a [T],
    /// The forward input (max pooling only).
    x: &'a [T],
    dx: SendPtr<T>,
    chunk: usize,
    step: usize,
    phase: usize,
    accumulate: bool,
    relu: bool,
}

impl<T: Float> Body for Backward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (g, c) = (&self.g, self.g.channels);
        let (h, w, oh_n, ow_n) = (g.rows.input, g.cols.input, g.rows.output, g.cols.output);
        let total = g.batch * oh_n;
        let mut taps = Vec::with_capacity(g.max_taps());
        for i in lo..hi {
            let j = i * self.step + self.phase;
            for r in j * self.chunk..((j + 1) * self.chunk).min(total) {
                let (n, oh) = (r / oh_n, r % oh_n);
                let (h0, h1) = span(&g.rows, oh);
                let rows = (n * h + h0) * w * c..(n * h + h1) * w * c;
                // SAFETY: concurrent chunks (those of one phase) never touch
                // the same input rows, and this slice lives for one output row.
                let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(rows.start), rows.len()) };
                let x = if self.kind == Kind::Max { &self.x[rows] } else { &[] };
                let dyrow = &self.dy[r * ow_n * c..(r + 1) * ow_n * c];
                for (ow, dy) in dyrow.chunks_exact(c).enumerate() {
                    window_taps(g, (h0, h1), ow, &mut taps);
                    let (accumulate, relu) = (self.accumulate, self.relu);
                    lanes(UnpoolPixel { kind: self.kind, x, taps: &taps, dy, dx: &mut *dx, accumulate, relu });
                }
            }
        }
    }
}

/// Zeroes a buffer in fixed blocks.
struct Zero<T>(SendPtr<T>);

impl<T: Float> Body for Zero<T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: elements lo..hi belong to this block.
        unsafe { std::slice::from_raw_parts_mut(self.0.get().add(lo), hi - lo) }.fill(T::ZERO);
    }
}

#[allow(clippy::too_many_arguments)]
fn backward<T: Float>(
    isa: Isa,
    op: &'static str,
    kind: Kind,
    dy: &[T],
    x: &[T],
    x_shape: &[usize],
    p: &Pool2d,
    relu: bool,
    dx: &mut [T],
) -> Result<()> {
    let g = PoolGeom::new(op, x_shape, p)?;
    check_len(op, "dy", dy.len(), &g.output_shape())?;
    if kind == Kind::Max {
        check_len(op, "x", x.len(), &g.input_shape())?;
    }
    check_len(op, "out", dx.len(), &g.input_shape())?;
    let accumulate = !g.tiles();
    if accumulate {
        sweep(isa, dx.len(), BLOCK, 1, &Zero(SendPtr(dx.as_mut_ptr())));
    }
    if g.output_len() == 0 {
        return Ok(());
    }
    let chunk = g.chunk_rows();
    let chunks = (g.batch * g.rows.output).div_ceil(chunk);
    let per_chunk = chunk * g.cols.output * g.channels * g.rows.size * g.cols.size;
    // Windows that overlap along the height: even chunks, then odd chunks.
    let step = if g.rows.size > g.rows.stride { 2 } else { 1 };
    for phase in 0..step {
        let body = Backward { g, kind, dy, x, dx: SendPtr(dx.as_mut_ptr()), chunk, step, phase, accumulate, relu };
        let count = (chunks + step - 1 - phase) / step;
        sweep(isa, count, 1, per_chunk, &body);
    }
    Ok(())
}

/// Max pooling: `y[n, i, j, c]` is the maximum of `x[n, ·, ·, c]` over
/// window `(i, j)`; `y` has the shape [`PoolGeom::output_shape`] gives.
pub fn max_pool2d<T: Float>(x: &[T], x_shape: &[usize], p: &Pool2d, y: &mut [T]) -> Result<()> {
    forward(simd::active(), "max_pool2d", Kind::Max, x, x_shape, p, y)
}

/// Gradient of [`max_pool2d`]: each `dy` goes to the first maximum of its
/// window (row-major order); windows that overlap add up.
///
/// With `through_relu`, `x` is the output of a ReLU and the result is the
/// gradient with respect to the ReLU's input: a maximum that is not positive
/// passes nothing. That spares the ReLU's own backward pass over the (larger)
/// unpooled tensor.
pub fn max_pool2d_backward<T: Float>(
    dy: &[T],
    x: &[T],
    x_shape: &[usize],
    p: &Pool2d,
    through_relu: bool,
    dx: &mut [T],
) -> Result<()> {
    backward(simd::active(), "max_pool2d_backward", Kind::Max, dy, x, x_shape, p, through_relu, dx)
}

/// Average pooling over the valid cells of each window.
pub fn avg_pool2d<T: Float>(x: &[T], x_shape: &[usize], p: &Pool2d, y: &mut [T]) -> Result<()> {
    forward(simd::active(), "avg_pool2d", Kind::Avg, x, x_shape, p, y)
}

/// Gradient of [`avg_pool2d`]: `dy / count` to every valid cell of the window.
pub fn avg_pool2d_backward<T: Float>(dy: &[T], x_shape: &[usize], p: &Pool2d, dx: &mut [T]) -> Result<()> {
    backward(simd::active(), "avg_pool2d_backward", Kind::Avg, dy, &[], x_shape, p, false, dx)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;

    use crate::testing::uniform as data;

    /// Naive pooling: window cells by explicit padding arithmetic.
    fn reference(kind: Kind, x: &[f64], s: [usize; 4], p: &Pool2d) -> (Vec<f64>, Vec<f64>) {
        let g = PoolGeom::new("t", &s, p).unwrap();
        let [n, h, w, c] = s;
        let [_, oh, ow, _] = g.output_shape();
        let (mut y, mut dx) = (vec![0.0; n * oh * ow * c], vec![0.0; n * h * w * c]);
        let dy = data(y.len(), 99);
        for b in 0..n {
            for i in 0..oh {
                for j in 0..ow {
                    for ch in 0..c {
                        let mut cells = vec![];
                        for a in 0..p.size.0 {
                            for bb in 0..p.size.1 {
                                let (ih, iw) = (g.rows.source(i, a), g.cols.source(j, bb));
                                if let (Some(ih), Some(iw)) = (ih, iw) {
                                    cells.push(((b * h + ih) * w + iw) * c + ch);
                                }
                            }
                        }
                        let o = ((b * oh + i) * ow + j) * c + ch;
                        if kind == Kind::Max {
                            let mut best = cells[0];
                            for &k in &cells {
                                if x[k] > x[best] {
                                    best = k;
                                }
                            }
                            y[o] = x[best];
                            dx[best] += dy[o];
                        } else {
                            y[o] = cells.iter().map(|&k| x[k]).sum::<f64>() / cells.len() as f64;
                            for &k in &cells {
                                dx[k] += dy[o] / cells.len() as f64;
                            }
                        }
                    }
                }
            }
        }
        (y, dx)
    }

    #[test]
    fn pools_match_reference_on_every_path() {
        let threads = parallel::num_threads();
        let cases = [
            ([2, 6, 6, 3], (2, 2), (2, 2), Padding::Valid),
            ([1, 7, 5, 5], (3, 2), (2, 1), Padding::Valid),
            ([2, 7, 5, 17], (3, 3), (2, 2), Padding::Same),
            ([1, 5, 8, 2], (2, 3), (3, 2), Padding::Same),
            ([3, 1, 1, 4], (2, 2), (1, 1), Padding::Same),
            ([1, 2, 2, 1], (3, 3), (1, 1), Padding::Valid),
            ([16, 26, 26, 32], (2, 2), (2, 2), Padding::Valid),
            ([8, 13, 11, 9], (3, 3), (1, 1), Padding::Same),
        ];
        for (s, size, strides, padding) in cases {
            let p = Pool2d { size, strides, padding };
            let x = data(s.iter().product(), 1);
            let g = PoolGeom::new("t", &s, &p).unwrap();
            let dy = data(g.output_len(), 99);
            for kind in [Kind::Max, Kind::Avg] {
                let (wy, wdx) = reference(kind, &x, s, &p);
                let mut first: Option<Vec<f64>> = None;
                for isa in simd::supported() {
                    for t in [1, 3] {
                        parallel::set_num_threads(t);
                        let mut y = vec![f64::NAN; wy.len()];
                        forward(isa, "t", kind, &x, &s, &p, &mut y).unwrap();
                        assert_eq!(y.len(), wy.len());
                        for i in 0..y.len() {
                            assert!((y[i] - wy[i]).abs() < 1e-14, "{s:?} {i}");
                        }
                        let mut dx = vec![f64::NAN; x.len()];
                        backward(isa, "t", kind, &dy, &x, &s, &p, false, &mut dx).unwrap();
                        for i in 0..dx.len() {
                            assert!((dx[i] - wdx[i]).abs() < 1e-13, "{s:?} dx[{i}] {} vs {}", dx[i], wdx[i]);
                        }
                        match &first {
                            None => first = Some(dx),
                            Some(f) => {
                                assert_eq!(f, &dx, "bitwise identical across paths and threads")
                            }
                        }
                    }
                }
            }
        }
        parallel::set_num_threads(threads);
    }

    #[test]
    fn max_ties_go_to_the_first_maximum() {
        let x = vec![1.0f32, 3.0, 3.0, 3.0, 0.0, 5.0, 5.0, 5.0];
        let s = [1, 2, 4, 1];
        let p = Pool2d { size: (2, 2), strides: (2, 2), padding: Padding::Valid };
        let mut dx = vec![9.0f32; 8];
        max_pool2d_backward(&[10.0, 20.0], &x, &s, &p, false, &mut dx).unwrap();
        // Windows: [1, 3 / 0, 5] -> max 5 at (1,1); [3, 3 / 5, 5] -> first 5 at (1,2).
        assert_eq!(dx, vec![0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 20.0, 0.0]);
    }

    #[test]
    fn nan_propagates_and_takes_the_gradient() {
        let x = vec![1.0f64, f64::NAN, 9.0, f64::NAN];
        let s = [1, 2, 2, 1];
        let p = Pool2d { size: (2, 2), strides: (2, 2), padding: Padding::Valid };
        let mut y = vec![0.0];
        max_pool2d(&x, &s, &p, &mut y).unwrap();
        assert!(y[0].is_nan());
        let mut dx = vec![0.0; 4];
        max_pool2d_backward(&[1.0], &x, &s, &p, false, &mut dx).unwrap();
        assert_eq!(dx, vec![0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn through_relu_equals_pool_then_relu_backward() {
        let cases = [([2, 9, 8, 5], (2, 2), (2, 2)), ([1, 7, 7, 17], (3, 3), (2, 2)), ([2, 6, 6, 3], (2, 2), (1, 1))];
        for (s, size, strides) in cases {
            let p = Pool2d { size, strides, padding: Padding::Valid };
            // ReLU outputs: about half exact zeros, some windows all zero.
            let x: Vec<f64> = data(s.iter().product(), 5).iter().map(|v| v.max(0.0)).collect();
            let g = PoolGeom::new("t", &s, &p).unwrap();
            let dy = data(g.output_len(), 7);
            let mut want = vec![0.0; x.len()];
            max_pool2d_backward(&dy, &x, &s, &p, false, &mut want).unwrap();
            for (w, &xv) in want.iter_mut().zip(&x) {
                if xv <= 0.0 {
                    *w = 0.0;
                }
            }
            let mut got = vec![f64::NAN; x.len()];
            max_pool2d_backward(&dy, &x, &s, &p, true, &mut got).unwrap();
            assert_eq!(got, want, "{s:?}");
        }
    }

    #[test]
    fn bad_shapes_and_windows_are_reported() {
        let p = Pool2d { size: (2, 2), strides: (2, 2), padding: Padding::Valid };
        let e = max_pool2d(&[0f32; 6], &[2, 3], &p, &mut []).unwrap_err();
        assert!(e.to_string().contains("x.shape=(2, 3)"), "{e}");
        let e = max_pool2d(&[0f32; 4], &[1, 2, 2, 1], &Pool2d { strides: (0, 1), ..p }, &mut [0.0]).unwrap_err();
        assert!(e.to_string().contains("stride=0"), "{e}");
        let e = max_pool2d(&[0f32; 4], &[1, 2, 2, 1], &p, &mut [0.0; 2]).unwrap_err();
        assert!(e.to_string().contains("out must have shape (1, 1, 1, 1)"), "{e}");
    }
}
