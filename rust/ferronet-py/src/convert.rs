//! NumPy arrays ⇄ kernel views: dtype checks, zero-copy strided views,
//! output allocation and `out=` validation. No arithmetic here.

use crate::errors::{argument_error, dtype_error, shape_error};
use ferronet_core::shape::{fmt_shape, Strided};
use numpy::{Element, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

/// A float array of either supported dtype.
pub enum Floats<'py> {
    F32(Bound<'py, PyArrayDyn<f32>>),
    F64(Bound<'py, PyArrayDyn<f64>>),
}

fn dtype_name(ob: &Bound<'_, PyAny>) -> String {
    match ob.cast::<PyUntypedArray>() {
        Ok(a) => a.dtype().to_string(),
        Err(_) => ob.get_type().name().map(|n| n.to_string()).unwrap_or_default(),
    }
}

/// `ob` as a float32/float64 ndarray, or a DTypeError naming what it is.
pub fn floats<'py>(name: &str, ob: &Bound<'py, PyAny>) -> PyResult<Floats<'py>> {
    if let Ok(a) = ob.cast::<PyArrayDyn<f32>>() {
        return Ok(Floats::F32(a.clone()));
    }
    if let Ok(a) = ob.cast::<PyArrayDyn<f64>>() {
        return Ok(Floats::F64(a.clone()));
    }
    Err(dtype_error(
        ob.py(),
        format!("{name} must be a float32 or float64 array. Received: {name}.dtype={}", dtype_name(ob)),
    ))
}

/// `ob` as an ndarray of exactly `T` (the dtype of the op's first operand).
pub fn same<'py, T: Element>(name: &str, first: &str, ob: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    ob.cast::<PyArrayDyn<T>>().map(|a| a.clone()).map_err(|_| {
        dtype_error(
            ob.py(),
            format!(
                "{name} must have the same dtype as {first} ({}). Received: {name}.dtype={}",
                std::any::type_name::<T>().replace("f32", "float32").replace("f64", "float64"),
                dtype_name(ob)
            ),
        )
    })
}

/// A zero-copy view of any ndarray of `T` (strides converted to elements).
pub fn view<T: Element>(name: &str, a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Strided<T>> {
    let size = std::mem::size_of::<T>() as isize;
    let ptr = a.data();
    let aligned = (ptr as usize) % std::mem::align_of::<T>() == 0 && a.strides().iter().all(|s| s % size == 0);
    if !aligned && a.len() > 0 {
        return Err(argument_error(
            a.py(),
            format!("{name} is not aligned in memory; pass np.ascontiguousarray({name}) instead"),
        ));
    }
    Ok(Strided { ptr, shape: a.shape().to_vec(), strides: a.strides().iter().map(|s| s / size).collect() })
}

/// A view of a C-contiguous ndarray (the element-wise kernels need one).
pub fn contiguous<T: Element>(name: &str, a: &Bound<'_, PyArrayDyn<T>>) -> PyResult<Strided<T>> {
    let v = view(name, a)?;
    if !v.is_c_contiguous() {
        return Err(argument_error(a.py(), format!("{name} must be C-contiguous")));
    }
    Ok(v)
}

/// The `out=` array if given (checked for dtype, shape and writeability),
/// else a new uninitialized C-contiguous array of `shape`.
pub fn output<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    first: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    match out {
        None => Ok(unsafe { PyArrayDyn::<T>::new(py, shape, false) }),
        Some(o) => {
            let arr = same::<T>("out", first, o)?;
            if arr.shape() != shape {
                return Err(shape_error(
                    py,
                    format!("out has shape {} but the result has shape {}", fmt_shape(arr.shape()), fmt_shape(shape)),
                ));
            }
            if !is_writeable(&arr) {
                return Err(argument_error(py, "out is read-only".into()));
            }
            Ok(arr)
        }
    }
}

/// A C-contiguous `out=` (or a new array) for the element-wise kernels.
pub fn contiguous_output<'py, T: Element>(
    py: Python<'py>,
    out: Option<&Bound<'py, PyAny>>,
    shape: &[usize],
    first: &str,
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    let arr = output::<T>(py, out, shape, first)?;
    if !arr.is_c_contiguous() {
        return Err(argument_error(py, "out must be C-contiguous".into()));
    }
    Ok(arr)
}

/// The byte range `[lo, hi)` a view can touch.
fn extent<T>(v: &Strided<T>) -> (usize, usize) {
    if v.is_empty() {
        return (0, 0);
    }
    let (mut lo, mut hi) = (v.ptr as isize, v.ptr as isize);
    let size = std::mem::size_of::<T>() as isize;
    for (&n, &s) in v.shape.iter().zip(&v.strides) {
        let span = (n as isize - 1) * s * size;
        if span < 0 {
            lo += span
        } else {
            hi += span
        }
    }
    (lo as usize, hi as usize + size as usize)
}

/// Whether two views may touch the same memory.
pub fn overlaps<T>(a: &Strided<T>, b: &Strided<T>) -> bool {
    let ((a0, a1), (b0, b1)) = (extent(a), extent(b));
    a0 < b1 && b0 < a1
}

fn is_writeable<T: Element>(a: &Bound<'_, PyArrayDyn<T>>) -> bool {
    a.getattr("flags").and_then(|f| f.getattr("writeable")).and_then(|w| w.extract::<bool>()).unwrap_or(false)
}

/// The `precision=` argument of `op` for operands of type `T` (the dtype of
/// `first`): an ArgumentError for an unknown name, a DTypeError for bfloat16
/// products of a type that has none.
pub fn precision<T: ferronet_core::gemm::GemmFloat>(
    py: Python<'_>,
    op: &'static str,
    first: &str,
    name: &str,
) -> PyResult<ferronet_core::gemm::Precision> {
    use ferronet_core::gemm::Precision;
    let p = Precision::parse(op, name).map_err(|e| crate::errors::to_py(py, e))?;
    if p == Precision::Bfloat16 && T::BF16.is_none() {
        return Err(dtype_error(
            py,
            format!(
                "{op}: precision='bfloat16' needs float32 inputs. Received: {first}.dtype={}",
                std::any::type_name::<T>().replace("f64", "float64")
            ),
        ));
    }
    Ok(p)
}
