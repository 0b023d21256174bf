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
//! Both passes work on blocks of query rows held in the lanes of a vector
//! (see [`lanes`]): a key's scores for the whole block are one vector, so
//! the softmax runs down the keys with no cross-lane reduction. Keys are
//! visited in tiles of [`KT`]; the forward keeps a running maximum and sum
//! per row (flash-attention style, rescaling only when a later tile raises
//! the maximum) and returns each row's log-sum-exp; the backward recomputes
//! the scores from it tile by tile, so nothing of size `queries × keys` is
//! stored.
//!
//! The products are plain loops over fixed-size arrays, compiled for the
//! active SIMD path by [`crate::ops::sweep`]. Work is split into (batch,
//! head, query block) units in the forward (blocks as long as keep every
//! thread busy) and (batch, head) units in the backward, each done by one
//! thread in one fixed order, so results are bitwise identical for any
//! thread count.

/// Calls `$go!(M, V, W)` with the multiply-add rule `M`, the block `V` of registers of `$t`
/// on `$isa` and its lanes `W`: the one place both passes choose their registers (two
/// AVX-512 registers: 32 `f32` or 16 `f64` lanes; one register on AVX2, where two would
/// spill its 16 registers; the portable 8 elsewhere).
macro_rules! on_registers {
    ($isa:expr, $t:ty, $go:ident) => {{
        use crate::ops::vmath::{Fused, Plain};
        use crate::simd::scalar::Lanes8;
        #[cfg(target_arch = "x86_64")]
        use crate::simd::{Isa, Registers, Vector};
        match $isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if <<$t as Registers>::Avx512 as Vector<$t>>::W == 16 => {
                $go!(Fused, super::lanes::Regs<<$t as Registers>::Avx512, 2>, 32)
            }
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => $go!(Fused, super::lanes::Regs<<$t as Registers>::Avx512, 2>, 16),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if <<$t as Registers>::Avx2 as Vector<$t>>::W == 8 => $go!(Fused, super::lanes::Regs<<$t as Registers>::Avx2, 1>, 8),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => $go!(Fused, super::lanes::Regs<<$t as Registers>::Avx2, 1>, 4),
            isa if crate::ops::vmath::has_fma(isa) => $go!(Fused, super::lanes::Regs<Lanes8<$t>, 1>, 8),
            _ => $go!(Plain, super::lanes::Regs<Lanes8<$t>, 1>, 8),
        }
    }};
}

mod backward;
mod forward;
mod lanes;
#[cfg(test)]
mod tests;

use crate::error::{shape_err, value_err, Result};
use crate::ops::vmath::VFloat;
use crate::shape::fmt_shape;
use crate::simd;

pub use backward::attention_backward;
pub use forward::attention_forward;

/// Keys per tile: each block of query rows keeps one tile of scores (and in
/// the backward pass one of their gradients), `KT × L` values, in L1. Rows
/// with more keys run the online softmax tile by tile.
pub(crate) const KT: usize = 128;

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
}

impl<T: VFloat> Logits<'_, T> {
    /// Turns the raw products of a tile into logits for the `w` query rows `r0 + l`
    /// (`st[j·w + l]` is key `t0 + j` of row `r0 + l`; lanes from `nl` on are padding):
    /// adds the bias, sets keys hidden by the mask or, under `causal`, past the row to -inf.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn apply_lanes(&self, st: &mut [T], w: usize, b: usize, h: usize, r0: usize, nl: usize, t0: usize, causal: bool) {
        if let Some(bias) = &self.bias {
            for l in 0..nl {
                let r = bias.row(b, h, r0 + l);
                for (j, s) in st.chunks_exact_mut(w).enumerate() {
                    s[l] += bias.data[r + (t0 + j) * bias.st[3]];
                }
            }
        }
        if let Some(mask) = &self.mask {
            for l in 0..nl {
                let r = mask.row(b, h, r0 + l);
                for (j, s) in st.chunks_exact_mut(w).enumerate() {
                    if !mask.data[r + (t0 + j) * mask.st[3]] {
                        s[l] = T::NEG_INFINITY;
                    }
                }
            }
        }
        if causal {
            // Key t0 + j is past row r0 + l when l < t0 + j - r0.
            for (j, s) in st.chunks_exact_mut(w).enumerate().skip((r0 + 1).saturating_sub(t0)) {
                let past = t0 + j - r0;
                for (l, x) in s.iter_mut().enumerate() {
                    *x = if l < past { T::NEG_INFINITY } else { *x };
                }
            }
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
    // A block's rows are gathered through i32 offsets, up to 15 rows of heads × dim apart.
    if d.heads.saturating_mul(d.dk.max(d.dv)).saturating_mul(16) > i32::MAX as usize {
        return shape_err(
            op,
            format!(
                "heads × key_dim and heads × value_dim must be below 2^27. Received: heads={}, key_dim={}, value_dim={}",
                d.heads, d.dk, d.dv
            ),
        );
    }
    if !a.scale.to_f64().is_finite() {
        return value_err(op, format!("scale must be finite. Received: scale={:?}", a.scale));
    }
    let mask = a.mask.as_ref().map(|m| Strides::new(op, "mask", m, d)).transpose()?;
    let bias = a.bias.as_ref().map(|b| Strides::new(op, "bias", b, d)).transpose()?;
    Ok(Logits { mask, bias })
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

/// The path kernels run on (the active one).
fn isa() -> simd::Isa {
    simd::active()
}
