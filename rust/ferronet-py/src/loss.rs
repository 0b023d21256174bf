//! Fused losses: per-sample loss and the gradient w.r.t. the predictions in
//! one call (cross-entropies, regression and margin losses).

use crate::convert::{by_dtype, contiguous, contiguous_output, floats, overlaps, readable, same, slice, slice_mut};
use crate::errors::{argument_error, dtype_error, guarded, shape_error};
use ferronet_core::ops::loss::{self as kernels, Labels};
use ferronet_core::ops::margin_loss;
use ferronet_core::ops::pointwise_loss::{pointwise_loss, PointLoss};
use ferronet_core::ops::vmath::VFloat;
use ferronet_core::shape::{fmt_shape, Strided};
use numpy::{Element, PyArrayDyn, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;

type Pair<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);
type Arrays<'py, T> = (Bound<'py, PyArrayDyn<T>>, Bound<'py, PyArrayDyn<T>>);

/// The optional per-sample weights, as a contiguous `(rows,)` array of `T`.
fn weights<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    w: Option<&Bound<'py, PyAny>>,
    rows: usize,
) -> PyResult<Option<Bound<'py, PyArrayDyn<T>>>> {
    let Some(w) = w else { return Ok(None) };
    let w = same::<T>("sample_weight", "logits", w)?;
    if w.shape() != [rows] {
        return Err(shape_error(
            py,
            format!(
                "{op}: sample_weight must have shape ({rows},), one weight per sample. Received: sample_weight.shape={}",
                fmt_shape(w.shape())
            ),
        ));
    }
    Ok(Some(w))
}

/// A new `(rows,)` loss array and the gradient array (`grad_out` or new),
/// which must not share memory with any input.
fn outputs<'py, T: Element>(
    py: Python<'py>,
    op: &str,
    logits: &Strided<T>,
    grad_out: Option<&Bound<'py, PyAny>>,
    inputs: &[&Strided<T>],
) -> PyResult<Arrays<'py, T>> {
    let loss = crate::convert::empty::<T>(py, &logits.shape[..1])?;
    let grad = contiguous_output::<T>(py, grad_out, &logits.shape, "logits")?;
    let vg = contiguous("grad_out", &grad)?;
    if inputs.iter().any(|v| overlaps(&vg, v)) {
        return Err(argument_error(py, format!("{op}: grad_out must not share memory with the inputs")));
    }
    Ok((loss, grad))
}

/// A loss over rows of classes.
#[derive(Clone, Copy)]
enum ClassLoss {
    SoftmaxXent,
    CategoricalXent,
    CategoricalHinge,
    MulticlassHinge { margin: f64 },
}

impl ClassLoss {
    fn name(self) -> &'static str {
        match self {
            ClassLoss::SoftmaxXent => "softmax_cross_entropy",
            ClassLoss::CategoricalXent => "categorical_crossentropy",
            ClassLoss::CategoricalHinge => "categorical_hinge",
            ClassLoss::MulticlassHinge { .. } => "multiclass_hinge",
        }
    }

    /// (name of the predictions, whether class ids / dense targets are accepted)
    fn accepts(self) -> (&'static str, bool, bool) {
        match self {
            ClassLoss::SoftmaxXent => ("logits", true, true),
            ClassLoss::CategoricalXent => ("y_pred", true, true),
            ClassLoss::CategoricalHinge => ("y_pred", false, true),
            ClassLoss::MulticlassHinge { .. } => ("y_pred", true, false),
        }
    }
}

fn class_loss_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    kind: ClassLoss,
    pred: Bound<'py, PyArrayDyn<T>>,
    labels: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    let op = kind.name();
    let (pn, ids_ok, dense_ok) = kind.accepts();
    let vz = contiguous(pn, &pred)?;
    if vz.shape.len() != 2 {
        return Err(shape_error(
            py,
            format!("{op}: {pn} must be 2-D (samples, classes). Received: {pn}.shape={}", fmt_shape(&vz.shape)),
        ));
    }
    let (rows, classes) = (vz.shape[0], vz.shape[1]);
    // Class ids (int64) or targets (the predictions' dtype).
    let labels = &readable(labels)?;
    let sparse = if ids_ok { labels.cast::<PyArrayDyn<i64>>().ok().cloned() } else { None };
    let dense = match (&sparse, dense_ok) {
        (None, true) => labels.cast::<PyArrayDyn<T>>().ok().cloned(),
        _ => None,
    };
    if sparse.is_none() && dense.is_none() {
        let got =
            labels.cast::<PyUntypedArray>().map(|a| a.dtype().to_string()).unwrap_or_else(|_| "not an array".into());
        let want = match (ids_ok, dense_ok) {
            (true, true) => format!("int64 class ids or targets of the {pn} dtype ({})", T::NAME),
            (true, false) => "int64 class ids".to_string(),
            _ => format!("targets of the {pn} dtype ({})", T::NAME),
        };
        return Err(dtype_error(py, format!("{op}: labels must be {want}. Received: labels.dtype={got}")));
    }
    let (vl, want) = match (&sparse, &dense) {
        (Some(s), _) => (contiguous("labels", s)?.shape, vec![rows]),
        (_, Some(d)) => (contiguous("labels", d)?.shape, vec![rows, classes]),
        _ => unreachable!("labels are either sparse or dense"),
    };
    if vl != want {
        return Err(shape_error(
            py,
            format!(
                "{op}: labels must be {} of shape {}. Received: labels.shape={}",
                if sparse.is_some() { "class ids" } else { "targets" },
                fmt_shape(&want),
                fmt_shape(&vl)
            ),
        ));
    }
    let w = weights::<T>(py, op, sample_weight, rows)?;
    let vw = w.as_ref().map(|w| contiguous("sample_weight", w)).transpose()?;
    let vs = sparse.as_ref().map(|s| contiguous("labels", s)).transpose()?;
    let vd = dense.as_ref().map(|d| contiguous("labels", d)).transpose()?;
    let mut inputs = vec![&vz];
    inputs.extend(vw.as_ref());
    inputs.extend(vd.as_ref());
    let (loss, grad) = outputs(py, op, &vz, grad_out, &inputs)?;
    let (vloss, vgrad) = (contiguous("loss", &loss)?, contiguous("grad_out", &grad)?);
    guarded(py, || unsafe {
        let labels = match (&vs, &vd) {
            (Some(s), _) => Labels::Sparse(slice(s)),
            (_, Some(d)) => Labels::Dense(slice(d)),
            _ => unreachable!("labels are either sparse or dense"),
        };
        let (z, w, l, g) = (slice(&vz), vw.as_ref().map(|v| slice(v)), slice_mut(&vloss), slice_mut(&vgrad));
        match (kind, labels) {
            (ClassLoss::SoftmaxXent, labels) => kernels::softmax_cross_entropy(z, classes, labels, w, scale, l, g),
            (ClassLoss::CategoricalXent, labels) => {
                kernels::categorical_crossentropy(z, classes, labels, w, scale, l, g)
            }
            (ClassLoss::CategoricalHinge, Labels::Dense(t)) => {
                margin_loss::categorical_hinge(z, classes, t, w, scale, l, g)
            }
            (ClassLoss::MulticlassHinge { margin }, Labels::Sparse(y)) => {
                margin_loss::multiclass_hinge(z, classes, y, margin, w, scale, l, g)
            }
            _ => unreachable!("label kinds are checked above"),
        }
    })?;
    Ok((loss.into_any(), grad.into_any()))
}

#[allow(clippy::too_many_arguments)]
fn class_loss<'py>(
    py: Python<'py>,
    kind: ClassLoss,
    pred: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    let (pn, _, _) = kind.accepts();
    by_dtype!(floats(pn, pred)?, z => class_loss_t(py, kind, z, labels, sample_weight, scale, grad_out))
}

/// Softmax cross-entropy of 2-D logits against int64 class ids (n,) or
/// probabilities (n, c): returns (per-sample loss, dlogits).
#[pyfunction]
#[pyo3(signature = (logits, labels, sample_weight=None, scale=1.0, grad_out=None))]
fn softmax_cross_entropy<'py>(
    py: Python<'py>,
    logits: &Bound<'py, PyAny>,
    labels: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    class_loss(py, ClassLoss::SoftmaxXent, logits, labels, sample_weight, scale, grad_out)
}

/// Keras' categorical cross-entropy of probabilities (n, c) against int64
/// class ids (n,) or targets (n, c): returns (per-sample loss, dy_pred).
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn categorical_crossentropy<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    class_loss(py, ClassLoss::CategoricalXent, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Keras' categorical hinge of scores (n, c) against one-hot targets (n, c).
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn categorical_hinge<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    class_loss(py, ClassLoss::CategoricalHinge, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Multi-class SVM hinge of scores (n, c) against int64 class ids (n,).
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None, margin=1.0))]
#[allow(clippy::too_many_arguments)]
fn multiclass_hinge<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
    margin: f64,
) -> PyResult<Pair<'py>> {
    class_loss(py, ClassLoss::MulticlassHinge { margin }, y_pred, y_true, sample_weight, scale, grad_out)
}

fn pointwise_t<'py, T: VFloat + Element>(
    py: Python<'py>,
    kind: PointLoss,
    pred: Bound<'py, PyArrayDyn<T>>,
    target: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    let op = kind.name();
    let (pn, tn) = kind.arg_names();
    let target = same::<T>(tn, pn, target)?;
    let (vz, vt) = (contiguous(pn, &pred)?, contiguous(tn, &target)?);
    if vz.shape.is_empty() || vz.shape != vt.shape {
        return Err(shape_error(
            py,
            format!(
                "{op}: {pn} need a batch axis and {tn} must have their shape. Received: {pn}.shape={}, {tn}.shape={}",
                fmt_shape(&vz.shape),
                fmt_shape(&vt.shape)
            ),
        ));
    }
    let rows = vz.shape[0];
    let w = weights::<T>(py, op, sample_weight, rows)?;
    let vw = w.as_ref().map(|w| contiguous("sample_weight", w)).transpose()?;
    let mut inputs = vec![&vz, &vt];
    inputs.extend(vw.as_ref());
    let (loss, grad) = outputs(py, op, &vz, grad_out, &inputs)?;
    let (vloss, vgrad) = (contiguous("loss", &loss)?, contiguous("grad_out", &grad)?);
    guarded(py, || unsafe {
        let w = vw.as_ref().map(|v| slice(v));
        pointwise_loss(kind, slice(&vz), slice(&vt), rows, w, scale, slice_mut(&vloss), slice_mut(&vgrad))
    })?;
    Ok((loss.into_any(), grad.into_any()))
}

#[allow(clippy::too_many_arguments)]
fn pointwise<'py>(
    py: Python<'py>,
    kind: PointLoss,
    pred: &Bound<'py, PyAny>,
    target: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    by_dtype!(floats(kind.arg_names().0, pred)?, z => pointwise_t(py, kind, z, target, sample_weight, scale, grad_out))
}

/// Binary cross-entropy from logits, averaged over the non-batch axes:
/// returns (per-sample loss, dlogits).
#[pyfunction]
#[pyo3(signature = (logits, targets, sample_weight=None, scale=1.0, grad_out=None))]
fn sigmoid_cross_entropy<'py>(
    py: Python<'py>,
    logits: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::SigmoidCrossEntropy, logits, targets, sample_weight, scale, grad_out)
}

/// Keras' binary cross-entropy of probabilities (clipped to [1e-7, 1-1e-7]),
/// averaged over the non-batch axes.
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn binary_crossentropy<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::BinaryCrossentropy, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Mean over the non-batch axes of (y_pred - y_true)².
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn mean_squared_error<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::MeanSquaredError, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Mean over the non-batch axes of |y_pred - y_true|.
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn mean_absolute_error<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::MeanAbsoluteError, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Mean over the non-batch axes of the Huber loss of y_pred - y_true.
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None, delta=1.0))]
#[allow(clippy::too_many_arguments)]
fn huber<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
    delta: f64,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::Huber { delta }, y_pred, y_true, sample_weight, scale, grad_out)
}

/// Mean over the non-batch axes of max(1 - y_true·y_pred, 0).
#[pyfunction]
#[pyo3(signature = (y_pred, y_true, sample_weight=None, scale=1.0, grad_out=None))]
fn hinge<'py>(
    py: Python<'py>,
    y_pred: &Bound<'py, PyAny>,
    y_true: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    scale: f64,
    grad_out: Option<&Bound<'py, PyAny>>,
) -> PyResult<Pair<'py>> {
    pointwise(py, PointLoss::Hinge, y_pred, y_true, sample_weight, scale, grad_out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(softmax_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(categorical_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(categorical_hinge, m)?)?;
    m.add_function(wrap_pyfunction!(multiclass_hinge, m)?)?;
    m.add_function(wrap_pyfunction!(sigmoid_cross_entropy, m)?)?;
    m.add_function(wrap_pyfunction!(binary_crossentropy, m)?)?;
    m.add_function(wrap_pyfunction!(mean_squared_error, m)?)?;
    m.add_function(wrap_pyfunction!(mean_absolute_error, m)?)?;
    m.add_function(wrap_pyfunction!(huber, m)?)?;
    m.add_function(wrap_pyfunction!(hinge, m)?)?;
    Ok(())
}
