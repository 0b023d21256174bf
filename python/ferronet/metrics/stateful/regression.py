"""Regression metrics: mean squared, mean absolute and root mean squared error.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..base import MeanMetricWrapper
from ._checks import _matched

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError"]


def _squared_error(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _matched(y_true, y_pred, "mean_squared_error")
    d = y_pred.astype(np.float64) - y_true
    return np.mean(d * d, axis=-1) if d.ndim > 1 else d * d


def _absolute_error(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _matched(y_true, y_pred, "mean_absolute_error")
    d = np.abs(y_pred.astype(np.float64) - y_true)
    return np.mean(d, axis=-1) if d.ndim > 1 else d


def _add_errors(metric: MeanMetricWrapper, y_true, y_pred, sample_weight, squared: bool) -> None:
    """Unweighted fast path: the batch's summed per-sample means, from one reduction."""
    if sample_weight is not None:
        MeanMetricWrapper.update_state(metric, y_true, y_pred, sample_weight)
        return
    y_true, y_pred = _matched(y_true, y_pred, type(metric).__name__)
    if y_pred.size == 0:
        return
    d = np.subtract(y_pred, y_true, dtype=np.float64)
    total = np.vdot(d, d) if squared else np.abs(d).sum()
    n = d.shape[0] if d.ndim else 1
    # Every sample has d.size / n elements: the sum of per-sample means is total * n / size.
    metric.total += float(total) * n / d.size
    metric.count += n


class MeanSquaredError(MeanMetricWrapper):
    """Mean over samples of each sample's mean squared error (over the last axis).

    Args:
        name: Name of the metric. Defaults to ``"mean_squared_error"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.MeanSquaredError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.25
    """

    _direction = "down"

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None):
        super().__init__(_squared_error, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        _add_errors(self, y_true, y_pred, sample_weight, squared=True)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean over samples of each sample's mean absolute error (over the last axis).

    Args:
        name: Name of the metric. Defaults to ``"mean_absolute_error"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.MeanAbsoluteError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.25
    """

    _direction = "down"

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None):
        super().__init__(_absolute_error, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        _add_errors(self, y_true, y_pred, sample_weight, squared=False)


class RootMeanSquaredError(MeanMetricWrapper):
    """Square root of :class:`MeanSquaredError` over everything seen.

    Args:
        name: Name of the metric. Defaults to ``"root_mean_squared_error"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.RootMeanSquaredError()
        >>> float(m([[0, 1], [0, 0]], [[1, 1], [0, 0]]))
        0.5
    """

    _direction = "down"

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(_squared_error, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        _add_errors(self, y_true, y_pred, sample_weight, squared=True)

    def result(self) -> float:
        return math.sqrt(super().result())
