use super::*;

/// Distance in units in the last place between two finite f32 (or both
/// NaN / equal infinities: 0).
pub(crate) fn ulps32(a: f32, b: f32) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    let key = |v: f32| {
        let i = v.to_bits() as i32;
        (if i < 0 { i32::MIN.wrapping_sub(i) } else { i }) as i64
    };
    (key(a) - key(b)).unsigned_abs()
}

pub(crate) fn ulps64(a: f64, b: f64) -> u64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        return 0;
    }
    let key = |v: f64| {
        let i = v.to_bits() as i64;
        (if i < 0 { i64::MIN.wrapping_sub(i) } else { i }) as i128
    };
    (key(a) - key(b)).unsigned_abs() as u64
}

/// Points spread over [lo, hi] plus the awkward ones.
fn grid(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..=n).map(|i| lo + (hi - lo) * i as f64 / n as f64).collect();
    v.extend([0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, f64::INFINITY, f64::NEG_INFINITY]);
    v
}

/// Max ulp error of `f32` and `f64` versions of a function against an
/// `f64` reference (rounded to f32) and a higher-precision-ish reference
/// for f64 (std), over `xs`.
fn check(
    name: &str,
    xs: &[f64],
    f32v: impl Fn(f32) -> f32,
    f64v: impl Fn(f64) -> f64,
    reference: impl Fn(f64) -> f64,
    max32: u64,
    max64: u64,
) {
    for &x in xs {
        let x32 = x as f32;
        let (got, want) = (f32v(x32), reference(x32 as f64) as f32);
        assert!(ulps32(got, want) <= max32, "{name}::<f32>({x32:e}) = {got:e}, want {want:e}");
        let (got, want) = (f64v(x), reference(x));
        // Subnormal f64 results are compared absolutely (std rounds them once, we twice).
        let ok = ulps64(got, want) <= max64 || (want.abs() < 1e-300 && (got - want).abs() < 1e-320);
        assert!(ok, "{name}::<f64>({x:e}) = {got:e}, want {want:e} ({} ulp)", ulps64(got, want));
    }
    assert!(f32v(f32::NAN).is_nan() && f64v(f64::NAN).is_nan(), "{name}(NaN)");
}

/// Runs an accuracy check under both multiply-add policies.
macro_rules! both_policies {
    ($name:ident, $body:ident) => {
        #[test]
        fn $name() {
            $body::<Plain>();
            $body::<Fused>();
        }
    };
}

fn exp_body<M: MulAdd>() {
    check("exp", &grid(-760.0, 720.0, 200_000), exp::<M, f32>, exp::<M, f64>, f64::exp, 2, 2);
    check("exp", &grid(-2.0, 2.0, 100_000), exp::<M, f32>, exp::<M, f64>, f64::exp, 1, 2);
}
both_policies!(exp_within_two_ulp, exp_body);

/// The exponentials as first written: 2^n applied as `(1 + p)·2^h·2^(n−h)`,
/// the reduction's second term an explicit `+ 0`, both clamps.
fn exp_as_written<M: MulAdd, T: VFloat>(x: T) -> T {
    let (n, p) = reduce::<M, T>(clamp(x, T::EXP_MIN, T::EXP_MAX), T::ZERO);
    let half = n >> 1;
    (T::ONE + p) * T::pow2(half) * T::pow2(n - half)
}

fn expm1_as_written<M: MulAdd, T: VFloat>(x: T) -> T {
    let (n, p) = reduce::<M, T>(clamp(x, T::EXPM1_MIN, T::ZERO), T::ZERO);
    let s = T::pow2(n);
    M::ma(s, p, s - T::ONE)
}

fn same_bits_body<M: MulAdd>() {
    let mut xs = grid(-800.0, 800.0, 400_000);
    xs.extend(grid(-1.0, 1.0, 100_000));
    xs.extend([f64::NAN, 1e-40, -1e-40, -87.3, -103.9, 88.7, -745.5, 709.7]);
    for &x in &xs {
        let x32 = x as f32;
        let same32 = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        let same64 = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(same32(exp::<M, f32>(x32), exp_as_written::<M, f32>(x32)), "exp::<f32>({x32:e})");
        assert!(same64(exp::<M, f64>(x), exp_as_written::<M, f64>(x)), "exp::<f64>({x:e})");
        assert!(same32(expm1_nonpos::<M, f32>(x32), expm1_as_written::<M, f32>(x32)), "expm1::<f32>({x32:e})");
        assert!(same64(expm1_nonpos::<M, f64>(x), expm1_as_written::<M, f64>(x)), "expm1::<f64>({x:e})");
        if !(x > 0.0) {
            assert!(same32(exp_le0::<M, f32>(x32), exp::<M, f32>(x32)), "exp_le0::<f32>({x32:e})");
            assert!(same64(exp_le0::<M, f64>(x), exp::<M, f64>(x)), "exp_le0::<f64>({x:e})");
        }
    }
}
both_policies!(exponentials_keep_their_bits, same_bits_body);

fn exp_nonpos_body<M: MulAdd>() {
    let mut xs = grid(-87.0, 0.0, 200_000);
    xs.retain(|&x| x <= 0.0);
    check("exp_nonpos", &xs, exp_nonpos::<M, f32>, exp_nonpos::<M, f64>, f64::exp, 2, 2);
    for x in (0..=100_000).map(|i| -708.0 + 621.0 * i as f64 / 1e5) {
        assert!(ulps64(exp_nonpos::<M, f64>(x), x.exp()) <= 2, "exp_nonpos::<f64>({x:e})");
    }
    for x in [-87.01f32, -100.0, -1e30, f32::NEG_INFINITY] {
        assert_eq!(exp_nonpos::<M, f32>(x), 0.0, "{x}");
    }
    for x in [-708.01f64, -745.0, f64::NEG_INFINITY] {
        assert_eq!(exp_nonpos::<M, f64>(x), 0.0, "{x}");
    }
    assert!(exp_nonpos::<M, f32>(f32::NAN).is_nan() && exp_nonpos::<M, f64>(f64::NAN).is_nan());
    assert_eq!(exp_nonpos::<M, f32>(0.0), 1.0);
}
both_policies!(exp_nonpos_within_two_ulp_of_normal_results, exp_nonpos_body);

fn expm1_body<M: MulAdd>() {
    for (lo, n) in [(-50.0, 200_000), (-1e-3, 10_000)] {
        let mut xs = grid(lo, 0.0, n);
        xs.retain(|&x| x <= 0.0);
        check("expm1", &xs, expm1_nonpos::<M, f32>, expm1_nonpos::<M, f64>, f64::exp_m1, 2, 2);
    }
    assert_eq!(expm1_nonpos::<M, f32>(-1e-30), -1e-30);
}
both_policies!(expm1_within_two_ulp, expm1_body);

fn log1p_body<M: MulAdd>() {
    let mut xs = grid(0.0, 1.0, 200_000);
    xs.retain(|&x| (0.0..=1.0).contains(&x));
    xs.extend((1..300).map(|k| 2f64.powi(-k)));
    check("log1p", &xs, log1p_unit::<M, f32>, log1p_unit::<M, f64>, f64::ln_1p, 2, 2);
}
both_policies!(log1p_within_two_ulp, log1p_body);

fn ln_body<M: MulAdd>() {
    let mut xs: Vec<f64> = (0..200_000).map(|i| 10f64.powf(-30.0 + 60.0 * i as f64 / 200_000.0)).collect();
    xs.extend((0..20_000).map(|i| 0.5 + i as f64 * 1e-4));
    xs.extend([1.0, 2.0, 1e-7, 1.0 - 1e-7]);
    check("ln", &xs, ln::<M, f32>, ln::<M, f64>, f64::ln, 2, 2);
    for x in [f64::MIN_POSITIVE, 1e-300, 1e300, f64::MAX] {
        assert!(ulps64(ln::<M, f64>(x), x.ln()) <= 2, "ln({x:e})");
    }
}
both_policies!(ln_within_two_ulp, ln_body);

fn compositions_body<M: MulAdd>() {
    let xs = grid(-800.0, 800.0, 100_000);
    let xs_small = grid(-20.0, 20.0, 100_000);
    let sig = |x: f64| if x >= 0.0 { 1.0 / (1.0 + (-x).exp()) } else { x.exp() / (1.0 + x.exp()) };
    let sp = |x: f64| x.max(0.0) + (-x.abs()).exp().ln_1p();
    for xs in [&xs, &xs_small] {
        check("sigmoid", xs, sigmoid::<M, f32>, sigmoid::<M, f64>, sig, 3, 4);
        check("tanh", xs, tanh::<M, f32>, tanh::<M, f64>, f64::tanh, 3, 4);
        check("softplus", xs, softplus::<M, f32>, softplus::<M, f64>, sp, 3, 4);
    }
    assert_eq!(tanh::<M, f32>(-0.0).to_bits(), (-0.0f32).to_bits());
}
both_policies!(compositions_within_four_ulp, compositions_body);

/// Φ(x) to 17 digits (mpmath, 40-digit arithmetic).
const PHI_TABLE: [(f64, f64); 34] = [
    (-38.5, 1.4081824631705175e-324),
    (-37.0, 5.7255712225245768e-300),
    (-30.0, 4.9067139271481871e-198),
    (-25.0, 3.0566967063825609e-138),
    (-20.0, 2.7536241186062337e-89),
    (-15.0, 3.6709661993127509e-51),
    (-12.5, 3.7325642988777134e-36),
    (-10.0, 7.6198530241605261e-24),
    (-8.0, 6.2209605742717841e-16),
    (-6.0, 9.8658764503769814e-10),
    (-5.0, 2.8665157187919391e-7),
    (-4.0, 3.1671241833119921e-5),
    (-3.0, 1.3498980316300945e-3),
    (-2.5, 6.2096653257761352e-3),
    (-2.0, 2.2750131948179207e-2),
    (-1.5, 6.6807201268858066e-2),
    (-1.0, 1.5865525393145705e-1),
    (-0.75, 2.266273523768682e-1),
    (-0.5, 3.085375387259869e-1),
    (-0.25, 4.0129367431707628e-1),
    (-0.1, 4.6017216272297102e-1),
    (-0.001, 4.9960105778608894e-1),
    (-1e-08, 4.999999960105772e-1),
    (0.0, 5.0e-1),
    (1e-08, 5.000000039894228e-1),
    (0.001, 5.0039894221391106e-1),
    (0.1, 5.3982783727702898e-1),
    (0.5, 6.914624612740131e-1),
    (1.0, 8.4134474606854295e-1),
    (1.7, 9.5543453724145696e-1),
    (2.5, 9.9379033467422386e-1),
    (4.0, 9.9996832875816688e-1),
    (6.0, 9.9999999901341235e-1),
    (9.0, 1.0),
];

fn normal_cdf_body<M: MulAdd>() {
    let phi = |x: f64| normal_cdf_pdf::<M, f64>(x);
    let phi32 = |x: f32| normal_cdf_pdf::<M, f32>(x);
    for (x, want) in PHI_TABLE {
        let got = phi(x).0;
        let ok = ulps64(got, want) <= 4 || (want < 1e-300 && (got - want).abs() < 1e-320);
        assert!(ok, "Φ::<f64>({x}) = {got:e}, want {want:e} ({} ulp)", ulps64(got, want));
        let (got, want) = (phi32(x as f32).0, want as f32);
        let ok = ulps32(got, want) <= 4 || (want < 1e-37 && (got - want).abs() < 1e-44);
        assert!(ok, "Φ::<f32>({x}) = {got:e}, want {want:e} ({} ulp)", ulps32(got, want));
    }
    // Against erf for x ≥ 0, where 1 + erf does not cancel, on a fine grid.
    for i in 0..=20_000 {
        let x = i as f64 * 1e-3;
        let want = 0.5 * (1.0 + crate::float::erf_f64(x / std::f64::consts::SQRT_2));
        assert!(ulps64(phi(x).0, want) <= 4, "Φ({x})");
        assert!(ulps32(phi32(x as f32).0, want as f32) <= 3, "Φ::<f32>({x})");
    }
    for x in [f64::INFINITY, 1e300, 41.0] {
        assert_eq!(phi(x), (1.0, 0.0));
        assert_eq!(phi(-x), (0.0, 0.0));
        assert_eq!(phi32(x as f32), (1.0, 0.0));
    }
    assert!(phi(f64::NAN).0.is_nan() && phi32(f32::NAN).1.is_nan());
}
both_policies!(normal_cdf_within_four_ulp_including_the_tail, normal_cdf_body);

fn normal_pdf_body<M: MulAdd>() {
    for i in 0..=20_480 {
        // Few significant bits, so that x² is exact in the f64 reference.
        let x = i as f64 / 1024.0 - 10.0;
        let want = (-0.5 * x * x).exp() * 0.398_942_280_401_432_7;
        assert!(ulps64(normal_cdf_pdf::<M, f64>(x).1, want) <= 4, "φ({x})");
        let x32 = x as f32;
        let want = ((-0.5 * (x32 as f64).powi(2)).exp() * 0.398_942_280_401_432_7) as f32;
        assert!(ulps32(normal_cdf_pdf::<M, f32>(x32).1, want) <= 3, "φ::<f32>({x32})");
    }
}
both_policies!(normal_pdf_within_four_ulp, normal_pdf_body);
