//! Inverted dropout with a counter-based random mask.
//!
//! Element `i` is kept when the splitmix64 hash of `(seed, i)` lands above
//! `rate`: the mask depends only on the seed and the element's flat index,
//! never on how the work is split over threads or SIMD lanes. With a noise
//! shape (Keras' `noise_shape`), the index hashed is the element's position
//! in that smaller shape, so every element of a broadcast cell (a whole
//! channel, say) shares one decision.

use crate::error::{shape_err, value_err, Result};
use crate::float::Float;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

const BLOCK: usize = 1 << 14;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The splitmix64 finaliser (Steele, Lea & Flood 2014).
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The per-element decision: keep `i` iff its 53-bit uniform `u` is `>= rate`.
#[derive(Clone, Copy)]
struct Keep {
    key: u64,
    /// `ceil(rate · 2^53)`: `u ≥ rate` ⇔ `bits ≥ threshold` exactly.
    threshold: u64,
}

impl Keep {
    fn new(rate: f64, seed: u64) -> Keep {
        Keep { key: mix64(seed ^ 0x6A09_E667_F3BC_C909), threshold: (rate * (1u64 << 53) as f64).ceil() as u64 }
    }

    /// Element `i` of splitmix64's stream started at `key`.
    #[inline(always)]
    fn get(self, i: usize) -> bool {
        let bits = mix64(self.key.wrapping_add((i as u64).wrapping_add(1).wrapping_mul(GOLDEN))) >> 11;
        bits >= self.threshold
    }
}

fn check_rate(op: &'static str, rate: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&rate) {
        return value_err(op, format!("rate must be in [0, 1]. Received: rate={rate}"));
    }
    Ok(())
}

/// Flat index in the noise shape of each flat index in the input shape:
/// per axis, innermost first, the input extent and the noise stride (0 for
/// an axis the mask is broadcast along).
struct NoiseMap {
    axes: Vec<(usize, usize)>,
}

impl NoiseMap {
    fn new(op: &'static str, shape: &[usize], noise: &[usize]) -> Result<NoiseMap> {
        let fits = noise.len() == shape.len() && noise.iter().zip(shape).all(|(&a, &b)| a == b || a == 1);
        if !fits {
            return shape_err(
                op,
                format!(
                    "noise_shape must have one entry per axis of x, each 1 or the axis' size. Received: noise_shape={}, x.shape={}",
                    crate::shape::fmt_shape(noise),
                    crate::shape::fmt_shape(shape)
                ),
            );
        }
        let mut stride = 1;
        let mut axes = Vec::with_capacity(shape.len());
        for (&n, &s) in noise.iter().zip(shape).rev() {
            axes.push((s, if n == 1 { 0 } else { stride }));
            stride *= n;
        }
        Ok(NoiseMap { axes })
    }

    #[inline(always)]
    fn index(&self, mut i: usize) -> usize {
        let mut at = 0;
        for &(extent, stride) in &self.axes {
            at += (i % extent) * stride;
            i /= extent;
        }
        at
    }
}

struct Forward<'a, T> {
    x: &'a [T],
    y: SendPtr<T>,
    mask: SendPtr<u8>,
    keep: Keep,
    keep_prob: T,
    noise: Option<&'a NoiseMap>,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let x = &self.x[lo..hi];
        let (y, mask) = unsafe {
            (
                std::slice::from_raw_parts_mut(self.y.get().add(lo), hi - lo),
                std::slice::from_raw_parts_mut(self.mask.get().add(lo), hi - lo),
            )
        };
        match self.noise {
            None => forward_block(x, y, mask, |i| self.keep.get(lo + i), self.keep_prob),
            Some(map) => forward_block(x, y, mask, |i| self.keep.get(map.index(lo + i)), self.keep_prob),
        }
    }
}

#[inline(always)]
fn forward_block<T: Float>(x: &[T], y: &mut [T], mask: &mut [u8], keep: impl Fn(usize) -> bool, keep_prob: T) {
    for (i, ((&x, y), m)) in x.iter().zip(y.iter_mut()).zip(mask.iter_mut()).enumerate() {
        let k = keep(i);
        *m = k as u8;
        // A dropped element is 0 even when x is inf or NaN (Keras uses where).
        *y = if k { x / keep_prob } else { T::ZERO };
    }
}

/// `y = x·mask / (1 - rate)` with `mask[i] = 1` where element `i` is kept
/// (probability `1 - rate`, decided by the hash of `(seed, i)`).
pub fn dropout<T: Float>(x: &[T], rate: f64, seed: u64, y: &mut [T], mask: &mut [u8]) -> Result<()> {
    dropout_on(simd::active(), x, rate, seed, None, y, mask)
}

/// [`dropout`] with one decision per cell of `noise_shape` (each entry 1 or
/// the size of that axis of `x_shape`), broadcast over the axes where it is 1.
pub fn dropout_broadcast<T: Float>(
    x: &[T],
    x_shape: &[usize],
    noise_shape: &[usize],
    rate: f64,
    seed: u64,
    y: &mut [T],
    mask: &mut [u8],
) -> Result<()> {
    let map = NoiseMap::new("dropout", x_shape, noise_shape)?;
    if x_shape.iter().product::<usize>() != x.len() {
        return shape_err(
            "dropout",
            format!("x has {} elements, not x_shape's {}", x.len(), crate::shape::fmt_shape(x_shape)),
        );
    }
    dropout_on(simd::active(), x, rate, seed, Some(&map), y, mask)
}

fn dropout_on<T: Float>(
    isa: Isa,
    x: &[T],
    rate: f64,
    seed: u64,
    noise: Option<&NoiseMap>,
    y: &mut [T],
    mask: &mut [u8],
) -> Result<()> {
    const OP: &str = "dropout";
    check_rate(OP, rate)?;
    if y.len() != x.len() || mask.len() != x.len() {
        return shape_err(
            OP,
            format!(
                "out and mask must have as many elements as x. Received: x has {}, out has {}, mask has {}",
                x.len(),
                y.len(),
                mask.len()
            ),
        );
    }
    let body = Forward {
        x,
        y: SendPtr(y.as_mut_ptr()),
        mask: SendPtr(mask.as_mut_ptr()),
        keep: Keep::new(rate, seed),
        keep_prob: T::from_f64(1.0 - rate),
        noise,
    };
    sweep(isa, x.len(), BLOCK, 4, &body);
    Ok(())
}

struct Backward<'a, T> {
    dy: &'a [T],
    mask: &'a [u8],
    dx: SendPtr<T>,
    keep_prob: T,
}

impl<T: Float> Body for Backward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: blocks are disjoint and every buffer holds `n` elements.
        let dx = unsafe { std::slice::from_raw_parts_mut(self.dx.get().add(lo), hi - lo) };
        let (dy, mask) = (&self.dy[lo..hi], &self.mask[lo..hi]);
        backward_block(dy, mask, dx, self.keep_prob);
    }
}

#[inline(always)]
fn backward_block<T: Float>(dy: &[T], mask: &[u8], dx: &mut [T], keep_prob: T) {
    for ((&g, &m), dx) in dy.iter().zip(mask).zip(dx.iter_mut()) {
        *dx = if m != 0 { g / keep_prob } else { T::ZERO };
    }
}

/// `dx = dy·mask / (1 - rate)` (any non-zero mask byte counts as kept).
pub fn dropout_backward<T: Float>(dy: &[T], mask: &[u8], rate: f64, dx: &mut [T]) -> Result<()> {
    dropout_backward_on(simd::active(), dy, mask, rate, dx)
}

fn dropout_backward_on<T: Float>(isa: Isa, dy: &[T], mask: &[u8], rate: f64, dx: &mut [T]) -> Result<()> {
    const OP: &str = "dropout_backward";
    check_rate(OP, rate)?;
    if mask.len() != dy.len() || dx.len() != dy.len() {
        return shape_err(
            OP,
            format!(
                "mask and out must have as many elements as dy. Received: dy has {}, mask has {}, out has {}",
                dy.len(),
                mask.len(),
                dx.len()
            ),
        );
    }
    let body = Backward { dy, mask, dx: SendPtr(dx.as_mut_ptr()), keep_prob: T::from_f64(1.0 - rate) };
    sweep(isa, dy.len(), BLOCK, 3, &body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel;

    #[test]
    fn splitmix_matches_published_stream() {
        // splitmix64 seeded with 1234567: first outputs from the reference C code.
        let mut s: u64 = 1234567;
        let mut next = || {
            s = s.wrapping_add(GOLDEN);
            mix64(s)
        };
        assert_eq!(next(), 6457827717110365317);
        assert_eq!(next(), 3203168211198807973);
    }

    #[test]
    fn mask_is_the_same_on_every_path_and_thread_count() {
        let n = 5 * BLOCK + 7;
        let x: Vec<f32> = (0..n).map(|i| i as f32 * 0.5 - 3.0).collect();
        let mut want: Option<(Vec<f32>, Vec<u8>)> = None;
        let threads = parallel::num_threads();
        for isa in simd::supported() {
            for t in [1, 3] {
                parallel::set_num_threads(t);
                let (mut y, mut m) = (vec![0f32; n], vec![9u8; n]);
                dropout_on(isa, &x, 0.3, 42, None, &mut y, &mut m).unwrap();
                match &want {
                    None => want = Some((y, m)),
                    Some((wy, wm)) => assert!(wy == &y && wm == &m, "{isa:?} threads={t}"),
                }
            }
        }
        parallel::set_num_threads(threads);
        let (y, m) = want.unwrap();
        let kept = m.iter().filter(|&&b| b == 1).count() as f64 / n as f64;
        assert!((kept - 0.7).abs() < 0.01, "keep rate {kept}");
        for i in 0..n {
            let expect = if m[i] == 1 { x[i] / 0.7f32 } else { 0.0 };
            assert_eq!(y[i], expect);
            assert_eq!(m[i] == 1, Keep::new(0.3, 42).get(i));
        }
    }

    #[test]
    fn noise_shape_shares_one_decision_per_cell() {
        // (2, 3, 4, 5) with noise (2, 1, 1, 5): one decision per (image, channel).
        let shape = [2, 3, 4, 5];
        let x: Vec<f32> = (0..120).map(|i| i as f32 + 1.0).collect();
        let (mut y, mut m) = (vec![0f32; 120], vec![0u8; 120]);
        dropout_broadcast(&x, &shape, &[2, 1, 1, 5], 0.5, 9, &mut y, &mut m).unwrap();
        for n in 0..2 {
            for c in 0..5 {
                let first = m[n * 60 + c];
                assert_eq!(first == 1, Keep::new(0.5, 9).get(n * 5 + c));
                for hw in 0..12 {
                    assert_eq!(m[n * 60 + hw * 5 + c], first);
                }
            }
        }
        // The full shape as noise shape is plain dropout.
        let (mut y2, mut m2) = (vec![0f32; 120], vec![0u8; 120]);
        dropout_broadcast(&x, &shape, &shape, 0.5, 9, &mut y2, &mut m2).unwrap();
        dropout(&x, 0.5, 9, &mut y, &mut m).unwrap();
        assert_eq!((y, m), (y2, m2));
        let e = dropout_broadcast(&x, &shape, &[2, 2, 1, 5], 0.5, 9, &mut vec![0f32; 120], &mut vec![0u8; 120]);
        assert!(e.unwrap_err().to_string().contains("noise_shape=(2, 2, 1, 5)"));
    }

    #[test]
    fn rate_edges_and_backward() {
        let x = vec![f64::NAN, 1.0, -2.0, f64::INFINITY];
        let (mut y, mut m) = (vec![0.0; 4], vec![0u8; 4]);
        dropout(&x, 0.0, 7, &mut y, &mut m).unwrap();
        assert!(m.iter().all(|&b| b == 1) && y[1..] == x[1..] && y[0].is_nan());
        dropout(&x, 1.0, 7, &mut y, &mut m).unwrap();
        assert!(m.iter().all(|&b| b == 0) && y.iter().all(|&v| v == 0.0));
        let mut dx = vec![0.0; 4];
        dropout_backward(&[1.0, 2.0, 3.0, 4.0], &[1, 0, 2, 0], 0.5, &mut dx).unwrap();
        assert_eq!(dx, vec![2.0, 0.0, 6.0, 0.0]);
        assert!(dropout(&x, 1.5, 7, &mut y, &mut m).unwrap_err().to_string().contains("rate=1.5"));
        assert!(dropout_backward(&[1.0], &[1, 1], 0.5, &mut [0.0]).is_err());
    }
}
