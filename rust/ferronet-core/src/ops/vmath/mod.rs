//! Elementary functions written so that loops over them vectorise: `exp`
//! (and a cheaper one on x ≤ 0 for softmaxes, which flushes results below
//! the normal range to 0), `expm1` on x ≤ 0, `log1p` on [0, 1], and the
//! logistic, tanh and softplus built from them.
//!
//! libm's `expf`/`exp` are opaque calls, and one of them in a loop body stops
//! LLVM from vectorising the loop. These are branch-free range reductions and
//! Horner polynomials instead: inlined into the per-ISA wrappers of
//! [`crate::ops::sweep`], each becomes a few SIMD multiplies, adds, integer
//! ops and blends. Each is generic over [`MulAdd`]: fused multiply-adds on
//! the SIMD paths (AVX2 and AVX-512 then round identically), plain `a*b + c`
//! on the portable one, whose results may differ from them by an ulp or two.
//!
//! Accuracy, measured by the tests below against `f64`/std: within 2 ulp for
//! `exp`, `expm1_nonpos` and `log1p_unit`, within 4 ulp for the compositions,
//! in both `f32` and `f64`.

use crate::float::Float;
use crate::simd::Isa;

/// The per-type constants and bit tricks the polynomial kernels need.
pub trait VFloat: Float + crate::simd::Registers {
    /// log2(e).
    const LOG2E: Self;
    /// ln 2 split Cody–Waite style: `LN2_HI` has enough trailing zero bits
    /// that `n · LN2_HI` is exact for every exponent `n` the kernels meet.
    const LN2_HI: Self;
    const LN2_LO: Self;
    /// 1.5 · 2^(mantissa bits): adding it rounds to the nearest integer, and
    /// that integer can be read back from the low bits of the sum.
    const ROUND_MAGIC: Self;
    /// Below `EXP_MIN`, exp(x) rounds to 0; above `EXP_MAX` it overflows.
    const EXP_MIN: Self;
    const EXP_MAX: Self;
    /// Above `EXP_NORMAL_MIN`, exp(x) is a normal number (the floor of [`exp_nonpos`]).
    const EXP_NORMAL_MIN: Self;
    /// Below `EXPM1_MIN`, expm1(x) rounds to -1.
    const EXPM1_MIN: Self;
    const SQRT2: Self;
    /// Taylor coefficients 1/2!, 1/3!, … of expm1(r) = r + r²·P(r) on
    /// |r| ≤ ln2/2, to the degree where the truncation is far below an ulp.
    const EXPM1_POLY: &'static [Self];
    /// 2/3, 2/5, 2/7, … : log(1+f) = 2·atanh(s) with s = f/(2+f) (|s| ≤ 0.172).
    const LOG_POLY: &'static [Self];
    /// Normal CDF tail, Φ(-u) = e^(-u²/2)·Q(u) for 0 ≤ u ≤ `PHI_U` (beyond
    /// it the tail underflows): (u+1)·Q(u) as a Chebyshev series in
    /// s = A·t + B with t = (u - K)/(u + K). Coefficients computed to 40
    /// digits (mpmath) and rounded once; Q is within 2 ulp.
    const PHI_U: Self;
    const PHI_K: Self;
    const PHI_A: Self;
    const PHI_B: Self;
    const PHI_CHEB: &'static [Self];

    /// The integer `n` of `t = n + ROUND_MAGIC` (garbage, but no panic, if
    /// `t` is NaN).
    fn magic_int(t: Self) -> i32;
    /// 2^n for `n` in the normal exponent range (built from bits).
    fn pow2(n: i32) -> Self;
    /// `self` with the sign of `sign`.
    fn copysign(self, sign: Self) -> Self;
    /// `self` with the low half of its significand cleared, so that its
    /// square is exact.
    fn split_high(self) -> Self;
    /// (k, m) with self = m·2^k and m in [1, 2), for positive normal `self`.
    fn exponent_split(self) -> (Self, Self);
}

impl VFloat for f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = f32::from_bits(0x3f31_7200);
    const LN2_LO: f32 = f32::from_bits(0x35bf_be8e);
    const ROUND_MAGIC: f32 = 12_582_912.0;
    const EXP_MIN: f32 = -104.0;
    const EXP_MAX: f32 = 89.0;
    const EXP_NORMAL_MIN: f32 = -87.0;
    const EXPM1_MIN: f32 = -18.0;
    const SQRT2: f32 = std::f32::consts::SQRT_2;
    const EXPM1_POLY: &'static [f32] = &[1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];
    const LOG_POLY: &'static [f32] = &[2.0 / 3.0, 2.0 / 5.0, 2.0 / 7.0, 2.0 / 9.0];
    const PHI_U: f32 = 15.0;
    const PHI_K: f32 = 3.0;
    const PHI_A: f32 = 1.2;
    const PHI_B: f32 = 0.2;
    const PHI_CHEB: &'static [f32] = &[
        4.8283002e-01,
        -4.663551e-02,
        -1.9838352e-02,
        8.512251e-03,
        -1.181207e-03,
        -4.152704e-05,
        2.6080505e-05,
        7.413204e-07,
        -6.335017e-07,
        -5.19584e-08,
    ];

    #[inline(always)]
    fn magic_int(t: f32) -> i32 {
        (t.to_bits() as i32).wrapping_sub(Self::ROUND_MAGIC.to_bits() as i32)
    }
    #[inline(always)]
    fn pow2(n: i32) -> f32 {
        f32::from_bits((n.wrapping_add(127) as u32) << 23)
    }
    #[inline(always)]
    fn copysign(self, sign: f32) -> f32 {
        f32::copysign(self, sign)
    }
    #[inline(always)]
    fn split_high(self) -> f32 {
        f32::from_bits(self.to_bits() & !0xfff)
    }
    #[inline(always)]
    fn exponent_split(self) -> (f32, f32) {
        let b = self.to_bits();
        let k = ((b >> 23) & 0xff) as i32 - 127;
        (k as f32, f32::from_bits((b & 0x007f_ffff) | 0x3f80_0000))
    }
}

impl VFloat for f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
    const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
    const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
    const EXP_MIN: f64 = -746.0;
    const EXP_MAX: f64 = 710.0;
    const EXP_NORMAL_MIN: f64 = -708.0;
    const EXPM1_MIN: f64 = -40.0;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    const EXPM1_POLY: &'static [f64] = &[
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    const LOG_POLY: &'static [f64] = &[
        2.0 / 3.0,
        2.0 / 5.0,
        2.0 / 7.0,
        2.0 / 9.0,
        2.0 / 11.0,
        2.0 / 13.0,
        2.0 / 15.0,
        2.0 / 17.0,
        2.0 / 19.0,
        2.0 / 21.0,
    ];
    const PHI_U: f64 = 40.0;
    const PHI_K: f64 = 4.0;
    const PHI_A: f64 = 1.1;
    const PHI_B: f64 = 0.1;
    const PHI_CHEB: &'static [f64] = &[
        0.47155383968620496,
        -0.058137107824620796,
        -0.013239343287072368,
        0.01172080550566466,
        -0.00392255077449567,
        0.0007531885997472562,
        -6.358269928966487e-05,
        -6.521341336733567e-06,
        2.060222482949714e-06,
        5.057387600353634e-09,
        -5.327111640599395e-08,
        1.3965063133551675e-09,
        1.5315094566461477e-09,
        -3.2587598300271025e-11,
        -4.968203086244379e-11,
        -7.037660076349684e-13,
        1.687691551212556e-12,
        1.2881955961768254e-13,
        -5.330676377568559e-14,
        -9.387661096501105e-15,
        1.2224441616860336e-15,
        5.061501155079224e-16,
        9.087388543478188e-18,
    ];

    #[inline(always)]
    fn magic_int(t: f64) -> i32 {
        (t.to_bits() as i64).wrapping_sub(Self::ROUND_MAGIC.to_bits() as i64) as i32
    }
    #[inline(always)]
    fn pow2(n: i32) -> f64 {
        f64::from_bits(((n as i64).wrapping_add(1023) as u64) << 52)
    }
    #[inline(always)]
    fn copysign(self, sign: f64) -> f64 {
        f64::copysign(self, sign)
    }
    #[inline(always)]
    fn split_high(self) -> f64 {
        f64::from_bits(self.to_bits() & !0x7ff_ffff)
    }
    #[inline(always)]
    fn exponent_split(self) -> (f64, f64) {
        let b = self.to_bits();
        let k = ((b >> 52) & 0x7ff) as i32 - 1023;
        (k as f64, f64::from_bits((b & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000))
    }
}

/// How a kernel evaluates `a·b + c`: the choice is made once per call, by
/// SIMD path, and passed down as a type.
pub trait MulAdd: Copy + Send + Sync + 'static {
    fn ma<T: Float>(a: T, b: T, c: T) -> T;
}

/// One rounding, by the FMA instruction: for the AVX2, AVX-512 and NEON paths.
#[derive(Clone, Copy, Debug)]
pub struct Fused;

/// Two roundings: for the portable path, where a fused multiply-add would be
/// a slow libm call.
#[derive(Clone, Copy, Debug)]
pub struct Plain;

impl MulAdd for Fused {
    #[inline(always)]
    fn ma<T: Float>(a: T, b: T, c: T) -> T {
        a.mul_add(b, c)
    }
}

impl MulAdd for Plain {
    #[inline(always)]
    fn ma<T: Float>(a: T, b: T, c: T) -> T {
        a * b + c
    }
}

/// Whether the code generated for `isa` has hardware FMA (every path but
/// the portable one).
pub fn has_fma(isa: Isa) -> bool {
    isa != Isa::Scalar
}

/// `x` limited to `[lo, hi]`; NaN passes through (unlike `f32::clamp`'s
/// cousins `max`/`min`, which would drop it).
#[inline(always)]
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    let x = if x < lo { lo } else { x };
    if x > hi {
        hi
    } else {
        x
    }
}

/// c₀ + x·(c₁ + x·(c₂ + …)).
#[inline(always)]
fn horner<M: MulAdd, T: Float>(x: T, coefs: &[T]) -> T {
    let (&last, rest) = coefs.split_last().expect("polynomial with no coefficients");
    let mut acc = last;
    for &c in rest.iter().rev() {
        acc = M::ma(acc, x, c);
    }
    acc
}

/// Writes a + b = n·ln2 + r with |r| ≲ ln2/2 (b small, added after the
/// reduction so that a + b is never rounded) and returns (n, expm1(r)).
#[inline(always)]
fn reduce<M: MulAdd, T: VFloat>(a: T, b: T) -> (i32, T) {
    let t = M::ma(a, T::LOG2E, T::ROUND_MAGIC);
    let nf = t - T::ROUND_MAGIC;
    let r = M::ma(-nf, T::LN2_LO, M::ma(-nf, T::LN2_HI, a)) + b;
    let p = M::ma(r * r, horner::<M, T>(r, T::EXPM1_POLY), r);
    (T::magic_int(t), p)
}

/// (1 + p)·2^n, with 2^n in two halves so that the scale stays a normal
/// number when the result overflows or is subnormal.
#[inline(always)]
fn scale<M: MulAdd, T: VFloat>(n: i32, p: T) -> T {
    let half = n >> 1;
    // (p·2^h + 2^h is (1 + p)·2^h rounded once, exactly as (1 + p) then scaled.)
    let s = T::pow2(half);
    M::ma(p, s, s) * T::pow2(n - half)
}

/// e^x for every x (±inf and NaN included, subnormal results too).
#[inline(always)]
pub fn exp<M: MulAdd, T: VFloat>(x: T) -> T {
    let (n, p) = reduce::<M, T>(clamp(x, T::EXP_MIN, T::EXP_MAX), -T::ZERO);
    scale::<M, T>(n, p)
}

/// e^x for x ≤ 0 (or NaN), as [`exp`] (the same bits) without its upper
/// clamp: the exponentials of `-|x|` in the logistic functions.
#[inline(always)]
fn exp_le0<M: MulAdd, T: VFloat>(x: T) -> T {
    let (n, p) = reduce::<M, T>(if x < T::EXP_MIN { T::EXP_MIN } else { x }, -T::ZERO);
    scale::<M, T>(n, p)
}

/// e^x for x ≤ 0, the exponentials of a softmax (logits less their maximum):
/// within 2 ulp where e^x is a normal number, 0 below that (`x <
/// EXP_NORMAL_MIN`, -inf included); NaN passes through. Cheaper than [`exp`]:
/// one clamp and a scale by one power of two.
#[inline(always)]
pub fn exp_nonpos<M: MulAdd, T: VFloat>(x: T) -> T {
    let xc = if x < T::EXP_NORMAL_MIN { T::EXP_NORMAL_MIN } else { x };
    let t = M::ma(xc, T::LOG2E, T::ROUND_MAGIC);
    let nf = t - T::ROUND_MAGIC;
    let r = M::ma(-nf, T::LN2_LO, M::ma(-nf, T::LN2_HI, xc));
    let p = M::ma(r * r, horner::<M, T>(r, T::EXPM1_POLY), r);
    let s = T::pow2(T::magic_int(t));
    let y = M::ma(p, s, s);
    if x < T::EXP_NORMAL_MIN {
        T::ZERO
    } else {
        y
    }
}

/// c₀ + c₁T₁(s) + c₂T₂(s) + … by Clenshaw's recurrence.
#[inline(always)]
fn chebyshev<M: MulAdd, T: Float>(s: T, c: &[T]) -> T {
    let s2 = s + s;
    let (mut b1, mut b2) = (T::ZERO, T::ZERO);
    for &ck in c[1..].iter().rev() {
        let b0 = M::ma(s2, b1, ck - b2);
        b2 = b1;
        b1 = b0;
    }
    M::ma(s, b1, c[0] - b2)
}

/// (Φ(x), φ(x)): the standard normal CDF and density, each accurate
/// relative to its value over the whole range (Φ's left tail included,
/// where `(1 + erf(x/√2))/2` cancels).
#[inline(always)]
pub fn normal_cdf_pdf<M: MulAdd, T: VFloat>(x: T) -> (T, T) {
    let half = T::from_f64(0.5);
    let u = clamp(x.abs(), T::ZERO, T::PHI_U);
    // e^(-u²/2) with u² = uh² + ul·(u + uh), uh² exact: rounding u² would
    // cost |u|²·eps of relative accuracy in the tail.
    let uh = u.split_high();
    let (n, p) = reduce::<M, T>(-(uh * uh) * half, -(u - uh) * (u + uh) * half);
    let e = scale::<M, T>(n, p);
    let t = (u - T::PHI_K) / (u + T::PHI_K);
    let tail = e * chebyshev::<M, T>(M::ma(t, T::PHI_A, T::PHI_B), T::PHI_CHEB) / (u + T::ONE);
    let cdf = if x < T::ZERO { tail } else { T::ONE - tail };
    (cdf, e * T::from_f64(0.398_942_280_401_432_7))
}

/// e^x - 1 for x ≤ 0 (larger x are treated as 0), accurate relative to the
/// result near 0 where `exp(x) - 1` would cancel.
#[inline(always)]
pub fn expm1_nonpos<M: MulAdd, T: VFloat>(x: T) -> T {
    expm1_le0::<M, T>(if x > T::ZERO { T::ZERO } else { x })
}

/// [`expm1_nonpos`] for x ≤ 0 (or NaN) only.
#[inline(always)]
fn expm1_le0<M: MulAdd, T: VFloat>(x: T) -> T {
    let (n, p) = reduce::<M, T>(if x < T::EXPM1_MIN { T::EXPM1_MIN } else { x }, -T::ZERO);
    let s = T::pow2(n);
    M::ma(s, p, s - T::ONE)
}

/// ln(1 + u) for 0 ≤ u ≤ 1, accurate relative to the result for tiny u.
#[inline(always)]
pub fn log1p_unit<M: MulAdd, T: VFloat>(u: T) -> T {
    let one = T::ONE;
    let v = one + u;
    // The rounding error of 1 + u, exactly, divided by v: ln(v + δ) ≈ ln v + δ/v.
    let c = (u - (v - one)) / v;
    let big = v > T::SQRT2;
    let m = if big { v * T::from_f64(0.5) } else { v };
    let k = if big { one } else { T::ZERO };
    // ln m = 2·atanh(s) = f - s·(f - R) with f = m - 1 (exact), s = f/(2+f).
    let f = m - one;
    let s = f / (T::from_f64(2.0) + f);
    let z = s * s;
    let r = z * horner::<M, T>(z, T::LOG_POLY);
    let ln_m = M::ma(-s, f - r, f);
    M::ma(k, T::LN2_HI, ln_m) + M::ma(k, T::LN2_LO, c)
}

/// ln x for positive normal x; NaN passes through. (Zero, infinities,
/// negative and subnormal inputs are outside its domain: the callers clamp.)
#[inline(always)]
pub fn ln<M: MulAdd, T: VFloat>(x: T) -> T {
    let (k, m) = x.exponent_split();
    let big = m > T::SQRT2;
    let m = if big { m * T::from_f64(0.5) } else { m };
    let k = if big { k + T::ONE } else { k };
    // ln m = 2·atanh(s) = f - s·(f - R), as in `log1p_unit`.
    let f = m - T::ONE;
    let s = f / (T::from_f64(2.0) + f);
    let z = s * s;
    let r = z * horner::<M, T>(z, T::LOG_POLY);
    let ln_m = M::ma(-s, f - r, f);
    let v = M::ma(k, T::LN2_HI, M::ma(k, T::LN2_LO, ln_m));
    if x.is_nan() {
        x
    } else {
        v
    }
}

/// The logistic function 1/(1 + e^-x), accurate in both tails.
#[inline(always)]
pub fn sigmoid<M: MulAdd, T: VFloat>(x: T) -> T {
    let e = exp_le0::<M, T>(-x.abs());
    let num = if x >= T::ZERO { T::ONE } else { e };
    num / (T::ONE + e)
}

/// (σ(x), σ(x)·(1 - σ(x))), the second without the cancellation of `1 - σ`.
#[inline(always)]
pub fn sigmoid_and_slope<M: MulAdd, T: VFloat>(x: T) -> (T, T) {
    let e = exp_le0::<M, T>(-x.abs());
    let d = T::ONE + e;
    let num = if x >= T::ZERO { T::ONE } else { e };
    (num / d, e / (d * d))
}

/// tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)), with the sign of x.
#[inline(always)]
pub fn tanh<M: MulAdd, T: VFloat>(x: T) -> T {
    let a = x.abs();
    let em = expm1_le0::<M, T>(-(a + a));
    (-em / (T::from_f64(2.0) + em)).copysign(x)
}

/// ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), without overflow.
#[inline(always)]
pub fn softplus<M: MulAdd, T: VFloat>(x: T) -> T {
    let pos = if x > T::ZERO { x } else { T::ZERO };
    pos + log1p_unit::<M, T>(exp_le0::<M, T>(-x.abs()))
}

#[cfg(test)]
pub(crate) mod tests;
