//! tanh's Taylor map: the first and second input derivatives of a tanh
//! layer's output from those of its pre-activation, and its backward pass.
//!
//! A physics-informed network needs `u`, `∂u/∂x_j` and `∂²u/∂x_j²` at every
//! point. Carried through a layer `h = tanh(z)` with `s = 1 - h²`:
//!
//! ```text
//! h_x  = s · z_x
//! h_xx = s · z_xx - 2 h s · z_x²        (only for the first m of the d directions)
//! ```
//!
//! Operands are planes of `p` elements (the points × units of one layer):
//! `h` one plane, `z_x`/`h_x` `d` planes, `z_xx`/`h_xx` `m ≤ d` planes, all
//! contiguous. Each element touches only its own position in every plane, so
//! the work is a sweep over `0..p` in fixed blocks: results are bitwise
//! identical for any thread count.

use super::sweep::{block_for, sweep, Body};
use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::parallel::SendPtr;
use crate::simd::{self, Isa};

fn check(op: &'static str, p: usize, d: usize, m: usize, lens: &[(&str, usize, usize)]) -> Result<()> {
    if m > d {
        return shape_err(
            op,
            format!("second-derivative directions must not outnumber the first. Received: d={d}, m={m}"),
        );
    }
    for &(name, len, planes) in lens {
        if len != planes * p {
            return shape_err(
                op,
                format!("{name} must hold {planes} plane(s) of {p} elements. Received: {len} elements"),
            );
        }
    }
    Ok(())
}

/// tanh's Taylor map on one block of elements: `h` (= tanh z) and the planes of `z_x` (`d`) and `z_xx`
/// (`m`) in, `h_x` and `h_xx` out. Planes are handed out by the closures, so the same loops serve whole
/// planes and the row blocks of a fused layer.
#[inline(always)]
pub(crate) fn taylor_tanh_forward_block<'a, T: Float>(
    h: &[T],
    d: usize,
    m: usize,
    zx: impl Fn(usize) -> &'a [T],
    zxx: impl Fn(usize) -> &'a [T],
    hx: impl Fn(usize) -> &'a mut [T],
    hxx: impl Fn(usize) -> &'a mut [T],
) {
    let (one, two) = (T::from_f64(1.0), T::from_f64(2.0));
    for j in 0..d {
        let g = zx(j);
        for ((o, &gv), &hv) in hx(j).iter_mut().zip(g).zip(h) {
            *o = (one - hv * hv) * gv;
        }
        if j < m {
            for (((o, &g2), &gv), &hv) in hxx(j).iter_mut().zip(zxx(j)).zip(g).zip(h) {
                let s = one - hv * hv;
                *o = s * g2 - two * hv * s * gv * gv;
            }
        }
    }
}

/// The backward of [`taylor_tanh_forward_block`]: `dz(0)` gets the gradient of `z`, `dz(1 + j)` of `z_x[j]`,
/// `dz(1 + d + j)` of `z_xx[j]`, from `dh` and the planes of `dh_x`/`dh_xx`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn taylor_tanh_backward_block<'a, T: Float>(
    h: &[T],
    dh: &[T],
    d: usize,
    m: usize,
    zx: impl Fn(usize) -> &'a [T],
    zxx: impl Fn(usize) -> &'a [T],
    dhx: impl Fn(usize) -> &'a [T],
    dhxx: impl Fn(usize) -> &'a [T],
    dz: &impl Fn(usize) -> &'a mut [T],
) {
    let (one, two, four) = (T::from_f64(1.0), T::from_f64(2.0), T::from_f64(4.0));
    let dz0 = dz(0);
    for ((o, &g), &hv) in dz0.iter_mut().zip(dh).zip(h) {
        *o = g * (one - hv * hv);
    }
    for j in 0..d {
        let (g, dg) = (zx(j), dhx(j));
        let dzx = dz(1 + j);
        for ((((o, x), &gv), &dgv), &hv) in dz0.iter_mut().zip(dzx.iter_mut()).zip(g).zip(dg).zip(h) {
            let s = one - hv * hv;
            *o += dgv * (-two * hv * s) * gv; // ds/dz = -2 h s
            *x = dgv * s;
        }
        if j < m {
            let (g2, dg2) = (zxx(j), dhxx(j));
            let dzxx = dz(1 + d + j);
            for (((((o, x), xx), &gv), &g2v), (&d2v, &hv)) in
                dz0.iter_mut().zip(dzx.iter_mut()).zip(dzxx.iter_mut()).zip(g).zip(g2).zip(dg2.iter().zip(h))
            {
                let s = one - hv * hv;
                let s1 = -two * hv * s;
                let s2 = four * hv * hv * s - two * s * s; // d²s/dz²
                *o += d2v * (s1 * g2v + s2 * gv * gv);
                *x += d2v * two * s1 * gv;
                *xx = d2v * s;
            }
        }
    }
}

struct Forward<'a, T> {
    h: &'a [T],
    zx: &'a [T],
    zxx: &'a [T],
    hx: SendPtr<T>,
    hxx: SendPtr<T>,
    p: usize,
    d: usize,
    m: usize,
}

impl<T: Float> Body for Forward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (p, len) = (self.p, hi - lo);
        // SAFETY: this block writes only positions lo..hi of each output plane (disjoint across blocks).
        taylor_tanh_forward_block(
            &self.h[lo..hi],
            self.d,
            self.m,
            |j| &self.zx[j * p + lo..j * p + hi],
            |j| &self.zxx[j * p + lo..j * p + hi],
            |j| unsafe { std::slice::from_raw_parts_mut(self.hx.get().add(j * p + lo), len) },
            |j| unsafe { std::slice::from_raw_parts_mut(self.hxx.get().add(j * p + lo), len) },
        );
    }
}

/// `h_x = s z_x` (`d` planes) and `h_xx = s z_xx - 2 h s z_x²` (`m` planes) from `h = tanh(z)`.
pub fn taylor_tanh_forward<T: Float>(
    h: &[T],
    zx: &[T],
    zxx: &[T],
    hx: &mut [T],
    hxx: &mut [T],
    d: usize,
) -> Result<()> {
    taylor_tanh_forward_on(simd::active(), h, zx, zxx, hx, hxx, d)
}

pub(crate) fn taylor_tanh_forward_on<T: Float>(
    isa: Isa,
    h: &[T],
    zx: &[T],
    zxx: &[T],
    hx: &mut [T],
    hxx: &mut [T],
    d: usize,
) -> Result<()> {
    let p = h.len();
    let m = if p == 0 { 0 } else { zxx.len() / p };
    let op = "taylor_tanh_forward";
    check(op, p, d, m, &[("zx", zx.len(), d), ("zxx", zxx.len(), m), ("hx", hx.len(), d), ("hxx", hxx.len(), m)])?;
    let body = Forward { h, zx, zxx, hx: SendPtr(hx.as_mut_ptr()), hxx: SendPtr(hxx.as_mut_ptr()), p, d, m };
    sweep(isa, p, block_for(1 + 2 * d + 2 * m, 1 << 14), 1 + 2 * d + 2 * m, &body);
    Ok(())
}

struct Backward<'a, T> {
    h: &'a [T],
    zx: &'a [T],
    zxx: &'a [T],
    dh: &'a [T],
    dhx: &'a [T],
    dhxx: &'a [T],
    dz: SendPtr<T>,
    dzx: SendPtr<T>,
    dzxx: SendPtr<T>,
    p: usize,
    d: usize,
    m: usize,
}

impl<T: Float> Body for Backward<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        let (p, d, len) = (self.p, self.d, hi - lo);
        // SAFETY: as in Forward, a block writes only its own positions of each plane.
        let out = |q: usize| -> &mut [T] {
            let (base, off) = if q == 0 {
                (self.dz.get(), lo)
            } else if q <= d {
                (self.dzx.get(), (q - 1) * p + lo)
            } else {
                (self.dzxx.get(), (q - 1 - d) * p + lo)
            };
            unsafe { std::slice::from_raw_parts_mut(base.add(off), len) }
        };
        taylor_tanh_backward_block(
            &self.h[lo..hi],
            &self.dh[lo..hi],
            d,
            self.m,
            |j| &self.zx[j * p + lo..j * p + hi],
            |j| &self.zxx[j * p + lo..j * p + hi],
            |j| &self.dhx[j * p + lo..j * p + hi],
            |j| &self.dhxx[j * p + lo..j * p + hi],
            &out,
        );
    }
}

/// Gradients with respect to `(z, z_x, z_xx)` of [`taylor_tanh_forward`] (with `h = tanh(z)`),
/// given those with respect to its outputs `(h, h_x, h_xx)`.
#[allow(clippy::too_many_arguments)]
pub fn taylor_tanh_backward<T: Float>(
    h: &[T],
    zx: &[T],
    zxx: &[T],
    dh: &[T],
    dhx: &[T],
    dhxx: &[T],
    dz: &mut [T],
    dzx: &mut [T],
    dzxx: &mut [T],
    d: usize,
) -> Result<()> {
    let p = h.len();
    let m = if p == 0 { 0 } else { zxx.len() / p };
    check(
        "taylor_tanh_backward",
        p,
        d,
        m,
        &[
            ("zx", zx.len(), d),
            ("zxx", zxx.len(), m),
            ("dh", dh.len(), 1),
            ("dhx", dhx.len(), d),
            ("dhxx", dhxx.len(), m),
            ("dz", dz.len(), 1),
            ("dzx", dzx.len(), d),
            ("dzxx", dzxx.len(), m),
        ],
    )?;
    let body = Backward {
        h,
        zx,
        zxx,
        dh,
        dhx,
        dhxx,
        dz: SendPtr(dz.as_mut_ptr()),
        dzx: SendPtr(dzx.as_mut_ptr()),
        dzxx: SendPtr(dzxx.as_mut_ptr()),
        p,
        d,
        m,
    };
    let per = 3 + 4 * d + 4 * m;
    sweep(simd::active(), p, block_for(per, 1 << 14), per, &body);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect()
    }

    /// Finite differences of the forward map against the backward pass, on every SIMD path.
    #[test]
    fn backward_matches_finite_differences_of_forward() {
        let (p, d, m) = (37, 2, 1);
        let z = lcg(p, 1);
        let zx = lcg(p * d, 2);
        let zxx = lcg(p * m, 3);
        let (dh, dhx, dhxx) = (lcg(p, 4), lcg(p * d, 5), lcg(p * m, 6));
        let objective = |z: &[f64], zx: &[f64], zxx: &[f64]| {
            let h: Vec<f64> = z.iter().map(|v| v.tanh()).collect();
            let (mut hx, mut hxx) = (vec![0.0; p * d], vec![0.0; p * m]);
            taylor_tanh_forward(&h, zx, zxx, &mut hx, &mut hxx, d).unwrap();
            h.iter().zip(&dh).map(|(a, b)| a * b).sum::<f64>()
                + hx.iter().zip(&dhx).map(|(a, b)| a * b).sum::<f64>()
                + hxx.iter().zip(&dhxx).map(|(a, b)| a * b).sum::<f64>()
        };
        let h: Vec<f64> = z.iter().map(|v| v.tanh()).collect();
        let (mut gz, mut gzx, mut gzxx) = (vec![0.0; p], vec![0.0; p * d], vec![0.0; p * m]);
        taylor_tanh_backward(&h, &zx, &zxx, &dh, &dhx, &dhxx, &mut gz, &mut gzx, &mut gzxx, d).unwrap();
        let eps = 1e-6;
        for i in 0..p {
            let (mut a, mut b) = (z.clone(), z.clone());
            a[i] += eps;
            b[i] -= eps;
            let fd = (objective(&a, &zx, &zxx) - objective(&b, &zx, &zxx)) / (2.0 * eps);
            assert!((fd - gz[i]).abs() < 1e-7, "dz[{i}]: {fd} vs {}", gz[i]);
        }
        for i in 0..p * d {
            let (mut a, mut b) = (zx.clone(), zx.clone());
            a[i] += eps;
            b[i] -= eps;
            let fd = (objective(&z, &a, &zxx) - objective(&z, &b, &zxx)) / (2.0 * eps);
            assert!((fd - gzx[i]).abs() < 1e-7, "dzx[{i}]");
        }
        for i in 0..p * m {
            let (mut a, mut b) = (zxx.clone(), zxx.clone());
            a[i] += eps;
            b[i] -= eps;
            let fd = (objective(&z, &zx, &a) - objective(&z, &zx, &b)) / (2.0 * eps);
            assert!((fd - gzxx[i]).abs() < 1e-7, "dzxx[{i}]");
        }
    }

    #[test]
    fn every_path_gives_the_same_bits_and_bad_lengths_are_refused() {
        let (p, d) = (100_003, 2);
        let h: Vec<f32> = lcg(p, 7).into_iter().map(|v| v as f32).collect();
        let zx: Vec<f32> = lcg(p * d, 8).into_iter().map(|v| v as f32).collect();
        let zxx: Vec<f32> = lcg(p, 9).into_iter().map(|v| v as f32).collect();
        let mut reference: Option<(Vec<f32>, Vec<f32>)> = None;
        for isa in simd::supported() {
            let (mut hx, mut hxx) = (vec![0f32; p * d], vec![0f32; p]);
            taylor_tanh_forward_on(isa, &h, &zx, &zxx, &mut hx, &mut hxx, d).unwrap();
            for i in (0..p).step_by(997) {
                let s = 1.0 - h[i] * h[i];
                assert!((hx[i] - s * zx[i]).abs() <= 1e-6 * (1.0 + hx[i].abs()), "{isa:?}");
            }
            if let Some((rx, rxx)) = &reference {
                // element-wise with no reduction: any path rounds each element alike up to FMA contraction
                for (a, b) in rx.iter().zip(&hx).chain(rxx.iter().zip(&hxx)) {
                    assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "{isa:?}");
                }
            } else {
                reference = Some((hx, hxx));
            }
        }
        let mut small = vec![0f32; 3];
        assert!(taylor_tanh_forward(&h, &zx, &zxx, &mut small, &mut vec![0f32; p], d).is_err());
    }
}
