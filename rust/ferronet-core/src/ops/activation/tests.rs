//! Every activation against its float64 formula and central differences, under every SIMD path.

/// Kernels flush subnormal results (and intermediates) to zero (crate::fpenv):
/// values within ~100x the smallest normal float32 of zero may come out as zero.
const FLUSHED_F32: f64 = 100.0 * f32::MIN_POSITIVE as f64;
use super::*;

const ALL: [Activation; 10] = [
    Activation::Relu,
    Activation::LeakyRelu { negative_slope: 0.2 },
    Activation::Elu { alpha: 1.0 },
    Activation::Elu { alpha: 0.5 },
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Softplus,
    Activation::Gelu { approximate: false },
    Activation::Gelu { approximate: true },
    Activation::Silu,
];

#[test]
fn in_place_equals_out_of_place() {
    let xs: Vec<f32> = (0..3000).map(|i| (i as f32 - 1500.0) * 0.0131).chain([f32::NAN, -0.0]).collect();
    for act in ALL {
        let mut want = vec![0.0; xs.len()];
        forward(act, &xs, &mut want).unwrap();
        let mut got = xs.clone();
        forward_in_place(act, &mut got).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&want), "{}", act.name());
    }
}

/// Straightforward f64 definitions (std functions).
fn reference(act: Activation, x: f64) -> f64 {
    let sig = |x: f64| {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    };
    match act {
        Activation::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        Activation::LeakyRelu { negative_slope } => {
            if x < 0.0 {
                negative_slope * x
            } else {
                x
            }
        }
        Activation::Elu { alpha } => {
            if x > 0.0 {
                x
            } else {
                alpha * x.exp_m1()
            }
        }
        Activation::Sigmoid => sig(x),
        Activation::Tanh => x.tanh(),
        Activation::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        Activation::Gelu { approximate: false } => {
            0.5 * x * (1.0 + crate::float::erf_f64(x / std::f64::consts::SQRT_2))
        }
        // = x/2·(1 + tanh(u)), without its cancellation for x < 0
        Activation::Gelu { approximate: true } => x * sig(2.0 * GELU_K * (x + GELU_C * x * x * x)),
        Activation::Silu => x * sig(x),
    }
}

fn inputs(n: usize) -> Vec<f64> {
    // A deterministic spread over [-12, 12], plus the edges.
    let mut v: Vec<f64> = (0..n).map(|i| ((i as f64 * 0.618_033_988_75).fract() - 0.5) * 24.0).collect();
    v.extend([0.0, -0.0, 1e-6, -1e-6, 40.0, -40.0, 1e30, -1e30, f64::INFINITY, f64::NEG_INFINITY, f64::NAN]);
    v
}

fn close(got: f64, want: f64, rtol: f64, atol: f64) -> bool {
    (got.is_nan() && want.is_nan()) || got == want || (got - want).abs() <= atol + rtol * want.abs()
}

#[test]
fn forward_matches_reference_on_every_path() {
    let xs = inputs(100_003); // over several blocks, odd tail
    for isa in simd::supported() {
        for act in ALL {
            let x32: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
            let mut y32 = vec![0f32; xs.len()];
            forward_on(isa, act, &x32, &mut y32).unwrap();
            let mut y64 = vec![0f64; xs.len()];
            forward_on(isa, act, &xs, &mut y64).unwrap();
            for i in 0..xs.len() {
                // NOTE: tanh-GELU rounds its argument 2u = 2√(2/π)(x + 0.044715x³)
                // before the exponential, which multiplies that rounding error by |2u|.
                let amplify = match act {
                    Activation::Gelu { approximate: true } => {
                        1.0 + (2.0 * GELU_K * (xs[i] + GELU_C * xs[i].powi(3))).abs()
                    }
                    _ => 1.0,
                };
                // NOTE: the reference for exact GELU is x/2·(1 + erf(x/√2)), which
                // cancels for x < 0: it is only good to ~1e-16·|x| absolutely there
                // (vmath's tests check Φ's tail against an exact table).
                let gelu = act == Activation::Gelu { approximate: false };
                let atol = |x: f64| if gelu { 1e-16 * x.abs() } else { 0.0 };
                let want = reference(act, x32[i] as f64);
                assert!(
                    close(y32[i] as f64, want, 1e-6 * amplify, FLUSHED_F32 + atol(x32[i] as f64)),
                    "{isa:?} {act:?} f32 x={} got {} want {want}",
                    x32[i],
                    y32[i]
                );
                let want = reference(act, xs[i]);
                assert!(
                    close(y64[i], want, 1e-14 * amplify, 1e-300 + atol(xs[i])),
                    "{isa:?} {act:?} f64 x={} got {} want {want}",
                    xs[i],
                    y64[i]
                );
            }
        }
    }
}

#[test]
fn fma_paths_round_identically() {
    // AVX2 and AVX-512 evaluate the same fused operations in the same
    // order, so they agree bit for bit (the portable path, without FMA,
    // is held to the reference by the test above instead).
    let fma_paths: Vec<Isa> = simd::supported().into_iter().filter(|&i| has_fma(i)).collect();
    let Some(&first) = fma_paths.first() else { return };
    let xs: Vec<f32> = inputs(5_001).iter().map(|&v| v as f32).collect();
    let dy: Vec<f32> = (0..xs.len()).map(|i| (i % 7) as f32 - 3.0).collect();
    for act in ALL {
        let mut want = vec![0f32; xs.len()];
        forward_on(first, act, &xs, &mut want).unwrap();
        let mut want_dx = vec![0f32; xs.len()];
        backward_on(first, act, &dy, &xs, &mut want_dx).unwrap();
        for &isa in &fma_paths {
            let mut got = vec![0f32; xs.len()];
            forward_on(isa, act, &xs, &mut got).unwrap();
            let mut dx = vec![0f32; xs.len()];
            backward_on(isa, act, &dy, &xs, &mut dx).unwrap();
            for i in 0..xs.len() {
                // Bitwise, except that a NaN's sign may differ.
                let same = |a: f32, b: f32| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
                assert!(same(got[i], want[i]), "{isa:?} {act:?} x={}", xs[i]);
                assert!(same(dx[i], want_dx[i]), "{isa:?} {act:?}' x={}", xs[i]);
            }
        }
    }
}

#[test]
fn backward_matches_central_differences() {
    // Away from the kinks of relu/leaky_relu/elu at 0.
    let xs: Vec<f64> = inputs(2_001).into_iter().filter(|x| x.is_finite() && x.abs() > 1e-3).collect();
    let dy: Vec<f64> = (0..xs.len()).map(|i| 1.0 + (i % 5) as f64 * 0.25).collect();
    for isa in simd::supported() {
        for act in ALL {
            let saved: Vec<f64> =
                if act.backward_takes_output() { xs.iter().map(|&x| reference(act, x)).collect() } else { xs.clone() };
            let mut dx = vec![0f64; xs.len()];
            backward_on(isa, act, &dy, &saved, &mut dx).unwrap();
            for i in 0..xs.len() {
                let h = 1e-6 * xs[i].abs().max(1.0);
                let num = (reference(act, xs[i] + h) - reference(act, xs[i] - h)) / (2.0 * h) * dy[i];
                assert!(close(dx[i], num, 1e-6, 1e-8), "{isa:?} {act:?}' x={} got {} want {num}", xs[i], dx[i]);
            }
        }
    }
}

#[test]
fn rejects_bad_arguments() {
    let mut out = [0f32; 2];
    assert!(forward(Activation::Relu, &[1f32; 3], &mut out).is_err());
    let e = forward(Activation::Elu { alpha: f64::NAN }, &[1f32; 2], &mut out).unwrap_err();
    assert!(e.to_string().contains("alpha=NaN"), "{e}");
    assert!(backward(Activation::Sigmoid, &[1f32; 2], &[1f32; 3], &mut out).is_err());
    forward::<f32>(Activation::Tanh, &[], &mut []).unwrap();
}
