//! matmul and linear.

use crate::convert::{by_dtype, contiguous, disjoint, floats, output, overlaps, precision, same, same_inplace, view};
use crate::errors::{guarded, to_py};
use ferronet_core::gemm::GemmFloat;
use ferronet_core::ops::matmul as kernels;
use ferronet_core::ops::optim::Adam;
use ferronet_core::shape::Strided;
use numpy::{Element, PyArrayDyn};
use pyo3::prelude::*;

fn matmul_t<'py, T: GemmFloat + Element>(
    py: Python<'py>,
    a: Bound<'py, PyArrayDyn<T>>,
    b: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    precision_name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let p = precision::<T>(py, "matmul", "a", precision_name)?;
    let b = same::<T>("b", "a", b)?;
    let (va, vb) = (view("a", &a)?, view("b", &b)?);
    let shape = kernels::matmul_shape(&va.shape, &vb.shape).map_err(|e| to_py(py, e))?;
    let dst = output::<T>(py, out, &shape, "a")?;
    let vd = view("out", &dst)?;
    if out.is_some() && (overlaps(&vd, &va) || overlaps(&vd, &vb)) {
        // NumPy semantics for overlapping out=: compute aside, then copy.
        let tmp = crate::convert::empty::<T>(py, shape.as_slice())?;
        let vt = view("out", &tmp)?;
        guarded(py, || unsafe { kernels::matmul(&va, &vb, &vt, p) })?;
        dst.call_method1("__setitem__", (pyo3::types::PyEllipsis::get(py), tmp))?;
    } else {
        guarded(py, || unsafe { kernels::matmul(&va, &vb, &vd, p) })?;
    }
    if shape.is_empty() && out.is_none() {
        return dst.get_item(());
    }
    Ok(dst.into_any())
}

/// np.matmul for float32/float64 arrays of one dtype; precision "float32"
/// (the operands' own) or "bfloat16" (float32 operands rounded to bfloat16).
#[pyfunction]
#[pyo3(signature = (a, b, out=None, precision="float32"))]
fn matmul<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
    precision: &str,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("a", a)?, a => matmul_t(py, a, b, out, precision))
}

fn linear_t<'py, T: GemmFloat + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    out: Option<&Bound<'py, PyAny>>,
    precision_name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let p = precision::<T>(py, "linear", "x", precision_name)?;
    let w = same::<T>("kernel", "x", w)?;
    let b = b.map(|b| same::<T>("bias", "x", b)).transpose()?;
    let (vx, vw) = (view("x", &x)?, view("kernel", &w)?);
    let vb = b.as_ref().map(|b| contiguous("bias", b)).transpose()?;
    let rows = vx.shape.first().copied().unwrap_or(0);
    let units = vw.shape.get(1).copied().unwrap_or(0);
    let shape = [rows, units];
    let dst = output::<T>(py, out, &shape, "x")?;
    let vd = view("out", &dst)?;
    match &vb {
        Some(vb) => disjoint(py, "linear", &[("out", &vd)], &[&vx, &vw, vb])?,
        None => disjoint(py, "linear", &[("out", &vd)], &[&vx, &vw])?,
    }
    guarded(py, || unsafe {
        let bias = vb.as_ref().map(|v| v.as_slice().unwrap_or(&[]));
        kernels::linear(&vx, &vw, bias, &vd, p)
    })?;
    Ok(dst.into_any())
}

/// x @ w + b for a 2-D x (rows, in), kernel (in, units), bias (units,); the
/// product in `precision`.
#[pyfunction]
#[pyo3(signature = (x, w, b=None, out=None, precision="float32"))]
fn linear<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    out: Option<&Bound<'py, PyAny>>,
    precision: &str,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => linear_t(py, x, w, b, out, precision))
}

type Grads<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>);

#[allow(clippy::too_many_arguments)]
fn linear_backward_t<'py, T: GemmFloat + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    need: [bool; 3],
    outs: [Option<&Bound<'py, PyAny>>; 3],
    precision_name: &str,
    dx_accumulate: bool,
) -> PyResult<Grads<'py>> {
    let p = precision::<T>(py, "linear_backward", "dy", precision_name)?;
    if dx_accumulate && (outs[0].is_none() || !need[0]) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "linear_backward: dx_accumulate adds to dx_out, so it needs need_dx=True and a dx_out array. Received: no dx_out",
        ));
    }
    let x = same::<T>("x", "dy", x)?;
    let w = same::<T>("kernel", "dy", w)?;
    let (vdy, vx, vw) = (view("dy", &dy)?, view("x", &x)?, view("kernel", &w)?);
    let units = vw.shape.get(1).copied().unwrap_or(0);
    let dx = if need[0] { Some(output::<T>(py, outs[0], &vx.shape, "dy")?) } else { None };
    let dw = if need[1] { Some(output::<T>(py, outs[1], &vw.shape, "dy")?) } else { None };
    let db = if need[2] { Some(crate::convert::contiguous_output::<T>(py, outs[2], &[units], "dy")?) } else { None };
    let vdx = dx.as_ref().map(|a| view("dx", a)).transpose()?;
    let vdw = dw.as_ref().map(|a| view("dw", a)).transpose()?;
    let vdb = db.as_ref().map(|a| contiguous("db", a)).transpose()?;
    let written: Vec<_> = [("dx_out", vdx.as_ref()), ("dw_out", vdw.as_ref()), ("db_out", vdb.as_ref())]
        .into_iter()
        .filter_map(|(n, v)| v.map(|v| (n, v)))
        .collect();
    disjoint(py, "linear_backward", &written, &[&vdy, &vx, &vw])?;
    guarded(py, || unsafe {
        let db = vdb.as_ref().map(|v| v.as_mut_slice().unwrap_or(&mut []));
        kernels::linear_backward(&vdy, &vx, &vw, vdx.as_ref(), vdw.as_ref(), db, p, dx_accumulate)
    })?;
    Ok((dx.map(|a| a.into_any()), dw.map(|a| a.into_any()), db.map(|a| a.into_any())))
}

/// Gradients (dx, dw, db) of linear for 2-D x and dy; unneeded ones are None;
/// the products in `precision`; with `dx_accumulate`, dx is added to `dx_out`.
#[pyfunction]
#[pyo3(signature = (dy, x, w, need_dx=true, need_dw=true, need_db=true, dx_out=None, dw_out=None, db_out=None, precision="float32", dx_accumulate=false))]
#[allow(clippy::too_many_arguments)]
fn linear_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    need_dx: bool,
    need_dw: bool,
    need_db: bool,
    dx_out: Option<&Bound<'py, PyAny>>,
    dw_out: Option<&Bound<'py, PyAny>>,
    db_out: Option<&Bound<'py, PyAny>>,
    precision: &str,
    dx_accumulate: bool,
) -> PyResult<Grads<'py>> {
    let need = [need_dx, need_dw, need_db];
    let outs = [dx_out, dw_out, db_out];
    by_dtype!(floats("dy", dy)?, dy => linear_backward_t(py, dy, x, w, need, outs, precision, dx_accumulate))
}

type Pair<'py> = (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>);

#[allow(clippy::too_many_arguments)]
fn linear_backward_adam_t<'py, T: GemmFloat + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    m: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    h: Adam,
    need_dx: bool,
    dx_out: Option<&Bound<'py, PyAny>>,
    db_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    const OP: &str = "linear_backward_adam";
    let x = same::<T>("x", "dy", x)?;
    let w = same_inplace::<T>("kernel", "dy", w)?;
    let (m, v) = (same_inplace::<T>("m", "dy", m)?, same_inplace::<T>("v", "dy", v)?);
    let (vdy, vx) = (view("dy", &dy)?, view("x", &x)?);
    let (vw, vm, vv) = (contiguous("kernel", &w)?, contiguous("m", &m)?, contiguous("v", &v)?);
    let units = vw.shape.get(1).copied().unwrap_or(0);
    let dx = if need_dx { Some(output::<T>(py, dx_out, &vx.shape, "dy")?) } else { None };
    let db = db_out.map(|o| crate::convert::contiguous_output::<T>(py, Some(o), &[units], "dy")).transpose()?;
    let vdx = dx.as_ref().map(|a| view("dx", a)).transpose()?;
    let vdb = db.as_ref().map(|a| contiguous("db", a)).transpose()?;
    let mut written: Vec<(&str, &Strided<T>)> = vec![("kernel", &vw), ("m", &vm), ("v", &vv)];
    written.extend(vdx.as_ref().map(|v| ("dx_out", v)).into_iter().chain(vdb.as_ref().map(|v| ("db_out", v))));
    disjoint(py, OP, &written, &[&vdy, &vx])?;
    guarded(py, || unsafe {
        let db = vdb.as_ref().map(|v| v.as_mut_slice().unwrap_or(&mut []));
        let (ms, vs) = (vm.as_mut_slice().unwrap_or(&mut []), vv.as_mut_slice().unwrap_or(&mut []));
        kernels::linear_backward_adam(&vdy, &vx, &vw, ms, vs, &h, vdx.as_ref(), db)
    })?;
    Ok((dx.map(|a| a.into_any()), db.map(|a| a.into_any())))
}

/// The dense layer's backward with the kernel's Adam step fused in: returns
/// (dx, db) (dx computed with the kernel before the step; each None unless
/// asked for) and updates kernel, m and v in place from dw = xᵀ·dy, which is
/// never stored. Equals linear_backward then adam_update, bit for bit.
#[pyfunction]
#[pyo3(signature = (dy, x, w, m, v, step, learning_rate, beta_1, beta_2, epsilon, need_dx=true, dx_out=None, db_out=None))]
#[allow(clippy::too_many_arguments)]
fn linear_backward_adam<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    m: &Bound<'py, PyAny>,
    v: &Bound<'py, PyAny>,
    step: u64,
    learning_rate: f64,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    need_dx: bool,
    dx_out: Option<&Bound<'py, PyAny>>,
    db_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    let h = Adam { learning_rate, beta_1, beta_2, epsilon, weight_decay: 0.0, step };
    by_dtype!(floats("dy", dy)?, dy => linear_backward_adam_t(py, dy, x, w, m, v, h, need_dx, dx_out, db_out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(linear_backward_adam, m)?)?;
    m.add_function(wrap_pyfunction!(matmul, m)?)?;
    m.add_function(wrap_pyfunction!(linear, m)?)?;
    m.add_function(wrap_pyfunction!(linear_backward, m)?)?;
    Ok(())
}
