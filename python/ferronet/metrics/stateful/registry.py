"""``get``: the strings, classes and configs ``model.compile(metrics=[...])`` accepts, as metric objects.
"""

from __future__ import annotations

import numpy as np

from ..base import Mean, MeanMetricWrapper, Metric, Sum, _snake_case
from .accuracy import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
)
from .auc import AUC
from .confusion import FalseNegatives, FalsePositives, Precision, Recall, TrueNegatives, TruePositives
from .fbeta import F1Score, FBetaScore
from .regression import MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError

__all__ = ["get", "serialize"]

_CLASSES = {
    cls.__name__: cls
    for cls in (
        Mean,
        Sum,
        Accuracy,
        BinaryAccuracy,
        CategoricalAccuracy,
        SparseCategoricalAccuracy,
        TopKCategoricalAccuracy,
        SparseTopKCategoricalAccuracy,
        TruePositives,
        FalsePositives,
        TrueNegatives,
        FalseNegatives,
        Precision,
        Recall,
        FBetaScore,
        F1Score,
        AUC,
        MeanSquaredError,
        MeanAbsoluteError,
        RootMeanSquaredError,
    )
}

# String identifier -> (class, extra constructor arguments). The metric is named
# after the identifier, so metrics=["mse"] logs "mse" and "val_mse" as in Keras.
_ALIASES = {
    "mse": (MeanSquaredError, {}),
    "mean_squared_error": (MeanSquaredError, {}),
    "mae": (MeanAbsoluteError, {}),
    "mean_absolute_error": (MeanAbsoluteError, {}),
    "rmse": (RootMeanSquaredError, {}),
    "root_mean_squared_error": (RootMeanSquaredError, {}),
    "precision": (Precision, {}),
    "recall": (Recall, {}),
    "auc": (AUC, {}),
    # A scalar suits logs and progress bars; F1Score() itself keeps Keras' average=None.
    "f1_score": (F1Score, {"average": "macro"}),
    "f1": (F1Score, {"average": "macro"}),
    "binary_accuracy": (BinaryAccuracy, {}),
    "categorical_accuracy": (CategoricalAccuracy, {}),
    "sparse_categorical_accuracy": (SparseCategoricalAccuracy, {}),
    "top_k_categorical_accuracy": (TopKCategoricalAccuracy, {}),
    "sparse_top_k_categorical_accuracy": (SparseTopKCategoricalAccuracy, {}),
}

# Losses usable as metrics (mean loss over the epoch), looked up in ferronet.losses.
_LOSS_METRICS = (
    "binary_crossentropy",
    "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "hinge",
    "squared_hinge",
    "categorical_hinge",
    "multiclass_hinge",
    "huber",
    "log_cosh",
    "kl_divergence",
    "poisson",
    "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
)

_BINARY_LOSSES = {"binary_crossentropy", "bce", "binary_focal_crossentropy", "hinge", "squared_hinge"}
_SCORE_LOSSES = {"hinge", "squared_hinge"}  # their outputs are scores that decide at 0
_SPARSE_LOSSES = {"sparse_categorical_crossentropy", "scce"}
_CATEGORICAL_LOSSES = {"categorical_crossentropy", "cce", "categorical_focal_crossentropy"}


def _loss_info(loss):
    """Returns ``(snake_case loss name or None, from_logits)``."""
    if loss is None:
        return None, False
    if isinstance(loss, str):
        return loss.lower(), False
    name = getattr(loss, "__name__", None) or type(loss).__name__
    from_logits = getattr(loss, "from_logits", None)
    if from_logits is None and hasattr(loss, "get_config"):
        try:
            from_logits = loss.get_config().get("from_logits")
        except Exception:  # a loss whose config cannot be read simply has no from_logits
            from_logits = None
    return _snake_case(name), bool(from_logits)


def _accuracy_for(identifier: str, loss, y_true, y_pred) -> Metric:
    """Keras' resolution of "accuracy": binary, sparse or categorical.

    The loss decides when it can (binary_crossentropy -> binary, also for
    multi-label outputs; sparse_categorical_crossentropy -> sparse); otherwise
    the shapes do, as in Keras: one output per sample -> binary, labels with one
    axis fewer (or a last axis of 1 against several outputs) -> sparse, else
    categorical.
    """
    loss_name, from_logits = _loss_info(loss)
    kind = None
    if loss_name in _BINARY_LOSSES:
        kind = "binary"
    elif loss_name in _SPARSE_LOSSES:
        kind = "sparse"
    elif y_pred is not None:
        p_shape = np.shape(y_pred)
        t_shape = np.shape(y_true) if y_true is not None else None
        if len(p_shape) <= 1 or p_shape[-1] == 1:
            kind = "binary"
        elif t_shape is not None:
            sparse = len(t_shape) < len(p_shape) or (len(t_shape) == len(p_shape) and t_shape[-1] == 1)
            kind = "sparse" if sparse else "categorical"
    if kind is None and loss_name in _CATEGORICAL_LOSSES:
        kind = "categorical"
    if kind is None:
        raise ValueError(
            f"Cannot tell which accuracy {identifier!r} means: pass the loss or y_true and y_pred "
            "(or use BinaryAccuracy, CategoricalAccuracy or SparseCategoricalAccuracy). "
            f"Received: loss={loss!r}, y_true shape={None if y_true is None else np.shape(y_true)}, "
            f"y_pred shape={None if y_pred is None else np.shape(y_pred)}"
        )
    if kind == "binary":
        # Logits and hinge scores decide at 0, probabilities at 0.5.
        scores = from_logits or loss_name in _SCORE_LOSSES
        return BinaryAccuracy(name=identifier, threshold=0.0 if scores else 0.5)
    if kind == "sparse":
        return SparseCategoricalAccuracy(name=identifier)
    return CategoricalAccuracy(name=identifier)


def get(identifier, loss=None, y_true=None, y_pred=None) -> Metric:
    """Returns a metric object for anything ``model.compile(metrics=[...])`` accepts.

    Args:
        identifier: A :class:`Metric` (returned as is), a metric class
            (instantiated), a string, a config dict from :func:`serialize`, or a
            function ``fn(y_true, y_pred)`` returning per-sample values (wrapped
            in :class:`MeanMetricWrapper`). Strings: ``"accuracy"``/``"acc"``
            (binary, categorical or sparse, decided from ``loss`` and the shapes
            as Keras does), ``"mse"``, ``"mae"``, ``"rmse"``, ``"precision"``,
            ``"recall"``, ``"auc"``, ``"f1_score"`` (macro average), the Keras
            snake-case names (``"binary_accuracy"``, ...), class names
            (``"AUC"``), and loss names (``"binary_crossentropy"``, ...). A
            metric made from a string is named after it, so it appears in the
            logs under that key.
        loss: The compiled loss (string, function or loss object), used to
            resolve ``"accuracy"``.
        y_true: A batch of targets (array-like), used to resolve ``"accuracy"``.
        y_pred: A batch of predictions (array-like), used to resolve ``"accuracy"``.

    Returns:
        A fresh :class:`Metric` (or ``identifier`` itself if it already is one).

    Raises:
        ValueError: Unknown identifier, or ``"accuracy"`` without enough
            information to resolve it.

    Example:

    >>> ferronet.metrics.get("accuracy", loss="sparse_categorical_crossentropy")
    <SparseCategoricalAccuracy name=accuracy>
    """
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name")
        if class_name not in _CLASSES:
            raise ValueError(f"Unknown metric class in config. Received: class_name={class_name!r}")
        return _CLASSES[class_name].from_config(dict(identifier.get("config", {})))
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            return _accuracy_for(identifier, loss, y_true, y_pred)
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        if key in _ALIASES:
            cls, kwargs = _ALIASES[key]
            return cls(name=identifier, **kwargs)
        if key in _LOSS_METRICS:
            fn = _loss_function(key)
            if fn is not None:
                return MeanMetricWrapper(fn, name=identifier)
        known = sorted(set(_ALIASES) | {"accuracy", "acc"} | set(_CLASSES) | set(_LOSS_METRICS))
        raise ValueError(f"Unknown metric. Known names: {', '.join(known)}. Received: identifier={identifier!r}")
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise ValueError(
        "A metric must be a Metric, a Metric class, a string, a config dict or a function. "
        f"Received: identifier={identifier!r}"
    )


def _loss_function(name: str):
    """The per-sample loss function ``ferronet.losses.<name>``, if it exists."""
    try:
        from ... import losses  # imported lazily: the model API imports the metrics
    except ImportError:
        return None
    fn = getattr(losses, name, None)
    return fn if callable(fn) and not isinstance(fn, type) else None


def serialize(metric: Metric) -> dict:
    """Returns ``{"class_name": ..., "config": ...}``; :func:`get` rebuilds the metric from it.

    Args:
        metric: A metric built from this module's classes.

    Returns:
        A JSON-compatible dict.

    Example:
        >>> config = ferronet.metrics.serialize(ferronet.metrics.TopKCategoricalAccuracy(k=3))
        >>> config["class_name"], config["config"]["k"]
        ('TopKCategoricalAccuracy', 3)
        >>> ferronet.metrics.get(config).k
        3
    """
    name = type(metric).__name__
    if _CLASSES.get(name) is not type(metric):
        raise ValueError(
            "Only ferronet's built-in metric classes can be serialized; "
            f"a wrapped function or custom class cannot. Received: {metric!r}"
        )
    return {"class_name": name, "config": metric.get_config()}
