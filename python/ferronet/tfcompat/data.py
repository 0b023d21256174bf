"""``tf.data.Dataset`` for in-memory data: slices, shuffle, batch, map, repeat, take, prefetch.

A dataset is a recipe: each iteration (each epoch of ``fit``) runs it again,
so ``shuffle`` reshuffles every epoch unless ``reshuffle_each_iteration=False``.
``fit``, ``evaluate`` and ``predict`` take a batched dataset directly.

Example:
    >>> import numpy as np, ferronet as tf
    >>> ds = tf.data.Dataset.from_tensor_slices((np.arange(5.0), np.arange(5))).batch(2)
    >>> [tuple(b.shape for b in batch) for batch in ds]
    [((2,), (2,)), ((2,), (2,)), ((1,), (1,))]
"""

from __future__ import annotations

import math
import types as _types

import numpy as np

from ..tensor.core import Tensor, _wrap, unwrap

__all__ = ["Dataset", "AUTOTUNE", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY"]

AUTOTUNE = -1
#: What :meth:`Dataset.cardinality` returns for an endless dataset (``repeat()``).
INFINITE_CARDINALITY = -1
#: What :meth:`Dataset.cardinality` returns when the number of elements is not known before iterating (``filter``).
UNKNOWN_CARDINALITY = -2
experimental = _types.SimpleNamespace(AUTOTUNE=AUTOTUNE, INFINITE_CARDINALITY=INFINITE_CARDINALITY,
                                      UNKNOWN_CARDINALITY=UNKNOWN_CARDINALITY)
_ENDLESS = math.inf  # the length of an endless dataset; None is an unknown one


def _map_structure(fn, s):
    if isinstance(s, tuple):
        return tuple(_map_structure(fn, v) for v in s)
    if isinstance(s, list):
        return [_map_structure(fn, v) for v in s]
    if isinstance(s, dict):
        return {k: _map_structure(fn, v) for k, v in s.items()}
    return fn(s)


def _leaves(s):
    if isinstance(s, (tuple, list)):
        return [x for v in s for x in _leaves(v)]
    if isinstance(s, dict):
        return [x for k in s for x in _leaves(s[k])]
    return [s]


class Dataset:
    """A re-iterable pipeline of elements (TensorFlow's ``tf.data.Dataset``, in memory).

    Build one with :meth:`from_tensor_slices` (or :meth:`range`, :meth:`zip`...),
    chain transformations, and iterate it or give it to ``fit``.

    Example:
        >>> import ferronet as tf
        >>> x = np.arange(12.0, dtype="float32").reshape(6, 2)
        >>> y = np.array([0, 1, 0, 1, 0, 1])
        >>> ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(6, seed=0).batch(4)
        >>> ds.cardinality(), [xb.shape for xb, yb in ds]
        (2, [(4, 2), (2, 2)])
        >>> model = tf.Sequential([tf.Input((2,)), tf.layers.Dense(2, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        >>> len(model.fit(ds, epochs=3, verbose=0).history["loss"])
        3
    """

    def __init__(self, make, length):
        self._make = make          # () -> iterator over this epoch's elements
        self._length = length      # number of elements, _ENDLESS, or None when unknown
        self._epoch = None

    # ----------------------------------------------------------- construction
    @staticmethod
    def from_tensor_slices(tensors):
        """One element per row of ``tensors`` (an array, or a tuple/dict of arrays with one first dimension).

        Raises:
            ValueError: when the arrays' first dimensions differ.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.from_tensor_slices({"a": np.arange(3), "b": np.ones((3, 2))})
            >>> [sorted(e) for e in ds][0], next(iter(ds))["b"].shape
            (['a', 'b'], (2,))
        """
        arrays = _map_structure(lambda a: np.asarray(unwrap(a)), tensors)
        lengths = {len(a) if a.ndim else None for a in _leaves(arrays)}
        if len(lengths) != 1 or None in lengths:
            raise ValueError("from_tensor_slices needs arrays with one common first dimension. Received: first "
                             f"dimensions {sorted(str(n) for n in lengths)}")
        n = lengths.pop()
        return Dataset(lambda: (_map_structure(lambda a: _wrap(a[i]), arrays) for i in range(n)), n)

    @staticmethod
    def from_tensors(tensors):
        """A dataset of one element: ``tensors`` whole.

        Example:
            >>> import ferronet as tf
            >>> [e.shape for e in tf.data.Dataset.from_tensors(np.zeros((3, 2)))]
            [(3, 2)]
        """
        return Dataset(lambda: iter([_map_structure(lambda a: _wrap(np.asarray(unwrap(a))), tensors)]), 1)

    @staticmethod
    def range(*args):
        """int64 scalars as Python's ``range(*args)`` gives them.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(1, 8, 3)
            >>> [int(e) for e in ds], next(iter(ds)).dtype
            ([1, 4, 7], dtype('int64'))
        """
        r = range(*args)
        return Dataset(lambda: (_wrap(np.asarray(i, np.int64)) for i in r), len(r))

    @staticmethod
    def zip(*datasets):
        """Elements of several datasets side by side, as tuples (as long as the shortest).

        Example:
            >>> import ferronet as tf
            >>> a = tf.data.Dataset.range(3)
            >>> b = tf.data.Dataset.from_tensor_slices(np.array([10, 20]))
            >>> [(int(i), int(j)) for i, j in tf.data.Dataset.zip((a, b))]
            [(0, 10), (1, 20)]
        """
        if len(datasets) == 1 and isinstance(datasets[0], (tuple, list)):
            datasets = tuple(datasets[0])
        lengths = [d._length for d in datasets]
        n = None if None in lengths else min(lengths)
        return Dataset(lambda: zip(*[d._make() for d in datasets]), n)

    # ----------------------------------------------------------- transformations
    def enumerate(self, start=0):
        """``(index, element)`` pairs, the index an int64 tensor.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.from_tensor_slices(np.array([5.0, 6.0])).enumerate(start=1)
            >>> [(int(i), float(v)) for i, v in ds]
            [(1, 5.0), (2, 6.0)]
        """
        parent = self
        return Dataset(lambda: ((_wrap(np.asarray(i, np.int64)), it) for i, it in enumerate(parent._make(), start)),
                       self._length)

    def concatenate(self, dataset):
        """The elements of this dataset, then those of ``dataset``.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(2).concatenate(tf.data.Dataset.range(5, 7))
            >>> [int(e) for e in ds], ds.cardinality()
            ([0, 1, 5, 6], 4)
        """
        parent = self
        n = None if self._length is None or dataset._length is None else self._length + dataset._length  # inf + n
        return Dataset(lambda: (it for d in (parent, dataset) for it in d._make()), n)

    def unbatch(self):
        """Batches split back into their rows.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.from_tensor_slices(np.arange(6).reshape(3, 2)).unbatch()
            >>> [int(e) for e in ds]
            [0, 1, 2, 3, 4, 5]
        """
        parent = self

        def make():
            for batch in parent._make():
                arrays = _map_structure(lambda t: np.asarray(unwrap(t)), batch)
                for i in range(len(_leaves(arrays)[0])):
                    yield _map_structure(lambda a: _wrap(a[i]), arrays)

        return Dataset(make, None)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=True):
        """Elements in random order (a full shuffle when ``buffer_size`` covers the dataset, else a buffered one).

        Each iteration (each epoch) draws a new order unless ``reshuffle_each_iteration=False``.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(5).shuffle(5, seed=1)
            >>> first = [int(e) for e in ds]
            >>> sorted(first), first == [int(e) for e in ds.shuffle(5, seed=1, reshuffle_each_iteration=False)]
            ([0, 1, 2, 3, 4], False)
        """
        from ..utils import random as _random

        buffer_size = int(buffer_size)
        if buffer_size < 1:
            raise ValueError(f"buffer_size must be positive. Received: buffer_size={buffer_size}")
        base = np.random.default_rng(seed if seed is not None else _random.next_seed())
        fixed = None if reshuffle_each_iteration else int(base.integers(2**63))
        parent = self

        def make():
            rng = np.random.default_rng(fixed if fixed is not None else int(base.integers(2**63)))
            buf = []
            for item in parent._make():
                buf.append(item)
                if len(buf) >= buffer_size:
                    yield buf.pop(int(rng.integers(len(buf))))
            while buf:
                yield buf.pop(int(rng.integers(len(buf))))

        return Dataset(make, self._length)

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None, deterministic=None):
        """Consecutive elements stacked into batches of ``batch_size`` (the last one smaller unless dropped).

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(5)
            >>> [b.numpy().tolist() for b in ds.batch(2)], ds.batch(2, drop_remainder=True).cardinality()
            ([[0, 1], [2, 3], [4]], 2)
        """
        batch_size = int(batch_size)
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive. Received: batch_size={batch_size}")
        parent = self

        def stack(items):
            first = items[0]
            if isinstance(first, (tuple, list)):
                return type(first)(stack([it[k] for it in items]) for k in range(len(first)))
            if isinstance(first, dict):
                return {k: stack([it[k] for it in items]) for k in first}
            return _wrap(np.stack([np.asarray(unwrap(it)) for it in items]))

        def make():
            items = []
            for item in parent._make():
                items.append(item)
                if len(items) == batch_size:
                    yield stack(items)
                    items = []
            if items and not drop_remainder:
                yield stack(items)

        n = self._length
        length = n if n in (None, _ENDLESS) else (n // batch_size if drop_remainder else -(-n // batch_size))
        return Dataset(make, length)

    def map(self, map_func, num_parallel_calls=None, deterministic=None):
        """``map_func`` applied to each element (a tuple element is passed as separate arguments).

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.from_tensor_slices((np.array([1.0, 2.0]), np.array([0, 1])))
            >>> [(float(x), int(y)) for x, y in ds.map(lambda x, y: (x * 10.0, y))]
            [(10.0, 0), (20.0, 1)]
        """
        parent = self

        def make():
            for item in parent._make():
                yield map_func(*item) if isinstance(item, tuple) else map_func(item)

        return Dataset(make, self._length)

    def filter(self, predicate):
        """The elements for which ``predicate`` is true (the cardinality becomes unknown, -2).

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(6).filter(lambda i: i % 2 == 0)
            >>> [int(e) for e in ds], ds.cardinality()
            ([0, 2, 4], -2)
        """
        parent = self
        return Dataset(lambda: (it for it in parent._make() if bool(predicate(*it) if isinstance(it, tuple)
                                                                     else predicate(it))), None)

    def repeat(self, count=None):
        """The dataset ``count`` times over (forever when None or -1, as in TensorFlow).

        Example:
            >>> import ferronet as tf
            >>> [int(e) for e in tf.data.Dataset.range(2).repeat(3)]
            [0, 1, 0, 1, 0, 1]
            >>> [int(e) for e in tf.data.Dataset.range(2).repeat().take(5)]  # endless, cut by take
            [0, 1, 0, 1, 0]
        """
        if count is not None and int(count) < 0:
            count = None
        parent = self

        def make():
            k = 0
            while count is None or k < int(count):
                yield from parent._make()
                k += 1

        n = self._length
        if n == 0 or count == 0:
            return Dataset(make, 0)
        return Dataset(make, _ENDLESS if count is None else None if n is None else n * int(count))

    def take(self, count):
        """The first ``count`` elements (all of them when ``count`` is -1, as in TensorFlow).

        Example:
            >>> import ferronet as tf
            >>> [int(e) for e in tf.data.Dataset.range(10).take(3)], tf.data.Dataset.range(4).take(-1).cardinality()
            ([0, 1, 2], 4)
        """
        count = int(count)
        if count < 0:
            return self
        parent = self

        def make():
            for i, item in zip(range(count), parent._make()):
                yield item

        n = self._length
        return Dataset(make, count if n is None else min(n, count))  # an endless dataset: count

    def skip(self, count):
        """All but the first ``count`` elements.

        Example:
            >>> import ferronet as tf
            >>> [int(e) for e in tf.data.Dataset.range(5).skip(3)]
            [3, 4]
        """
        parent = self
        count = int(count)

        def make():
            it = parent._make()
            for _ in zip(range(count), it):
                pass
            yield from it

        n = self._length
        return Dataset(make, n if n in (None, _ENDLESS) else max(0, n - count))

    def prefetch(self, buffer_size=None):
        """Accepted for compatibility: the data is in memory already.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(3)
            >>> ds.prefetch(tf.data.AUTOTUNE) is ds
            True
        """
        return self

    def cache(self, filename=""):
        """Accepted for compatibility: the data is in memory already.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(3)
            >>> ds.cache() is ds
            True
        """
        return self

    # ----------------------------------------------------------- iteration
    def __iter__(self):
        return iter(self._make())

    def as_numpy_iterator(self):
        """The elements with NumPy arrays in place of tensors.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.from_tensor_slices((np.eye(2, dtype="float32"), np.array([3, 4])))
            >>> list(ds.as_numpy_iterator())[1]
            (array([0., 1.], dtype=float32), array(4))
        """
        return (_map_structure(lambda t: np.asarray(unwrap(t)) if isinstance(t, Tensor) else t, it)
                for it in self._make())

    def cardinality(self):
        """The number of elements: -1 (:data:`INFINITE_CARDINALITY`) for an endless dataset, -2
        (:data:`UNKNOWN_CARDINALITY`) when it is not known before iterating (after ``filter``).

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(10)
            >>> ds.cardinality(), ds.batch(4).cardinality(), ds.repeat().cardinality()
            (10, 3, -1)
            >>> ds.filter(lambda i: i > 4).cardinality() == tf.data.UNKNOWN_CARDINALITY
            True
        """
        if self._length is None:
            return UNKNOWN_CARDINALITY
        return INFINITE_CARDINALITY if self._length == _ENDLESS else int(self._length)

    def __len__(self):
        if self._length is None or self._length == _ENDLESS:
            raise TypeError("The length of this dataset is unknown (repeat() without a count or filter()). "
                            "Received: a dataset of "
                            f"{'infinite' if self._length else 'unknown'} cardinality; give steps_per_epoch to fit")
        return int(self._length)

    # fit/evaluate/predict read a dataset like keras.utils.PyDataset: batch 0, 1, 2... of this epoch, then
    # on_epoch_end(). Batches are drawn as they are asked for, so an endless dataset (repeat()) with
    # steps_per_epoch works; going back to an earlier batch starts the epoch again.
    def __getitem__(self, i):
        i = int(i)
        if self._epoch is None or i == 0 or i < self._epoch[1] - 1:
            self._epoch = [iter(self._make()), 0, None]  # iterator, batches drawn, last batch
        state = self._epoch
        while state[1] <= i:
            try:
                state[2] = next(state[0])
            except StopIteration:
                raise IndexError(f"The dataset has {state[1]} elements. Received: index {i}") from None
            state[1] += 1
        return state[2]

    def on_epoch_end(self):
        """Start the next reading by index (what ``fit`` does) from the first element again.

        Example:
            >>> import ferronet as tf
            >>> ds = tf.data.Dataset.range(3)
            >>> int(ds[0]), int(ds[1])
            (0, 1)
            >>> ds.on_epoch_end()
            >>> int(ds[0])
            0
        """
        self._epoch = None

    def __repr__(self):
        return f"<Dataset cardinality={self.cardinality()}>"
