//! Max, average and global pooling with their gradients (NHWC).

use crate::convert::{by_dtype, contiguous, contiguous_output, disjoint, floats, same};
use crate::errors::{guarded, shape_error, to_py};
use ferronet_core::ops::global_pool as globals;
use ferronet_core::ops::pool::{self as kernels, Pool2d, PoolGeom};
use ferronet_core::shape::{fmt_shape, Padding};
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Pair = (usize, usize);

fn pool(py: Python<'_>, op: &'static str, size: Pair, strides: Pair, padding: &str) -> PyResult<Pool2d> {
    let padding = Padding::parse(op, padding).map_err(|e| to_py(py, e))?;
    Ok(Pool2d { size, strides, padding })
}

fn geometry(py: Python<'_>, op: &'static str, x_shape: &[usize], p: &Pool2d) -> PyResult<PoolGeom> {
    PoolGeom::new(op, x_shape, p).map_err(|e| to_py(py, e))
}

/// `dy` must have exactly the forward output's shape.
fn check_dy(py: Python<'_>, op: &str, dy: &[usize], want: &[usize]) -> PyResult<()> {
    if dy != want {
        return Err(shape_error(
            py,
            format!(
                "{op}: dy must have shape {} (the pooled output's). Received: dy.shape={}",
                fmt_shape(want),
                fmt_shape(dy)
            ),
        ));
    }
    Ok(())
}

/// Shape of `x`: an array (its shape) or a sequence of ints.
fn shape_of(ob: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    match ob.getattr("shape") {
        Ok(s) => s.extract(),
        Err(_) => ob.extract(),
    }
}

enum Kind {
    Max,
    Avg,
}

fn forward_t<'py, T: Float + Element>(
    py: Python<'py>,
    kind: Kind,
    x: Bound<'py, PyArrayDyn<T>>,
    p: Pool2d,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let op = match kind {
        Kind::Max => "max_pool2d",
        Kind::Avg => "avg_pool2d",
    };
    let g = geometry(py, op, x.shape(), &p)?;
    let y = contiguous_output::<T>(py, out, &g.output_shape(), "x")?;
    let (vx, vy) = (contiguous("x", &x)?, contiguous("out", &y)?);
    disjoint(py, op, &[("out", &vy)], &[&vx])?;
    guarded(py, || unsafe {
        let (x, y) = (vx.as_slice().unwrap_or(&[]), vy.as_mut_slice().unwrap_or(&mut []));
        match kind {
            Kind::Max => kernels::max_pool2d(x, &vx.shape, &p, y),
            Kind::Avg => kernels::avg_pool2d(x, &vx.shape, &p, y),
        }
    })?;
    Ok(y.into_any())
}

/// max_pool2d(x, pool_size, strides, padding, out) for NHWC x.
#[pyfunction]
#[pyo3(signature = (x, pool_size, strides, padding, out=None))]
fn max_pool2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    pool_size: Pair,
    strides: Pair,
    padding: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let p = pool(py, "max_pool2d", pool_size, strides, padding)?;
    by_dtype!(floats("x", x)?, x => forward_t(py, Kind::Max, x, p, out))
}

/// avg_pool2d(x, pool_size, strides, padding, out) for NHWC x.
#[pyfunction]
#[pyo3(signature = (x, pool_size, strides, padding, out=None))]
fn avg_pool2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    pool_size: Pair,
    strides: Pair,
    padding: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let p = pool(py, "avg_pool2d", pool_size, strides, padding)?;
    by_dtype!(floats("x", x)?, x => forward_t(py, Kind::Avg, x, p, out))
}

fn max_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    p: Pool2d,
    through_relu: bool,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "max_pool2d_backward";
    let x = same::<T>("x", "dy", x)?;
    let g = geometry(py, OP, x.shape(), &p)?;
    check_dy(py, OP, dy.shape(), &g.output_shape())?;
    let dx = contiguous_output::<T>(py, out, x.shape(), "dy")?;
    let (vdy, vx, vdx) = (contiguous("dy", &dy)?, contiguous("x", &x)?, contiguous("out", &dx)?);
    disjoint(py, OP, &[("out", &vdx)], &[&vdy, &vx])?;
    guarded(py, || unsafe {
        kernels::max_pool2d_backward(
            vdy.as_slice().unwrap_or(&[]),
            vx.as_slice().unwrap_or(&[]),
            &vx.shape,
            &p,
            through_relu,
            vdx.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok(dx.into_any())
}

/// Gradient of max_pool2d with respect to x; with `through_relu`, x is a ReLU
/// output and the gradient is taken on through the ReLU too.
#[pyfunction]
#[pyo3(signature = (dy, x, pool_size, strides, padding, out=None, through_relu=false))]
#[allow(clippy::too_many_arguments)]
fn max_pool2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    pool_size: Pair,
    strides: Pair,
    padding: &str,
    out: Option<&Bound<'py, PyAny>>,
    through_relu: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let p = pool(py, "max_pool2d_backward", pool_size, strides, padding)?;
    by_dtype!(floats("dy", dy)?, dy => max_backward_t(py, dy, x, p, through_relu, out))
}

fn avg_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x_shape: Vec<usize>,
    p: Pool2d,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "avg_pool2d_backward";
    let g = geometry(py, OP, &x_shape, &p)?;
    check_dy(py, OP, dy.shape(), &g.output_shape())?;
    let dx = contiguous_output::<T>(py, out, &x_shape, "dy")?;
    let (vdy, vdx) = (contiguous("dy", &dy)?, contiguous("out", &dx)?);
    disjoint(py, OP, &[("out", &vdx)], &[&vdy])?;
    guarded(py, || unsafe {
        kernels::avg_pool2d_backward(vdy.as_slice().unwrap_or(&[]), &x_shape, &p, vdx.as_mut_slice().unwrap_or(&mut []))
    })?;
    Ok(dx.into_any())
}

/// Gradient of avg_pool2d; `x` is the forward input or its shape.
#[pyfunction]
#[pyo3(signature = (dy, x, pool_size, strides, padding, out=None))]
fn avg_pool2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    pool_size: Pair,
    strides: Pair,
    padding: &str,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let p = pool(py, "avg_pool2d_backward", pool_size, strides, padding)?;
    let x_shape = shape_of(x)?;
    by_dtype!(floats("dy", dy)?, dy => avg_backward_t(py, dy, x_shape, p, out))
}

fn global_t<'py, T: Float + Element>(
    py: Python<'py>,
    kind: Kind,
    x: Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let op = match kind {
        Kind::Max => "global_max_pool2d",
        Kind::Avg => "global_avg_pool2d",
    };
    let shape = globals::global_output_shape(op, x.shape()).map_err(|e| to_py(py, e))?;
    let y = contiguous_output::<T>(py, out, &shape, "x")?;
    let (vx, vy) = (contiguous("x", &x)?, contiguous("out", &y)?);
    disjoint(py, op, &[("out", &vy)], &[&vx])?;
    guarded(py, || unsafe {
        let (x, y) = (vx.as_slice().unwrap_or(&[]), vy.as_mut_slice().unwrap_or(&mut []));
        match kind {
            Kind::Max => globals::global_max_pool2d(x, &vx.shape, y),
            Kind::Avg => globals::global_avg_pool2d(x, &vx.shape, y),
        }
    })?;
    Ok(y.into_any())
}

/// Mean over height and width: (n, h, w, c) -> (n, c).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn global_avg_pool2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => global_t(py, Kind::Avg, x, out))
}

/// Maximum over height and width: (n, h, w, c) -> (n, c).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn global_max_pool2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => global_t(py, Kind::Max, x, out))
}

fn global_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    kind: Kind,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let (op, xarr, x_shape) = match kind {
        Kind::Max => {
            let a = same::<T>("x", "dy", x)?;
            let s = a.shape().to_vec();
            ("global_max_pool2d_backward", Some(a), s)
        }
        Kind::Avg => ("global_avg_pool2d_backward", None, shape_of(x)?),
    };
    let want = globals::global_output_shape(op, &x_shape).map_err(|e| to_py(py, e))?;
    check_dy(py, op, dy.shape(), &want)?;
    let dx = contiguous_output::<T>(py, out, &x_shape, "dy")?;
    let vdy = contiguous("dy", &dy)?;
    let vx = xarr.as_ref().map(|a| contiguous("x", a)).transpose()?;
    let vdx = contiguous("out", &dx)?;
    disjoint(py, op, &[("out", &vdx)], &[&vdy])?;
    if let Some(vx) = &vx {
        disjoint(py, op, &[("out", &vdx)], &[vx])?;
    }
    guarded(py, || unsafe {
        let (dy, dx) = (vdy.as_slice().unwrap_or(&[]), vdx.as_mut_slice().unwrap_or(&mut []));
        match &vx {
            Some(vx) => globals::global_max_pool2d_backward(dy, vx.as_slice().unwrap_or(&[]), &x_shape, dx),
            None => globals::global_avg_pool2d_backward(dy, &x_shape, dx),
        }
    })?;
    Ok(dx.into_any())
}

/// Gradient of global_avg_pool2d; `x_shape` is the input shape (or the input).
#[pyfunction]
#[pyo3(signature = (dy, x_shape, out=None))]
fn global_avg_pool2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x_shape: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => global_backward_t(py, Kind::Avg, dy, x_shape, out))
}

/// Gradient of global_max_pool2d with respect to x.
#[pyfunction]
#[pyo3(signature = (dy, x, out=None))]
fn global_max_pool2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => global_backward_t(py, Kind::Max, dy, x, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(max_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(avg_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(global_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(global_avg_pool2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(global_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(global_max_pool2d_backward, m)?)?;
    Ok(())
}
