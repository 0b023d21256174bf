//! Register-blocked micro-kernels: one generic body, instantiated per ISA.
//!
//! A micro-kernel multiplies a packed `MR × kc` sliver of A by a packed
//! `kc × NR` sliver of B, holding the `MR × NR` product in registers, and
//! writes (or adds) it into C.

use super::MatPtr;
use crate::float::Float;
use crate::simd::scalar::Scalar;
use crate::simd::{Isa, Vector};

/// `kernel(kc, a, b, c, rsc, csc, m, n, accumulate)`: C[..m, ..n] (+)= A·B,
/// with A a packed `MR × kc` sliver and B a packed `kc × NR` sliver.
#[doc(hidden)]
pub type KernelFn<T> = unsafe fn(usize, *const T, *const T, *mut T, isize, isize, usize, usize, bool);

/// `kernel_packing(kc, a, b, ldb, b_packed, c, rsc, csc, m, n, accumulate)`:
/// as [`KernelFn`] for a full-width B sliver read in place (`kc` rows of `NR`
/// contiguous values, `ldb` apart), which it also copies to `b_packed` in
/// packed order as it goes, for the next row tiles to read.
#[doc(hidden)]
pub type PackingKernelFn<T> =
    unsafe fn(usize, *const T, *const T, usize, *mut T, *mut T, isize, isize, usize, usize, bool);

/// Register and cache blocking of one ISA's kernel.
#[derive(Clone, Copy)]
#[doc(hidden)]
pub struct Spec<T> {
    pub mr: usize,
    pub nr: usize,
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    pub kernel: KernelFn<T>,
    pub kernel_packing: PackingKernelFn<T>,
    /// Lanes of one register: products with at most this many columns use
    /// `narrow[0]` and up to twice that `narrow[1]`; both read A in place
    /// instead of packing it.
    pub lanes: usize,
    pub narrow: [NarrowFn<T>; 2],
    /// Products with more columns than `narrow[1]` takes, up to four
    /// registers: [`WIDE_MR`] rows of A read in place (where the ISA has the
    /// registers for it).
    pub wide: Option<WideFn<T>>,
}

/// `narrow(k, a, b, c, rsc, csc, m, n, accumulate)`: C[..m, ..n] (+)= A·B for
/// an unpacked A (`m ≤ NARROW_MR` rows) and a packed `k × (NV·lanes)` B.
#[doc(hidden)]
pub type NarrowFn<T> = unsafe fn(usize, MatPtr<T>, *const T, *mut T, isize, isize, usize, usize, bool);

/// Rows per call of a narrow kernel.
pub const NARROW_MR: usize = 8;

/// `wide(k, a, b, ldb, c, rsc, csc, m, n, accumulate)`: C[..m, ..n] (+)= A·B
/// for an unpacked A (`m ≤ WIDE_MR` rows) and a B of four registers' width
/// whose row `p` starts at `b + p·ldb` (packed, or a row-major B in place).
#[doc(hidden)]
pub type WideFn<T> = unsafe fn(usize, MatPtr<T>, *const T, usize, *mut T, isize, isize, usize, usize, bool);

/// Rows per call of a wide kernel: 6 × 4 registers of sums, 4 of B and one of A.
pub const WIDE_MR: usize = 6;

/// The generic micro-kernel: `MR` rows by `NV` vectors of `V::W` lanes.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn tile<T: Float, V: Vector<T>, const MR: usize, const NV: usize, const PACK: bool>(
    kc: usize,
    mut a: *const T,
    mut b: *const T,
    ldb: usize,
    mut b_out: *mut T,
    c: *mut T,
    rsc: isize,
    csc: isize,
    m: usize,
    n: usize,
    accumulate: bool,
) {
    let nr = NV * V::W;
    // Start fetching the C tile now so its (strided, likely cold) rows have
    // arrived by the time the k loop ends.
    if m == MR && csc == 1 {
        for i in 0..MR {
            let row = c.offset(i as isize * rsc) as *const T;
            for l in (0..nr * std::mem::size_of::<T>()).step_by(64) {
                prefetch((row as *const u8).add(l));
            }
        }
    }
    let mut acc = [[V::zero(); NV]; MR];
    for _ in 0..kc {
        let mut bv = [V::zero(); NV];
        for j in 0..NV {
            bv[j] = V::load(b.add(j * V::W));
        }
        if PACK {
            // B is read in place, a strided stream the prefetchers may miss:
            // ask for the row 8 steps ahead, and keep this one, packed.
            for l in (0..nr * std::mem::size_of::<T>()).step_by(64) {
                prefetch((b.wrapping_add(8 * ldb) as *const u8).wrapping_add(l));
            }
            for j in 0..NV {
                bv[j].store(b_out.add(j * V::W));
            }
            b_out = b_out.add(nr);
        }
        for i in 0..MR {
            let av = V::splat(*a.add(i));
            for j in 0..NV {
                acc[i][j] = av.mul_add(bv[j], acc[i][j]);
            }
        }
        a = a.add(MR);
        b = b.add(ldb);
    }
    store_tile::<T, V, MR, NV>(&acc, c, rsc, csc, m, n, accumulate);
}

/// The narrow micro-kernel: up to `MR` rows of an unpacked A times a sliver
/// of B `NV` registers wide (row `p` at `b + p·ldb`), summed over the whole
/// of k in order.
#[inline(always)]
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
unsafe fn narrow_tile<T: Float, V: Vector<T>, const MR: usize, const NV: usize>(
    k: usize,
    a: MatPtr<T>,
    mut b: *const T,
    ldb: usize,
    c: *mut T,
    rsc: isize,
    csc: isize,
    m: usize,
    n: usize,
    accumulate: bool,
) {
    // Rows past m re-read the last row (always valid); their sums are dropped.
    let rows: [*const T; MR] = std::array::from_fn(|i| a.at(i.min(m - 1), 0));
    let mut acc = [[V::zero(); NV]; MR];
    for p in 0..k {
        let mut bv = [V::zero(); NV];
        for j in 0..NV {
            bv[j] = V::load(b.add(j * V::W));
        }
        let off = p as isize * a.cs;
        for i in 0..MR {
            let av = V::splat(*rows[i].offset(off));
            for j in 0..NV {
                acc[i][j] = av.mul_add(bv[j], acc[i][j]);
            }
        }
        b = b.add(ldb);
    }
    store_tile::<T, V, MR, NV>(&acc, c, rsc, csc, m, n, accumulate);
}

/// Writes (or adds) a finished `MR × NV·W` register tile into C's first `m`
/// rows and `n` columns: whole registers when the tile is full and C's rows
/// are contiguous, else through a spill buffer, element by element.
#[inline(always)]
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
pub(crate) unsafe fn store_tile<T: Float, V: Vector<T>, const MR: usize, const NV: usize>(
    acc: &[[V; NV]; MR],
    c: *mut T,
    rsc: isize,
    csc: isize,
    m: usize,
    n: usize,
    accumulate: bool,
) {
    if m == MR && n == NV * V::W && csc == 1 {
        for i in 0..MR {
            let row = c.offset(i as isize * rsc);
            for j in 0..NV {
                let p = row.add(j * V::W);
                let v = if accumulate { acc[i][j].add(V::load(p)) } else { acc[i][j] };
                v.store(p);
            }
        }
        return;
    }
    // NOTE: `c + acc` here and `acc + c` above are the same IEEE sum, so an
    // element's value never depends on whether it sat in an edge tile.
    let mut spill = [[[T::ZERO; 16]; NV]; MR];
    for i in 0..MR {
        for j in 0..NV {
            acc[i][j].store(spill[i][j].as_mut_ptr());
        }
    }
    for i in 0..m {
        for jj in 0..n {
            let v = spill[i][jj / V::W][jj % V::W];
            let p = c.offset(i as isize * rsc + jj as isize * csc);
            *p = if accumulate { *p + v } else { v };
        }
    }
}

#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

macro_rules! kernel_fn {
    ($name:ident, $packing:ident, $t:ty, $v:ty, $mr:expr, $nv:expr $(, $feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            kc: usize, a: *const $t, b: *const $t, c: *mut $t,
            rsc: isize, csc: isize, m: usize, n: usize, accumulate: bool,
        ) {
            tile::<$t, $v, $mr, $nv, false>(kc, a, b, $nv * <$v as Vector<$t>>::W, std::ptr::null_mut(), c, rsc, csc, m, n, accumulate)
        }

        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $packing(
            kc: usize, a: *const $t, b: *const $t, ldb: usize, b_out: *mut $t, c: *mut $t,
            rsc: isize, csc: isize, m: usize, n: usize, accumulate: bool,
        ) {
            tile::<$t, $v, $mr, $nv, true>(kc, a, b, ldb, b_out, c, rsc, csc, m, n, accumulate)
        }
    };
}

macro_rules! narrow_fn {
    ($name:ident, $t:ty, $v:ty, $nv:expr $(, $feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            k: usize, a: MatPtr<$t>, b: *const $t, c: *mut $t,
            rsc: isize, csc: isize, m: usize, n: usize, accumulate: bool,
        ) {
            narrow_tile::<$t, $v, NARROW_MR, $nv>(k, a, b, $nv * <$v as Vector<$t>>::W, c, rsc, csc, m, n, accumulate)
        }
    };
}

#[cfg(target_arch = "x86_64")]
macro_rules! wide_fn {
    ($name:ident, $t:ty, $v:ty $(, $feat:literal)?) => {
        $(#[target_feature(enable = $feat)])?
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name(
            k: usize, a: MatPtr<$t>, b: *const $t, ldb: usize, c: *mut $t,
            rsc: isize, csc: isize, m: usize, n: usize, accumulate: bool,
        ) {
            narrow_tile::<$t, $v, WIDE_MR, 4>(k, a, b, ldb, c, rsc, csc, m, n, accumulate)
        }
    };
}

narrow_fn!(scalar_narrow_f32, f32, Scalar<f32>, 1);
narrow_fn!(scalar_narrow2_f32, f32, Scalar<f32>, 2);
narrow_fn!(scalar_narrow_f64, f64, Scalar<f64>, 1);
narrow_fn!(scalar_narrow2_f64, f64, Scalar<f64>, 2);
kernel_fn!(scalar_f32, scalar_packing_f32, f32, Scalar<f32>, 4, 8);
kernel_fn!(scalar_f64, scalar_packing_f64, f64, Scalar<f64>, 4, 8);
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::simd::avx2::{F32x8, F64x4};
    use crate::simd::avx512::{F32x16, F64x8};
    kernel_fn!(avx2_f32, avx2_packing_f32, f32, F32x8, 6, 2, "avx2,fma");
    kernel_fn!(avx2_f64, avx2_packing_f64, f64, F64x4, 6, 2, "avx2,fma");
    kernel_fn!(avx512_f32, avx512_packing_f32, f32, F32x16, 8, 2, "avx512f");
    kernel_fn!(avx512_f64, avx512_packing_f64, f64, F64x8, 8, 2, "avx512f");
    narrow_fn!(avx2_narrow_f32, f32, F32x8, 1, "avx2,fma");
    narrow_fn!(avx2_narrow2_f32, f32, F32x8, 2, "avx2,fma");
    narrow_fn!(avx2_narrow_f64, f64, F64x4, 1, "avx2,fma");
    narrow_fn!(avx2_narrow2_f64, f64, F64x4, 2, "avx2,fma");
    narrow_fn!(avx512_narrow_f32, f32, F32x16, 1, "avx512f");
    narrow_fn!(avx512_narrow2_f32, f32, F32x16, 2, "avx512f");
    narrow_fn!(avx512_narrow_f64, f64, F64x8, 1, "avx512f");
    narrow_fn!(avx512_narrow2_f64, f64, F64x8, 2, "avx512f");
    wide_fn!(avx512_wide_f32, f32, F32x16, "avx512f");
    wide_fn!(avx512_wide_f64, f64, F64x8, "avx512f");

    pub(crate) fn spec_f32(isa: Isa) -> Option<Spec<f32>> {
        match isa {
            Isa::Avx512 => Some(Spec {
                mr: 8,
                nr: 32,
                kc: 512,
                mc: 96,
                nc: 2048,
                kernel: avx512_f32,
                kernel_packing: avx512_packing_f32,
                lanes: 16,
                narrow: [avx512_narrow_f32, avx512_narrow2_f32],
                wide: Some(avx512_wide_f32),
            }),
            Isa::Avx2 => Some(Spec {
                mr: 6,
                nr: 16,
                kc: 512,
                mc: 96,
                nc: 2048,
                kernel: avx2_f32,
                kernel_packing: avx2_packing_f32,
                lanes: 8,
                narrow: [avx2_narrow_f32, avx2_narrow2_f32],
                wide: None,
            }),
            _ => None,
        }
    }

    pub(crate) fn spec_f64(isa: Isa) -> Option<Spec<f64>> {
        match isa {
            Isa::Avx512 => Some(Spec {
                mr: 8,
                nr: 16,
                kc: 256,
                mc: 96,
                nc: 2048,
                kernel: avx512_f64,
                kernel_packing: avx512_packing_f64,
                lanes: 8,
                narrow: [avx512_narrow_f64, avx512_narrow2_f64],
                wide: Some(avx512_wide_f64),
            }),
            Isa::Avx2 => Some(Spec {
                mr: 6,
                nr: 8,
                kc: 256,
                mc: 96,
                nc: 2048,
                kernel: avx2_f64,
                kernel_packing: avx2_packing_f64,
                lanes: 4,
                narrow: [avx2_narrow_f64, avx2_narrow2_f64],
                wide: None,
            }),
            _ => None,
        }
    }
}

/// `bf16(m, n, k, a, b, c, rsc, csc, accumulate, serial)`: the bfloat16
/// product of an element type that has one (see [`crate::gemm::bf16`]).
#[doc(hidden)]
pub type Bf16Fn<T> = unsafe fn(usize, usize, usize, MatPtr<T>, MatPtr<T>, *mut T, isize, isize, bool, bool);

/// Element types with GEMM kernels.
pub trait GemmFloat: Float {
    #[doc(hidden)]
    fn spec(isa: Isa) -> Spec<Self>;
    /// The bfloat16 product, for float32 only.
    #[doc(hidden)]
    const BF16: Option<Bf16Fn<Self>>;
    /// The value rounded to bfloat16 (float32 only: types without a bfloat16
    /// product are returned unchanged, and [`crate::gemm::Precision::check`]
    /// keeps them out of bfloat16 paths).
    #[doc(hidden)]
    fn round_bf16(self) -> Self;
}

#[allow(clippy::too_many_arguments)]
unsafe fn bf16_f32(
    m: usize,
    n: usize,
    k: usize,
    a: MatPtr<f32>,
    b: MatPtr<f32>,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    accumulate: bool,
    serial: bool,
) {
    if serial {
        super::gemm_bf16_serial(m, n, k, a, b, c, rsc, csc, accumulate)
    } else {
        super::gemm_bf16(m, n, k, a, b, c, rsc, csc, accumulate)
    }
}

impl GemmFloat for f32 {
    const BF16: Option<Bf16Fn<f32>> = Some(bf16_f32);
    #[inline(always)]
    fn round_bf16(self) -> f32 {
        super::bf16::round_bf16(self)
    }

    fn spec(isa: Isa) -> Spec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = x86::spec_f32(isa) {
            return s;
        }
        let _ = isa;
        Spec {
            mr: 4,
            nr: 8,
            kc: 256,
            mc: 128,
            nc: 1024,
            kernel: scalar_f32,
            kernel_packing: scalar_packing_f32,
            lanes: 1,
            narrow: [scalar_narrow_f32, scalar_narrow2_f32],
            wide: None,
        }
    }
}

impl GemmFloat for f64 {
    const BF16: Option<Bf16Fn<f64>> = None;
    fn round_bf16(self) -> f64 {
        self
    }
    fn spec(isa: Isa) -> Spec<f64> {
        #[cfg(target_arch = "x86_64")]
        if let Some(s) = x86::spec_f64(isa) {
            return s;
        }
        let _ = isa;
        Spec {
            mr: 4,
            nr: 8,
            kc: 256,
            mc: 128,
            nc: 1024,
            kernel: scalar_f64,
            kernel_packing: scalar_packing_f64,
            lanes: 1,
            narrow: [scalar_narrow_f64, scalar_narrow2_f64],
            wide: None,
        }
    }
}
