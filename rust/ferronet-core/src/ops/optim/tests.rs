//! The updates against scalar reference formulas, under every SIMD path.

use super::*;
use crate::simd;

fn data(n: usize, seed: u64) -> Vec<f64> {
    // A small LCG: deterministic values in [-1, 1).
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

fn close(a: &[f64], b: &[f64], tol: f64) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * (1.0 + y.abs()), "element {i}: {x} vs {y}");
    }
}

// Sizes around block and vector edges, one large enough to run in parallel.
const SIZES: [usize; 4] = [1, 37, BLOCK + 5, 3 * BLOCK + 11];

#[test]
fn sgd_matches_reference() {
    for isa in simd::supported() {
        for &n in &SIZES {
            for (mom, nest) in [(0.0, false), (0.9, false), (0.9, true)] {
                let h = Sgd { learning_rate: 0.1, momentum: mom, nesterov: nest };
                let (mut p, mut vel) = (data(n, 1), data(n, 2));
                let (mut rp, mut rv) = (p.clone(), vel.clone());
                for step in 0..3 {
                    let g = data(n, 10 + step);
                    let vref = if mom == 0.0 { None } else { Some(&mut vel[..]) };
                    sgd_update_on(isa, &mut p, &g, vref, &h).unwrap();
                    for i in 0..n {
                        if mom == 0.0 {
                            rp[i] -= g[i] * 0.1;
                        } else {
                            rv[i] = rv[i] * mom - g[i] * 0.1;
                            rp[i] += if nest { rv[i] * mom - g[i] * 0.1 } else { rv[i] };
                        }
                    }
                }
                close(&p, &rp, 1e-14);
                if mom != 0.0 {
                    close(&vel, &rv, 1e-14);
                }
            }
        }
    }
}

#[test]
fn adam_and_adamw_match_reference() {
    for isa in simd::supported() {
        for &n in &SIZES {
            for (wd, ams) in [(0.0, false), (0.0, true), (0.004, false), (0.01, true)] {
                let (mut p, mut m, mut v, mut vh) = (data(n, 1), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                let (mut rp, mut rm, mut rv, mut rvh) = (p.clone(), m.clone(), v.clone(), vh.clone());
                for step in 1..=4u64 {
                    let g = data(n, 20 + step);
                    let h = Adam { learning_rate: 0.01, weight_decay: wd, step, ..Adam::default() };
                    let vhat = if ams { Some(&mut vh[..]) } else { None };
                    adam_update_on(isa, "adam_update", &mut p, &g, &mut m, &mut v, vhat, &h).unwrap();
                    let t = step as f64;
                    let alpha = 0.01 * (1.0 - 0.999f64.powf(t)).sqrt() / (1.0 - 0.9f64.powf(t));
                    for i in 0..n {
                        rp[i] -= rp[i] * (0.01 * wd);
                        rm[i] += (g[i] - rm[i]) * (1.0 - 0.9);
                        rv[i] += (g[i] * g[i] - rv[i]) * (1.0 - 0.999);
                        rvh[i] = rvh[i].max(rv[i]);
                        let den = if ams { rvh[i] } else { rv[i] };
                        rp[i] -= rm[i] * alpha / (den.sqrt() + 1e-7);
                    }
                }
                close(&p, &rp, 1e-13);
                close(&m, &rm, 1e-13);
                close(&v, &rv, 1e-13);
            }
        }
    }
}

#[test]
fn rmsprop_matches_reference() {
    for isa in simd::supported() {
        for &n in &SIZES {
            for (mom, centered) in [(0.0, false), (0.5, false), (0.0, true), (0.5, true)] {
                let h = RmsProp { learning_rate: 0.01, momentum: mom, ..RmsProp::default() };
                let (mut p, mut vel, mut mb, mut avg) = (data(n, 1), vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                let (mut rp, mut rv, mut rmb, mut ravg) = (p.clone(), vel.clone(), mb.clone(), avg.clone());
                for step in 0..3 {
                    let g = data(n, 30 + step);
                    let mbr = if mom > 0.0 { Some(&mut mb[..]) } else { None };
                    let avr = if centered { Some(&mut avg[..]) } else { None };
                    rmsprop_update_on(isa, &mut p, &g, &mut vel, mbr, avr, &h).unwrap();
                    for i in 0..n {
                        rv[i] = 0.9 * rv[i] + 0.1 * g[i] * g[i];
                        let den = if centered {
                            ravg[i] = 0.9 * ravg[i] + 0.1 * g[i];
                            rv[i] - ravg[i] * ravg[i] + 1e-7
                        } else {
                            rv[i] + 1e-7
                        };
                        let inc = 0.01 * g[i] / den.sqrt();
                        if mom > 0.0 {
                            rmb[i] = mom * rmb[i] + inc;
                            rp[i] -= rmb[i];
                        } else {
                            rp[i] -= inc;
                        }
                    }
                }
                close(&p, &rp, 1e-12);
                close(&vel, &rv, 1e-12);
            }
        }
    }
}

#[test]
fn adagrad_matches_reference() {
    for isa in simd::supported() {
        for &n in &SIZES {
            let h = Adagrad { learning_rate: 0.05, epsilon: 1e-7 };
            let (mut p, mut acc) = (data(n, 1), vec![0.1; n]);
            let (mut rp, mut racc) = (p.clone(), acc.clone());
            for step in 0..3 {
                let g = data(n, 40 + step);
                adagrad_update_on(isa, &mut p, &g, &mut acc, &h).unwrap();
                for i in 0..n {
                    racc[i] += g[i] * g[i];
                    rp[i] -= 0.05 * g[i] / (racc[i] + 1e-7).sqrt();
                }
            }
            close(&p, &rp, 1e-13);
            close(&acc, &racc, 1e-13);
        }
    }
}

#[test]
fn f32_paths_agree_bitwise() {
    // No FMA contraction happens in these loops, so every ISA rounds alike.
    let n = 2 * BLOCK + 3;
    let g: Vec<f32> = data(n, 7).iter().map(|&v| v as f32).collect();
    let mut results = vec![];
    for isa in simd::supported() {
        let (mut p, mut m, mut v): (Vec<f32>, _, _) =
            (data(n, 3).iter().map(|&v| v as f32).collect(), vec![0f32; n], vec![0f32; n]);
        let h = Adam { step: 3, ..Adam::default() };
        adam_update_on(isa, "adam_update", &mut p, &g, &mut m, &mut v, None, &h).unwrap();
        results.push(p);
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn bad_arguments_are_reported() {
    let (mut p, g) = (vec![0f32; 4], vec![0f32; 3]);
    let e = sgd_update(&mut p, &g, None, &Sgd::default()).unwrap_err();
    assert!(e.to_string().contains("param has 4, grad has 3"), "{e}");
    let g = vec![0f32; 4];
    let e = sgd_update(&mut p, &g, None, &Sgd { momentum: 0.9, ..Sgd::default() }).unwrap_err();
    assert!(e.to_string().contains("velocity=None"), "{e}");
    let (mut m, mut v) = (vec![0f32; 4], vec![0f32; 4]);
    let e = adam_update(&mut p, &g, &mut m, &mut v, None, &Adam { step: 0, ..Adam::default() }).unwrap_err();
    assert!(e.to_string().contains("step=0"), "{e}");
    let e = adam_update(&mut p, &g, &mut m, &mut v, None, &Adam { beta_1: 1.0, ..Adam::default() }).unwrap_err();
    assert!(e.to_string().contains("beta_1=1"), "{e}");
    let e =
        rmsprop_update(&mut p, &g, &mut v, None, None, &RmsProp { momentum: 0.9, ..RmsProp::default() }).unwrap_err();
    assert!(e.to_string().contains("momentum_buf=None"), "{e}");
}
