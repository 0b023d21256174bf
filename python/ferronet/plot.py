"""Plots for judging a model: training history, ROC curves, confusion matrices, score distributions.

matplotlib is an optional extra (``pip install 'ferronet[plot]'``) imported only when a
function here is called. Every function draws into ``ax`` if given (to compose figures)
or into a new figure, saves a PNG if ``save`` names a file, and returns the matplotlib
``(Figure, Axes)`` for further styling. Headless machines need nothing special: without a
display matplotlib renders off-screen.

>>> from ferronet import plot
>>> history = model.fit(x, y, validation_split=0.2, epochs=20, verbose=0)
>>> fig, axes = plot.plot_history(history, save="history.png")
>>> signal = (y > 0).astype(int)                      # class 0 against the others
>>> scores = 1 - model.predict(x, verbose=0)[:, 0]
>>> fig, ax = plot.plot_roc(signal, {"MLP": scores, "x0 cut": x[:, 0]}, physics=True, save="roc.png")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ArgumentError, ShapeError
from .metrics import auc, confusion_matrix, roc_curve

__all__ = ["plot_history", "plot_roc", "plot_confusion_matrix", "plot_score_distribution"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError(
            "ferronet.plot needs matplotlib, an optional extra: pip install 'ferronet[plot]' "
            f"(or pip install matplotlib). Received: ImportError: {e}"
        ) from e
    return plt


def _figure(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig, ax = _pyplot().subplots(figsize=figsize, layout="constrained")
    return fig, ax


def _save(fig, save, dpi: int) -> None:
    if save is not None:
        path = Path(save)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)


# --------------------------------------------------------------------- history


def _history_dict(history) -> tuple:
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ArgumentError(
            f"plot_history: expected a History (from model.fit) or a dict of lists. Received: {type(history).__name__}"
        )
    logs = {k: np.asarray(v, dtype=np.float64).ravel() for k, v in logs.items()}
    n = max(len(v) for v in logs.values())
    epoch = getattr(history, "epoch", None)
    epochs = np.asarray(epoch) + 1 if epoch is not None and len(epoch) == n else np.arange(1, n + 1)
    return logs, epochs


def plot_history(
    history, metrics=None, *, log_loss: bool = False, axes=None, title: str | None = None, save=None, dpi: int = 120
):
    """Loss and metrics vs epoch, training (solid) and validation (dashed), one panel per quantity.

    Args:
        history: The ``History`` returned by ``model.fit`` or its ``.history`` dict
            (``{"loss": [...], "val_loss": [...], "accuracy": [...], ...}``).
        metrics: Quantities to draw (without ``val_``); default all, loss first.
        log_loss: Log scale for the loss axis.
        axes: Sequence of Axes, one per quantity, to draw into.
        title: Figure title.
        save: PNG path to write.
        dpi: Resolution of the saved PNG.

    Returns:
        ``(fig, axes)`` with one Axes per quantity.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")  # no window
        >>> history = model.fit(x, y, epochs=3, validation_split=0.25, verbose=0)
        >>> fig, axes = ferronet.plot.plot_history(history)
        >>> [ax.get_title() for ax in axes]
        ['loss', 'accuracy']
    """
    logs, epochs = _history_dict(history)
    names = [k for k in logs if not k.startswith("val_")]
    names += [k[4:] for k in logs if k.startswith("val_") and k[4:] not in names]
    names = sorted(names, key=lambda k: (k != "loss", names.index(k)))
    if metrics is not None:
        missing = [m for m in metrics if m not in names]
        if missing:
            raise ArgumentError(
                f"plot_history: no such quantity in the history: {missing}; it holds {names}. Received: "
                f"metrics={list(metrics)}"
            )
        names = list(metrics)
    if axes is None:
        plt = _pyplot()
        fig, axes = plt.subplots(
            1, len(names), figsize=(4.2 * len(names) + 0.6, 3.6), layout="constrained", squeeze=False
        )
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        if len(axes) < len(names):
            raise ArgumentError(f"plot_history: need one Axes per quantity ({len(names)}). Received: {len(axes)} axes")
        fig = axes[0].figure
    for ax, name in zip(axes, names):
        for key, style, label in ((name, "-", "training"), ("val_" + name, "--", "validation")):
            if key in logs:
                values = logs[key]
                ax.plot(
                    epochs[: len(values)], values, style, marker="o" if len(values) <= 30 else None, ms=3, label=label
                )
        ax.set_xlabel("epoch")
        ax.set_ylabel(name.replace("_", " "))
        ax.set_title(name.replace("_", " "))
        if name == "loss" and log_loss:
            ax.set_yscale("log")
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, save, dpi)
    return fig, axes


# ------------------------------------------------------------------------- ROC


def _models(y_true, scores) -> list:
    """[(name, y_true, y_score)] from one score array, a dict of them, or a dict of (y_true, y_score)."""
    if isinstance(scores, dict):
        out = []
        for name, s in scores.items():
            if isinstance(s, tuple) and len(s) == 2:
                out.append((str(name), s[0], s[1]))
            else:
                out.append((str(name), y_true, s))
        return out
    return [(None, y_true, scores)]


def plot_roc(
    y_true,
    y_score,
    *,
    physics: bool = False,
    pos_label=None,
    working_points=(),
    ax=None,
    title: str | None = None,
    save=None,
    dpi: int = 120,
):
    """ROC curves of one or several models on one figure, with the AUC in the legend.

    Args:
        y_true: True binary labels (signal 1) shared by all models; may be None if every
            model in ``y_score`` carries its own.
        y_score: Scores of one model, or ``{name: scores}`` / ``{name: (y_true, scores)}``
            for several.
        physics: Draw the collider-physics view instead: signal efficiency ε_s on x,
            background rejection 1/ε_b on a log-scaled y axis.
        pos_label: The signal label if not 1.
        working_points: Signal efficiencies to mark (physics view), e.g. ``(0.5, 0.9)``; the
            first model's rejection values are printed next to its markers.
        ax: Axes to draw into.
        title: Axes title.
        save: PNG path to write.
        dpi: Resolution of the saved PNG.

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")  # no window
        >>> fig, ax = ferronet.plot.plot_roc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> ax.get_legend().get_texts()[0].get_text()
        'AUC = 0.750'
    """
    fig, ax = _figure(ax, (5.2, 4.6))
    for k, (name, yt, ys) in enumerate(_models(y_true, y_score)):
        if yt is None:
            raise ArgumentError(
                f"plot_roc: model {name!r} has no labels; pass y_true or {{name: (y_true, scores)}}. Received: "
                "y_true=None"
            )
        fpr, tpr, _ = roc_curve(yt, ys, pos_label=pos_label)
        area = auc(fpr, tpr)
        label = f"AUC = {area:.3f}" if name is None else f"{name} (AUC = {area:.3f})"
        if physics:
            keep = fpr > 0
            (line,) = ax.plot(tpr[keep], 1.0 / fpr[keep], label=label)
            for target in np.atleast_1d(working_points):
                i = min(int(np.searchsorted(tpr, target * (1 - 1e-12))), tpr.size - 1)
                if fpr[i] > 0:
                    ax.plot(tpr[i], 1.0 / fpr[i], "o", color=line.get_color(), ms=5)
                    if k == 0:  # numbers for the first model only: several sets would overlap
                        ax.annotate(
                            f"{1 / fpr[i]:.0f}",
                            (tpr[i], 1.0 / fpr[i]),
                            textcoords="offset points",
                            xytext=(4, 4),
                            fontsize=8,
                        )
        else:
            ax.plot(fpr, tpr, label=label)
    if physics:
        eps = np.linspace(0.01, 1, 200)
        ax.plot(eps, 1 / eps, ":", color="grey", label="random guess")
        ax.set_yscale("log")
        ax.set_xlabel("signal efficiency $\\varepsilon_s$")
        ax.set_ylabel("background rejection $1/\\varepsilon_b$")
        ax.set_xlim(0, 1.0)
    else:
        ax.plot([0, 1], [0, 1], ":", color="grey", label="random guess")
        ax.set_xlabel("false positive rate (background efficiency)")
        ax.set_ylabel("true positive rate (signal efficiency)")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="upper right" if physics else "lower right", fontsize=9)
    ax.set_title(title or "ROC curve")
    _save(fig, save, dpi)
    return fig, ax


# ------------------------------------------------------------ confusion matrix


def _draw_matrix(ax, cm, names, fmt, cmap, title):
    im = ax.imshow(cm, cmap=cmap, vmin=0)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    n = cm.shape[0]
    crowded = n * max(len(s) for s in names) > 30  # long names under many columns would overlap
    ax.set_xticks(range(n), names, rotation=45 if crowded else 0, ha="right" if crowded else "center")
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted label")
    ax.set_ylabel("true label")
    threshold = cm.max() / 2 if cm.size and cm.max() > 0 else 0.5
    fontsize = 10 if n <= 10 else 7
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                format(cm[i, j], fmt),
                ha="center",
                va="center",
                fontsize=fontsize,
                color="white" if cm[i, j] > threshold else "black",
            )
    ax.set_title(title)


def plot_confusion_matrix(
    y_true=None,
    y_pred=None,
    *,
    matrix=None,
    labels=None,
    display_labels=None,
    normalize=None,
    cmap: str = "Blues",
    ax=None,
    title: str | None = None,
    save=None,
    dpi: int = 120,
):
    """Confusion matrix as an annotated heat map (rows: true class, columns: predicted class).

    Args:
        y_true, y_pred: Labels to build the matrix from (see :func:`ferronet.metrics.confusion_matrix`).
        matrix: A precomputed square matrix instead of ``y_true``/``y_pred``.
        labels: Classes to show, in order.
        display_labels: Names printed on the axes (e.g. ``["jet", "photon"]``).
        normalize: None (counts), ``'true'`` (each row sums to 1: per-class recall),
            ``'pred'``, ``'all'``, or ``'both'`` for counts and row-normalized side by side.
        cmap: Colour map.
        ax: Axes to draw into (not with ``normalize='both'``).
        title: Title (per panel for ``'both'``).
        save: PNG path to write.
        dpi: Resolution of the saved PNG.

    Returns:
        ``(fig, ax)``, or ``(fig, (ax_counts, ax_normalized))`` for ``normalize='both'``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")  # no window
        >>> fig, ax = ferronet.plot.plot_confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], display_labels=["bkg", "sig"])
        >>> [t.get_text() for t in ax.texts]
        ['2', '0', '1', '1']
    """
    if normalize not in (None, "true", "pred", "all", "both"):
        raise ArgumentError(
            "plot_confusion_matrix: normalize must be None, 'true', 'pred', 'all' or 'both'. Received: "
            f"normalize={normalize!r}"
        )
    if matrix is None:
        if y_true is None or y_pred is None:
            raise ArgumentError("plot_confusion_matrix: pass y_true and y_pred, or matrix=. Received: neither")
        counts = confusion_matrix(y_true, y_pred, labels=labels)
        if labels is None:
            labels = np.union1d(np.unique(np.asarray(y_true)), np.unique(np.asarray(y_pred)))
    else:
        counts = np.asarray(matrix)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise ShapeError(f"plot_confusion_matrix: matrix must be square. Received: matrix.shape={counts.shape}")
        labels = range(counts.shape[0]) if labels is None else labels
    names = [str(v) for v in (display_labels if display_labels is not None else np.asarray(labels).tolist())]
    if len(names) != counts.shape[0]:
        raise ShapeError(
            f"plot_confusion_matrix: {counts.shape[0]} classes but {len(names)} display_labels. Received: "
            f"display_labels={names}"
        )

    def normalized(how):
        with np.errstate(all="ignore"):
            total = {
                "true": counts.sum(axis=1, keepdims=True),
                "pred": counts.sum(axis=0, keepdims=True),
                "all": counts.sum(),
            }[how]
            return np.nan_to_num(counts / total)

    count_fmt = "d" if np.issubdtype(counts.dtype, np.integer) else ".3g"
    if normalize == "both":
        if ax is not None:
            raise ArgumentError("plot_confusion_matrix: normalize='both' makes its own two-panel figure. Received: ax")
        n = counts.shape[0]
        side = max(3.8, 0.45 * n + 2.5)
        fig, axes = _pyplot().subplots(1, 2, figsize=(2 * side + 1, side), layout="constrained")
        _draw_matrix(axes[0], counts, names, count_fmt, cmap, title or "counts")
        _draw_matrix(axes[1], normalized("true"), names, ".2f", cmap, title or "normalized over true class")
        _save(fig, save, dpi)
        return fig, (axes[0], axes[1])
    fig, ax = _figure(ax, (max(4.6, 0.45 * counts.shape[0] + 3), max(3.8, 0.45 * counts.shape[0] + 2.5)))
    shown = counts if normalize is None else normalized(normalize)
    default_title = "confusion matrix" if normalize is None else f"confusion matrix (normalized over {normalize})"
    _draw_matrix(ax, shown, names, count_fmt if normalize is None else ".2f", cmap, title or default_title)
    _save(fig, save, dpi)
    return fig, ax


# -------------------------------------------------------- score distributions


def plot_score_distribution(
    y_true,
    y_score,
    *,
    pos_label=1,
    bins: int = 40,
    range=None,
    density: bool = True,
    log: bool = False,
    threshold: float | None = None,
    class_names=("background", "signal"),
    ax=None,
    title: str | None = None,
    save=None,
    dpi: int = 120,
):
    """Histograms of the classifier output for signal and background, overlaid.

    Args:
        y_true: True labels; ``pos_label`` is signal, anything else background.
        y_score: Classifier outputs ``(n,)``.
        pos_label: The signal label.
        bins: Number of bins (shared by both classes).
        range: ``(low, high)`` of the histogram; default the range of the scores.
        density: Normalize each histogram to unit area (compare shapes, not yields).
        log: Log-scaled y axis (to see the tails).
        threshold: Draw a vertical line at this cut value.
        class_names: Legend names of background and signal.
        ax: Axes to draw into.
        title: Axes title.
        save: PNG path to write.
        dpi: Resolution of the saved PNG.

    Returns:
        ``(fig, ax)``.

    Example:
        >>> import matplotlib; matplotlib.use("Agg")  # no window
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat([0, 1], 100)
        >>> scores = np.clip(rng.normal(0.3 + 0.4 * labels, 0.15), 0, 1)
        >>> fig, ax = ferronet.plot.plot_score_distribution(labels, scores, threshold=0.5)
        >>> [t.get_text() for t in ax.get_legend().get_texts()]
        ['background (100)', 'signal (100)', 'cut at 0.5']
    """
    y = np.asarray(y_true)
    s = np.asarray(y_score, dtype=np.float64)
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if s.ndim != 1 or y.shape != s.shape:
        raise ShapeError(
            f"plot_score_distribution: y_true and y_score must be 1-D of equal length. Received: {y.shape} and "
            f"{s.shape}"
        )
    signal = y == pos_label
    if not signal.any() or signal.all():
        raise ArgumentError(
            f"plot_score_distribution: both classes are needed. Received: {int(signal.sum())} signal, "
            f"{int((~signal).sum())} background"
        )
    fig, ax = _figure(ax, (5.6, 4.0))
    edges = np.histogram_bin_edges(s, bins=bins, range=range)
    for mask, name in ((~signal, class_names[0]), (signal, class_names[1])):
        (patch,) = ax.hist(
            s[mask], bins=edges, density=density, histtype="step", lw=1.6, label=f"{name} ({int(mask.sum())})"
        )[2]
        ax.hist(s[mask], bins=edges, density=density, histtype="stepfilled", alpha=0.2, color=patch.get_edgecolor())
    if threshold is not None:
        ax.axvline(threshold, color="black", ls="--", lw=1, label=f"cut at {threshold:g}")
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("classifier output")
    ax.set_ylabel("probability density" if density else "entries")
    ax.legend()
    ax.grid(alpha=0.3)
    ax.set_title(title or "classifier output")
    _save(fig, save, dpi)
    return fig, ax
