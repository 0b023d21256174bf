//! Shape helpers shared by the ops: output sizes of windowed ops, padding.

use crate::error::{value_err, Result};

/// Keras padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

impl Padding {
    pub fn parse(op: &'static str, s: &str) -> Result<Padding> {
        match s.to_ascii_lowercase().as_str() {
            "valid" => Ok(Padding::Valid),
            "same" => Ok(Padding::Same),
            _ => value_err(op, format!("padding must be 'valid' or 'same'. Received: padding={s:?}")),
        }
    }
}

/// One spatial axis of a windowed op (convolution or pooling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Input extent.
    pub input: usize,
    /// Window extent before dilation.
    pub size: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Zero (or -inf) rows added before the input.
    pub pad_before: usize,
    /// Output extent.
    pub output: usize,
}

impl Window {
    /// Output size and padding as TensorFlow/Keras compute them: "same" gives
    /// `ceil(input / stride)` outputs, with the odd padding row at the end.
    pub fn new(
        op: &'static str,
        input: usize,
        size: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Result<Window> {
        if size == 0 || stride == 0 || dilation == 0 {
            return value_err(
                op,
                format!(
                    "window size, stride and dilation must be positive. Received: size={size}, stride={stride}, dilation={dilation}"
                ),
            );
        }
        // Every position a window can reach, (output - 1)·stride + span, must
        // fit in an isize (`source` computes it signed): refuse absurd sizes
        // instead of letting the arithmetic wrap.
        let too_large = || {
            value_err(
                op,
                format!(
                    "the window does not fit in memory arithmetic. Received: input={input}, size={size}, stride={stride}, dilation={dilation}"
                ),
            )
        };
        let Some(span) = (size - 1).checked_mul(dilation).and_then(|s| s.checked_add(1)) else {
            return too_large();
        };
        let (output, pad_before) = match padding {
            Padding::Valid => {
                if input < span {
                    (0, 0)
                } else {
                    ((input - span) / stride + 1, 0)
                }
            }
            Padding::Same => {
                let out = input.div_ceil(stride);
                let Some(reach) = ((out.max(1) - 1) * stride).checked_add(span) else {
                    return too_large();
                };
                (out, reach.saturating_sub(input) / 2)
            }
        };
        let reach = (output.max(1) - 1) * stride + span;
        if reach.max(input).checked_add(pad_before).is_none_or(|r| r > isize::MAX as usize) {
            return too_large();
        }
        Ok(Window { input, size, stride, dilation, pad_before, output })
    }

    /// Input coordinate of window tap `t` for output `o`, or None in padding.
    #[inline(always)]
    pub fn source(&self, o: usize, t: usize) -> Option<usize> {
        let pos = (o * self.stride + t * self.dilation) as isize - self.pad_before as isize;
        if pos >= 0 && (pos as usize) < self.input {
            Some(pos as usize)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_padding_matches_tensorflow() {
        // input 5, kernel 3, stride 2 -> out 3, total pad 2, before 1
        let w = Window::new("t", 5, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((w.output, w.pad_before), (3, 1));
        // input 4, kernel 2, stride 2 -> out 2, pad 0
        let w = Window::new("t", 4, 2, 2, 1, Padding::Same).unwrap();
        assert_eq!((w.output, w.pad_before), (2, 0));
        // input 6, kernel 3, stride 2 -> out 3, total pad 1, before 0
        let w = Window::new("t", 6, 3, 2, 1, Padding::Same).unwrap();
        assert_eq!((w.output, w.pad_before), (3, 0));
        let w = Window::new("t", 2, 3, 1, 1, Padding::Valid).unwrap();
        assert_eq!(w.output, 0);
    }

    #[test]
    fn window_arithmetic_that_would_wrap_is_refused() {
        // dilation·(size - 1) + 1 wraps to 1 in u64: a 4-wide output would come back
        assert!(Window::new("t", 4, 3, 1, 1 << 63, Padding::Valid).is_err());
        assert!(Window::new("t", 4, usize::MAX, usize::MAX, 1, Padding::Same).is_err());
        assert!(Window::new("t", 4, 1 << 62, 1, 2, Padding::Same).is_err());
        // large but representable windows still work
        let w = Window::new("t", 4, 3, 1, 1 << 40, Padding::Valid).unwrap();
        assert_eq!(w.output, 0);
        let w = Window::new("t", 4, 1 << 40, 1 << 40, 1, Padding::Same).unwrap();
        assert_eq!((w.output, w.pad_before), (1, ((1usize << 40) - 4) / 2));
    }
}

/// An n-d strided view over memory someone else owns (a NumPy array):
/// element `idx` lives at `ptr + Σ idx[d]·strides[d]` (strides in elements).
#[derive(Clone, Debug)]
pub struct Strided<T> {
    pub ptr: *mut T,
    pub shape: Vec<usize>,
    pub strides: Vec<isize>,
}

unsafe impl<T> Send for Strided<T> {}
unsafe impl<T> Sync for Strided<T> {}

impl<T> Strided<T> {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the elements are contiguous in row-major order.
    pub fn is_c_contiguous(&self) -> bool {
        if self.is_empty() {
            return true;
        }
        let mut expect = 1isize;
        for (&s, &st) in self.shape.iter().zip(&self.strides).rev() {
            if s != 1 && st != expect {
                return false;
            }
            expect *= s as isize;
        }
        true
    }

    /// The elements as a slice, when contiguous.
    ///
    /// # Safety
    /// The view must point at `len()` valid elements for the lifetime used.
    pub unsafe fn as_slice<'a>(&self) -> Option<&'a [T]> {
        self.is_c_contiguous().then(|| std::slice::from_raw_parts(self.ptr, self.len()))
    }

    /// # Safety
    /// As for [`Strided::as_slice`], and nothing else may access the memory.
    pub unsafe fn as_mut_slice<'a>(&self) -> Option<&'a mut [T]> {
        self.is_c_contiguous().then(|| std::slice::from_raw_parts_mut(self.ptr, self.len()))
    }
}

/// Formats a shape as NumPy prints it: `(2, 3)`, `(5,)`.
pub fn fmt_shape(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    }
}
