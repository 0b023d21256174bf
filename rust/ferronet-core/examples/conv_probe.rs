//! Convolution throughput probe:
//! `cargo run --release -p ferronet-core --example conv_probe -- N H W C F K [REPS [fwd|dw|dx]]`
//! times the forward pass (with ReLU), the weight gradient (with db) and the
//! input gradient of a stride-1 'valid' K×K float32 convolution on NHWC input
//! (threads: FERRONET_NUM_THREADS), printing the best time and GFLOP/s of each
//! (or of the one named, e.g. under callgrind).

use ferronet_core::gemm::Precision;
use ferronet_core::ops::activation::Activation;
use ferronet_core::ops::conv2d::Conv2d;
use ferronet_core::shape::Padding;
use std::time::Instant;

fn best(reps: usize, mut f: impl FnMut()) -> f64 {
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::MAX, f64::min)
}

fn main() {
    let a: Vec<usize> = std::env::args().skip(1).take(7).map(|s| s.parse().unwrap()).collect();
    let (n, h, w, c, f, k) = (a[0], a[1], a[2], a[3], a[4], a[5]);
    let reps = a.get(6).copied().unwrap_or(10);
    let only = std::env::args().nth(8);
    let run = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let g = Conv2d::new(&[n, h, w, c], &[k, k, c, f], (1, 1), Padding::Valid, (1, 1)).unwrap();
    let x: Vec<f32> = (0..n * h * w * c).map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5).collect();
    let wt: Vec<f32> = (0..k * k * c * f).map(|i| ((i * 104729) % 1000) as f32 * 1e-3 - 0.5).collect();
    let b = vec![0.1f32; f];
    let mut y = vec![0f32; g.output_shape().iter().product()];
    let dy: Vec<f32> = (0..y.len()).map(|i| ((i * 31) % 100) as f32 * 1e-2 - 0.5).collect();
    let (mut dx, mut dw, mut db) = (vec![0f32; x.len()], vec![0f32; wt.len()], vec![0f32; f]);
    let [_, oh, ow, _] = g.output_shape();
    let flops = 2.0 * (n * oh * ow * f * k * k * c) as f64;
    let report = |name: &str, t: f64| println!("{name:>8}: {:8.3} ms {:6.1} GFLOP/s", t * 1e3, flops / t / 1e9);
    if run("fwd") {
        report(
            "forward",
            best(reps, || g.forward(&x, &wt, Some(&b), Some(Activation::Relu), &mut y, Precision::Float32).unwrap()),
        );
    }
    if run("dw") {
        report(
            "dW+db",
            best(reps, || g.backward(&dy, &x, &wt, None, Some(&mut dw), Some(&mut db), Precision::Float32).unwrap()),
        );
    }
    if run("dx") {
        report("dx", best(reps, || g.backward(&dy, &x, &wt, Some(&mut dx), None, None, Precision::Float32).unwrap()));
    }
}
