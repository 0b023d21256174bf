"""Callbacks that keep a group of processes in step: ``SyncWeights`` and ``GlobalMetrics``.

``DataParallel.callbacks()`` puts both first in the list, so every later
callback (EarlyStopping, ModelCheckpoint, History, the progress bar) sees the
global values, identical on every process, and makes the same decisions.
"""

from __future__ import annotations

import copy

import numpy as np

from ..callbacks import Callback
from ..metrics.base import Mean, Sum
from ..metrics.stateful.auc import AUC
from ..metrics.stateful.confusion import _ConfusionMatrixMetric
from ..metrics.stateful.fbeta import FBetaScore

__all__ = ["SyncWeights", "GlobalMetrics", "StopTogether", "broadcast_weights", "average_weights"]


def _flat_copy(arrays, dtype):
    sizes = [a.size for a in arrays]
    flat = np.empty(sum(sizes), dtype)
    off = 0
    for a, n in zip(arrays, sizes):
        flat[off:off + n] = a.reshape(-1)
        off += n
    return flat


def _scatter_back(flat, arrays):
    off = 0
    for a in arrays:
        a[...] = flat[off:off + a.size].reshape(a.shape)
        off += a.size


def _by_dtype(arrays):
    groups = {}
    for a in arrays:
        groups.setdefault(a.dtype, []).append(a)
    return groups.items()


def broadcast_weights(model, root=0, communicator=None):
    """Copy process ``root``'s weights, optimizer slots and step count into every process's model.

    All weights travel in one contiguous buffer per dtype. Call it in every
    process, after the model is built (``SyncWeights`` does it when ``fit`` begins).

    Args:
        model: a built model.
        root: the process whose weights win.
        communicator: default :func:`ferronet.distribution.communicator`.

    Example:
        >>> from ferronet import distribution
        >>> before = model.get_weights()
        >>> distribution.broadcast_weights(model)  # in every process; process 0's weights win
        >>> all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # one process: unchanged
        True
    """
    from .context import communicator as default_communicator

    comm = communicator or default_communicator()
    if comm.size == 1:
        return
    arrays = [v.value for v in model.weights]
    opt = getattr(model, "optimizer", None)
    if opt is not None and arrays:
        train = model.trainable_weights
        opt._ensure_slots(train)  # every process then holds the same slots, in the same order
        state = opt._state_for(train)
        arrays += [state[k] for k in sorted(state)]
    for dtype, group in _by_dtype(arrays):
        flat = comm.broadcast_(_flat_copy(group, dtype), root)
        _scatter_back(flat, group)
    if opt is not None:
        opt.iterations = int(comm.broadcast_value(float(opt.iterations), root))


def average_weights(model, trainable=False, communicator=None):
    """Average weights over the processes in place: by default the non-trainable ones
    (BatchNormalization's moving statistics, which each process updates from its own samples).

    Example:
        >>> from ferronet import distribution
        >>> net = ferronet.Sequential([ferronet.Input((4,)), ferronet.layers.BatchNormalization()])
        >>> _ = net(x, training=True)  # each process's moving statistics follow its own samples ...
        >>> distribution.average_weights(net)  # ... and become their mean over the processes
        >>> [w.shape for w in net.non_trainable_weights]
        [(4,), (4,)]
    """
    from .context import communicator as default_communicator

    comm = communicator or default_communicator()
    if comm.size == 1:
        return
    arrays = [v.value for v in model.weights if v.trainable == trainable and v.dtype.kind == "f"]
    for dtype, group in _by_dtype(arrays):
        flat = comm.allreduce_sum_(_flat_copy(group, dtype))
        flat *= 1.0 / comm.size
        _scatter_back(flat, group)


class SyncWeights(Callback):
    """Start every process from process 0's weights and keep the non-trained state equal.

    When ``fit`` begins: :func:`broadcast_weights` from process 0 (weights and
    optimizer state). At the end of every training epoch, before validation:
    :func:`average_weights` of the non-trainable weights. The trainable
    weights need nothing more: every process applies the same averaged
    gradients, so they stay bit-identical.

    Args:
        communicator: the group (default :func:`ferronet.distribution.communicator`).

    Example:
        >>> from ferronet import distribution
        >>> history = model.fit(x, y, epochs=2, verbose=0, callbacks=[distribution.SyncWeights()])
        >>> len(history.history["loss"])
        2
    """

    def __init__(self, communicator=None):
        super().__init__()
        from .context import communicator as default_communicator

        self.comm = communicator or default_communicator()

    def on_train_begin(self, logs=None):
        broadcast_weights(self.model, 0, self.comm)

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        if steps is not None and batch == steps - 1:
            average_weights(self.model, communicator=self.comm)


def _additive_state(m):
    """Names of the attributes of metric ``m`` that add up over processes, or None if unknown."""
    if m.variables:
        return None  # custom metrics: their add_variable state, handled by the caller
    if isinstance(m, Sum):
        return ("total",)
    if isinstance(m, Mean):
        return ("total", "count")
    if isinstance(m, _ConfusionMatrixMetric):
        return ("true_positives", "false_positives", "true_negatives", "false_negatives")
    if isinstance(m, FBetaScore):
        return ("true_positives", "false_positives", "false_negatives", "support")
    if isinstance(m, AUC) and not m.exact:
        return ("_pos_hist", "_neg_hist")
    return None


def global_logs(model, communicator, prefix=""):
    """The model's loss and metrics over the samples of all processes (one allreduce).

    States that add up (totals, counts, confusion counts, AUC histograms,
    ``add_variable`` accumulators) are summed, so the results are exact;
    other metrics (exact AUC) are averaged weighted by each process's sample
    count. Every process gets the same values.

    Example:
        >>> from ferronet import distribution
        >>> own = model.evaluate(x, y, verbose=0, return_dict=True)  # this process's samples
        >>> combined = distribution.global_logs(model, distribution.communicator())
        >>> sorted(combined), combined == own  # one process: all the samples are its own
        (['accuracy', 'loss'], True)
    """
    metrics = model._compile_metrics or []
    count = float(model._loss_count)
    parts = [np.array([model._loss_sum, count], np.float64)]
    plans = []
    for m in metrics:
        names = _additive_state(m)
        if m.variables:
            values = [np.asarray(v.value, np.float64) for v in m.variables]
            plans.append(("variables", [v.shape for v in values]))
        elif names is not None:
            values = [np.asarray(getattr(m, n), np.float64) for n in names]
            plans.append(("attrs", names))
        else:
            values = [np.asarray(m.result(), np.float64) * count]
            plans.append(("weighted", None))
        parts.extend(v.reshape(-1) for v in values)
    flat = np.concatenate(parts) if parts else np.zeros(0)
    communicator.allreduce_sum_(flat)
    loss_sum, total = flat[0], flat[1]
    logs = {prefix + "loss": float(loss_sum / max(1.0, total))}
    off = 2
    for m, (kind, info) in zip(metrics, plans):
        if kind == "weighted":
            size = np.asarray(m.result()).size
            value = flat[off:off + size] / max(1.0, total)
            off += size
            logs[prefix + m.name] = float(value[0]) if np.ndim(m.result()) == 0 else value
            continue
        twin = copy.deepcopy(m)
        if kind == "variables":
            for v in twin.variables:
                v.assign(flat[off:off + v.value.size].reshape(v.value.shape))
                off += v.value.size
        else:
            for n in info:
                a = np.asarray(getattr(twin, n))
                value = flat[off:off + a.size].reshape(a.shape)
                off += a.size
                setattr(twin, n, float(value) if np.ndim(getattr(twin, n)) == 0 else value.astype(a.dtype))
            if hasattr(twin, "_cached"):
                twin._cached = None
        logs[prefix + m.name] = twin.result()
    return logs


class GlobalMetrics(Callback):
    """Replace each process's loss and metrics in the logs by their values over all processes.

    Training values are combined at the last batch of each epoch (before
    validation resets the metrics), validation and ``evaluate`` values when
    testing ends, so ``History``, ``EarlyStopping``, ``ModelCheckpoint`` and
    the progress bar see global numbers, the same on every process. It also
    silences the progress bar on every process but 0 (it sets the run's
    ``verbose`` to 0 there before the bar reads it), so put it before the
    other callbacks, as ``DataParallel.callbacks()`` does.

    Args:
        communicator: the group (default :func:`ferronet.distribution.communicator`).

    Example:
        >>> from ferronet import distribution
        >>> stop = ferronet.callbacks.EarlyStopping(monitor="val_loss", patience=2)  # sees global val_loss
        >>> history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
        ...                     callbacks=[distribution.GlobalMetrics(), stop])
        >>> sorted(history.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(self, communicator=None):
        super().__init__()
        from .context import communicator as default_communicator

        self.comm = communicator or default_communicator()
        self._train_logs = None

    def set_params(self, params):
        if params and self.comm.rank != 0:
            params["verbose"] = 0  # the same dict reaches the ProgbarLogger next
        super().set_params(params)

    def on_epoch_begin(self, epoch, logs=None):
        self._train_logs = None

    def on_train_batch_end(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        if steps is not None and batch == steps - 1:
            self._train_logs = global_logs(self.model, self.comm)
            if logs is not None:
                logs.update(self._train_logs)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and self._train_logs is not None:
            logs.update(self._train_logs)

    def on_test_end(self, logs=None):
        if logs is not None:
            logs.update(global_logs(self.model, self.comm))


class StopTogether(Callback):
    """End ``fit`` on every process in the same batch when a callback stops it on one.

    A callback that stops training from batch logs (``TerminateOnNaN`` sees
    a NaN in this process's loss first) would otherwise leave the other
    processes waiting in the next step's allreduce. After each batch, one
    small allreduce tells every process whether any asked to stop. Put it
    after the callbacks that may stop training, as ``DataParallel.callbacks()`` does.

    Args:
        communicator: the group (default :func:`ferronet.distribution.communicator`).
        metrics: the run's :class:`GlobalMetrics`, which then reports the stopped epoch's global values too.

    Example:
        >>> from ferronet import distribution
        >>> class StopAtBatch(ferronet.callbacks.Callback):  # stands for TerminateOnNaN on one process
        ...     def on_train_batch_end(self, batch, logs=None):
        ...         self.model.stop_training = batch == 1
        >>> seen = []
        >>> counter = ferronet.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
        >>> _ = model.fit(x, y, batch_size=16, epochs=3, verbose=0,
        ...               callbacks=[StopAtBatch(), distribution.StopTogether(), counter])
        >>> seen  # every process stops after the same batch
        [0, 1]
    """

    def __init__(self, communicator=None, metrics=None):
        super().__init__()
        from .context import communicator as default_communicator

        self.comm = communicator or default_communicator()
        self.metrics = metrics
        self._flag = np.zeros(1)

    def on_train_batch_end(self, batch, logs=None):
        self._flag[0] = 1.0 if self.model.stop_training else 0.0
        if self.comm.allreduce_sum_(self._flag)[0] > 0:
            self.model.stop_training = True
            if self.metrics is not None:  # the epoch ends here, before GlobalMetrics' last-batch reduction
                self.metrics._train_logs = global_logs(self.model, self.comm)
