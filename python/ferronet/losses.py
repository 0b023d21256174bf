"""Losses with Keras' names: functions returning per-sample losses, and ``Loss`` classes.

Each loss is a function (``mean_squared_error(y_true, y_pred)`` -> ``(batch,)``)
paired with a class (``MeanSquaredError``) that reduces it (default: sum of
the weighted per-sample losses over the batch size, as Keras) and that
``compile`` accepts, as does the name (``loss="mse"``). Losses and their
gradients are computed by the Rust core in one pass.

When a model ends in ``softmax`` (``sigmoid``) and the loss is a categorical
(binary) cross-entropy with ``from_logits=False``, training runs the fused
kernel on the logits: exact, numerically stable, and one pass.

Example:
    >>> import numpy as np
    >>> from ferronet import losses
    >>> loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    >>> round(float(loss(np.array([0, 1]), np.array([[2.0, 2.0], [0.0, 9.0]]))), 6)  # (log 2 + ~0) / 2
    0.346635
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from . import _core as _binding
from . import ops
from .errors import ShapeError

__all__ = [
    "Loss", "LossFunctionWrapper", "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
    "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Hinge", "CategoricalHinge", "Huber",
    "MulticlassHinge", "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "hinge", "categorical_hinge", "huber",
    "multiclass_hinge", "mse", "mae", "MSE", "MAE", "get", "serialize", "deserialize",
]

_REDUCTIONS = ("sum_over_batch_size", "sum", "none", None)
_SPARSE_DTYPE = np.int64


def _floats_like(y_true, y_pred):
    """``y_true`` as an array of ``y_pred``'s dtype, reshaped ``(n,) -> (n, 1)`` to match it."""
    t = np.asarray(y_true)
    if t.dtype != y_pred.dtype:
        t = t.astype(y_pred.dtype)
    if t.shape != y_pred.shape and t.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        t = t.reshape(y_pred.shape)
    if t.shape != y_pred.shape:
        raise ShapeError(f"y_true and y_pred must have the same shape. Received: y_true.shape={np.shape(y_true)}, "
                         f"y_pred.shape={y_pred.shape}")
    return t


def _class_ids(y_true, n):
    """Sparse labels as ``int64`` of shape ``(n,)`` (accepts ``(n, 1)`` and integral floats)."""
    t = np.asarray(y_true)
    if t.ndim == 2 and t.shape[1] == 1:
        t = t.reshape(-1)
    if t.ndim != 1 or t.shape[0] != n:
        raise ShapeError(f"Sparse labels must have shape ({n},) (one class id per sample). "
                         f"Received: y_true.shape={np.shape(y_true)}")
    return t if t.dtype == _SPARSE_DTYPE else t.astype(_SPARSE_DTYPE)


def _core(name):
    """The core kernel ``ferronet.ops.<name>``, or a clear error when this build lacks it."""
    fn = getattr(ops, name, None)
    if fn is None:
        raise NotImplementedError(
            f"This loss needs the core kernel ferronet.ops.{name}, which this build of ferronet does not provide "
            f"yet. Received: a loss computed with ops.{name}"
        )
    return fn


def _pred(y_pred):
    p = np.asarray(y_pred)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float32)
    return p


class Loss:
    """Base class. Subclasses set the core op and the kind of labels they take.

    Args:
        name: name used in logs.
        reduction: ``"sum_over_batch_size"`` (default, Keras), ``"sum"`` or ``"none"``.

    The ferronet extension ``gradient(y_true, y_pred, sample_weight, scale, out)``
    returns the per-sample losses and ``scale * d(sum_i w_i loss_i)/d y_pred``,
    which ``fit`` feeds to the backward pass.

    Example:
        >>> class SquaredError(ferronet.losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         return (y_pred - y_true) ** 2
        >>> float(SquaredError()(np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]])))
        2.5
    """

    # "dense": same shape as y_pred; "sparse": class ids; "onehot": (n, c) of the
    # output width; "ids_or_onehot": either; "binary": probabilities in [0, 1].
    _labels = "dense"
    _fuse: Optional[str] = None  # activation whose cross-entropy this loss is, when from_logits=False
    from_logits = False

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(
                f"reduction must be one of 'sum_over_batch_size', 'sum', 'none'. Received: reduction={reduction!r}"
            )
        self.name = name or _default_name(type(self))
        self.reduction = reduction
        self.dtype = dtype

    # -- core computation -------------------------------------------------
    def _grad(self, y_pred, y_true, sample_weight, scale, grad_out):
        if type(self).call is not Loss.call:  # a Keras-style subclass: call() in tensor ops, through the tape
            from .losses_tensor import custom_grad

            return custom_grad(self, y_pred, y_true, sample_weight, scale, grad_out)
        raise NotImplementedError(f"{type(self).__name__} must implement call(y_true, y_pred) in tensor ops "
                                  "(or _grad). Received: a Loss subclass with neither")

    def _fused_grad(self, logits, y_true, sample_weight, scale, grad_out):
        """Loss of ``activation(logits)`` computed on the logits (fused kernels)."""
        raise NotImplementedError(f"{type(self).__name__} has no fused form.")

    def _kernels(self):
        """Names of the core kernels this loss uses (checked by ``compile``)."""
        return ()

    def _check_kernels(self, fused=False):
        """Raise NotImplementedError if a kernel needed by this loss is missing from the build."""
        for name in self._kernels():
            if fused and name != getattr(self, "_logits_op", None):
                continue
            _core(name)

    def _train_grad(self, y_pred, y_true, sample_weight, scale, grad_out, fused):
        """The training loop's entry (arrays prepared by ``fit``): fused form on logits, or the plain one."""
        if fused:
            return self._fused_grad(y_pred, y_true, sample_weight, scale, grad_out)
        return self._grad(y_pred, y_true, sample_weight, scale, grad_out)

    def _prepare(self, y_true, y_pred):
        if self._labels == "sparse":
            return _class_ids(y_true, y_pred.shape[0])
        if self._labels == "ids_or_onehot":
            t = np.asarray(y_true)
            if t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1 and y_pred.shape[-1] != 1):
                return _class_ids(t, y_pred.shape[0])
        return _floats_like(y_true, y_pred)

    # -- Keras API -----------------------------------------------------------
    def call(self, y_true, y_pred):
        """Per-sample losses, shape ``(batch,)`` (a differentiable tensor for tensor inputs or under a tape)."""
        from .tensor.core import Tensor, recording

        if isinstance(y_pred, Tensor) or recording():
            from .losses_tensor import per_sample

            return per_sample(self, y_true, y_pred)
        p = _pred(y_pred)
        return self._grad(p, self._prepare(y_true, p), None, 1.0, None)[0]

    def gradient(self, y_true, y_pred, sample_weight=None, scale=None, out=None):
        """Per-sample losses and the gradient of the reduced loss with respect to ``y_pred``.

        Args:
            y_true: labels.
            y_pred: predictions (probabilities, or logits with ``from_logits=True``).
            sample_weight: optional ``(batch,)`` weights.
            scale: gradient factor; default follows the reduction (``1/batch`` or 1).
            out: optional array for the gradient.

        Returns:
            ``(losses (batch,), grad shaped like y_pred)``.
        """
        p = _pred(y_pred)
        if scale is None:
            scale = 1.0 / p.shape[0] if self.reduction == "sum_over_batch_size" else 1.0
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=p.dtype).reshape(-1)
        return self._grad(p, self._prepare(y_true, p), sw, scale, out)

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss as a scalar :class:`~ferronet.Tensor` (per-sample values with ``reduction="none"``), as
        in Keras; differentiable when ``y_pred`` is a tensor or a ``GradientTape`` is recording. ``float(loss)``
        gives the number."""
        from .tensor.core import Tensor, recording

        if isinstance(y_pred, Tensor) or recording() or type(self).call is not Loss.call:
            from .losses_tensor import tensor_loss

            return tensor_loss(self, y_true, y_pred, sample_weight)
        p = _pred(y_pred)
        losses = self._grad(p, self._prepare(y_true, p), None, 1.0, None)[0]
        if sample_weight is not None:
            losses = losses * np.asarray(sample_weight, dtype=losses.dtype).reshape(-1)
        from .tensor.core import _wrap

        if self.reduction in ("none", None):
            return _wrap(losses)
        total = float(losses.sum(dtype=np.float64))
        total = total / max(1, losses.shape[0]) if self.reduction == "sum_over_batch_size" else total
        return _wrap(np.asarray(total, dtype=losses.dtype))

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _default_name(cls):
    from .layers.base import _snake_case

    return _snake_case(cls.__name__)


class LossFunctionWrapper(Loss):
    """A ``Loss`` around a core op ``op(y_pred, y_true, sample_weight, scale, grad_out, **kwargs)``.

    Example:
        >>> class SquaredError(ferronet.losses.LossFunctionWrapper):
        ...     _op = "mean_squared_error"  # the ferronet.ops kernel
        >>> float(SquaredError()(np.array([[0.0, 1.0]]), np.array([[1.0, 3.0]])))
        2.5
    """

    _op: Optional[str] = None

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None, **kwargs):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self._kwargs = kwargs

    def _kernels(self):
        return (self._op,)

    def _grad(self, y_pred, y_true, sample_weight, scale, grad_out):
        return _core(self._op)(y_pred, y_true, sample_weight=sample_weight, scale=scale, grad_out=grad_out,
                               **self._kwargs)

    def get_config(self):
        return {**super().get_config(), **self._kwargs}


class MeanSquaredError(LossFunctionWrapper):
    """Mean of ``(y_true - y_pred)**2`` over the last axes.

    Example:
        >>> y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
        >>> y_pred = np.array([[1.0, 1.0], [1.0, 0.0]])
        >>> float(MeanSquaredError()(y_true, y_pred))
        0.5
        >>> MeanSquaredError(reduction="none")(y_true, y_pred)
        <Tensor: shape=(2,), dtype=float64, numpy=[0.5, 0.5]>
    """

    _op = "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of ``|y_true - y_pred|`` over the last axes.

    Example:
        >>> y_true = np.array([[0.0, 1.0], [0.0, 0.0]])
        >>> y_pred = np.array([[1.0, 1.0], [1.0, 0.0]])
        >>> float(MeanAbsoluteError()(y_true, y_pred))
        0.5
    """

    _op = "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class Huber(LossFunctionWrapper):
    """``0.5 e**2`` for ``|e| <= delta``, ``delta * (|e| - 0.5 delta)`` beyond (``e = y_pred - y_true``).

    Example:
        >>> y_true = np.zeros((2, 1))
        >>> y_pred = np.array([[0.5], [3.0]])
        >>> float(Huber()(y_true, y_pred))
        1.3125
        >>> float(Huber(delta=2.0)(y_true, y_pred))
        2.0625
    """

    _op = "huber"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        delta = float(delta)
        if not delta > 0:
            raise ValueError(f"delta must be positive. Received: delta={delta!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype, delta=delta)


class Hinge(LossFunctionWrapper):
    """``max(1 - y_true * y_pred, 0)`` with labels in {-1, 1} (labels in {0, 1} are mapped to {-1, 1}).

    Example:
        >>> y_true = np.array([[1.0], [-1.0]])
        >>> y_pred = np.array([[0.5], [-2.0]])
        >>> float(Hinge()(y_true, y_pred))
        0.25
    """

    _op = "hinge"
    _labels = "pm1"

    def __init__(self, reduction="sum_over_batch_size", name="hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _prepare(self, y_true, y_pred):
        return _to_pm1(_floats_like(y_true, y_pred))


def _to_pm1(t):
    """Keras' hinge label rule: {0, 1} labels become {-1, 1}; others are kept."""
    if t.size and np.all((t == 0) | (t == 1)):
        return 2.0 * t - 1.0
    return t


class CategoricalHinge(LossFunctionWrapper):
    """``max(max_j (1 - t_j) p_j - sum_j t_j p_j + 1, 0)`` with one-hot ``y_true``.

    Example:
        >>> y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> round(float(CategoricalHinge()(y_true, y_pred)), 4)
        0.6
    """

    _op = "categorical_hinge"
    _labels = "onehot"

    def __init__(self, reduction="sum_over_batch_size", name="categorical_hinge", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)


class MulticlassHinge(LossFunctionWrapper):
    """Multi-class SVM loss ``sum_{j != y} max(0, s_j - s_y + margin)`` (class ids or one-hot labels).

    Example:
        >>> scores = np.array([[2.0, 1.5, 0.0], [0.0, 3.0, 0.0]])
        >>> float(MulticlassHinge()(np.array([0, 1]), scores))
        0.25
    """

    _op = "multiclass_hinge"
    _labels = "ids_or_onehot"

    def __init__(self, margin=1.0, reduction="sum_over_batch_size", name="multiclass_hinge", dtype=None):
        margin = float(margin)
        if not margin >= 0:
            raise ValueError(f"margin must be >= 0. Received: margin={margin!r}")
        super().__init__(name=name, reduction=reduction, dtype=dtype, margin=margin)


class _CrossEntropy(Loss):
    _logits_op: Optional[str] = None
    _probs_op: Optional[str] = None
    # What a smoothed label moves towards: 1/classes (categorical) or 0.5 (binary); None: no smoothing offered.
    _smooth_to: Optional[str] = None

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size", name=None,
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = bool(from_logits)
        ls = float(label_smoothing)
        if not 0.0 <= ls <= 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1]. Received: label_smoothing={label_smoothing!r}")
        self.label_smoothing = ls

    def _kernels(self):
        return (self._logits_op,) if self.from_logits else (self._logits_op, self._probs_op)

    def _smoothed(self, y_true, y_pred):
        """Keras' label smoothing: ``t (1 - ls) + ls / classes`` (categorical) or ``+ ls / 2`` (binary)."""
        ls = self.label_smoothing
        if not ls:
            return y_true
        target = 0.5 if self._smooth_to == "half" else 1.0 / y_pred.shape[-1]
        return np.ascontiguousarray(y_true * (1.0 - ls) + ls * target, dtype=y_pred.dtype)

    def _grad(self, y_pred, y_true, sample_weight, scale, grad_out):
        return self._plain(y_pred, self._smoothed(y_true, y_pred), sample_weight, scale, grad_out)

    def _fused_grad(self, logits, y_true, sample_weight, scale, grad_out):
        return self._on_logits(logits, self._smoothed(y_true, logits), sample_weight, scale, grad_out)

    def _plain(self, y_pred, y_true, sample_weight, scale, grad_out):
        op = self._logits_op if self.from_logits else self._probs_op
        return _core(op)(y_pred, y_true, sample_weight=sample_weight, scale=scale, grad_out=grad_out)

    def _on_logits(self, logits, y_true, sample_weight, scale, grad_out):
        return _core(self._logits_op)(logits, y_true, sample_weight=sample_weight, scale=scale, grad_out=grad_out)

    def _train_grad(self, y_pred, y_true, sample_weight, scale, grad_out, fused):
        y_true = self._smoothed(y_true, y_pred)
        if not (fused or self.from_logits):
            return self._plain(y_pred, y_true, sample_weight, scale, grad_out)
        # NOTE: fit hands over C-contiguous logits, labels (int64 class ids or floats of the logits' dtype and
        # shape), weights and gradient buffer, so the compiled kernel is called directly: the ops wrapper's
        # checks would cost more than the kernel at batch 32.
        if self._logits_op == "softmax_cross_entropy":
            if y_pred.ndim == 2:
                return _binding.softmax_cross_entropy(y_pred, y_true, sample_weight, scale, grad_out)
        elif y_true.shape == y_pred.shape:
            return _binding.sigmoid_cross_entropy(y_pred, y_true, sample_weight, scale, grad_out)
        return self._on_logits(y_pred, y_true, sample_weight, scale, grad_out)

    def get_config(self):
        config = {**super().get_config(), "from_logits": self.from_logits}
        if self._smooth_to is not None:
            config["label_smoothing"] = self.label_smoothing
        return config


class BinaryCrossentropy(_CrossEntropy):
    """Binary cross-entropy of probabilities (or logits with ``from_logits=True``), mean over the last axes.

    ``label_smoothing`` (Keras): targets become ``t (1 - ls) + ls / 2``.

    Example:
        >>> y_true = np.array([[1.0], [0.0]])
        >>> y_pred = np.array([[0.9], [0.2]])
        >>> round(float(BinaryCrossentropy()(y_true, y_pred)), 4)
        0.1643
        >>> round(float(BinaryCrossentropy(from_logits=True)(y_true, np.array([[2.0], [-1.0]]))), 4)
        0.2201
    """

    _labels, _fuse = "binary", "sigmoid"
    _logits_op, _probs_op = "sigmoid_cross_entropy", "binary_crossentropy"
    _smooth_to = "half"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="binary_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, label_smoothing=label_smoothing, reduction=reduction, name=name,
                         dtype=dtype)


class CategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with one-hot (or probability) labels ``(batch, classes)``.

    ``label_smoothing`` (Keras): targets become ``t (1 - ls) + ls / classes``.

    Example:
        >>> y_true = np.array([[1.0, 0.0], [0.0, 1.0]])
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> round(float(CategoricalCrossentropy()(y_true, y_pred)), 4)
        0.367
    """

    _labels, _fuse = "onehot", "softmax"
    _logits_op, _probs_op = "softmax_cross_entropy", "categorical_crossentropy"
    _smooth_to = "classes"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction="sum_over_batch_size",
                 name="categorical_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, label_smoothing=label_smoothing, reduction=reduction, name=name,
                         dtype=dtype)


class SparseCategoricalCrossentropy(_CrossEntropy):
    """Cross-entropy with integer class ids ``(batch,)`` as labels.

    Example:
        >>> y_pred = np.array([[0.8, 0.2], [0.4, 0.6]])
        >>> round(float(SparseCategoricalCrossentropy()(np.array([0, 1]), y_pred)), 4)
        0.367
    """

    _labels, _fuse = "sparse", "softmax"
    _logits_op, _probs_op = "softmax_cross_entropy", "categorical_crossentropy"

    def __init__(self, from_logits=False, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", dtype=None):
        super().__init__(from_logits=from_logits, reduction=reduction, name=name, dtype=dtype)


# -- functions: per-sample losses (Keras' functional losses) ------------------
from ._loss_functions import (  # noqa: E402  (the functions are the classes' call)
    mean_squared_error,
    mean_absolute_error,
    huber,
    hinge,
    categorical_hinge,
    multiclass_hinge,
    binary_crossentropy,
    categorical_crossentropy,
    sparse_categorical_crossentropy,
    _FunctionLoss,
)

for _f in (mean_squared_error, mean_absolute_error, huber, hinge, categorical_hinge, multiclass_hinge,
           binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy):
    _f.__module__ = __name__  # documented and pickled as ferronet.losses.<name>

mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_CLASSES = {c.__name__: c for c in (
    MeanSquaredError, MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
    SparseCategoricalCrossentropy, Hinge, CategoricalHinge, Huber, MulticlassHinge,
)}
_NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "hinge": Hinge, "categorical_hinge": CategoricalHinge, "huber": Huber, "huber_loss": Huber,
    "multiclass_hinge": MulticlassHinge,
}
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber, hinge: Hinge,
    categorical_hinge: CategoricalHinge, multiclass_hinge: MulticlassHinge, binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy, sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}


def serialize(loss) -> dict:
    """``{"class_name": ..., "config": ...}`` for a Loss, Keras' serialized form.

    Example:
        >>> config = ferronet.losses.serialize(ferronet.losses.Huber(delta=2.0))
        >>> config["class_name"], config["config"]["delta"]
        ('Huber', 2.0)
    """
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None):
    """A new Loss from :func:`serialize`'s output (``custom_objects`` maps names of your own classes).

    Raises:
        ValueError: for an unknown class name.

    Example:
        >>> loss = ferronet.losses.deserialize({"class_name": "Huber", "config": {"delta": 2.0}})
        >>> type(loss).__name__, loss.get_config()["delta"]
        ('Huber', 2.0)
    """
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"Unknown loss class. Received: class_name={name!r}")
    return cls.from_config(config.get("config", {}))


def get(identifier):
    """A ``Loss`` object from a name (``"mse"``), a loss function, a config dict or an instance.

    The name keeps Keras' spelling, so ``get("sparse_categorical_crossentropy").name`` is that string.

    Raises:
        ValueError: for anything else (an arbitrary Python function cannot be
            differentiated: subclass ``Loss`` and implement ``_grad`` instead).

    Example:
        >>> type(get("mse")).__name__
        'MeanSquaredError'
        >>> type(get("sparse_categorical_crossentropy")).__name__
        'SparseCategoricalCrossentropy'
        >>> get(Huber(delta=2.0)).get_config()["delta"]
        2.0
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _NAMES.get(identifier) or _NAMES.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown loss. Known names: {', '.join(sorted(_NAMES))}. Received: loss={identifier!r}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier) and not isinstance(identifier, type):
        return _FunctionLoss(identifier)
    raise ValueError(
        "A loss must be a name, a loss function f(y_true, y_pred) or a Loss object. "
        f"Received: loss={identifier!r}"
    )
