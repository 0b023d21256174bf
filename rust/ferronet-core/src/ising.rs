//! 2-D Ising model Monte Carlo: independent Markov chains, in parallel under
//! rayon, each with its own random stream.
//!
//! Spins ±1 on an `L x L` periodic lattice, `E = -Σ_<ij> s_i s_j` (J = 1).
//! A sweep is checkerboard Metropolis: every site with `(i + j)` even, then
//! every site with `(i + j)` odd (sites of one colour share no bond), each
//! flipped with probability `min(1, exp(-β ΔE))`. With `wolff`, each sweep
//! also grows and flips one Wolff cluster (bonds to aligned neighbours
//! added with `p = 1 - exp(-2β)`), which removes Metropolis' critical slowing
//! down near T_c.
//!
//! Chain `c` draws from xoshiro256++ seeded by splitmix64 from `(seed, c)`:
//! the samples depend on the seed and the chain's index only, never on the
//! thread count or the order chains run in.

use rayon::prelude::*;

use crate::error::value_err;

/// What to sample; `betas` (one inverse temperature per chain) is passed beside it.
#[derive(Clone, Copy, Debug)]
pub struct IsingRun {
    /// Lattice side (even, at least 4).
    pub l: usize,
    /// Sweeps before the first sample.
    pub n_equilibrate: usize,
    /// Sweeps between two samples of one chain.
    pub n_between: usize,
    /// Samples taken from each chain.
    pub samples: usize,
    /// One Wolff cluster flip after each Metropolis sweep.
    pub wolff: bool,
    /// All spins equal (a random sign per chain) instead of random spins.
    pub ordered: bool,
    pub seed: u64,
}

/// xoshiro256++ (Blackman and Vigna), seeded through splitmix64.
struct Rng([u64; 4]);

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    fn for_chain(seed: u64, chain: u64) -> Rng {
        let mut c = chain;
        let mut x = seed ^ splitmix64(&mut c);
        Rng([splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)])
    }

    #[inline]
    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-32 for lattices).
    #[inline]
    fn below(&mut self, n: usize) -> usize {
        (((self.next() >> 32) * n as u64) >> 32) as usize
    }
}

/// One chain's lattice and its acceptance thresholds on 32-bit uniforms.
struct Chain {
    l: usize,
    s: Vec<i8>,
    rng: Rng,
    /// Metropolis: flip when `u32 < accept[k]` for `s·Σnb = 2k` (k = 1, 2; ΔE = 4k).
    accept: [u64; 3],
    /// Wolff: add an aligned neighbour when `u32 < p_add`.
    p_add: u64,
    stack: Vec<u32>,
    /// Periodic neighbours of a row or column index: `prev[i] = (i - 1) mod L`, `next[i] = (i + 1) mod L`.
    prev: Vec<usize>,
    next: Vec<usize>,
}

fn threshold(p: f64) -> u64 {
    (p.clamp(0.0, 1.0) * 4_294_967_296.0) as u64
}

impl Chain {
    fn new(run: &IsingRun, beta: f64, index: usize) -> Chain {
        let mut rng = Rng::for_chain(run.seed, index as u64);
        let n = run.l * run.l;
        let s = if run.ordered {
            vec![if rng.next() >> 63 == 0 { 1 } else { -1 }; n]
        } else {
            (0..n).map(|_| if rng.next() >> 63 == 0 { 1 } else { -1 }).collect()
        };
        Chain {
            l: run.l,
            s,
            rng,
            accept: [u64::MAX, threshold((-4.0 * beta).exp()), threshold((-8.0 * beta).exp())],
            p_add: threshold(1.0 - (-2.0 * beta).exp()),
            stack: Vec::new(),
            prev: (0..run.l).map(|i| (i + run.l - 1) % run.l).collect(),
            next: (0..run.l).map(|i| (i + 1) % run.l).collect(),
        }
    }

    fn metropolis_sweep(&mut self) {
        let l = self.l;
        let (prev, next, s) = (&self.prev[..], &self.next[..], &mut self.s[..]);
        for colour in 0..2 {
            for i in 0..l {
                let (up, row, down) = (prev[i] * l, i * l, next[i] * l);
                for j in ((i + colour) % 2..l).step_by(2) {
                    let nb = s[up + j] as i32 + s[down + j] as i32 + s[row + prev[j]] as i32 + s[row + next[j]] as i32;
                    // ΔE = 2k: -8, -4, 0, 4 or 8. NOTE: a random number is drawn only when the flip
                    // costs energy, so the stream (and the result) is still a function of the seed alone.
                    let k = s[row + j] as i32 * nb;
                    if k <= 0 || (self.rng.next() >> 32) < self.accept[(k / 2) as usize] {
                        s[row + j] = -s[row + j];
                    }
                }
            }
        }
    }

    fn wolff_flip(&mut self) {
        let l = self.l;
        let start = self.rng.below(l * l);
        let aligned = self.s[start];
        // Flip as sites join, so each bond is tried at most once: a flipped neighbour is no longer aligned.
        self.s[start] = -aligned;
        self.stack.clear();
        self.stack.push(start as u32);
        while let Some(site) = self.stack.pop() {
            let (i, j) = (site as usize / l, site as usize % l);
            for nb in [self.next[i] * l + j, self.prev[i] * l + j, i * l + self.next[j], i * l + self.prev[j]] {
                if self.s[nb] == aligned && (self.rng.next() >> 32) < self.p_add {
                    self.s[nb] = -aligned;
                    self.stack.push(nb as u32);
                }
            }
        }
    }

    fn sweeps(&mut self, count: usize, wolff: bool) {
        for _ in 0..count {
            self.metropolis_sweep();
            if wolff {
                self.wolff_flip();
            }
        }
    }
}

fn run_chain(run: &IsingRun, beta: f64, index: usize, out: &mut [i8]) {
    let mut chain = Chain::new(run, beta, index);
    let n = run.l * run.l;
    chain.sweeps(run.n_equilibrate, run.wolff);
    for (k, sample) in out.chunks_exact_mut(n).enumerate() {
        if k > 0 {
            chain.sweeps(run.n_between, run.wolff);
        }
        sample.copy_from_slice(&chain.s);
    }
}

/// Sample `betas.len()` chains into `out`, laid out `(chain, sample, L, L)`.
/// Chains run in parallel on ferronet's rayon pool; the result depends on
/// `run.seed` and the chains' order only.
pub fn ising_sample(run: &IsingRun, betas: &[f64], out: &mut [i8]) -> crate::Result<()> {
    if run.l < 4 || run.l % 2 == 1 || run.l * run.l > u32::MAX as usize {
        return value_err("ising", format!("L must be an even integer >= 4. Received: L={}", run.l));
    }
    if run.samples == 0 {
        return value_err("ising", "at least one sample per chain is needed. Received: samples=0".to_string());
    }
    if let Some(b) = betas.iter().find(|b| !(b.is_finite() && **b >= 0.0)) {
        return value_err("ising", format!("inverse temperatures must be finite and >= 0. Received: beta={b}"));
    }
    let per_chain = run.samples * run.l * run.l;
    if out.len() != betas.len() * per_chain {
        return value_err(
            "ising",
            format!(
                "out must hold {} spins (chains x samples x L x L). Received: {}",
                betas.len() * per_chain,
                out.len()
            ),
        );
    }
    crate::rayon_pool::install(|parallel| {
        if parallel {
            out.par_chunks_mut(per_chain).zip(betas).enumerate().for_each(|(c, (o, &b))| run_chain(run, b, c, o));
        } else {
            out.chunks_mut(per_chain).zip(betas).enumerate().for_each(|(c, (o, &b))| run_chain(run, b, c, o));
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(l: usize, wolff: bool, seed: u64) -> IsingRun {
        IsingRun { l, n_equilibrate: 200, n_between: 4, samples: 20, wolff, ordered: true, seed }
    }

    fn mean_abs_m(out: &[i8], n: usize) -> f64 {
        let ms: Vec<f64> = out.chunks(n).map(|c| (c.iter().map(|&s| s as f64).sum::<f64>() / n as f64).abs()).collect();
        ms.iter().sum::<f64>() / ms.len() as f64
    }

    #[test]
    fn orders_below_tc_and_not_above() {
        for wolff in [false, true] {
            let r = run(16, wolff, 7);
            let mut cold = vec![0i8; 8 * 20 * 256];
            let mut hot = cold.clone();
            ising_sample(&r, &[1.0 / 1.5; 8], &mut cold).unwrap();
            ising_sample(&r, &[1.0 / 5.0; 8], &mut hot).unwrap();
            assert!(mean_abs_m(&cold, 256) > 0.95, "wolff={wolff}");
            assert!(mean_abs_m(&hot, 256) < 0.25, "wolff={wolff}");
        }
    }

    #[test]
    fn same_for_any_thread_count_and_seeded() {
        let r = run(8, true, 3);
        let betas: Vec<f64> = (0..13).map(|i| 0.2 + 0.05 * i as f64).collect();
        let mut want = vec![0i8; 13 * 20 * 64];
        let n0 = crate::parallel::num_threads();
        crate::parallel::set_num_threads(1);
        ising_sample(&r, &betas, &mut want).unwrap();
        for t in [2, 3, 8] {
            crate::parallel::set_num_threads(t);
            let mut got = vec![0i8; want.len()];
            ising_sample(&r, &betas, &mut got).unwrap();
            assert_eq!(got, want, "{t} threads");
        }
        crate::parallel::set_num_threads(n0);
        let mut other = vec![0i8; want.len()];
        ising_sample(&run(8, true, 4), &betas, &mut other).unwrap();
        assert_ne!(other, want);
    }

    #[test]
    fn rejects_bad_arguments() {
        let mut out = vec![0i8; 20 * 25];
        assert!(ising_sample(&run(5, false, 0), &[1.0], &mut out).is_err());
        assert!(ising_sample(&run(8, false, 0), &[1.0], &mut out).is_err());
        assert!(ising_sample(&run(8, false, 0), &[f64::NAN], &mut vec![0i8; 20 * 64]).is_err());
    }
}
