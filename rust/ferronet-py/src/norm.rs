//! Dropout, batch normalization and row sums.

use crate::convert::{
    by_dtype, contiguous, contiguous_output, described, disjoint, floats, is_writeable, overlaps, same, same_inplace,
};
use crate::errors::{argument_error, dtype_error, guarded, shape_error};
use ferronet_core::ops::{batchnorm, dropout as drop, reduce};
use ferronet_core::shape::{fmt_shape, Strided};
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// A uint8 mask of `shape` (C-contiguous); `writeable` for an output.
fn mask_array<'py>(
    py: Python<'py>,
    op: &str,
    name: &str,
    ob: &Bound<'py, PyAny>,
    shape: &[usize],
    writeable: bool,
) -> PyResult<Bound<'py, PyArrayDyn<u8>>> {
    let Ok(a) = ob.cast::<PyArrayDyn<u8>>() else {
        return Err(dtype_error(
            py,
            format!("{op}: {name} must be a uint8 array (0 = dropped). Received: {name}.{}", described(ob)),
        ));
    };
    if a.shape() != shape {
        return Err(shape_error(
            py,
            format!(
                "{op}: {name} must have shape {}. Received: {name}.shape={}",
                fmt_shape(shape),
                fmt_shape(a.shape())
            ),
        ));
    }
    if !a.is_c_contiguous() {
        return Err(argument_error(py, format!("{op}: {name} must be C-contiguous")));
    }
    let ok = !writeable || is_writeable(ob);
    if !ok {
        return Err(argument_error(py, format!("{op}: {name} is read-only")));
    }
    Ok(a.clone())
}

type Pair<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);

fn dropout_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    rate: f64,
    seed: u64,
    out: Option<&Bound<'py, PyAny>>,
    mask_out: Option<&Bound<'py, PyAny>>,
    noise_shape: Option<Vec<usize>>,
) -> PyResult<Pair<'py>> {
    const OP: &str = "dropout";
    let shape = x.shape().to_vec();
    let y = contiguous_output::<T>(py, out, &shape, "x")?;
    let mask = match mask_out {
        Some(m) => mask_array(py, OP, "mask_out", m, &shape, true)?,
        None => crate::convert::empty::<u8>(py, shape.as_slice())?,
    };
    let (vx, vy, vm) = (contiguous("x", &x)?, contiguous("out", &y)?, contiguous("mask_out", &mask)?);
    disjoint(py, OP, &[("out", &vy)], &[&vx])?;
    if overlaps(&vm, &vx) || overlaps(&vm, &vy) {
        return Err(argument_error(py, format!("{OP}: mask_out must not share memory with x or out")));
    }
    guarded(py, || unsafe {
        let (xs, ys, ms) =
            (vx.as_slice().unwrap_or(&[]), vy.as_mut_slice().unwrap_or(&mut []), vm.as_mut_slice().unwrap_or(&mut []));
        match &noise_shape {
            None => drop::dropout(xs, rate, seed, ys, ms),
            Some(noise) => drop::dropout_broadcast(xs, &shape, noise, rate, seed, ys, ms),
        }
    })?;
    Ok((y.into_any(), mask.into_any()))
}

/// (y, mask) of inverted dropout; the mask is uint8 and, with a noise_shape
/// (an entry per axis of x, each 1 or the axis' size), shared by every
/// element of a broadcast cell.
#[pyfunction]
#[pyo3(signature = (x, rate, seed, out=None, mask_out=None, noise_shape=None))]
#[allow(clippy::too_many_arguments)]
fn dropout<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    rate: f64,
    seed: u64,
    out: Option<&Bound<'py, PyAny>>,
    mask_out: Option<&Bound<'py, PyAny>>,
    noise_shape: Option<Vec<usize>>,
) -> PyResult<Pair<'py>> {
    by_dtype!(floats("x", x)?, x => dropout_t(py, x, rate, seed, out, mask_out, noise_shape))
}

fn dropout_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    mask: &Bound<'py, PyAny>,
    rate: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "dropout_backward";
    let shape = dy.shape().to_vec();
    let mask = mask_array(py, OP, "mask", mask, &shape, false)?;
    let dx = contiguous_output::<T>(py, out, &shape, "dy")?;
    let (vdy, vm, vdx) = (contiguous("dy", &dy)?, contiguous("mask", &mask)?, contiguous("out", &dx)?);
    disjoint(py, OP, &[("out", &vdx)], &[&vdy])?;
    if overlaps(&vdx, &vm) {
        return Err(argument_error(py, format!("{OP}: out must not share memory with mask")));
    }
    guarded(py, || unsafe {
        drop::dropout_backward(
            vdy.as_slice().unwrap_or(&[]),
            vm.as_slice().unwrap_or(&[]),
            rate,
            vdx.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok(dx.into_any())
}

/// dx = dy * mask / (1 - rate).
#[pyfunction]
#[pyo3(signature = (dy, mask, rate, out=None))]
fn dropout_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    mask: &Bound<'py, PyAny>,
    rate: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => dropout_backward_t(py, dy, mask, rate, out))
}

/// `(rows, channels)` of `x` viewed as a matrix with channels last.
fn channels_last(py: Python<'_>, op: &str, shape: &[usize]) -> PyResult<(usize, usize)> {
    match shape.split_last() {
        Some((&c, rest)) => Ok((rest.iter().product(), c)),
        None => Err(shape_error(py, format!("{op}: x needs a channel axis (the last one). Received: x.shape=()"))),
    }
}

/// The per-channel arrays of a batch-norm call, of the op's dtype, contiguous.
type Views<'py, T> = (Vec<Bound<'py, PyArrayDyn<T>>>, Vec<Strided<T>>);

fn channel_views<'py, T: Element>(obs: &[(&str, &Bound<'py, PyAny>)]) -> PyResult<Views<'py, T>> {
    let arrays = obs.iter().map(|(n, ob)| same::<T>(n, "x", ob)).collect::<PyResult<Vec<_>>>()?;
    let views = arrays.iter().zip(obs).map(|(a, (n, _))| contiguous(n, a)).collect::<PyResult<Vec<_>>>()?;
    Ok((arrays, views))
}

type Triple<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>);

fn bn_train_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    gamma: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    epsilon: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    const OP: &str = "batch_norm_train";
    let shape = x.shape().to_vec();
    let (rows, cols) = channels_last(py, OP, &shape)?;
    let (_keep, v) = channel_views::<T>(&[("gamma", gamma), ("beta", beta)])?;
    let y = contiguous_output::<T>(py, out, &shape, "x")?;
    let mean = crate::convert::empty::<T>(py, [cols].as_slice())?;
    let var = crate::convert::empty::<T>(py, [cols].as_slice())?;
    let (vx, vy) = (contiguous("x", &x)?, contiguous("out", &y)?);
    let (vm, vv) = (contiguous("mean", &mean)?, contiguous("var", &var)?);
    disjoint(py, OP, &[("out", &vy)], &[&vx, &v[0], &v[1]])?;
    guarded(py, || unsafe {
        batchnorm::batch_norm_train(
            vx.as_slice().unwrap_or(&[]),
            rows,
            cols,
            v[0].as_slice().unwrap_or(&[]),
            v[1].as_slice().unwrap_or(&[]),
            epsilon,
            vy.as_mut_slice().unwrap_or(&mut []),
            vm.as_mut_slice().unwrap_or(&mut []),
            vv.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok((y.into_any(), mean.into_any(), var.into_any()))
}

/// (y, mean, var) of training-mode batch norm over the last axis.
#[pyfunction]
#[pyo3(signature = (x, gamma, beta, epsilon, out=None))]
fn batch_norm_train<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    gamma: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    epsilon: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    by_dtype!(floats("x", x)?, x => bn_train_t(py, x, gamma, beta, epsilon, out))
}

#[allow(clippy::too_many_arguments)]
fn bn_infer_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    gamma: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    var: &Bound<'py, PyAny>,
    epsilon: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "batch_norm_infer";
    let shape = x.shape().to_vec();
    let (rows, cols) = channels_last(py, OP, &shape)?;
    let (_keep, v) = channel_views::<T>(&[("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var)])?;
    let y = contiguous_output::<T>(py, out, &shape, "x")?;
    let (vx, vy) = (contiguous("x", &x)?, contiguous("out", &y)?);
    disjoint(py, OP, &[("out", &vy)], &[&vx, &v[0], &v[1], &v[2], &v[3]])?;
    guarded(py, || unsafe {
        let s = |i: usize| v[i].as_slice().unwrap_or(&[]);
        batchnorm::batch_norm_infer(
            vx.as_slice().unwrap_or(&[]),
            rows,
            cols,
            s(0),
            s(1),
            s(2),
            s(3),
            epsilon,
            vy.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok(y.into_any())
}

/// Inference-mode batch norm with given mean and variance.
#[pyfunction]
#[pyo3(signature = (x, gamma, beta, mean, var, epsilon, out=None))]
#[allow(clippy::too_many_arguments)]
fn batch_norm_infer<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    gamma: &Bound<'py, PyAny>,
    beta: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    var: &Bound<'py, PyAny>,
    epsilon: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => bn_infer_t(py, x, gamma, beta, mean, var, epsilon, out))
}

#[allow(clippy::too_many_arguments)]
fn bn_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    gamma: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    var: &Bound<'py, PyAny>,
    epsilon: f64,
    outs: [Option<&Bound<'py, PyAny>>; 3],
) -> PyResult<Triple<'py>> {
    const OP: &str = "batch_norm_backward";
    let x = same::<T>("x", "dy", x)?;
    let shape = x.shape().to_vec();
    if dy.shape() != shape.as_slice() {
        return Err(shape_error(
            py,
            format!(
                "{OP}: dy must have the shape of x {}. Received: dy.shape={}",
                fmt_shape(&shape),
                fmt_shape(dy.shape())
            ),
        ));
    }
    let (rows, cols) = channels_last(py, OP, &shape)?;
    let (_keep, v) = channel_views::<T>(&[("gamma", gamma), ("mean", mean), ("var", var)])?;
    let dx = contiguous_output::<T>(py, outs[0], &shape, "dy")?;
    let dgamma = contiguous_output::<T>(py, outs[1], &[cols], "dy")?;
    let dbeta = contiguous_output::<T>(py, outs[2], &[cols], "dy")?;
    let (vdy, vx) = (contiguous("dy", &dy)?, contiguous("x", &x)?);
    let (vdx, vdg, vdb) = (contiguous("dx", &dx)?, contiguous("dgamma", &dgamma)?, contiguous("dbeta", &dbeta)?);
    let written = [("dx_out", &vdx), ("dgamma_out", &vdg), ("dbeta_out", &vdb)];
    disjoint(py, OP, &written, &[&vdy, &vx, &v[0], &v[1], &v[2]])?;
    guarded(py, || unsafe {
        let s = |i: usize| v[i].as_slice().unwrap_or(&[]);
        batchnorm::batch_norm_backward(
            vdy.as_slice().unwrap_or(&[]),
            vx.as_slice().unwrap_or(&[]),
            rows,
            cols,
            s(0),
            s(1),
            s(2),
            epsilon,
            vdx.as_mut_slice().unwrap_or(&mut []),
            vdg.as_mut_slice().unwrap_or(&mut []),
            vdb.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok((dx.into_any(), dgamma.into_any(), dbeta.into_any()))
}

/// (dx, dgamma, dbeta) of batch_norm_train given its batch mean and variance.
#[pyfunction]
#[pyo3(signature = (dy, x, gamma, mean, var, epsilon, dx_out=None, dgamma_out=None, dbeta_out=None))]
#[allow(clippy::too_many_arguments)]
fn batch_norm_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    gamma: &Bound<'py, PyAny>,
    mean: &Bound<'py, PyAny>,
    var: &Bound<'py, PyAny>,
    epsilon: f64,
    dx_out: Option<&Bound<'py, PyAny>>,
    dgamma_out: Option<&Bound<'py, PyAny>>,
    dbeta_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Triple<'py>> {
    let outs = [dx_out, dgamma_out, dbeta_out];
    by_dtype!(floats("dy", dy)?, dy => bn_backward_t(py, dy, x, gamma, mean, var, epsilon, outs))
}

fn sum_rows_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let shape = x.shape().to_vec();
    let Some((&rows, rest)) = shape.split_first() else {
        return Err(shape_error(py, "sum_rows: x needs at least one axis. Received: x.shape=()".into()));
    };
    let y = contiguous_output::<T>(py, out, rest, "x")?;
    let (vx, vy) = (contiguous("x", &x)?, contiguous("out", &y)?);
    disjoint(py, "sum_rows", &[("out", &vy)], &[&vx])?;
    let cols = rest.iter().product();
    guarded(py, || unsafe {
        reduce::sum_rows(vx.as_slice().unwrap_or(&[]), rows, cols, vy.as_mut_slice().unwrap_or(&mut []))
    })?;
    Ok(y.into_any())
}

/// x.sum(axis=0) in a fixed order.
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn sum_rows<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => sum_rows_t(py, x, out))
}

fn l1_l2_penalty_t<T: Float + Element>(
    py: Python<'_>,
    w: Bound<'_, PyArrayDyn<T>>,
    l1: f64,
    l2: f64,
    grad: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    let g = grad.map(|g| same_inplace::<T>("grad", "w", g)).transpose()?;
    let vw = contiguous("w", &w)?;
    let vg = g.as_ref().map(|g| contiguous("grad", g)).transpose()?;
    if let Some(vg) = &vg {
        disjoint(py, "l1_l2_penalty", &[("grad", vg)], &[&vw])?;
    }
    guarded(py, || unsafe {
        reduce::l1_l2_penalty(
            vw.as_slice().unwrap_or(&[]),
            l1,
            l2,
            vg.as_ref().map(|v| v.as_mut_slice().unwrap_or(&mut [])),
        )
    })
}

/// l1·Σ|w| + l2·Σw² (float), adding its gradient into `grad` when given.
#[pyfunction]
#[pyo3(signature = (w, l1=0.0, l2=0.0, grad=None))]
fn l1_l2_penalty<'py>(
    py: Python<'py>,
    w: &Bound<'py, PyAny>,
    l1: f64,
    l2: f64,
    grad: Option<&Bound<'py, PyAny>>,
) -> PyResult<f64> {
    by_dtype!(floats("w", w)?, w => l1_l2_penalty_t(py, w, l1, l2, grad))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dropout, m)?)?;
    m.add_function(wrap_pyfunction!(dropout_backward, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_train, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_backward, m)?)?;
    m.add_function(wrap_pyfunction!(batch_norm_infer, m)?)?;
    m.add_function(wrap_pyfunction!(sum_rows, m)?)?;
    m.add_function(wrap_pyfunction!(l1_l2_penalty, m)?)?;
    Ok(())
}
