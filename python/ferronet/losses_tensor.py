"""Losses on tensors: the differentiable path of ``Loss.__call__`` (custom steps, tapes, non-Sequential fit).

A built-in loss is one primitive: its value and its fast gradient come from
the same Rust kernels ``fit`` uses; its differentiable twin (for higher
derivatives) is the loss written in tensor ops below. A ``Loss`` subclass
that overrides ``call(y_true, y_pred)`` in tensor ops, or a plain function
``f(y_true, y_pred)`` given to ``compile``, is differentiated by the tape.
Both are reduced as Keras does: per-sample values times ``sample_weight``,
then ``"sum_over_batch_size"`` (mean), ``"sum"`` or ``"none"``.
"""

from __future__ import annotations

import numpy as np

from .tensor import array_ops as A
from .tensor import math_ops as M
from .tensor import nn_ops as N
from .tensor import reduce_ops as R
from .tensor.core import Primitive, Tensor, as_tensor, unwrap

_EPS = 1e-7


def _ids(y_true, n):
    t = np.asarray(unwrap(y_true))
    return t.reshape(n).astype(np.int64) if t.size == n else t


def per_sample_formula(loss, y_true, y_pred):
    """The per-sample loss of a built-in ``loss`` in tensor ops (its differentiable twin)."""
    from . import losses as L

    p = y_pred
    if isinstance(loss, L.SparseCategoricalCrossentropy):
        ids = _ids(y_true, p.shape[0])
        if loss.from_logits:
            return N.sparse_softmax_cross_entropy_with_logits(labels=ids, logits=p)
        q = M.clip_by_value(M.divide(p, R.reduce_sum(p, axis=-1, keepdims=True)), _EPS, 1 - _EPS)
        return M.negative(M.log(q[np.arange(p.shape[0]), ids]))
    t = y_true if isinstance(y_true, Tensor) else as_tensor(np.asarray(y_true, dtype=unwrap(p).dtype))
    if isinstance(loss, L.CategoricalCrossentropy):
        if loss.from_logits:
            return N.softmax_cross_entropy_with_logits(labels=t, logits=p)
        q = M.clip_by_value(M.divide(p, R.reduce_sum(p, axis=-1, keepdims=True)), _EPS, 1 - _EPS)
        return M.negative(R.reduce_sum(M.multiply(t, M.log(q)), axis=-1))
    if isinstance(loss, L.BinaryCrossentropy):
        if loss.from_logits:
            e = N.sigmoid_cross_entropy_with_logits(labels=t, logits=p)
        else:
            q = M.clip_by_value(p, _EPS, 1 - _EPS)
            e = M.negative(M.add(M.multiply(t, M.log(q)), M.multiply(M.subtract(1, t), M.log(M.subtract(1, q)))))
        return R.reduce_mean(e, axis=-1)
    e = M.subtract(p, t)
    if isinstance(loss, L.MeanSquaredError):
        return R.reduce_mean(M.square(e), axis=-1)
    if isinstance(loss, L.MeanAbsoluteError):
        return R.reduce_mean(M.abs(e), axis=-1)
    if isinstance(loss, L.Huber):
        d = float(loss._kwargs.get("delta", 1.0))
        a = M.abs(e)
        return R.reduce_mean(M.where(M.less_equal(a, d), M.multiply(M.square(e), 0.5),
                                     M.multiply(M.subtract(a, 0.5 * d), d)), axis=-1)
    if isinstance(loss, L.Hinge):
        return R.reduce_mean(M.maximum(M.subtract(1, M.multiply(t, p)), 0), axis=-1)
    if isinstance(loss, L.CategoricalHinge):
        pos = R.reduce_sum(M.multiply(t, p), axis=-1)
        neg = R.reduce_max(M.multiply(M.subtract(1, t), p), axis=-1)
        return M.maximum(M.add(M.subtract(neg, pos), 1), 0)
    raise NotImplementedError(f"{type(loss).__name__} has no tensor formulation for higher derivatives. "
                              "Received: a second derivative through this loss")


def _reduce(per_sample, sample_weight, reduction):
    if sample_weight is not None:
        w = np.asarray(unwrap(sample_weight), dtype=unwrap(per_sample).dtype).reshape(-1)
        shape = (-1,) + (1,) * (per_sample.ndim - 1)
        per_sample = M.multiply(per_sample, A.reshape(w, shape) if per_sample.ndim > 1 else w)
    if reduction in ("none", None):
        return per_sample
    total = R.reduce_sum(per_sample)
    if reduction == "sum_over_batch_size":
        return M.divide(total, np.asarray(max(1, per_sample.size), unwrap(total).dtype))
    return total


def _builtin_primitive(loss, y_true, sample_weight, reduction=None):
    """The fused kernel of a built-in loss as a primitive of ``y_pred`` (value and fast gradient in Rust)."""
    reduction = loss.reduction if reduction is None else reduction

    def forward(p):
        p = np.ascontiguousarray(p)
        losses = loss._grad(p, loss._prepare(y_true, p), None, 1.0, None)[0]  # _grad applies label smoothing
        return unwrap(_reduce(Tensor(losses), sample_weight, reduction))

    def fast(g, out, p):
        p = np.ascontiguousarray(p)
        n = p.shape[0]
        if reduction in ("none", None):
            sw = np.asarray(g, dtype=p.dtype).reshape(-1)
            if sample_weight is not None:
                sw = sw * np.asarray(unwrap(sample_weight), dtype=p.dtype).reshape(-1)
            scale = 1.0
        else:
            sw = None if sample_weight is None else np.asarray(unwrap(sample_weight), dtype=p.dtype).reshape(-1)
            scale = float(g) / (max(1, n) if reduction == "sum_over_batch_size" else 1)
        return (loss._grad(p, loss._prepare(y_true, p), None if sw is None else np.ascontiguousarray(sw), scale, None)[1],)

    def formula(p):
        pv = unwrap(p)
        t = loss._prepare(np.asarray(unwrap(y_true)), pv)
        if getattr(loss, "label_smoothing", 0.0):
            t = loss._smoothed(t, pv)
        return _reduce(per_sample_formula(loss, t, p), sample_weight, reduction)

    return Primitive(f"{type(loss).__name__}", forward, N._twin(formula), fast)


def per_sample(loss, y_true, y_pred):
    """The per-sample values of a built-in loss on tensors (``Loss.call``'s tensor path), differentiable."""
    y_pred = as_tensor(y_pred)
    if isinstance(y_true, Tensor):
        y_true = y_true.numpy()
    return _builtin_primitive(loss, y_true, None, reduction="none")(y_pred)


def tensor_loss(loss, y_true, y_pred, sample_weight=None):
    """``loss(y_true, y_pred, sample_weight)`` as a differentiable tensor (see the module docstring)."""
    from . import losses as L

    y_pred = as_tensor(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = M.cast(y_pred, "float32")
    if y_true is not None and isinstance(y_true, Tensor) and not isinstance(loss, L.SparseCategoricalCrossentropy):
        y_true = y_true.numpy() if y_true.dtype == y_pred.dtype else M.cast(y_true, y_pred.dtype).numpy()
    elif isinstance(y_true, Tensor):
        y_true = y_true.numpy()
    if type(loss).call is not L.Loss.call:
        t = y_true if y_true is None or isinstance(y_true, Tensor) else as_tensor(np.asarray(y_true))
        if t is not None and t.dtype.kind == "f" and t.dtype != y_pred.dtype:
            t = M.cast(t, y_pred.dtype)
        per = as_tensor(loss.call(t, y_pred))
        return _reduce(per, sample_weight, loss.reduction)
    return _builtin_primitive(loss, y_true, sample_weight)(y_pred)


def custom_grad(loss, y_pred, y_true, sample_weight, scale, grad_out):
    """Per-sample values and ``scale * d(sum_i w_i loss_i)/d y_pred`` of a tensor-op loss, through the tape
    (``fit``'s chain step with a custom loss)."""
    from .tensor import GradientTape

    p = Tensor(np.ascontiguousarray(y_pred))
    t = Tensor(np.asarray(y_true)) if not isinstance(y_true, Tensor) else y_true
    if t.dtype.kind == "f" and t.dtype != p.dtype:
        t = M.cast(t, p.dtype)
    with GradientTape() as tape:
        tape.watch(p)
        per = as_tensor(loss.call(t, p))
        if per.ndim > 1:
            per = R.reduce_mean(A.reshape(per, (per.shape[0], -1)), axis=-1)
        total = _reduce(per, sample_weight, "sum")
    g = tape.gradient(total, p, unconnected_gradients="zero").numpy() * np.asarray(scale, p.dtype)
    if grad_out is not None:
        np.copyto(grad_out, g)
        g = grad_out
    return np.asarray(per.numpy(), dtype=p.dtype), g
