"""``TerminateOnNaN``: stop training as soon as the loss becomes NaN or infinite."""

from __future__ import annotations

import math

from ..utils.progbar import print_message
from .base import Callback

__all__ = ["TerminateOnNaN"]


class TerminateOnNaN(Callback):
    """Stops training when a batch's loss is NaN or infinite.

    ``model.stop_training`` is set, so ``fit`` ends after the current epoch's
    batch loop.

    Example:

    >>> history = model.fit(x, y, epochs=10, callbacks=[TerminateOnNaN()], verbose=0)
    >>> len(history.history["loss"])  # a finite loss: all 10 epochs ran
    10
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        try:
            finite = math.isfinite(float(loss))
        except (TypeError, ValueError):
            return
        if not finite:
            print_message(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
