"""``MonitorCallback``: the watch-a-logged-quantity logic shared by EarlyStopping,
ModelCheckpoint and ReduceLROnPlateau.

In ``mode="auto"`` the direction of improvement comes from the quantity's
name: losses go down; for metrics, the metric objects on ``model.metrics``
say which way they improve, and Keras' usual names (accuracy, precision,
auc, ... up; mse, mae, ..._error, ...crossentropy down) are known as well.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Optional

from .base import Callback

__all__ = ["MonitorCallback"]

_UP_NAMES = {
    "accuracy", "acc", "auc", "precision", "recall", "f1_score", "f1", "fbeta_score",
    "true_positives", "true_negatives",
}
_DOWN_NAMES = {"loss", "mse", "mae", "rmse", "false_positives", "false_negatives", "learning_rate"}


def _model_metrics(model):
    """Metric objects reachable from ``model.metrics`` (nested containers included)."""
    try:
        stack = list(getattr(model, "metrics", None) or [])
    except Exception:  # an uncompiled model may refuse to list its metrics
        return
    while stack:
        metric = stack.pop()
        yield metric
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, (list, tuple)):
            stack.extend(inner)


def infer_direction(monitor: str, model=None) -> Optional[str]:
    """``"down"`` if smaller values of ``monitor`` are better, ``"up"`` if larger, else None.

    Args:
        monitor: A logs key such as ``"val_loss"`` or ``"accuracy"``.
        model: The model, whose metric objects may carry their direction.

    Returns:
        ``"up"``, ``"down"`` or ``None`` when the name says nothing.
    """
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if name == "loss" or name.endswith("_loss"):
        return "down"
    for metric in _model_metrics(model):
        if getattr(metric, "name", None) == name and getattr(metric, "_direction", None) in ("up", "down"):
            return metric._direction
    base = re.sub(r"_\d+$", "", name)  # Keras numbers duplicate names: auc_1, precision_2
    if base in _UP_NAMES or base.endswith("accuracy") or base.endswith("_acc") or base.startswith("auc"):
        return "up"
    if base in _DOWN_NAMES or base.endswith("_error") or base.endswith("crossentropy") or "hinge" in base:
        return "down"
    return None


class MonitorCallback(Callback):
    """Base class of callbacks that watch one logged quantity for improvement.

    Args:
        monitor: The logs key to watch, e.g. ``"val_loss"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the name; see the module doc).
        min_delta: Improvements smaller than this (in absolute value) do not count.
        initial_value_threshold: The value to beat at the start (default: none).

    Example:
        >>> class BestEpoch(ferronet.callbacks.MonitorCallback):
        ...     def on_train_begin(self, logs=None):
        ...         self._set_monitor_op()  # direction from the name: 'loss' goes down
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         value = self._current(logs, "watching")
        ...         if value is not None and self._is_improvement(value, self.best):
        ...             self.best, self.best_epoch = value, epoch
        >>> best = BestEpoch(monitor="loss")
        >>> history = model.fit(x, y, epochs=3, callbacks=[best], verbose=0)
        >>> best.direction, best.best_epoch
        ('down', 2)
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0, initial_value_threshold=None):
        super().__init__()
        owner = type(self).__name__
        if not isinstance(monitor, str) or not monitor:
            raise ValueError(f"{owner} monitor must be the name of a logged quantity. Received: monitor={monitor!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner} mode must be 'auto', 'min' or 'max'. Received: mode={mode!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or math.isnan(min_delta):
            raise ValueError(f"{owner} min_delta must be a number. Received: min_delta={min_delta!r}")
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(float(min_delta))
        self.initial_value_threshold = initial_value_threshold
        self.direction: Optional[str] = None
        self.best: Optional[float] = None

    def _set_monitor_op(self) -> None:
        """Fixes the direction of improvement (called once the model's metrics exist)."""
        if self.mode == "min":
            self.direction = "down"
        elif self.mode == "max":
            self.direction = "up"
        else:
            self.direction = infer_direction(self.monitor, self.model)
            if self.direction is None:
                raise ValueError(
                    f"{type(self).__name__} cannot tell whether {self.monitor!r} should go up or down; "
                    f"pass mode='max' or mode='min'. Received: monitor={self.monitor!r}, mode='auto'"
                )
        self._reset_best()

    def _reset_best(self) -> None:
        if self.initial_value_threshold is not None:
            self.best = float(self.initial_value_threshold)
        else:
            self.best = math.inf if self.direction == "down" else -math.inf

    def _is_improvement(self, value, reference) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta``."""
        if reference is None:
            return True
        if self.direction == "down":
            return value - reference < -self.min_delta
        return value - reference > self.min_delta

    def _current(self, logs, action: str):
        """The monitored value from ``logs``, or None with a warning naming the available keys."""
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__} {action} on {self.monitor!r}, which is not in the logs. "
                f"Available keys: {', '.join(logs or {}) or '(none)'}",
                stacklevel=3,
            )
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"{type(self).__name__} needs a scalar {self.monitor!r}; use a metric that logs one number "
                f"(e.g. F1Score(average='macro')). Received: {self.monitor}={value!r}"
            ) from None
