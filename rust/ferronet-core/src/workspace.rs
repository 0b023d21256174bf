//! Per-thread scratch buffers (packing panels, im2col tiles) that are grown
//! once and reused, so steady-state kernels touch no fresh memory.

use std::cell::Cell;

#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// A 64-byte-aligned byte buffer that only grows.
#[derive(Default)]
pub(crate) struct Scratch {
    lines: Vec<Line>,
}

impl Scratch {
    /// A slice of `len` elements of `T` (contents unspecified but initialized).
    pub fn slice<T: Copy>(&mut self, len: usize) -> &mut [T] {
        let bytes = len * std::mem::size_of::<T>();
        let need = bytes.div_ceil(64);
        if self.lines.len() < need {
            self.lines.resize(need, Line([0; 64]));
        }
        // SAFETY: the buffer is 64-byte aligned, at least `bytes` long and
        // fully initialized; T is a plain float type for every caller.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut T, len) }
    }
}

/// Which per-thread buffer to borrow.
#[derive(Clone, Copy)]
pub(crate) enum Slot {
    PackA = 0,
    PackB = 1,
    Im2col = 2,
    Partial = 3,
    /// Operands rounded to bfloat16 (the bfloat16 GEMM without AMX).
    RoundA = 4,
    RoundB = 5,
    RoundC = 6,
}

thread_local! {
    static SLOTS: [Cell<Scratch>; 7] = Default::default();
}

/// Borrow this thread's buffer `slot` for the duration of `f`.
///
/// The buffer is taken out of its slot while in use, so a nested use of the
/// same slot on this thread (a serial nested job, say)
/// gets a fresh buffer instead of aliasing this one.
pub(crate) fn with_scratch<R>(slot: Slot, f: impl FnOnce(&mut Scratch) -> R) -> R {
    let mut buf = SLOTS.with(|s| s[slot as usize].take());
    let r = f(&mut buf);
    SLOTS.with(|s| {
        // Keep the larger buffer when a nested use left one behind.
        let cell = &s[slot as usize];
        let other = cell.take();
        cell.set(if other.lines.len() > buf.lines.len() { other } else { buf });
    });
    r
}
