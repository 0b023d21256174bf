"""Training and evaluation steps through the ``GradientTape``: subclassed and functional models, custom steps.

``Sequential`` models run the fused chain step of :mod:`.training`; any
other model (and any model whose class overrides ``train_step``/``test_step``)
runs these: the forward pass under a tape, the compiled loss plus the layers'
``add_loss`` terms and weight regularization as one differentiable scalar, the
gradients, one optimizer update, then the compiled metrics, as Keras' own
``train_step`` does.
"""

from __future__ import annotations

import numpy as np

from ..tensor import GradientTape, Tensor
from ..tensor import math_ops as M
from ..tensor import reduce_ops as R
from ..tensor.core import unwrap
from ..layers.masking import apply_output_mask


class LossTracker:
    """The ``"loss"`` entry of ``model.metrics``: a mean over the batches of an epoch."""

    name = "loss"

    def __init__(self, model):
        self._model = model

    def update_state(self, values, sample_weight=None):
        v = np.asarray(unwrap(values), dtype=np.float64)
        self._model._loss_sum += float(v.sum())
        self._model._loss_count += int(v.size)

    def result(self):
        m = self._model
        return m._loss_sum / m._loss_count if m._loss_count else 0.0

    def reset_state(self):
        self._model._loss_sum = 0.0
        self._model._loss_count = 0


class CompiledLoss:
    """Keras 2's ``model.compiled_loss``: callable as ``(y, y_pred, sample_weight, regularization_losses)``."""

    def __init__(self, model):
        self._model = model

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        loss = compute_loss(self._model, y_true, y_pred, sample_weight, add_layer_losses=False)
        for extra in regularization_losses or []:
            loss = M.add(loss, extra)
        return loss


class CompiledMetrics:
    """Keras 2's ``model.compiled_metrics``: ``update_state(y, y_pred, sample_weight)``."""

    def __init__(self, model):
        self._model = model

    def update_state(self, y_true, y_pred, sample_weight=None):
        m = self._model
        yt, yp = np.asarray(unwrap(y_true)), np.asarray(unwrap(y_pred))
        if m._compile_metrics is None:
            m._ensure_metrics(yt, yp)
        m._update_metrics(yt, yp, None if sample_weight is None else np.asarray(unwrap(sample_weight)))

    def result(self):
        return {k: v for k, v in self._model._logs().items() if k != "loss"}

    def reset_state(self):
        for m in self._model._compile_metrics or []:
            m.reset_state()


def regularization_loss(model):
    """Sum of the weight regularizers' penalties, as a differentiable tensor (None when there are none)."""
    total = None
    for v in model.trainable_weights:
        reg = getattr(v, "regularizer", None)
        if reg is None:
            continue
        term = None
        l1, l2 = float(getattr(reg, "l1", 0.0) or 0.0), float(getattr(reg, "l2", 0.0) or 0.0)
        if l1:
            term = M.multiply(R.reduce_sum(M.abs(v)), l1)
        if l2:
            t2 = M.multiply(R.reduce_sum(M.square(v)), l2)
            term = t2 if term is None else M.add(term, t2)
        if term is not None:
            total = term if total is None else M.add(total, term)
    return total


def compute_loss(model, y_true, y_pred, sample_weight=None, add_layer_losses=True):
    """The compiled loss of ``(y_true, y_pred)`` (a scalar tensor) plus ``model.losses`` and regularization."""
    loss = None
    if model.loss is not None and y_true is not None:
        loss = model.loss(y_true, y_pred, sample_weight=sample_weight)
        if not isinstance(loss, Tensor):
            loss = Tensor(np.asarray(loss, dtype=np.asarray(unwrap(y_pred)).dtype))
        w = float(getattr(model, "_loss_weight", 1.0))
        if w != 1.0:
            loss = M.multiply(loss, w)
    if add_layer_losses:
        for extra in model.losses:
            loss = extra if loss is None else M.add(loss, extra)
        reg = regularization_loss(model)
        if reg is not None:
            loss = reg if loss is None else M.add(loss, M.cast(reg, loss.dtype))
    if loss is None:
        raise ValueError(f"Model '{model.name}' has no loss to minimize: compile it with a loss, or add one with "
                         "add_loss() in call(). Received: loss=None and no layer losses")
    return loss


def _pack(xb, yb, swb):
    if yb is None:
        return xb  # Keras hands a step x alone when there are no targets
    return (xb, yb) if swb is None else (xb, yb, swb)


def _masked(model, y, y_pred, sw):
    """A mask on the output weights the loss and metrics (``layers.masking.apply_output_mask``)."""
    y2, p2, sw2 = apply_output_mask(y, y_pred, sw)
    if p2 is not y_pred:
        model._metric_targets = None  # the metrics see the folded targets
    return y2, p2, sw2


def default_train_step(model, data):
    """Keras' default ``train_step``: forward under a tape, loss, gradients, update, metrics."""
    x, y, sw = (tuple(data) + (None, None))[:3]
    with GradientTape() as tape:
        y_pred = model(x, training=True)
        y, y_pred, sw = _masked(model, y, y_pred, sw)
        loss = compute_loss(model, y, y_pred, sw)
    variables = model.trainable_weights
    grads = tape.gradient(loss, variables)
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if pairs:
        model.optimizer.apply_gradients(pairs)
    return _account(model, loss, y, y_pred, sw)


def default_test_step(model, data):
    """Keras' default ``test_step``: forward in inference mode, loss, metrics."""
    x, y, sw = (tuple(data) + (None, None))[:3]
    y_pred = model(x, training=False)
    y, y_pred, sw = _masked(model, y, y_pred, sw)
    loss = compute_loss(model, y, y_pred, sw)
    return _account(model, loss, y, y_pred, sw)


def _account(model, loss, y, y_pred, sw):
    first = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
    n = len(np.asarray(unwrap(first))) if np.ndim(unwrap(first)) else 1
    model._loss_sum += float(np.asarray(unwrap(loss))) * n
    model._loss_count += n
    for name, value in getattr(model.loss, "last", ()):
        model._out_loss = model._out_loss or {}
        model._out_loss[name] = model._out_loss.get(name, 0.0) + value * n
    if y is not None and model._compile_metrics:
        if isinstance(y_pred, (list, tuple)):
            model._update_metrics([np.asarray(unwrap(v)) for v in y], [np.asarray(unwrap(p)) for p in y_pred], None)
            return None
        ym = getattr(model, "_metric_targets", None)
        model._update_metrics(ym if ym is not None else np.asarray(unwrap(y)), np.asarray(unwrap(y_pred)),
                              None if sw is None else np.asarray(unwrap(sw)))
    return None


def custom(model, name):
    """Whether the model's class overrides ``train_step``/``test_step``/``predict_step``."""
    from .model import Model

    return getattr(type(model), name) is not getattr(Model, name)


def _run(model, step, xb, yb, swb, ymb):
    """Run ``model.train_step``/``test_step`` on one batch; returns the batch loss (NaN check) as a float."""
    model._metric_targets = ymb
    try:
        logs = step(_pack(xb, yb, swb))
    finally:
        model._metric_targets = None
    return _after_step(model, logs)


def run_train_step(model, xb, yb, swb, ymb):
    """``fit``'s step for tape-trained models (or a model's own ``train_step``)."""
    return _run(model, model.train_step, xb, yb, swb, ymb)


def run_test_step(model, xb, yb, swb, ymb):
    """``evaluate``'s step for tape-trained models (or a model's own ``test_step``)."""
    return _run(model, model.test_step, xb, yb, swb, ymb)


def _after_step(model, logs):
    if isinstance(logs, dict):
        model._step_logs = _flatten_logs(logs)
        loss = model._step_logs.get("loss")
        return float(loss) if loss is not None else 0.0
    model._step_logs = None
    return model._loss_sum / max(1, model._loss_count)


def _flatten_logs(logs):
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_flatten_logs(v))
        else:
            a = np.asarray(unwrap(v))
            out[k] = float(a) if a.ndim == 0 else a
    return out


def predict_array(model, x, batch_size, cbs=None):
    """``predict`` for any model: ``predict_step`` batch by batch, outputs concatenated."""
    parts = []
    n = len(x)
    for step, start in enumerate(range(0, n, batch_size)):
        if cbs is not None:
            cbs.on_predict_batch_begin(step)
        xb = x[start:start + batch_size]
        out = model.predict_step(xb.as_list() if hasattr(xb, "as_list") else xb)
        out = [np.array(unwrap(o), copy=True) for o in out] if isinstance(out, (list, tuple)) else np.array(
            unwrap(out), copy=True)
        parts.append(out)
        if cbs is not None:
            cbs.on_predict_batch_end(step, {"outputs": out})
    if parts and isinstance(parts[0], list):
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
    return np.concatenate(parts) if parts else np.empty((0,) + tuple(model._model_output_shape()[1:]))
