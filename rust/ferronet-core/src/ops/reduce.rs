//! Column sums in a fixed order: `sum_rows` (bias gradients) and the
//! machinery batch norm and global average pooling share.
//!
//! `x` is viewed as `(rows, cols)`. Blocks of [`ROWS`] rows are summed row by
//! row (one vector lane per column), then the block sums are added pairwise.
//! The error grows like `ROWS + log2(rows / ROWS)` roundings instead of
//! `rows`, and the order never depends on the thread count.

use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::ops::sweep::{arr, arr_mut, block_for, lanes, sweep, Body, Lanes};
use crate::parallel::SendPtr;
use crate::shape::fmt_shape;
use crate::simd::{self, Isa};

/// Rows per partial sum.
pub(crate) const ROWS: usize = 64;
/// Elements per parallel block of row blocks.
const BLOCK: usize = 1 << 14;

/// The quantity summed down the columns (possibly several sums per column,
/// laid out one after the other in `acc`).
pub(crate) trait RowTerm<T>: Sync {
    /// `acc[k·cols + c] += term_k(r, c)` for every column `c` and sum `k`.
    fn add_row(&self, r: usize, acc: &mut [T]);

    /// [`RowTerm::add_row`] for the rows `r0..r1` in order.
    #[inline(always)]
    fn add_rows(&self, r0: usize, r1: usize, acc: &mut [T]) {
        for r in r0..r1 {
            self.add_row(r, acc);
        }
    }
}

/// Rows `r0..r1` summed in order into `acc` (overwritten).
#[inline(always)]
fn block_sum<T: Float, R: RowTerm<T>>(term: &R, r0: usize, r1: usize, acc: &mut [T]) {
    acc.fill(T::ZERO);
    term.add_rows(r0, r1, acc);
}

/// Adds `nb` partial rows of `width` pairwise (neighbours first) into `parts[..width]`.
#[inline(always)]
fn combine_pairwise<T: Float>(parts: &mut [T], nb: usize, width: usize) {
    let mut count = nb;
    while count > 1 {
        let half = count / 2;
        for i in 0..half {
            // Row i is written after rows 2i and 2i+1 (both >= i) are read.
            for c in 0..width {
                parts[i * width + c] = parts[2 * i * width + c] + parts[(2 * i + 1) * width + c];
            }
        }
        if count % 2 == 1 {
            parts.copy_within((count - 1) * width..count * width, half * width);
        }
        count = half + count % 2;
    }
}

/// The `K·cols` column sums of `rows` rows on the calling thread; `scratch`
/// is reused between calls.
#[inline(always)]
pub(crate) fn column_sums_serial<T: Float, R: RowTerm<T>>(
    term: &R,
    rows: usize,
    width: usize,
    scratch: &mut Vec<T>,
    out: &mut [T],
) {
    if width == 0 {
        return;
    }
    let nb = rows.div_ceil(ROWS);
    if nb <= 1 {
        block_sum(term, 0, rows, out);
        return;
    }
    scratch.resize(nb * width, T::ZERO);
    for (b, acc) in scratch.chunks_exact_mut(width).enumerate() {
        block_sum(term, b * ROWS, ((b + 1) * ROWS).min(rows), acc);
    }
    combine_pairwise(scratch, nb, width);
    out.copy_from_slice(&scratch[..width]);
}

struct Blocks<'a, T, R> {
    term: &'a R,
    rows: usize,
    width: usize,
    parts: SendPtr<T>,
}

impl<T: Float, R: RowTerm<T>> Body for Blocks<'_, T, R> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        for b in lo..hi {
            // SAFETY: block b owns partial row b.
            let acc = unsafe { std::slice::from_raw_parts_mut(self.parts.get().add(b * self.width), self.width) };
            block_sum(self.term, b * ROWS, ((b + 1) * ROWS).min(self.rows), acc);
        }
    }
}

/// [`column_sums_serial`] with the row blocks spread over threads (same
/// blocks, same pairwise order, so the same bits for any thread count).
pub(crate) fn column_sums<T: Float, R: RowTerm<T>>(isa: Isa, term: &R, rows: usize, width: usize, out: &mut [T]) {
    if width == 0 {
        return; // no columns: nothing to sum, however many (empty) rows
    }
    let nb = rows.div_ceil(ROWS);
    if nb <= 1 {
        return column_sums_serial(term, rows, width, &mut Vec::new(), out);
    }
    let mut parts = vec![T::ZERO; nb * width];
    let body = Blocks { term, rows, width, parts: SendPtr(parts.as_mut_ptr()) };
    sweep(isa, nb, block_for(ROWS * width, BLOCK), ROWS * width, &body);
    combine_pairwise(&mut parts, nb, width);
    out.copy_from_slice(&parts[..width]);
}

/// Rows of a row-major `(rows, cols)` matrix.
pub(crate) struct Plain<'a, T> {
    pub x: &'a [T],
    pub cols: usize,
}

impl<T: Float> RowTerm<T> for Plain<'_, T> {
    #[inline(always)]
    fn add_row(&self, r: usize, acc: &mut [T]) {
        lanes(AddRow { acc, x: &self.x[r * self.cols..(r + 1) * self.cols] });
    }

    /// Columns a few registers at a time, each group's sums kept in registers
    /// down the rows (row by row, as `add_row` would: the same bits).
    #[inline(always)]
    fn add_rows(&self, r0: usize, r1: usize, acc: &mut [T]) {
        let mut c = 0;
        while c + 64 <= self.cols {
            self.columns::<64>(r0, r1, c, acc);
            c += 64;
        }
        while c + 16 <= self.cols {
            self.columns::<16>(r0, r1, c, acc);
            c += 16;
        }
        while c < self.cols {
            self.columns::<1>(r0, r1, c, acc);
            c += 1;
        }
    }
}

impl<T: Float> Plain<'_, T> {
    #[inline(always)]
    fn columns<const G: usize>(&self, r0: usize, r1: usize, c: usize, acc: &mut [T]) {
        let mut a = *arr::<T, G>(acc, c);
        for r in r0..r1 {
            let x = arr::<T, G>(&self.x[r * self.cols..(r + 1) * self.cols], c);
            for k in 0..G {
                a[k] += x[k];
            }
        }
        *arr_mut(acc, c) = a;
    }
}

/// `acc += x` lane by lane.
struct AddRow<'a, T> {
    acc: &'a mut [T],
    x: &'a [T],
}

impl<T: Float> Lanes for AddRow<'_, T> {
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

pub(crate) fn check_matrix(op: &'static str, name: &str, len: usize, rows: usize, cols: usize) -> Result<()> {
    if len != rows * cols {
        return shape_err(op, format!("{name} must hold {rows}×{cols} elements. Received: {name} has {len}"));
    }
    Ok(())
}

pub(crate) fn check_channels(op: &'static str, cols: usize, vecs: &[(&str, usize)]) -> Result<()> {
    for &(name, len) in vecs {
        if len != cols {
            return shape_err(
                op,
                format!("{name} must have shape {} (one value per channel, the last axis of x). Received: {name} has {len} elements", fmt_shape(&[cols])),
            );
        }
    }
    Ok(())
}

/// `out[c] = Σ_r x[r, c]` for a row-major `(rows, cols)` `x` (bias gradients).
pub fn sum_rows<T: Float>(x: &[T], rows: usize, cols: usize, out: &mut [T]) -> Result<()> {
    sum_rows_on(simd::active(), x, rows, cols, out)
}

fn sum_rows_on<T: Float>(isa: Isa, x: &[T], rows: usize, cols: usize, out: &mut [T]) -> Result<()> {
    const OP: &str = "sum_rows";
    check_matrix(OP, "x", x.len(), rows, cols)?;
    check_channels(OP, cols, &[("out", out.len())])?;
    column_sums(isa, &Plain { x, cols }, rows, cols, out);
    Ok(())
}

/// Weight regularization: returns `l1·Σ|w| + l2·Σw²` (accumulated in f64, in
/// a fixed order) and, if `grad` is given, adds `l1·sign(w) + 2·l2·w` to it.
pub fn l1_l2_penalty<T: Float>(w: &[T], l1: f64, l2: f64, grad: Option<&mut [T]>) -> Result<f64> {
    const OP: &str = "l1_l2_penalty";
    if !(l1.is_finite() && l2.is_finite() && l1 >= 0.0 && l2 >= 0.0) {
        return crate::error::value_err(
            OP,
            format!("l1 and l2 must be finite and non-negative. Received: l1={l1}, l2={l2}"),
        );
    }
    // Eight running sums (lane j takes elements j, j+8, ...) then added in
    // order: vectorisable, and the same order on every machine.
    let (mut abs, mut sq) = ([0f64; 8], [0f64; 8]);
    let chunks = w.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for j in 0..8 {
            let v = c[j].to_f64();
            abs[j] += v.abs();
            sq[j] += v * v;
        }
    }
    for (j, &v) in rest.iter().enumerate() {
        abs[j] += v.to_f64().abs();
        sq[j] += v.to_f64() * v.to_f64();
    }
    let penalty = l1 * abs.iter().sum::<f64>() + l2 * sq.iter().sum::<f64>();
    if let Some(g) = grad {
        if g.len() != w.len() {
            return shape_err(OP, format!("grad must have as many elements as w ({}). Received: {}", w.len(), g.len()));
        }
        let (l1t, l2t) = (T::from_f64(l1), T::from_f64(2.0 * l2));
        for (g, &v) in g.iter_mut().zip(w) {
            let sign = if v > T::ZERO {
                T::ONE
            } else if v < T::ZERO {
                -T::ONE
            } else {
                T::ZERO
            };
            *g += l1t * sign + l2t * v;
        }
    }
    Ok(penalty)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;

    use crate::testing::uniform as data;

    #[test]
    fn pairwise_combine_adds_every_part_once() {
        for nb in 0..20 {
            let mut parts: Vec<f64> = (0..nb * 3).map(|i| (i / 3 + 1) as f64).collect();
            parts.resize(parts.len().max(3), 0.0);
            combine_pairwise(&mut parts, nb, 3);
            let want = (nb * (nb + 1) / 2) as f64;
            assert_eq!(&parts[..3], &[want; 3], "nb={nb}");
        }
    }

    #[test]
    fn sum_rows_matches_reference_on_every_path_and_thread_count() {
        let threads = parallel::num_threads();
        for (rows, cols) in [(0, 3), (1, 5), (63, 7), (65, 1), (1000, 33), (300, 150), (20_000, 10)] {
            let x = data(rows * cols, 3);
            let want: Vec<f64> = (0..cols).map(|c| (0..rows).map(|r| x[r * cols + c]).sum()).collect();
            let mut first: Option<Vec<f64>> = None;
            for isa in simd::supported() {
                for t in [1, 2, 5] {
                    parallel::set_num_threads(t);
                    let mut out = vec![f64::NAN; cols];
                    sum_rows_on(isa, &x, rows, cols, &mut out).unwrap();
                    for c in 0..cols {
                        assert!((out[c] - want[c]).abs() < 1e-12 * (1.0 + rows as f64), "{rows}x{cols}");
                    }
                    match &first {
                        None => first = Some(out),
                        Some(f) => {
                            assert_eq!(f, &out, "bitwise identical across paths and threads")
                        }
                    }
                }
            }
        }
        parallel::set_num_threads(threads);
    }

    #[test]
    fn l1_l2_penalty_value_and_gradient() {
        let w = [1.5f64, -2.0, 0.0, 0.25, -0.5, 3.0, 1.0, -1.0, 2.0];
        let mut g = vec![1.0f64; w.len()];
        let p = l1_l2_penalty(&w, 0.1, 0.01, Some(&mut g)).unwrap();
        let want: f64 = w.iter().map(|v| 0.1 * v.abs() + 0.01 * v * v).sum();
        assert!((p - want).abs() < 1e-12);
        for (gi, v) in g.iter().zip(&w) {
            let s = if *v > 0.0 {
                1.0
            } else if *v < 0.0 {
                -1.0
            } else {
                0.0
            };
            assert!((gi - (1.0 + 0.1 * s + 0.02 * v)).abs() < 1e-12);
        }
        assert!(l1_l2_penalty(&w, -1.0, 0.0, None).is_err());
        assert!(l1_l2_penalty(&w, 0.0, 0.0, Some(&mut [0.0; 2])).is_err());
    }
}
