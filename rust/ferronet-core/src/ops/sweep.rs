//! Running a loop body over fixed-size blocks of an index range, compiled for
//! the SIMD path in use and spread over threads when the work is large.
//!
//! A kernel writes its loop once as a [`Body`] in plain Rust (slices in,
//! slices out); [`sweep`] instantiates it inside `#[target_feature]` wrappers
//! so LLVM vectorises it for AVX-512, AVX2 or the baseline. Blocks have a
//! size fixed by the caller (never by the thread count), and a body only ever
//! writes the outputs that belong to its block, so results are bitwise
//! identical for any number of threads. Inside a body, loops over a few
//! dozen channels are written as [`Lanes`] so they vectorise too.

use crate::parallel;
use crate::simd::Isa;

/// Below this much work (roughly, elements touched) a sweep runs on the
/// calling thread.
pub(crate) const PAR_THRESHOLD: usize = 1 << 16;

/// A loop over indices `lo..hi` of some range.
///
/// Implementations mark `run` `#[inline(always)]`: that is what puts its
/// loops inside the per-ISA wrappers below, where they are vectorised.
pub(crate) trait Body: Sync {
    fn run(&self, lo: usize, hi: usize);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
unsafe fn run_avx512<B: Body>(body: &B, lo: usize, hi: usize) {
    body.run(lo, hi)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2<B: Body>(body: &B, lo: usize, hi: usize) {
    body.run(lo, hi)
}

/// Runs `body` on `lo..hi` with the code generated for `isa`, which must be
/// supported by this machine (see [`sweep`]).
#[inline]
fn run_on<B: Body>(isa: Isa, body: &B, lo: usize, hi: usize) {
    match isa {
        // SAFETY: `sweep` only passes paths `Isa::is_supported` confirmed.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { run_avx512(body, lo, hi) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_avx2(body, lo, hi) },
        _ => body.run(lo, hi),
    }
}

/// Runs `body` over `0..n` in blocks `[i·block, (i+1)·block)`, each block in
/// one call, in parallel when `n · cost` (cost per index, in elements
/// touched) is worth it. A path the machine lacks falls back to the baseline.
pub(crate) fn sweep<B: Body>(isa: Isa, n: usize, block: usize, cost: usize, body: &B) {
    if n == 0 {
        return;
    }
    let isa = if isa.is_supported() { isa } else { Isa::Scalar };
    let block = block.max(1);
    let blocks = n.div_ceil(block);
    let one = |i: usize| run_on(isa, body, i * block, ((i + 1) * block).min(n));
    if blocks > 1 && parallel::worth_parallel(n.saturating_mul(cost.max(1)), PAR_THRESHOLD) {
        parallel::for_each(blocks, one);
    } else {
        (0..blocks).for_each(one);
    }
}

/// An element-wise operation over equal-length slices, written for `G`
/// consecutive lanes starting at `i`, with `G` known at compile time.
///
/// NOTE: a loop over one pixel's channels is short (8–64 lanes) and its
/// length is only known at run time; LLVM vectorises such a loop several
/// registers at a time and leaves anything shorter to its scalar remainder,
/// so 32 channels would run one lane at a time. [`lanes`] calls `group` on
/// runs of 16, then 4, then 1 lanes instead: over fixed-size arrays
/// each run becomes whole SIMD registers. Write a group as: copy the inputs
/// out ([`arr`]), compute on the local arrays, copy the results back
/// ([`arr_mut`]) — the slices may alias as far as LLVM knows, so loads must
/// not be interleaved with stores — and keep it branch-free (`if` between
/// two values, `&`/`|` on bools).
pub(crate) trait Lanes {
    /// Number of lanes.
    fn len(&self) -> usize;
    fn group<const G: usize>(&mut self, i: usize);
}

/// Runs `op` over all its lanes.
#[inline(always)]
pub(crate) fn lanes<L: Lanes>(mut op: L) {
    let n = op.len();
    let mut i = 0;
    while i + 16 <= n {
        op.group::<16>(i);
        i += 16;
    }
    while i + 4 <= n {
        op.group::<4>(i);
        i += 4;
    }
    while i < n {
        op.group::<1>(i);
        i += 1;
    }
}

/// `s[i..i + G]` as an array (one bounds check per group).
#[inline(always)]
pub(crate) fn arr<T, const G: usize>(s: &[T], i: usize) -> &[T; G] {
    s[i..i + G].try_into().expect("a range of length G")
}

/// `s[i..i + G]` as a mutable array (one bounds check per group).
#[inline(always)]
pub(crate) fn arr_mut<T, const G: usize>(s: &mut [T], i: usize) -> &mut [T; G] {
    (&mut s[i..i + G]).try_into().expect("a range of length G")
}

/// Number of indices per block so that a block touches about `target`
/// elements when each index touches `per_index` of them.
pub(crate) fn block_for(per_index: usize, target: usize) -> usize {
    (target / per_index.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parallel::SendPtr;
    use crate::simd;

    struct Square {
        x: Vec<f32>,
        y: SendPtr<f32>,
    }

    impl Body for Square {
        #[inline(always)]
        fn run(&self, lo: usize, hi: usize) {
            let y = unsafe { std::slice::from_raw_parts_mut(self.y.get().add(lo), hi - lo) };
            for (y, &x) in y.iter_mut().zip(&self.x[lo..hi]) {
                *y = x * x;
            }
        }
    }

    #[test]
    fn every_index_is_visited_once_on_every_path() {
        for isa in simd::supported() {
            for n in [0usize, 1, 7, 1000, 200_003] {
                let mut y = vec![-1f32; n];
                let body = Square { x: (0..n).map(|i| i as f32).collect(), y: SendPtr(y.as_mut_ptr()) };
                sweep(isa, n, 4096, 1, &body);
                assert!(y.iter().enumerate().all(|(i, &v)| v == (i as f32) * (i as f32)), "{isa:?} n={n}");
            }
        }
    }
}
