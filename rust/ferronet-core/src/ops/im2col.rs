//! The patch matrix of a convolution: im2col (patch rows of the input, for the
//! forward and weight-gradient GEMMs) and its adjoint col2im (adding patch rows
//! back into the input gradient).

use super::conv2d::Conv2d;
use crate::gemm::GemmFloat;

impl Conv2d {
    /// Fill `p` (rows × K, row-major) with patch rows `[r0, r0+rows)`.
    pub(crate) fn im2col<T: GemmFloat>(&self, x: &[T], r0: usize, rows: usize, p: &mut [T]) {
        let (c, k) = (self.channels, self.k());
        let plane = self.h.output * self.w.output;
        // With no dilation, the KW taps of one kernel row are KW·C contiguous inputs.
        let run = self.w.size * c;
        for r in 0..rows {
            let pix = r0 + r;
            let (n, rem) = (pix / plane, pix % plane);
            let (oh, ow) = (rem / self.w.output, rem % self.w.output);
            let dst = &mut p[r * k..(r + 1) * k];
            let iw0 = (ow * self.w.stride) as isize - self.w.pad_before as isize;
            let inside = self.w.dilation == 1 && iw0 >= 0 && iw0 as usize + self.w.size <= self.w.input;
            for th in 0..self.h.size {
                let seg = &mut dst[th * run..(th + 1) * run];
                match self.h.source(oh, th) {
                    None => seg.fill(T::ZERO),
                    Some(ih) if inside => {
                        let src = ((n * self.h.input + ih) * self.w.input + iw0 as usize) * c;
                        copy(seg, &x[src..src + run]);
                    }
                    Some(ih) => {
                        for tw in 0..self.w.size {
                            let tap = &mut seg[tw * c..(tw + 1) * c];
                            match self.w.source(ow, tw) {
                                Some(iw) => {
                                    let src = ((n * self.h.input + ih) * self.w.input + iw) * c;
                                    copy(tap, &x[src..src + c]);
                                }
                                None => tap.fill(T::ZERO),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Add patch-gradient rows `[r0, r0+rows)` of dP back into dx (the adjoint of im2col).
    pub(crate) fn col2im_add<T: GemmFloat>(&self, dp: &[T], r0: usize, rows: usize, dx: &mut [T], dx_base: usize) {
        let (c, k) = (self.channels, self.k());
        let plane = self.h.output * self.w.output;
        for r in 0..rows {
            let pix = r0 + r;
            let (n, rem) = (pix / plane, pix % plane);
            let (oh, ow) = (rem / self.w.output, rem % self.w.output);
            let src = &dp[r * k..(r + 1) * k];
            let mut col = 0;
            for th in 0..self.h.size {
                let ih = self.h.source(oh, th);
                for tw in 0..self.w.size {
                    if let (Some(ih), Some(iw)) = (ih, self.w.source(ow, tw)) {
                        let at = ((n * self.h.input + ih) * self.w.input + iw) * c - dx_base;
                        for (d, &s) in dx[at..at + c].iter_mut().zip(&src[col..col + c]) {
                            *d += s;
                        }
                    }
                    col += c;
                }
            }
        }
    }
}

/// A short copy (a patch row of a few channels) without the call overhead of `copy_from_slice`.
#[inline(always)]
fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    if dst.len() <= 16 {
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v;
        }
    } else {
        dst.copy_from_slice(src);
    }
}
