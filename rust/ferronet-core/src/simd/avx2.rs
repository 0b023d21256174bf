//! AVX2 + FMA registers: 8 × f32 or 4 × f64 lanes.

use super::Vector;
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub struct F32x8(pub __m256);
#[derive(Clone, Copy)]
pub struct F64x4(pub __m256d);

impl Vector<f32> for F32x8 {
    const W: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F32x8(_mm256_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        F32x8(_mm256_set1_ps(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x8(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        F32x8(_mm256_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F32x8(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F32x8(_mm256_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn gather(base: *const f32, idx: *const i32) -> Self {
        F32x8(_mm256_i32gather_ps::<4>(base, _mm256_loadu_si256(idx as *const _)))
    }
}

impl Vector<f64> for F64x4 {
    const W: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F64x4(_mm256_setzero_pd())
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        F64x4(_mm256_set1_pd(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        F64x4(_mm256_loadu_pd(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        _mm256_storeu_pd(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        F64x4(_mm256_fmadd_pd(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F64x4(_mm256_add_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F64x4(_mm256_mul_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn gather(base: *const f64, idx: *const i32) -> Self {
        F64x4(_mm256_i32gather_pd::<8>(base, _mm_loadu_si128(idx as *const _)))
    }
}
