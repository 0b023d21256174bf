"""``Callback``, the base class with Keras' hook names, and ``CallbackList``, which calls many.

``model.fit``, ``evaluate`` and ``predict`` call the hooks of a
:class:`CallbackList` at fixed points:

- ``on_train_begin/end(logs)``, ``on_test_begin/end(logs)``, ``on_predict_begin/end(logs)``
- ``on_epoch_begin(epoch, logs)`` and ``on_epoch_end(epoch, logs)`` (``epoch`` counts from 0)
- ``on_{train,test,predict}_batch_begin/end(batch, logs)`` (``batch`` counts from 0 in each epoch)

``logs`` is a dict keyed like Keras: ``"loss"``, metric names, and with a
``"val_"`` prefix the validation values at epoch end. Batch-end logs hold the
running values over the epoch so far. A callback reaches the model through
``self.model`` (``model.stop_training = True`` ends ``fit`` after the current
epoch) and the run's settings through ``self.params`` (``verbose``,
``epochs``, ``steps``).
"""

from __future__ import annotations

from typing import Optional

__all__ = ["Callback", "CallbackList"]


class Callback:
    """Base class of callbacks: override the hooks you need; the others do nothing.

    Attributes:
        model: The model being trained, evaluated or used for prediction.
        params: The run's settings, e.g. ``{"verbose": 1, "epochs": 10, "steps": 1875}``.

    Example:

    >>> class StopAtLoss(ferronet.callbacks.Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         if logs["loss"] < 0.01:
    ...             self.model.stop_training = True
    """

    model = None
    params: Optional[dict] = None

    def __init__(self):
        self.model = None
        self.params = None

    def set_params(self, params: dict) -> None:
        """Receives the run's settings (``verbose``, ``epochs``, ``steps``)."""
        self.params = params

    def set_model(self, model) -> None:
        """Receives the model the callback acts on."""
        self.model = model

    # Training, evaluation and prediction as a whole.
    def on_train_begin(self, logs=None):
        """Called once at the start of ``fit``."""

    def on_train_end(self, logs=None):
        """Called once at the end of ``fit`` (also after an interruption)."""

    def on_test_begin(self, logs=None):
        """Called at the start of ``evaluate`` (and of validation inside ``fit``)."""

    def on_test_end(self, logs=None):
        """Called at the end of ``evaluate``; ``logs`` holds the results."""

    def on_predict_begin(self, logs=None):
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs=None):
        """Called at the end of ``predict``."""

    # Epochs.
    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of every epoch of ``fit`` (``epoch`` counts from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called at the end of every epoch with the epoch's loss, metrics and ``val_`` values."""

    # Batches. The on_batch_* names are Keras' aliases of the training hooks.
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` kept for Keras 1/2 code."""

    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` kept for Keras 1/2 code."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before every training batch."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after every training batch with the running loss and metrics."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Called before every evaluation batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after every evaluation batch with the running loss and metrics."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before every prediction batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after every prediction batch."""


# Batch hooks and the Keras-1/2 aliases that the base class routes through them.
_BATCH_HOOKS = {
    "on_train_batch_begin": ("on_train_batch_begin", "on_batch_begin"),
    "on_train_batch_end": ("on_train_batch_end", "on_batch_end"),
    "on_test_batch_begin": ("on_test_batch_begin",),
    "on_test_batch_end": ("on_test_batch_end",),
    "on_predict_batch_begin": ("on_predict_batch_begin",),
    "on_predict_batch_end": ("on_predict_batch_end",),
}


def _overrides(callback: Callback, name: str) -> bool:
    """Whether ``callback`` does something in hook ``name`` (a method override or an instance attribute)."""
    if name in vars(callback):
        return True
    return getattr(type(callback), name, None) is not getattr(Callback, name)


def _flatten(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            "callbacks must be a Callback or a list of Callback instances. "
            f"Received: callbacks={callbacks!r}"
        )
    flat = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten(item))
        elif isinstance(item, Callback):
            flat.append(item)
        else:
            hint = " (pass an instance, not the class)" if isinstance(item, type) and issubclass(item, Callback) else ""
            raise TypeError(
                f"Every callback must be a ferronet.callbacks.Callback instance{hint}. Received: {item!r}"
            )
    return flat


class CallbackList(Callback):
    """Calls a list of callbacks in order, and adds ``History`` and ``ProgbarLogger`` if asked.

    Per-batch hooks are dispatched only to the callbacks that override them,
    so callbacks that act once per epoch cost nothing per batch. The same
    ``logs`` dict is passed to every callback in turn, so a callback may add
    entries for the ones after it (``ReduceLROnPlateau`` adds
    ``"learning_rate"``, which ``History`` then records).

    Args:
        callbacks: A callback or a (possibly nested) list of callbacks.
        add_history: Append a :class:`History` unless one is in ``callbacks``.
        add_progbar: Append a :class:`ProgbarLogger` unless one is in ``callbacks``.
        model: The model; each callback's ``set_model`` receives it, and
            ``model.history`` is set to the ``History`` callback.
        **params: Settings passed to every ``set_params``: Keras' ``verbose``,
            ``epochs`` and ``steps`` (batches per epoch, ``None`` if unknown).

    Example:

    >>> cbs = CallbackList([ferronet.callbacks.EarlyStopping(patience=2)], add_history=True,
    ...                    add_progbar=True, model=model, verbose=1, epochs=10, steps=100)
    >>> cbs.on_train_begin()
    >>> [type(c).__name__ for c in cbs.callbacks]
    ['EarlyStopping', 'History', 'ProgbarLogger']
    """

    def __init__(
        self,
        callbacks=None,
        add_history: bool = False,
        add_progbar: bool = False,
        model=None,
        **params,
    ):
        super().__init__()
        from .history import History
        from .progbar_logger import ProgbarLogger

        self.callbacks = _flatten(callbacks)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        self._dispatch: dict = {}
        self._listeners: dict = {}
        self.set_model(model)
        self.set_params(params)

    def append(self, callback: Callback) -> None:
        """Adds a callback at the end of the list."""
        (callback,) = _flatten([callback])
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)
        self._build_dispatch()

    def set_params(self, params: dict) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)
        self._build_dispatch()

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def _build_dispatch(self) -> None:
        self._listeners = {
            hook: [c for c in self.callbacks if any(_overrides(c, n) for n in names)]
            for hook, names in _BATCH_HOOKS.items()
        }
        self._dispatch = {hook: [getattr(c, hook) for c in cbs] for hook, cbs in self._listeners.items()}

    @property
    def history(self):
        """The :class:`History` callback, if there is one."""
        return self._history

    @property
    def progbar(self):
        """The :class:`ProgbarLogger` callback, if there is one."""
        return self._progbar

    def batch_logs_needed(self, mode: str = "train") -> bool:
        """Whether the next ``on_<mode>_batch_end`` will read its ``logs``.

        False when the only batch-end listener is a progress bar that will not
        redraw now; a training loop may then pass ``logs=None`` and skip
        computing metric results for that batch.

        Args:
            mode: ``"train"``, ``"test"`` or ``"predict"``.

        Returns:
            Whether batch-end logs are needed.
        """
        listeners = self._listeners.get(f"on_{mode}_batch_end")
        if listeners is None:
            raise ValueError(f"mode must be 'train', 'test' or 'predict'. Received: mode={mode!r}")
        for callback in listeners:
            if callback is not self._progbar or callback.needs_batch_logs(mode):
                return True
        return False

    # Whole runs and epochs: every callback is called.
    def on_train_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_test_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_test_begin(logs)

    def on_test_end(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_test_end(logs)

    def on_predict_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_predict_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    # Batches: only the callbacks that listen are called.
    def on_batch_begin(self, batch, logs=None):
        self.on_train_batch_begin(batch, logs)

    def on_batch_end(self, batch, logs=None):
        self.on_train_batch_end(batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_train_batch_begin"]:
            hook(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_train_batch_end"]:
            hook(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_test_batch_begin"]:
            hook(batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_test_batch_end"]:
            hook(batch, logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_predict_batch_begin"]:
            hook(batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for hook in self._dispatch["on_predict_batch_end"]:
            hook(batch, logs=logs)
