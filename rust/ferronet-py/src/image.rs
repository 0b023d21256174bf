//! Depthwise convolution, projective image transforms and per-image contrast/brightness,
//! with their gradients (NHWC).

use crate::convert::{
    by_dtype, contiguous, contiguous_output, disjoint, dy_shape, floats, kernel_output, owned, same, three_gradients,
    Grads,
};
use crate::errors::{guarded, to_py};
use ferronet_core::ops::affine::{Affine, FillMode, Interpolation};
use ferronet_core::ops::color::Adjust;
use ferronet_core::ops::depthwise::{Depthwise2d, DwFloat};
use ferronet_core::shape::Padding;
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Pair = (usize, usize);

fn geometry(
    py: Python<'_>,
    x_shape: &[usize],
    k_shape: &[usize],
    strides: Pair,
    padding: &str,
    dilation: Pair,
) -> PyResult<Depthwise2d> {
    let pad = Padding::parse("depthwise_conv2d", padding).map_err(|e| to_py(py, e))?;
    Depthwise2d::new(x_shape, k_shape, strides, pad, dilation).map_err(|e| to_py(py, e))
}

#[allow(clippy::too_many_arguments)]
fn forward_t<'py, T: DwFloat + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    k: &Bound<'py, PyAny>,
    b: Option<&Bound<'py, PyAny>>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let k = same::<T>("kernel", "x", k)?;
    let b = b.map(|b| same::<T>("bias", "x", b)).transpose()?;
    let g = geometry(py, x.shape(), k.shape(), strides, padding, dilation)?;
    kernel_output(py, "depthwise_conv2d", &x, &k, b.as_ref(), &g.output_shape(), out, |x, k, bias, y| {
        g.forward(x, k, bias, y)
    })
}

/// depthwise_conv2d(x, kernel, bias, strides, padding, dilation, out) for NHWC x
/// and a (kh, kw, channels, depth_multiplier) kernel.
#[pyfunction]
#[pyo3(signature = (x, kernel, bias, strides, padding, dilation, out=None))]
#[allow(clippy::too_many_arguments)]
fn depthwise_conv2d<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    kernel: &Bound<'py, PyAny>,
    bias: Option<&Bound<'py, PyAny>>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("x", x)?, x => forward_t(py, x, kernel, bias, strides, padding, dilation, out))
}

#[allow(clippy::too_many_arguments)]
fn backward_t<'py, T: DwFloat + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x: &Bound<'py, PyAny>,
    k: &Bound<'py, PyAny>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    need: [bool; 3],
) -> PyResult<Grads<'py>> {
    const OP: &str = "depthwise_conv2d_backward";
    let x = same::<T>("x", "dy", x)?;
    let k = same::<T>("kernel", "dy", k)?;
    let g = geometry(py, x.shape(), k.shape(), strides, padding, dilation)?;
    dy_shape(py, OP, "the output's shape", &g.output_shape(), dy.shape())?;
    let [n, h, w, c] = g.input_shape();
    let shapes: [Vec<usize>; 3] = [vec![n, h, w, c], g.kernel_shape().to_vec(), vec![c * g.multiplier]];
    let (vdy, vx, vk) = (contiguous("dy", &dy)?, contiguous("x", &x)?, contiguous("kernel", &k)?);
    three_gradients(py, OP, [None, None, None], need, &shapes, &[&vdy, &vx, &vk], |dx, dk, db| unsafe {
        g.backward(
            vdy.as_slice().unwrap_or(&[]),
            vx.as_slice().unwrap_or(&[]),
            vk.as_slice().unwrap_or(&[]),
            dx,
            dk,
            db,
        )
    })
}

/// Gradients (dx, dkernel, dbias) of depthwise_conv2d; those not needed come back as None.
#[pyfunction]
#[pyo3(signature = (dy, x, kernel, strides, padding, dilation, need_dx=true, need_dw=true, need_db=true))]
#[allow(clippy::too_many_arguments)]
fn depthwise_conv2d_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x: &Bound<'py, PyAny>,
    kernel: &Bound<'py, PyAny>,
    strides: Pair,
    padding: &str,
    dilation: Pair,
    need_dx: bool,
    need_dw: bool,
    need_db: bool,
) -> PyResult<Grads<'py>> {
    let need = [need_dx, need_dw, need_db];
    by_dtype!(floats("dy", dy)?, dy => backward_t(py, dy, x, kernel, strides, padding, dilation, need))
}

fn affine(
    py: Python<'_>,
    x_shape: &[usize],
    transforms: &PyReadonlyArrayDyn<'_, f64>,
    out_size: Pair,
    interpolation: &str,
    fill_mode: &str,
) -> PyResult<Affine> {
    let interp = Interpolation::parse(interpolation).map_err(|e| to_py(py, e))?;
    let fill = FillMode::parse(fill_mode).map_err(|e| to_py(py, e))?;
    Affine::new(x_shape, transforms.len(), out_size, interp, fill).map_err(|e| to_py(py, e))
}

#[allow(clippy::too_many_arguments)]
fn affine_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    transforms: PyReadonlyArrayDyn<'py, f64>,
    out_size: Pair,
    interpolation: &str,
    fill_mode: &str,
    fill_value: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let g = affine(py, x.shape(), &transforms, out_size, interpolation, fill_mode)?;
    let y = contiguous_output::<T>(py, out, &g.output_shape(), "images")?;
    let (vx, vy) = (contiguous("images", &x)?, contiguous("out", &y)?);
    disjoint(py, "affine_transform", &[("out", &vy)], &[&vx])?;
    let t = owned(py, &transforms)?;
    guarded(py, || unsafe {
        g.forward(vx.as_slice().unwrap_or(&[]), &t, T::from_f64(fill_value), vy.as_mut_slice().unwrap_or(&mut []))
    })?;
    Ok(y.into_any())
}

/// affine_transform(images, transforms, out_size, interpolation, fill_mode, fill_value, out):
/// NHWC images through one projective transform each (a C-contiguous float64 (batch, 8) array).
#[pyfunction]
#[pyo3(signature = (images, transforms, out_size, interpolation, fill_mode, fill_value, out=None))]
#[allow(clippy::too_many_arguments)]
fn affine_transform<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyAny>,
    transforms: PyReadonlyArrayDyn<'py, f64>,
    out_size: Pair,
    interpolation: &str,
    fill_mode: &str,
    fill_value: f64,
    out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("images", images)?, x => affine_t(py, x, transforms, out_size, interpolation, fill_mode, fill_value, out))
}

fn affine_backward_t<'py, T: Float + Element>(
    py: Python<'py>,
    dy: Bound<'py, PyArrayDyn<T>>,
    x_shape: Vec<usize>,
    transforms: PyReadonlyArrayDyn<'py, f64>,
    interpolation: &str,
    fill_mode: &str,
) -> PyResult<Bound<'py, PyAny>> {
    let out_size = match dy.shape() {
        [_, h, w, _] => (*h, *w),
        s => {
            return Err(crate::errors::shape_error(
                py,
                format!("affine_transform_backward: dy must be 4-D (NHWC). Received: dy.shape={s:?}"),
            ))
        }
    };
    let g = affine(py, &x_shape, &transforms, out_size, interpolation, fill_mode)?;
    dy_shape(py, "affine_transform_backward", "shape", &g.output_shape(), dy.shape())?;
    let dx = contiguous_output::<T>(py, None, &x_shape, "dy")?;
    let (vdy, vdx) = (contiguous("dy", &dy)?, contiguous("out", &dx)?);
    let t = owned(py, &transforms)?;
    guarded(py, || unsafe { g.backward(vdy.as_slice().unwrap_or(&[]), &t, vdx.as_mut_slice().unwrap_or(&mut [])) })?;
    Ok(dx.into_any())
}

/// Gradient of affine_transform with respect to the images (of shape `x_shape`).
#[pyfunction]
#[pyo3(signature = (dy, x_shape, transforms, interpolation, fill_mode))]
fn affine_transform_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    x_shape: Vec<usize>,
    transforms: PyReadonlyArrayDyn<'py, f64>,
    interpolation: &str,
    fill_mode: &str,
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("dy", dy)?, dy => affine_backward_t(py, dy, x_shape, transforms, interpolation, fill_mode))
}

fn shape4(py: Python<'_>, op: &str, name: &str, shape: &[usize]) -> PyResult<[usize; 4]> {
    <[usize; 4]>::try_from(shape).map_err(|_| {
        crate::errors::shape_error(py, format!("{op}: {name} must be 4-D (NHWC). Received: {name}.shape={shape:?}"))
    })
}

#[allow(clippy::too_many_arguments)]
fn adjust_t<'py, T: Float + Element>(
    py: Python<'py>,
    x: Bound<'py, PyArrayDyn<T>>,
    dy: Option<&Bound<'py, PyAny>>,
    factor: PyReadonlyArrayDyn<'py, f64>,
    delta: PyReadonlyArrayDyn<'py, f64>,
    center: bool,
    value_range: (f64, f64),
) -> PyResult<Bound<'py, PyAny>> {
    let op = if dy.is_some() { "adjust_images_backward" } else { "adjust_images" };
    let shape = shape4(py, op, "images", x.shape())?;
    let factor = owned(py, &factor)?;
    let delta = owned(py, &delta)?;
    let a = Adjust { shape, factor: &factor, delta: &delta, center, lo: value_range.0, hi: value_range.1 };
    let y = contiguous_output::<T>(py, None, &shape, "images")?;
    let (vx, vy) = (contiguous("images", &x)?, contiguous("out", &y)?);
    match dy {
        None => {
            guarded(py, || unsafe { a.forward(vx.as_slice().unwrap_or(&[]), vy.as_mut_slice().unwrap_or(&mut [])) })?
        }
        Some(dy) => {
            let dy = same::<T>("dy", "images", dy)?;
            dy_shape(py, op, "the images' shape", x.shape(), dy.shape())?;
            let vdy = contiguous("dy", &dy)?;
            guarded(py, || unsafe {
                a.backward(
                    vdy.as_slice().unwrap_or(&[]),
                    vx.as_slice().unwrap_or(&[]),
                    vy.as_mut_slice().unwrap_or(&mut []),
                )
            })?
        }
    }
    Ok(y.into_any())
}

/// adjust_images(images, factor, delta, center, value_range): per image b,
/// clip(factor[b] * (x - mean) + mean + delta[b], *value_range), the mean per
/// channel when `center`, else 0; factor and delta are float64 (batch,) arrays.
#[pyfunction]
#[pyo3(signature = (images, factor, delta, center, value_range))]
fn adjust_images<'py>(
    py: Python<'py>,
    images: &Bound<'py, PyAny>,
    factor: PyReadonlyArrayDyn<'py, f64>,
    delta: PyReadonlyArrayDyn<'py, f64>,
    center: bool,
    value_range: (f64, f64),
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("images", images)?, x => adjust_t(py, x, None, factor, delta, center, value_range))
}

/// Gradient of adjust_images at `images` with respect to the images.
#[pyfunction]
#[pyo3(signature = (dy, images, factor, delta, center, value_range))]
fn adjust_images_backward<'py>(
    py: Python<'py>,
    dy: &Bound<'py, PyAny>,
    images: &Bound<'py, PyAny>,
    factor: PyReadonlyArrayDyn<'py, f64>,
    delta: PyReadonlyArrayDyn<'py, f64>,
    center: bool,
    value_range: (f64, f64),
) -> PyResult<Bound<'py, PyAny>> {
    by_dtype!(floats("images", images)?, x => adjust_t(py, x, Some(dy), factor, delta, center, value_range))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(depthwise_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(depthwise_conv2d_backward, m)?)?;
    m.add_function(wrap_pyfunction!(affine_transform, m)?)?;
    m.add_function(wrap_pyfunction!(affine_transform_backward, m)?)?;
    m.add_function(wrap_pyfunction!(adjust_images, m)?)?;
    m.add_function(wrap_pyfunction!(adjust_images_backward, m)?)?;
    Ok(())
}
