"""Fused losses: per-sample loss and the gradient w.r.t. the predictions in
one pass -- cross-entropies (from logits, or of probabilities as Keras
computes them), regression losses and margin losses.

All share one calling convention, ``f(y_pred, y_true, sample_weight=None,
scale=1.0, grad_out=None) -> (loss, dy_pred)``, with ``loss`` one value per
sample (element-wise losses are averaged over each sample's elements, so
their gradient carries the ``1/k``).

The loss comes back per sample and unweighted; ``sample_weight`` and
``scale`` only multiply the gradient. A caller that reduces with
``(scale * w * loss).sum()`` -- ``scale = 1/batch`` for Keras'
``sum_over_batch_size`` -- gets exactly the returned gradient. Labels and
weights are cast to the logits' dtype, as Keras casts ``y_true``.

Example:
    >>> import numpy as np
    >>> from ferronet import ops
    >>> logits = np.array([[2.0, 0.0], [0.0, 2.0]])
    >>> loss, dlogits = ops.softmax_cross_entropy(logits, np.array([0, 0]), scale=0.5)
    >>> np.round(loss, 4)
    array([0.1269, 2.1269])
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from .. import _core
from ..errors import ArgumentError, DTypeError, ShapeError
from ._util import _contiguous, _floats

__all__ = [
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "categorical_crossentropy",
    "binary_crossentropy",
    "mean_squared_error",
    "mean_absolute_error",
    "huber",
    "hinge",
    "categorical_hinge",
    "multiclass_hinge",
]

_NUMERIC = "biuf"


def _numeric(a, name: str, op: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in _NUMERIC:
        raise DTypeError(f"{op}: {name} must be a numeric array. Received: {name}.dtype={a.dtype}")
    return a


def _weights(op: str, sample_weight, lead: Tuple[int, ...], dtype) -> Optional[np.ndarray]:
    """Per-sample weights as a contiguous 1-D array of ``prod(lead)`` entries."""
    if sample_weight is None:
        return None
    w = _numeric(sample_weight, "sample_weight", op)
    if w.ndim == len(lead) + 1 and w.shape[-1] == 1:
        w = w[..., 0]
    try:
        w = np.broadcast_to(w, lead)
    except ValueError:
        raise ShapeError(
            f"{op}: sample_weight must broadcast to the batch shape {lead}. Received: sample_weight.shape={w.shape}"
        ) from None
    return np.ascontiguousarray(w, dtype=dtype).reshape(-1)


def _grad_out(op: str, grad_out, z: np.ndarray) -> Optional[np.ndarray]:
    """``grad_out`` checked against the logits."""
    if grad_out is None:
        return None
    if not isinstance(grad_out, np.ndarray) or grad_out.dtype != z.dtype:
        got = getattr(grad_out, "dtype", type(grad_out).__name__)
        raise DTypeError(f"{op}: grad_out must be a {z.dtype} array like the logits. Received: grad_out.dtype={got}")
    if grad_out.shape != z.shape:
        raise ShapeError(
            f"{op}: grad_out must have the logits' shape {z.shape}. Received: grad_out.shape={grad_out.shape}"
        )
    if not (grad_out.flags.c_contiguous and grad_out.flags.writeable):
        raise ArgumentError(f"{op}: grad_out must be C-contiguous and writeable")
    return grad_out


def _class_ids(op: str, t: np.ndarray) -> np.ndarray:
    """Sparse labels as int64, refusing values that are not whole numbers."""
    if t.dtype.kind == "f":
        bad = ~np.isfinite(t) | (t != np.floor(t))
        if bad.any():
            i = int(np.flatnonzero(bad.reshape(-1))[0])
            raise ArgumentError(
                f"{op}: labels without a class axis are class ids and must be whole numbers. "
                f"Received: labels[{i}]={t.reshape(-1)[i].item()!r}"
            )
    elif t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size and t.max() > np.iinfo(np.int64).max:
        i = int(np.argmax(t.reshape(-1)))
        raise ArgumentError(f"{op}: labels[{i}]={t.reshape(-1)[i].item()} is not a class id")
    return np.ascontiguousarray(t, dtype=np.int64).reshape(-1)


def _class_loss(op: str, pred_name: str, y_pred, labels, sample_weight, scale, grad_out, ids=True, dense=True, **kw):
    """A loss over the last (class) axis: validates, flattens the batch axes, calls the kernel."""
    z = _contiguous(_floats(y_pred, pred_name, op))
    if z.ndim == 0 or z.shape[-1] == 0:
        raise ShapeError(
            f"{op}: {pred_name} need a class axis with at least one class. Received: {pred_name}.shape={z.shape}"
        )
    lead, classes = z.shape[:-1], z.shape[-1]
    rows = int(np.prod(lead, dtype=np.int64))
    t = _numeric(labels, "labels", op)
    if t.shape == z.shape and dense:
        t = np.ascontiguousarray(t, dtype=z.dtype).reshape(rows, classes)
    elif t.shape == z.shape:  # one-hot rows for a kernel that takes class ids
        t = np.ascontiguousarray(t.reshape(rows, classes).argmax(-1), dtype=np.int64)
    elif ids and (t.shape == lead or t.shape == lead + (1,)):
        t = _class_ids(op, t)
    else:
        forms = [f"class ids of shape {lead}"] * ids + [f"targets of shape {z.shape}"] * (dense or not ids)
        raise ShapeError(
            f"{op}: labels must be {' or '.join(forms)}. Received: labels.shape={t.shape}, {pred_name}.shape={z.shape}"
        )
    w = _weights(op, sample_weight, lead, z.dtype)
    g = _grad_out(op, grad_out, z)
    g = None if g is None else g.reshape(rows, classes)
    loss, grad = getattr(_core, op)(z.reshape(rows, classes), t, w, float(scale), g, **kw)
    return loss.reshape(lead), grad_out if grad_out is not None else grad.reshape(z.shape)


def _pointwise(op: str, names: Tuple[str, str], y_pred, y_true, sample_weight, scale, grad_out, **kw):
    """An element-wise loss averaged per sample: validates, casts the targets, calls the kernel."""
    pn, tn = names
    z = _contiguous(_floats(y_pred, pn, op))
    if z.ndim == 0:
        raise ShapeError(f"{op}: {pn} need a batch axis. Received: {pn}.shape=()")
    t = _numeric(y_true, tn, op)
    if t.shape != z.shape and t.size == z.size and (t.shape + (1,) == z.shape or t.shape == z.shape + (1,)):
        t = t.reshape(z.shape)
    if t.shape != z.shape:
        raise ShapeError(f"{op}: {tn} must have the shape of {pn}. Received: {tn}.shape={t.shape}, {pn}.shape={z.shape}")
    t = np.ascontiguousarray(t, dtype=z.dtype)
    w = _weights(op, sample_weight, z.shape[:1], z.dtype)
    g = _grad_out(op, grad_out, z)
    loss, grad = getattr(_core, op)(z, t, w, float(scale), g, **kw)
    return loss, grad_out if grad_out is not None else grad


_Pair = Tuple[np.ndarray, np.ndarray]


def softmax_cross_entropy(
    logits, labels, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """Softmax cross-entropy over the last axis, and its gradient.

    ``loss[i] = -sum_c t[i, c] * log_softmax(logits[i])[c]`` and
    ``dlogits[i] = scale * w[i] * (softmax(logits[i]) * t[i].sum() - t[i])``,
    which is ``scale * w[i] * (softmax(logits[i]) - t[i])`` for one-hot or
    probability labels. Stable for any finite logits (``1e4`` included).

    Args:
        logits: float array ``(..., classes)``.
        labels: class ids of shape ``logits.shape[:-1]`` (ints, or floats
            holding whole numbers; a trailing axis of 1 is accepted), or
            one-hot/probability targets of ``logits.shape``.
        sample_weight: optional weights broadcastable to ``logits.shape[:-1]``.
        scale: factor of the gradient (e.g. ``1 / batch`` for a mean).
        grad_out: optional C-contiguous array of the logits' shape and dtype
            to write the gradient into.

    Returns:
        ``(loss, dlogits)``: the unweighted per-sample loss of shape
        ``logits.shape[:-1]`` and the gradient of ``logits.shape``.

    Raises:
        ArgumentError: a class id outside ``[0, classes)`` (the message names
            its flat index and value) or not a whole number.
        ShapeError: labels of neither accepted shape (e.g. one-hot rows of the
            wrong width).
        DTypeError: non-float logits or non-numeric labels.

    Example:
        >>> logits = np.array([[2.0, 0.0, 0.0]], dtype=np.float32)
        >>> labels = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
        >>> loss, dlogits = softmax_cross_entropy(logits, labels)
        >>> np.round(loss, 4), np.round(dlogits, 4)
        (array([0.2395], dtype=float32), array([[-0.213 ,  0.1065,  0.1065]], dtype=float32))
    """
    return _class_loss("softmax_cross_entropy", "logits", logits, labels, sample_weight, scale, grad_out)


def sigmoid_cross_entropy(
    logits, targets, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """Binary cross-entropy from logits, averaged over the non-batch axes.

    Element-wise ``max(z, 0) - z * t + log1p(exp(-|z|))`` (stable for any
    finite logit), averaged over each sample's ``k`` elements; the gradient is
    ``scale * w[i] * (sigmoid(z) - t) / k``.

    Args:
        logits: float array ``(batch, ...)``.
        targets: array of the logits' shape (a missing or extra trailing axis
            of 1 is accepted), usually in [0, 1].
        sample_weight: optional weights broadcastable to ``(batch,)``.
        scale: factor of the gradient.
        grad_out: optional C-contiguous array of the logits' shape and dtype
            to write the gradient into.

    Returns:
        ``(loss, dlogits)``: the unweighted per-sample loss ``(batch,)`` and
        the gradient of the logits' shape.

    Raises:
        ShapeError: targets that do not match the logits.
        DTypeError: non-float logits or non-numeric targets.

    Example:
        >>> logits = np.array([[0.0, 2.0]], dtype=np.float32)
        >>> targets = np.array([[1.0, 1.0]], dtype=np.float32)
        >>> loss, dlogits = sigmoid_cross_entropy(logits, targets)
        >>> np.round(loss, 4), np.round(dlogits, 4)
        (array([0.41], dtype=float32), array([[-0.25  , -0.0596]], dtype=float32))
    """
    names = ("logits", "targets")
    return _pointwise("sigmoid_cross_entropy", names, logits, targets, sample_weight, scale, grad_out)


def categorical_crossentropy(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """Cross-entropy of probabilities over the last axis, as Keras computes it.

    Each row is renormalised and clipped, ``q = clip(p / p.sum(), 1e-7,
    1 - 1e-7)``, and ``loss[i] = -sum_c t[i, c] * log(q[i, c])``. The gradient
    flows through the normalisation and is zero where the clip holds. For
    logits, :func:`softmax_cross_entropy` is stabler and cheaper.

    Args:
        y_pred: probabilities ``(..., classes)``.
        y_true: class ids of shape ``y_pred.shape[:-1]`` or one-hot/probability
            targets of ``y_pred.shape``.
        sample_weight, scale, grad_out: as for :func:`softmax_cross_entropy`.

    Returns:
        ``(loss, dy_pred)``.

    Example:
        >>> y_pred = np.array([[0.5, 0.25, 0.25]], dtype=np.float32)
        >>> y_true = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
        >>> loss, grad = categorical_crossentropy(y_pred, y_true)
        >>> np.round(loss, 4), np.round(grad, 4)
        (array([0.6931], dtype=float32), array([[-1.,  1.,  1.]], dtype=float32))
    """
    return _class_loss("categorical_crossentropy", "y_pred", y_pred, y_true, sample_weight, scale, grad_out)


def binary_crossentropy(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """Binary cross-entropy of probabilities, averaged over the non-batch axes (Keras).

    ``p`` is clipped to ``[1e-7, 1 - 1e-7]`` and the element loss is
    ``-(t * log(p) + (1 - t) * log(1 - p))``; no gradient where the clip
    holds. For logits, :func:`sigmoid_cross_entropy` is stabler.

    Args:
        y_pred: probabilities ``(batch, ...)``.
        y_true: targets of the same shape.
        sample_weight, scale, grad_out: as for :func:`sigmoid_cross_entropy`.

    Returns:
        ``(loss (batch,), dy_pred)``.

    Example:
        >>> y_pred = np.array([[0.5, 0.8]], dtype=np.float32)
        >>> y_true = np.array([[1.0, 1.0]], dtype=np.float32)
        >>> loss, grad = binary_crossentropy(y_pred, y_true)
        >>> np.round(loss, 4), np.round(grad, 4)
        (array([0.4581], dtype=float32), array([[-1.   , -0.625]], dtype=float32))
    """
    names = ("y_pred", "y_true")
    return _pointwise("binary_crossentropy", names, y_pred, y_true, sample_weight, scale, grad_out)


def mean_squared_error(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """``((y_pred - y_true) ** 2)`` averaged over the non-batch axes, and its gradient.

    Args:
        y_pred: float array ``(batch, ...)``.
        y_true: targets of the same shape (a missing trailing axis of 1 is accepted).
        sample_weight, scale, grad_out: as for :func:`sigmoid_cross_entropy`.

    Returns:
        ``(loss (batch,), dy_pred)`` with ``dy_pred = scale * w * 2 (y_pred - y_true) / k``.

    Example:
        >>> y_pred = np.array([[1.0, 2.0]], dtype=np.float32)
        >>> y_true = np.array([[0.0, 4.0]], dtype=np.float32)
        >>> loss, grad = mean_squared_error(y_pred, y_true)
        >>> loss, grad
        (array([2.5], dtype=float32), array([[ 1., -2.]], dtype=float32))
    """
    names = ("y_pred", "y_true")
    return _pointwise("mean_squared_error", names, y_pred, y_true, sample_weight, scale, grad_out)


def mean_absolute_error(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """``abs(y_pred - y_true)`` averaged over the non-batch axes (gradient 0 where equal).

    Args:
        y_pred: float array ``(batch, ...)``.
        y_true: targets of the same shape.
        sample_weight, scale, grad_out: as for :func:`sigmoid_cross_entropy`.

    Returns:
        ``(loss (batch,), dy_pred)``.

    Example:
        >>> y_pred = np.array([[1.0, 2.0]], dtype=np.float32)
        >>> y_true = np.array([[0.0, 4.0]], dtype=np.float32)
        >>> loss, grad = mean_absolute_error(y_pred, y_true)
        >>> loss, grad
        (array([1.5], dtype=float32), array([[ 0.5, -0.5]], dtype=float32))
    """
    names = ("y_pred", "y_true")
    return _pointwise("mean_absolute_error", names, y_pred, y_true, sample_weight, scale, grad_out)


def huber(
    y_pred,
    y_true,
    sample_weight=None,
    scale: float = 1.0,
    grad_out: Optional[np.ndarray] = None,
    delta: float = 1.0,
) -> _Pair:
    """Huber loss averaged over the non-batch axes (Keras' ``huber``).

    With ``e = y_pred - y_true``: ``0.5 * e**2`` where ``|e| <= delta``,
    ``delta * (|e| - 0.5 * delta)`` beyond.

    Args:
        y_pred: float array ``(batch, ...)``.
        y_true: targets of the same shape.
        sample_weight, scale, grad_out: as for :func:`sigmoid_cross_entropy`.
        delta: the quadratic-to-linear switch point (positive).

    Returns:
        ``(loss (batch,), dy_pred)``.

    Example:
        >>> y_pred = np.array([[0.5, 3.0]], dtype=np.float32)
        >>> y_true = np.array([[0.0, 0.0]], dtype=np.float32)
        >>> loss, grad = huber(y_pred, y_true)
        >>> loss, grad
        (array([1.3125], dtype=float32), array([[0.25, 0.5 ]], dtype=float32))
    """
    names = ("y_pred", "y_true")
    return _pointwise("huber", names, y_pred, y_true, sample_weight, scale, grad_out, delta=float(delta))


def hinge(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """``max(1 - y_true * y_pred, 0)`` averaged over the non-batch axes.

    Args:
        y_pred: scores ``(batch, ...)``.
        y_true: targets in {-1, 1} of the same shape (map {0, 1} labels first).
        sample_weight, scale, grad_out: as for :func:`sigmoid_cross_entropy`.

    Returns:
        ``(loss (batch,), dy_pred)``.

    Example:
        >>> y_pred = np.array([[0.5, -2.0]], dtype=np.float32)
        >>> y_true = np.array([[1.0, -1.0]], dtype=np.float32)
        >>> loss, grad = hinge(y_pred, y_true)
        >>> loss, grad
        (array([0.25], dtype=float32), array([[-0.5,  0. ]], dtype=float32))
    """
    names = ("y_pred", "y_true")
    return _pointwise("hinge", names, y_pred, y_true, sample_weight, scale, grad_out)


def categorical_hinge(
    y_pred, y_true, sample_weight=None, scale: float = 1.0, grad_out: Optional[np.ndarray] = None
) -> _Pair:
    """Keras' categorical hinge: ``max(max((1 - t) * p) - sum(t * p) + 1, 0)`` per row.

    Where the maximum is tied, the first class takes the gradient.

    Args:
        y_pred: scores ``(..., classes)``.
        y_true: one-hot targets of the same shape.
        sample_weight, scale, grad_out: as for :func:`softmax_cross_entropy`.

    Returns:
        ``(loss, dy_pred)``.

    Example:
        >>> y_pred = np.array([[0.5, 0.3, 0.2]], dtype=np.float32)
        >>> y_true = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
        >>> loss, grad = categorical_hinge(y_pred, y_true)
        >>> np.round(loss, 4)
        array([0.8], dtype=float32)
    """
    return _class_loss(
        "categorical_hinge", "y_pred", y_pred, y_true, sample_weight, scale, grad_out, ids=False, dense=True
    )


def multiclass_hinge(
    y_pred,
    y_true,
    sample_weight=None,
    scale: float = 1.0,
    grad_out: Optional[np.ndarray] = None,
    margin: float = 1.0,
) -> _Pair:
    """Multi-class SVM hinge: ``sum_{j != y} max(0, s_j - s_y + margin)`` per row.

    Args:
        y_pred: scores ``(..., classes)``.
        y_true: class ids of shape ``y_pred.shape[:-1]``, or one-hot rows of
            ``y_pred.shape`` (their argmax is the class).
        sample_weight, scale, grad_out: as for :func:`softmax_cross_entropy`.
        margin: the required gap (>= 0).

    Returns:
        ``(loss, dy_pred)``.

    Raises:
        ArgumentError: a class id outside ``[0, classes)``, or a negative margin.

    Example:
        >>> scores = np.array([[2.0, 1.5, 0.0]], dtype=np.float32)
        >>> loss, grad = multiclass_hinge(scores, np.array([0]))
        >>> loss, grad
        (array([0.5], dtype=float32), array([[-1.,  1.,  0.]], dtype=float32))
    """
    return _class_loss(
        "multiclass_hinge",
        "y_pred",
        y_pred,
        y_true,
        sample_weight,
        scale,
        grad_out,
        ids=True,
        dense=False,
        margin=float(margin),
    )
