"""``ModelCheckpoint``: save the model (or its weights) during training."""

from __future__ import annotations

import os
import warnings

import numpy as np

from ..utils.progbar import print_message
from .monitor_callback import MonitorCallback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Saves the model or its weights at the end of every epoch (or every N batches).

    ``filepath`` may contain ``str.format`` fields filled with ``epoch``
    (counting from 1), ``batch`` (with an integer ``save_freq``) and any logs
    key, e.g. ``"ckpt/{epoch:02d}-{val_loss:.2f}.ferronet"``. Missing
    directories are created.

    Args:
        filepath: Path (str or PathLike) of the saved file, possibly with format fields.
        monitor: Logs key compared when ``save_best_only=True``. Defaults to ``"val_loss"``.
        verbose: 1 prints a message for every save decision.
        save_best_only: Save only when the monitored value improves on the best so far.
        save_weights_only: Call ``model.save_weights(path)`` instead of ``model.save(path)``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (inferred from the name).
        save_freq: ``"epoch"``, or an integer number of training batches between saves.
        initial_value_threshold: Value the first saved model must beat (with ``save_best_only``).

    Example:

    >>> ckpt = ferronet.callbacks.ModelCheckpoint("best.ferronet", monitor="val_accuracy",
    ...                                           save_best_only=True)
    >>> history = model.fit(x, y, validation_split=0.2, epochs=20, callbacks=[ckpt], verbose=0)
    >>> best = ferronet.models.load_model("best.ferronet")
    """

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor=monitor, mode=mode, initial_value_threshold=initial_value_threshold)
        try:
            self.filepath = os.fspath(filepath)
        except TypeError:
            raise TypeError(f"ModelCheckpoint filepath must be a str or PathLike. Received: filepath={filepath!r}") from None
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, (int, np.integer)) or save_freq < 1
        ):
            raise ValueError(f"ModelCheckpoint save_freq must be 'epoch' or a positive integer. Received: save_freq={save_freq!r}")
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self._current_epoch = 0
        self._batches_since_save = 0
        if save_freq != "epoch":
            # Listen to batches only when saving by batch count: CallbackList then
            # knows an epoch-frequency checkpoint needs no per-batch logs.
            self.on_train_batch_end = self._on_train_batch_end

    def on_train_begin(self, logs=None):
        self.direction = None
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def _on_train_batch_end(self, batch, logs=None):
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _path(self, epoch: int, batch, logs) -> str:
        fields = dict(logs or {})
        fields["epoch"] = epoch + 1
        if batch is not None:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as e:
            raise KeyError(
                f"ModelCheckpoint filepath uses {e} but the logs have no such key. Available keys: "
                f"{', '.join(fields)}. Received: filepath={self.filepath!r}"
            ) from None

    def _save(self, epoch: int, batch, logs) -> None:
        if self.save_best_only and self.direction is None:
            self._set_monitor_op()
        path = self._path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint filepath is an existing directory. Received: filepath={path!r}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose > 0:
            print_message(f"Epoch {epoch + 1}: finished saving model to {path}")

    def _should_save(self, epoch: int, logs, path: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_message(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"ModelCheckpoint can save the best model only with {self.monitor!r} in the logs; saving anyway. "
                f"Available keys: {', '.join(logs or {}) or '(none)'}",
                stacklevel=3,
            )
            return True
        current = self._current(logs, "saves the best model")
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_message(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to {current:.5f}, "
                    f"saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_message(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
        return False
