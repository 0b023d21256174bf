"""Classification metrics from hard predictions: confusion matrix, accuracy, precision, recall, F1.

Functional and NumPy-only, with scikit-learn's signatures, numbers and
degenerate-case behaviour (``UndefinedMetricWarning`` and ``zero_division``).
Labels may be integers, booleans or strings; predictions must be class labels,
so threshold probabilities first (``y_prob > 0.5`` or ``y_prob.argmax(axis=1)``).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ArgumentError, ShapeError

__all__ = [
    "UndefinedMetricWarning",
    "confusion_matrix",
    "accuracy_score",
    "precision_recall_fscore_support",
    "precision_score",
    "recall_score",
    "f1_score",
    "fbeta_score",
    "classification_report",
]

_AVERAGES = ("binary", "micro", "macro", "weighted", None)


class UndefinedMetricWarning(UserWarning):
    """A metric is ill-defined for the given inputs (e.g. precision with no predicted positives).

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     p = ferronet.metrics.precision_score([1, 1], [0, 0])
        >>> p, caught[0].category.__name__
        (0.0, 'UndefinedMetricWarning')
    """


# ---------------------------------------------------------------- input checks


def _preview(a, k: int = 6) -> str:
    a = np.asarray(a).tolist()
    return repr(a) if len(a) <= k else repr(a[:k])[:-1] + ", ...]"


def _column(y, name: str, who: str) -> np.ndarray:
    """``y`` as a 1-D label array; explains the usual mistakes (probabilities, one-hot rows)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim == 0 or y.ndim > 2:
        raise ShapeError(f"{who}: {name} must be a 1-D array of labels. Received: {name}.shape={y.shape}")
    if y.ndim == 2:
        raise ShapeError(
            f"{who}: {name} must be 1-D class labels, not a (n_samples, n_classes) matrix; for one-hot rows or "
            f"probabilities use {name}.argmax(axis=1). Received: {name}.shape={y.shape}"
        )
    if y.dtype.kind == "f":
        if np.isnan(y).any():
            raise ArgumentError(f"{who}: {name} contains NaN. Received: {name}={_preview(y)}")
        if not np.isfinite(y).all() or np.any(y != np.round(y)):
            raise ArgumentError(
                f"{who}: {name} holds continuous values, not class labels; threshold scores first, e.g. "
                f"({name} > 0.5).astype(int) or {name}.argmax(axis=1). Received: {name}={_preview(y)}"
            )
    elif y.dtype.kind not in "iubUSO":
        raise ArgumentError(f"{who}: {name} must hold class labels. Received: {name}.dtype={y.dtype}")
    return y


def _unique(y: np.ndarray) -> np.ndarray:
    if y.dtype.kind in "iu" and y.size > 4096:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo < 1 << 20:  # NOTE: counting beats sorting for the usual small integer class ids
            return (np.flatnonzero(np.bincount(y - lo, minlength=hi - lo + 1)) + lo).astype(y.dtype)
    if y.dtype.kind == "b":
        return np.unique(y.view(np.uint8)).astype(bool)
    return np.unique(y)


def _union_labels(a: np.ndarray, b: np.ndarray, who: str) -> np.ndarray:
    ua, ub = _unique(a), _unique(b)
    strs = [u.dtype.kind in "USO" and any(isinstance(v, str) for v in u.tolist()) for u in (ua, ub)]
    if strs[0] != strs[1] and ua.size and ub.size:
        raise ArgumentError(
            f"{who}: y_true and y_pred mix string and numeric labels. Received: {_preview(ua)} and {_preview(ub)}"
        )
    try:
        return np.union1d(ua, ub)
    except TypeError:
        raise ArgumentError(
            f"{who}: labels of different types cannot be compared. Received: {_preview(ua)} and {_preview(ub)}"
        ) from None


def _check_targets(y_true, y_pred, who: str, sample_weight=None):
    """(type, sorted union of labels, y_true, y_pred, weights) with 'binary' for at most two labels."""
    y_true = _column(y_true, "y_true", who)
    y_pred = _column(y_pred, "y_pred", who)
    if y_true.shape[0] != y_pred.shape[0]:
        raise ShapeError(
            f"{who}: y_true and y_pred need the same number of samples. Received: {y_true.shape[0]} and "
            f"{y_pred.shape[0]}"
        )
    if y_true.shape[0] == 0:
        raise ArgumentError(
            f"{who}: empty input; at least one sample is required. Received: y_true.shape={y_true.shape}"
        )
    labels = _union_labels(y_true, y_pred, who)
    return (
        ("binary" if labels.size <= 2 else "multiclass"),
        labels,
        y_true,
        y_pred,
        _weights(sample_weight, y_true.shape[0], who),
    )


def _weights(sample_weight, n: int, who: str):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight)
    if w.ndim != 1 or w.shape[0] != n:
        raise ShapeError(
            f"{who}: sample_weight must be 1-D with one weight per sample ({n}). Received: "
            f"sample_weight.shape={w.shape}"
        )
    if w.dtype.kind not in "fiub" or not np.isfinite(w).all():
        raise ArgumentError(f"{who}: sample_weight must be finite numbers. Received: {_preview(w)}")
    return w


def _index_of(y: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Position of each ``y`` in ``labels`` (any order); ``len(labels)`` for values not among them."""
    n = labels.size
    if labels.dtype.kind in "iub" and y.dtype.kind in "iub" and n and np.array_equal(labels, np.arange(n)):
        return np.where((y >= 0) & (y < n), y, n).astype(np.intp)  # labels 0..n-1: the label is its own index
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.searchsorted(sorted_labels, y).clip(max=max(n - 1, 0))
    found = sorted_labels[pos] == y if n else np.zeros(y.shape, bool)
    return np.where(found, order[pos], n).astype(np.intp)


def _bincount(idx: np.ndarray, weights, n: int) -> np.ndarray:
    if weights is None:
        return np.bincount(idx, minlength=n)[:n].astype(np.int64)
    return np.bincount(idx, weights=weights.astype(np.float64), minlength=n)[:n]


# ------------------------------------------------------------ confusion matrix


def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None) -> np.ndarray:
    """Confusion matrix ``C[i, j]``: samples of true class ``labels[i]`` predicted as ``labels[j]``.

    For binary 0/1 labels, ``tn, fp, fn, tp = confusion_matrix(y, p).ravel()``.

    Args:
        y_true: True labels, shape ``(n,)``.
        y_pred: Predicted labels, shape ``(n,)``.
        labels: Labels indexing the rows/columns (subset or reorder); default the
            sorted labels present in either input. Samples with other labels are ignored.
        sample_weight: Per-sample weights.
        normalize: ``'true'`` (rows sum to 1: recall per class), ``'pred'``
            (columns sum to 1: precision per class), ``'all'``, or None for counts.

    Returns:
        ``(n_labels, n_labels)`` array: int64 counts, or float64 if weighted or normalized.

    Example:
        >>> confusion_matrix([0, 1, 1, 1], [0, 1, 0, 1])
        array([[1, 0],
               [1, 2]])
    """
    who = "confusion_matrix"
    if normalize not in ("true", "pred", "all", None):
        raise ArgumentError(
            f"{who}: normalize must be 'true', 'pred', 'all' or None. Received: normalize={normalize!r}"
        )
    _, present, y_true, y_pred, w = _check_targets(y_true, y_pred, who, sample_weight)
    if labels is None:
        labels = present
    else:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ArgumentError(f"{who}: labels must contain at least one label. Received: labels={_preview(labels)}")
        if not np.isin(y_true, labels).any():
            raise ArgumentError(
                f"{who}: at least one of labels must occur in y_true. Received: labels={_preview(labels)}"
            )
    n = labels.size
    ti, pi = _index_of(y_true, labels), _index_of(y_pred, labels)
    keep = (ti < n) & (pi < n)
    if not keep.all():
        ti, pi, w = ti[keep], pi[keep], (None if w is None else w[keep])
    cm = _bincount(ti * n + pi, w, n * n).reshape(n, n)
    if w is not None and w.dtype.kind in "iub":
        cm = cm.astype(np.int64)
    if normalize is not None:
        with np.errstate(all="ignore"):
            total = {"true": cm.sum(axis=1, keepdims=True), "pred": cm.sum(axis=0, keepdims=True), "all": cm.sum()}[
                normalize
            ]
            cm = np.nan_to_num(cm / total)
    if cm.shape == (1, 1):
        warnings.warn(
            "A single label was found in y_true and y_pred; pass labels=[...] with every class to get the full matrix.",
            UserWarning,
            stacklevel=2,
        )
    return cm


def accuracy_score(y_true, y_pred, *, normalize: bool = True, sample_weight=None) -> float:
    """Fraction (or, with ``normalize=False``, number) of correctly classified samples.

    Example:
        >>> accuracy_score([0, 1, 2, 3], [0, 2, 1, 3])
        0.5
    """
    _, _, y_true, y_pred, w = _check_targets(y_true, y_pred, "accuracy_score", sample_weight)
    correct = y_true == y_pred
    if normalize:
        return float(np.average(correct, weights=w))
    return float(correct.sum() if w is None else np.dot(correct, w))


# ------------------------------------------------- precision, recall, F-score


def _zero_division_value(zero_division) -> float:
    if isinstance(zero_division, str) and zero_division == "warn":
        return 0.0
    if isinstance(zero_division, (int, float)) and (zero_division in (0, 1) or np.isnan(zero_division)):
        return float(zero_division)
    raise ArgumentError(f"zero_division must be 'warn', 0, 1 or np.nan. Received: zero_division={zero_division!r}")


def _divide(num, den, metric: str, modifier: str, average, warn_for, zero_division) -> np.ndarray:
    """``num / den`` where ``den == 0`` gives ``zero_division`` (0 with a warning when 'warn')."""
    zero = den == 0
    out = np.asarray(num, dtype=np.float64) / np.where(zero, 1, den).astype(np.float64)
    if not zero.any():
        return out
    out[zero] = _zero_division_value(zero_division)
    if isinstance(zero_division, str) and metric in warn_for:
        where = "due to" if out.shape[0] == 1 else "in labels with"
        warnings.warn(
            f"{metric.capitalize()} is ill-defined and being set to 0.0 {where} no {modifier} samples. "
            "Use `zero_division` parameter to control this behavior.",
            UndefinedMetricWarning,
            stacklevel=3,
        )
    return out


def _nanaverage(a: np.ndarray, weights=None) -> float:
    if a.size == 0:
        return float("nan")
    ok = ~np.isnan(a)
    if not ok.any():
        return float("nan")
    if weights is None:
        return float(np.mean(a[ok]))
    a, weights = a[ok], np.asarray(weights, dtype=np.float64)[ok]
    return float(np.average(a, weights=weights) if weights.sum() != 0 else np.mean(a))


def _set_wise_labels(y_type, present, average, labels, pos_label, who):
    if average not in _AVERAGES:
        raise ArgumentError(f"{who}: average must be one of {_AVERAGES}. Received: average={average!r}")
    if average == "binary":
        if y_type != "binary":
            raise ArgumentError(
                f"{who}: the target is {y_type} but average='binary'; choose average='micro', 'macro', 'weighted' "
                f"or None. Received: labels {_preview(present)}"
            )
        if pos_label not in present.tolist() and present.size >= 2:
            raise ArgumentError(
                f"{who}: pos_label={pos_label!r} is not a valid label; it should be one of {_preview(present)}. "
                f"Received: pos_label={pos_label!r}"
            )
        return np.asarray([pos_label])
    if pos_label not in (None, 1):
        warnings.warn(
            f"pos_label={pos_label!r} is ignored when average={average!r}; use labels=[pos_label] to score one class.",
            UserWarning,
            stacklevel=3,
        )
    return labels


def precision_recall_fscore_support(
    y_true,
    y_pred,
    *,
    beta: float = 1.0,
    labels=None,
    pos_label=1,
    average=None,
    warn_for=("precision", "recall", "f-score"),
    sample_weight=None,
    zero_division="warn",
):
    """Precision, recall, F-beta and support per class or averaged (scikit-learn's function).

    Precision is ``tp / (tp + fp)``, recall ``tp / (tp + fn)``, F-beta
    ``(1 + beta²) tp / ((1 + beta²) tp + beta² fn + fp)``, support the number of true samples per class.

    Args:
        y_true, y_pred: Label arrays of shape ``(n,)``.
        beta: Weight of recall in the F-score (``beta=1`` is F1).
        labels: Classes to score (and their order for ``average=None``).
        pos_label: The positive class for ``average='binary'``.
        average: ``'binary'`` (only ``pos_label``), ``'micro'`` (global counts; equals
            accuracy for single-label problems), ``'macro'`` (unweighted mean over classes),
            ``'weighted'`` (mean weighted by support) or None (per-class arrays).
        warn_for: Which metrics warn when ill-defined.
        sample_weight: Per-sample weights.
        zero_division: Value for a 0/0 metric: ``'warn'`` (0 and an ``UndefinedMetricWarning``), 0, 1 or ``np.nan``.

    Returns:
        ``(precision, recall, fbeta, support)``: floats (support None) when averaged, else arrays.

    Example:
        >>> p, r, f, support = precision_recall_fscore_support([0, 1, 1, 1], [0, 1, 0, 1])
        >>> np.round(p, 4), np.round(r, 4), support
        (array([0.5, 1. ]), array([1.    , 0.6667]), array([1, 3]))
    """
    who = "precision_recall_fscore_support"
    _zero_division_value(zero_division)
    if not beta >= 0:
        raise ArgumentError(f"{who}: beta must be >= 0. Received: beta={beta}")
    y_type, present, y_true, y_pred, w = _check_targets(y_true, y_pred, who, sample_weight)
    labels = _set_wise_labels(y_type, present, average, labels, pos_label, who)
    labels = present if labels is None else np.asarray(labels)
    n = labels.size
    ti, pi = _index_of(y_true, labels), _index_of(y_pred, labels)
    hit = (ti == pi) & (ti < n)
    tp = _bincount(ti[hit], None if w is None else w[hit], n + 1)[:n]
    pred_sum = _bincount(pi, w, n + 1)[:n]
    true_sum = _bincount(ti, w, n + 1)[:n]
    if average == "micro":
        tp, pred_sum, true_sum = (np.array([v.sum()]) for v in (tp, pred_sum, true_sum))
    precision = _divide(tp, pred_sum, "precision", "predicted", average, warn_for, zero_division)
    recall = _divide(tp, true_sum, "recall", "true", average, warn_for, zero_division)
    if np.isposinf(beta):
        f = recall
    elif beta == 0:
        f = precision
    else:
        b2 = beta * beta
        den = b2 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)
        f = _divide(
            (1 + b2) * tp.astype(np.float64), den, "f-score", "true nor predicted", average, warn_for, zero_division
        )
    if average is None:
        return precision, recall, f, true_sum
    weights = true_sum if average == "weighted" else None
    return _nanaverage(precision, weights), _nanaverage(recall, weights), _nanaverage(f, weights), None


def precision_score(
    y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """Precision ``tp / (tp + fp)``: of the samples predicted positive, the fraction truly positive (purity).

    See :func:`precision_recall_fscore_support` for the arguments.

    Example:
        >>> precision_score([0, 1, 1, 0], [1, 1, 1, 0])
        0.6666666666666666
    """
    p, _, _, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("precision",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return p


def recall_score(
    y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """Recall ``tp / (tp + fn)``: the fraction of true positives found (signal efficiency, sensitivity).

    See :func:`precision_recall_fscore_support` for the arguments.

    Example:
        >>> recall_score([0, 1, 1, 0], [1, 1, 0, 0])
        0.5
    """
    _, r, _, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("recall",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return r


def fbeta_score(
    y_true, y_pred, *, beta: float, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"
):
    """F-beta score, the weighted harmonic mean of precision and recall (recall ``beta`` times as important).

    See :func:`precision_recall_fscore_support` for the arguments.

    Example:
        >>> round(fbeta_score([0, 1, 1, 1], [0, 1, 0, 0], beta=2.0), 4)
        0.3846
    """
    _, _, f, _ = precision_recall_fscore_support(
        y_true,
        y_pred,
        beta=beta,
        labels=labels,
        pos_label=pos_label,
        average=average,
        warn_for=("f-score",),
        sample_weight=sample_weight,
        zero_division=zero_division,
    )
    return f


def f1_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None, zero_division="warn"):
    """F1 score ``2 tp / (2 tp + fp + fn)``, the harmonic mean of precision and recall.

    See :func:`precision_recall_fscore_support` for the arguments.

    Example:
        >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average="macro")
        0.6
    """
    return fbeta_score(
        y_true,
        y_pred,
        beta=1.0,
        labels=labels,
        pos_label=pos_label,
        average=average,
        sample_weight=sample_weight,
        zero_division=zero_division,
    )


def classification_report(
    y_true,
    y_pred,
    *,
    labels=None,
    target_names=None,
    sample_weight=None,
    digits: int = 2,
    output_dict: bool = False,
    zero_division="warn",
):
    """Per-class precision, recall, F1 and support, plus accuracy and macro/weighted averages.

    The text layout and the dictionary keys are scikit-learn's.

    Args:
        y_true, y_pred: Label arrays of shape ``(n,)``.
        labels: Classes to include (default: all present).
        target_names: Display names of ``labels`` (e.g. ``["background", "signal"]``).
        sample_weight: Per-sample weights.
        digits: Decimals in the text report.
        output_dict: Return a nested dict instead of text.
        zero_division: As in :func:`precision_recall_fscore_support`.

    Returns:
        The report as a string, or a dict ``{name: {"precision", "recall", "f1-score", "support"},
        "accuracy": float, "macro avg": {...}, "weighted avg": {...}}``.

    Example:
        >>> print(classification_report([0, 1, 1, 0], [0, 1, 0, 0], target_names=["bkg", "sig"]))
                      precision    recall  f1-score   support
        <BLANKLINE>
                 bkg       0.67      1.00      0.80         2
                 sig       1.00      0.50      0.67         2
        <BLANKLINE>
            accuracy                           0.75         4
           macro avg       0.83      0.75      0.73         4
        weighted avg       0.83      0.75      0.73         4
    """
    who = "classification_report"
    _, present, y_true, y_pred, w = _check_targets(y_true, y_pred, who, sample_weight)
    labels_given = labels is not None
    labels = np.asarray(labels) if labels_given else present
    micro_is_accuracy = not labels_given or set(labels.tolist()) >= set(present.tolist())
    if target_names is not None and len(labels) != len(target_names):
        if labels_given:
            warnings.warn(
                f"labels size, {len(labels)}, does not match size of target_names, {len(target_names)}",
                UserWarning,
                stacklevel=2,
            )
        else:
            raise ArgumentError(
                f"{who}: number of classes, {len(labels)}, does not match the number of target_names; pass "
                "labels=[...]. "
                f"Received: {len(target_names)} target_names"
            )
    if target_names is None:
        target_names = [f"{label}" for label in labels.tolist()]
    headers = ["precision", "recall", "f1-score", "support"]
    kw = dict(labels=labels, sample_weight=w, zero_division=zero_division)
    p, r, f1, s = precision_recall_fscore_support(y_true, y_pred, average=None, **kw)
    rows = list(zip(target_names, p, r, f1, s))
    if output_dict:
        report = {row[0]: dict(zip(headers, [float(v) for v in row[1:]])) for row in rows}
    else:
        width = max(max(len(cn) for cn in target_names), len("weighted avg"), digits)
        text = ("{:>{width}s} " + " {:>9}" * len(headers)).format("", *headers, width=width) + "\n\n"
        row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
        for row in rows:
            text += row_fmt.format(*row, width=width, digits=digits)
        text += "\n"
    for average in ("micro", "macro", "weighted"):
        heading = "accuracy" if average == "micro" and micro_is_accuracy else average + " avg"
        avg_p, avg_r, avg_f, _ = precision_recall_fscore_support(y_true, y_pred, average=average, **kw)
        avg = [avg_p, avg_r, avg_f, np.sum(s)]
        if output_dict:
            report[heading] = dict(zip(headers, [float(v) for v in avg]))
        elif heading == "accuracy":
            fmt = "{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}" + " {:>9}\n"
            text += fmt.format(heading, "", "", *avg[2:], width=width, digits=digits)
        else:
            text += row_fmt.format(heading, *avg, width=width, digits=digits)
    if output_dict:
        if "accuracy" in report:
            report["accuracy"] = report["accuracy"]["precision"]
        return report
    return text
