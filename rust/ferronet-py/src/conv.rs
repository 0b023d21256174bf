//! conv2d and its gradients.

use crate::activation::named;
use crate::convert::{by_dtype, contiguous, floats, kernel_output, precision, same, three_gradients, Grads};
use crate::errors::to_py;
use ferronet_core::ops::conv2d::{Conv2d, ConvFloat};
use ferronet_core::shape::Padding;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Pair = (usize, usize);

fn geometry<T: Element>(
    py: Python<'_>,
    x: &Bound<'_, PyArrayDyn<T>>,
    w: &Bound<'_, PyArrayDyn<T>>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
) -> PyResult<Conv2d> {
    let pad = Padding::parse("conv2d", padding).map_err(|e| to_py(py, e))?;
    Conv2d::new(x.shape(), w.shape(), strides, pad, dilation).map_err(|e| to_py(py, e))
}

#[allow(clippy::too_many_arguments)]
fn forward_t<'py, T: ConvFloat + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    activation: Option<&str>,
    out: Option<&Bound<'py, PyAny>>,
    precision_name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let p = precision::<T>(py, "conv2d", "x", precision_name)?;
    let act = activation.map(|a| named(py, "conv2d", a)).transpose()?;
    let w = same::<T>("kernel", "x", w)?;
    let b = b.map(|b| same::<T>("bias", "x", b)).transpose()?;
    let g = geometry(py, &x, &w, strides, padding, dilation)?;
    kernel_output(py, "conv2d", &x, &w, b.as_ref(), &g.output_shape(), out, |x, w, bias, y| {
        g.forward(x, w, bias, act, y, p)
    })
}

/// conv2d(x, w, b, strides, padding, dilation, out, activation, precision) for
/// NHWC x and HWIO w; `activation` (a name) is applied to each tile as it is
/// computed; the products in `precision`.
#[pyfunction]
#[pyo3(signature = (x, w, b, strides, padding, dilation, out=None, activation=None, precision="float32"))]
#[allow(clippy::too_many_arguments)]
fn conv2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    out: Option<&Bound<'py, PyAny>>,
    activation: Option<&str>,
    precision: &str,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => forward_t(py, x, w, b, strides, padding, dilation, activation, out, precision))
}

#[allow(clippy::too_many_arguments)]
fn backward_t<'py, T: ConvFloat + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    outs: [Option<&Bound<'py, PyAny>>; 3],
    need: [bool; 3],
    precision_name: &str,
) -> PyResult<Grads<'py>> {
    let p = precision::<T>(py, "conv2d_backward", "dy", precision_name)?;
    let x = same::<T>("x", "dy", x)?;
    let w = same::<T>("kernel", "dy", w)?;
    let g = geometry(py, &x, &w, strides, padding, dilation)?;
    let shapes: [Vec<usize>; 3] = [g.input_shape().to_vec(), g.kernel_shape().to_vec(), vec![g.filters]];
    let (vdy, vx, vw) = (contiguous("dy", &dy)?, contiguous("x", &x)?, contiguous("kernel", &w)?);
    three_gradients(py, "conv2d_backward", outs, need, &shapes, &[&vdy, &vx, &vw], |dx, dw, db| unsafe {
        g.backward(
            vdy.as_slice().unwrap_or(&[]),
            vx.as_slice().unwrap_or(&[]),
            vw.as_slice().unwrap_or(&[]),
            dx,
            dw,
            db,
            p,
        )
    })
}

/// Gradients (dx, dw, db) of conv2d; those not needed come back as None;
/// the products in `precision`.
#[pyfunction]
#[pyo3(signature = (dy, x, w, strides, padding, dilation, need_dx=true, need_dw=true, need_db=true, dx_out=None, dw_out=None, db_out=None, precision="float32"))]
#[allow(clippy::too_many_arguments)]
fn conv2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    need_dx: bool,
    need_dw: bool,
    need_db: bool,
    dx_out: Option<&Bound<'py, PyAny>>,
    dw_out: Option<&Bound<'py, PyAny>>,
    db_out: Option<&Bound<'py, PyAny>>,
    precision: &str,
) -> PyResult<Grads<'py>> {
    let outs = [dx_out, dw_out, db_out];
    let need = [need_dx, need_dw, need_db];
    by_dtype!(floats("dy", dy)?, dy => backward_t(py, dy, x, w, strides, padding, dilation, outs, need, precision))
}

#[allow(clippy::too_many_arguments)]
fn transpose_t<'py, T: ConvFloat + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    size: Pair,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    out: Option<&Bound<'py, PyAny>>,
    precision_name: &str,
) -> PyResult<Bound<'py, PyAny>> {
    const OP: &str = "conv2d_transpose";
    let p = precision::<T>(py, OP, "x", precision_name)?;
    let w = same::<T>("kernel", "x", w)?;
    let b = b.map(|b| same::<T>("bias", "x", b)).transpose()?;
    let (xs, ks) = (x.shape(), w.shape());
    if xs.len() != 4 || ks.len() != 4 || xs[3] != ks[3] {
        return Err(crate::errors::shape_error(
            py,
            format!("{OP}: expected an NHWC x and a kernel (kh, kw, out_channels, in_channels) with x's channels last. Received: x.shape={xs:?}, kernel.shape={ks:?}"),
        ));
    }
    let pad = Padding::parse(OP, padding).map_err(|e| to_py(py, e))?;
    let g = Conv2d::new(&[xs[0], size.0, size.1, ks[2]], ks, strides, pad, dilation).map_err(|e| to_py(py, e))?;
    if g.output_shape()[1..3] != xs[1..3] {
        return Err(crate::errors::shape_error(
            py,
            format!(
                "{OP}: an output of {}x{} gives a {}x{} input with these strides and padding. Received: x.shape={xs:?}",
                size.0,
                size.1,
                g.output_shape()[1],
                g.output_shape()[2]
            ),
        ));
    }
    kernel_output(py, OP, &x, &w, b.as_ref(), &g.input_shape(), out, |x, w, bias, y| g.transpose(x, w, bias, y, p))
}

/// conv2d_transpose(x, w, b, size, strides, padding, dilation, out, precision): the
/// transposed convolution of NHWC x with a (kh, kw, out_channels, in_channels)
/// kernel, as the input gradient of the convolution whose input is `size`
/// (height, width) large; the products in `precision`.
#[pyfunction]
#[pyo3(signature = (x, w, b, size, strides, padding, dilation, out=None, precision="float32"))]
#[allow(clippy::too_many_arguments)]
fn conv2d_transpose<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    size: Pair,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    out: Option<&Bound<'py, PyAny>>,
    precision: &str,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => transpose_t(py, x, w, b, size, strides, padding, dilation, out, precision))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(conv2d_transpose, m)?)?;
    Ok(())
}
