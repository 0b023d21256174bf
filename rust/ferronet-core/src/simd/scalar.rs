//! The portable path: one lane, plain Rust arithmetic.

use super::Vector;
use crate::Float;

/// A one-lane "vector" so generic kernels also run without SIMD.
#[derive(Clone, Copy)]
pub struct Scalar<T>(pub T);

impl<T: Float> Vector<T> for Scalar<T> {
    const W: usize = 1;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Scalar(T::ZERO)
    }
    #[inline(always)]
    unsafe fn splat(v: T) -> Self {
        Scalar(v)
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Scalar(*p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        *p = self.0
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // NOTE: plain multiply-add, not `f32::mul_add`: without hardware FMA
        // that call becomes a slow libm routine.
        Scalar(self.0 * b.0 + c.0)
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Scalar(self.0 + b.0)
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Scalar(self.0 * b.0)
    }
    #[inline(always)]
    unsafe fn gather(base: *const T, idx: *const i32) -> Self {
        Scalar(*base.offset(*idx as isize))
    }
}

/// Eight lanes in plain Rust, for kernels whose blocks need several lanes
/// on every path: LLVM turns its loops into the baseline's vectors (SSE2,
/// NEON).
#[derive(Clone, Copy)]
pub struct Lanes8<T>(pub [T; 8]);

impl<T: Float> Vector<T> for Lanes8<T> {
    const W: usize = 8;
    #[inline(always)]
    unsafe fn zero() -> Self {
        Lanes8([T::ZERO; 8])
    }
    #[inline(always)]
    unsafe fn splat(v: T) -> Self {
        Lanes8([v; 8])
    }
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Lanes8(std::ptr::read_unaligned(p as *const [T; 8]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        std::ptr::write_unaligned(p as *mut [T; 8], self.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        // Plain multiply-add, as `Scalar`.
        Lanes8(std::array::from_fn(|i| self.0[i] * b.0[i] + c.0[i]))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Lanes8(std::array::from_fn(|i| self.0[i] + b.0[i]))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Lanes8(std::array::from_fn(|i| self.0[i] * b.0[i]))
    }
    #[inline(always)]
    unsafe fn gather(base: *const T, idx: *const i32) -> Self {
        Lanes8(std::array::from_fn(|i| *base.offset(*idx.add(i) as isize)))
    }
}
