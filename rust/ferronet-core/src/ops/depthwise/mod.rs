//! Depthwise 2-D convolution on NHWC images (Keras `DepthwiseConv2D`): every
//! input channel is convolved with its own `depth_multiplier` filters, and
//! output channel `ci·dm + m` is input channel `ci` seen through filter `m`.
//!
//! The kernel `(kh, kw, c, dm)` is, per tap, a row of `c·dm` weights in output
//! channel order. With `dm > 1` the input is first widened to `c·dm` channels
//! (channel `ci` repeated `dm` times), so every loop is an element-wise
//! multiply-add over channels: register tiles of several pixels by one vector
//! of channels where a pixel's window lies inside the image, and a per-pixel
//! loop elsewhere (see `passes`).
//!
//! Forward and input gradient are gathers (each output row, resp. input row,
//! is written by one block). The kernel and bias gradients are sums over all
//! output pixels: the rows are cut into chunks whose size depends on the
//! problem only, each chunk sums into its own partial, and the partials are
//! added in chunk order, so results are bitwise identical for any number of
//! threads.

mod passes;
mod tiles;

pub use tiles::DwFloat;

use crate::error::{shape_err, Result};
use crate::float::Float;
use crate::ops::sweep::{block_for, sweep};
use crate::parallel::SendPtr;
use crate::shape::{fmt_shape, Padding, Window};
use crate::simd::{self, Isa};
use passes::{Forward, InputGrad, ParamGrad, SumParts, Widen};

const OP: &str = "depthwise_conv2d";
/// Elements touched per parallel block.
const BLOCK: usize = 1 << 15;

/// Geometry of one depthwise convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Depthwise2d {
    pub batch: usize,
    pub channels: usize,
    pub multiplier: usize,
    pub h: Window,
    pub w: Window,
}

impl Depthwise2d {
    /// Checks `x` (N,H,W,C) against kernel `k` (KH,KW,C,DM) and derives the output size.
    pub fn new(
        x_shape: &[usize],
        k_shape: &[usize],
        strides: (usize, usize),
        padding: Padding,
        dilation: (usize, usize),
    ) -> Result<Depthwise2d> {
        if x_shape.len() != 4 || k_shape.len() != 4 || k_shape[2] != x_shape[3] {
            return shape_err(
                OP,
                format!(
                    "expected an NHWC input (batch, height, width, channels) and a kernel (kh, kw, channels, depth_multiplier) with the input's channels. Received: x.shape={}, kernel.shape={}",
                    fmt_shape(x_shape),
                    fmt_shape(k_shape)
                ),
            );
        }
        let h = Window::new(OP, x_shape[1], k_shape[0], strides.0, dilation.0, padding)?;
        let w = Window::new(OP, x_shape[2], k_shape[1], strides.1, dilation.1, padding)?;
        Ok(Depthwise2d { batch: x_shape[0], channels: x_shape[3], multiplier: k_shape[3], h, w })
    }

    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.h.output, self.w.output, self.channels * self.multiplier]
    }

    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.h.input, self.w.input, self.channels]
    }

    pub fn kernel_shape(&self) -> [usize; 4] {
        [self.h.size, self.w.size, self.channels, self.multiplier]
    }

    /// Output channels (`channels · multiplier`).
    pub(crate) fn wide(&self) -> usize {
        self.channels * self.multiplier
    }

    fn check(&self, name: &str, len: usize, shape: &[usize]) -> Result<()> {
        if len != shape.iter().product::<usize>() {
            return shape_err(OP, format!("{name} must have shape {}. Received: {len} elements", fmt_shape(shape)));
        }
        Ok(())
    }

    /// `y = depthwise(x, k) + bias`.
    pub fn forward<T: DwFloat>(&self, x: &[T], k: &[T], bias: Option<&[T]>, y: &mut [T]) -> Result<()> {
        self.forward_on(simd::active(), x, k, bias, y)
    }

    fn forward_on<T: DwFloat>(&self, isa: Isa, x: &[T], k: &[T], bias: Option<&[T]>, y: &mut [T]) -> Result<()> {
        self.check("x", x.len(), &self.input_shape())?;
        self.check("kernel", k.len(), &self.kernel_shape())?;
        self.check("out", y.len(), &self.output_shape())?;
        if let Some(b) = bias {
            self.check("bias", b.len(), &[self.wide()])?;
        }
        if y.is_empty() {
            return Ok(());
        }
        let widened = self.widen(isa, x);
        let xe = widened.as_deref().unwrap_or(x);
        let rows = self.batch * self.h.output;
        let per_row = self.w.output * self.wide() * self.h.size * self.w.size;
        let body = Forward { g: self, tiles: T::dw_tiles(isa), x: xe, k, bias, y: SendPtr(y.as_mut_ptr()) };
        sweep(isa, rows, block_for(per_row, BLOCK), per_row, &body);
        Ok(())
    }

    /// Gradients: `dx` (input), `dk` (kernel) and `db` (bias), each when asked for.
    pub fn backward<T: DwFloat>(
        &self,
        dy: &[T],
        x: &[T],
        k: &[T],
        dx: Option<&mut [T]>,
        dk: Option<&mut [T]>,
        db: Option<&mut [T]>,
    ) -> Result<()> {
        self.backward_on(simd::active(), dy, x, k, dx, dk, db)
    }

    #[allow(clippy::too_many_arguments)]
    fn backward_on<T: DwFloat>(
        &self,
        isa: Isa,
        dy: &[T],
        x: &[T],
        k: &[T],
        dx: Option<&mut [T]>,
        dk: Option<&mut [T]>,
        db: Option<&mut [T]>,
    ) -> Result<()> {
        self.check("dy", dy.len(), &self.output_shape())?;
        self.check("kernel", k.len(), &self.kernel_shape())?;
        if dk.is_some() {
            self.check("x", x.len(), &self.input_shape())?;
        }
        if let Some(dx) = &dx {
            self.check("dx", dx.len(), &self.input_shape())?;
        }
        if let Some(dk) = &dk {
            self.check("dk", dk.len(), &self.kernel_shape())?;
        }
        if let Some(db) = &db {
            self.check("db", db.len(), &[self.wide()])?;
        }
        if let Some(dx) = dx {
            // Every row of dx is written whole by one block (zero where no
            // output reads it), so it needs no clearing first.
            if dy.is_empty() {
                dx.fill(T::ZERO);
            } else {
                let rows = self.batch * self.h.input;
                let per_row = self.w.input * self.wide() * self.h.size * self.w.size;
                let body = InputGrad { g: self, tiles: T::dw_tiles(isa), dy, k, dx: SendPtr(dx.as_mut_ptr()) };
                sweep(isa, rows, block_for(per_row, BLOCK), per_row, &body);
            }
        }
        if dk.is_some() || db.is_some() {
            let widened = if dk.is_some() { self.widen(isa, x) } else { None };
            self.param_grads(isa, dy, widened.as_deref().unwrap_or(x), dk, db);
        }
        Ok(())
    }

    /// The input widened to `c·dm` channels (None when `dm == 1`: `x` itself serves).
    fn widen<T: Float>(&self, isa: Isa, x: &[T]) -> Option<Vec<T>> {
        let (c, dm) = (self.channels, self.multiplier);
        if dm == 1 {
            return None;
        }
        let pixels = self.batch * self.h.input * self.w.input;
        let mut xe = vec![T::ZERO; pixels * c * dm];
        let body = Widen { c, dm, x, xe: SendPtr(xe.as_mut_ptr()) };
        sweep(isa, pixels, block_for(c * dm, BLOCK), c * dm, &body);
        Some(xe)
    }

    /// Kernel and bias gradients: per-chunk partials, then their sum in chunk order.
    fn param_grads<T: DwFloat>(&self, isa: Isa, dy: &[T], xe: &[T], dk: Option<&mut [T]>, db: Option<&mut [T]>) {
        let cw = self.wide();
        let taps = self.h.size * self.w.size;
        let rows = self.batch * self.h.output;
        let per_row = self.w.output * cw * (taps + 1);
        let chunk = block_for(per_row, BLOCK);
        let chunks = rows.div_ceil(chunk).max(1);
        let part = taps * cw + cw;
        let mut partials = vec![T::ZERO; chunks * part];
        let want_k = dk.is_some();
        let tiles = T::dw_tiles(isa);
        let body = ParamGrad { g: self, tiles, dy, x: xe, chunk, want_k, parts: SendPtr(partials.as_mut_ptr()) };
        sweep(isa, chunks, 1, chunk * per_row, &body);
        let mut total = vec![T::ZERO; part];
        let sum = SumParts { parts: &partials, chunks, part, total: SendPtr(total.as_mut_ptr()) };
        sweep(isa, part, BLOCK, chunks, &sum);
        if let Some(dk) = dk {
            dk.copy_from_slice(&total[..taps * cw]);
        }
        if let Some(db) = db {
            db.copy_from_slice(&total[taps * cw..]);
        }
    }
}

#[cfg(test)]
mod tests;
