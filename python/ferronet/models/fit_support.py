"""What ``fit``, ``evaluate`` and ``predict`` share besides the loops: argument checks, Ctrl-C handling, batches
of prepared arrays, the distribution hook, and early checks of the output against the loss."""

from __future__ import annotations

import signal
import sys
import threading
import warnings

import numpy as np


class _InterruptGuard:
    """Turns the first Ctrl-C during ``fit`` into a stop request honoured between batches.

    A second Ctrl-C raises ``KeyboardInterrupt`` at once. Outside the main
    thread (where signal handlers cannot be set) Ctrl-C behaves as usual.
    """

    def __init__(self):
        self.requested = False
        self._old = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except (ValueError, OSError):
                self._installed = False
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._old)
        return False


def _positive_int(value, name, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto'. Received: verbose={verbose!r}")
    return int(verbose)


def _active_distribution(x):
    """The data-parallel strategy set with ``ferronet.distribution.set_distribution``, unless ``x`` is already this
    process's share of the batches (or ``ferronet.distribution`` was never imported, so MPI stays unloaded)."""
    dist = sys.modules.get("ferronet.distribution")
    if dist is None:
        return None
    strategy = dist.distribution()
    return None if strategy is None or isinstance(x, dist.ShardedBatches) else strategy


def _check_output_against_loss(model, y):
    """Mistakes that otherwise surface as confusing label errors or a loss stuck at zero."""
    out = model._model_output_shape()
    loss = model.loss
    if out is None or loss is None:
        return
    name = getattr(loss, "name", "")
    if len(out) > 2 and np.ndim(y) <= 2 and "crossentropy" in name:
        layers = getattr(model, "layers", None) or []
        last = layers[-1].name if layers else model.name
        from ..errors import ShapeError

        raise ShapeError(
            f'The model\'s output has shape {tuple(out)} (layer "{last}"), but {name} compares it with labels of '
            f"shape {np.shape(y)}: a Dense layer on images acts on the last axis only. Add a Flatten (or global "
            "pooling) layer before the Dense layers. Received: an output of rank "
            f"{len(out)} for labels of rank {np.ndim(y)}")
    if name == "categorical_crossentropy" and out[-1] == 1:
        warnings.warn(
            "categorical_crossentropy on a one-unit output is always zero (a softmax over one class is 1): use "
            "binary_crossentropy with a sigmoid output for two classes.", UserWarning, stacklevel=4)




def _array_batches(feeds, batch_size):
    """Batches (x, y, sample_weight, metric targets) of prepared arrays, in order."""
    n, (fx, fy, fsw, fym) = feeds
    for start in range(0, n, batch_size):
        stop = min(n, start + batch_size)
        yb = fy.batch(start, stop)
        yield fx.batch(start, stop), yb, None if fsw is None else fsw.batch(start, stop), \
            yb if fym is None else fym.batch(start, stop)




def _validate_now(epoch, freq):
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool):
        if freq <= 0:
            raise ValueError(f"validation_freq must be a positive integer. Received: validation_freq={freq!r}")
        return (epoch + 1) % int(freq) == 0
    try:
        return (epoch + 1) in freq
    except TypeError:
        raise ValueError(f"validation_freq must be an int or a container of epochs. Received: {freq!r}") from None


def _format_logs(logs, return_dict):
    logs = {k: (float(v) if isinstance(v, (np.floating, float)) else v) for k, v in logs.items()}
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values
