//! `np.matmul` semantics on the GEMM: 1-D promotion, broadcast batches,
//! arbitrary strides; and `linear` (x·W + b) for dense layers.

use crate::error::{shape_err, Result};
use crate::gemm::{self, GemmFloat, MatPtr, Precision};
use crate::ops::sweep::{sweep, Body};
use crate::parallel::{self, SendPtr};
use crate::shape::{fmt_shape, Strided};

const OP: &str = "matmul";

/// The shape `np.matmul(a, b)` returns, or the error NumPy would raise.
pub fn matmul_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    if a.is_empty() || b.is_empty() {
        return shape_err(
            OP,
            format!(
                "operands must have at least one dimension (use multiply for scalars). Received shapes {} and {}",
                fmt_shape(a),
                fmt_shape(b)
            ),
        );
    }
    let (m, ka) = if a.len() == 1 { (None, a[0]) } else { (Some(a[a.len() - 2]), a[a.len() - 1]) };
    let (kb, n) = if b.len() == 1 { (b[0], None) } else { (b[b.len() - 2], Some(b[b.len() - 1])) };
    if ka != kb {
        return shape_err(
            OP,
            format!(
                "shapes {} and {} are not aligned: the last axis of a has {ka} elements but the {} axis of b has {kb}",
                fmt_shape(a),
                fmt_shape(b),
                if b.len() == 1 { "only" } else { "second-to-last" }
            ),
        );
    }
    let batch_a = &a[..a.len().saturating_sub(2)];
    let batch_b = &b[..b.len().saturating_sub(2)];
    let mut out = broadcast(batch_a, batch_b).ok_or_else(|| crate::Error::Shape {
        op: OP,
        msg: format!("batch dimensions of {} and {} cannot be broadcast together", fmt_shape(a), fmt_shape(b)),
    })?;
    out.extend(m);
    out.extend(n);
    Ok(out)
}

fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let nd = a.len().max(b.len());
    (0..nd)
        .map(|i| {
            let da = if i + a.len() >= nd { a[i + a.len() - nd] } else { 1 };
            let db = if i + b.len() >= nd { b[i + b.len() - nd] } else { 1 };
            match (da, db) {
                (x, y) if x == y => Some(x),
                (1, y) => Some(y),
                (x, 1) => Some(x),
                _ => None,
            }
        })
        .collect()
}

/// Splits an operand into (batch shape, batch strides, matrix view, rows, cols),
/// promoting a 1-D operand to a row (`is_a`) or a column vector.
fn as_matrix<T>(v: &Strided<T>, is_a: bool) -> (Vec<usize>, Vec<isize>, MatPtr<T>, usize, usize) {
    let nd = v.shape.len();
    if nd == 1 {
        let (len, st) = (v.shape[0], v.strides[0]);
        let mat = if is_a {
            MatPtr { ptr: v.ptr as *const T, rs: 0, cs: st }
        } else {
            MatPtr { ptr: v.ptr as *const T, rs: st, cs: 0 }
        };
        return if is_a { (vec![], vec![], mat, 1, len) } else { (vec![], vec![], mat, len, 1) };
    }
    let mat = MatPtr { ptr: v.ptr as *const T, rs: v.strides[nd - 2], cs: v.strides[nd - 1] };
    (v.shape[..nd - 2].to_vec(), v.strides[..nd - 2].to_vec(), mat, v.shape[nd - 2], v.shape[nd - 1])
}

/// Element offset of each broadcast batch entry for an operand.
fn batch_offsets(batch: &[usize], shape: &[usize], strides: &[isize]) -> Vec<isize> {
    let total: usize = batch.iter().product();
    let lead = batch.len() - shape.len();
    let mut offs = Vec::new();
    if offs.try_reserve_exact(total).is_err() {
        std::panic::panic_any(crate::OutOfMemory { bytes: total.saturating_mul(std::mem::size_of::<isize>()) });
    }
    let mut idx = vec![0usize; batch.len()];
    for _ in 0..total {
        let mut off = 0isize;
        for d in 0..shape.len() {
            if shape[d] != 1 {
                off += idx[lead + d] as isize * strides[d];
            }
        }
        offs.push(off);
        for d in (0..batch.len()).rev() {
            idx[d] += 1;
            if idx[d] < batch[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    offs
}

/// `out = a @ b` with NumPy's matmul semantics, multiplied in `precision`;
/// `out` must have the shape [`matmul_shape`] returns.
///
/// # Safety
/// The views must address valid memory; `out` must not overlap `a` or `b`.
pub unsafe fn matmul<T: GemmFloat>(
    a: &Strided<T>,
    b: &Strided<T>,
    out: &Strided<T>,
    precision: Precision,
) -> Result<()> {
    precision.check::<T>(OP)?;
    let want = matmul_shape(&a.shape, &b.shape)?;
    if want != out.shape {
        return shape_err(
            OP,
            format!("out has shape {} but the result has shape {}", fmt_shape(&out.shape), fmt_shape(&want)),
        );
    }
    if out.is_empty() {
        return Ok(()); // nothing to write, however many (empty) products there are
    }
    let (ba, sa, ma, m, k) = as_matrix(a, true);
    let (bb, sb, mb, _, n) = as_matrix(b, false);
    let core_dims = usize::from(a.shape.len() > 1) + usize::from(b.shape.len() > 1);
    let batch: Vec<usize> = want[..want.len() - core_dims].to_vec();
    let od = out.shape.len();
    let (rsc, csc) = match (a.shape.len() > 1, b.shape.len() > 1) {
        (true, true) => (out.strides[od - 2], out.strides[od - 1]),
        (true, false) => (out.strides[od - 1], 0),
        (false, true) => (0, out.strides[od - 1]),
        (false, false) => (0, 0),
    };
    let count: usize = batch.iter().product();
    let oa = batch_offsets(&batch, &ba, &sa);
    let ob = batch_offsets(&batch, &bb, &sb);
    let oc = batch_offsets(&batch, &batch, &out.strides[..batch.len()]);
    let c = SendPtr(out.ptr);
    let mats = (ma, mb);
    let one = |i: usize, serial: bool| {
        let (ma, mb) = mats;
        let ai = MatPtr { ptr: ma.ptr.offset(oa[i]), ..ma };
        let bi = MatPtr { ptr: mb.ptr.offset(ob[i]), ..mb };
        let ci = c.get().offset(oc[i]);
        gemm::gemm_in(precision, serial, m, n, k, ai, bi, ci, rsc, csc, false)
    };
    // Many small products: one thread per product; otherwise let each GEMM
    // spread itself.
    if count > 1 && m * n * k < (1 << 18) && parallel::worth_parallel(count * m * n * k, 1 << 19) {
        parallel::for_each(count, |i| one(i, true));
    } else {
        (0..count).for_each(|i| one(i, false));
    }
    Ok(())
}

/// Rows of `out` set to the bias.
struct BiasRows<'a, T> {
    bias: &'a [T],
    out: SendPtr<T>,
    rs: isize,
    cs: isize,
}

impl<T: GemmFloat> Body for BiasRows<'_, T> {
    #[inline(always)]
    fn run(&self, lo: usize, hi: usize) {
        for i in lo..hi {
            // SAFETY: `linear` checked `out` holds these rows; each row belongs to one block.
            unsafe {
                let row = self.out.get().offset(i as isize * self.rs);
                if self.cs == 1 {
                    std::slice::from_raw_parts_mut(row, self.bias.len()).copy_from_slice(self.bias);
                    continue;
                }
                for (j, &bj) in self.bias.iter().enumerate() {
                    *row.offset(j as isize * self.cs) = bj;
                }
            }
        }
    }
}

/// `out = x·w (+ bias)`: `x` is `rows × in`, `w` is `in × units`, `out` is
/// `rows × units`, bias (if any) has `units` elements; the product in
/// `precision` (the bias is added in the operands' type).
///
/// # Safety
/// The views must address valid memory; `out` must not overlap the inputs.
pub unsafe fn linear<T: GemmFloat>(
    x: &Strided<T>,
    w: &Strided<T>,
    bias: Option<&[T]>,
    out: &Strided<T>,
    precision: Precision,
) -> Result<()> {
    const OP: &str = "linear";
    precision.check::<T>(OP)?;
    if x.shape.len() != 2 || w.shape.len() != 2 || x.shape[1] != w.shape[0] {
        return shape_err(
            OP,
            format!(
                "expected x of shape (batch, in) and kernel of shape (in, units) with matching 'in'. Received: x.shape={}, kernel.shape={}",
                fmt_shape(&x.shape),
                fmt_shape(&w.shape)
            ),
        );
    }
    let (rows, inner, units) = (x.shape[0], x.shape[1], w.shape[1]);
    if out.shape != [rows, units] {
        return shape_err(
            OP,
            format!("out has shape {}, expected {}", fmt_shape(&out.shape), fmt_shape(&[rows, units])),
        );
    }
    if let Some(b) = bias {
        if b.len() != units {
            return shape_err(
                OP,
                format!("bias has {} elements, expected {units} (kernel.shape={})", b.len(), fmt_shape(&w.shape)),
            );
        }
        // The rows start as the bias (spread over threads: one serial pass over a
        // 4,096 × 64 output cost as much as a third of the two-thread product).
        let fill = BiasRows { bias: b, out: SendPtr(out.ptr), rs: out.strides[0], cs: out.strides[1] };
        sweep(crate::simd::active(), rows, 64, units, &fill);
    }
    let xm = MatPtr { ptr: x.ptr as *const T, rs: x.strides[0], cs: x.strides[1] };
    let wm = MatPtr { ptr: w.ptr as *const T, rs: w.strides[0], cs: w.strides[1] };
    gemm::gemm_in(
        precision,
        false,
        rows,
        units,
        inner,
        xm,
        wm,
        out.ptr,
        out.strides[0],
        out.strides[1],
        bias.is_some(),
    );
    Ok(())
}

/// Gradients of `y = x·w + b` for `x` (rows × in) and `w` (in × units):
/// `dx = dy·wᵀ`, `dw = xᵀ·dy` (both products in `precision`), `db = Σ_rows dy`;
/// each only when asked for. With `dx_accumulate`, `dy·wᵀ` is added to what
/// `dx` holds (a gradient summed over several uses of `x` inside the product).
///
/// # Safety
/// The views must address valid memory and the outputs must not overlap the inputs.
#[allow(clippy::too_many_arguments)]
pub unsafe fn linear_backward<T: GemmFloat>(
    dy: &Strided<T>,
    x: &Strided<T>,
    w: &Strided<T>,
    dx: Option<&Strided<T>>,
    dw: Option<&Strided<T>>,
    db: Option<&mut [T]>,
    precision: Precision,
    dx_accumulate: bool,
) -> Result<()> {
    const OP: &str = "linear_backward";
    precision.check::<T>(OP)?;
    let ok = dy.shape.len() == 2
        && x.shape.len() == 2
        && w.shape.len() == 2
        && x.shape[1] == w.shape[0]
        && dy.shape == [x.shape[0], w.shape[1]];
    if !ok {
        return shape_err(
            OP,
            format!(
                "expected dy (rows, units), x (rows, in), kernel (in, units). Received: dy.shape={}, x.shape={}, kernel.shape={}",
                fmt_shape(&dy.shape),
                fmt_shape(&x.shape),
                fmt_shape(&w.shape)
            ),
        );
    }
    let (rows, inner, units) = (x.shape[0], x.shape[1], w.shape[1]);
    let dym = MatPtr { ptr: dy.ptr as *const T, rs: dy.strides[0], cs: dy.strides[1] };
    if let Some(dx) = dx {
        if dx.shape != x.shape {
            return shape_err(
                OP,
                format!("dx must have shape {}. Received: {}", fmt_shape(&x.shape), fmt_shape(&dx.shape)),
            );
        }
        let wt = MatPtr { ptr: w.ptr as *const T, rs: w.strides[1], cs: w.strides[0] };
        gemm::gemm_in(
            precision,
            false,
            rows,
            inner,
            units,
            dym,
            wt,
            dx.ptr,
            dx.strides[0],
            dx.strides[1],
            dx_accumulate,
        );
    }
    if let Some(dw) = dw {
        if dw.shape != w.shape {
            return shape_err(
                OP,
                format!("dw must have shape {}. Received: {}", fmt_shape(&w.shape), fmt_shape(&dw.shape)),
            );
        }
        let xt = MatPtr { ptr: x.ptr as *const T, rs: x.strides[1], cs: x.strides[0] };
        gemm::gemm_in(precision, false, inner, units, rows, xt, dym, dw.ptr, dw.strides[0], dw.strides[1], false);
    }
    if let Some(db) = db {
        if db.len() != units {
            return shape_err(OP, format!("db must have {units} elements. Received: {}", db.len()));
        }
        match dy.as_slice() {
            Some(s) => crate::ops::reduce::sum_rows(s, rows, units, db)?,
            None => {
                db.fill(T::ZERO);
                for i in 0..rows {
                    for (j, o) in db.iter_mut().enumerate() {
                        *o += *dy.ptr.offset(i as isize * dy.strides[0] + j as isize * dy.strides[1]);
                    }
                }
            }
        }
    }
    Ok(())
}

/// [`linear_backward`] with the kernel's Adam step fused in: `dx = dy·wᵀ` (with
/// the kernel as it was) and `db = Σ_rows dy` when asked for, then `w`, `m`, `v`
/// updated in place by Adam (`h`, no AMSGrad) from `dw = xᵀ·dy`, which is used
/// tile by tile and never stored. The result equals `linear_backward` followed
/// by [`crate::ops::optim::adam_update`], bit for bit.
///
/// # Safety
/// The views must address valid memory; `w`, `m`, `v` must be C-contiguous
/// and no output may overlap an input.
#[allow(clippy::too_many_arguments)]
pub unsafe fn linear_backward_adam<T: GemmFloat>(
    dy: &Strided<T>,
    x: &Strided<T>,
    w: &Strided<T>,
    m: &mut [T],
    v: &mut [T],
    h: &crate::ops::optim::Adam,
    dx: Option<&Strided<T>>,
    db: Option<&mut [T]>,
) -> Result<()> {
    const OP: &str = "linear_backward_adam";
    h.check(OP)?;
    if h.weight_decay != 0.0 {
        return crate::error::value_err(
            OP,
            format!("weight decay is not fused. Received: weight_decay={}", h.weight_decay),
        );
    }
    let Some(wp) = w.as_mut_slice() else {
        return crate::error::value_err(OP, "kernel must be C-contiguous");
    };
    if m.len() != wp.len() || v.len() != wp.len() {
        return shape_err(
            OP,
            format!(
                "m and v must have as many elements as the kernel {}. Received: m has {}, v has {}",
                fmt_shape(&w.shape),
                m.len(),
                v.len()
            ),
        );
    }
    linear_backward(dy, x, w, dx, None, db, Precision::Float32, false)?;
    let (rows, inner, units) = (x.shape[0], x.shape[1], w.shape[1]);
    let dym = MatPtr { ptr: dy.ptr as *const T, rs: dy.strides[0], cs: dy.strides[1] };
    let xt = MatPtr { ptr: x.ptr as *const T, rs: x.strides[1], cs: x.strides[0] };
    crate::ops::optim::gemm_adam(
        inner,
        units,
        rows,
        xt,
        dym,
        wp.as_mut_ptr(),
        m.as_mut_ptr(),
        v.as_mut_ptr(),
        &h.coef(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_adam_equals_gradient_then_update() {
        use crate::ops::optim::{adam_update, Adam};
        let mut seed = 7u64;
        let mut next = || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        for (rows, inner, units) in [(32, 70, 45), (5, 9, 33), (600, 17, 20)] {
            let x: Vec<f32> = (0..rows * inner).map(|_| next()).collect();
            let dy: Vec<f32> = (0..rows * units).map(|_| next()).collect();
            let w0: Vec<f32> = (0..inner * units).map(|_| next()).collect();
            let m0: Vec<f32> = (0..inner * units).map(|_| next() * 0.1).collect();
            let v0: Vec<f32> = (0..inner * units).map(|_| next().abs() * 0.1).collect();
            let view = |p: &[f32], r: usize, c: usize| Strided {
                ptr: p.as_ptr() as *mut f32,
                shape: vec![r, c],
                strides: vec![c as isize, 1],
            };
            let h = Adam { step: 3, ..Adam::default() };
            // Reference: the stored gradient, then the stand-alone update.
            let (mut w1, mut m1, mut v1, g) = (w0.clone(), m0.clone(), v0.clone(), vec![0f32; inner * units]);
            unsafe {
                linear_backward(
                    &view(&dy, rows, units),
                    &view(&x, rows, inner),
                    &view(&w0, inner, units),
                    None,
                    Some(&view(&g, inner, units)),
                    None,
                    Precision::Float32,
                    false,
                )
                .unwrap();
            }
            adam_update(&mut w1, &g, &mut m1, &mut v1, None, &h).unwrap();
            let (w2, mut m2, mut v2) = (w0.clone(), m0.clone(), v0.clone());
            let (dx, mut db) = (vec![0f32; rows * inner], vec![0f32; units]);
            let dx_want = vec![0f32; rows * inner];
            unsafe {
                linear_backward(
                    &view(&dy, rows, units),
                    &view(&x, rows, inner),
                    &view(&w0, inner, units),
                    Some(&view(&dx_want, rows, inner)),
                    None,
                    None,
                    Precision::Float32,
                    false,
                )
                .unwrap();
                linear_backward_adam(
                    &view(&dy, rows, units),
                    &view(&x, rows, inner),
                    &view(&w2, inner, units),
                    &mut m2,
                    &mut v2,
                    &h,
                    Some(&view(&dx, rows, inner)),
                    Some(&mut db),
                )
                .unwrap();
            }
            assert_eq!(w1, w2, "{rows}x{inner}x{units}");
            assert_eq!((m1, v1), (m2, v2), "{rows}x{inner}x{units}");
            assert_eq!(dx, dx_want, "dx uses the kernel before the update");
        }
    }

    #[test]
    fn shapes_follow_numpy() {
        assert_eq!(matmul_shape(&[3], &[3]).unwrap(), Vec::<usize>::new());
        assert_eq!(matmul_shape(&[2, 3], &[3]).unwrap(), vec![2]);
        assert_eq!(matmul_shape(&[3], &[3, 4]).unwrap(), vec![4]);
        assert_eq!(matmul_shape(&[5, 1, 2, 3], &[4, 3, 6]).unwrap(), vec![5, 4, 2, 6]);
        assert!(matmul_shape(&[2, 3], &[4, 5]).is_err());
        assert!(matmul_shape(&[2, 2, 3], &[3, 3, 5]).is_err());
        assert!(matmul_shape(&[], &[3]).is_err());
    }

    #[test]
    fn batched_broadcast_product() {
        // a: (2, 1, 2, 2), b: (3, 2, 2) -> (2, 3, 2, 2)
        let a: Vec<f64> = (0..8).map(|v| v as f64).collect();
        let b: Vec<f64> = (0..12).map(|v| (v as f64) * 0.5).collect();
        let mut c = vec![0f64; 24];
        let va = Strided { ptr: a.as_ptr() as *mut f64, shape: vec![2, 1, 2, 2], strides: vec![4, 4, 2, 1] };
        let vb = Strided { ptr: b.as_ptr() as *mut f64, shape: vec![3, 2, 2], strides: vec![4, 2, 1] };
        let vc = Strided { ptr: c.as_mut_ptr(), shape: vec![2, 3, 2, 2], strides: vec![12, 4, 2, 1] };
        unsafe { matmul(&va, &vb, &vc, Precision::Float32).unwrap() };
        for i in 0..2 {
            for j in 0..3 {
                for r in 0..2 {
                    for s in 0..2 {
                        let want: f64 = (0..2).map(|p| a[i * 4 + r * 2 + p] * b[j * 4 + p * 2 + s]).sum();
                        assert_eq!(c[i * 12 + j * 4 + r * 2 + s], want);
                    }
                }
            }
        }
    }
}
