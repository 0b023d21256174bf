//! Binding of the parallel score sort behind `roc_curve` and `roc_auc_score`.

use crate::convert::{by_dtype, contiguous, empty, floats};
use crate::errors::{guarded, shape_error};
use ferronet_core::ranking;
use ferronet_core::shape::fmt_shape;
use numpy::{Element, PyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Sorted<'py, T> = (Bound<'py, PyArrayDyn<T>>, Bound<'py, PyArrayDyn<u8>>);

trait SortScores: Element + Copy {
    fn sort(s: &[Self], p: &[u8], os: &mut [Self], op: &mut [u8]) -> ferronet_core::Result<()>;
}

impl SortScores for f32 {
    fn sort(s: &[f32], p: &[u8], os: &mut [f32], op: &mut [u8]) -> ferronet_core::Result<()> {
        ranking::sort_scores_f32(s, p, os, op)
    }
}

impl SortScores for f64 {
    fn sort(s: &[f64], p: &[u8], os: &mut [f64], op: &mut [u8]) -> ferronet_core::Result<()> {
        ranking::sort_scores_f64(s, p, os, op)
    }
}

fn sort_scores_t<'py, T: SortScores>(
    py: Python<'py>,
    scores: Bound<'py, PyArrayDyn<T>>,
    positive: Bound<'py, PyArrayDyn<u8>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    if scores.ndim() != 1 || positive.shape() != scores.shape() {
        return Err(shape_error(
            py,
            format!(
                "sort_scores: scores and positive must be 1-D of one length. Received: scores.shape={}, positive.shape={}",
                fmt_shape(scores.shape()),
                fmt_shape(positive.shape())
            ),
        ));
    }
    let n = scores.len();
    let (vs, vp) = (contiguous("scores", &scores)?, contiguous("positive", &positive)?);
    let out: Sorted<'py, T> = (empty::<T>(py, &[n])?, empty::<u8>(py, &[n])?);
    let (os, op) = (contiguous("out", &out.0)?, contiguous("out", &out.1)?);
    guarded(py, || unsafe {
        T::sort(
            vs.as_slice().unwrap_or(&[]),
            vp.as_slice().unwrap_or(&[]),
            os.as_mut_slice().unwrap_or(&mut []),
            op.as_mut_slice().unwrap_or(&mut []),
        )
    })?;
    Ok((out.0.into_any(), out.1.into_any()))
}

/// `(scores sorted high to low, positive flags carried along)` for 1-D
/// float32/float64 `scores` (no NaN) and uint8 `positive` (0 or 1), by a
/// parallel sort on ferronet's rayon pool (`set_num_threads`); `-0.0` sorts
/// as `+0.0`. Equal scores keep no particular order among themselves.
#[pyfunction]
fn sort_scores<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    positive: Bound<'py, PyArrayDyn<u8>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    by_dtype!(floats("scores", scores)?, s => sort_scores_t(py, s, positive))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sort_scores, m)?)?;
    Ok(())
}
