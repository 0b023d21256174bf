//! Packing: copy a block of A (or B) into the micro-panel order the kernels
//! stream through, zero-padding the ragged edge so kernels never branch.

use crate::Float;

/// A strided matrix view: element (i, j) lives at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy)]
pub struct MatPtr<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

unsafe impl<T> Send for MatPtr<T> {}
unsafe impl<T> Sync for MatPtr<T> {}

impl<T: Copy> MatPtr<T> {
    #[inline(always)]
    pub(crate) unsafe fn at(&self, i: usize, j: usize) -> *const T {
        self.ptr.offset(i as isize * self.rs + j as isize * self.cs)
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatPtr { ptr: self.ptr, rs: self.cs, cs: self.rs }
    }
}

/// Pack rows `[i0, i0+mc)` × cols `[p0, p0+kc)` of A into `mc/MR` panels,
/// each `kc` columns of `mr` contiguous values.
pub(crate) unsafe fn pack_a<T: Float>(
    dst: &mut [T],
    a: MatPtr<T>,
    i0: usize,
    mc: usize,
    p0: usize,
    kc: usize,
    mr: usize,
) {
    let mut d = 0;
    for ir in (0..mc).step_by(mr) {
        let rows = mr.min(mc - ir);
        if a.cs == 1 && rows == mr && matches!(mr, 4 | 6 | 8) {
            // Row-major A: stream mr rows at once, writing the panel in order.
            let dst = dst[d..d + kc * mr].as_mut_ptr();
            let src = a.at(i0 + ir, p0);
            match mr {
                8 => interleave_rows::<T, 8>(dst, src, a.rs, kc),
                6 => interleave_rows::<T, 6>(dst, src, a.rs, kc),
                _ => interleave_rows::<T, 4>(dst, src, a.rs, kc),
            }
        } else if a.rs == 1 && rows == mr {
            // Column-major A (a transposed view): each k step is mr contiguous values.
            let dst = dst[d..d + kc * mr].as_mut_ptr();
            let src = a.at(i0 + ir, p0);
            for p in 0..kc {
                copy_row(src.offset(p as isize * a.cs), dst.add(p * mr), mr, mr);
            }
        } else {
            for p in 0..kc {
                let base = d + p * mr;
                for i in 0..rows {
                    *dst.get_unchecked_mut(base + i) = *a.at(i0 + ir + i, p0 + p);
                }
                for i in rows..mr {
                    *dst.get_unchecked_mut(base + i) = T::ZERO;
                }
            }
        }
        d += kc * mr;
    }
}

/// Pack rows `[p0, p0+kc)` × the `nr`-wide panels `panels` of columns
/// starting at `j0` of B; panel `q` lands at `dst[q*kc*nr ..]`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn pack_b_panel<T: Float>(
    dst: *mut T,
    b: MatPtr<T>,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    nr: usize,
    q: usize,
) {
    let jr = q * nr;
    let cols = nr.min(nc - jr);
    let d = dst.add(q * kc * nr);
    if b.cs == 1 {
        for p in 0..kc {
            let src = b.at(p0 + p, j0 + jr);
            let row = d.add(p * nr);
            copy_row(src, row, cols, nr);
            for j in cols..nr {
                *row.add(j) = T::ZERO;
            }
        }
        return;
    }
    if b.rs == 1 {
        // Column-major B (a transposed view, e.g. a kernel's Wᵀ): 16 rows of
        // the panel at a time, so the rows being written stay in L1 while
        // every column's contiguous run is copied in.
        for q0 in (0..kc).step_by(16) {
            let rows = 16.min(kc - q0);
            for j in 0..cols {
                let src = b.at(p0 + q0, j0 + jr + j);
                for t in 0..rows {
                    *d.add((q0 + t) * nr + j) = *src.add(t);
                }
            }
        }
    } else {
        for j in 0..cols {
            let src = b.at(p0, j0 + jr + j);
            for p in 0..kc {
                *d.add(p * nr + j) = *src.offset(p as isize * b.rs);
            }
        }
    }
    for p in 0..kc {
        for j in cols..nr {
            *d.add(p * nr + j) = T::ZERO;
        }
    }
}

/// Copy one packed row; full rows of the common widths are copied with a
/// constant length so they compile to a few vector moves, not a memcpy call.
#[inline(always)]
unsafe fn copy_row<T: Copy>(src: *const T, dst: *mut T, cols: usize, nr: usize) {
    #[inline(always)]
    unsafe fn fixed<T: Copy, const N: usize>(src: *const T, dst: *mut T) {
        (dst as *mut [T; N]).write_unaligned((src as *const [T; N]).read_unaligned())
    }
    match (cols == nr, nr) {
        (true, 32) => fixed::<T, 32>(src, dst),
        (true, 16) => fixed::<T, 16>(src, dst),
        (true, 8) => fixed::<T, 8>(src, dst),
        (true, 6) => fixed::<T, 6>(src, dst),
        (true, 4) => fixed::<T, 4>(src, dst),
        _ => std::ptr::copy_nonoverlapping(src, dst, cols),
    }
}

/// `dst[p*MR + i] = src[i*rs + p]` for `p < kc`: MR contiguous rows, interleaved.
#[inline(always)]
unsafe fn interleave_rows<T: Copy, const MR: usize>(dst: *mut T, src: *const T, rs: isize, kc: usize) {
    let rows: [*const T; MR] = std::array::from_fn(|i| src.offset(i as isize * rs));
    for p in 0..kc {
        let out = dst.add(p * MR);
        for i in 0..MR {
            *out.add(i) = *rows[i].add(p);
        }
    }
}
