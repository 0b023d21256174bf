"""F-beta and F1 scores from per-class counts accumulated over every batch.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ...errors import ShapeError
from ..base import Metric
from ._checks import _class_ids, _ratio

__all__ = ["FBetaScore", "F1Score"]


class FBetaScore(Metric):
    """F-beta score from per-class counts accumulated over every batch.

    ``F = (1 + b²) P R / (b² P + R)`` per class, from the epoch's true/false
    positive/negative counts (0 where undefined, like scikit-learn's
    ``zero_division=0``).

    Inputs: ``y_pred`` of shape ``(n, C)`` with one-hot (or multi-hot) ``y_true``
    of the same shape, or integer class ids ``(n,)`` that are one-hot encoded.
    A single output ``(n,)`` or ``(n, 1)`` is a binary problem: the score of the
    positive class.

    Args:
        average: ``None`` (one score per class), ``"micro"`` (from counts summed
            over classes), ``"macro"`` (unweighted mean of class scores) or
            ``"weighted"`` (mean weighted by each class's number of true samples).
        beta: Weight of recall relative to precision (> 0).
        threshold: Predictions above it are positive. ``None`` marks the
            highest-scoring class(es) of each row positive; for a single binary
            output ``None`` means 0.5 (Keras would mark every sample positive).
        name: Name of the metric. Defaults to ``"fbeta_score"``.
        dtype: dtype of array results.

    Example:
        >>> m = ferronet.metrics.FBetaScore(threshold=0.5)
        >>> y_true = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
        >>> y_pred = np.array([[0.9, 0.1, 0.0], [0.6, 0.7, 0.0], [0.1, 0.2, 0.3]])
        >>> np.round(m(y_true, y_pred), 4)
        array([0.6667, 1.    , 0.    ])
    """

    _direction = "up"

    def __init__(
        self,
        average: Optional[str] = None,
        beta: float = 1.0,
        threshold: Optional[float] = None,
        name: str = "fbeta_score",
        dtype: Any = None,
    ):
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{owner} average must be None, 'micro', 'macro' or 'weighted'. Received: average={average!r}"
            )
        if isinstance(beta, bool) or not isinstance(beta, (int, float, np.floating)) or not beta > 0:
            raise ValueError(f"{owner} beta must be a number > 0. Received: beta={beta!r}")
        if threshold is not None and (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float, np.floating))
            or not 0.0 <= threshold <= 1.0
        ):
            raise ValueError(f"{owner} threshold must be None or a number in [0, 1]. Received: threshold={threshold!r}")
        self.average = average
        self.beta = float(beta)
        self.threshold = None if threshold is None else float(threshold)
        self._num_classes: Optional[int] = None
        self.reset_state()

    def reset_state(self) -> None:
        # Counts keep their class axis across resets once the class count is known.
        shape = (self._num_classes,) if self._num_classes else (0,)
        self.true_positives = np.zeros(shape)
        self.false_positives = np.zeros(shape)
        self.false_negatives = np.zeros(shape)
        self.support = np.zeros(shape)

    def _prepare(self, y_true, y_pred):
        """Returns ``(ids or None, truth or None, predicted)``: class ids or a 0/1 matrix, and the decisions."""
        owner = type(self).__name__
        y_true = np.asarray(y_true)
        y_pred = np.asarray(y_pred)
        if y_pred.ndim == 1:
            y_pred = y_pred[:, None]
        if y_pred.ndim != 2:
            raise ShapeError(f"{owner} expects y_pred of shape (n, classes) or (n,). Received: y_pred.shape={y_pred.shape}")
        n, c = y_pred.shape
        ids = truth = None
        if y_true.shape in ((n,), (n, 1)) and c > 1:
            ids = _class_ids(y_true.reshape(n), c, owner)
        elif y_true.shape == (n,) and c == 1:
            truth = y_true[:, None] > 0.5
        elif y_true.shape == y_pred.shape:
            truth = y_true > 0.5
        else:
            raise ShapeError(
                f"{owner} needs y_true of shape (n, classes) like y_pred, or class ids (n,). "
                f"Received: y_true.shape={y_true.shape}, y_pred.shape={y_pred.shape}"
            )
        if self._num_classes is None:
            self._num_classes = c
            self.reset_state()
        elif c != self._num_classes:
            raise ShapeError(
                f"{owner} saw {self._num_classes} classes before and now {c}. Received: y_pred.shape={y_pred.shape}"
            )
        threshold = self.threshold
        if threshold is None and c == 1:
            threshold = 0.5
        if threshold is None:
            top = y_pred.max(axis=-1, keepdims=True)
            predicted = y_pred >= top
            # A row whose top score is 0 (e.g. all zeros) must not make its classes positive.
            if not top.min() > 1e-9:  # rare: some row's top score is 0 or negative
                predicted &= np.abs(top) > 1e-9
        else:
            predicted = y_pred > threshold
        return ids, truth, predicted

    def update_state(self, y_true, y_pred, sample_weight=None) -> None:
        """Adds one batch's per-class counts.

        Args:
            y_true: One-hot ``(n, C)``, class ids ``(n,)``, or 0/1 for a binary output.
            y_pred: Scores ``(n, C)`` or a binary output ``(n,)`` / ``(n, 1)``.
            sample_weight: Optional per-sample weights ``(n,)``.
        """
        ids, truth, predicted = self._prepare(y_true, y_pred)
        n, c = predicted.shape
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if w.size == 1:
                w = np.full(n, w[0])
            if w.shape != (n,):
                raise ShapeError(
                    f"{type(self).__name__} needs one sample_weight per sample. "
                    f"Received: sample_weight.shape={np.shape(sample_weight)}, y_pred.shape={np.shape(y_pred)}"
                )
        if ids is not None:
            # Class ids: per-class counts are histograms, no one-hot matrix needed.
            hit = predicted[np.arange(n), ids]
            tp = np.bincount(ids[hit], weights=None if w is None else w[hit], minlength=c)
            support = np.bincount(ids, weights=w, minlength=c)
        elif w is None:
            tp = np.count_nonzero(truth & predicted, axis=0)
            support = np.count_nonzero(truth, axis=0)
        else:
            tp = w @ (truth & predicted)
            support = w @ truth
        positives = np.count_nonzero(predicted, axis=0) if w is None else w @ predicted
        self.true_positives += tp
        self.false_positives += positives - tp
        self.false_negatives += support - tp
        self.support += support

    def result(self):
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        if self.average == "micro":
            tp, fp, fn = tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True)
        b2 = self.beta * self.beta
        score = _ratio((1.0 + b2) * tp, (1.0 + b2) * tp + b2 * fn + fp)
        if self.average is None:
            return score.astype(self.dtype)
        if self.average == "weighted":
            return float(np.sum(score * _ratio(self.support, self.support.sum())))
        return float(score.mean()) if score.size else 0.0

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(average=self.average, beta=self.beta, threshold=self.threshold)
        return config


class F1Score(FBetaScore):
    """F1 score (harmonic mean of precision and recall) over every batch seen.

    Args:
        average: ``None`` (per-class array), ``"micro"``, ``"macro"`` or ``"weighted"``.
        threshold: See :class:`FBetaScore`.
        name: Name of the metric. Defaults to ``"f1_score"``.
        dtype: dtype of array results.

    Example:

    >>> m = ferronet.metrics.F1Score(average="macro")
    >>> m([0, 1, 2, 2], [[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.6, 0.3], [0.1, 0.1, 0.8]])
    0.7777777777777777
    """

    def __init__(self, average: Optional[str] = None, threshold: Optional[float] = None, name: str = "f1_score", dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["beta"]
        return config
