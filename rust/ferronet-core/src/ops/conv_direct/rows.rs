//! Input-stationary tiles of the direct convolution, for a unit-stride,
//! undilated kernel 3 wide: each input value is broadcast once and used by
//! every output pixel (forward) or output gradient (weight gradient) it
//! meets, about three multiply-adds per load where the tap-stationary tiles
//! of [`super::tiles`] do one (their tiles have one vector of filters, so
//! each broadcast feeds a single multiply-add).

use crate::float::Float;
use crate::gemm::store_tile;
use crate::ops::conv2d::Conv2d;
use crate::simd::Vector;

/// Whether the input-stationary tiles take this geometry's kernel columns:
/// 3 wide, unit stride, no dilation.
pub(super) fn fits(g: &Conv2d) -> bool {
    (g.w.size, g.w.stride, g.w.dilation) == (3, 1, 1)
}

/// `conv_rows(kh, a, row_offs, b, bias, c, rsc, n)`: a full narrow forward tile of
/// `MR` consecutive output pixels of a unit-stride, undilated convolution with
/// a kernel 3 wide on `CH` channels, input-stationary: each input value is
/// broadcast once and multiplied into the (up to) three output pixels it
/// reaches, so a load feeds about three multiply-adds instead of one. `a` is
/// the first pixel's window corner, `row_offs` the offsets of the `kh` kernel
/// rows from it, B the packed `(kh, 3, CH) × NR` kernel; the tile writes
/// `MR` rows of C, `rsc` apart.
#[doc(hidden)]
pub type ConvRowsFn<T> = unsafe fn(usize, *const T, *const isize, *const T, *const T, *mut T, isize, usize);

/// `wgrad_rows(rows, cols, a, a_rs, a_cs, b, b_rs, c, rsc)`: the weight
/// gradient of one kernel row of a unit-stride, undilated, 3-wide kernel, for
/// `CB` consecutive channels and one vector of filters, input-stationary:
/// `C[(t·CH + i)·rsc + ..NR] += Σ_{u,p} a[u·a_rs + (p + t)·a_cs + i] · b[(u·cols + p)·b_rs + ..NR]`
/// for kernel columns `t < 3` and channels `i < CB`, summed over `rows × cols`
/// output pixels in order (`cols ≥ 2`). Each input value is broadcast once and
/// multiplied by the output gradients of the (up to three) pixels it reaches.
#[doc(hidden)]
pub type ConvWgradRowsFn<T> = unsafe fn(usize, usize, *const T, isize, usize, *const T, usize, *mut T, usize, usize);

/// Channels per input-stationary weight-gradient tile.
pub const WGRAD_ROWS_CB: usize = 8;

/// The input-stationary forward tile (see [`ConvRowsFn`]).
#[inline(always)]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
unsafe fn conv_rows_tile<T: Float, V: Vector<T>, const MR: usize, const CH: usize>(
    kh: usize,
    a: *const T,
    row_offs: *const isize,
    b: *const T,
    bias: *const T,
    c: *mut T,
    rsc: isize,
    n: usize,
) {
    const KW: usize = 3;
    let mut acc = [[if bias.is_null() { V::zero() } else { V::load(bias) }; 1]; MR];
    for r in 0..kh {
        let row = a.offset(*row_offs.add(r));
        let wr = b.add(r * KW * CH * V::W);
        for ch in 0..CH {
            let w: [V; KW] = std::array::from_fn(|t| V::load(wr.add((t * CH + ch) * V::W)));
            let x = row.add(ch);
            // Input pixel q is tap t of output pixel q - t. Written out for
            // every q so each accumulator index is a constant (a loop over q
            // would leave the accumulators in memory).
            macro_rules! pixels {
                ($($q:literal)*) => {$(
                    if $q < MR + KW - 1 {
                        let xv = V::splat(*x.add($q * CH));
                        for t in 0..KW {
                            if $q >= t && $q - t < MR {
                                acc[$q - t][0] = xv.mul_add(w[t], acc[$q - t][0]);
                            }
                        }
                    }
                )*};
            }
            pixels!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17);
        }
    }
    store_tile::<T, V, MR, 1>(&acc, c, rsc, 1, MR, n, false);
}

/// The input-stationary weight-gradient tile (see [`ConvWgradRowsFn`]); `ch`
/// is the distance between kernel columns in C, in rows.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn conv_wgrad_rows_tile<T: Float, V: Vector<T>, const CB: usize>(
    rows: usize,
    cols: usize,
    a: *const T,
    a_rs: isize,
    a_cs: usize,
    b: *const T,
    b_rs: usize,
    c: *mut T,
    rsc: usize,
    ch: usize,
) {
    const KW: usize = 3;
    // Input pixel q meets the output gradients d[t] = dy[q - t] of the pixels
    // it is tap t of; only real pixels take part (at a row's ends, fewer
    // than three), so no input value is ever multiplied by a stand-in zero.
    #[inline(always)]
    unsafe fn step<T: Float, V: Vector<T>, const CB: usize, const LO: usize, const HI: usize>(
        x: *const T,
        d: [V; 3],
        acc: &mut [[V; CB]; 3],
    ) {
        for i in 0..CB {
            let xv = V::splat(*x.add(i));
            for t in LO..HI {
                acc[t][i] = xv.mul_add(d[t], acc[t][i]);
            }
        }
    }
    let mut acc = [[V::zero(); CB]; KW];
    let z = V::zero();
    for u in 0..rows {
        let x = a.offset(u as isize * a_rs);
        let dy = b.add(u * cols * b_rs);
        let at = |q: usize| V::load(dy.add(q * b_rs));
        let (mut d1, mut d2) = (at(0), z);
        step::<T, V, CB, 0, 1>(x, [d1, z, z], &mut acc);
        for q in 1..cols {
            let d0 = at(q);
            if q == 1 {
                step::<T, V, CB, 0, 2>(x.add(a_cs), [d0, d1, z], &mut acc);
            } else {
                step::<T, V, CB, 0, 3>(x.add(q * a_cs), [d0, d1, d2], &mut acc);
            }
            (d2, d1) = (d1, d0);
        }
        step::<T, V, CB, 1, 3>(x.add(cols * a_cs), [z, d1, d2], &mut acc);
        step::<T, V, CB, 2, 3>(x.add((cols + 1) * a_cs), [z, z, d1], &mut acc);
    }
    for t in 0..KW {
        for i in 0..CB {
            let p = c.add((t * ch + i) * rsc);
            acc[t][i].add(V::load(p)).store(p);
        }
    }
}

#[cfg(target_arch = "x86_64")]
macro_rules! rows_fn {
    ($name:ident, $t:ty, $v:ty, $mr:expr, $ch:expr, $feat:literal) => {
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            kh: usize,
            a: *const $t,
            row_offs: *const isize,
            b: *const $t,
            bias: *const $t,
            c: *mut $t,
            rsc: isize,
            n: usize,
        ) {
            conv_rows_tile::<$t, $v, $mr, $ch>(kh, a, row_offs, b, bias, c, rsc, n)
        }
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! wgrad_rows_fn {
    ($vis:vis $name:ident, $t:ty, $v:ty, $feat:literal) => {
        #[target_feature(enable = $feat)]
        #[allow(clippy::too_many_arguments)]
        $vis unsafe fn $name(
            rows: usize,
            cols: usize,
            a: *const $t,
            a_rs: isize,
            a_cs: usize,
            b: *const $t,
            b_rs: usize,
            c: *mut $t,
            rsc: usize,
            ch: usize,
        ) {
            conv_wgrad_rows_tile::<$t, $v, WGRAD_ROWS_CB>(rows, cols, a, a_rs, a_cs, b, b_rs, c, rsc, ch)
        }
    };
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use crate::simd::avx512::F32x16;

    wgrad_rows_fn!(pub(in crate::ops::conv_direct) avx512_wgrad_rows_f32, f32, F32x16, "avx512f");
    rows_fn!(avx512_rows_16_16_f32, f32, F32x16, 16, 16, "avx512f");
    rows_fn!(avx512_rows_14_16_f32, f32, F32x16, 14, 16, "avx512f");
    rows_fn!(avx512_rows_12_16_f32, f32, F32x16, 12, 16, "avx512f");
    rows_fn!(avx512_rows_16_32_f32, f32, F32x16, 16, 32, "avx512f");
    rows_fn!(avx512_rows_14_32_f32, f32, F32x16, 14, 32, "avx512f");
    rows_fn!(avx512_rows_12_32_f32, f32, F32x16, 12, 32, "avx512f");

    pub(in crate::ops::conv_direct) fn avx512_rows_f32(mr: usize, ch: usize) -> Option<ConvRowsFn<f32>> {
        Some(match (mr, ch) {
            (16, 16) => avx512_rows_16_16_f32,
            (14, 16) => avx512_rows_14_16_f32,
            (12, 16) => avx512_rows_12_16_f32,
            (16, 32) => avx512_rows_16_32_f32,
            (14, 32) => avx512_rows_14_32_f32,
            (12, 32) => avx512_rows_12_32_f32,
            _ => return None,
        })
    }
}
