"""Metrics from continuous scores: ROC curve, ROC AUC and the physicist's efficiency curve.

``roc_curve`` and ``roc_auc_score`` reproduce scikit-learn's numbers (every
distinct score is a threshold; tied scores form one step) with one sort and
cumulative sums. Without sample weights the sort is a parallel sort in Rust
(a radix sort for float32 scores, rayon's sort for float64) on
``ferronet.set_num_threads`` threads: 10^7 scores sorted about twice as fast
as with NumPy's sort (benches/bench_rayon.py). ``efficiency_curve``
re-expresses the ROC curve in collider-physics terms: signal efficiency
ε_s (the true-positive rate), background efficiency ε_b (the false-positive
rate) and background rejection 1/ε_b, with the cut values that reach chosen
signal-efficiency working points.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .. import _core
from ..errors import ArgumentError, ShapeError
from .classification import UndefinedMetricWarning, _preview, _unique, _weights

__all__ = ["roc_curve", "roc_auc_score", "auc", "efficiency_curve", "EfficiencyCurve", "WorkingPoint"]


def _scores_1d(y_score, n: int, who: str) -> np.ndarray:
    s = np.asarray(y_score)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1:
        hint = (
            " For a 2-column softmax output pass the positive-class column y_score[:, 1]."
            if s.ndim == 2 and s.shape[1] == 2
            else ""
        )
        raise ShapeError(f"{who}: y_score must be 1-D, one score per sample.{hint} Received: y_score.shape={s.shape}")
    if s.shape[0] != n:
        raise ShapeError(f"{who}: y_true and y_score need the same number of samples. Received: {n} and {s.shape[0]}")
    if s.dtype.kind not in "fiub":
        raise ArgumentError(f"{who}: y_score must be numeric. Received: y_score.dtype={s.dtype}")
    if s.dtype.kind == "f" and not np.isfinite(s).all():
        raise ArgumentError(
            f"{who}: y_score contains NaN or infinity. Received: {int((~np.isfinite(s)).sum())} non-finite scores"
        )
    return s


def _labels_1d(y_true, who: str) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ShapeError(f"{who}: y_true must be 1-D labels. Received: y_true.shape={y.shape}")
    if y.size == 0:
        raise ArgumentError(f"{who}: empty input; at least one sample is required. Received: y_true.shape={y.shape}")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        raise ArgumentError(f"{who}: y_true contains NaN or infinity. Received: {_preview(y)}")
    return y


def _positives(y: np.ndarray, pos_label, who: str) -> np.ndarray:
    """Boolean mask of the positive class; without ``pos_label`` labels must be {0, 1} or {-1, 1}."""
    if pos_label is None:
        classes = set(_unique(y).tolist())
        if len(classes) > 2:
            raise ArgumentError(
                f"{who}: y_true has more than two classes; pass pos_label for one-vs-rest. Received: "
                f"{_preview(_unique(y))}"
            )
        if classes not in ({0, 1}, {-1, 1}, {0}, {-1}, {1}) or y.dtype.kind in "USO":
            raise ArgumentError(
                f"{who}: y_true takes values {_preview(_unique(y))} and pos_label is not given; use labels in "
                f"{{0, 1}} or {{-1, 1}} or pass pos_label explicitly. Received: y_true={_preview(y)}"
            )
        pos_label = 1
    return y == pos_label


def _binary_clf_curve(y_true, y_score, pos_label, sample_weight, who):
    """Cumulative false/true positive counts at each distinct score, highest score first."""
    y = _labels_1d(y_true, who)
    s = _scores_1d(y_score, y.shape[0], who)
    w = _weights(sample_weight, y.shape[0], who)
    pos = _positives(y, pos_label, who)
    if w is not None:
        keep = w != 0  # zero-weight samples must not create thresholds
        pos, s, w = pos[keep], s[keep], w[keep]
    if w is None:
        s, pos = _sort_descending(s, pos)
    else:
        order = np.argsort(s)[::-1]
        s, pos, w = s[order], pos[order], w[order].astype(np.float64)
    # the counts are read at the last sample of each run of tied scores, so the order inside a run never matters
    idx = np.append(np.flatnonzero(s[1:] != s[:-1]), s.size - 1)
    if w is None:
        tps = np.cumsum(pos, dtype=np.float64)[idx]
        fps = 1.0 + idx - tps
    else:
        tps = np.cumsum(pos * w)[idx]
        fps = np.cumsum(~pos * w)[idx]
    return fps, tps, s[idx].astype(np.float64)


def _sort_descending(s: np.ndarray, pos: np.ndarray):
    """Scores in decreasing order with their labels carried along.

    A parallel sort in Rust (rayon pool, ``set_num_threads`` threads): float32 scores, and any scores float32
    holds exactly (what networks output), are radix-sorted as one integer key per sample with the label in its
    lowest bit; other float64 scores are sorted as (key, label) pairs. Only integers beyond float32's range go
    through NumPy's argsort.
    """
    s32 = s.astype(np.float32) if s.dtype != np.float32 else s
    flags = np.ascontiguousarray(pos).view(np.uint8)
    if s.dtype.kind == "f" and s.dtype.itemsize <= 4 or np.array_equal(s32, s):
        scores, flags = _core.sort_scores(np.ascontiguousarray(s32), flags)
        return scores, flags.view(bool)
    if s.dtype == np.float64:
        scores, flags = _core.sort_scores(np.ascontiguousarray(s), flags)
        return scores, flags.view(bool)
    order = np.argsort(s)[::-1]
    return s[order], pos[order]


def roc_curve(y_true, y_score, *, pos_label=None, sample_weight=None, drop_intermediate: bool = True):
    """Receiver operating characteristic: false- and true-positive rates at every score threshold.

    A sample is called positive when ``y_score >= threshold``. Thresholds are the
    distinct scores in decreasing order, preceded by ``inf`` so the curve starts at (0, 0).

    Args:
        y_true: Binary labels ``(n,)``; {0, 1} or {-1, 1} unless ``pos_label`` is given.
        y_score: Scores ``(n,)``, higher meaning more likely positive (e.g. ``model.predict(x)[:, 0]``).
        pos_label: The positive class.
        sample_weight: Per-sample weights.
        drop_intermediate: Drop thresholds on straight segments of the curve (they
            change neither its plot nor its area); False keeps every distinct score.

    Returns:
        ``(fpr, tpr, thresholds)``, float64 arrays of equal length. A rate without any
        sample of its class is NaN, with an ``UndefinedMetricWarning``.

    Example:
        >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> fpr, tpr
        (array([0. , 0. , 0.5, 0.5, 1. ]), array([0. , 0.5, 0.5, 1. , 1. ]))
    """
    fps, tps, thresholds = _binary_clf_curve(y_true, y_score, pos_label, sample_weight, "roc_curve")
    if drop_intermediate and fps.shape[0] > 2:
        corner = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
        keep = np.concatenate([[True], corner, [True]])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps = np.concatenate([[0.0], fps])
    tps = np.concatenate([[0.0], tps])
    thresholds = np.concatenate([[np.inf], thresholds.astype(np.float64)])
    if fps[-1] <= 0:
        warnings.warn(
            "No negative samples in y_true, false positive value should be meaningless",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        fpr = np.full(fps.shape, np.nan)
    else:
        fpr = fps / fps[-1]
    if tps[-1] <= 0:
        warnings.warn(
            "No positive samples in y_true, true positive value should be meaningless",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        tpr = np.full(tps.shape, np.nan)
    else:
        tpr = tps / tps[-1]
    return fpr, tpr, thresholds


def auc(x, y) -> float:
    """Area under a curve by the trapezoidal rule; ``x`` must be monotonic (either direction).

    Example:
        >>> auc([0.0, 0.5, 1.0], [0.0, 0.8, 1.0])
        0.65
    """
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ShapeError(f"auc: x and y need the same length. Received: {x.shape[0]} and {y.shape[0]}")
    if x.shape[0] < 2:
        raise ArgumentError(f"auc: at least 2 points are needed. Received: x.shape={x.shape}")
    dx = np.diff(x)
    direction = 1.0
    if np.any(dx < 0):
        if np.all(dx <= 0):
            direction = -1.0
        else:
            raise ArgumentError(f"auc: x is neither increasing nor decreasing. Received: x={_preview(x)}")
    return float(direction * np.trapezoid(y, x) if hasattr(np, "trapezoid") else direction * np.trapz(y, x))


def _binary_auc(pos_mask: np.ndarray, s: np.ndarray, w) -> float:
    if pos_mask.all() or not pos_mask.any():
        warnings.warn(
            "Only one class is present in y_true. ROC AUC score is not defined in that case.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
        return float("nan")
    fpr, tpr, _ = roc_curve(pos_mask.astype(np.int8), s, sample_weight=w)
    return auc(fpr, tpr)


def roc_auc_score(y_true, y_score, *, average="macro", sample_weight=None, multi_class="raise", labels=None) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative.

    Binary problems take one score per sample (the larger label is positive).
    Multi-class problems take ``y_score`` of shape ``(n, n_classes)`` holding
    probabilities (rows summing to 1) and need ``multi_class='ovr'``: each class
    is scored against the rest and the AUCs are averaged.

    Args:
        y_true: Labels ``(n,)``.
        y_score: Scores ``(n,)`` (binary) or class probabilities ``(n, n_classes)``.
        average: Multi-class averaging: ``'macro'`` (plain mean), ``'weighted'`` (by class
            prevalence) or None (per-class array). Ignored for binary problems.
        sample_weight: Per-sample weights.
        multi_class: ``'ovr'`` for one-vs-rest; the default ``'raise'`` rejects multi-class input.
        labels: Classes in the column order of ``y_score`` (default: sorted labels of ``y_true``).

    Returns:
        The AUC (NaN with an ``UndefinedMetricWarning`` if ``y_true`` holds a single class).

    Example:
        >>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
    """
    who = "roc_auc_score"
    y = _labels_1d(y_true, who)
    s = np.asarray(y_score)
    w = _weights(sample_weight, y.shape[0], who)
    classes = _unique(y)
    if s.ndim == 2 and s.shape[1] > 2 or classes.size > 2:
        return _multiclass_auc(y, s, classes, labels, average, multi_class, w, who)
    s = _scores_1d(s, y.shape[0], who)
    return _binary_auc(y == classes[-1], s, w)


def _multiclass_auc(y, s, classes, labels, average, multi_class, w, who):
    if multi_class != "ovr":
        raise ArgumentError(
            f"{who}: multi-class input needs multi_class='ovr' (one-vs-rest). Received: multi_class={multi_class!r}"
        )
    if average not in ("macro", "weighted", None):
        raise ArgumentError(
            f"{who}: average must be 'macro', 'weighted' or None for multi-class input. Received: average={average!r}"
        )
    if s.ndim != 2 or s.shape[0] != y.shape[0]:
        raise ShapeError(
            f"{who}: multi-class y_score must have shape (n_samples, n_classes) = ({y.shape[0]}, k). Received: "
            f"y_score.shape={s.shape}"
        )
    s = s.astype(np.float64)
    if not np.isfinite(s).all():
        raise ArgumentError(
            f"{who}: y_score contains NaN or infinity. Received: {int((~np.isfinite(s)).sum())} non-finite scores"
        )
    if not np.allclose(1, s.sum(axis=1)):
        raise ArgumentError(
            f"{who}: multi-class scores must be probabilities summing to 1 over classes (apply softmax). Received: row "
            f"sums like {_preview(s.sum(axis=1)[:4])}"
        )
    if labels is not None:
        labels = np.asarray(labels)
        if np.unique(labels).size != labels.size or not np.array_equal(np.sort(labels), labels):
            raise ArgumentError(f"{who}: labels must be unique and sorted. Received: labels={_preview(labels)}")
        if np.setdiff1d(y, labels).size:
            raise ArgumentError(
                f"{who}: y_true contains labels not in labels. Received: {_preview(np.setdiff1d(y, labels))}"
            )
        classes = labels
    if classes.size != s.shape[1]:
        raise ShapeError(
            f"{who}: {classes.size} classes but y_score has {s.shape[1]} columns. Received: y_score.shape={s.shape}"
        )
    scores = np.array([_binary_auc(y == c, s[:, k], w) for k, c in enumerate(classes.tolist())])
    if average is None:
        return scores
    if average == "weighted":
        weights = np.array(
            [(y == c).sum() if w is None else w[y == c].sum() for c in classes.tolist()], dtype=np.float64
        )
        if np.isclose(weights.sum(), 0):
            return 0.0
        scores[weights == 0] = 0
        return float(np.average(scores, weights=weights))
    return float(np.mean(scores))


class WorkingPoint(NamedTuple):
    """A cut ``score >= threshold`` chosen to reach a target signal efficiency.

    Example:
        >>> curve = ferronet.metrics.efficiency_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], working_points=[0.5])
        >>> wp = curve.working_points[0]
        >>> wp.target, wp.threshold, wp.signal_efficiency, wp.background_efficiency
        (0.5, 0.8, 0.5, 0.0)
    """

    target: float
    threshold: float
    signal_efficiency: float
    background_efficiency: float
    background_rejection: float


class EfficiencyCurve(NamedTuple):
    """Signal efficiency, background efficiency and rejection per threshold, plus working points.

    Example:
        >>> curve = ferronet.metrics.efficiency_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], working_points=[0.5])
        >>> curve.signal_efficiency, curve.background_efficiency
        (array([0. , 0.5, 0.5, 1. , 1. ]), array([0. , 0. , 0.5, 0.5, 1. ]))
        >>> curve.working_points[0].threshold
        0.8
    """

    signal_efficiency: np.ndarray
    background_efficiency: np.ndarray
    background_rejection: np.ndarray
    thresholds: np.ndarray
    working_points: list


def efficiency_curve(
    y_true, y_score, *, working_points=(), pos_label=None, sample_weight=None, drop_intermediate: bool = False
) -> EfficiencyCurve:
    """The ROC curve in collider-physics language, with working points.

    For the selection ``score >= threshold``: signal efficiency ε_s = selected signal /
    all signal, background efficiency ε_b = selected background / all background,
    background rejection 1/ε_b (``inf`` while no background passes).

    A working point for a target ε_s is the tightest cut (highest threshold) whose
    signal efficiency reaches the target; its actual ε_s, ε_b and rejection are reported
    (no interpolation: it is a cut you can apply).

    Args:
        y_true: Labels ``(n,)``; signal is 1 (or ``pos_label``), background the rest.
        y_score: Classifier output ``(n,)``, higher for signal.
        working_points: Target signal efficiencies in (0, 1], e.g. ``(0.5, 0.7, 0.9)``.
        pos_label: The signal label if not 1.
        sample_weight: Per-event weights (e.g. cross-section weights).
        drop_intermediate: As in :func:`roc_curve`; False (default) keeps every threshold.

    Returns:
        :class:`EfficiencyCurve` ``(signal_efficiency, background_efficiency,
        background_rejection, thresholds, working_points)``; ``working_points`` is a
        list of :class:`WorkingPoint` in the order given.

    Example:
        >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
        >>> p = np.array([0.1, 0.2, 0.3, 0.6, 0.4, 0.7, 0.8, 0.9])
        >>> curve = efficiency_curve(y, p, working_points=[0.5, 0.9])
        >>> for wp in curve.working_points:
        ...     print(f"eps_s={wp.signal_efficiency:.2f}  1/eps_b={wp.background_rejection:.1f}")
        eps_s=0.50  1/eps_b=inf
        eps_s=1.00  1/eps_b=4.0
    """
    who = "efficiency_curve"
    y = _labels_1d(y_true, who)
    if pos_label is None and _unique(y).size > 2:
        raise ArgumentError(
            f"{who}: y_true has more than two classes; pass pos_label for the signal class. Received: "
            f"{_preview(_unique(y))}"
        )
    pos = _positives(y, pos_label, who)
    if pos.all() or not pos.any():
        raise ArgumentError(
            f"{who}: both signal and background samples are needed. Received: {int(pos.sum())} signal, "
            f"{int((~pos).sum())} background"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        eps_b, eps_s, thresholds = roc_curve(
            pos.astype(np.int8), y_score, sample_weight=sample_weight, drop_intermediate=drop_intermediate
        )
    with np.errstate(divide="ignore"):
        rejection = 1.0 / eps_b
    points = []
    for target in np.atleast_1d(np.asarray(working_points, dtype=np.float64)).tolist():
        if not 0.0 < target <= 1.0:
            raise ArgumentError(f"{who}: working points are signal efficiencies in (0, 1]. Received: {target}")
        # eps_s is non-decreasing along the curve: the first index reaching the target is the tightest cut
        i = int(np.searchsorted(eps_s, target * (1 - 1e-12), side="left"))
        i = min(i, eps_s.size - 1)
        points.append(WorkingPoint(target, float(thresholds[i]), float(eps_s[i]), float(eps_b[i]), float(rejection[i])))
    return EfficiencyCurve(eps_s, eps_b, rejection, thresholds, points)
