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
    ///
    /// When the memory cannot be had, unwinds with an [`OutOfMemory`] payload
    /// (the bindings report it as a MemoryError) instead of aborting.
    pub fn slice<T: Copy>(&mut self, len: usize) -> &mut [T] {
        let Some(bytes) = len.checked_mul(std::mem::size_of::<T>()).filter(|&b| b <= isize::MAX as usize) else {
            std::panic::panic_any(OutOfMemory { bytes: usize::MAX });
        };
        let need = bytes.div_ceil(64);
        if self.lines.len() < need {
            if self.lines.try_reserve_exact(need - self.lines.len()).is_err() {
                std::panic::panic_any(OutOfMemory { bytes });
            }
            self.lines.resize(need, Line([0; 64]));
        }
        // SAFETY: the buffer is 64-byte aligned, at least `bytes` long and
        // fully initialized; T is a plain float type for every caller.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut T, len) }
    }
}

/// Panic payload of a scratch buffer that could not be allocated.
#[derive(Debug, Clone, Copy)]
pub struct OutOfMemory {
    /// Bytes asked for (`usize::MAX`: more than the address space).
    pub bytes: usize,
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
    /// A recurrent layer's step buffers: its stacked weights or one step's
    /// gate gradients (A), the stacked weights and their gradient (B), one
    /// step's left factor `[x_s | h]` and its gradient (C).
    SeqA = 7,
    SeqB = 8,
    SeqC = 9,
    /// A second packed right-hand factor held beside [`Slot::PackB`].
    PackB2 = 10,
}

thread_local! {
    static SLOTS: [Cell<Scratch>; 11] = Default::default();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_too_large_unwinds_with_out_of_memory_instead_of_aborting() {
        for len in [usize::MAX / 2, 1 << 60] {
            let r = std::panic::catch_unwind(|| {
                let mut s = Scratch::default();
                s.slice::<f32>(len).len()
            });
            let payload = r.expect_err("cannot allocate that much");
            assert!(payload.downcast_ref::<OutOfMemory>().is_some(), "len {len}");
        }
        assert_eq!(Scratch::default().slice::<f64>(100).len(), 100);
    }
}
