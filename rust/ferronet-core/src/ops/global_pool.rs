//! Global pools over height and width of NHWC images, `(n, h, w, c) ->
//! (n, c)`, and their gradients. Each image is one unit of work; within it
//! the loop walks the pixels, vectorised over channels. The average uses the
//! fixed-order column sums of [`crate::ops::reduce`]; the maximum follows
//! [`crate::ops::pool`]'s rules (NaN propagates, the first maximum takes the
//! gradient).

use crate::error::Result;
use crate::float::Float;
use crate::ops::pool::{check_4d, check_len, pick, Kind};
use crate::ops::reduce::{column_sums_serial, RowTerm};
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

/// Elements touched per parallel chunk.
const BLOCK: usize = 1 << 15;

/// `acc = pick(acc, x)` lane by lane.
struct MaxInto<'a, T> {
    acc: &'a mut [T],
    x: &'a [T],
}

impl<T: Float> Lanes for MaxInto<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut a, x) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.x, i));
        for k in 0..G {
            a[k] = pick(a[k], x[k]);
        }
        *arr_mut(self.acc, i) = a;
    }
}

/// `acc += x` lane by lane.
struct AddInto<'a, T> {
    acc: &'a mut [T],
    x: &'a [T],
}

impl<T: Float> Lanes for AddInto<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (mut a, x) = (*arr::<T, G>(self.acc, i), *arr::<T, G>(self.x, i));
        for k in 0..G {
            a[k] += x[k];
        }
        *arr_mut(self.acc, i) = a;
    }
}

/// `dx (+)= g` lane by lane (`=` unless `accumulate`).
struct Spread<'a, T> {
    dx: &'a mut [T],
    g: &'a [T],
    accumulate: bool,
}

impl<T: Float> Lanes for Spread<'_, T> {
    fn len(&self) -> usize {
        self.dx.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let mut g = *arr::<T, G>(self.g, i);
        if self.accumulate {
            let d = *arr::<T, G>(self.dx, i);
            for k in 0..G {
                g[k] += d[k];
            }
        }
        *arr_mut(self.dx, i) = g;
    }
}

/// `acc /= count` lane by lane.
struct Divide<'a, T> {
    acc: &'a mut [T],
    count: T,
}

impl<T: Float> Lanes for Divide<'_, T> {
    fn len(&self) -> usize {
        self.acc.len()
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let mut a = *arr::<T, G>(self.acc, i);
        for v in a.iter_mut() {
            *v = *v / self.count;
        }
        *arr_mut(self.acc, i) = a;
    }
}

/// Routes `rem` to the lanes of `x` equal to `max` (or NaN), the first hit
/// per lane only: `dx (+)= hit ? rem : 0`, then the hit lanes of `rem` are spent.
struct RouteMax<'a, T> {
    dx: &'a mut [T],
    x: &'a [T],
    max: &'a [T],
    rem: &'a mut [T],
    accumulate: bool,
}

impl<T: Float> Lanes for RouteMax<'_, T> {
    fn len(&self) -> usize {
        self.dx.len()
    }
    #[inline(always)]
    #[allow(clippy::eq_op)]
    fn group<const G: usize>(&mut self, i: usize) {
        let (x, m) = (*arr::<T, G>(self.x, i), *arr::<T, G>(self.max, i));
        let (mut r, mut g) = (*arr::<T, G>(self.rem, i), [T::ZERO; G]);
        for k in 0..G {
            let hit = (x[k] == m[k]) | (x[k] != x[k]);
            g[k] = if hit { r[k] } else { T::ZERO };
            r[k] = if hit { T::ZERO } else { r[k] };
        }
        if self.accumulate {
            let d = *arr::<T, G>(self.dx, i);
            for k in 0..G {
                g[k] += d[k];
            }
        }
        *arr_mut(self.rem, i) = r;
        *arr_mut(self.dx, i) = g;
    }
}

#[inline(always)]
fn max_into<T: Float>(acc: &mut [T], x: &[T]) {
    lanes(MaxInto { acc, x })
}

#[inline(always)]
fn add_into<T: Float>(acc: &mut [T], x: &[T]) {
    lanes(AddInto { acc, x })
}

#[inline(always)]
fn spread<T: Float>(dx: &mut [T], g: &[T], accumulate: bool) {
    lanes(Spread { dx, g, accumulate })
}

#[inline(always)]
fn divide<T: Float>(acc: &mut [T], count: T) {
    lanes(Divide { acc, count })
}

#[inline(always)]
fn route_max<T: Float>(dx: &mut [T], x: &[T], max: &[T], rem: &mut [T], accumulate: bool) {
    lanes(RouteMax { dx, x, max, rem, accumulate })
}

/// The `h·w` pixels of one image as rows of `c` channels.
struct Pixels<'a, T> {
    x: &'a [T],
    c: usize,
}

impl<T: Float> RowTerm<T> for Pixels<'_, T> {
    #[inline(always)]
    fn add_row(&self, r: usize, acc: &mut [T]) {
        add_into(acc, &self.x[r * self.c..(r + 1) * self.c]);
    }
}

/// Per-image reductions over all pixels, images `lo..hi`.
struct Global<'a, T> {
    kind: Kind,
    pixels: usize,
    c: usize,
    x: &'a [T],
    y: SendPtr<T>,
}

impl<T: Float> Body for Global<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (p, c) = (self.pixels, self.c);
        // SAFETY: output rows lo..hi belong to this block.
        let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo * c), (hi - lo) * c) };
        let mut scratch = Vec::new();
        for (n, out) in (lo..hi).zip(y.chunks_exact_mut(c)) {
            let image = &self.x[n * p * c..(n + 1) * p * c];
            match self.kind {
                Kind::Max => {
                    out.fill(T::NEG_INFINITY);
                    for px in image.chunks_exact(c) {
                        max_into(out, px);
                    }
                }
                Kind::Avg => {
                    column_sums_serial(&Pixels { x: image, c }, p, c, &mut scratch, out);
                    divide(out, T::from_usize(p));
                }
            }
        }
    }
}

/// The `(batch, channels)` output shape of a global pool of an NHWC `x`.
pub fn global_output_shape(op: &'static str, x_shape: &[usize]) -> Result<[usize; 2]> {
    check_4d(op, "x", x_shape)?;
    Ok([x_shape[0], x_shape[3]])
}

fn global<T: Float>(isa: Isa, op: &'static str, kind: Kind, x: &[T], x_shape: &[usize], y: &mut [T]) -> Result<()> {
    let [n, c] = global_output_shape(op, x_shape)?;
    check_len(op, "x", x.len(), x_shape)?;
    check_len(op, "out", y.len(), &[n, c])?;
    if c == 0 {
        return Ok(());
    }
    let pixels = x_shape[1] * x_shape[2];
    let body = Global { kind, pixels, c, x, y: SendPtr(y.as_mut_ptr()) };
    sweep(isa, n, block_for(pixels * c, BLOCK), pixels * c, &body);
    Ok(())
}

/// Gradients of the global pools, images `lo..hi`.
struct GlobalBackward<'a, T> {
    kind: Kind,
    pixels: usize,
    c: usize,
    dy: &'a [T],
    x: &'a [T],
    dx: SendPtr<T>,
}

impl<T: Float> Body for GlobalBackward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (p, c) = (self.pixels, self.c);
        // SAFETY: images lo..hi of dx belong to this block.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo * p * c), (hi - lo) * p * c) };
        let mut a = vec![T::ZERO; c];
        let mut rem = vec![T::ZERO; c];
        for (n, dximg) in (lo..hi).zip(dx.chunks_exact_mut((p * c).max(1))) {
            let dy = &self.dy[n * c..(n + 1) * c];
            match self.kind {
                Kind::Max => {
                    let image = &self.x[n * p * c..(n + 1) * p * c];
                    a.fill(T::NEG_INFINITY);
                    for px in image.chunks_exact(c) {
                        max_into(&mut a, px);
                    }
                    spread(&mut rem, dy, false);
                    for (d, px) in dximg.chunks_exact_mut(c).zip(image.chunks_exact(c)) {
                        route_max(d, px, &a, &mut rem, false);
                    }
                }
                Kind::Avg => {
                    spread(&mut a, dy, false);
                    divide(&mut a, T::from_usize(p));
                    for d in dximg.chunks_exact_mut(c) {
                        spread(d, &a, false);
                    }
                }
            }
        }
    }
}

fn global_backward<T: Float>(
    isa: Isa,
    op: &'static str,
    kind: Kind,
    dy: &[T],
    x: &[T],
    x_shape: &[usize],
    dx: &mut [T],
) -> Result<()> {
    let [n, c] = global_output_shape(op, x_shape)?;
    check_len(op, "dy", dy.len(), &[n, c])?;
    if kind == Kind::Max {
        check_len(op, "x", x.len(), x_shape)?;
    }
    check_len(op, "out", dx.len(), x_shape)?;
    let pixels = x_shape[1] * x_shape[2];
    if c == 0 || pixels == 0 {
        return Ok(());
    }
    let body = GlobalBackward { kind, pixels, c, dy, x, dx: SendPtr(dx.as_mut_ptr()) };
    sweep(isa, n, block_for(pixels * c, BLOCK), 2 * pixels * c, &body);
    Ok(())
}

/// `y[n, c]` = mean of `x[n, ·, ·, c]` (NaN for an image without pixels).
pub fn global_avg_pool2d<T: Float>(x: &[T], x_shape: &[usize], y: &mut [T]) -> Result<()> {
    global(simd::active(), "global_avg_pool2d", Kind::Avg, x, x_shape, y)
}

/// Gradient of [`global_avg_pool2d`]: `dy[n, c] / (h·w)` to every pixel.
pub fn global_avg_pool2d_backward<T: Float>(dy: &[T], x_shape: &[usize], dx: &mut [T]) -> Result<()> {
    global_backward(simd::active(), "global_avg_pool2d_backward", Kind::Avg, dy, &[], x_shape, dx)
}

/// `y[n, c]` = maximum of `x[n, ·, ·, c]` (-inf for an image without pixels).
pub fn global_max_pool2d<T: Float>(x: &[T], x_shape: &[usize], y: &mut [T]) -> Result<()> {
    global(simd::active(), "global_max_pool2d", Kind::Max, x, x_shape, y)
}

/// Gradient of [`global_max_pool2d`]: `dy[n, c]` to the first maximum.
pub fn global_max_pool2d_backward<T: Float>(dy: &[T], x: &[T], x_shape: &[usize], dx: &mut [T]) -> Result<()> {
    global_backward(simd::active(), "global_max_pool2d_backward", Kind::Max, dy, x, x_shape, dx)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::uniform as data;

    #[test]
    fn global_pools_match_reference() {
        for isa in simd::supported() {
            for s in [[2, 3, 5, 7], [1, 30, 30, 3], [3, 1, 1, 1], [0, 2, 2, 2]] {
                let [n, h, w, c] = s;
                let x = data(n * h * w * c, 4);
                let dy = data(n * c, 5);
                let (mut avg, mut max) = (vec![0.0; n * c], vec![0.0; n * c]);
                global(isa, "t", Kind::Avg, &x, &s, &mut avg).unwrap();
                global(isa, "t", Kind::Max, &x, &s, &mut max).unwrap();
                let (mut davg, mut dmax) = (vec![f64::NAN; x.len()], vec![f64::NAN; x.len()]);
                global_backward(isa, "t", Kind::Avg, &dy, &[], &s, &mut davg).unwrap();
                global_backward(isa, "t", Kind::Max, &dy, &x, &s, &mut dmax).unwrap();
                for b in 0..n {
                    for ch in 0..c {
                        let cells: Vec<usize> = (0..h * w).map(|px| (b * h * w + px) * c + ch).collect();
                        let mean = cells.iter().map(|&k| x[k]).sum::<f64>() / cells.len() as f64;
                        assert!((avg[b * c + ch] - mean).abs() < 1e-14);
                        let best = cells.iter().copied().fold(cells[0], |a, k| if x[k] > x[a] { k } else { a });
                        assert_eq!(max[b * c + ch], x[best]);
                        for &k in &cells {
                            assert!((davg[k] - dy[b * c + ch] / cells.len() as f64).abs() < 1e-15);
                            assert_eq!(dmax[k], if k == best { dy[b * c + ch] } else { 0.0 });
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn max_ties_go_to_the_first_maximum() {
        let x = vec![1.0f32, 3.0, 3.0, 3.0, 0.0, 5.0, 5.0, 5.0];
        let mut dx = vec![9.0f32; 8];
        global_max_pool2d_backward(&[7.0], &x, &[1, 2, 4, 1], &mut dx).unwrap();
        assert_eq!(dx, vec![0.0, 0.0, 0.0, 0.0, 0.0, 7.0, 0.0, 0.0]);
    }
}
