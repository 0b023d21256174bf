//! Fused scaled-dot-product attention, forward and backward, for `f32` and
//! `f64`:
//!
//! ```text
//! out[b, i, h, :] = Σ_j softmax_j(scale · q[b, i, h, :]·k[b, j, h, :] + bias[b, h, i, j]) · v[b, j, h, :]
//! ```
//!
//! Arrays keep the layout of a multi-head projection, `(batch, tokens, heads,
//! dim)`, so no transposed copies are made around the kernel. Keys `j` where
//! the boolean `mask[b, h, i, j]` is false, or `j > i` under `causal`, take
//! no part in the softmax; a query row with no key left attends uniformly to
//! all keys (what an additive -1e9 mask gives in `float32`).
//!
//! The forward keeps a group of query rows' scores whole up to [`ROW_KEYS`]
//! keys (one maximum, exponential pass and sum per row); beyond that the
//! softmax is computed online (flash-attention style): keys are visited in
//! tiles of [`KT`], a running maximum and sum rescale the accumulated output,
//! and only one tile of scores per thread exists. The forward
//! returns each row's log-sum-exp; the backward recomputes the scores from it
//! tile by tile, so nothing of size `queries × keys` is stored.
//!
//! Inner products are written as plain loops over fixed-size tiles, compiled
//! for the active SIMD path by [`crate::ops::sweep`]. Work is split into
//! (batch, head, query block) units in the forward (blocks as long as keep every thread busy) and (batch, head) units in
//! the backward, each done by one thread in one fixed order, so results are
//! bitwise identical for any thread count.

mod backward;
mod forward;
#[cfg(test)]
mod tests;

use crate::error::{shape_err, value_err, Result};
use crate::ops::sweep::{arr, arr_mut, Lanes};
use crate::ops::vmath::{self, MulAdd, VFloat};
use crate::shape::fmt_shape;
use crate::simd;

pub use backward::attention_backward;
pub use forward::attention_forward;

/// Keys per tile: one tile of scores lives in registers.
pub(crate) const KT: usize = 64;

/// Most keys whose scores a group of query rows keeps whole in the forward
/// pass (`R × ROW_KEYS` values, 16 KiB in `f32`). Up to this many keys each
/// row takes one maximum, one pass of exponentials and one sum, with no
/// rescaling, over the whole row (loops long enough to keep their constants
/// in registers); longer rows run the online softmax tile by tile. (The
/// backward pass, which needs no rescaling, was measured slower this way:
/// 6.9-7.3 ms against 6.3-6.7 for the 4-head layer's kernel on one thread.)
const ROW_KEYS: usize = 1024;

/// Sizes of one attention call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub batch: usize,
    pub heads: usize,
    /// Query tokens.
    pub tq: usize,
    /// Key (and value) tokens.
    pub tk: usize,
    /// Query and key width per head.
    pub dk: usize,
    /// Value width per head (the output's width).
    pub dv: usize,
}

impl Dims {
    fn q_len(&self) -> usize {
        self.batch * self.tq * self.heads * self.dk
    }
    fn k_len(&self) -> usize {
        self.batch * self.tk * self.heads * self.dk
    }
    fn v_len(&self) -> usize {
        self.batch * self.tk * self.heads * self.dv
    }
    fn out_len(&self) -> usize {
        self.batch * self.tq * self.heads * self.dv
    }
    fn lse_len(&self) -> usize {
        self.batch * self.heads * self.tq
    }
    /// Keys padded to whole tiles.
    fn tk_padded(&self) -> usize {
        self.tk.div_ceil(KT) * KT
    }
}

/// An array broadcast to `(batch, heads, tq, tk)`: its own shape has each of
/// those four sizes or 1, and it is C-contiguous.
#[derive(Clone, Copy, Debug)]
pub struct Broadcast<'a, E> {
    pub data: &'a [E],
    pub shape: [usize; 4],
}

/// Element strides of a [`Broadcast`] (0 along its size-1 axes).
#[derive(Clone, Copy)]
struct Strides<'a, E> {
    data: &'a [E],
    st: [usize; 4],
}

impl<'a, E: Copy> Strides<'a, E> {
    fn new(op: &'static str, name: &str, b: &Broadcast<'a, E>, d: &Dims) -> Result<Self> {
        let full = [d.batch, d.heads, d.tq, d.tk];
        if b.shape.iter().zip(full).any(|(&s, f)| s != 1 && s != f) || b.data.len() != b.shape.iter().product() {
            return shape_err(
                op,
                format!(
                    "{name} must broadcast to (batch, heads, queries, keys) = {}. Received: {name}.shape={} with {} elements",
                    fmt_shape(&full),
                    fmt_shape(&b.shape),
                    b.data.len()
                ),
            );
        }
        let mut st = [0; 4];
        let mut step = 1;
        for a in (0..4).rev() {
            st[a] = if b.shape[a] == 1 { 0 } else { step };
            step *= b.shape[a];
        }
        Ok(Strides { data: b.data, st })
    }

    /// Offset of row `(b, h, i)`.
    #[inline(always)]
    fn row(&self, b: usize, h: usize, i: usize) -> usize {
        b * self.st[0] + h * self.st[1] + i * self.st[2]
    }
}

/// The operands of one attention call.
#[derive(Clone, Copy)]
pub struct Attention<'a, T> {
    /// `(batch, tq, heads, dk)`.
    pub q: &'a [T],
    /// `(batch, tk, heads, dk)`.
    pub k: &'a [T],
    /// `(batch, tk, heads, dv)`.
    pub v: &'a [T],
    pub dims: Dims,
    /// Multiplies every `q·k` (usually `1/sqrt(dk)`).
    pub scale: T,
    /// Key `j` is hidden from query `i` when `j > i` (top-left aligned).
    pub causal: bool,
    /// Keys `j` with `mask[b, h, i, j] == false` are hidden from query `i`.
    pub mask: Option<Broadcast<'a, bool>>,
    /// Added to the scaled scores.
    pub bias: Option<Broadcast<'a, T>>,
}

/// What every tile of one query row needs to turn raw products into logits.
#[derive(Clone, Copy)]
struct Logits<'a, T> {
    mask: Option<Strides<'a, bool>>,
    bias: Option<Strides<'a, T>>,
    tk: usize,
}

impl<T: VFloat> Logits<'_, T> {
    /// Masks out keys beyond `kend` or hidden by the mask, adds the bias:
    /// `s[j]` is key `j0 + j` of row `(b, h, i)`.
    #[inline(always)]
    fn apply(&self, s: &mut [T; KT], b: usize, h: usize, i: usize, j0: usize, kend: usize) {
        if let Some(bias) = &self.bias {
            let (r, sj) = (bias.row(b, h, i), bias.st[3]);
            for (j, x) in s.iter_mut().enumerate().take(kend.min(self.tk).saturating_sub(j0)) {
                *x += bias.data[r + (j0 + j) * sj];
            }
        }
        if let Some(mask) = &self.mask {
            let (r, sj) = (mask.row(b, h, i), mask.st[3]);
            for (j, x) in s.iter_mut().enumerate().take(kend.min(self.tk).saturating_sub(j0)) {
                if !mask.data[r + (j0 + j) * sj] {
                    *x = T::NEG_INFINITY;
                }
            }
        }
        if kend < j0 + KT {
            s[kend.saturating_sub(j0)..].iter_mut().for_each(|x| *x = T::NEG_INFINITY);
        }
    }
}

/// Checks the operand sizes and builds the shared logit rule.
fn check<'a, T: VFloat>(
    op: &'static str,
    a: &Attention<'a, T>,
    extra: &[(&str, usize, usize)],
) -> Result<Logits<'a, T>> {
    let d = &a.dims;
    let mut lens = vec![("q", a.q.len(), d.q_len()), ("k", a.k.len(), d.k_len()), ("v", a.v.len(), d.v_len())];
    lens.extend_from_slice(extra);
    for (name, got, want) in lens {
        if got != want {
            return shape_err(
                op,
                format!(
                    "{name} must have {want} elements for batch={}, heads={}, queries={}, keys={}, key_dim={}, value_dim={}. Received: {name} has {got}",
                    d.batch, d.heads, d.tq, d.tk, d.dk, d.dv
                ),
            );
        }
    }
    if !a.scale.to_f64().is_finite() {
        return value_err(op, format!("scale must be finite. Received: scale={:?}", a.scale));
    }
    let mask = a.mask.as_ref().map(|m| Strides::new(op, "mask", m, d)).transpose()?;
    let bias = a.bias.as_ref().map(|b| Strides::new(op, "bias", b, d)).transpose()?;
    Ok(Logits { mask, bias, tk: d.tk })
}

/// The last key (exclusive) query `i` may see.
#[inline(always)]
fn key_end(causal: bool, i: usize, tk: usize) -> usize {
    if causal {
        (i + 1).min(tk)
    } else {
        tk
    }
}

/// Copies head `h` of batch `b` of a `(batch, t, heads, d)` array as a
/// `(d, tp)` matrix (token columns, zero past `t`).
fn gather_t<T: VFloat>(
    x: &[T],
    b: usize,
    h: usize,
    t: usize,
    heads: usize,
    d: usize,
    tp: usize,
    upto: usize,
) -> Vec<T> {
    let mut out = vec![T::ZERO; d * tp];
    for j in 0..upto.min(t) {
        let row = &x[((b * t + j) * heads + h) * d..][..d];
        for (c, &val) in row.iter().enumerate() {
            out[c * tp + j] = val;
        }
    }
    out
}

/// Copies head `h` of batch `b` as `(tp, d)` rows (zero past `t`).
fn gather<T: VFloat>(x: &[T], b: usize, h: usize, t: usize, heads: usize, d: usize, tp: usize, upto: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; tp * d];
    for j in 0..upto.min(t) {
        out[j * d..][..d].copy_from_slice(&x[((b * t + j) * heads + h) * d..][..d]);
    }
    out
}

/// `s[r][j] = Σ_c xs[r·n + c] · mt[c·ld + j0 + j]` for `R` vectors (`xs`, `n` long each):
/// one tile of their products with the columns of a transposed matrix. Each column is
/// loaded once for the `R` rows, which are independent chains of multiply-adds.
#[inline(always)]
fn tile_dot_rows<M: MulAdd, T: VFloat, const R: usize>(
    xs: &[T],
    n: usize,
    mt: &[T],
    ld: usize,
    j0: usize,
    s: &mut [[T; KT]; R],
) {
    // NOTE: the sums live in a local array, written to `s` once: accumulating in `s` itself made
    // every step store all R·KT sums (the bounds checks' panic paths must see them), which
    // bounded the loop by stores instead of multiply-adds.
    let mut acc = [[T::ZERO; KT]; R];
    let rows: [&[T]; R] = std::array::from_fn(|r| &xs[r * n..(r + 1) * n]);
    for c in 0..n {
        let col: &[T; KT] = arr(mt, c * ld + j0);
        for r in 0..R {
            let xc = rows[r][c];
            for j in 0..KT {
                acc[r][j] = M::ma(xc, col[j], acc[r][j]);
            }
        }
    }
    *s = acc;
}

/// `acc[u·d + c] += Σ_j w[u][j] · rows[(j0 + j)·d + c]` for `R` weight tiles and `R`
/// accumulators (`acc` holds them one after the other): each row of the tile is loaded once
/// for the `R` accumulators, which are independent chains of multiply-adds.
struct RowsTimesR<'a, T, M, const R: usize> {
    acc: &'a mut [T],
    w: &'a [[T; KT]; R],
    rows: &'a [T],
    j0: usize,
    ma: std::marker::PhantomData<M>,
}

impl<T: VFloat, M: MulAdd, const R: usize> Lanes for RowsTimesR<'_, T, M, R> {
    fn len(&self) -> usize {
        self.acc.len() / R
    }
    #[inline(always)]
    fn group<const G: usize>(&mut self, i: usize) {
        let d = self.acc.len() / R;
        let mut a = [[T::ZERO; G]; R];
        for j in 0..KT {
            let r: &[T; G] = arr(self.rows, (self.j0 + j) * d + i);
            for (u, au) in a.iter_mut().enumerate() {
                let wj = self.w[u][j];
                for g in 0..G {
                    au[g] = M::ma(wj, r[g], au[g]);
                }
            }
        }
        for (u, au) in a.iter().enumerate() {
            let acc: &mut [T; G] = arr_mut(self.acc, u * d + i);
            for g in 0..G {
                acc[g] += au[g];
            }
        }
    }
}

#[inline(always)]
fn rows_times_rows<M: MulAdd, T: VFloat, const R: usize>(acc: &mut [T], w: &[[T; KT]; R], rows: &[T], j0: usize) {
    crate::ops::sweep::lanes(RowsTimesR { acc, w, rows, j0, ma: std::marker::PhantomData::<M> });
}

/// `mt[c·ld + j0 + j] += Σ_r xs[r·n + c] · w[r][j]`: `R` rank-1 updates of one tile of a
/// transposed matrix, each column read and written once.
#[inline(always)]
fn tile_outer_rows<M: MulAdd, T: VFloat, const R: usize>(
    xs: &[T],
    n: usize,
    w: &[[T; KT]; R],
    mt: &mut [T],
    ld: usize,
    j0: usize,
) {
    for c in 0..n {
        let col: &mut [T; KT] = arr_mut(mt, c * ld + j0);
        let mut v = *col;
        for r in 0..R {
            let xc = xs[r * n + c];
            for j in 0..KT {
                v[j] = M::ma(xc, w[r][j], v[j]);
            }
        }
        *col = v;
    }
}

/// `exp(s[j] - m)` for every key of a tile (0 for masked keys).
#[inline(always)]
fn tile_exp<M: MulAdd, T: VFloat>(s: &[T; KT], m: T, p: &mut [T; KT]) {
    for j in 0..KT {
        p[j] = vmath::exp::<M, T>(s[j] - m);
    }
}

/// Σ of a tile in one fixed order: 16 interleaved partial sums, then halved pairwise.
#[inline(always)]
fn tile_sum<T: VFloat>(p: &[T; KT]) -> T {
    let mut acc = [T::ZERO; 16];
    for c in p.chunks_exact(16) {
        for g in 0..16 {
            acc[g] += c[g];
        }
    }
    halve(&mut acc, |a, b| a + b)
}

/// `acc[0]` after folding the upper half of `acc` onto the lower one until one lane is left:
/// a tree of depth 4 rather than a chain of 15 dependent operations.
#[inline(always)]
fn halve<T: VFloat>(acc: &mut [T; 16], f: impl Fn(T, T) -> T) -> T {
    for w in [8, 4, 2, 1] {
        for g in 0..w {
            acc[g] = f(acc[g], acc[g + w]);
        }
    }
    acc[0]
}

/// max of a tile (NaN ignored), 16 lanes at a time so that it vectorises.
#[inline(always)]
fn tile_max<T: VFloat>(s: &[T; KT]) -> T {
    let mut acc = [T::NEG_INFINITY; 16];
    for c in s.chunks_exact(16) {
        for g in 0..16 {
            acc[g] = if c[g] > acc[g] { c[g] } else { acc[g] };
        }
    }
    halve(&mut acc, |a, b| if b > a { b } else { a })
}

/// The path kernels run on (the active one).
fn isa() -> simd::Isa {
    simd::active()
}
