//! Register tiles of the depthwise convolution: one vector of channels by
//! several pixels (forward and input gradient) or several taps (kernel
//! gradient), instantiated per ISA like the direct convolution's tiles.
//!
//! A depthwise product has no reduction over channels, so the per-pixel loop
//! of the generic path does one multiply-add per loaded pair and pays its
//! loop and bounds overhead on every 16 lanes. Here each loaded kernel vector
//! serves `P` pixels, and each accumulator stays in a register over all taps.

use crate::float::Float;
use crate::simd::{Isa, Vector};

/// `gather(taps, a, ps, a_offs, k, k_offs, init, y, ys)`: for `P` pixels,
/// `y[p·ys ..+W] = init[..W] + Σ_t a[p·ps + a_offs[t] ..+W] · k[k_offs[t] ..+W]`
/// over the `taps` taps (`init` null: zero). The forward pass (a = input,
/// init = bias) and, with the kernel turned, the unit-stride input gradient
/// (a = output gradient). It writes without reading `y`, so tiles may overlap.
#[doc(hidden)]
pub type GatherFn<T> = unsafe fn(usize, *const T, isize, *const isize, *const T, *const isize, *const T, *mut T, usize);

/// `kgrad(cols, a, a_cs, a_offs, dy, dys, dk, k_offs, m)`: for taps `t < m ≤ MR`,
/// `dk[k_offs[t] ..+W] += Σ_{p < cols} a[p·a_cs + a_offs[t] ..+W] · dy[p·dys ..+W]`.
#[doc(hidden)]
pub type KgradFn<T> = unsafe fn(usize, *const T, isize, *const isize, *const T, usize, *mut T, *const isize, usize);

/// One ISA's tiles: `w` channels (one vector) by `p` pixels (`gather`), 4
/// (`gather4`) or 1 (`gather1`, for images narrower than 4 pixels), or by
/// [`KGRAD_TAPS`] taps (`kgrad`) or [`KGRAD_TAPS_SMALL`] (`kgrad_small`, for
/// rows of few taps, where the larger tile would mostly repeat one).
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct DwTiles<T> {
    pub w: usize,
    pub p: usize,
    pub gather: GatherFn<T>,
    pub gather4: GatherFn<T>,
    pub gather1: GatherFn<T>,
    pub kgrad: KgradFn<T>,
    pub kgrad_small: KgradFn<T>,
}

/// Taps per kernel-gradient tile: a 3×3 window in one pass.
pub const KGRAD_TAPS: usize = 9;
/// Taps per small kernel-gradient tile (a 1-D window of 3).
pub const KGRAD_TAPS_SMALL: usize = 3;

/// Element types with depthwise tiles. Paths without them (the portable one)
/// use the generic per-pixel loops, which LLVM vectorises for the target.
pub trait DwFloat: Float {
    #[doc(hidden)]
    fn dw_tiles(isa: Isa) -> Option<DwTiles<Self>>;
}

#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn gather_tile<T: Float, V: Vector<T>, const P: usize>(
    taps: usize,
    a: *const T,
    ps: isize,
    a_offs: *const isize,
    k: *const T,
    k_offs: *const isize,
    init: *const T,
    y: *mut T,
    ys: usize,
) {
    // Fixed-size loops only, so the accumulators stay in registers.
    let start = if init.is_null() { V::zero() } else { V::load(init) };
    let mut acc = [start; P];
    for t in 0..taps {
        let kv = V::load(k.offset(*k_offs.add(t)));
        let mut q = a.offset(*a_offs.add(t));
        for p in 0..P {
            acc[p] = V::load(q).mul_add(kv, acc[p]);
            q = q.offset(ps);
        }
    }
    for p in 0..P {
        acc[p].store(y.add(p * ys));
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn kgrad_tile<T: Float, V: Vector<T>, const MR: usize>(
    cols: usize,
    a: *const T,
    a_cs: isize,
    a_offs: *const isize,
    dy: *const T,
    dys: usize,
    dk: *mut T,
    k_offs: *const isize,
    m: usize,
) {
    // Taps past m repeat the last one; their sums are dropped.
    let offs: [isize; MR] = std::array::from_fn(|t| *a_offs.add(t.min(m - 1)));
    let mut acc = [V::zero(); MR];
    let (mut p, mut q) = (a, dy);
    for _ in 0..cols {
        let dv = V::load(q);
        for t in 0..MR {
            acc[t] = V::load(p.offset(offs[t])).mul_add(dv, acc[t]);
        }
        p = p.offset(a_cs);
        q = q.add(dys);
    }
    for t in 0..MR {
        if t < m {
            let d = dk.offset(*k_offs.add(t));
            V::load(d).add(acc[t]).store(d);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::simd::avx2::{F32x8, F64x4};
    use crate::simd::avx512::{F32x16, F64x8};

    macro_rules! dw_gather {
        ($name:ident, $t:ty, $v:ty, $p:expr, $feat:literal) => {
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $name(
                taps: usize,
                a: *const $t,
                ps: isize,
                a_offs: *const isize,
                k: *const $t,
                k_offs: *const isize,
                init: *const $t,
                y: *mut $t,
                ys: usize,
            ) {
                gather_tile::<$t, $v, $p>(taps, a, ps, a_offs, k, k_offs, init, y, ys)
            }
        };
    }

    macro_rules! dw_fns {
        ($gather:ident, $gather4:ident, $gather1:ident, $kgrad:ident, $kgrad_small:ident, $t:ty, $v:ty, $p:expr,
         $feat:literal) => {
            dw_gather!($gather, $t, $v, $p, $feat);
            dw_gather!($gather4, $t, $v, 4, $feat);
            dw_gather!($gather1, $t, $v, 1, $feat);

            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $kgrad(
                cols: usize,
                a: *const $t,
                a_cs: isize,
                a_offs: *const isize,
                dy: *const $t,
                dys: usize,
                dk: *mut $t,
                k_offs: *const isize,
                m: usize,
            ) {
                kgrad_tile::<$t, $v, KGRAD_TAPS>(cols, a, a_cs, a_offs, dy, dys, dk, k_offs, m)
            }

            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn $kgrad_small(
                cols: usize,
                a: *const $t,
                a_cs: isize,
                a_offs: *const isize,
                dy: *const $t,
                dys: usize,
                dk: *mut $t,
                k_offs: *const isize,
                m: usize,
            ) {
                kgrad_tile::<$t, $v, KGRAD_TAPS_SMALL>(cols, a, a_cs, a_offs, dy, dys, dk, k_offs, m)
            }
        };
    }

    // 16 (AVX2) or 32 (AVX-512) vector registers: P accumulators plus the kernel
    // vector, or 9 accumulators plus the output gradient and one input load.
    dw_fns!(
        avx2_gather_f32,
        avx2_gather4_f32,
        avx2_gather1_f32,
        avx2_kgrad_f32,
        avx2_kgrad3_f32,
        f32,
        F32x8,
        12,
        "avx2,fma"
    );
    dw_fns!(
        avx2_gather_f64,
        avx2_gather4_f64,
        avx2_gather1_f64,
        avx2_kgrad_f64,
        avx2_kgrad3_f64,
        f64,
        F64x4,
        12,
        "avx2,fma"
    );
    dw_fns!(
        avx512_gather_f32,
        avx512_gather4_f32,
        avx512_gather1_f32,
        avx512_kgrad_f32,
        avx512_kgrad3_f32,
        f32,
        F32x16,
        14,
        "avx512f"
    );
    dw_fns!(
        avx512_gather_f64,
        avx512_gather4_f64,
        avx512_gather1_f64,
        avx512_kgrad_f64,
        avx512_kgrad3_f64,
        f64,
        F64x8,
        14,
        "avx512f"
    );

    pub(super) fn tiles_f32(isa: Isa) -> Option<DwTiles<f32>> {
        match isa {
            Isa::Avx512 => Some(DwTiles {
                w: 16,
                p: 14,
                gather: avx512_gather_f32,
                gather4: avx512_gather4_f32,
                gather1: avx512_gather1_f32,
                kgrad: avx512_kgrad_f32,
                kgrad_small: avx512_kgrad3_f32,
            }),
            Isa::Avx2 => Some(DwTiles {
                w: 8,
                p: 12,
                gather: avx2_gather_f32,
                gather4: avx2_gather4_f32,
                gather1: avx2_gather1_f32,
                kgrad: avx2_kgrad_f32,
                kgrad_small: avx2_kgrad3_f32,
            }),
            _ => None,
        }
    }

    pub(super) fn tiles_f64(isa: Isa) -> Option<DwTiles<f64>> {
        match isa {
            Isa::Avx512 => Some(DwTiles {
                w: 8,
                p: 14,
                gather: avx512_gather_f64,
                gather4: avx512_gather4_f64,
                gather1: avx512_gather1_f64,
                kgrad: avx512_kgrad_f64,
                kgrad_small: avx512_kgrad3_f64,
            }),
            Isa::Avx2 => Some(DwTiles {
                w: 4,
                p: 12,
                gather: avx2_gather_f64,
                gather4: avx2_gather4_f64,
                gather1: avx2_gather1_f64,
                kgrad: avx2_kgrad_f64,
                kgrad_small: avx2_kgrad3_f64,
            }),
            _ => None,
        }
    }
}

impl DwFloat for f32 {
    fn dw_tiles(isa: Isa) -> Option<DwTiles<f32>> {
        #[cfg(target_arch = "x86_64")]
        if isa.is_supported() {
            return x86::tiles_f32(isa);
        }
        let _ = isa;
        None
    }
}

impl DwFloat for f64 {
    fn dw_tiles(isa: Isa) -> Option<DwTiles<f64>> {
        #[cfg(target_arch = "x86_64")]
        if isa.is_supported() {
            return x86::tiles_f64(isa);
        }
        let _ = isa;
        None
    }
}
