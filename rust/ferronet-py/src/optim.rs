//! In-place optimizer updates: SGD, Adam/AdamW, RMSprop, Adagrad.
//!
//! The parameter and every state buffer are written in place, so they are
//! never converted: each must already be a C-contiguous, writeable array of
//! the parameter's dtype and shape, and no two may share memory.

use crate::convert::{by_dtype, contiguous, floats_inplace, inplace, overlaps, same};
use crate::errors::{argument_error, guarded, shape_error};
use ferronet_core::ops::optim::{self as kernels, Adagrad, Adam, RmsProp, Sgd};
use ferronet_core::shape::{fmt_shape, Strided};
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// The parameter, its gradient and the given state buffers, in that order:
/// the arrays (to keep alive) and their views.
type Buffers<'py, T> = (Vec<Bound<'py, PyArrayDyn<T>>>, Vec<Strided<T>>);

/// Checks `param`, `grad` and the state buffers (named, optional) of one update.
fn buffers<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    param: Bound<'py, PyArrayDyn<T>>,
    grad: &Bound<'py, PyAny>,
    states: &[(&str, Option<&Bound<'py, PyAny>>)],
) -> PyResult<Buffers<'py, T>> {
    let shape = param.shape().to_vec();
    let param = inplace::<T>(py, op, "param", param.as_any(), ("param", &shape))?;
    let grad = same::<T>("grad", "param", grad)?;
    if grad.shape() != shape.as_slice() {
        return Err(shape_error(
            py,
            format!(
                "{op}: grad must have param's shape {}. Received: grad.shape={}",
                fmt_shape(&shape),
                fmt_shape(grad.shape())
            ),
        ));
    }
    let mut arrays = vec![param, grad];
    let mut names = vec!["param", "grad"];
    for &(name, ob) in states {
        if let Some(ob) = ob {
            arrays.push(inplace::<T>(py, op, name, ob, ("param", &shape))?);
            names.push(name);
        }
    }
    let views = arrays.iter().zip(&names).map(|(a, n)| contiguous(n, a)).collect::<PyResult<Vec<_>>>()?;
    for i in 0..views.len() {
        for j in i + 1..views.len() {
            if overlaps(&views[i], &views[j]) {
                return Err(argument_error(
                    py,
                    format!("{op}: {} and {} share memory; each must be a separate array", names[i], names[j]),
                ));
            }
        }
    }
    Ok((arrays, views))
}

/// View `i` as a slice.
///
/// # Safety
/// The views are C-contiguous and pairwise disjoint ([`buffers`] checks);
/// each index is taken once per kernel call.
unsafe fn slice<'a, T>(views: &[Strided<T>], i: usize) -> &'a mut [T] {
    views[i].as_mut_slice().unwrap_or(&mut [])
}

/// The gradient (view 1), read only.
unsafe fn grad_of<'a, T>(views: &[Strided<T>]) -> &'a [T] {
    views[1].as_slice().unwrap_or(&[])
}

fn sgd_t<T: Float + Element>(
    py: Python<'_>,
    param: Bound<'_, PyArrayDyn<T>>,
    grad: &Bound<'_, PyAny>,
    velocity: Option<&Bound<'_, PyAny>>,
    h: Sgd,
) -> PyResult<()> {
    let (_arrays, b) = buffers(py, "sgd_update", param, grad, &[("velocity", velocity)])?;
    let has_vel = velocity.is_some();
    guarded(py, || unsafe {
        let vel = has_vel.then(|| slice(&b, 2));
        kernels::sgd_update(slice(&b, 0), grad_of(&b), vel, &h)
    })
}

/// SGD step in place (Keras SGD).
#[pyfunction]
#[pyo3(signature = (param, grad, velocity, learning_rate, momentum, nesterov))]
fn sgd_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    velocity: Option<&Bound<'_, PyAny>>,
    learning_rate: f64,
    momentum: f64,
    nesterov: bool,
) -> PyResult<()> {
    let h = Sgd { learning_rate, momentum, nesterov };
    by_dtype!(floats_inplace("param", param)?, p => sgd_t(py, p, grad, velocity, h))
}

#[allow(clippy::too_many_arguments)]
fn adam_t<T: Float + Element>(
    py: Python<'_>,
    op: &'static str,
    param: Bound<'_, PyArrayDyn<T>>,
    grad: &Bound<'_, PyAny>,
    m: &Bound<'_, PyAny>,
    v: &Bound<'_, PyAny>,
    vhat: Option<&Bound<'_, PyAny>>,
    h: Adam,
) -> PyResult<()> {
    let (_arrays, b) = buffers(py, op, param, grad, &[("m", Some(m)), ("v", Some(v)), ("vhat", vhat)])?;
    let has_vhat = vhat.is_some();
    guarded(py, || unsafe {
        let vh = has_vhat.then(|| slice(&b, 4));
        let (p, g, m, v) = (slice(&b, 0), grad_of(&b), slice(&b, 2), slice(&b, 3));
        if op == "adamw_update" {
            kernels::adamw_update(p, g, m, v, vh, &h)
        } else {
            kernels::adam_update(p, g, m, v, vh, &h)
        }
    })
}

/// Adam step in place (Keras Adam; AMSGrad when vhat is given).
#[pyfunction]
#[pyo3(signature = (param, grad, m, v, step, learning_rate, beta_1, beta_2, epsilon, vhat=None))]
#[allow(clippy::too_many_arguments)]
fn adam_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    m: &Bound<'_, PyAny>,
    v: &Bound<'_, PyAny>,
    step: u64,
    learning_rate: f64,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    vhat: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let h = Adam { learning_rate, beta_1, beta_2, epsilon, weight_decay: 0.0, step };
    by_dtype!(floats_inplace("param", param)?, p => adam_t(py, "adam_update", p, grad, m, v, vhat, h))
}

/// AdamW step in place (Keras AdamW: decoupled weight decay, then Adam).
#[pyfunction]
#[pyo3(signature = (param, grad, m, v, step, learning_rate, weight_decay, beta_1, beta_2, epsilon, vhat=None))]
#[allow(clippy::too_many_arguments)]
fn adamw_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    m: &Bound<'_, PyAny>,
    v: &Bound<'_, PyAny>,
    step: u64,
    learning_rate: f64,
    weight_decay: f64,
    beta_1: f64,
    beta_2: f64,
    epsilon: f64,
    vhat: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let h = Adam { learning_rate, beta_1, beta_2, epsilon, weight_decay, step };
    by_dtype!(floats_inplace("param", param)?, p => adam_t(py, "adamw_update", p, grad, m, v, vhat, h))
}

#[allow(clippy::too_many_arguments)]
fn rmsprop_t<T: Float + Element>(
    py: Python<'_>,
    param: Bound<'_, PyArrayDyn<T>>,
    grad: &Bound<'_, PyAny>,
    velocity: &Bound<'_, PyAny>,
    momentum_buf: Option<&Bound<'_, PyAny>>,
    average_grad: Option<&Bound<'_, PyAny>>,
    h: RmsProp,
) -> PyResult<()> {
    let states = [("velocity", Some(velocity)), ("momentum_buf", momentum_buf), ("average_grad", average_grad)];
    let (_arrays, b) = buffers(py, "rmsprop_update", param, grad, &states)?;
    let (has_mb, has_avg) = (momentum_buf.is_some(), average_grad.is_some());
    guarded(py, || unsafe {
        let mb = has_mb.then(|| slice(&b, 3));
        let avg = has_avg.then(|| slice(&b, if has_mb { 4 } else { 3 }));
        kernels::rmsprop_update(slice(&b, 0), grad_of(&b), slice(&b, 2), mb, avg, &h)
    })
}

/// RMSprop step in place (Keras RMSprop; centered when average_grad is given).
#[pyfunction]
#[pyo3(signature = (param, grad, velocity, learning_rate, rho, momentum, epsilon, momentum_buf=None, average_grad=None))]
#[allow(clippy::too_many_arguments)]
fn rmsprop_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    velocity: &Bound<'_, PyAny>,
    learning_rate: f64,
    rho: f64,
    momentum: f64,
    epsilon: f64,
    momentum_buf: Option<&Bound<'_, PyAny>>,
    average_grad: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let h = RmsProp { learning_rate, rho, momentum, epsilon };
    by_dtype!(floats_inplace("param", param)?, p => rmsprop_t(py, p, grad, velocity, momentum_buf, average_grad, h))
}

fn adagrad_t<T: Float + Element>(
    py: Python<'_>,
    param: Bound<'_, PyArrayDyn<T>>,
    grad: &Bound<'_, PyAny>,
    accumulator: &Bound<'_, PyAny>,
    h: Adagrad,
) -> PyResult<()> {
    let (_arrays, b) = buffers(py, "adagrad_update", param, grad, &[("accumulator", Some(accumulator))])?;
    guarded(py, || unsafe { kernels::adagrad_update(slice(&b, 0), grad_of(&b), slice(&b, 2), &h) })
}

/// Adagrad step in place (Keras Adagrad).
#[pyfunction]
#[pyo3(signature = (param, grad, accumulator, learning_rate, epsilon))]
fn adagrad_update(
    py: Python<'_>,
    param: &Bound<'_, PyAny>,
    grad: &Bound<'_, PyAny>,
    accumulator: &Bound<'_, PyAny>,
    learning_rate: f64,
    epsilon: f64,
) -> PyResult<()> {
    let h = Adagrad { learning_rate, epsilon };
    by_dtype!(floats_inplace("param", param)?, p => adagrad_t(py, p, grad, accumulator, h))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sgd_update, m)?)?;
    m.add_function(wrap_pyfunction!(adam_update, m)?)?;
    m.add_function(wrap_pyfunction!(adamw_update, m)?)?;
    m.add_function(wrap_pyfunction!(rmsprop_update, m)?)?;
    m.add_function(wrap_pyfunction!(adagrad_update, m)?)?;
    Ok(())
}
