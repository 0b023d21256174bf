//! softmax and log_softmax along any axis of a C-contiguous array, with their
//! gradients.
//!
//! The array is viewed as `(outer, len, inner)` around the axis. When the axis
//! is the last one (`inner == 1`) every row is contiguous: max, exp and sum run
//! along it. Otherwise a block of up to [`COLS`] neighbouring columns is
//! handled at once, reducing down the `len` rows element-wise across the
//! block, which vectorises just as well and needs no transposed copy.
//!
//! Every reduction has one fixed order (16 interleaved partial sums along a
//! row, top to bottom down a column) and every row or column block is computed
//! by one task, so results do not depend on the thread count.

use crate::error::{shape_err, value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{block_for, sweep, Body};
use crate::ops::vmath::{self, has_fma, Fused, MulAdd, Plain, VFloat};
use crate::parallel::SendPtr;
use crate::shape::fmt_shape;
use crate::simd::{self, Isa};
use std::marker::PhantomData;

/// Interleaved partial sums of a row reduction.
pub(crate) const LANES: usize = 16;
/// Columns reduced together when the axis is not the last one.
const COLS: usize = 256;
/// Elements a parallel block should touch, about.
const BLOCK_ELEMS: usize = 1 << 14;

/// An array seen as `(outer, len, inner)` around one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisView {
    pub outer: usize,
    pub len: usize,
    pub inner: usize,
}

impl AxisView {
    /// The view of an array of `shape` around `axis` (negative counts from the
    /// end, as in NumPy).
    pub fn new(op: &'static str, shape: &[usize], axis: isize) -> Result<AxisView> {
        let nd = shape.len() as isize;
        let a = if axis < 0 { axis + nd } else { axis };
        if a < 0 || a >= nd {
            return value_err(
                op,
                format!(
                    "axis {axis} is out of bounds for an array of dimension {nd}. Received: axis={axis}, shape={}",
                    fmt_shape(shape)
                ),
            );
        }
        let a = a as usize;
        Ok(AxisView { outer: shape[..a].iter().product(), len: shape[a], inner: shape[a + 1..].iter().product() })
    }

    fn size(&self) -> usize {
        self.outer * self.len * self.inner
    }
}

/// max(x), ignoring NaN (a NaN still poisons what is computed from it);
/// -inf for an empty row.
#[inline(always)]
pub(crate) fn row_max<T: Float>(x: &[T]) -> T {
    let mut acc = [T::NEG_INFINITY; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] = if c[j] > acc[j] { c[j] } else { acc[j] };
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a = if v > *a { v } else { *a };
    }
    acc.iter().fold(T::NEG_INFINITY, |m, &v| if v > m { v } else { m })
}

/// Σ x in one fixed order: `LANES` interleaved partial sums, then those in
/// index order. Accumulates in `f64`, so `f32` rows lose nothing to length.
#[inline(always)]
pub(crate) fn row_sum<T: Float>(x: &[T]) -> T {
    let mut acc = [0f64; LANES];
    let mut chunks = x.chunks_exact(LANES);
    for c in &mut chunks {
        for j in 0..LANES {
            acc[j] += c[j].to_f64();
        }
    }
    for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
        *a += v.to_f64();
    }
    T::from_f64(acc.iter().sum())
}

/// Σ a·b in the order of [`row_sum`], also in `f64`.
#[inline(always)]
pub(crate) fn row_dot<T: Float>(a: &[T], b: &[T]) -> T {
    let mut acc = [0f64; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b[..a.len()].chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for j in 0..LANES {
            acc[j] += x[j].to_f64() * y[j].to_f64();
        }
    }
    for ((s, &x), &y) in acc.iter_mut().zip(ca.remainder()).zip(cb.remainder()) {
        *s += x.to_f64() * y.to_f64();
    }
    T::from_f64(acc.iter().sum())
}

/// `out[i] = exp(x[i] - m)`.
#[inline(always)]
pub(crate) fn exp_shifted<M: MulAdd, T: VFloat>(x: &[T], m: T, out: &mut [T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = vmath::exp_nonpos::<M, T>(v - m);
    }
}

/// Which of the four kernels a body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Softmax,
    LogSoftmax,
    SoftmaxGrad,
    LogSoftmaxGrad,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Softmax => "softmax",
            Kind::LogSoftmax => "log_softmax",
            Kind::SoftmaxGrad => "softmax_backward",
            Kind::LogSoftmaxGrad => "log_softmax_backward",
        }
    }
}

/// One contiguous row: `a` is x (forward) or dy (backward), `b` is y
/// (backward only), `out` the result.
#[inline(always)]
fn row<M: MulAdd, T: VFloat>(kind: Kind, a: &[T], b: &[T], out: &mut [T]) {
    match kind {
        Kind::Softmax => {
            let m = row_max(a);
            exp_shifted::<M, T>(a, m, out);
            let s = row_sum(out);
            for o in out.iter_mut() {
                *o = *o / s;
            }
        }
        Kind::LogSoftmax => {
            let m = row_max(a);
            exp_shifted::<M, T>(a, m, out);
            let ls = row_sum(out).ln();
            for (o, &x) in out.iter_mut().zip(a) {
                *o = (x - m) - ls;
            }
        }
        Kind::SoftmaxGrad => {
            // dx = y·(dy - Σ dy·y)
            let dot = row_dot(a, b);
            for ((o, &dy), &y) in out.iter_mut().zip(a).zip(b) {
                *o = y * (dy - dot);
            }
        }
        Kind::LogSoftmaxGrad => {
            // dx = dy - exp(y)·Σ dy
            let s = row_sum(a);
            for ((o, &dy), &y) in out.iter_mut().zip(a).zip(b) {
                *o = dy - vmath::exp_nonpos::<M, T>(y) * s;
            }
        }
    }
}

/// Columns `c0..c0+w` of one `(len, inner)` slab: `a`, `b` and `out` point at
/// the slab's first element.
///
/// # Safety
/// The slab pointers must address `len · inner` elements, and no one else may
/// write columns `c0..c0+w` of `out` meanwhile.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn cols<M: MulAdd, T: VFloat>(
    kind: Kind,
    a: &[T],
    b: &[T],
    out: *mut T,
    len: usize,
    inner: usize,
    c0: usize,
    w: usize,
) {
    let line = |s: &[T], j: usize| -> *const T { s.as_ptr().add(j * inner + c0) };
    let at = |s: &[T], j: usize| std::slice::from_raw_parts(line(s, j), w);
    let out_at = |j: usize| std::slice::from_raw_parts_mut(out.add(j * inner + c0), w);
    // Column sums accumulate in f64, then are rounded once into `tot`.
    let mut acc = [0f64; COLS];
    let acc = &mut acc[..w];
    let mut tot = [T::ZERO; COLS];
    let tot = &mut tot[..w];
    let round = |tot: &mut [T], acc: &[f64], f: fn(f64) -> f64| {
        for (t, &a) in tot.iter_mut().zip(acc) {
            *t = T::from_f64(f(a));
        }
    };
    match kind {
        Kind::Softmax | Kind::LogSoftmax => {
            let mut mx = [T::NEG_INFINITY; COLS];
            let mx = &mut mx[..w];
            for j in 0..len {
                for (m, &v) in mx.iter_mut().zip(at(a, j)) {
                    *m = if v > *m { v } else { *m };
                }
            }
            for j in 0..len {
                for ((s, o), (&v, &m)) in acc.iter_mut().zip(out_at(j)).zip(at(a, j).iter().zip(mx.iter())) {
                    let e = vmath::exp_nonpos::<M, T>(v - m);
                    *o = e;
                    *s += e.to_f64();
                }
            }
            if kind == Kind::Softmax {
                round(tot, acc, |s| s);
                for j in 0..len {
                    for (o, &s) in out_at(j).iter_mut().zip(tot.iter()) {
                        *o = *o / s;
                    }
                }
            } else {
                round(tot, acc, f64::ln);
                for j in 0..len {
                    let it = at(a, j).iter().zip(mx.iter()).zip(tot.iter());
                    for (o, ((&x, &m), &ls)) in out_at(j).iter_mut().zip(it) {
                        *o = (x - m) - ls;
                    }
                }
            }
        }
        Kind::SoftmaxGrad => {
            for j in 0..len {
                for ((s, &dy), &y) in acc.iter_mut().zip(at(a, j)).zip(at(b, j)) {
                    *s += dy.to_f64() * y.to_f64();
                }
            }
            round(tot, acc, |s| s);
            for j in 0..len {
                for ((o, &dot), (&dy, &y)) in out_at(j).iter_mut().zip(tot.iter()).zip(at(a, j).iter().zip(at(b, j))) {
                    *o = y * (dy - dot);
                }
            }
        }
        Kind::LogSoftmaxGrad => {
            for j in 0..len {
                for (s, &dy) in acc.iter_mut().zip(at(a, j)) {
                    *s += dy.to_f64();
                }
            }
            round(tot, acc, |s| s);
            for j in 0..len {
                for ((o, &s), (&dy, &y)) in out_at(j).iter_mut().zip(tot.iter()).zip(at(a, j).iter().zip(at(b, j))) {
                    *o = dy - vmath::exp_nonpos::<M, T>(y) * s;
                }
            }
        }
    }
}

struct Rows<'a, T, M> {
    kind: Kind,
    a: &'a [T],
    b: &'a [T],
    out: SendPtr<T>,
    len: usize,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for Rows<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let n = self.len;
        for r in lo..hi {
            // SAFETY: row r of `out` belongs to this block only.
            let out = unsafe { std::slice::from_raw_parts_mut(self.out.get().add(r * n), n) };
            let b = if self.b.is_empty() { &[][..] } else { &self.b[r * n..(r + 1) * n] };
            row::<M, T>(self.kind, &self.a[r * n..(r + 1) * n], b, out);
        }
    }
}

struct Cols<'a, T, M> {
    kind: Kind,
    a: &'a [T],
    b: &'a [T],
    out: SendPtr<T>,
    view: AxisView,
    /// Column blocks per slab.
    blocks: usize,
    ma: PhantomData<M>,
}

impl<T: VFloat, M: MulAdd> Body for Cols<'_, T, M> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let AxisView { len, inner, .. } = self.view;
        let slab = len * inner;
        for u in lo..hi {
            let (o, blk) = (u / self.blocks, u % self.blocks);
            let c0 = blk * COLS;
            let w = COLS.min(inner - c0);
            let a = &self.a[o * slab..(o + 1) * slab];
            let b = if self.b.is_empty() { &[][..] } else { &self.b[o * slab..(o + 1) * slab] };
            // SAFETY: slab o holds `slab` elements; columns c0..c0+w of it
            // belong to this unit only.
            unsafe { cols::<M, T>(self.kind, a, b, self.out.get().add(o * slab), len, inner, c0, w) };
        }
    }
}

fn run_on<T: VFloat>(
    isa: Isa,
    kind: Kind,
    a: &[T],
    b: &[T],
    shape: &[usize],
    axis: isize,
    out: &mut [T],
) -> Result<()> {
    let op = kind.name();
    let view = AxisView::new(op, shape, axis)?;
    let (first, second) = match kind {
        Kind::Softmax | Kind::LogSoftmax => ("x", None),
        _ => ("dy", Some(("y", b.len()))),
    };
    let mut lens = vec![(first, a.len()), ("out", out.len())];
    lens.extend(second);
    if let Some(&(name, n)) = lens.iter().find(|(_, n)| *n != view.size()) {
        return shape_err(
            op,
            format!(
                "{name} must have {} elements for shape {}. Received: {name} has {n}",
                view.size(),
                fmt_shape(shape)
            ),
        );
    }
    if view.size() == 0 {
        return Ok(());
    }
    let out = SendPtr(out.as_mut_ptr());
    if has_fma(isa) {
        launch::<T, Fused>(isa, kind, a, b, view, out);
    } else {
        launch::<T, Plain>(isa, kind, a, b, view, out);
    }
    Ok(())
}

fn launch<T: VFloat, M: MulAdd>(isa: Isa, kind: Kind, a: &[T], b: &[T], view: AxisView, out: SendPtr<T>) {
    if view.inner == 1 {
        let body = Rows { kind, a, b, out, len: view.len, ma: PhantomData::<M> };
        sweep(isa, view.outer, block_for(view.len, BLOCK_ELEMS), view.len * 8, &body);
    } else {
        let blocks = view.inner.div_ceil(COLS);
        let body = Cols { kind, a, b, out, view, blocks, ma: PhantomData::<M> };
        let per_unit = view.len * COLS.min(view.inner);
        sweep(isa, view.outer * blocks, block_for(per_unit, BLOCK_ELEMS), per_unit * 8, &body);
    }
}

/// `out = exp(x - max) / Σ exp(x - max)` along `axis` of an array of `shape`.
pub fn softmax<T: VFloat>(x: &[T], shape: &[usize], axis: isize, out: &mut [T]) -> Result<()> {
    run_on(simd::active(), Kind::Softmax, x, &[], shape, axis, out)
}

/// `out = (x - max) - ln Σ exp(x - max)` along `axis`.
pub fn log_softmax<T: VFloat>(x: &[T], shape: &[usize], axis: isize, out: &mut [T]) -> Result<()> {
    run_on(simd::active(), Kind::LogSoftmax, x, &[], shape, axis, out)
}

/// dL/dx of softmax from dL/dy and the forward's output `y`:
/// `dx = y · (dy - Σ dy·y)` along `axis`.
pub fn softmax_backward<T: VFloat>(dy: &[T], y: &[T], shape: &[usize], axis: isize, dx: &mut [T]) -> Result<()> {
    run_on(simd::active(), Kind::SoftmaxGrad, dy, y, shape, axis, dx)
}

/// dL/dx of log_softmax from dL/dy and the forward's output `y`:
/// `dx = dy - exp(y) · Σ dy` along `axis`.
pub fn log_softmax_backward<T: VFloat>(dy: &[T], y: &[T], shape: &[usize], axis: isize, dx: &mut [T]) -> Result<()> {
    run_on(simd::active(), Kind::LogSoftmaxGrad, dy, y, shape, axis, dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Straightforward f64 reference along an axis, element by element.
    fn reference(kind: Kind, a: &[f64], b: &[f64], v: AxisView) -> Vec<f64> {
        let mut out = vec![0.0; a.len()];
        for o in 0..v.outer {
            for i in 0..v.inner {
                let idx = |j: usize| (o * v.len + j) * v.inner + i;
                let col: Vec<f64> = (0..v.len).map(|j| a[idx(j)]).collect();
                let m = col.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = col.iter().map(|x| (x - m).exp()).sum();
                let dot: f64 = (0..v.len).map(|j| a[idx(j)] * b.get(idx(j)).copied().unwrap_or(0.0)).sum();
                let sdy: f64 = col.iter().sum();
                for j in 0..v.len {
                    out[idx(j)] = match kind {
                        Kind::Softmax => (a[idx(j)] - m).exp() / s,
                        Kind::LogSoftmax => a[idx(j)] - m - s.ln(),
                        Kind::SoftmaxGrad => b[idx(j)] * (a[idx(j)] - dot),
                        Kind::LogSoftmaxGrad => a[idx(j)] - b[idx(j)].exp() * sdy,
                    };
                }
            }
        }
        out
    }

    fn data(n: usize, seed: u64) -> Vec<f64> {
        (0..n).map(|i| (((i as u64 * 2_654_435_761 + seed) % 10_007) as f64 / 10_007.0 - 0.5) * 8.0).collect()
    }

    const KINDS: [Kind; 4] = [Kind::Softmax, Kind::LogSoftmax, Kind::SoftmaxGrad, Kind::LogSoftmaxGrad];

    #[test]
    fn matches_reference_along_every_axis_on_every_path() {
        let shapes: [&[usize]; 5] = [&[3, 37], &[2, 300, 5], &[1, 7, 513], &[40, 1], &[5, 3, 2]];
        for isa in simd::supported() {
            for shape in shapes {
                let n: usize = shape.iter().product();
                for axis in -(shape.len() as isize)..shape.len() as isize {
                    let view = AxisView::new("t", shape, axis).unwrap();
                    for kind in KINDS {
                        let a = data(n, 1);
                        let mut y = vec![0.0; n];
                        run_on(isa, Kind::Softmax, &a, &[], shape, axis, &mut y).unwrap();
                        let b = if kind == Kind::LogSoftmaxGrad { y.iter().map(|v| v.ln()).collect() } else { y };
                        let a = if matches!(kind, Kind::SoftmaxGrad | Kind::LogSoftmaxGrad) { data(n, 7) } else { a };
                        let want = reference(kind, &a, &b, view);
                        let mut got = vec![0.0; n];
                        run_on(isa, kind, &a, &b, shape, axis, &mut got).unwrap();
                        for i in 0..n {
                            assert!(
                                (got[i] - want[i]).abs() <= 1e-14 * (1.0 + want[i].abs()),
                                "{isa:?} {kind:?} {shape:?} axis {axis} [{i}]: {} vs {}",
                                got[i],
                                want[i]
                            );
                        }
                        let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
                        let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
                        let mut got32 = vec![0f32; n];
                        run_on(isa, kind, &a32, &b32, shape, axis, &mut got32).unwrap();
                        let want32 = reference(
                            kind,
                            &a32.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                            &b32.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                            view,
                        );
                        for i in 0..n {
                            assert!(
                                (got32[i] as f64 - want32[i]).abs() <= 2e-6 * (1.0 + want32[i].abs()),
                                "{isa:?} {kind:?} f32 {shape:?} axis {axis} [{i}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn stable_for_huge_logits_and_propagates_nan() {
        let x = [1e4f32, 0.0, -1e4, 1e4 - 1.0];
        let mut y = [0f32; 4];
        softmax(&x, &[4], -1, &mut y).unwrap();
        let e = (-1f32).exp();
        assert!((y[0] - 1.0 / (1.0 + e)).abs() < 1e-6 && y[1] == 0.0 && y[2] == 0.0, "{y:?}");
        log_softmax(&x, &[4], 0, &mut y).unwrap();
        assert!(y.iter().all(|v| v.is_finite()) && (y[1] + 1e4).abs() < 1.0, "{y:?}");
        let x = [1.0f64, f64::NAN, 2.0, 0.0, 1.0, 2.0];
        let mut y = [0f64; 6];
        softmax(&x, &[2, 3], 1, &mut y).unwrap();
        assert!(y[..3].iter().all(|v| v.is_nan()) && y[3..].iter().all(|v| v.is_finite()));
    }

    #[test]
    fn rejects_bad_axis_and_sizes() {
        let mut y = [0f32; 6];
        let e = softmax(&[0f32; 6], &[2, 3], 2, &mut y).unwrap_err();
        assert!(e.to_string().contains("axis 2 is out of bounds for an array of dimension 2"), "{e}");
        assert!(softmax(&[0f32; 6], &[2, 3], -3, &mut y).is_err());
        assert!(softmax(&[0f32; 5], &[2, 3], 0, &mut y).is_err());
        assert!(softmax_backward(&[0f32; 6], &[0f32; 5], &[2, 3], 0, &mut y).is_err());
        softmax::<f32>(&[], &[0, 3], 1, &mut []).unwrap();
        softmax::<f32>(&[], &[3, 0], 1, &mut []).unwrap();
    }
}
