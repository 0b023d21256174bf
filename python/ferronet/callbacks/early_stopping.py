"""``EarlyStopping``: stop training when a monitored quantity stops improving."""

from __future__ import annotations

import numpy as np

from ..utils.progbar import print_message
from .monitor_callback import MonitorCallback

__all__ = ["EarlyStopping"]


class EarlyStopping(MonitorCallback):
    """Stops training when a monitored quantity has stopped improving.

    At the end of every epoch the monitored value is compared with the best so
    far; after ``patience`` epochs without an improvement larger than
    ``min_delta``, ``model.stop_training`` is set and ``fit`` ends after that
    epoch.

    Args:
        monitor: Logs key to watch. Defaults to ``"val_loss"``.
        min_delta: Minimum change that counts as an improvement.
        patience: Epochs without improvement before stopping.
        verbose: 1 prints a message when stopping or restoring weights.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        baseline: Value the monitored quantity must beat; until it does, the
            patience counter keeps running.
        restore_best_weights: At the end of training, put back the weights of
            the best epoch (whether or not training stopped early).
        start_from_epoch: Epochs of warm-up before monitoring starts.

    Example:

    >>> stop = ferronet.callbacks.EarlyStopping(monitor="loss", patience=3)
    >>> history = model.fit(x, y, epochs=100, callbacks=[stop], verbose=0)
    >>> stop.stopped_epoch  # 0 if training ran to the end
    0
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline=None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        for arg, value in (("patience", patience), ("start_from_epoch", start_from_epoch)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"EarlyStopping {arg} must be a non-negative integer. Received: {arg}={value!r}")
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = None if baseline is None else float(baseline)
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # Allow the same instance to be reused for several fits.
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None
        self.direction = None

    def on_epoch_end(self, epoch, logs=None):
        if self.direction is None:
            self._set_monitor_op()  # delayed until the model's metrics exist
        current = self._current(logs, "is conditioned")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the first monitored epoch is the best one.
            self.best_weights = self._weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self._weights()
            # The patience counter restarts only once the baseline is beaten too.
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_message(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_message(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _weights(self) -> list:
        # Copies: the model updates its arrays in place.
        return [np.array(w, copy=True) for w in self.model.get_weights()]
