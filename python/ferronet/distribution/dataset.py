"""``ShardedBatches``: each process's share of every global batch, as a batch source for ``fit``.

Every process passes the same data and the *global* batch size. Each epoch
the sample order is drawn from a seed shared by all processes, so global
batch ``i`` holds the same samples everywhere; process ``r`` keeps the
``r``-th of ``size`` consecutive near-equal parts of it. One step of the
group therefore sees exactly the global batch a single process would, and
the gradient average (weighted by each process's share) is that batch's
mean gradient.

Sources of batches (a generator, or a ``PyDataset``-like object with
``__len__``/``__getitem__``) are sharded the same way: every process draws
the same global batch from its own copy of the source and keeps its part.
So the source must yield the same batches, in the same order, on every
process (seed its shuffling).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..models import data as data_module

__all__ = ["ShardedBatches"]


def _part(n, size, rank):
    """``(start, stop)`` of part ``rank`` when ``n`` rows are cut into ``size`` near-equal parts."""
    base, extra = divmod(n, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class ShardedBatches:
    """This process's part of each global batch of arrays or of a batch source (give it to ``fit``/``evaluate``).

    Args:
        x: inputs ``(samples, ...)``, the same on every process; or a batch source yielding
            ``(x, y)``/``(x, y, sample_weight)`` global batches.
        y: targets (None with a batch source).
        sample_weight: optional per-sample weights.
        batch_size: the global batch size (summed over processes; default 32). Not used with a source.
        shuffle: draw a new sample order each epoch (the same on every process).
        seed: seed of that order; default: drawn from ferronet's generator on process 0 and broadcast.
        steps: batches per epoch from a generator source (default: its length).
        strategy: the :class:`DataParallel` whose optimizer learns each step's share of the batch.
        training: whether batches feed optimizer steps (validation and evaluation data: False), so that
            reading one tells the optimizer this process's share of the batch.

    Raises:
        ValueError: before any training, if the global batch is smaller than the number of processes,
            or the processes hold data of different lengths or shapes.

    Example:
        Every process runs the same lines on the same data; with one process it holds whole batches,
        under ``mpiexec -n 4`` each holds 4 of the 16 samples of every batch:

        >>> from ferronet import distribution
        >>> batches = distribution.ShardedBatches(x, y, batch_size=16, seed=0)
        >>> len(batches), [a.shape for a in batches[0]]
        (4, [(16, 4), (16,)])
        >>> history = model.fit(batches, epochs=2, verbose=0)
        >>> sorted(history.history)
        ['accuracy', 'loss']
    """

    def __init__(self, x, y=None, sample_weight=None, batch_size=None, shuffle=True, seed=None, steps=None,
                 strategy=None, training=True):
        from .context import communicator

        self.strategy = strategy
        self.training = bool(training)
        self.comm = strategy.communicator if strategy is not None else communicator()
        size = self.comm.size
        self.epoch = 0
        self._source = None
        if data_module.is_batch_source(x):
            if y is not None or sample_weight is not None:
                raise ValueError("x is a source of (x, y) batches, so y and sample_weight must not be given. "
                                 f"Received: y={type(y).__name__}, sample_weight={type(sample_weight).__name__}")
            self._source = x
            self._steps = data_module.source_steps(x, steps, "steps")
            self._iter = None
            self._check_same([self._steps], "batches per epoch")
            return
        self.batch_size = 32 if batch_size is None else batch_size
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) \
                or self.batch_size < size:
            raise ValueError(
                f"The global batch_size must be an integer of at least the number of processes ({size}), so each "
                f"process gets a part of every batch. Received: batch_size={batch_size!r}"
            )
        self.batch_size = int(self.batch_size)
        self.x = data_module.as_array(x, "x")
        self.y = data_module.as_array(y, "y")
        if self.y is None:
            raise ValueError("y is required with arrays. Received: y=None")
        self.sw = data_module.as_array(sample_weight, "sample_weight")
        data_module.check_lengths(x=self.x, y=self.y, sample_weight=self.sw)
        n = len(self.x)
        self._check_same(_shape_record(self.x, self.y), "the samples or their shapes")
        full, tail = divmod(n, self.batch_size)
        self._steps = full + (1 if tail >= size else 0)
        if 0 < tail < size:
            warnings.warn(
                f"The last batch of each epoch would hold {tail} samples, fewer than the {size} processes: it is "
                f"skipped. Pick a batch_size whose remainder with {n} samples is 0 or at least {size}.",
                UserWarning,
                stacklevel=3,
            )
        self.n = n
        self.shuffle = bool(shuffle)
        if seed is None and self.shuffle:
            from ..utils import random as _random

            seed = int(self.comm.broadcast_value(float(_random.next_seed() % 2**52)))
        self.seed = seed
        self._order = self._draw_order()
        self._gather = {}

    def _check_same(self, values, what):
        table = self.comm.allgather(values)
        if not (table == table[0]).all():
            per = "; ".join(f"process {r}: {_describe(row)}" for r, row in enumerate(table))
            raise ValueError(
                f"Every process must pass the same data ({what} differ), so that the global batches match. "
                f"Received: {per}"
            )

    def _draw_order(self):
        if not self.shuffle:
            return None
        return np.random.default_rng([int(self.seed), self.epoch]).permutation(self.n)

    def __len__(self):
        return self._steps

    def _share(self, n_global):
        rank, size = self.comm.rank, self.comm.size
        start, stop = _part(n_global, size, rank)
        if self.strategy is not None and self.training:
            self.strategy._set_share((stop - start) / n_global)
        return start, stop

    def __getitem__(self, i):
        if not 0 <= i < self._steps:
            raise IndexError(f"batch index out of range. Received: {i} for {self._steps} batches")
        if self._source is not None:
            return self._from_source(i)
        b0 = i * self.batch_size
        b1 = min(self.n, b0 + self.batch_size)
        start, stop = self._share(b1 - b0)
        if self._order is None:
            idx = slice(b0 + start, b0 + stop)
            batch = (self.x[idx], self.y[idx])
            return batch if self.sw is None else batch + (self.sw[idx],)
        idx = self._order[b0 + start:b0 + stop]
        arrays = (self.x, self.y) if self.sw is None else (self.x, self.y, self.sw)
        return tuple(np.take(a, idx, axis=0, out=out) for a, out in zip(arrays, self._buffers(len(idx))))

    def _buffers(self, rows):
        """Reused gather buffers, one set per batch length (full batches and the last one): ``fit`` uses each
        batch before asking for the next, and fresh arrays would cost page faults every step."""
        bufs = self._gather.get(rows)
        if bufs is None:
            arrays = (self.x, self.y) if self.sw is None else (self.x, self.y, self.sw)
            bufs = self._gather[rows] = tuple(np.empty((rows,) + a.shape[1:], a.dtype) for a in arrays)
        return bufs

    def _from_source(self, i):
        src = self._source
        if hasattr(src, "__getitem__"):
            item = src[i]
        else:
            if self._iter is None:
                self._iter = iter(src)
            item = next(self._iter)
        parts = data_module.unpack_batch(item)
        n_global = len(parts[0])
        if n_global < self.comm.size:
            raise ValueError(
                f"Batch {i} of the source holds {n_global} samples, fewer than the {self.comm.size} processes. "
                f"Received: a batch of {n_global}"
            )
        start, stop = self._share(n_global)
        out = tuple(None if p is None else np.asarray(p)[start:stop] for p in parts)
        return out if out[2] is not None else out[:2]

    def on_epoch_end(self):
        """Next epoch's order (called by ``fit``); forwards to the source's ``on_epoch_end``."""
        self.epoch += 1
        if self._source is not None:
            hook = getattr(self._source, "on_epoch_end", None)
            if hook is not None:
                hook()
            return
        self._order = self._draw_order()


_RECORD = 16  # numbers per process in the shape check: sample count, then x and y row shapes


def _shape_record(x, y):
    """``[n, x.ndim, *x.shape[1:], y.ndim, *y.shape[1:]]`` padded to a fixed length (one allgather)."""
    rec = [len(x), x.ndim - 1, *x.shape[1:], y.ndim - 1, *y.shape[1:]]
    if len(rec) > _RECORD:
        rec = rec[:_RECORD]
    return rec + [-1] * (_RECORD - len(rec))


def _describe(row):
    values = [int(v) for v in row]
    if len(values) < _RECORD:
        return ", ".join(map(str, values))
    n, kx = values[0], values[1]
    xs = values[2:2 + kx]
    ky = values[2 + kx] if 2 + kx < len(values) else 0
    ys = values[3 + kx:3 + kx + ky]
    return f"{n} samples, x rows {tuple(xs)}, y rows {tuple(ys)}"
