"""``ProgbarLogger``: the progress output of ``fit``, ``evaluate`` and ``predict``.

``fit`` adds one when ``verbose`` is not 0. Each epoch gets a
:class:`~ferronet.utils.progbar.Progbar`: a live bar in a terminal or notebook
(``verbose=1``), and otherwise (``verbose=2``, or output redirected to a file)
exactly one plain line per epoch, ``Epoch 3/10 - 1875/1875 - 3s - 2ms/step -
loss: 0.2961 - accuracy: 0.9140 - val_loss: ...``.
"""

from __future__ import annotations

from ..utils.progbar import Progbar, print_message
from .base import Callback

__all__ = ["ProgbarLogger"]


class ProgbarLogger(Callback):
    """Prints progress and the loss and metrics to stdout.

    The settings come from ``set_params``: ``verbose`` (0, 1, 2 or ``"auto"``,
    which means 1), ``epochs`` and ``steps`` (batches per epoch, ``None`` if
    unknown). Batch logs are shown as given: they are the running epoch values.
    Validation inside ``fit`` is not shown separately; its ``val_`` values
    appear on the epoch's line.

    Example:
        >>> bar = ferronet.callbacks.ProgbarLogger()
        >>> bar.set_params({"verbose": 2, "epochs": 1, "steps": 2})
        >>> bar.on_epoch_begin(0)
        >>> bar.on_epoch_end(0, {"loss": 0.25, "accuracy": 0.5})
        2/2 - ... - loss: 0.2500 - accuracy: 0.5000
    """

    def __init__(self):
        super().__init__()
        self.verbose = 1
        self.epochs = 1
        self.target = None
        self.seen = 0
        self.progbar = None
        self._called_in_fit = False

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        if verbose == "auto":
            verbose = 1
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
        self.verbose = verbose
        self.epochs = params.get("epochs", 1)
        self.target = params.get("steps")

    def needs_batch_logs(self, mode: str = "train") -> bool:
        """Whether the next batch-end call of ``mode`` would display its logs."""
        if mode == "predict" or (mode == "test" and self._called_in_fit):
            return False
        return self.progbar is not None and self.progbar.due()

    def _new_progbar(self, prefix: str = "") -> None:
        self.seen = 0
        self.progbar = Progbar(target=self.target, verbose=self.verbose, stateful_metrics=True, prefix=prefix)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_train_end(self, logs=None):
        # After an interruption the live line is left open: end it.
        if self.progbar is not None:
            self.progbar.close()
        self._called_in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        if not self.verbose:
            self.progbar = None
            return
        header = f"Epoch {epoch + 1}/{self.epochs}" if self.epochs and self.epochs > 1 else ""
        self._new_progbar()
        if header and self.verbose == 1 and self.progbar.dynamic:
            print_message(header)
        elif header:
            # One line per epoch in log files: the header leads the summary line.
            self.progbar.prefix = header + " - "

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finalize(logs)

    def on_test_begin(self, logs=None):
        if not self._called_in_fit and self.verbose:
            self._new_progbar()

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize(logs)

    def on_predict_begin(self, logs=None):
        if self.verbose:
            self._new_progbar()

    def on_predict_batch_end(self, batch, logs=None):
        # Predictions are not metrics: show progress only.
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finalize(None)

    def _update(self, batch, logs) -> None:
        self.seen = batch + 1
        if self.progbar is not None and self.verbose == 1:
            self.progbar.update(self.seen, logs, finalize=False)

    def _finalize(self, logs) -> None:
        if self.progbar is None:
            return
        target = self.target if self.target is not None else self.seen
        self.progbar.update(target, logs, finalize=True)
        self.progbar = None
