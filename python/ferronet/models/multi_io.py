"""Models with several inputs or outputs in ``compile``/``fit``/``evaluate``/``predict`` (Keras' conventions).

Inputs and targets are given as lists (in the order of ``model.inputs`` /
``model.outputs``) or dicts keyed by the input names and the output layers'
names. ``compile`` takes one loss for all outputs, a list or a dict, with
``loss_weights`` likewise, and metrics as a list (applied to every output),
a list of lists or a dict. The logs hold the weighted total ``"loss"``, each
output's ``"<output>_loss"`` and its metrics as ``"<output>_<metric>"``.
"""

from __future__ import annotations

import numpy as np

from ..tensor import math_ops as M
from ..tensor.core import Tensor, unwrap
from . import data as data_module

__all__ = ["Columns", "MultiFeeder", "MultiLoss", "arrange", "output_names"]


def output_names(model) -> list:
    return [t._keras_history[0].name for t in model.outputs]


class Columns:
    """Several arrays sharing their first (sample) axis, sliced together."""

    def __init__(self, arrays, names):
        self.arrays = list(arrays)
        self.names = list(names)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return Columns([a[index] for a in self.arrays], self.names)

    def as_list(self):
        return list(self.arrays)


def arrange(names, data, what) -> Columns:
    """``data`` (a list in order, or a dict by name, or one array for one name) as Columns in ``names``' order.

    Raises:
        ValueError: for missing or extra entries, or unequal numbers of samples.
    """
    if isinstance(data, Columns):
        return data
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        extra = sorted(set(data) - set(names))
        if missing or extra:
            raise ValueError(f"The model's {what} are {names}. Received: keys {sorted(data)}"
                             + (f" (missing {missing})" if missing else "") + (f" (unknown {extra})" if extra else ""))
        arrays = [data[n] for n in names]
    elif isinstance(data, (list, tuple)) and len(data) == len(names) and not np.isscalar(data[0]):
        arrays = list(data)
    elif len(names) == 1:
        arrays = [data]
    else:
        raise ValueError(f"The model has {len(names)} {what} {names}: pass a list in that order or a dict by name. "
                         f"Received: {type(data).__name__}")
    arrays = [data_module.as_array(unwrap(a), f"{what} '{n}'") for a, n in zip(arrays, names)]
    data_module.check_lengths(**{f"{what} '{n}'": a for n, a in zip(names, arrays)})
    return Columns(arrays, names)


class MultiFeeder:
    """One :class:`~ferronet.models.data.Feeder` per column; ``batch`` returns the list of their batches."""

    def __init__(self, columns, dtypes):
        self.feeders = [data_module.Feeder(np.ascontiguousarray(a) if not a.flags.c_contiguous else a, dt)
                        for a, dt in zip(columns.arrays, dtypes)]

    def batch(self, start, stop, idx=None):
        return [f.batch(start, stop, idx) for f in self.feeders]


class MultiLoss:
    """The weighted sum of one loss per output; remembers each output's value for the logs."""

    name = "loss"
    reduction = "sum_over_batch_size"
    from_logits = False
    _fuse = None
    _labels = "dense"

    def __init__(self, names, losses, weights):
        self.names = list(names)
        self.losses = list(losses)
        self.weights = [1.0 if w is None else float(w) for w in weights]
        self.last = []

    @classmethod
    def build(cls, model, loss, loss_weights):
        from .. import losses as losses_module

        names = output_names(model)
        per = _per_output(names, loss, "loss")
        weights = _per_output(names, loss_weights, "loss_weights") if loss_weights is not None else [1.0] * len(names)
        return cls(names, [None if spec is None else losses_module.get(spec) for spec in per], weights)

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = None
        self.last = []
        for name, loss, w, yt, yp in zip(self.names, self.losses, self.weights, y_true, y_pred):
            if loss is None:
                continue
            value = loss(yt, yp, sample_weight=sample_weight)
            self.last.append((name, float(np.asarray(unwrap(value)))))
            term = value if w == 1.0 else M.multiply(value, w)
            total = term if total is None else M.add(total, term)
        return total if isinstance(total, Tensor) or total is None else Tensor(np.asarray(total))

    def get_config(self):
        from .. import losses as losses_module

        return {"names": self.names, "losses": [None if l is None else losses_module.serialize(l)
                                                for l in self.losses], "weights": self.weights}


def _per_output(names, spec, what):
    if isinstance(spec, dict):
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"{what} names outputs {unknown} the model does not have; its outputs are {names}. "
                             f"Received: {what}={spec!r}")
        return [spec.get(n) for n in names]
    if isinstance(spec, (list, tuple)):
        if len(spec) != len(names):
            raise ValueError(f"{what} needs one entry per output ({len(names)}: {names}). Received: {len(spec)}")
        return list(spec)
    return [spec] * len(names)


def metric_specs(names, metrics):
    """``[(output index, spec)]`` from a flat list (every output), a list of lists or a dict."""
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        per = _per_output(names, metrics, "metrics")
    elif isinstance(metrics, (list, tuple)) and metrics and all(isinstance(m, (list, tuple)) for m in metrics):
        per = _per_output(names, list(metrics), "metrics")
    else:
        per = [metrics] * len(names)
    out = []
    for i, specs in enumerate(per):
        if specs is None:
            continue
        for s in (specs if isinstance(specs, (list, tuple)) else [specs]):
            out.append((i, s))
    return out


def prepare(model, x, y, sample_weight, class_weight, what=""):
    """``fit``/``evaluate``'s feeds for a model with several inputs or outputs: ``(n, (fx, fy, fsw, None))``."""
    xs = arrange([t.name for t in model.inputs], x, what + "inputs")
    for t, a, name in zip(model.inputs, xs.arrays, xs.names):
        want = t.shape
        if a.ndim != len(want) or any(w is not None and s != w for s, w in zip(a.shape[1:], want[1:])):
            raise data_module.shape_mismatch(model.name, want, a.shape)
        data_module.check_finite(a, f"{what}input '{name}'")
    n = len(xs)
    fx = MultiFeeder(xs, [np.dtype(t.dtype) if np.dtype(t.dtype).kind != "f" else model._model_dtype()
                          for t in model.inputs])
    if y is None:
        return n, (fx, None, None, None)
    names = output_names(model)
    ys = arrange(names, y, what + "outputs")
    if len(ys) != n:
        raise ValueError(f"{what}inputs have {n} samples but {what}targets {len(ys)}. Received: unequal lengths")
    loss = model.loss
    losses = loss.losses if isinstance(loss, MultiLoss) else [loss] * len(names)
    targets, dtypes = [], []
    for i, (a, out) in enumerate(zip(ys.arrays, model.outputs)):
        data_module.check_finite(a, f"{what}target '{names[i]}'")
        if losses[i] is None:
            targets.append(a)
            dtypes.append(a.dtype)
            continue
        t, kind = data_module.prepare_targets(losses[i], a, out.shape, model._model_dtype(), f"{what}target "
                                                                                              f"'{names[i]}'")
        targets.append(t)
        dtypes.append(data_module._SPARSE_DTYPE if kind == "ids" else model._model_dtype())
    if len(names) == 1:  # several inputs, one output: its targets alone, as a one-output model's step sees them
        fy = data_module.Feeder(np.ascontiguousarray(targets[0]), dtypes[0])
    else:
        fy = MultiFeeder(Columns(targets, names), dtypes)
    sw = None
    if sample_weight is not None:
        sw = data_module.as_array(sample_weight, what + "sample_weight").astype(model._model_dtype()).reshape(n)
    if class_weight is not None:
        raise ValueError("class_weight applies to one output; with several, give sample_weight. "
                         f"Received: class_weight for a model with outputs {names}")
    return n, (fx, fy, None if sw is None else data_module.Feeder(sw, model._model_dtype()), None)
