//! Convolution with bfloat16 products: the input, kernel and output gradient
//! rounded to bfloat16 once, then the float32 convolution's loops, whose
//! GEMMs run on AMX tiles when available and on the float32 kernels
//! otherwise (the rounded operands' products are exact in float32, so both
//! give the bfloat16 result up to the order of the float32 sums).

use crate::gemm::{GemmFloat, Precision};
use crate::ops::activation::Activation;
use crate::ops::conv2d::Conv2d;
use crate::ops::sweep::{sweep, Body};
use crate::parallel::SendPtr;
use crate::simd;
use crate::workspace::{with_scratch, Slot};

/// What the convolution's GEMMs are given once their operands are rounded.
fn gemm_precision() -> Precision {
    if simd::amx_enabled() {
        Precision::Bfloat16
    } else {
        Precision::Float32
    }
}

/// `out[i] = round_bf16(x[i])` over a block of indices.
struct Round<T> {
    x: *const T,
    out: SendPtr<T>,
}

// SAFETY: blocks read `x` and write disjoint ranges of `out`.
unsafe impl<T> Sync for Round<T> {}

impl<T: GemmFloat> Body for Round<T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        // SAFETY: `lo..hi` is inside both buffers, and only this block writes it.
        let (src, dst) = unsafe {
            (
                std::slice::from_raw_parts(self.x.add(lo), hi - lo),
                std::slice::from_raw_parts_mut(self.out.get().add(lo), hi - lo),
            )
        };
        for (d, &v) in dst.iter_mut().zip(src) {
            *d = v.round_bf16();
        }
    }
}

/// Call `f` with `x` rounded to bfloat16 values in this thread's buffer
/// `slot` (the rounding runs vectorised for the active SIMD path).
fn rounded<T: GemmFloat, R>(slot: Slot, x: &[T], f: impl FnOnce(&[T]) -> R) -> R {
    const BLOCK: usize = 1 << 14;
    with_scratch(slot, |s| {
        let r = s.slice::<T>(x.len());
        let body = Round { x: x.as_ptr(), out: SendPtr(r.as_mut_ptr()) };
        sweep(simd::active(), x.len(), BLOCK, 2, &body);
        f(r)
    })
}

/// [`Conv2d::forward`] in bfloat16 (arguments already checked).
pub(crate) fn forward<T: crate::ops::conv2d::ConvFloat>(
    g: &Conv2d,
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    act: Option<Activation>,
    y: &mut [T],
) {
    rounded(Slot::RoundA, x, |xr| rounded(Slot::RoundB, w, |wr| g.forward_in(xr, wr, bias, act, y, gemm_precision())))
}

/// [`Conv2d::backward`]'s dx and dW in bfloat16 (arguments already checked).
pub(crate) fn backward<T: crate::ops::conv2d::ConvFloat>(
    g: &Conv2d,
    dy: &[T],
    x: &[T],
    w: &[T],
    dx: Option<&mut [T]>,
    dw: Option<&mut [T]>,
) {
    let p = gemm_precision();
    rounded(Slot::RoundC, dy, |dyr| {
        let dw_done = match dw {
            Some(dw) => rounded(Slot::RoundA, x, |xr| g.backward_in(dyr, xr, w, None, Some(dw), None, p)),
            None => Ok(()),
        };
        let dx_done = match dx {
            Some(dx) => rounded(Slot::RoundB, w, |wr| g.backward_in(dyr, x, wr, Some(dx), None, None, p)),
            None => Ok(()),
        };
        debug_assert!(dw_done.is_ok() && dx_done.is_ok(), "arguments were checked");
    })
}
