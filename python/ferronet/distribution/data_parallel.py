"""``DataParallel``: every process holds the whole model and trains on its part of each global batch."""

from __future__ import annotations

from ..callbacks import CSVLogger, ModelCheckpoint
from .callbacks import GlobalMetrics, StopTogether, SyncWeights
from .dataset import ShardedBatches
from .optimizer import DistributedOptimizer, _AllreduceGradients

__all__ = ["DataParallel"]

# Callbacks that write files: kept on process 0 only, so one file is written once.
_FILE_WRITERS = (ModelCheckpoint, CSVLogger)


class DataParallel:
    """Data parallelism over the processes of an MPI launch (Keras 3's ``keras.distribution.DataParallel``).

    Each process keeps a full copy of the model. Every step, each one
    computes the gradients of its part of the global batch; one allreduce
    averages them; every process applies the same update, so the weights stay
    identical. The pieces, which :meth:`fit` and :meth:`evaluate` assemble:

    - :meth:`optimizer` wraps an optimizer so its updates average the gradients first;
    - :meth:`distribute_dataset` gives this process's part of every global batch;
    - :meth:`callbacks` adds :class:`SyncWeights`, :class:`GlobalMetrics` and :class:`StopTogether` and
      keeps the callbacks that write files (``ModelCheckpoint``, ``CSVLogger``) on process 0 only.

    Args:
        devices: accepted for Keras compatibility; must be None (the devices are the launched processes).
        communicator: the group (default :func:`ferronet.distribution.communicator`, which initializes MPI).

    Example:
        The lines of a script ``train.py``. Run as ``mpiexec -n 2 python train.py``, each of the two
        processes computes half of every batch; run as a plain script (as here), the group is this
        one process and the same lines train as ``model.fit`` would:

        >>> from ferronet import distribution
        >>> _ = distribution.initialize()
        >>> strategy = distribution.DataParallel()
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> history = strategy.fit(model, x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=0)
        >>> sorted(history.history)
        ['accuracy', 'loss', 'val_accuracy', 'val_loss']
    """

    def __init__(self, devices=None, communicator=None):
        if devices is not None:
            raise ValueError(
                "ferronet's DataParallel runs one model copy per launched process (mpiexec -n N); it does not take "
                f"a device list. Received: devices={devices!r}"
            )
        from .context import communicator as default_communicator

        self.communicator = communicator or default_communicator()
        self._share = None  # this process's fraction of the current global batch

    @property
    def num_processes(self) -> int:
        return self.communicator.size

    @property
    def process_id(self) -> int:
        return self.communicator.rank

    def _set_share(self, fraction):
        self._share = fraction

    def optimizer(self, optimizer="rmsprop"):
        """``optimizer`` (a name or instance) made to average gradients over the processes."""
        return DistributedOptimizer(optimizer, strategy=self)

    def distribute_dataset(self, x, y=None, sample_weight=None, batch_size=None, shuffle=True, seed=None,
                           steps=None, training=True):
        """This process's part of every global batch of ``(x, y)``, as a batch source for ``fit``/``evaluate``.

        See :class:`ShardedBatches` (``batch_size`` is the global batch size; ``training=False`` for
        validation and evaluation data).
        """
        return ShardedBatches(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, seed=seed, steps=steps,
                              strategy=self, training=training)

    def callbacks(self, callbacks=None) -> list:
        """``[SyncWeights, GlobalMetrics, *callbacks]``, plus ``StopTogether`` when one of ``callbacks`` acts
        after each batch (and so may stop mid-epoch), without file-writing callbacks on processes other than 0."""
        from ..callbacks.base import _flatten, _overrides

        rest = _flatten(callbacks)
        comm = self.communicator
        metrics = GlobalMetrics(comm)
        cbs = [SyncWeights(comm), metrics, *rest]
        # Only a callback acting after each batch can stop mid-epoch: otherwise no per-batch collective.
        if any(_overrides(c, "on_train_batch_end") or _overrides(c, "on_batch_end") for c in rest):
            cbs.append(StopTogether(comm, metrics))
        if comm.rank != 0:
            cbs = [c for c in cbs if not isinstance(c, _FILE_WRITERS)]
        return cbs

    def _distribute_optimizer(self, model):
        model._require_compiled("fit")
        opt = model.optimizer
        if not isinstance(opt, _AllreduceGradients) or opt._strategy is not self:
            model.optimizer = self.optimizer(opt)
            model._train_cache = None  # the step plan depends on the optimizer (fused Adam is off now)

    def fit(self, model, x=None, y=None, batch_size=None, validation_split=0.0, validation_data=None,
            validation_batch_size=None, shuffle=True, seed=None, sample_weight=None, callbacks=None,
            steps_per_epoch=None, **fit_kwargs):
        """``model.fit`` over all processes: the same call in every process, with the same data and the global
        ``batch_size``.

        The model's optimizer is wrapped with :meth:`optimizer` (once), the
        data and validation data are split across processes batch by batch,
        and weights start from process 0's. Returns ``model.fit``'s History
        (global values, the same on every process); only process 0 prints.

        Raises:
            ValueError: before any training, for a global batch smaller than the number of processes or data
                that differ in length between processes.
        """
        import math

        self._distribute_optimizer(model)
        from ..models import data as data_module

        if validation_split and (isinstance(x, ShardedBatches) or data_module.is_batch_source(x)):
            raise ValueError(
                "validation_split needs arrays; with a source of batches, pass validation_data. "
                f"Received: validation_split={validation_split} with x a {type(x).__name__}"
            )
        if validation_split and validation_data is None:
            if not 0.0 < validation_split < 1.0:
                raise ValueError(f"validation_split must be a float in [0, 1). Received: {validation_split!r}")
            split = int(math.floor(len(x) * (1.0 - validation_split)))
            validation_data = (x[split:], y[split:]) + (() if sample_weight is None else (sample_weight[split:],))
            x, y = x[:split], y[:split]
            sample_weight = None if sample_weight is None else sample_weight[:split]
        train = x if isinstance(x, ShardedBatches) else self.distribute_dataset(
            x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, seed=seed, steps=steps_per_epoch)
        val = validation_data
        if val is not None and not isinstance(val, ShardedBatches):
            if isinstance(val, (tuple, list)):
                vbs = validation_batch_size or batch_size or 32
                val = self.distribute_dataset(*val, batch_size=vbs, shuffle=False, training=False)
            else:
                val = self.distribute_dataset(val, shuffle=False, steps=fit_kwargs.pop("validation_steps", None),
                                              training=False)
        return model.fit(train, validation_data=val, callbacks=self.callbacks(callbacks), **fit_kwargs)

    def evaluate(self, model, x=None, y=None, batch_size=None, sample_weight=None, steps=None, callbacks=None,
                 **evaluate_kwargs):
        """``model.evaluate`` with the data split across processes; every process gets the global results."""
        data = x if isinstance(x, ShardedBatches) else self.distribute_dataset(
            x, y, sample_weight, batch_size=batch_size, shuffle=False, steps=steps, training=False)
        cbs = [c for c in self.callbacks(callbacks) if not isinstance(c, (SyncWeights, StopTogether))]
        if self.communicator.rank != 0:
            evaluate_kwargs["verbose"] = 0
        return model.evaluate(data, callbacks=cbs, **evaluate_kwargs)

    def __repr__(self):
        return f"<DataParallel processes={self.communicator.size}, process_id={self.communicator.rank}>"
