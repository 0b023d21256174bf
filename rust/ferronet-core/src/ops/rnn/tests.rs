use super::*;
use crate::parallel;
use crate::testing::uniform;

/// Naive per-step reference in f64 (Keras' equations), returning the states.
fn reference(rnn: &Rnn, w: &Weights<'_, f64>, inp: &Inputs<'_, f64>) -> Vec<f64> {
    let (nb, nt, nf, u, gu, su) = (rnn.batch, rnn.steps, rnn.features, rnn.units, rnn.gu(), rnn.su());
    let f = |a: Act, x: f64| match a {
        Act::Linear => x,
        Act::Tanh => x.tanh(),
        Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Act::Relu => x.max(0.0),
    };
    let (act, ract) = (rnn.activation, rnn.recurrent_activation);
    let mut out = vec![0.0; nb * nt * su];
    for b in 0..nb {
        let mut h: Vec<f64> = inp.h0[b * u..(b + 1) * u].to_vec();
        let mut c: Vec<f64> = inp.c0.map_or(vec![0.0; u], |c| c[b * u..(b + 1) * u].to_vec());
        for s in 0..nt {
            let row = b * nt + s;
            if inp.mask.is_none_or(|m| m[row] != 0) {
                let hd: Vec<f64> = (0..u).map(|j| h[j] * inp.recurrent_scale.map_or(1.0, |k| k[b * u + j])).collect();
                let xw = |g: usize| {
                    (0..nf).map(|i| inp.x[row * nf + i] * w.kernel[i * gu + g]).sum::<f64>()
                        + w.bias.map_or(0.0, |bb| bb[g])
                };
                let hr = |g: usize| (0..u).map(|i| hd[i] * w.recurrent[i * gu + g]).sum::<f64>();
                let rb = |g: usize| if rnn.cell == Cell::Gru { w.bias.map_or(0.0, |bb| bb[gu + g]) } else { 0.0 };
                let (mut nh, mut nc) = (vec![0.0; u], c.clone());
                for j in 0..u {
                    match rnn.cell {
                        Cell::Simple => nh[j] = f(act, xw(j) + hr(j)),
                        Cell::Lstm => {
                            let i = f(ract, xw(j) + hr(j));
                            let fg = f(ract, xw(u + j) + hr(u + j));
                            let g = f(act, xw(2 * u + j) + hr(2 * u + j));
                            let o = f(ract, xw(3 * u + j) + hr(3 * u + j));
                            nc[j] = fg * c[j] + i * g;
                            nh[j] = o * f(act, nc[j]);
                        }
                        Cell::Gru => {
                            let z = f(ract, xw(j) + hr(j) + rb(j));
                            let r = f(ract, xw(u + j) + hr(u + j) + rb(u + j));
                            let hh = f(act, xw(2 * u + j) + r * (hr(2 * u + j) + rb(2 * u + j)));
                            nh[j] = z * h[j] + (1.0 - z) * hh;
                        }
                        Cell::GruResetBefore => {
                            let z = f(ract, xw(j) + hr(j));
                            let r = |i: usize| f(ract, xw(u + i) + hr(u + i));
                            let rh = (0..u).map(|i| r(i) * hd[i] * w.recurrent[i * gu + 2 * u + j]).sum::<f64>();
                            let hh = f(act, xw(2 * u + j) + rh);
                            nh[j] = z * h[j] + (1.0 - z) * hh;
                        }
                    }
                }
                h = nh;
                c = nc;
            }
            out[row * su..row * su + u].copy_from_slice(&h);
            if rnn.cell == Cell::Lstm {
                out[row * su + u..(row + 1) * su].copy_from_slice(&c);
            }
        }
    }
    out
}

struct Case {
    rnn: Rnn,
    x: Vec<f64>,
    kernel: Vec<f64>,
    recurrent: Vec<f64>,
    bias: Vec<f64>,
    h0: Vec<f64>,
    c0: Vec<f64>,
    mask: Vec<u8>,
    scale: Vec<f64>,
}

fn case(cell: Cell, act: Act, nb: usize, nt: usize, nf: usize, u: usize) -> Case {
    let rnn =
        Rnn { cell, activation: act, recurrent_activation: Act::Sigmoid, batch: nb, steps: nt, features: nf, units: u };
    let (gu, bl) = (rnn.gu(), rnn.bias_len());
    let mask = (0..nb * nt).map(|i| u8::from(i % nt < nt - i / nt % 3 && i % 5 != 3)).collect();
    Case {
        rnn,
        x: uniform(nb * nt * nf, 1),
        kernel: uniform(nf * gu, 2).iter().map(|v| v * 0.6).collect(),
        recurrent: uniform(u * gu, 3).iter().map(|v| v * 0.6).collect(),
        bias: uniform(bl, 4).iter().map(|v| v * 0.3).collect(),
        h0: uniform(nb * u, 5).iter().map(|v| v * 0.5).collect(),
        c0: uniform(nb * u, 6),
        mask,
        scale: uniform(nb * u, 7).iter().map(|v| if *v > -0.4 { 1.25 } else { 0.0 }).collect(),
    }
}

impl Case {
    fn parts(&self, masked: bool, scaled: bool) -> (Weights<'_, f64>, Inputs<'_, f64>) {
        let w = Weights { kernel: &self.kernel, recurrent: &self.recurrent, bias: Some(&self.bias) };
        let inp = Inputs {
            x: &self.x,
            h0: &self.h0,
            c0: (self.rnn.cell == Cell::Lstm).then_some(&self.c0[..]),
            mask: masked.then_some(&self.mask[..]),
            recurrent_scale: scaled.then_some(&self.scale[..]),
        };
        (w, inp)
    }

    fn buffers<T: Float>(&self) -> (Vec<T>, Vec<T>, Vec<T>) {
        let (nb, nt) = (self.rnn.batch, self.rnn.steps);
        (
            vec![T::ZERO; nb * nt * self.rnn.su()],
            vec![T::ZERO; nb * nt * self.rnn.gu()],
            vec![T::ZERO; self.rnn.aux_len()],
        )
    }

    fn forward(&self, w: Weights<'_, f64>, inp: Inputs<'_, f64>) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut st, mut g, mut a) = self.buffers::<f64>();
        rnn_forward(&self.rnn, w, inp, Saved { states: &mut st, gates: &mut g, aux: &mut a }).unwrap();
        (st, g, a)
    }
}

use crate::float::Float;

const CELLS: [Cell; 4] = [Cell::Simple, Cell::Lstm, Cell::Gru, Cell::GruResetBefore];

#[test]
fn forward_matches_reference() {
    for cell in CELLS {
        for act in [Act::Tanh, Act::Relu] {
            let c = case(cell, act, 3, 5, 4, 6);
            for (masked, scaled) in [(false, false), (true, false), (true, true)] {
                let (w, inp) = c.parts(masked, scaled);
                let want = reference(&c.rnn, &w, &inp);
                let (got, _, _) = c.forward(w, inp);
                for (g, r) in got.iter().zip(&want) {
                    assert!((g - r).abs() < 1e-12, "{cell:?} {act:?} masked={masked} got {g} want {r}");
                }
                // float32 against the same reference
                let f = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
                let (x, k, r, b, h0, c0, sc) =
                    (f(&c.x), f(&c.kernel), f(&c.recurrent), f(&c.bias), f(&c.h0), f(&c.c0), f(&c.scale));
                let w32 = Weights { kernel: &k, recurrent: &r, bias: Some(&b) };
                let inp32 = Inputs {
                    x: &x,
                    h0: &h0,
                    c0: inp.c0.map(|_| &c0[..]),
                    mask: inp.mask,
                    recurrent_scale: scaled.then_some(&sc[..]),
                };
                let (mut st, mut g, mut a) = c.buffers::<f32>();
                rnn_forward(&c.rnn, w32, inp32, Saved { states: &mut st, gates: &mut g, aux: &mut a }).unwrap();
                for (g, r) in st.iter().zip(&want) {
                    assert!((*g as f64 - r).abs() < 2e-5, "{cell:?} f32 got {g} want {r}");
                }
            }
        }
    }
}

/// L = Σ states · weights, and its gradient by the kernel and by central differences.
#[test]
fn backward_matches_central_differences() {
    // tanh is Keras' default pair (its own specialised copy); relu takes the general path.
    // Six steps: one whole group of weight-gradient steps and one partial; five units, so
    // the LSTM's 20 bias columns take both the 16-wide and the narrower column sums.
    for (cell, act) in CELLS.into_iter().flat_map(|c| [(c, Act::Tanh), (c, Act::Relu)]) {
        check_gradients(&case(cell, act, 2, 6, 3, 5));
    }
    // 20 units: the LSTM's backward cells take one 16-column chunk and a tail of four.
    check_gradients(&case(Cell::Lstm, Act::Tanh, 2, 3, 2, 20));
}

/// A batch of several row blocks: each block's share of the weight gradients, summed.
#[test]
fn backward_over_several_row_blocks_matches_central_differences() {
    for cell in CELLS {
        check_gradients(&case(cell, Act::Tanh, 70, 2, 2, 2));
    }
}

fn check_gradients(c: &Case) {
    let cell = c.rnn.cell;
    {
        for (masked, scaled) in [(false, false), (true, true)] {
            let (w, inp) = c.parts(masked, scaled);
            let (st, mut g, mut a) = c.forward(w, inp);
            let dst = uniform(st.len(), 9);
            let loss = |w: Weights<'_, f64>, inp: Inputs<'_, f64>| {
                c.forward(w, inp).0.iter().zip(&dst).map(|(s, d)| s * d).sum::<f64>()
            };
            let (nb, u) = (c.rnn.batch, c.rnn.units);
            let mut dx = vec![0.0; c.x.len()];
            let mut dk = vec![0.0; c.kernel.len()];
            let mut dr = vec![0.0; c.recurrent.len()];
            let mut db = vec![0.0; c.bias.len()];
            let mut dh0 = vec![0.0; nb * u];
            let mut dc0 = vec![0.0; nb * u];
            let mut st2 = st.clone();
            let grads = Grads {
                dx: &mut dx,
                dkernel: &mut dk,
                drecurrent: &mut dr,
                dbias: Some(&mut db),
                dh0: &mut dh0,
                dc0: (cell == Cell::Lstm).then_some(&mut dc0[..]),
            };
            rnn_backward(&c.rnn, w, inp, Saved { states: &mut st2, gates: &mut g, aux: &mut a }, &dst, grads).unwrap();
            let eps = 1e-6;
            let check = |name: &str, base: &[f64], got: &[f64], eval: &dyn Fn(Vec<f64>) -> f64| {
                for i in 0..base.len() {
                    let (mut p, mut m) = (base.to_vec(), base.to_vec());
                    p[i] += eps;
                    m[i] -= eps;
                    let fd = (eval(p) - eval(m)) / (2.0 * eps);
                    assert!(
                        (fd - got[i]).abs() < 1e-7 * (1.0 + fd.abs()),
                        "{cell:?} {name}[{i}] masked={masked}: kernel {} fd {fd}",
                        got[i]
                    );
                }
            };
            check("x", &c.x, &dx, &|v| loss(w, Inputs { x: &v, ..inp }));
            check("kernel", &c.kernel, &dk, &|v| loss(Weights { kernel: &v, ..w }, inp));
            check("recurrent", &c.recurrent, &dr, &|v| loss(Weights { recurrent: &v, ..w }, inp));
            check("bias", &c.bias, &db, &|v| loss(Weights { bias: Some(&v), ..w }, inp));
            check("h0", &c.h0, &dh0, &|v| loss(w, Inputs { h0: &v, ..inp }));
            if cell == Cell::Lstm {
                check("c0", &c.c0, &dc0, &|v| loss(w, Inputs { c0: Some(&v), ..inp }));
            }
        }
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let threads = parallel::num_threads();
    for cell in CELLS {
        let c = case(cell, Act::Tanh, 33, 7, 20, 40);
        let (w, inp) = c.parts(true, true);
        let run = |t: usize| {
            parallel::set_num_threads(t);
            let (st, mut g, mut a) = c.forward(w, inp);
            let mut out = vec![
                vec![0.0; c.x.len()],
                vec![0.0; c.kernel.len()],
                vec![0.0; c.recurrent.len()],
                vec![0.0; c.bias.len()],
                vec![0.0; c.h0.len()],
                vec![0.0; c.h0.len()],
            ];
            let [dx, dk, dr, db, dh0, dc0] = &mut out[..] else { unreachable!() };
            let mut st2 = st.clone();
            let dst = uniform(st.len(), 11);
            let grads = Grads {
                dx,
                dkernel: dk,
                drecurrent: dr,
                dbias: Some(db),
                dh0,
                dc0: (cell == Cell::Lstm).then_some(&mut dc0[..]),
            };
            rnn_backward(&c.rnn, w, inp, Saved { states: &mut st2, gates: &mut g, aux: &mut a }, &dst, grads).unwrap();
            (st, out)
        };
        let one = run(1);
        for t in [2, 3, 5] {
            let other = run(t);
            assert!(
                one.0.iter().zip(&other.0).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{cell:?} states, {t} threads"
            );
            for (a, b) in one.1.iter().zip(&other.1) {
                assert!(a.iter().zip(b).all(|(a, b)| a.to_bits() == b.to_bits()), "{cell:?} grads, {t} threads");
            }
        }
    }
    parallel::set_num_threads(threads);
}

#[test]
fn rejects_bad_arguments() {
    let c = case(Cell::Lstm, Act::Tanh, 2, 3, 2, 2);
    let (w, inp) = c.parts(false, false);
    let (mut st, mut g, mut a) = c.buffers::<f64>();
    let short = &c.kernel[1..];
    let e =
        rnn_forward(&c.rnn, Weights { kernel: short, ..w }, inp, Saved { states: &mut st, gates: &mut g, aux: &mut a });
    assert!(e.unwrap_err().to_string().contains("kernel must have shape (2, 8)"));
    let e = rnn_forward(&c.rnn, w, Inputs { c0: None, ..inp }, Saved { states: &mut st, gates: &mut g, aux: &mut a });
    assert!(e.unwrap_err().to_string().contains("c0"));
    assert!(Cell::parse("rnn").is_err() && Act::parse("activation", "gelu").is_err());
    // the reset-before GRU's bias is (3·units,), not (2, 3·units)
    let c = case(Cell::GruResetBefore, Act::Tanh, 2, 3, 2, 2);
    let (w, inp) = c.parts(false, false);
    let (mut st, mut g, mut a) = c.buffers::<f64>();
    let long = vec![0.0; 12];
    let e = rnn_forward(
        &c.rnn,
        Weights { bias: Some(&long), ..w },
        inp,
        Saved { states: &mut st, gates: &mut g, aux: &mut a },
    );
    assert!(e.unwrap_err().to_string().contains("bias must have shape (6,)"));
}

#[test]
fn lstm_h_only_gradient_equals_full_gradient_with_zero_c_part() {
    let c = case(Cell::Lstm, Act::Tanh, 5, 6, 3, 4);
    let (nb, nt, u) = (c.rnn.batch, c.rnn.steps, c.rnn.units);
    let (w, inp) = c.parts(true, true);
    let (st, g, a) = c.forward(w, inp);
    let dh = uniform(nb * nt * u, 11);
    // The same gradient written out in full: h's part, then zeros for c.
    let full: Vec<f64> =
        (0..nb * nt * 2 * u).map(|i| if i % (2 * u) < u { dh[i / (2 * u) * u + i % (2 * u)] } else { 0.0 }).collect();
    let run = |d: &[f64]| {
        let (mut st, mut g, mut a) = (st.clone(), g.clone(), a.clone());
        let mut out =
            [c.x.len(), c.kernel.len(), c.recurrent.len(), c.bias.len(), nb * u, nb * u].map(|n| vec![0.0; n]);
        let [dx, dk, dr, db, dh0, dc0] = &mut out;
        let grads = Grads { dx, dkernel: dk, drecurrent: dr, dbias: Some(db), dh0, dc0: Some(dc0) };
        rnn_backward(&c.rnn, w, inp, Saved { states: &mut st, gates: &mut g, aux: &mut a }, d, grads).unwrap();
        out
    };
    let (h_only, both) = (run(&dh), run(&full));
    for (x, y) in h_only.iter().zip(&both) {
        assert!(x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits()));
    }
}
