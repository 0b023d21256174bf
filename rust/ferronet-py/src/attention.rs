//! Fused scaled-dot-product attention: forward (with its log-sum-exp) and backward.

use crate::convert::{by_dtype, contiguous, described, empty, floats, same};
use crate::errors::{dtype_error, guarded, shape_error};
use ferronet_core::ops::attention::{self as att, Attention, Broadcast, Dims};
use ferronet_core::ops::vmath::VFloat;
use ferronet_core::shape::{fmt_shape, Strided};
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Arr<'py, T> = Bound<'py, PyArrayDyn<T>>;

/// The sizes of a call from q `(batch, tq, heads, dk)`, k `(batch, tk, heads, dk)`, v `(batch, tk, heads, dv)`.
fn dims(py: Python<'_>, op: &str, q: &[usize], k: &[usize], v: &[usize]) -> PyResult<Dims> {
    let fits = q.len() == 4
        && k.len() == 4
        && v.len() == 4
        && k[0] == q[0]
        && v[0] == q[0]
        && k[2] == q[2]
        && v[2] == q[2]
        && k[3] == q[3]
        && v[1] == k[1];
    if !fits {
        return Err(shape_error(
            py,
            format!(
                "{op}: q, k, v must be (batch, tq, heads, dk), (batch, tk, heads, dk), (batch, tk, heads, dv). Received: q.shape={}, k.shape={}, v.shape={}",
                fmt_shape(q),
                fmt_shape(k),
                fmt_shape(v)
            ),
        ));
    }
    Ok(Dims { batch: q[0], heads: q[2], tq: q[1], tk: k[1], dk: q[3], dv: v[3] })
}

/// A 4-D C-contiguous broadcast operand (mask or bias).
fn broadcast<T: Element>(py: Python<'_>, op: &str, name: &str, a: &Arr<'_, T>) -> PyResult<(Strided<T>, [usize; 4])> {
    let shape: [usize; 4] = a.shape().try_into().map_err(|_| {
        shape_error(
            py,
            format!("{op}: {name} must be 4-D (batch, heads, tq, tk). Received: {name}.shape={}", fmt_shape(a.shape())),
        )
    })?;
    Ok((contiguous(name, a)?, shape))
}

fn bool_mask<'py>(py: Python<'py>, op: &str, ob: &Bound<'py, PyAny>) -> PyResult<Arr<'py, bool>> {
    ob.cast::<PyArrayDyn<bool>>()
        .map(|a| a.clone())
        .map_err(|_| dtype_error(py, format!("{op}: mask must be a bool array. Received: mask.{}", described(ob))))
}

/// The typed operands of one call; `views` keeps the borrowed arrays' views.
struct Operands<T> {
    q: Strided<T>,
    k: Strided<T>,
    v: Strided<T>,
    dims: Dims,
    mask: Option<(Strided<bool>, [usize; 4])>,
    bias: Option<(Strided<T>, [usize; 4])>,
}

#[allow(clippy::too_many_arguments)]
fn operands<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    q: &Arr<'py, T>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
    keep: &mut Vec<Bound<'py, PyAny>>,
) -> PyResult<Operands<T>> {
    let (k, v) = (same::<T>("k", "q", k)?, same::<T>("v", "q", v)?);
    let dims = dims(py, op, q.shape(), k.shape(), v.shape())?;
    let mask = match mask {
        Some(m) => {
            let m = bool_mask(py, op, m)?;
            let out = broadcast(py, op, "mask", &m)?;
            keep.push(m.into_any());
            Some(out)
        }
        None => None,
    };
    let bias = match bias {
        Some(b) => {
            let b = same::<T>("bias", "q", b)?;
            let out = broadcast(py, op, "bias", &b)?;
            keep.push(b.into_any());
            Some(out)
        }
        None => None,
    };
    let ops = Operands { q: contiguous("q", q)?, k: contiguous("k", &k)?, v: contiguous("v", &v)?, dims, mask, bias };
    keep.push(k.into_any());
    keep.push(v.into_any());
    Ok(ops)
}

impl<T: VFloat> Operands<T> {
    /// The kernel's view of the operands.
    ///
    /// # Safety
    /// The arrays behind the views must outlive the result and not be written meanwhile.
    unsafe fn attention(&self, scale: f64, causal: bool) -> Attention<'_, T> {
        use crate::convert::slice;
        Attention {
            q: slice(&self.q),
            k: slice(&self.k),
            v: slice(&self.v),
            dims: self.dims,
            scale: T::from_f64(scale),
            causal,
            mask: self.mask.as_ref().map(|(m, shape)| Broadcast { data: slice(m), shape: *shape }),
            bias: self.bias.as_ref().map(|(b, shape)| Broadcast { data: slice(b), shape: *shape }),
        }
    }
}

type Pair<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);
type Triple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

#[allow(clippy::too_many_arguments)]
fn forward_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    q: Arr<'py, T>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    scale: f64,
    causal: bool,
    mask: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    let mut keep = vec![];
    let ops = operands(py, "attention", &q, k, v, mask, bias, &mut keep)?;
    let d = ops.dims;
    let out = empty::<T>(py, &[d.batch, d.tq, d.heads, d.dv])?;
    let lse = empty::<T>(py, &[d.batch, d.heads, d.tq])?;
    let (vo, vl) = (contiguous("out", &out)?, contiguous("lse", &lse)?);
    guarded(py, || unsafe {
        att::attention_forward(
            &ops.attention(scale, causal),
            crate::convert::slice_mut(&vo),
            crate::convert::slice_mut(&vl),
        )
    })?;
    Ok((out.into_any(), lse.into_any()))
}

/// (out, lse) of softmax(scale·q·kᵀ + bias, masked)·v over (batch, tokens, heads, dim) arrays; lse is
/// (batch, heads, tq), +inf for rows that see no key.
#[pyfunction]
#[pyo3(signature = (q, k, v, scale, causal=false, mask=None, bias=None))]
#[allow(clippy::too_many_arguments)]
fn attention<'py>(
    py: Python<'py>,
    q: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    scale: f64,
    causal: bool,
    mask: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    by_dtype!(floats("q", q)?, q => forward_t(py, q, k, v, scale, causal, mask, bias))
}

#[allow(clippy::too_many_arguments)]
fn backward_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    q: Arr<'py, T>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    saved: [&Bound<'py, PyAny>; 3],
    scale: f64,
    causal: bool,
    mask: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    let mut keep = vec![];
    let ops = operands(py, "attention_backward", &q, k, v, mask, bias, &mut keep)?;
    let (out, lse, dout) =
        (same::<T>("out", "q", saved[0])?, same::<T>("lse", "q", saved[1])?, same::<T>("dout", "q", saved[2])?);
    let (vo, vl, vg) = (contiguous("out", &out)?, contiguous("lse", &lse)?, contiguous("dout", &dout)?);
    let (dq, dk, dv) = (empty::<T>(py, q.shape())?, empty::<T>(py, &ops.k.shape)?, empty::<T>(py, &ops.v.shape)?);
    let (vdq, vdk, vdv) = (contiguous("dq", &dq)?, contiguous("dk", &dk)?, contiguous("dv", &dv)?);
    guarded(py, || unsafe {
        use crate::convert::{slice, slice_mut};
        att::attention_backward(
            &ops.attention(scale, causal),
            slice(&vo),
            slice(&vl),
            slice(&vg),
            slice_mut(&vdq),
            slice_mut(&vdk),
            slice_mut(&vdv),
        )
    })?;
    Ok((dq.into_any(), dk.into_any(), dv.into_any()))
}

/// (dq, dk, dv) of attention from the forward's out and lse and the output gradient dout.
#[pyfunction]
#[pyo3(signature = (q, k, v, out, lse, dout, scale, causal=false, mask=None, bias=None))]
#[allow(clippy::too_many_arguments)]
fn attention_backward<'py>(
    py: Python<'py>,
    q: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    out: &Bound<'py, PyAny>,
    lse: &Bound<'py, PyAny>,
    dout: &Bound<'py, PyAny>,
    scale: f64,
    causal: bool,
    mask: Option<&Bound<'py, PyAny>>,
    bias: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    by_dtype!(floats("q", q)?, q => backward_t(py, q, k, v, [out, lse, dout], scale, causal, mask, bias))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(attention, m)?)?;
    m.add_function(wrap_pyfunction!(attention_backward, m)?)?;
    Ok(())
}
