use super::backward::backward_on;
use super::forward::forward_on;
use super::*;

/// Straightforward f64 attention with the full score matrix: (out, dq, dk, dv).
fn reference(a: &Attention<'_, f64>, dout: &[f64]) -> [Vec<f64>; 4] {
    let d = a.dims;
    let (mut out, mut dq, mut dk, mut dv) =
        (vec![0.0; d.out_len()], vec![0.0; d.q_len()], vec![0.0; d.k_len()], vec![0.0; d.v_len()]);
    let qi = |b: usize, i: usize, h: usize, c: usize| ((b * d.tq + i) * d.heads + h) * d.dk + c;
    let ki = |b: usize, j: usize, h: usize, c: usize| ((b * d.tk + j) * d.heads + h) * d.dk + c;
    let vi = |b: usize, j: usize, h: usize, c: usize| ((b * d.tk + j) * d.heads + h) * d.dv + c;
    let oi = |b: usize, i: usize, h: usize, c: usize| ((b * d.tq + i) * d.heads + h) * d.dv + c;
    let at = |m: &Broadcast<'_, bool>, idx: [usize; 4]| {
        let mut o = 0;
        for ax in 0..4 {
            o = o * m.shape[ax] + if m.shape[ax] == 1 { 0 } else { idx[ax] };
        }
        o
    };
    for b in 0..d.batch {
        for h in 0..d.heads {
            for i in 0..d.tq {
                let mut s = vec![f64::NEG_INFINITY; d.tk];
                for (j, sj) in s.iter_mut().enumerate() {
                    let visible = !(a.causal && j > i) && a.mask.as_ref().is_none_or(|m| m.data[at(m, [b, h, i, j])]);
                    if visible {
                        let dotp: f64 = (0..d.dk).map(|c| a.q[qi(b, i, h, c)] * a.k[ki(b, j, h, c)]).sum();
                        let bias = a.bias.as_ref().map_or(0.0, |bb| {
                            let shape = Broadcast { data: &[] as &[bool], shape: bb.shape };
                            bb.data[at(&shape, [b, h, i, j])]
                        });
                        *sj = a.scale * dotp + bias;
                    }
                }
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let p: Vec<f64> = if m == f64::NEG_INFINITY {
                    vec![1.0 / d.tk as f64; d.tk]
                } else {
                    let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    e.iter().map(|x| x / z).collect()
                };
                for c in 0..d.dv {
                    out[oi(b, i, h, c)] = (0..d.tk).map(|j| p[j] * a.v[vi(b, j, h, c)]).sum();
                }
                let dp: Vec<f64> =
                    (0..d.tk).map(|j| (0..d.dv).map(|c| dout[oi(b, i, h, c)] * a.v[vi(b, j, h, c)]).sum()).collect();
                let delta: f64 = (0..d.tk).map(|j| p[j] * dp[j]).sum();
                for j in 0..d.tk {
                    let ds = if m == f64::NEG_INFINITY { 0.0 } else { p[j] * (dp[j] - delta) };
                    for c in 0..d.dk {
                        dq[qi(b, i, h, c)] += a.scale * ds * a.k[ki(b, j, h, c)];
                        dk[ki(b, j, h, c)] += a.scale * ds * a.q[qi(b, i, h, c)];
                    }
                    for c in 0..d.dv {
                        dv[vi(b, j, h, c)] += p[j] * dout[oi(b, i, h, c)];
                    }
                }
            }
        }
    }
    [out, dq, dk, dv]
}

fn data(n: usize, seed: u64) -> Vec<f64> {
    (0..n).map(|i| (((i as u64 * 2_654_435_761 + seed * 97) % 10_007) as f64 / 10_007.0 - 0.5) * 3.0).collect()
}

fn to32(x: &[f64]) -> Vec<f32> {
    x.iter().map(|&v| v as f32).collect()
}

/// Runs forward and backward on `isa` in `T` and returns the four results in f64.
fn run<T: VFloat>(isa: Isa, a: &Attention<'_, T>, dout: &[T]) -> [Vec<f64>; 4] {
    let d = a.dims;
    let (mut out, mut lse) = (vec![T::ZERO; d.out_len()], vec![T::ZERO; d.lse_len()]);
    forward_on(isa, a, &mut out, &mut lse).unwrap();
    let (mut dq, mut dk, mut dv) = (vec![T::ZERO; d.q_len()], vec![T::ZERO; d.k_len()], vec![T::ZERO; d.v_len()]);
    backward_on(isa, a, &out, &lse, dout, &mut dq, &mut dk, &mut dv).unwrap();
    [out, dq, dk, dv].map(|v| v.iter().map(|x| x.to_f64()).collect())
}

use crate::simd::Isa;

#[test]
fn matches_reference_with_masks_bias_and_causal_on_every_path() {
    let cases = [
        Dims { batch: 2, heads: 3, tq: 5, tk: 7, dk: 4, dv: 3 },
        Dims { batch: 1, heads: 2, tq: 70, tk: 130, dk: 16, dv: 16 },
        Dims { batch: 2, heads: 1, tq: 33, tk: 33, dk: 5, dv: 9 },
        // more keys than a group of rows keeps whole: the online softmax, tile by tile
        Dims { batch: 1, heads: 2, tq: 6, tk: 1100, dk: 4, dv: 3 },
    ];
    for d in cases {
        let (q, k, v) = (data(d.q_len(), 1), data(d.k_len(), 2), data(d.v_len(), 3));
        let dout = data(d.out_len(), 4);
        // A (batch, 1, tq, tk) mask hiding about a third of the keys and one query row entirely.
        let mask: Vec<bool> =
            (0..d.batch * d.tq * d.tk).map(|n| (n * 7 + n / d.tk) % 3 != 0 && n / d.tk % d.tq != 1).collect();
        let bias = data(d.heads * d.tk, 5);
        for (causal, masked, biased) in
            [(false, false, false), (true, false, false), (false, true, true), (true, true, false)]
        {
            let a = Attention {
                q: &q,
                k: &k,
                v: &v,
                dims: d,
                scale: 0.5,
                causal,
                mask: masked.then_some(Broadcast { data: &mask, shape: [d.batch, 1, d.tq, d.tk] }),
                bias: biased.then_some(Broadcast { data: &bias, shape: [1, d.heads, 1, d.tk] }),
            };
            let want = reference(&a, &dout);
            let (q32, k32, v32, b32, g32) = (to32(&q), to32(&k), to32(&v), to32(&bias), to32(&dout));
            let a32 = Attention {
                q: &q32,
                k: &k32,
                v: &v32,
                dims: d,
                scale: 0.5f32,
                causal,
                mask: a.mask,
                bias: biased.then_some(Broadcast { data: &b32, shape: [1, d.heads, 1, d.tk] }),
            };
            for isa in crate::simd::supported() {
                let got = run(isa, &a, &dout);
                let got32 = run(isa, &a32, &g32);
                for (n, name) in ["out", "dq", "dk", "dv"].iter().enumerate() {
                    for (idx, (&g, &w)) in got[n].iter().zip(&want[n]).enumerate() {
                        assert!(
                            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                            "{isa:?} {d:?} {causal} {masked} {name}[{idx}]: {g} vs {w}"
                        );
                    }
                    for (idx, (&g, &w)) in got32[n].iter().zip(&want[n]).enumerate() {
                        assert!(
                            (g - w).abs() <= 2e-5 * (1.0 + w.abs()),
                            "{isa:?} f32 {d:?} {causal} {masked} {name}[{idx}]: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn same_bits_for_any_thread_count() {
    let d = Dims { batch: 3, heads: 4, tq: 100, tk: 90, dk: 8, dv: 8 };
    let (q, k, v) = (to32(&data(d.q_len(), 1)), to32(&data(d.k_len(), 2)), to32(&data(d.v_len(), 3)));
    let dout = to32(&data(d.out_len(), 4));
    let a = Attention { q: &q, k: &k, v: &v, dims: d, scale: 0.3f32, causal: true, mask: None, bias: None };
    let threads = crate::parallel::num_threads();
    let mut results = vec![];
    for t in [1, 3] {
        crate::parallel::set_num_threads(t);
        results.push(run(crate::simd::active(), &a, &dout));
    }
    crate::parallel::set_num_threads(threads);
    assert!(results[0] == results[1]);
}

#[test]
fn rejects_bad_sizes_and_masks() {
    let d = Dims { batch: 1, heads: 2, tq: 3, tk: 4, dk: 2, dv: 2 };
    let (q, k, v) = (vec![0f32; 12], vec![0f32; 16], vec![0f32; 16]);
    let (mut out, mut lse) = (vec![0f32; 12], vec![0f32; 6]);
    let mut a = Attention { q: &q[..11], k: &k, v: &v, dims: d, scale: 1.0, causal: false, mask: None, bias: None };
    let e = attention_forward(&a, &mut out, &mut lse).unwrap_err().to_string();
    assert!(e.contains("q must have 12 elements") && e.contains("Received: q has 11"), "{e}");
    a.q = &q;
    let mask = [true; 6];
    a.mask = Some(Broadcast { data: &mask, shape: [1, 1, 3, 2] });
    let e = attention_forward(&a, &mut out, &mut lse).unwrap_err().to_string();
    assert!(e.contains("mask must broadcast to (batch, heads, queries, keys) = (1, 2, 3, 4)"), "{e}");
    a.mask = None;
    a.scale = f32::NAN;
    assert!(attention_forward(&a, &mut out, &mut lse).is_err());
    // Rows gathered through i32 offsets: heads × dim past 2^27 is refused (no batch: no data).
    let huge = Dims { batch: 0, heads: 1 << 24, tq: 1, tk: 1, dk: 16, dv: 8 };
    let a = Attention { q: &[], k: &[], v: &[], dims: huge, scale: 1.0f32, causal: false, mask: None, bias: None };
    let e = attention_forward(&a, &mut [], &mut []).unwrap_err().to_string();
    assert!(e.contains("below 2^27") && e.contains("heads=16777216, key_dim=16"), "{e}");
}
