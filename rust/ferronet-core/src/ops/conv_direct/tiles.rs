//! The register tiles of the direct convolution, one generic body each,
//! instantiated per ISA like the GEMM's micro-kernels (and with their
//! register blocking, so a kernel packed for the GEMM fits them too).

use crate::float::Float;
use crate::gemm::{store_tile, GemmFloat};
use crate::ops::vmath::VFloat;
use crate::simd::scalar::Scalar;
use crate::simd::{Isa, Vector};

use super::rows::{ConvRowsFn, ConvWgradRowsFn};

/// `conv_fwd(k, a, rs, offs, b, bias, c, rsc, m, n)`: one tile of a direct
/// convolution, `C[i, ..n] = bias + Σ_s a[i·rs + offs[s]] · B[s, ..n]` for
/// `i < m ≤ MR` output pixels, the `k` taps at offsets `offs` from each
/// pixel's corner `a + i·rs`, and B a packed `k × NR` sliver of the kernel.
#[doc(hidden)]
pub type ConvFwdFn<T> =
    unsafe fn(usize, *const T, isize, *const isize, *const T, *const T, *mut T, isize, usize, usize);

/// `conv_wgrad(rows, cols, a, a_rs, a_cs, offs, b, b_rs, c, rsc, m)`: one tile
/// of a direct weight gradient, `C[i, ..NR] += Σ_{u,v} a[u·a_rs + v·a_cs + offs[i]]
/// · b[(u·cols + v)·b_rs + ..NR]` for `i < m ≤ MR` taps, summed over `rows × cols`
/// output pixels (an image row of `cols` pixels `a_cs` apart, rows `a_rs` apart)
/// whose output gradients `b` are rows of `b_rs` values.
#[doc(hidden)]
pub type ConvWgradFn<T> =
    unsafe fn(usize, usize, *const T, isize, isize, *const isize, *const T, usize, *mut T, isize, usize);

/// One ISA's tiles: `mr` rows (pixels or taps) by `nr` columns (filters), and
/// a narrow forward tile of `mr1` pixels by `nr1` (one vector of) filters for
/// layers with few filters, where the wide tile would compute padding.
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct ConvTiles<T> {
    pub mr: usize,
    pub nr: usize,
    pub fwd: ConvFwdFn<T>,
    pub wgrad: ConvWgradFn<T>,
    pub mr1: usize,
    pub nr1: usize,
    pub fwd1: ConvFwdFn<T>,
    /// The weight-gradient tile of `mr1` taps by one vector of filters.
    pub wgrad1: ConvWgradFn<T>,
    /// Narrow forward tiles fewer pixels wide than `mr1` (`(pixels, tile)`),
    /// for output rows that `mr1`-pixel tiles would cover with a ragged end.
    pub fwd1_short: [(usize, ConvFwdFn<T>); 2],
    /// Wide forward tiles of other pixel counts than `mr` (`(pixels, tile)`).
    pub fwd_short: [(usize, ConvFwdFn<T>); 2],
    /// The input-stationary tile ([`ConvRowsFn`]) for `(pixels, channels)`,
    /// where this ISA has one.
    pub rows1: fn(usize, usize) -> Option<ConvRowsFn<T>>,
    /// The input-stationary weight-gradient tile ([`ConvWgradRowsFn`]), one
    /// vector of filters by [`super::rows::WGRAD_ROWS_CB`] channels, where this ISA has one.
    pub wgrad_rows1: Option<ConvWgradRowsFn<T>>,
}

/// For ISAs without input-stationary tiles.
fn no_rows<T>(_: usize, _: usize) -> Option<ConvRowsFn<T>> {
    None
}

impl<T> ConvTiles<T> {
    /// The narrow forward tile for output rows `ow` pixels wide: the widest
    /// whose tiles cover the row with the fewest pixels computed in vain.
    pub fn narrow_fwd(&self, ow: usize) -> (usize, ConvFwdFn<T>) {
        fewest_wasted(ow, (self.mr1, self.fwd1), &self.fwd1_short)
    }

    /// The wide forward tile for output rows `ow` pixels wide, chosen alike.
    pub fn wide_fwd(&self, ow: usize) -> (usize, ConvFwdFn<T>) {
        fewest_wasted(ow, (self.mr, self.fwd), &self.fwd_short)
    }
}

/// Of a default tile and others, the one whose tiles cover `ow` pixels with
/// the fewest computed in vain (the first of equals).
fn fewest_wasted<F: Copy>(ow: usize, default: (usize, F), others: &[(usize, F)]) -> (usize, F) {
    let waste = |mr: usize| ow.next_multiple_of(mr) - ow;
    let mut best = default;
    for &(mr, f) in others {
        if waste(mr) < waste(best.0) {
            best = (mr, f);
        }
    }
    best
}

/// Element types with direct-convolution tiles (and GEMM kernels for the
/// other convolution paths).
pub trait ConvFloat: GemmFloat + VFloat {
    #[doc(hidden)]
    fn conv_tiles(isa: Isa) -> ConvTiles<Self>;
}

/// The direct-convolution forward tile (see [`ConvFwdFn`]).
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn conv_fwd_tile<T: Float, V: Vector<T>, const MR: usize, const NV: usize>(
    k: usize,
    a: *const T,
    rs: isize,
    offs: *const isize,
    mut b: *const T,
    bias: *const T,
    c: *mut T,
    rsc: isize,
    m: usize,
    n: usize,
) {
    let mut acc = [[V::zero(); NV]; MR];
    if !bias.is_null() {
        for j in 0..NV {
            let bv = V::load(bias.add(j * V::W));
            for i in 0..MR {
                acc[i][j] = bv;
            }
        }
    }
    if m == MR {
        // A full tile: its pixels are `rs` apart, so each tap's values are
        // addressed from one base pointer and multiples of `rs` (MR pointers
        // would not fit in the general registers, and reloading them from
        // the stack doubles the loads per multiply-add). The common pixel
        // strides (16 or 32 channels, unit stride) are constants, so every
        // address is the base plus a displacement.
        match rs {
            16 => fwd_full::<T, V, MR, NV, 16>(k, a, 16, offs, b, &mut acc),
            32 => fwd_full::<T, V, MR, NV, 32>(k, a, 32, offs, b, &mut acc),
            _ => fwd_full::<T, V, MR, NV, 0>(k, a, rs, offs, b, &mut acc),
        }
        return store_tile::<T, V, MR, NV>(&acc, c, rsc, 1, m, n, false);
    }
    // Rows past m re-read the last pixel (always valid); their sums are dropped.
    let rows: [*const T; MR] = std::array::from_fn(|i| a.offset(i.min(m - 1) as isize * rs));
    for s in 0..k {
        let off = *offs.add(s);
        let mut bv = [V::zero(); NV];
        for j in 0..NV {
            bv[j] = V::load(b.add(j * V::W));
        }
        for i in 0..MR {
            let av = V::splat(*rows[i].offset(off));
            for j in 0..NV {
                acc[i][j] = av.mul_add(bv[j], acc[i][j]);
            }
        }
        b = b.add(NV * V::W);
    }
    store_tile::<T, V, MR, NV>(&acc, c, rsc, 1, m, n, false);
}

/// The taps of a full forward tile, its pixels `rs` apart (`RS` when not 0).
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn fwd_full<T: Float, V: Vector<T>, const MR: usize, const NV: usize, const RS: isize>(
    k: usize,
    a: *const T,
    rs: isize,
    offs: *const isize,
    mut b: *const T,
    acc: &mut [[V; NV]; MR],
) {
    let rs = if RS != 0 { RS } else { rs };
    for s in 0..k {
        let p = a.offset(*offs.add(s));
        let mut bv = [V::zero(); NV];
        for j in 0..NV {
            bv[j] = V::load(b.add(j * V::W));
        }
        for i in 0..MR {
            let av = V::splat(*p.offset(i as isize * rs));
            for j in 0..NV {
                acc[i][j] = av.mul_add(bv[j], acc[i][j]);
            }
        }
        b = b.add(NV * V::W);
    }
}

/// The direct weight-gradient tile (see [`ConvWgradFn`]).
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn conv_wgrad_tile<T: Float, V: Vector<T>, const MR: usize, const NV: usize>(
    rows: usize,
    cols: usize,
    a: *const T,
    a_rs: isize,
    a_cs: isize,
    offs: *const isize,
    b: *const T,
    b_rs: usize,
    c: *mut T,
    rsc: isize,
    m: usize,
) {
    // Taps past m repeat the last one; their sums are dropped.
    let taps: [isize; MR] = std::array::from_fn(|i| *offs.add(i.min(m - 1)));
    let mut acc = [[V::zero(); NV]; MR];
    if m == MR && (1..MR).all(|i| taps[i] == taps[0] + i as isize) {
        // The tile's taps are consecutive channels of one kernel position:
        // each pixel's values are one run from one base (MR tap offsets
        // would not fit in the general registers).
        wgrad_sums(&mut acc, rows, cols, a.offset(taps[0]), a_rs, a_cs, b, b_rs, |i| i as isize);
    } else {
        wgrad_sums(&mut acc, rows, cols, a, a_rs, a_cs, b, b_rs, |i| taps[i]);
    }
    store_tile::<T, V, MR, NV>(&acc, c, rsc, 1, m, NV * V::W, true);
}

/// The weight-gradient tile's sums over `rows × cols` pixels, tap `i` read
/// at `tap(i)` from each pixel.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn wgrad_sums<T: Float, V: Vector<T>, const MR: usize, const NV: usize>(
    acc: &mut [[V; NV]; MR],
    rows: usize,
    cols: usize,
    a: *const T,
    a_rs: isize,
    a_cs: isize,
    b: *const T,
    b_rs: usize,
    tap: impl Fn(usize) -> isize,
) {
    for u in 0..rows {
        let mut p = a.offset(u as isize * a_rs);
        let mut q = b.add(u * cols * b_rs);
        for _ in 0..cols {
            let mut bv = [V::zero(); NV];
            for j in 0..NV {
                bv[j] = V::load(q.add(j * V::W));
            }
            for i in 0..MR {
                let av = V::splat(*p.offset(tap(i)));
                for j in 0..NV {
                    acc[i][j] = av.mul_add(bv[j], acc[i][j]);
                }
            }
            p = p.offset(a_cs);
            q = q.add(b_rs);
        }
    }
}

macro_rules! conv_fns {
    ($fwd:ident, $wgrad:ident, $t:ty, $v:ty, $mr:expr, $nv:expr $(, $feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $fwd(
            k: usize, a: *const $t, rs: isize, offs: *const isize, b: *const $t, bias: *const $t,
            c: *mut $t, rsc: isize, m: usize, n: usize,
        ) {
            conv_fwd_tile::<$t, $v, $mr, $nv>(k, a, rs, offs, b, bias, c, rsc, m, n)
        }

        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $wgrad(
            rows: usize, cols: usize, a: *const $t, a_rs: isize, a_cs: isize, offs: *const isize,
            b: *const $t, b_rs: usize, c: *mut $t, rsc: isize, m: usize,
        ) {
            conv_wgrad_tile::<$t, $v, $mr, $nv>(rows, cols, a, a_rs, a_cs, offs, b, b_rs, c, rsc, m)
        }
    };
}

macro_rules! narrow_fns {
    ($fwd:ident, $wgrad:ident, $t:ty, $v:ty, $mr:expr $(, $feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $fwd(
            k: usize, a: *const $t, rs: isize, offs: *const isize, b: *const $t, bias: *const $t,
            c: *mut $t, rsc: isize, m: usize, n: usize,
        ) {
            conv_fwd_tile::<$t, $v, $mr, 1>(k, a, rs, offs, b, bias, c, rsc, m, n)
        }

        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $wgrad(
            rows: usize, cols: usize, a: *const $t, a_rs: isize, a_cs: isize, offs: *const isize,
            b: *const $t, b_rs: usize, c: *mut $t, rsc: isize, m: usize,
        ) {
            conv_wgrad_tile::<$t, $v, $mr, 1>(rows, cols, a, a_rs, a_cs, offs, b, b_rs, c, rsc, m)
        }
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! fwd_fn {
    ($fwd:ident, $t:ty, $v:ty, $mr:expr, $nv:expr, $feat:literal) => {
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $fwd(
            k: usize,
            a: *const $t,
            rs: isize,
            offs: *const isize,
            b: *const $t,
            bias: *const $t,
            c: *mut $t,
            rsc: isize,
            m: usize,
            n: usize,
        ) {
            conv_fwd_tile::<$t, $v, $mr, $nv>(k, a, rs, offs, b, bias, c, rsc, m, n)
        }
    };
}

conv_fns!(scalar_fwd_f32, scalar_wgrad_f32, f32, Scalar<f32>, 4, 8);
conv_fns!(scalar_fwd_f64, scalar_wgrad_f64, f64, Scalar<f64>, 4, 8);

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::simd::avx2::{F32x8, F64x4};
    use crate::simd::avx512::{F32x16, F64x8};
    conv_fns!(avx2_fwd_f32, avx2_wgrad_f32, f32, F32x8, 6, 2, "avx2,fma");
    conv_fns!(avx2_fwd_f64, avx2_wgrad_f64, f64, F64x4, 6, 2, "avx2,fma");
    conv_fns!(avx512_fwd_f32, avx512_wgrad_f32, f32, F32x16, 8, 2, "avx512f");
    conv_fns!(avx512_fwd_f64, avx512_wgrad_f64, f64, F64x8, 8, 2, "avx512f");
    // One vector of filters: 16 pixels (accumulators) per kernel row loaded; 12 with AVX2's 16 registers.
    narrow_fns!(avx2_fwd1_f32, avx2_wgrad1_f32, f32, F32x8, 12, "avx2,fma");
    narrow_fns!(avx2_fwd1_f64, avx2_wgrad1_f64, f64, F64x4, 12, "avx2,fma");
    narrow_fns!(avx512_fwd1_f32, avx512_wgrad1_f32, f32, F32x16, 16, "avx512f");
    narrow_fns!(avx512_fwd1_f64, avx512_wgrad1_f64, f64, F64x8, 16, "avx512f");
    // Shorter pixel tiles, for rows of 14 or 28 pixels (12: 12, 24 or 36).
    fwd_fn!(avx512_fwd1_14_f32, f32, F32x16, 14, 1, "avx512f");
    fwd_fn!(avx512_fwd1_12_f32, f32, F32x16, 12, 1, "avx512f");
    // A wide tile of 7 pixels beside 8, for rows of 7, 14 or 28 pixels.
    fwd_fn!(avx512_fwd_7_f32, f32, F32x16, 7, 2, "avx512f");
    pub(super) fn tiles_f32(isa: Isa) -> Option<ConvTiles<f32>> {
        match isa {
            Isa::Avx512 => Some(ConvTiles {
                mr: 8,
                nr: 32,
                fwd: avx512_fwd_f32,
                wgrad: avx512_wgrad_f32,
                mr1: 16,
                nr1: 16,
                fwd1: avx512_fwd1_f32,
                wgrad1: avx512_wgrad1_f32,
                fwd1_short: [(14, avx512_fwd1_14_f32), (12, avx512_fwd1_12_f32)],
                fwd_short: [(7, avx512_fwd_7_f32); 2],
                rows1: crate::ops::conv_direct::rows::x86::avx512_rows_f32,
                wgrad_rows1: Some(crate::ops::conv_direct::rows::x86::avx512_wgrad_rows_f32),
            }),
            Isa::Avx2 => Some(ConvTiles {
                mr: 6,
                nr: 16,
                fwd: avx2_fwd_f32,
                fwd_short: [(6, avx2_fwd_f32); 2],
                wgrad: avx2_wgrad_f32,
                mr1: 12,
                nr1: 8,
                fwd1: avx2_fwd1_f32,
                fwd1_short: [(12, avx2_fwd1_f32); 2],
                rows1: no_rows,
                wgrad_rows1: None,
                wgrad1: avx2_wgrad1_f32,
            }),
            _ => None,
        }
    }

    pub(super) fn tiles_f64(isa: Isa) -> Option<ConvTiles<f64>> {
        match isa {
            Isa::Avx512 => Some(ConvTiles {
                mr: 8,
                nr: 16,
                fwd: avx512_fwd_f64,
                fwd_short: [(8, avx512_fwd_f64); 2],
                wgrad: avx512_wgrad_f64,
                mr1: 16,
                nr1: 8,
                fwd1: avx512_fwd1_f64,
                fwd1_short: [(16, avx512_fwd1_f64); 2],
                rows1: no_rows,
                wgrad_rows1: None,
                wgrad1: avx512_wgrad1_f64,
            }),
            Isa::Avx2 => Some(ConvTiles {
                mr: 6,
                nr: 8,
                fwd: avx2_fwd_f64,
                fwd_short: [(6, avx2_fwd_f64); 2],
                wgrad: avx2_wgrad_f64,
                mr1: 12,
                nr1: 4,
                fwd1: avx2_fwd1_f64,
                fwd1_short: [(12, avx2_fwd1_f64); 2],
                rows1: no_rows,
                wgrad_rows1: None,
                wgrad1: avx2_wgrad1_f64,
            }),
            _ => None,
        }
    }
}

impl ConvFloat for f32 {
    fn conv_tiles(isa: Isa) -> ConvTiles<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = x86::tiles_f32(isa) {
            return t;
        }
        let _ = isa;
        ConvTiles {
            mr: 4,
            nr: 8,
            fwd: scalar_fwd_f32,
            fwd_short: [(4, scalar_fwd_f32); 2],
            wgrad: scalar_wgrad_f32,
            mr1: 4,
            nr1: 8,
            fwd1: scalar_fwd_f32,
            fwd1_short: [(4, scalar_fwd_f32); 2],
            rows1: no_rows,
            wgrad_rows1: None,
            wgrad1: scalar_wgrad_f32,
        }
    }
}

impl ConvFloat for f64 {
    fn conv_tiles(isa: Isa) -> ConvTiles<f64> {
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = x86::tiles_f64(isa) {
            return t;
        }
        let _ = isa;
        ConvTiles {
            mr: 4,
            nr: 8,
            fwd: scalar_fwd_f64,
            fwd_short: [(4, scalar_fwd_f64); 2],
            wgrad: scalar_wgrad_f64,
            mr1: 4,
            nr1: 8,
            fwd1: scalar_fwd_f64,
            fwd1_short: [(4, scalar_fwd_f64); 2],
            rows1: no_rows,
            wgrad_rows1: None,
            wgrad1: scalar_wgrad_f64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_match_the_gemm_blocking_on_every_isa() {
        for isa in crate::simd::supported() {
            let (t, g) = (f32::conv_tiles(isa), f32::spec(isa));
            assert_eq!((t.mr, t.nr), (g.mr, g.nr), "{isa:?} f32");
            let (t, g) = (f64::conv_tiles(isa), f64::spec(isa));
            assert_eq!((t.mr, t.nr), (g.mr, g.nr), "{isa:?} f64");
        }
    }
}
