"""``ReduceLROnPlateau``: lower the learning rate when a monitored quantity stops improving."""

from __future__ import annotations

import warnings

import numpy as np

from ..utils.progbar import print_message
from .learning_rate_scheduler import get_learning_rate, set_learning_rate
from .monitor_callback import MonitorCallback

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(MonitorCallback):
    """Multiplies the learning rate by ``factor`` after ``patience`` epochs without improvement.

    The current rate is also logged as ``"learning_rate"`` at every epoch end
    (so it shows in ``History`` and the progress line).

    Args:
        monitor: Logs key to watch. Defaults to ``"val_loss"``.
        factor: Factor in (0, 1) applied to the rate: ``new_lr = lr * factor``.
        patience: Epochs without improvement before a reduction.
        verbose: 1 prints a message at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        min_delta: Minimum change that counts as an improvement.
        cooldown: Epochs to wait after a reduction before counting again.
        min_lr: Lower bound of the learning rate.
        **kwargs: ``epsilon``, the Keras 1 name of ``min_delta``.

    Example:

    >>> reduce_lr = ReduceLROnPlateau(monitor="val_loss", factor=0.2, patience=5, min_lr=0.001)
    >>> history = model.fit(x, y, validation_split=0.2, epochs=3, callbacks=[reduce_lr], verbose=0)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **kwargs,
    ):
        if "epsilon" in kwargs:
            min_delta = kwargs.pop("epsilon")
            warnings.warn("ReduceLROnPlateau's epsilon argument is deprecated; use min_delta.", stacklevel=2)
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau got unexpected arguments. Received: {', '.join(kwargs)}")
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.0 < factor < 1.0:
            raise ValueError(f"ReduceLROnPlateau factor must be in (0, 1). Received: factor={factor!r}")
        for arg, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"ReduceLROnPlateau {arg} must be a non-negative integer. Received: {arg}={value!r}")
        if isinstance(min_lr, bool) or not isinstance(min_lr, (int, float)) or min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau min_lr must be a number >= 0. Received: min_lr={min_lr!r}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self.direction = None
        self.wait = 0
        self.cooldown_counter = 0

    def in_cooldown(self) -> bool:
        """Whether a recent reduction still holds the counter."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        lr = get_learning_rate(self.model, "ReduceLROnPlateau")
        logs["learning_rate"] = lr
        current = self._current(logs, "is conditioned")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        # float32 comparison: a rate stored in float32 may sit just above min_lr.
        if self.wait >= self.patience and np.float32(lr) > np.float32(self.min_lr):
            new_lr = max(lr * self.factor, self.min_lr)
            set_learning_rate(self.model, new_lr, "ReduceLROnPlateau")
            if self.verbose > 0:
                print_message(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
            self.cooldown_counter = self.cooldown
            self.wait = 0
