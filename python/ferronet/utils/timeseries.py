"""``timeseries_dataset_from_array``: sliding windows over a series as batches for ``fit``, as Keras makes them."""

from __future__ import annotations

import numpy as np

from .dataset import PyDataset

__all__ = ["timeseries_dataset_from_array", "TimeseriesDataset"]


def _positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


class TimeseriesDataset(PyDataset):
    """The windows :func:`timeseries_dataset_from_array` cuts, batch by batch.

    ``len(ds)`` is the number of batches, ``ds[i]`` batch ``i`` as NumPy arrays (``sequences`` or
    ``(sequences, targets)``), and iterating yields the batches in order, so it goes straight to
    ``fit``, ``evaluate`` and ``predict``, as ``x`` or as ``validation_data``. ``take(n)`` keeps the first
    ``n`` batches, as ``tf.data`` does. With ``shuffle=True`` the windows are reshuffled after every epoch.

    Example:
        >>> import numpy as np
        >>> from ferronet.utils import timeseries_dataset_from_array
        >>> ds = timeseries_dataset_from_array(np.arange(20.0), None, sequence_length=5, batch_size=4)
        >>> len(ds), [batch.shape for batch in ds]
        (4, [(4, 5), (4, 5), (4, 5), (4, 5)])
        >>> print(next(iter(ds.take(1)))[1])  # the second window of the first batch
        [1. 2. 3. 4. 5.]
    """

    def __init__(self, data, targets, starts, offsets, batch_size, rng):
        super().__init__()
        self.data, self.targets, self.starts, self.offsets = data, targets, starts, offsets
        self.batch_size, self._rng, self._limit = batch_size, rng, None

    def _count(self):
        n = len(self.starts) if self.batch_size is None else -(-len(self.starts) // self.batch_size)
        return n if self._limit is None else min(n, self._limit)

    def __len__(self):
        return self._count()

    def __getitem__(self, index):
        n = self._count()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not -n <= index < n:
            raise IndexError(f"batch index out of range: the dataset has {n} batches. Received: {index!r}")
        index = int(index) % n
        if self.batch_size is None:
            starts = self.starts[index]
        else:
            starts = self.starts[index * self.batch_size:(index + 1) * self.batch_size]
        sequences = self.data[np.add.outer(starts, self.offsets)]
        return sequences if self.targets is None else (sequences, self.targets[starts])

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def take(self, count):
        """The first ``count`` batches (all of them for ``count=-1``) as a dataset of their own."""
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < -1:
            raise ValueError(f"count must be -1 or a non-negative integer. Received: count={count!r}")
        taken = TimeseriesDataset(self.data, self.targets, self.starts, self.offsets, self.batch_size, None)
        taken._limit = None if count == -1 else int(count)
        return taken

    def on_epoch_end(self):
        if self._rng is not None:
            self._rng.shuffle(self.starts)


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """Windows of ``sequence_length`` steps cut from ``data``, in batches, with Keras' arguments and windows.

    Window ``k`` starts at ``p = start_index + k * sequence_stride`` and holds
    ``data[p], data[p + sampling_rate], ...`` (``sequence_length`` steps); its target is ``targets[p]``
    (so to predict the step after a window of 10, pass ``data[:-10]`` and ``targets=data[10:]``). Windows
    that would run past ``end_index`` are not made.

    Args:
        data: array ``(steps, ...)``; a window is ``(sequence_length, ...)``.
        targets: array with one target per step of ``data`` (at least), or None for windows alone.
        sequence_length: steps per window.
        sequence_stride: steps between the starts of successive windows.
        sampling_rate: steps between the samples within a window.
        batch_size: windows per batch (the last may be smaller); None yields single windows.
        shuffle: shuffle the windows (with ``seed``), and again after each epoch of ``fit``. The windows are
            Keras'; their shuffled order is NumPy's, not ``tf.data``'s.
        seed: seed of the shuffle.
        start_index, end_index: use only ``data[start_index:end_index]`` (and the same rows of
            ``targets``), e.g. to cut training and validation windows from one series.

    Returns:
        A :class:`TimeseriesDataset` of NumPy batches: ``(sequences, targets)``, or ``sequences`` without
        targets; sequences are ``(batch, sequence_length, ...)``.

    Raises:
        ValueError: a non-positive length, stride or rate, a stride or rate not below ``len(data)``, or
            ``start_index``/``end_index`` outside the data or out of order.

    Example:
        >>> import numpy as np
        >>> from ferronet.utils import timeseries_dataset_from_array
        >>> series = np.arange(10.0)
        >>> ds = timeseries_dataset_from_array(series[:-3], series[3:], sequence_length=3, batch_size=4)
        >>> len(ds)
        2
        >>> x, y = ds[0]
        >>> x
        array([[0., 1., 2.],
               [1., 2., 3.],
               [2., 3., 4.],
               [3., 4., 5.]])
        >>> y  # the step after each window
        array([3., 4., 5., 6.])
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"data must be an array of steps. Received: a scalar data={data!r}")
    sequence_length = _positive("sequence_length", sequence_length)
    for name, value in (("sequence_stride", sequence_stride), ("sampling_rate", sampling_rate)):
        if _positive(name, value) >= len(data):
            raise ValueError(f"{name} must be lower than the length of the data ({len(data)}). "
                             f"Received: {name}={value}")
    if batch_size is not None:
        batch_size = _positive("batch_size", batch_size)
    start = 0 if start_index is None else int(start_index)
    end = len(data) if end_index is None else int(end_index)
    if start_index is not None and not 0 <= start < len(data):
        raise ValueError(f"start_index must be 0 or greater and lower than the length of the data ({len(data)}). "
                         f"Received: start_index={start_index}")
    if end_index is not None and not (max(start, 0) < end < len(data)):
        raise ValueError(f"end_index must be higher than start_index ({start}) and lower than the length of the "
                         f"data ({len(data)}). Received: end_index={end_index}")
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        if targets.ndim == 0:
            raise ValueError(f"targets must be an array with one target per step. Received: a scalar {targets!r}")
        count = min(count, len(targets) - start)
    starts = start + np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    rng = None
    if shuffle:
        rng = np.random.RandomState(np.random.randint(1_000_000) if seed is None else seed)
        rng.shuffle(starts)
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
    return TimeseriesDataset(data, targets, starts, offsets, batch_size, rng)
