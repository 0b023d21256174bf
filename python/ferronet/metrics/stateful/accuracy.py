"""Accuracy metrics: the per-sample functions and their stateful classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ... import _core
from ...errors import FerronetError
from ..base import MeanMetricWrapper, _reduce_to_samplewise
from ._checks import _check_positive_int, _matched, _onehot_pair, _sparse_pair

__all__ = ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"]


def binary_accuracy(y_true, y_pred, threshold: float = 0.5) -> np.ndarray:
    """Element-wise ``(y_pred > threshold) == y_true`` as floats.

    Args:
        y_true: 0/1 targets.
        y_pred: Probabilities (or scores, with a matching ``threshold``).
        threshold: Predictions above it count as 1.

    Returns:
        Float array of the (rank-matched) shape of ``y_pred``.

    Example:
        >>> ferronet.metrics.binary_accuracy([1, 1, 0, 0], [0.98, 0.4, 0.0, 0.6])
        array([1., 0., 1., 0.])
    """
    y_true, y_pred = _matched(y_true, y_pred, "binary_accuracy")
    return ((y_pred > threshold) == (y_true > 0.5)).astype(np.float64)


def categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample ``argmax(y_true) == argmax(y_pred)`` for one-hot targets.

    Args:
        y_true: One-hot targets ``(n, C)``.
        y_pred: Scores ``(n, C)``.

    Returns:
        Float array ``(n,)`` of 0/1.

    Example:
        >>> ferronet.metrics.categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]])
        array([0., 1.])
    """
    y_true, y_pred = _onehot_pair(y_true, y_pred, "categorical_accuracy")
    return (np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true, y_pred) -> np.ndarray:
    """Per-sample ``y_true == argmax(y_pred)`` for integer class ids.

    Args:
        y_true: Class ids ``(n,)`` or ``(n, 1)``.
        y_pred: Scores ``(n, C)``.

    Returns:
        Float array ``(n,)`` of 0/1.

    Example:
        >>> ferronet.metrics.sparse_categorical_accuracy([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]])
        array([0., 1.])
    """
    ids, y_pred = _sparse_pair(y_true, y_pred, "sparse_categorical_accuracy")
    return (ids == np.argmax(y_pred, axis=-1)).astype(np.float64)


def _in_top_k(ids: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    # Ties count in the target's favour: fewer than k classes score strictly higher.
    target = np.take_along_axis(y_pred, ids[..., None], axis=-1)
    return np.count_nonzero(y_pred > target, axis=-1) < k


def sparse_top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Per-sample: is the true class among the ``k`` highest scores?

    Ties count in the target's favour: it is in the top ``k`` when fewer than
    ``k`` classes score strictly higher.

    Args:
        y_true: Class ids ``(n,)`` or ``(n, 1)``.
        y_pred: Scores ``(n, C)``.
        k: Number of top classes.

    Returns:
        Float array ``(n,)`` of 0/1.

    Example:
        >>> ferronet.metrics.sparse_top_k_categorical_accuracy([2, 0], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]], k=2)
        array([1., 1.])
    """
    ids, y_pred = _sparse_pair(y_true, y_pred, "sparse_top_k_categorical_accuracy")
    return _in_top_k(ids, y_pred, k).astype(np.float64)


def top_k_categorical_accuracy(y_true, y_pred, k: int = 5) -> np.ndarray:
    """Per-sample top-``k`` accuracy for one-hot targets (see the sparse variant).

    Args:
        y_true: One-hot targets ``(n, C)``.
        y_pred: Scores ``(n, C)``.
        k: Number of top classes.

    Returns:
        Float array ``(n,)`` of 0/1.

    Example:
        >>> ferronet.metrics.top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]], k=2)
        array([1., 1.])
    """
    y_true, y_pred = _onehot_pair(y_true, y_pred, "top_k_categorical_accuracy")
    return sparse_top_k_categorical_accuracy(np.argmax(y_true, axis=-1), y_pred, k=k)


def _accumulate(metric: MeanMetricWrapper, matches: np.ndarray, sample_weight) -> None:
    """Adds 0/1 matches to a mean; a sample's value is the mean over its elements (Keras).

    The unweighted case is a count, which keeps the per-batch cost of the
    metric to a handful of NumPy calls.
    """
    if sample_weight is not None:
        total, count = _reduce_to_samplewise(matches.astype(np.float64), sample_weight)
        metric.total += total
        metric.count += count
    elif matches.ndim == 0:
        metric.total += float(matches)
        metric.count += 1.0
    elif matches.size:
        n = matches.shape[0]
        hits = np.count_nonzero(matches)
        metric.total += hits if matches.ndim == 1 else hits * n / matches.size
        metric.count += n


def _argmax_hits(y_true, y_pred):
    """Rows whose top score is at the labelled class, counted in one kernel call.

    Only for the common training case: unweighted, 2-D float scores and int64
    class ids (or targets of the scores' dtype and shape), all C-contiguous.
    Returns None otherwise, or when the kernel rejects the labels, so the
    caller's checks can report the problem in the metric's own words.
    """
    if not (type(y_pred) is np.ndarray and type(y_true) is np.ndarray and y_pred.ndim == 2
            and y_pred.dtype in (np.float32, np.float64) and y_pred.flags.c_contiguous
            and y_true.flags.c_contiguous and len(y_true) == len(y_pred)):
        return None
    if y_true.dtype != np.int64 and y_true.dtype != y_pred.dtype:
        return None
    try:
        return _core.argmax_hits(y_pred, y_true)
    except FerronetError:
        return None


def _count_hits(metric: MeanMetricWrapper, hits: int, n: int) -> None:
    metric.total += hits
    metric.count += n


def _equal(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _matched(y_true, y_pred, "Accuracy")
    return (y_true == y_pred).astype(np.float64)


class Accuracy(MeanMetricWrapper):
    """How often predictions exactly equal the labels (element-wise ``==``).

    For class probabilities use :class:`BinaryAccuracy`,
    :class:`CategoricalAccuracy` or :class:`SparseCategoricalAccuracy`;
    ``metrics=["accuracy"]`` picks the right one.

    Args:
        name: Name of the metric. Defaults to ``"accuracy"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.Accuracy()
        >>> float(m([[1], [2], [3], [4]], [[0], [2], [3], [4]]))
        0.75
    """

    _direction = "up"

    def __init__(self, name: str = "accuracy", dtype: Any = None):
        super().__init__(_equal, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _matched(y_true, y_pred, "Accuracy")
        _accumulate(self, y_true == y_pred, sample_weight)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 labels.

    Args:
        name: Name of the metric. Defaults to ``"binary_accuracy"``.
        dtype: dtype of the result.
        threshold: Predictions above it count as 1 (use 0.0 for logits).

    Example:

    >>> m = ferronet.metrics.BinaryAccuracy()
    >>> float(m([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]))
    0.75
    """

    _direction = "up"

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)):
            raise TypeError(f"BinaryAccuracy threshold must be a number. Received: threshold={threshold!r}")
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = float(threshold)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _matched(y_true, y_pred, "BinaryAccuracy")
        _accumulate(self, (y_pred > self.threshold) == (y_true > 0.5), sample_weight)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the highest-scoring class is the one-hot target's class.

    Args:
        name: Name of the metric. Defaults to ``"categorical_accuracy"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.CategoricalAccuracy()
        >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
        0.5
    """

    _direction = "up"

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is None:
            hits = _argmax_hits(y_true, y_pred)
            if hits is not None and y_true.shape == y_pred.shape:
                return _count_hits(self, hits, len(y_pred))
        y_true, y_pred = _onehot_pair(y_true, y_pred, "CategoricalAccuracy")
        _accumulate(self, np.argmax(y_true, axis=-1) == np.argmax(y_pred, axis=-1), sample_weight)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the highest-scoring class equals the integer label.

    Args:
        name: Name of the metric. Defaults to ``"sparse_categorical_accuracy"``.
        dtype: dtype of the result.

    Example:

    >>> m = ferronet.metrics.SparseCategoricalAccuracy()
    >>> float(m([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
    0.5
    """

    _direction = "up"

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        if sample_weight is None:
            hits = _argmax_hits(y_true, y_pred)
            if hits is not None and y_true.ndim == 1:
                return _count_hits(self, hits, len(y_pred))
        ids, y_pred = _sparse_pair(y_true, y_pred, "SparseCategoricalAccuracy")
        _accumulate(self, ids == np.argmax(y_pred, axis=-1), sample_weight)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target's class is among the ``k`` highest scores.

    Args:
        k: Number of top classes. Defaults to 5.
        name: Name of the metric. Defaults to ``"top_k_categorical_accuracy"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.TopKCategoricalAccuracy(k=1)
        >>> float(m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
        0.5
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None):
        _check_positive_int(k, "k", type(self).__name__)
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        y_true, y_pred = _onehot_pair(y_true, y_pred, "TopKCategoricalAccuracy")
        _accumulate(self, _in_top_k(np.argmax(y_true, axis=-1), y_pred, self.k), sample_weight)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores.

    Args:
        k: Number of top classes. Defaults to 5.
        name: Name of the metric. Defaults to ``"sparse_top_k_categorical_accuracy"``.
        dtype: dtype of the result.

    Example:
        >>> m = ferronet.metrics.SparseTopKCategoricalAccuracy(k=2)
        >>> float(m([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0.0]]))
        1.0
    """

    _direction = "up"

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy", dtype: Any = None):
        _check_positive_int(k, "k", type(self).__name__)
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        ids, y_pred = _sparse_pair(y_true, y_pred, "SparseTopKCategoricalAccuracy")
        _accumulate(self, _in_top_k(ids, y_pred, self.k), sample_weight)
