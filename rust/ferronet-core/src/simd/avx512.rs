//! AVX-512 registers: 16 × f32 or 8 × f64 lanes.

use super::Vector;
use std::arch::x86_64::*;

#[derive(Clone, Copy)]
pub struct F32x16(pub __m512);
#[derive(Clone, Copy)]
pub struct F64x8(pub __m512d);

impl Vector<f32> for F32x16 {
    const W: usize = 16;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F32x16(_mm512_setzero_ps())
    }
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        F32x16(_mm512_set1_ps(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        F32x16(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        F32x16(_mm512_fmadd_ps(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F32x16(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F32x16(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn gather(base: *const f32, idx: *const i32) -> Self {
        F32x16(_mm512_i32gather_ps::<4>(_mm512_loadu_si512(idx as *const _), base))
    }
}

impl Vector<f64> for F64x8 {
    const W: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        F64x8(_mm512_setzero_pd())
    }
    #[inline(always)]
    unsafe fn splat(v: f64) -> Self {
        F64x8(_mm512_set1_pd(v))
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        F64x8(_mm512_loadu_pd(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        _mm512_storeu_pd(p, self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        F64x8(_mm512_fmadd_pd(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        F64x8(_mm512_add_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        F64x8(_mm512_mul_pd(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn gather(base: *const f64, idx: *const i32) -> Self {
        F64x8(_mm512_i32gather_pd::<8>(_mm256_loadu_si256(idx as *const _), base))
    }
}
