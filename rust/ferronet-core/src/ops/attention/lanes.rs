//! The products of attention with a block of query rows in the lanes of one
//! SIMD block `V` (`W = V::W` rows: two registers, 32 `f32`, on AVX-512; see [`Regs`]).
//!
//! With query rows in lanes, the scores of one key for the whole block are
//! one register: the softmax's maximum, exponentials and sum run down the
//! keys with no cross-lane reduction, and every product keeps `G`
//! independent sums in registers, each multiply-add taking one broadcast
//! operand from memory. A tile is `rows × W` values, row-major. Three shapes
//! cover the forward and backward passes:
//!
//! - [`dots`]: `out[j][l] = Σ_c xt[c][l]·y(j0+j, c)` (scores `Q·Kᵀ`, `dO·Vᵀ`);
//! - [`axpy_cols`]: `acc[c][l] += Σ_j w[j][l]·y(j0+j, c)` (`P·V`, `dS·K`);
//! - [`outer`]: `z(j0+j, c) += Σ_l w[j][l]·x[l][c]` (`dSᵀ·Q`, `Pᵀ·dO`).
//!
//! [`transpose_rows`] and [`dot_rows`] bring a block's rows into lanes, [`lane_row`] one
//! back out.
//!
//! Sums run in index order, so a result never depends on how work is split.

use crate::float::Float;
use crate::simd::Vector;

/// Independent sums kept in registers together.
const G: usize = 8;

/// A block's registers: `W` query rows in lanes ([`Vector::W`]), and `Col`, the
/// register the row-wise products ([`outer`], [`lane_row`]) run along a row with.
pub(super) trait Block<T>: Vector<T> {
    type Col: Vector<T>;
}

/// `N` registers as one of `N` times the lanes: a block of 32 query rows per
/// AVX-512 `f32` block (`N = 2`), so each broadcast operand of [`dots`] and
/// [`axpy_cols`] feeds two multiply-adds; `N = 1` elsewhere.
#[derive(Clone, Copy)]
pub(super) struct Regs<V, const N: usize>([V; N]);

impl<T: Float, V: Vector<T>, const N: usize> Vector<T> for Regs<V, N> {
    const W: usize = N * V::W;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Regs([V::zero(); N])
    }
    #[inline(always)]
    unsafe fn splat(v: T) -> Self {
        Regs([V::splat(v); N])
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Regs(std::array::from_fn(|i| V::load(p.add(i * V::W))))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        for (i, r) in self.0.iter().enumerate() {
            r.store(p.add(i * V::W));
        }
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Regs(std::array::from_fn(|i| self.0[i].mul_add(b.0[i], c.0[i])))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Regs(std::array::from_fn(|i| self.0[i].add(b.0[i])))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Regs(std::array::from_fn(|i| self.0[i].mul(b.0[i])))
    }
    #[inline(always)]
    unsafe fn gather(base: *const T, idx: *const i32) -> Self {
        Regs(std::array::from_fn(|i| V::gather(base, idx.add(i * V::W))))
    }
}

impl<T: Float, V: Vector<T>, const N: usize> Block<T> for Regs<V, N> {
    type Col = V;
}

/// A read-only matrix whose row `j` starts at `data[j·rs]`.
#[derive(Clone, Copy)]
pub(super) struct Rows<'a, T> {
    pub data: &'a [T],
    pub rs: usize,
}

impl<T> Rows<'_, T> {
    /// Panics unless rows `j0 .. j0 + rows` hold `n` elements each.
    #[inline(always)]
    fn check(&self, j0: usize, rows: usize, n: usize) {
        assert!(rows == 0 || (j0 + rows - 1) * self.rs + n <= self.data.len(), "attention rows out of range");
    }
}

/// `out[j·W + l] = Σ_c xt[c·W + l] · y(j0 + j, c)` for every key `j < out.len() / W`
/// and `c < xt.len() / W`.
#[inline(always)]
pub(super) fn dots<T: Float, V: Vector<T>>(xt: &[T], y: Rows<'_, T>, j0: usize, out: &mut [T]) {
    let (n, keys) = (xt.len() / V::W, out.len() / V::W);
    y.check(j0, keys, n);
    // SAFETY: checked above; xt holds n registers and out keys registers.
    unsafe {
        let (xp, yp, op) = (xt.as_ptr(), y.data.as_ptr().add(j0 * y.rs), out.as_mut_ptr());
        let mut j = 0;
        while j + G <= keys {
            dots_group::<T, V, G>(xp, n, yp.add(j * y.rs), y.rs, op.add(j * V::W));
            j += G;
        }
        while j < keys {
            dots_group::<T, V, 1>(xp, n, yp.add(j * y.rs), y.rs, op.add(j * V::W));
            j += 1;
        }
    }
}

#[inline(always)]
unsafe fn dots_group<T: Float, V: Vector<T>, const N: usize>(
    xp: *const T,
    n: usize,
    yp: *const T,
    rs: usize,
    op: *mut T,
) {
    let mut acc = [V::zero(); N];
    for c in 0..n {
        let x = V::load(xp.add(c * V::W));
        for (g, a) in acc.iter_mut().enumerate() {
            *a = V::splat(*yp.add(g * rs + c)).mul_add(x, *a);
        }
    }
    for (g, a) in acc.iter().enumerate() {
        a.store(op.add(g * V::W));
    }
}

/// `xt[c·W + l] = x[idx[l] + c] · k[l]` for every `c < xt.len() / W`: the rows of
/// `x` at offsets `idx`, transposed (one register per column, lanes = rows) and scaled
/// lane by lane, a gather per register.
#[inline(always)]
pub(super) fn transpose_rows<T: Float, V: Vector<T>>(x: &[T], idx: &[i32], k: &[T], xt: &mut [T]) {
    let n = xt.len() / V::W;
    assert!(idx.len() == V::W && k.len() == V::W, "attention: one offset and factor per lane");
    assert!(idx.iter().all(|&i| i >= 0 && i as usize + n <= x.len()), "attention rows out of range");
    // SAFETY: checked above; xt holds n registers.
    unsafe {
        let kv = V::load(k.as_ptr());
        for c in 0..n {
            V::gather(x.as_ptr().add(c), idx.as_ptr()).mul(kv).store(xt.as_mut_ptr().add(c * V::W));
        }
    }
}

/// `row[c] = xt[c·W + l] · k` for every `c < row.len()`: lane `l` of a transposed
/// tile back as a row, a gather per register of it.
#[inline(always)]
pub(super) fn lane_row<T: Float, V: Block<T>>(xt: &[T], l: usize, k: T, row: &mut [T]) {
    let (n, cw) = (row.len(), V::Col::W);
    assert!(l < V::W && xt.len() >= n * V::W && cw <= 16, "attention rows out of range");
    let cols: [i32; 16] = std::array::from_fn(|j| (j * V::W) as i32);
    // SAFETY: checked above; each gather reads lane l of Col::W consecutive registers.
    unsafe {
        let kv = V::Col::splat(k);
        let mut c = 0;
        while c + cw <= n {
            V::Col::gather(xt.as_ptr().add(c * V::W + l), cols.as_ptr()).mul(kv).store(row.as_mut_ptr().add(c));
            c += cw;
        }
        for c in c..n {
            row[c] = xt[c * V::W + l] * k;
        }
    }
}

/// `out[l] = Σ_c xt[c·W + l] · y[idx[l] + c]` over the columns of `xt` (row by row
/// dot products of a transposed tile with the rows of `y` at offsets `idx`).
#[inline(always)]
pub(super) fn dot_rows<T: Float, V: Vector<T>>(xt: &[T], y: &[T], idx: &[i32], out: &mut [T]) {
    let n = xt.len() / V::W;
    assert!(idx.len() == V::W && out.len() == V::W, "attention: one offset per lane");
    assert!(idx.iter().all(|&i| i >= 0 && i as usize + n <= y.len()), "attention rows out of range");
    // SAFETY: checked above.
    unsafe {
        let mut acc = V::zero();
        for c in 0..n {
            acc = V::load(xt.as_ptr().add(c * V::W)).mul_add(V::gather(y.as_ptr().add(c), idx.as_ptr()), acc);
        }
        acc.store(out.as_mut_ptr());
    }
}

/// `acc[c·W + l] += Σ_j w[j·W + l] · y(j0 + j, c)` for every `c < acc.len() / W` and
/// `j < w.len() / W`.
#[inline(always)]
pub(super) fn axpy_cols<T: Float, V: Vector<T>>(w: &[T], y: Rows<'_, T>, j0: usize, acc: &mut [T]) {
    let (n, keys) = (acc.len() / V::W, w.len() / V::W);
    y.check(j0, keys, n);
    // SAFETY: checked above; w holds keys registers and acc n registers.
    unsafe {
        let (wp, yp, ap) = (w.as_ptr(), y.data.as_ptr().add(j0 * y.rs), acc.as_mut_ptr());
        let mut c = 0;
        while c + G <= n {
            axpy_group::<T, V, G>(wp, keys, yp.add(c), y.rs, ap.add(c * V::W));
            c += G;
        }
        while c < n {
            axpy_group::<T, V, 1>(wp, keys, yp.add(c), y.rs, ap.add(c * V::W));
            c += 1;
        }
    }
}

#[inline(always)]
unsafe fn axpy_group<T: Float, V: Vector<T>, const N: usize>(
    wp: *const T,
    keys: usize,
    yp: *const T,
    rs: usize,
    ap: *mut T,
) {
    let mut a: [V; N] = std::array::from_fn(|g| V::load(ap.add(g * V::W)));
    for j in 0..keys {
        let (w, yr) = (V::load(wp.add(j * V::W)), yp.add(j * rs));
        for (g, s) in a.iter_mut().enumerate() {
            *s = V::splat(*yr.add(g)).mul_add(w, *s);
        }
    }
    for (g, s) in a.iter().enumerate() {
        s.store(ap.add(g * V::W));
    }
}

/// `z[(j0 + j)·zs + c] += Σ_l w[j·W + l] · x[l·n + c]` for every `j < w.len() / W` and
/// `c < n` (`x` holds `W` rows of `n`).
///
/// # Safety
/// `z` addresses rows `j0 .. j0 + w.len() / W` of `n` elements, `zs` apart, that no
/// other thread touches during the call.
#[inline(always)]
pub(super) unsafe fn outer<T: Float, V: Block<T>>(w: &[T], x: &[T], n: usize, z: *mut T, zs: usize, j0: usize) {
    let (keys, cw) = (w.len() / V::W, V::Col::W);
    assert!(x.len() >= V::W * n, "attention rows out of range");
    let (wp, xp, zp) = (w.as_ptr(), x.as_ptr(), z.add(j0 * zs));
    let mut c = 0;
    while c + cw <= n {
        let mut j = 0;
        while j + G <= keys {
            outer_group::<T, V::Col, G>(wp.add(j * V::W), V::W, xp.add(c), n, zp.add(j * zs + c), zs);
            j += G;
        }
        while j < keys {
            outer_group::<T, V::Col, 1>(wp.add(j * V::W), V::W, xp.add(c), n, zp.add(j * zs + c), zs);
            j += 1;
        }
        c += cw;
    }
    // Columns past the last whole register.
    for c in c..n {
        for j in 0..keys {
            let zc = zp.add(j * zs + c);
            let mut s = *zc;
            for l in 0..V::W {
                s += w[j * V::W + l] * x[l * n + c];
            }
            *zc = s;
        }
    }
}

#[inline(always)]
unsafe fn outer_group<T: Float, C: Vector<T>, const N: usize>(
    wp: *const T,
    rows: usize,
    xp: *const T,
    n: usize,
    zp: *mut T,
    zs: usize,
) {
    let mut a: [C; N] = std::array::from_fn(|g| C::load(zp.add(g * zs)));
    for l in 0..rows {
        let xv = C::load(xp.add(l * n));
        for (g, s) in a.iter_mut().enumerate() {
            *s = C::splat(*wp.add(g * rows + l)).mul_add(xv, *s);
        }
    }
    for (g, s) in a.iter().enumerate() {
        s.store(zp.add(g * zs));
    }
}
