use super::*;
use crate::parallel;
use crate::testing::uniform as data;

/// Direct definition: y[b,oy,ox,ci·dm+m] = Σ x[b, oy·s+i·d-p, ox·s+j·d-p, ci] · k[i,j,ci,m].
fn naive(g: &Depthwise2d, x: &[f64], k: &[f64]) -> Vec<f64> {
    let [n, oh, ow, cw] = g.output_shape();
    let (c, dm, ih, iw) = (g.channels, g.multiplier, g.h.input, g.w.input);
    let mut y = vec![0.0; n * oh * ow * cw];
    for b in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for ci in 0..c {
                    for m in 0..dm {
                        let mut s = 0.0;
                        for i in 0..g.h.size {
                            for j in 0..g.w.size {
                                if let (Some(iy), Some(ix)) = (g.h.source(oy, i), g.w.source(ox, j)) {
                                    s += x[((b * ih + iy) * iw + ix) * c + ci]
                                        * k[((i * g.w.size + j) * c + ci) * dm + m];
                                }
                            }
                        }
                        y[((b * oh + oy) * ow + ox) * cw + ci * dm + m] = s;
                    }
                }
            }
        }
    }
    y
}

/// Small channel counts run the generic loop only; wider ones the tiles on
/// their interior pixels and whole vectors, with the rest generic: rows of
/// several pixel tiles, leftover channels, strides, dilation, multipliers,
/// one-row kernels and windows wider than a tile.
const CASES: [([usize; 4], [usize; 4], (usize, usize), Padding, (usize, usize)); 11] = [
    ([2, 7, 6, 3], [3, 3, 3, 1], (1, 1), Padding::Same, (1, 1)),
    ([1, 9, 8, 5], [3, 2, 5, 2], (2, 2), Padding::Same, (1, 1)),
    ([2, 8, 8, 17], [3, 3, 17, 3], (1, 2), Padding::Valid, (1, 1)),
    ([1, 10, 9, 4], [3, 3, 4, 1], (1, 1), Padding::Same, (2, 2)),
    ([3, 5, 5, 33], [5, 5, 33, 1], (2, 1), Padding::Valid, (1, 1)),
    ([2, 6, 37, 40], [3, 3, 40, 1], (1, 1), Padding::Same, (1, 1)),
    ([1, 7, 33, 16], [3, 3, 16, 2], (1, 1), Padding::Same, (1, 1)),
    ([1, 9, 40, 24], [3, 3, 24, 1], (1, 1), Padding::Same, (2, 3)),
    ([2, 5, 41, 32], [3, 5, 32, 1], (2, 3), Padding::Same, (1, 1)),
    ([1, 1, 50, 48], [1, 7, 48, 1], (1, 1), Padding::Same, (1, 1)),
    ([1, 4, 20, 8], [2, 2, 8, 4], (1, 1), Padding::Valid, (1, 1)),
];

#[test]
fn forward_and_gradients_match_the_definition_on_every_path() {
    for isa in simd::supported() {
        for (xs, ks, st, pad, dil) in CASES {
            let g = Depthwise2d::new(&xs, &ks, st, pad, dil).unwrap();
            let (x, k) = (data(xs.iter().product(), 1), data(ks.iter().product(), 2));
            let bias = data(g.wide(), 3);
            let ys = g.output_shape();
            let mut y = vec![f64::NAN; ys.iter().product()];
            g.forward_on(isa, &x, &k, Some(&bias), &mut y).unwrap();
            let want = naive(&g, &x, &k);
            for (i, (a, b)) in y.iter().zip(&want).enumerate() {
                assert!((a - b - bias[i % g.wide()]).abs() < 1e-12, "{isa:?} {xs:?} {i}");
            }
            // Gradients as directional derivatives of the linear map <dy, y(x, k)>.
            let dy = data(y.len(), 4);
            let (mut dx, mut dk, mut db) = (vec![f64::NAN; x.len()], vec![f64::NAN; k.len()], vec![0.0; g.wide()]);
            g.backward_on(isa, &dy, &x, &k, Some(&mut dx), Some(&mut dk), Some(&mut db)).unwrap();
            let (ux, uk) = (data(x.len(), 5), data(k.len(), 6));
            let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
            assert!((dot(&dy, &naive(&g, &ux, &k)) - dot(&dx, &ux)).abs() < 1e-10, "{isa:?} dx {xs:?}");
            assert!((dot(&dy, &naive(&g, &x, &uk)) - dot(&dk, &uk)).abs() < 1e-10, "{isa:?} dk {xs:?}");
            for (ch, &v) in db.iter().enumerate() {
                let s: f64 = dy.iter().skip(ch).step_by(g.wide()).sum();
                assert!((v - s).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (xs, ks) = ([8, 28, 28, 32], [3, 3, 32, 2]);
    let g = Depthwise2d::new(&xs, &ks, (1, 1), Padding::Same, (1, 1)).unwrap();
    let (x, k) = (data(xs.iter().product(), 7), data(ks.iter().product(), 8));
    let x: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let k: Vec<f32> = k.iter().map(|&v| v as f32).collect();
    let threads = parallel::num_threads();
    let run = |t| {
        parallel::set_num_threads(t);
        let mut y = vec![0f32; g.output_shape().iter().product()];
        g.forward(&x, &k, None, &mut y).unwrap();
        let (mut dx, mut dk, mut db) = (vec![0f32; x.len()], vec![0f32; k.len()], vec![0f32; g.wide()]);
        g.backward(&y, &x, &k, Some(&mut dx), Some(&mut dk), Some(&mut db)).unwrap();
        (y, dx, dk, db)
    };
    let one = run(1);
    let three = run(3);
    parallel::set_num_threads(threads);
    assert!(one == three);
}

#[test]
fn mismatched_shapes_are_errors() {
    assert!(Depthwise2d::new(&[1, 4, 4, 3], &[3, 3, 2, 1], (1, 1), Padding::Same, (1, 1)).is_err());
    let g = Depthwise2d::new(&[1, 4, 4, 3], &[3, 3, 3, 1], (1, 1), Padding::Same, (1, 1)).unwrap();
    assert!(g.forward(&[0f32; 47], &[0f32; 27], None, &mut [0f32; 48]).is_err());
    assert!(g.forward(&[0f32; 48], &[0f32; 27], Some(&[0f32; 2]), &mut [0f32; 48]).is_err());
}
