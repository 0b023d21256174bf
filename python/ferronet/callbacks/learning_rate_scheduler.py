"""``LearningRateScheduler``: set the optimizer's learning rate at the start of every epoch."""

from __future__ import annotations

import inspect
import math
import numbers

from ..utils.progbar import print_message
from .base import Callback

__all__ = ["LearningRateScheduler"]


def get_learning_rate(model, owner: str) -> float:
    """``model.optimizer.learning_rate`` as a float, or a clear error."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            f"{owner} needs a compiled model whose optimizer has a learning_rate attribute. "
            f"Received: optimizer={optimizer!r}"
        )
    value = optimizer.learning_rate
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(
            f"{owner} needs optimizer.learning_rate to be a number; this optimizer uses a schedule object, "
            f"which already sets the rate at every step. Received: learning_rate={value!r}"
        ) from None


def set_learning_rate(model, value: float, owner: str) -> None:
    """Sets ``model.optimizer.learning_rate`` after checking the value."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{owner} learning rate must be a finite number >= 0. Received: learning_rate={value!r}")
    model.optimizer.learning_rate = float(value)


def _takes_learning_rate(schedule) -> bool:
    """Whether ``schedule`` is ``f(epoch, lr)`` (Keras 2.2+) rather than ``f(epoch)``."""
    try:
        parameters = inspect.signature(schedule).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: use the modern form
        return True
    positional = 0
    for p in parameters:
        if p.kind is inspect.Parameter.VAR_POSITIONAL:
            return True
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
    return positional >= 2


class LearningRateScheduler(Callback):
    """Sets the learning rate from ``schedule(epoch, lr)`` at the start of every epoch.

    Args:
        schedule: ``schedule(epoch, lr) -> new_lr`` with ``epoch`` counting from
            0 and ``lr`` the current rate; ``schedule(epoch)`` also works.
        verbose: 1 prints the new rate every epoch.

    Example:

    >>> import math
    >>> def scheduler(epoch, lr):
    ...     return lr if epoch < 10 else lr * math.exp(-0.1)
    >>> model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    >>> history = model.fit(x, y, epochs=15, callbacks=[LearningRateScheduler(scheduler)], verbose=0)
    >>> round(model.optimizer.learning_rate, 6)  # 0.01 * exp(-0.5) with SGD's default
    0.006065
    """

    def __init__(self, schedule, verbose: int = 0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler schedule must be callable. Received: schedule={schedule!r}")
        self.schedule = schedule
        self.verbose = verbose
        self._two_args = _takes_learning_rate(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        lr = get_learning_rate(self.model, "LearningRateScheduler")
        new_lr = self.schedule(epoch, lr) if self._two_args else self.schedule(epoch)
        if isinstance(new_lr, bool) or not isinstance(new_lr, numbers.Real):
            try:
                new_lr = float(new_lr)  # 0-d arrays and tensors
            except (TypeError, ValueError):
                raise ValueError(
                    f"LearningRateScheduler schedule must return a float. Received: {new_lr!r} at epoch={epoch}"
                ) from None
        set_learning_rate(self.model, new_lr, "LearningRateScheduler")
        if self.verbose > 0:
            print_message(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new_lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model, "LearningRateScheduler")
