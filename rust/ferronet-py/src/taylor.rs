//! tanh's Taylor map for physics-informed networks (values, first and second input derivatives).

use crate::convert::{contiguous, contiguous_output, floats, overlaps, same, Floats};
use crate::errors::{argument_error, guarded, shape_error};
use ferronet_core::ops::taylor;
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The number of planes of `h`'s shape stacked in `a` (shape `(planes, *h.shape)`).
fn planes(py: Python<'_>, name: &str, a: &[usize], h: &[usize]) -> PyResult<usize> {
    if a.len() != h.len() + 1 || a[1..] != *h {
        return Err(shape_error(
            py,
            format!("{name} must have shape (planes, *h.shape) with h.shape={h:?}. Received: {name}.shape={a:?}"),
        ));
    }
    Ok(a[0])
}

fn forward_t<'py, T: Float + Element>(
    py: Python<'py>,
    h: Bound<'py, PyArrayDyn<T>>,
    zx: &Bound<'py, PyAny>,
    zxx: &Bound<'py, PyAny>,
    outs: (Option<&Bound<'py, PyAny>>, Option<&Bound<'py, PyAny>>),
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let (zx, zxx) = (same::<T>("zx", "h", zx)?, same::<T>("zxx", "h", zxx)?);
    let d = planes(py, "zx", zx.shape(), h.shape())?;
    planes(py, "zxx", zxx.shape(), h.shape())?;
    let hx = contiguous_output::<T>(py, outs.0, zx.shape(), "h")?;
    let hxx = contiguous_output::<T>(py, outs.1, zxx.shape(), "h")?;
    let (vh, vzx, vzxx) = (contiguous("h", &h)?, contiguous("zx", &zx)?, contiguous("zxx", &zxx)?);
    let (vhx, vhxx) = (contiguous("hx", &hx)?, contiguous("hxx", &hxx)?);
    for (name, out) in [("hx_out", &vhx), ("hxx_out", &vhxx)] {
        if [&vh, &vzx, &vzxx].iter().any(|v| overlaps(out, v)) || (name == "hx_out" && overlaps(out, &vhxx)) {
            return Err(argument_error(
                py,
                format!("taylor_tanh_forward: {name} must not share memory with the inputs or the other output"),
            ));
        }
    }
    guarded(py, || unsafe {
        taylor::taylor_tanh_forward(
            vh.as_slice().unwrap_or(&[]),
            vzx.as_slice().unwrap_or(&[]),
            vzxx.as_slice().unwrap_or(&[]),
            vhx.as_mut_slice().unwrap_or(&mut []),
            vhxx.as_mut_slice().unwrap_or(&mut []),
            d,
        )
    })?;
    Ok((hx.into_any(), hxx.into_any()))
}

/// `(h_x, h_xx)` from `h = tanh(z)`, `z_x` `(d, *h.shape)` and `z_xx` `(m, *h.shape)`, m ≤ d; written into
/// `hx_out`/`hxx_out` when given (C-contiguous, e.g. planes of one stacked array).
#[pyfunction]
#[pyo3(signature = (h, zx, zxx, hx_out=None, hxx_out=None))]
fn taylor_tanh_forward<'py>(
    py: Python<'py>,
    h: &Bound<'py, PyAny>,
    zx: &Bound<'py, PyAny>,
    zxx: &Bound<'py, PyAny>,
    hx_out: Option<&Bound<'py, PyAny>>,
    hxx_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    match floats("h", h)? {
        Floats::F32(h) => forward_t(py, h, zx, zxx, (hx_out, hxx_out)),
        Floats::F64(h) => forward_t(py, h, zx, zxx, (hx_out, hxx_out)),
    }
}

type Three<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

#[allow(clippy::too_many_arguments)]
fn backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    h: Bound<'py, PyArrayDyn<T>>,
    zx: &Bound<'py, PyAny>,
    zxx: &Bound<'py, PyAny>,
    dh: &Bound<'py, PyAny>,
    dhx: &Bound<'py, PyAny>,
    dhxx: &Bound<'py, PyAny>,
    outs: [Option<&Bound<'py, PyAny>>; 3],
) -> PyResult<Three<'py>> {
    let (zx, zxx) = (same::<T>("zx", "h", zx)?, same::<T>("zxx", "h", zxx)?);
    let (dh, dhx, dhxx) = (same::<T>("dh", "h", dh)?, same::<T>("dhx", "h", dhx)?, same::<T>("dhxx", "h", dhxx)?);
    let d = planes(py, "zx", zx.shape(), h.shape())?;
    planes(py, "zxx", zxx.shape(), h.shape())?;
    planes(py, "dhx", dhx.shape(), h.shape())?;
    planes(py, "dhxx", dhxx.shape(), h.shape())?;
    if dh.shape() != h.shape() {
        return Err(shape_error(py, format!("dh must have h's shape {:?}. Received: {:?}", h.shape(), dh.shape())));
    }
    let dz = contiguous_output::<T>(py, outs[0], h.shape(), "h")?;
    let dzx = contiguous_output::<T>(py, outs[1], zx.shape(), "h")?;
    let dzxx = contiguous_output::<T>(py, outs[2], zxx.shape(), "h")?;
    let views = (
        contiguous("h", &h)?,
        contiguous("zx", &zx)?,
        contiguous("zxx", &zxx)?,
        contiguous("dh", &dh)?,
        contiguous("dhx", &dhx)?,
        contiguous("dhxx", &dhxx)?,
    );
    let outs = (contiguous("dz", &dz)?, contiguous("dzx", &dzx)?, contiguous("dzxx", &dzxx)?);
    let ins = [&views.0, &views.1, &views.2, &views.3, &views.4, &views.5];
    let written = [&outs.0, &outs.1, &outs.2];
    for (k, out) in written.iter().enumerate() {
        if ins.iter().any(|v| overlaps(out, v)) || written[k + 1..].iter().any(|o| overlaps(out, o)) {
            return Err(argument_error(
                py,
                "taylor_tanh_backward: the outputs must not share memory with the inputs or each other".into(),
            ));
        }
    }
    guarded(py, || unsafe {
        taylor::taylor_tanh_backward(
            views.0.as_slice().unwrap_or(&[]),
            views.1.as_slice().unwrap_or(&[]),
            views.2.as_slice().unwrap_or(&[]),
            views.3.as_slice().unwrap_or(&[]),
            views.4.as_slice().unwrap_or(&[]),
            views.5.as_slice().unwrap_or(&[]),
            outs.0.as_mut_slice().unwrap_or(&mut []),
            outs.1.as_mut_slice().unwrap_or(&mut []),
            outs.2.as_mut_slice().unwrap_or(&mut []),
            d,
        )
    })?;
    Ok((dz.into_any(), dzx.into_any(), dzxx.into_any()))
}

/// `(dz, dz_x, dz_xx)` of [`taylor_tanh_forward`] given `(dh, dh_x, dh_xx)`; written into the `*_out`
/// arrays when given.
#[pyfunction]
#[pyo3(signature = (h, zx, zxx, dh, dhx, dhxx, dz_out=None, dzx_out=None, dzxx_out=None))]
#[allow(clippy::too_many_arguments)]
fn taylor_tanh_backward<'py>(
    py: Python<'py>,
    h: &Bound<'py, PyAny>,
    zx: &Bound<'py, PyAny>,
    zxx: &Bound<'py, PyAny>,
    dh: &Bound<'py, PyAny>,
    dhx: &Bound<'py, PyAny>,
    dhxx: &Bound<'py, PyAny>,
    dz_out: Option<&Bound<'py, PyAny>>,
    dzx_out: Option<&Bound<'py, PyAny>>,
    dzxx_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Three<'py>> {
    let outs = [dz_out, dzx_out, dzxx_out];
    match floats("h", h)? {
        Floats::F32(h) => backward_t(py, h, zx, zxx, dh, dhx, dhxx, outs),
        Floats::F64(h) => backward_t(py, h, zx, zxx, dh, dhx, dhxx, outs),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(taylor_tanh_forward, m)?)?;
    m.add_function(wrap_pyfunction!(taylor_tanh_backward, m)?)?;
    Ok(())
}
