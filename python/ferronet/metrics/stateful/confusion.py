"""Confusion-matrix metrics: true/false positive/negative counts, precision and recall at thresholds.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ...errors import ShapeError
from ..base import Metric
from ._checks import _check_positive_int, _matched, _parse_thresholds, _ratio, _weights

__all__ = ["TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives", "Precision", "Recall"]


def _filter_top_k(y_pred: np.ndarray, k: int) -> np.ndarray:
    """Keeps each row's ``k`` largest scores (lower index first on ties); the rest become -inf."""
    if k >= y_pred.shape[-1]:
        return y_pred
    order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    out = np.full(y_pred.shape, -np.inf)
    np.put_along_axis(out, order, np.take_along_axis(y_pred, order, axis=-1), axis=-1)
    return out


class _ConfusionMatrixMetric(Metric):
    """Accumulates weighted true/false positive/negative counts at fixed thresholds.

    Inputs are treated as independent binary decisions, element by element
    (Keras' multi-label convention): ``y_true`` is 0/1 of the same shape as
    ``y_pred``, and a prediction counts as positive when ``y_pred > threshold``.
    ``top_k`` keeps only the k highest scores of each row as candidates;
    ``class_id`` restricts the counts to one column.
    """

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if top_k is not None:
            _check_positive_int(top_k, "top_k", owner)
        if class_id is not None and (isinstance(class_id, bool) or not isinstance(class_id, (int, np.integer)) or class_id < 0):
            raise ValueError(f"{owner} class_id must be a non-negative integer. Received: class_id={class_id!r}")
        # With top_k and no threshold, being among the top k is the decision (Keras).
        default = 0.5 if top_k is None else -np.inf
        self._init_thresholds = thresholds
        self.thresholds, self._scalar = _parse_thresholds(thresholds, default, owner)
        self.top_k = top_k
        self.class_id = class_id
        self.reset_state()

    def reset_state(self) -> None:
        n = self.thresholds.size
        self.true_positives = np.zeros(n)
        self.false_positives = np.zeros(n)
        self.true_negatives = np.zeros(n)
        self.false_negatives = np.zeros(n)

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Adds one batch's counts at every threshold.

        Args:
            y_true: 0/1 targets, same shape as ``y_pred`` (``(n,)`` meets ``(n, 1)``).
            y_pred: Probabilities or scores.
            sample_weight: Optional per-sample weights ``(n,)`` (or element-wise).
        """
        owner = type(self).__name__
        y_true, y_pred = _matched(y_true, y_pred, owner, " (use one-hot targets, or class_id=...)")
        # No float64 copy: comparisons with the float64 thresholds promote by themselves.
        w = _weights(sample_weight, y_pred.shape, owner)
        if self.top_k is not None:
            if y_pred.ndim == 0:
                raise ShapeError(f"{owner} top_k needs y_pred with a class axis. Received: y_pred.shape={y_pred.shape}")
            y_pred = _filter_top_k(y_pred, self.top_k)
        if self.class_id is not None:
            if y_pred.ndim == 0 or self.class_id >= y_pred.shape[-1]:
                raise ValueError(
                    f"{owner} class_id is out of range for y_pred. "
                    f"Received: class_id={self.class_id}, y_pred.shape={y_pred.shape}"
                )
            y_true, y_pred = y_true[..., self.class_id], y_pred[..., self.class_id]
            w = None if w is None else w[..., self.class_id]
        pos = y_true.ravel() > 0.5
        scores = y_pred.ravel()
        if w is None and self.thresholds.size == 1:
            # One threshold, no weights: plain counts.
            above = scores > self.thresholds[0]
            tp = np.count_nonzero(above & pos)
            n_above = np.count_nonzero(above)
            n_pos = np.count_nonzero(pos)
            self.true_positives += tp
            self.false_positives += n_above - tp
            self.false_negatives += n_pos - tp
            self.true_negatives += scores.size - n_above - n_pos + tp
            return
        w = np.ones(scores.shape) if w is None else w.ravel()
        above = (scores[None, :] > self.thresholds[:, None]).astype(np.float64)
        wp = w * pos
        wn = w - wp
        tp, fp = above @ wp, above @ wn
        self.true_positives += tp
        self.false_positives += fp
        self.false_negatives += wp.sum() - tp
        self.true_negatives += wn.sum() - fp

    def _finish(self, values: np.ndarray):
        return float(values[0]) if self._scalar else values.astype(self.dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(thresholds=self._init_thresholds, top_k=self.top_k, class_id=self.class_id)
        return config


class TruePositives(_ConfusionMatrixMetric):
    """Weighted count of true positives (``y_true == 1`` and ``y_pred > threshold``).

    Args:
        thresholds: Float or list of floats in [0, 1] (default 0.5); a list gives one count each.
        name: Name of the metric. Defaults to ``"true_positives"``.
        dtype: dtype of array results.

    Example:
        >>> m = ferronet.metrics.TruePositives()
        >>> float(m([0, 1, 1, 1], [1, 0, 1, 1]))
        2.0
    """

    def __init__(self, thresholds=None, name: Optional[str] = None, dtype: Any = None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)

    def result(self):
        return self._finish(self.true_positives)

    def get_config(self) -> dict:
        return {"thresholds": self._init_thresholds, "name": self.name, "dtype": self.dtype}


class FalsePositives(TruePositives):
    """Weighted count of false positives (``y_true == 0`` and ``y_pred > threshold``).

    Args: as :class:`TruePositives`.

    Example:
        >>> m = ferronet.metrics.FalsePositives()
        >>> float(m([0, 1, 0, 0], [0, 0, 1, 1]))
        2.0
    """

    def result(self):
        return self._finish(self.false_positives)


class TrueNegatives(TruePositives):
    """Weighted count of true negatives (``y_true == 0`` and ``y_pred <= threshold``).

    Args: as :class:`TruePositives`.

    Example:
        >>> m = ferronet.metrics.TrueNegatives()
        >>> float(m([0, 1, 0, 0], [1, 1, 0, 0]))
        2.0
    """

    def result(self):
        return self._finish(self.true_negatives)


class FalseNegatives(TruePositives):
    """Weighted count of false negatives (``y_true == 1`` and ``y_pred <= threshold``).

    Args: as :class:`TruePositives`.

    Example:
        >>> m = ferronet.metrics.FalseNegatives()
        >>> float(m([0, 1, 1, 1], [0, 1, 0, 0]))
        2.0
    """

    def result(self):
        return self._finish(self.false_negatives)


class Precision(_ConfusionMatrixMetric):
    """``TP / (TP + FP)`` from counts accumulated over every batch (0 when undefined).

    Inputs are 0/1 labels and probabilities of the same shape; several outputs
    per sample are pooled element-wise (micro average), as in Keras. Use
    ``class_id`` for one class of a softmax output, or ``top_k``.

    Args:
        thresholds: Float or list of floats in [0, 1]; predictions above it are
            positive. Defaults to 0.5 (or "in the top k" with ``top_k``). A list
            gives an array of results, one per threshold.
        top_k: Only the k highest scores of each row may count as positive.
        class_id: Only this column counts.
        name: Name of the metric. Defaults to ``"precision"``.
        dtype: dtype of array results.

    Example:

    >>> m = ferronet.metrics.Precision()
    >>> m([0, 1, 1, 1], [1, 0, 1, 1])
    0.6666666666666666
    """

    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name: Optional[str] = None, dtype: Any = None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._finish(_ratio(self.true_positives, self.true_positives + self.false_positives))


class Recall(_ConfusionMatrixMetric):
    """``TP / (TP + FN)`` from counts accumulated over every batch (0 when undefined).

    Args: as :class:`Precision` (default name ``"recall"``).

    Example:

    >>> m = ferronet.metrics.Recall()
    >>> m([0, 1, 1, 1], [1, 0, 1, 1])
    0.6666666666666666
    """

    _direction = "up"

    def __init__(self, thresholds=None, top_k=None, class_id=None, name: Optional[str] = None, dtype: Any = None):
        super().__init__(thresholds=thresholds, top_k=top_k, class_id=class_id, name=name, dtype=dtype)

    def result(self):
        return self._finish(_ratio(self.true_positives, self.true_positives + self.false_negatives))
