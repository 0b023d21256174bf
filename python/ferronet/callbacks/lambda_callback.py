"""``LambdaCallback``: a callback made from plain functions."""

from __future__ import annotations

from .base import Callback

__all__ = ["LambdaCallback"]

_HOOKS = (
    "on_train_begin", "on_train_end", "on_test_begin", "on_test_end", "on_predict_begin", "on_predict_end",
    "on_epoch_begin", "on_epoch_end", "on_batch_begin", "on_batch_end",
    "on_train_batch_begin", "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
    "on_predict_batch_begin", "on_predict_batch_end",
)


class LambdaCallback(Callback):
    """Builds a callback from functions with the hooks' signatures.

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, batch hooks
    ``(batch, logs)``, and ``on_train_begin``/``on_train_end`` ``(logs)``. Any
    other hook (``on_test_end=...``, the Keras 2 names ``on_batch_begin`` and
    ``on_batch_end``) can be given by keyword.

    Args:
        on_epoch_begin: Called at the start of every epoch.
        on_epoch_end: Called at the end of every epoch.
        on_train_begin: Called at the start of training.
        on_train_end: Called at the end of training.
        on_train_batch_begin: Called before every training batch.
        on_train_batch_end: Called after every training batch.
        **kwargs: Other hooks by name.

    Example:

    >>> print_loss = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, f"loss={logs['loss']:.2f}"))
    >>> history = model.fit(x, y, epochs=3, callbacks=[print_loss], verbose=0)
    0 loss=...
    1 loss=...
    2 loss=...
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = [k for k in kwargs if k not in _HOOKS]
        if unknown:
            raise TypeError(
                f"LambdaCallback got arguments that are not hook names ({', '.join(_HOOKS)}). "
                f"Received: {', '.join(unknown)}"
            )
        hooks = dict(kwargs)
        hooks.update(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
            on_train_batch_begin=on_train_batch_begin,
            on_train_batch_end=on_train_batch_end,
        )
        for name, fn in hooks.items():
            if fn is None:
                continue
            if not callable(fn):
                raise TypeError(f"LambdaCallback {name} must be callable. Received: {name}={fn!r}")
            # An instance attribute replaces the hook method for this object only.
            setattr(self, name, fn)
