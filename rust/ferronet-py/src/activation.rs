//! Activations, softmax and log_softmax, with their gradients.

use crate::convert::{by_dtype, contiguous, contiguous_output, floats, overlaps, same, same_shape, slice, slice_mut};
use crate::errors::{argument_error, guarded};
use ferronet_core::ops::activation::{self as kernels, Activation};
use ferronet_core::ops::softmax as soft;
use ferronet_core::ops::vmath::VFloat;
use ferronet_core::shape::Strided;
use numpy::{Element, PyArrayDyn};
use pyo3::prelude::*;
use pyo3::types::PyEllipsis;

/// Runs `kernel` into `dst`. An `out=` sharing memory with an input gets the
/// result through a temporary, as NumPy's ufuncs do (so `f(x, out=x)` works).
fn run_into<'py, T: Element + Sync>(
    py: Python<'py>,
    dst: Bound<'py, PyArrayDyn<T>>,
    inputs: &[&Strided<T>],
    kernel: impl FnOnce(&mut [T]) -> ferronet_core::Result<()> + Send,
) -> PyResult<Bound<'py, PyAny>> {
    let vd = contiguous("out", &dst)?;
    if inputs.iter().any(|v| overlaps(&vd, v)) {
        let tmp = crate::convert::empty::<T>(py, vd.shape.as_slice())?;
        let vt = contiguous("out", &tmp)?;
        guarded(py, || kernel(unsafe { slice_mut(&vt) }))?;
        dst.call_method1("__setitem__", (PyEllipsis::get(py), tmp))?;
    } else {
        guarded(py, || kernel(unsafe { slice_mut(&vd) }))?;
    }
    Ok(dst.into_any())
}

/// The parameter-free activation called `name` (what layers fuse into their
/// kernels), or an ArgumentError listing the accepted names.
pub fn named(py: Python<'_>, op: &str, name: &str) -> PyResult<Activation> {
    Ok(match name {
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "tanh" => Activation::Tanh,
        "softplus" => Activation::Softplus,
        "silu" | "swish" => Activation::Silu,
        "gelu" => Activation::Gelu { approximate: false },
        _ => {
            return Err(argument_error(
                py,
                format!(
                    "{op}: activation must be one of 'relu', 'sigmoid', 'tanh', 'softplus', 'silu', 'gelu' or None. Received: activation='{name}'"
                ),
            ))
        }
    })
}

fn forward_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    act: Activation,
    x: Bound<'py, PyArrayDyn<T>>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let vx = contiguous("x", &x)?;
    let dst = contiguous_output::<T>(py, out, &vx.shape, "x")?;
    run_into(py, dst, &[&vx], |o| kernels::forward(act, unsafe { slice(&vx) }, o))
}

fn forward<'py>(
    py: Python<'py>,
    act: Activation,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => forward_t(py, act, x, out))
}

fn backward_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    act: Activation,
    dy: Bound<'py, PyArrayDyn<T>>,
    saved: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let name = if act.backward_takes_output() { "y" } else { "x" };
    let saved = same::<T>(name, "dy", saved)?;
    let (vdy, vs) = (contiguous("dy", &dy)?, contiguous(name, &saved)?);
    same_shape(py, &format!("{}_backward", act.name()), ("dy", &vdy), (name, &vs))?;
    let dst = contiguous_output::<T>(py, out, &vdy.shape, "dy")?;
    run_into(py, dst, &[&vdy, &vs], |o| unsafe { kernels::backward(act, slice(&vdy), slice(&vs), o) })
}

fn backward<'py>(
    py: Python<'py>,
    act: Activation,
    dy: &Bound<'py, PyAny>,
    saved: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => backward_t(py, act, dy, saved, out))
}

/// max(x, 0).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn relu<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, out: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Relu, x, out)
}

/// dy where x > 0, else 0.
#[pyfunction]
#[pyo3(signature = (dy, x, out=None))]
fn relu_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Relu, dy, x, out)
}

/// x for x ≥ 0, negative_slope·x below.
#[pyfunction]
#[pyo3(signature = (x, negative_slope=0.2, out=None))]
fn leaky_relu<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    negative_slope: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::LeakyRelu { negative_slope }, x, out)
}

#[pyfunction]
#[pyo3(signature = (dy, x, negative_slope=0.2, out=None))]
fn leaky_relu_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    negative_slope: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::LeakyRelu { negative_slope }, dy, x, out)
}

/// x for x > 0, alpha·(exp(x) - 1) below.
#[pyfunction]
#[pyo3(signature = (x, alpha=1.0, out=None))]
fn elu<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Elu { alpha }, x, out)
}

#[pyfunction]
#[pyo3(signature = (dy, x, alpha=1.0, out=None))]
fn elu_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    alpha: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Elu { alpha }, dy, x, out)
}

/// 1 / (1 + exp(-x)).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn sigmoid<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Sigmoid, x, out)
}

/// dy·y·(1 - y) from the forward's output y.
#[pyfunction]
#[pyo3(signature = (dy, y, out=None))]
fn sigmoid_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Sigmoid, dy, y, out)
}

#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn tanh<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, out: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Tanh, x, out)
}

/// dy·(1 - y²) from the forward's output y.
#[pyfunction]
#[pyo3(signature = (dy, y, out=None))]
fn tanh_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Tanh, dy, y, out)
}

/// ln(1 + exp(x)).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn softplus<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Softplus, x, out)
}

#[pyfunction]
#[pyo3(signature = (dy, x, out=None))]
fn softplus_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Softplus, dy, x, out)
}

/// x·Φ(x), or its tanh approximation.
#[pyfunction]
#[pyo3(signature = (x, approximate=false, out=None))]
fn gelu<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    approximate: bool,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Gelu { approximate }, x, out)
}

#[pyfunction]
#[pyo3(signature = (dy, x, approximate=false, out=None))]
fn gelu_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    approximate: bool,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Gelu { approximate }, dy, x, out)
}

/// x·sigmoid(x).
#[pyfunction]
#[pyo3(signature = (x, out=None))]
fn silu<'py>(py: Python<'py>, x: &Bound<'py, PyAny>, out: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
    forward(py, Activation::Silu, x, out)
}

#[pyfunction]
#[pyo3(signature = (dy, x, out=None))]
fn silu_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    backward(py, Activation::Silu, dy, x, out)
}

#[derive(Clone, Copy)]
enum Soft {
    Softmax,
    LogSoftmax,
}

fn softmax_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    kind: Soft,
    x: Bound<'py, PyArrayDyn<T>>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let vx = contiguous("x", &x)?;
    let dst = contiguous_output::<T>(py, out, &vx.shape, "x")?;
    run_into(py, dst, &[&vx], |o| {
        let x = unsafe { slice(&vx) };
        match kind {
            Soft::Softmax => soft::softmax(x, &vx.shape, axis, o),
            Soft::LogSoftmax => soft::log_softmax(x, &vx.shape, axis, o),
        }
    })
}

fn softmax_any<'py>(
    py: Python<'py>,
    kind: Soft,
    x: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => softmax_t(py, kind, x, axis, out))
}

fn softmax_backward_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    kind: Soft,
    dy: Bound<'py, PyArrayDyn<T>>,
    y: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let y = same::<T>("y", "dy", y)?;
    let (vdy, vy) = (contiguous("dy", &dy)?, contiguous("y", &y)?);
    let op = match kind {
        Soft::Softmax => "softmax_backward",
        Soft::LogSoftmax => "log_softmax_backward",
    };
    same_shape(py, op, ("dy", &vdy), ("y", &vy))?;
    let dst = contiguous_output::<T>(py, out, &vdy.shape, "dy")?;
    run_into(py, dst, &[&vdy, &vy], |o| {
        let (dy, y) = unsafe { (slice(&vdy), slice(&vy)) };
        match kind {
            Soft::Softmax => soft::softmax_backward(dy, y, &vdy.shape, axis, o),
            Soft::LogSoftmax => soft::log_softmax_backward(dy, y, &vdy.shape, axis, o),
        }
    })
}

fn softmax_backward_any<'py>(
    py: Python<'py>,
    kind: Soft,
    dy: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => softmax_backward_t(py, kind, dy, y, axis, out))
}

/// exp(x - max) / Σ exp(x - max) along `axis`.
#[pyfunction]
#[pyo3(signature = (x, axis=-1, out=None))]
fn softmax<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    softmax_any(py, Soft::Softmax, x, axis, out)
}

/// y·(dy - Σ dy·y) along `axis`, from the forward's output y.
#[pyfunction]
#[pyo3(signature = (dy, y, axis=-1, out=None))]
fn softmax_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    softmax_backward_any(py, Soft::Softmax, dy, y, axis, out)
}

/// (x - max) - ln Σ exp(x - max) along `axis`.
#[pyfunction]
#[pyo3(signature = (x, axis=-1, out=None))]
fn log_softmax<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    softmax_any(py, Soft::LogSoftmax, x, axis, out)
}

/// dy - exp(y)·Σ dy along `axis`, from the forward's output y.
#[pyfunction]
#[pyo3(signature = (dy, y, axis=-1, out=None))]
fn log_softmax_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    axis: isize,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    softmax_backward_any(py, Soft::LogSoftmax, dy, y, axis, out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(relu, m)?)?;
    m.add_function(wrap_pyfunction!(relu_backward, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu, m)?)?;
    m.add_function(wrap_pyfunction!(leaky_relu_backward, m)?)?;
    m.add_function(wrap_pyfunction!(elu, m)?)?;
    m.add_function(wrap_pyfunction!(elu_backward, m)?)?;
    m.add_function(wrap_pyfunction!(sigmoid, m)?)?;
    m.add_function(wrap_pyfunction!(sigmoid_backward, m)?)?;
    m.add_function(wrap_pyfunction!(tanh, m)?)?;
    m.add_function(wrap_pyfunction!(tanh_backward, m)?)?;
    m.add_function(wrap_pyfunction!(softplus, m)?)?;
    m.add_function(wrap_pyfunction!(softplus_backward, m)?)?;
    m.add_function(wrap_pyfunction!(gelu, m)?)?;
    m.add_function(wrap_pyfunction!(gelu_backward, m)?)?;
    m.add_function(wrap_pyfunction!(silu, m)?)?;
    m.add_function(wrap_pyfunction!(silu_backward, m)?)?;
    m.add_function(wrap_pyfunction!(softmax, m)?)?;
    m.add_function(wrap_pyfunction!(softmax_backward, m)?)?;
    m.add_function(wrap_pyfunction!(log_softmax, m)?)?;
    m.add_function(wrap_pyfunction!(log_softmax_backward, m)?)?;
    Ok(())
}
