//! The input gradient of a strided convolution (a transposed convolution's
//! forward pass) as direct convolutions, one per stride phase.
//!
//! Along an axis of stride `s`, input position `i` receives output `o` through
//! tap `t` when `o·s + t = i + pad`. Inputs of one phase `r = (i + pad) mod s`
//! receive exactly the taps `r, r + s, r + 2s, …`, from consecutive outputs
//! `u, u - 1, u - 2, …` where `u = (i + pad - r) / s`. So each of the `sy·sx`
//! phases is a unit-stride direct convolution of the (zero-padded) output
//! gradient with a sub-kernel, written to every `s`-th input pixel: the
//! register tiles of the direct forward pass run it with no patch matrix and
//! no scatter-add, and every input pixel is written once.

use super::tiles::ConvTiles;
use super::ConvFloat;
use crate::error::{shape_err, Result};
use crate::gemm::{pack_b_panel, MatPtr, Precision};
use crate::ops::conv2d::Conv2d;
use crate::ops::conv2d_bf16;
use crate::parallel::{self, SendPtr};
use crate::shape::fmt_shape;
use crate::shape::Window;
use crate::simd;
use crate::workspace::{with_scratch, Slot};

const OP: &str = "conv2d_transpose";

impl Conv2d {
    /// A transposed convolution (Keras' `Conv2DTranspose`): `y = conv2d_input_grad(x, w) + bias`, with `x`
    /// shaped like this convolution's output, `y` like its input and `w` its `(KH, KW, C, F)` kernel; the
    /// products in `precision`.
    pub fn transpose<T: ConvFloat>(
        &self,
        x: &[T],
        w: &[T],
        bias: Option<&[T]>,
        y: &mut [T],
        precision: Precision,
    ) -> Result<()> {
        precision.check::<T>(OP)?;
        let shapes: [(&str, usize, &[usize]); 3] = [
            ("x", x.len(), &self.output_shape()),
            ("kernel", w.len(), &self.kernel_shape()),
            ("out", y.len(), &self.input_shape()),
        ];
        for (what, got, want) in shapes {
            if got != want.iter().product::<usize>() {
                return shape_err(OP, format!("{what} must have shape {}. Received: {got} elements", fmt_shape(want)));
            }
        }
        if let Some(b) = bias {
            if b.len() != self.channels {
                return shape_err(
                    OP,
                    format!("bias must have shape ({},). Received: {} elements", self.channels, b.len()),
                );
            }
        }
        if y.is_empty() {
            return Ok(());
        }
        if self.filters == 0 || x.is_empty() {
            // Nothing reaches y but the bias.
            fill_bias(y, bias, self.channels);
            return Ok(());
        }
        if precision == Precision::Float32 && usable(self) {
            input_grad(self, x, w, bias, y);
            return Ok(());
        }
        match precision {
            Precision::Bfloat16 => conv2d_bf16::backward(self, x, &[], w, Some(&mut *y), None),
            _ => self.backward_in(x, &[], w, Some(&mut *y), None, None, Precision::Float32)?,
        }
        if let Some(b) = bias {
            for px in y.chunks_exact_mut(self.channels) {
                px.iter_mut().zip(b).for_each(|(v, &bv)| *v += bv);
            }
        }
        Ok(())
    }
}

fn fill_bias<T: ConvFloat>(y: &mut [T], bias: Option<&[T]>, c: usize) {
    match bias {
        Some(b) => y.chunks_exact_mut(c).for_each(|px| px.copy_from_slice(b)),
        None => y.fill(T::ZERO),
    }
}

/// Whether [`input_grad`] takes this geometry: strided, undilated, a phase's
/// kernel panel in L2, and the padded output gradient not much larger than
/// the input gradient.
pub(crate) fn usable(g: &Conv2d) -> bool {
    let strided = g.h.stride > 1 || g.w.stride > 1;
    let (hp, wp) = (Axis::new(&g.h).padded, Axis::new(&g.w).padded);
    let plain = g.h.dilation == 1 && g.w.dilation == 1;
    let taps = g.h.size.div_ceil(g.h.stride) * g.w.size.div_ceil(g.w.stride) * g.filters;
    strided
        && plain
        && taps <= super::MAX_WIDE_K
        && hp.checked_mul(wp).is_some_and(|p| p <= 4 * g.h.input * g.w.input + (1 << 16))
}

/// One axis of the phase decomposition.
struct Axis {
    stride: usize,
    pad: usize,
    size: usize,
    input: usize,
    output: usize,
    /// Zero rows before the output gradient: the most taps of a phase, less one.
    lead: usize,
    /// Padded extent of the output gradient.
    padded: usize,
}

impl Axis {
    fn new(win: &Window) -> Axis {
        let (s, p) = (win.stride, win.pad_before);
        let lead = win.size.div_ceil(s).saturating_sub(1);
        let last_u = (win.input.max(1) - 1 + p) / s;
        Axis {
            stride: s,
            pad: p,
            size: win.size,
            input: win.input,
            output: win.output,
            lead,
            padded: lead + win.output.max(last_u + 1),
        }
    }

    /// Taps of phase `r`: kernel indices `r, r + s, …` below the window size.
    fn taps(&self, r: usize) -> usize {
        self.size.saturating_sub(r).div_ceil(self.stride)
    }

    /// First input position of phase `r`, and how many there are.
    fn positions(&self, r: usize) -> (usize, usize) {
        let first = (r + self.stride * self.pad - self.pad) % self.stride;
        (first, if first < self.input { (self.input - first).div_ceil(self.stride) } else { 0 })
    }

    /// Padded index of the output that input `i` meets through its phase's first tap.
    fn u(&self, i: usize, r: usize) -> usize {
        (i + self.pad - r) / self.stride + self.lead
    }
}

/// `dx = conv2d_input_grad(dy, w)` (+ `bias` per channel) for the geometries
/// of [`usable`].
pub(crate) fn input_grad<T: ConvFloat>(g: &Conv2d, dy: &[T], w: &[T], bias: Option<&[T]>, dx: &mut [T]) {
    let tiles: ConvTiles<T> = T::conv_tiles(simd::active());
    let (c, f) = (g.channels, g.filters);
    let (nr, mr, fwd) =
        if c <= tiles.nr1 { (tiles.nr1, tiles.mr1, tiles.fwd1) } else { (tiles.nr, tiles.mr, tiles.fwd) };
    let panels = c.div_ceil(nr);
    let (ay, ax) = (Axis::new(&g.h), Axis::new(&g.w));
    let (sy, sx) = (ay.stride, ax.stride);
    let phases: Vec<(usize, usize)> = (0..sy).flat_map(|ry| (0..sx).map(move |rx| (ry, rx))).collect();
    // Per phase: its taps (ty, tx, f) as offsets from a window corner, and where its kernel panels start.
    let mut offs: Vec<Vec<isize>> = Vec::with_capacity(phases.len());
    let mut starts = Vec::with_capacity(phases.len() + 1);
    starts.push(0);
    for &(ry, rx) in &phases {
        let (ty, tx) = (ay.taps(ry), ax.taps(rx));
        let o: Vec<isize> = (0..ty)
            .flat_map(|a| {
                (0..tx)
                    .flat_map(move |b| (0..f).map(move |k| (((ty - 1 - a) * ax.padded + tx - 1 - b) * f + k) as isize))
            })
            .collect();
        starts.push(starts.last().unwrap() + panels * nr * o.len());
        offs.push(o);
    }
    with_padded(g, &ay, &ax, dy, |dyp| {
        with_scratch(Slot::PackB, |s| {
            let buf = s.slice::<T>(starts[phases.len()] + panels * nr);
            with_scratch(Slot::Im2col, |t| {
                for (p, &(ry, rx)) in phases.iter().enumerate() {
                    let (ty, tx) = (ay.taps(ry), ax.taps(rx));
                    let k = ty * tx * f;
                    if k == 0 {
                        continue;
                    }
                    // The phase's sub-kernel as a k × C matrix: row (a, b, f), column c.
                    let sub = t.slice::<T>(k * c);
                    for a in 0..ty {
                        for b in 0..tx {
                            let tap = (ry + a * sy) * g.w.size + rx + b * sx;
                            for ch in 0..c {
                                for fi in 0..f {
                                    sub[((a * tx + b) * f + fi) * c + ch] = w[(tap * c + ch) * f + fi];
                                }
                            }
                        }
                    }
                    let m = MatPtr { ptr: sub.as_ptr(), rs: c as isize, cs: 1 };
                    for q in 0..panels {
                        // SAFETY: panel q of this phase lands inside its share of `buf`.
                        unsafe { pack_b_panel(buf.as_mut_ptr().add(starts[p]), m, 0, k, 0, c, nr, q) };
                    }
                }
            });
            let (panels_buf, bias_buf) = buf.split_at_mut(starts[phases.len()]);
            if let Some(b) = bias {
                bias_buf[..c].copy_from_slice(b);
                bias_buf[c..].fill(T::ZERO);
            }
            let (wp, bp) = (&*panels_buf, &*bias_buf);
            let dx_ptr = SendPtr(dx.as_mut_ptr());
            let rows = g.batch * ay.input;
            let row = |r: usize| {
                let (n, iy) = (r / ay.input, r % ay.input);
                let ry = (iy + ay.pad) % sy;
                // SAFETY: row r of dx belongs to this task.
                let out = unsafe { std::slice::from_raw_parts_mut(dx_ptr.get().add(r * ax.input * c), ax.input * c) };
                for rx in 0..sx {
                    let p = ry * sx + rx;
                    let (first, count) = ax.positions(rx);
                    let k = offs[p].len();
                    if k == 0 {
                        // No tap reaches these pixels (a stride larger than the kernel).
                        for px in (first..ax.input).step_by(sx) {
                            fill_bias(&mut out[px * c..(px + 1) * c], bias, c);
                        }
                        continue;
                    }
                    let (ty, tx) = (ay.taps(ry), ax.taps(rx));
                    let corner_y = ay.u(iy, ry) - (ty - 1);
                    for m0 in (0..count).step_by(mr) {
                        let ix = first + m0 * sx;
                        let corner_x = ax.u(ix, rx) - (tx - 1);
                        for q in 0..panels {
                            // SAFETY: every tap of these pixels lies inside the padded output
                            // gradient; the tile writes pixels ix, ix + sx, … of this row.
                            unsafe {
                                fwd(
                                    k,
                                    dyp.as_ptr().add(((n * ay.padded + corner_y) * ax.padded + corner_x) * f),
                                    f as isize,
                                    offs[p].as_ptr(),
                                    wp.as_ptr().add(starts[p] + q * k * nr),
                                    if bias.is_some() { bp.as_ptr().add(q * nr) } else { std::ptr::null() },
                                    out.as_mut_ptr().add(ix * c + q * nr),
                                    (sx * c) as isize,
                                    mr.min(count - m0),
                                    nr.min(c - q * nr),
                                );
                            }
                        }
                    }
                }
            };
            // Tasks of whole rows, about FWD_TASK outputs each: one row is too little work to be
            // worth a task's share of the team's counters.
            let per_task = (super::FWD_TASK / (ax.input * c).max(1)).max(1);
            let task = |t: usize| (t * per_task..((t + 1) * per_task).min(rows)).for_each(row);
            if parallel::worth_parallel(g.m() * g.k() * f, 1 << 18) {
                parallel::for_each(rows.div_ceil(per_task), task);
            } else {
                (0..rows).for_each(row);
            }
        })
    })
}

/// Calls `f` with the output gradient zero-padded by `lead` rows and columns
/// before it and to the padded extents after it.
fn with_padded<T: ConvFloat, R>(g: &Conv2d, ay: &Axis, ax: &Axis, dy: &[T], f: impl FnOnce(&[T]) -> R) -> R {
    let fl = g.filters;
    with_scratch(Slot::Partial, |s| {
        let p = s.slice::<T>(g.batch * ay.padded * ax.padded * fl);
        p.fill(T::ZERO);
        let row = ax.output * fl;
        for n in 0..g.batch {
            for h in 0..ay.output {
                let src = (n * ay.output + h) * row;
                let dst = ((n * ay.padded + h + ay.lead) * ax.padded + ax.lead) * fl;
                p[dst..dst + row].copy_from_slice(&dy[src..src + row]);
            }
        }
        f(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::Padding;
    use crate::testing::uniform as data;

    /// dx by its definition: every output's gradient scattered through every tap.
    fn scatter(g: &Conv2d, dy: &[f64], w: &[f64]) -> Vec<f64> {
        let [n, oh, ow, f] = g.output_shape();
        let c = g.channels;
        let mut dx = vec![0.0; g.input_shape().iter().product()];
        for b in 0..n {
            for oy in 0..oh {
                for ox in 0..ow {
                    for i in 0..g.h.size {
                        for j in 0..g.w.size {
                            let (Some(iy), Some(ix)) = (g.h.source(oy, i), g.w.source(ox, j)) else { continue };
                            for ch in 0..c {
                                for fi in 0..f {
                                    dx[((b * g.h.input + iy) * g.w.input + ix) * c + ch] += dy
                                        [((b * oh + oy) * ow + ox) * f + fi]
                                        * w[((i * g.w.size + j) * c + ch) * f + fi];
                                }
                            }
                        }
                    }
                }
            }
        }
        dx
    }

    #[test]
    fn every_phase_matches_the_scatter_definition() {
        // Narrow and wide tiles, ragged panels, phases without taps (stride > kernel),
        // "same" and "valid", odd sizes, unequal strides, a 4x4 kernel (two taps per phase).
        let cases = [
            ([2, 14, 14, 32], [3, 3, 32, 32], (2, 2), Padding::Same),
            ([1, 13, 11, 5], [3, 3, 5, 7], (2, 2), Padding::Valid),
            ([2, 9, 10, 40], [3, 2, 40, 3], (2, 3), Padding::Same),
            ([1, 12, 12, 3], [2, 2, 3, 4], (3, 3), Padding::Valid),
            ([1, 16, 16, 8], [4, 4, 8, 6], (2, 2), Padding::Same),
            ([3, 7, 7, 17], [5, 5, 17, 2], (2, 1), Padding::Same),
        ];
        for (i, (xs, ks, st, pad)) in cases.into_iter().enumerate() {
            let g = Conv2d::new(&xs, &ks, st, pad, (1, 1)).unwrap();
            assert!(usable(&g), "case {i}");
            let w = data(ks.iter().product(), 2 * i as u64);
            let dy = data(g.output_shape().iter().product(), 2 * i as u64 + 1);
            let bias = data(xs[3], 99);
            let want = scatter(&g, &dy, &w);
            let mut dx = vec![f64::NAN; want.len()];
            input_grad(&g, &dy, &w, None, &mut dx);
            assert!(dx.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-12), "case {i}");
            input_grad(&g, &dy, &w, Some(&bias), &mut dx);
            assert!(dx.iter().zip(&want).enumerate().all(|(j, (a, b))| (a - b - bias[j % xs[3]]).abs() < 1e-12));
        }
    }

    #[test]
    fn transpose_adds_the_bias_on_every_path_and_checks_shapes() {
        // The phase path, a dilated kernel (the GEMM path) and a unit stride (the adjoint direct path).
        for (i, (st, dil)) in [((2, 2), (1, 1)), ((2, 1), (2, 1)), ((1, 1), (1, 1))].into_iter().enumerate() {
            let (xs, ks) = ([2, 11, 9, 6], [3, 3, 6, 5]);
            let g = Conv2d::new(&xs, &ks, st, Padding::Same, dil).unwrap();
            let w = data(ks.iter().product(), 40 + i as u64);
            let x = data(g.output_shape().iter().product(), 50 + i as u64);
            let bias = data(6, 60);
            let want = scatter(&g, &x, &w);
            let mut y = vec![f64::NAN; want.len()];
            g.transpose(&x, &w, Some(&bias), &mut y, Precision::Float32).unwrap();
            assert!(y.iter().zip(&want).enumerate().all(|(j, (a, b))| (a - b - bias[j % 6]).abs() < 1e-12), "{i}");
            assert!(g.transpose(&x[1..], &w, None, &mut y, Precision::Float32).is_err());
            assert!(g.transpose(&x, &w, Some(&bias[1..]), &mut y, Precision::Float32).is_err());
        }
    }
}
