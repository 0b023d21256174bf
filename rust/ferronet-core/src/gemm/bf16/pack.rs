//! float32 → bfloat16 rounding, and packing into the tile layouts.
//!
//! A packed panel covers 32 rows of A (or 32 columns of B) and `steps` k
//! steps of 32; each step is two 16-row tiles, [`TILE`] values apiece:
//! - A: tile `h`, row `r` holds A[32·panel + 16h + r, 32·step ..+32] in k order;
//! - B (VNNI): tile `h`, row `t` holds, for the 16 columns 32·panel + 16h ..+16,
//!   the pairs (B[32·step + 2t, j], B[32·step + 2t + 1, j]).
//!
//! Rows, columns and k past the matrix are zeros. Strided operands of any
//! layout are accepted; row- and column-major ones are packed 16 values at a
//! time with AVX-512 (every AMX machine has it).

use super::tile::{STEP, TILE};
use crate::gemm::MatPtr;

/// The bfloat16 bits nearest to `x` (ties to even); NaN stays a (quiet) NaN.
/// Branch-free, so loops over slices vectorize.
#[inline(always)]
pub fn bf16_bits(x: f32) -> u16 {
    let b = x.to_bits();
    let rounded = b.wrapping_add(0x7FFF + ((b >> 16) & 1));
    let nan = b & 0x7FFF_FFFF > 0x7F80_0000;
    ((if nan { b | 0x0040_0000 } else { rounded }) >> 16) as u16
}

/// `x` rounded to the nearest bfloat16 (ties to even), as a float32.
#[inline(always)]
pub fn round_bf16(x: f32) -> f32 {
    f32::from_bits((bf16_bits(x) as u32) << 16)
}

/// Pack rows `[i0, i0+mc)` × k `[p0, p0+kc)` of A into `mc.div_ceil(32)` panels of `steps` k steps.
pub(super) unsafe fn pack_a(dst: *mut u16, a: MatPtr<f32>, i0: usize, mc: usize, p0: usize, kc: usize, steps: usize) {
    for (panel, ir) in (0..mc).step_by(32).enumerate() {
        let rows = 32.min(mc - ir);
        let d = dst.add(panel * steps * STEP);
        let corner = MatPtr { ptr: a.at(i0 + ir, p0), ..a };
        #[cfg(target_arch = "x86_64")]
        if a.cs == 1 {
            x86::pack_along_k(d, corner, rows, kc, steps);
            continue;
        } else if a.rs == 1 {
            x86::pack_across_k::<false>(d, corner, rows, kc, steps);
            continue;
        }
        pack_scalar::<false>(d, corner, rows, kc, steps);
    }
}

/// The B panels of columns `[j0, j0+nc)`, k `[p0, p0+kc)`, `steps` k steps
/// each and `panel_len` values apart, for the k steps `step_range` only.
/// A row-major B is read row by row across all the panels (one long
/// sequential stream the prefetchers follow, where a panel at a time would
/// touch one cache line per row of B); other layouts panel by panel.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pack_b(
    dst: *mut u16,
    b: MatPtr<f32>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    steps: usize,
    step_range: std::ops::Range<usize>,
) {
    let panel_len = steps * STEP;
    #[cfg(target_arch = "x86_64")]
    if b.cs == 1 {
        return x86::pack_b_rows(dst, MatPtr { ptr: b.at(p0, j0), ..b }, kc, nc, panel_len, step_range);
    }
    // Other layouts: whole panels, by the task that owns the first step.
    if step_range.start == 0 {
        for (q, jr) in (0..nc).step_by(32).enumerate() {
            pack_b_panel(dst.add(q * panel_len), b, p0, kc, j0 + jr, 32.min(nc - jr), steps);
        }
    }
}

/// One B panel of `cols ≤ 32` columns starting at `(p0, j0)`.
pub(super) unsafe fn pack_b_panel(
    d: *mut u16,
    b: MatPtr<f32>,
    p0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    steps: usize,
) {
    let corner = MatPtr { ptr: b.at(p0, j0), ..b };
    // Bᵀ seen as an A operand: its rows are B's columns.
    let bt = corner.t();
    #[cfg(target_arch = "x86_64")]
    if b.cs == 1 {
        return x86::pack_across_k::<true>(d, bt, cols, kc, steps);
    } else if b.rs == 1 {
        return x86::pack_vnni_along_k(d, bt, cols, kc, steps);
    }
    pack_scalar::<true>(d, bt, cols, kc, steps)
}

/// Offset of the pair (row `i`, k pair `t`) in a packed panel: A layout, or
/// with `VNNI` the B layout (where `i` is the column).
#[inline(always)]
fn pair_at<const VNNI: bool>(i: usize, t: usize) -> usize {
    let (step, tt) = (t / 16, t % 16);
    let (h, r) = (i / 16, i % 16);
    if VNNI {
        step * STEP + h * TILE + tt * 32 + r * 2
    } else {
        step * STEP + h * TILE + r * 32 + tt * 2
    }
}

/// Any layout, one value at a time. `x` is `rows × kc` (A, or Bᵀ for `VNNI`).
unsafe fn pack_scalar<const VNNI: bool>(d: *mut u16, x: MatPtr<f32>, rows: usize, kc: usize, steps: usize) {
    std::ptr::write_bytes(d, 0, steps * STEP);
    for i in 0..rows {
        for p in 0..kc {
            *d.add(pair_at::<VNNI>(i, p / 2) + p % 2) = bf16_bits(*x.at(i, p));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// 16 floats rounded to bfloat16, each in the high half of its 32-bit lane.
    #[inline(always)]
    unsafe fn round16(x: __m512) -> __m512i {
        let b = _mm512_castps_si512(x);
        let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
        let r = _mm512_add_epi32(b, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF)));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(b, _mm512_set1_epi32(0x0040_0000)))
    }

    /// Lanes of two rounded vectors as pairs: `lo`'s value in the low half.
    #[inline(always)]
    unsafe fn pairs(lo: __m512i, hi: __m512i) -> __m512i {
        _mm512_or_si512(_mm512_and_si512(hi, _mm512_set1_epi32(-65536)), _mm512_srli_epi32::<16>(lo))
    }

    #[inline(always)]
    fn mask(n: usize) -> __mmask16 {
        if n >= 16 {
            0xFFFF
        } else {
            ((1u32 << n) - 1) as __mmask16
        }
    }

    /// Up to 16 floats from `p` (unit stride), zeros past `n`.
    #[inline(always)]
    unsafe fn load(p: *const f32, n: usize) -> __m512 {
        if n >= 16 {
            _mm512_loadu_ps(p)
        } else if n == 0 {
            _mm512_setzero_ps()
        } else {
            _mm512_maskz_loadu_ps(mask(n), p)
        }
    }

    /// 32 k values of one row (unit stride along k) as 32 bfloat16, in order.
    #[inline(always)]
    unsafe fn row32(p: *const f32, n: usize) -> __m512i {
        let idx = _mm512_set_epi16(
            63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11,
            9, 7, 5, 3, 1,
        );
        let lo = round16(load(p, n));
        let hi = round16(load(p.add(16), n.saturating_sub(16)));
        _mm512_permutex2var_epi16(lo, idx, hi)
    }

    /// A layout from an `x` with unit stride along k (row-major A).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pack_along_k(d: *mut u16, x: MatPtr<f32>, rows: usize, kc: usize, steps: usize) {
        for i in 0..32 {
            for s in 0..steps {
                let dst = d.add(s * STEP + (i / 16) * TILE + (i % 16) * 32) as *mut __m512i;
                let v =
                    if i < rows && 32 * s < kc { row32(x.at(i, 32 * s), kc - 32 * s) } else { _mm512_setzero_si512() };
                _mm512_storeu_si512(dst, v);
            }
        }
    }

    /// B (VNNI) layout from a Bᵀ `x` with unit stride along k (column-major
    /// B): each column's 32 k values become one row of pairs, scattered down
    /// the tile (column `i` is lane `i % 16` of each tile row).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pack_vnni_along_k(d: *mut u16, x: MatPtr<f32>, cols: usize, kc: usize, steps: usize) {
        std::ptr::write_bytes(d, 0, steps * STEP);
        let down = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(16),
        );
        for i in 0..cols {
            for s in 0..kc.div_ceil(32) {
                let v = row32(x.at(i, 32 * s), kc - 32 * s);
                let base = d.add(s * STEP + (i / 16) * TILE + (i % 16) * 2) as *mut i32;
                _mm512_i32scatter_epi32::<4>(base, down, v);
            }
        }
    }

    /// Row-major B, k steps `step_range` of every panel (see [`super::pack_b`]).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pack_b_rows(
        d: *mut u16,
        b: MatPtr<f32>,
        kc: usize,
        nc: usize,
        panel_len: usize,
        step_range: std::ops::Range<usize>,
    ) {
        for t in 16 * step_range.start..16 * step_range.end {
            let (p0, p1) = (2 * t, 2 * t + 1);
            let (s, tt) = (t / 16, t % 16);
            for (q, jr) in (0..nc.next_multiple_of(32)).step_by(32).enumerate() {
                for h in 0..2 {
                    let j = jr + 16 * h;
                    let n = nc.saturating_sub(j);
                    let lo = if p0 < kc && n > 0 { round16(load(b.at(p0, j), n)) } else { _mm512_setzero_si512() };
                    let hi = if p1 < kc && n > 0 { round16(load(b.at(p1, j), n)) } else { _mm512_setzero_si512() };
                    let at = d.add(q * panel_len + s * STEP + h * TILE + tt * 32);
                    _mm512_storeu_si512(at as *mut __m512i, pairs(lo, hi));
                }
            }
        }
    }

    /// A layout (or with `VNNI` the B layout) from an `x` with unit stride
    /// across rows: 16 rows' values at k and k+1 become 16 pairs, written as a
    /// tile row (B) or scattered down a tile column (A).
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn pack_across_k<const VNNI: bool>(
        d: *mut u16,
        x: MatPtr<f32>,
        rows: usize,
        kc: usize,
        steps: usize,
    ) {
        if !VNNI {
            std::ptr::write_bytes(d, 0, steps * STEP);
        }
        let down = _mm512_mullo_epi32(
            _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
            _mm512_set1_epi32(16),
        );
        for h in 0..2 {
            let n = rows.saturating_sub(16 * h);
            for t in 0..16 * steps {
                let (p0, p1) = (2 * t, 2 * t + 1);
                let lo = if p0 < kc && n > 0 { round16(load(x.at(16 * h, p0), n)) } else { _mm512_setzero_si512() };
                let hi = if p1 < kc && n > 0 { round16(load(x.at(16 * h, p1), n)) } else { _mm512_setzero_si512() };
                let v = pairs(lo, hi);
                let (s, tt) = (t / 16, t % 16);
                if VNNI {
                    _mm512_storeu_si512(d.add(s * STEP + h * TILE + tt * 32) as *mut __m512i, v);
                } else if n > 0 {
                    let base = d.add(s * STEP + h * TILE + tt * 2) as *mut i32;
                    _mm512_i32scatter_epi32::<4>(base, down, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_nearest_even() {
        assert_eq!(round_bf16(1.0), 1.0);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to even (1.0).
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round_bf16(1.0 + 3.0 / 256.0), 1.0 + 4.0 / 256.0);
        assert_eq!(round_bf16(1.0 + 1.0 / 256.0 + 1.0 / 65536.0), 1.0 + 1.0 / 128.0);
        assert_eq!(round_bf16(f32::MIN), f32::NEG_INFINITY);
        assert_eq!(round_bf16(3.0e38), 3.0040553e38);
        assert_eq!(round_bf16(f32::INFINITY), f32::INFINITY);
        assert!(round_bf16(f32::NAN).is_nan());
        assert!(round_bf16(f32::from_bits(0x7F80_0001)).is_nan(), "a NaN with only low payload bits stays NaN");
        assert_eq!(round_bf16(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    /// Every layout's packing against the scalar definition.
    #[test]
    fn vector_packing_matches_scalar() {
        if !crate::simd::amx::available() {
            return;
        }
        let (rows, kc) = (29usize, 70usize);
        let steps = kc.div_ceil(32);
        let vals: Vec<f32> = (0..rows * kc).map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.013).collect();
        let row_major = MatPtr { ptr: vals.as_ptr(), rs: kc as isize, cs: 1 };
        let col_major = MatPtr { ptr: vals.as_ptr(), rs: 1, cs: rows as isize };
        for x in [row_major, col_major] {
            for vnni in [false, true] {
                let mut want = vec![7u16; 2 * steps * STEP];
                let mut got = vec![9u16; 2 * steps * STEP];
                unsafe {
                    if vnni {
                        pack_scalar::<true>(want.as_mut_ptr(), x, rows, kc, steps);
                        // pack_b_panel takes B = xᵀ.
                        pack_b_panel(got.as_mut_ptr(), x.t(), 0, kc, 0, rows, steps);
                    } else {
                        pack_scalar::<false>(want.as_mut_ptr(), x, rows, kc, steps);
                        pack_a(got.as_mut_ptr(), x, 0, rows, 0, kc, steps);
                    }
                }
                assert_eq!(&got[..steps * STEP], &want[..steps * STEP], "rs={} vnni={vnni}", x.rs);
            }
        }
    }
}
