//! Bindings of the accuracy-counting kernels.

use crate::convert::{by_dtype, contiguous, floats, readable, same};
use crate::errors::{guarded, shape_error};
use ferronet_core::ops::metric;
use ferronet_core::shape::fmt_shape;
use ferronet_core::Float;
use numpy::{Element, PyArrayDyn};
use pyo3::prelude::*;

fn argmax_hits_t<T: Float + Element>(
    py: Python<'_>,
    scores: Bound<'_, PyArrayDyn<T>>,
    labels: &Bound<'_, PyAny>,
) -> PyResult<usize> {
    let vs = contiguous("scores", &scores)?;
    let [rows, classes] = vs.shape[..] else {
        return Err(shape_error(
            py,
            format!("argmax_hits: scores must be 2-D (rows, classes). Received: scores.shape={}", fmt_shape(&vs.shape)),
        ));
    };
    let labels = &readable(labels)?;
    if let Ok(ids) = labels.cast::<PyArrayDyn<i64>>() {
        let vl = contiguous("labels", ids)?;
        if vl.shape != [rows] {
            return Err(shape_error(
                py,
                format!(
                    "argmax_hits: class ids must have shape ({rows},). Received: labels.shape={}, scores.shape={}",
                    fmt_shape(&vl.shape),
                    fmt_shape(&vs.shape)
                ),
            ));
        }
        return guarded(py, || unsafe {
            metric::argmax_hits(vs.as_slice().unwrap_or(&[]), classes, vl.as_slice().unwrap_or(&[]))
        });
    }
    let t = same::<T>("labels", "scores", labels)?;
    let vt = contiguous("labels", &t)?;
    if vt.shape != vs.shape {
        return Err(shape_error(
            py,
            format!(
                "argmax_hits: targets must have the shape of scores {}. Received: labels.shape={}",
                fmt_shape(&vs.shape),
                fmt_shape(&vt.shape)
            ),
        ));
    }
    guarded(py, || unsafe { metric::argmax_agree(vs.as_slice().unwrap_or(&[]), vt.as_slice().unwrap_or(&[]), classes) })
}

/// How many rows of `scores` (rows, classes) have their first maximum at the
/// class given by `labels`: int64 class ids (rows,), or targets of the scores'
/// shape and dtype (compared by their own argmax). NaN counts as a maximum, as
/// in `np.argmax`.
#[pyfunction]
fn argmax_hits<'py>(py: Python<'py>, scores: &Bound<'py, PyAny>, labels: &Bound<'py, PyAny>) -> PyResult<usize> {
    by_dtype!(floats("scores", scores)?, s => argmax_hits_t(py, s, labels))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(argmax_hits, m)?)?;
    Ok(())
}
