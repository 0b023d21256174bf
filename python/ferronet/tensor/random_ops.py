"""Random tensors (``tf.random`` / ``keras.random``), drawn from ferronet's global generator.

``ferronet.utils.set_random_seed(s)`` (also ``tf.random.set_seed`` and
``keras.utils.set_random_seed``) makes them repeatable; an explicit ``seed``
gives the same draw on every call, as a stateless op.
"""

from __future__ import annotations

import numpy as np

from ..utils import random as _random
from .core import _wrap, unwrap

__all__ = ["uniform", "normal", "truncated_normal", "shuffle", "categorical", "set_seed", "randint", "SeedGenerator"]


def _rng(seed):
    if seed is None:
        return _random.generator()
    if isinstance(seed, SeedGenerator):
        return seed.next()
    return np.random.default_rng(int(seed))


def _dt(dtype):
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype) or "float32")


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(unwrap(d)) for d in unwrap(shape))


def set_seed(seed):
    """Seed every random draw of ferronet (``tf.random.set_seed``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import set_seed
        >>> set_seed(7)
        >>> a = fn.tensor.random_ops.normal((3,)).numpy()
        >>> set_seed(7)
        >>> bool(np.array_equal(a, fn.tensor.random_ops.normal((3,)).numpy()))
        True
    """
    _random.set_random_seed(int(seed))


def uniform(shape, minval=0.0, maxval=None, dtype="float32", seed=None):
    """Uniform values in ``[minval, maxval)`` (``maxval`` defaults to 1 for floats).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import uniform
        >>> u = uniform((2, 3), minval=0.0, maxval=1.0, seed=1)
        >>> u.shape, u.dtype, bool(fn.reduce_all(u < 1.0))
        ((2, 3), dtype('float32'), True)
    """
    dt = _dt(dtype)
    rng = _rng(seed)
    if dt.kind in "iu":
        if maxval is None:
            raise ValueError("uniform with an integer dtype needs maxval. Received: maxval=None")
        return _wrap(rng.integers(int(minval), int(maxval), size=_shape(shape)).astype(dt))
    maxval = 1.0 if maxval is None else maxval
    return _wrap(rng.uniform(float(unwrap(minval)), float(unwrap(maxval)), size=_shape(shape)).astype(dt))


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Gaussian values with ``mean`` and ``stddev``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import normal
        >>> z = normal((1000,), mean=2.0, stddev=0.5, seed=1)
        >>> z.shape, round(float(fn.reduce_mean(z)), 1)
        ((1000,), 2.0)
    """
    return _wrap((_rng(seed).standard_normal(_shape(shape)) * float(unwrap(stddev)) + float(unwrap(mean))).astype(
        _dt(dtype)))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Gaussian values redrawn until within two standard deviations of the mean.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import truncated_normal
        >>> z = truncated_normal((1000,), stddev=1.0, seed=1)
        >>> bool(fn.reduce_max(fn.abs(z)) <= 2.0)
        True
    """
    rng = _rng(seed)
    shape = _shape(shape)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _wrap((z * float(stddev) + float(mean)).astype(_dt(dtype)))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``.

    Example:
        >>> from ferronet.tensor.random_ops import randint
        >>> r = randint((100,), minval=0, maxval=3, seed=1)
        >>> r.dtype, sorted(set(r.numpy().tolist()))
        (dtype('int32'), [0, 1, 2])
    """
    return _wrap(_rng(seed).integers(int(minval), int(maxval), size=_shape(shape)).astype(_dt(dtype)))


def shuffle(value, seed=None, axis=0):
    """A copy of ``value`` with its slices along ``axis`` in random order.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import shuffle
        >>> s = shuffle(fn.range(5), seed=1)
        >>> sorted(s.numpy().tolist())
        [0, 1, 2, 3, 4]
    """
    a = np.array(unwrap(value), copy=True)
    _rng(seed).shuffle(a, axis=axis)
    return _wrap(a)


def categorical(logits, num_samples, dtype="int64", seed=None):
    """Class ids drawn from ``softmax(logits)`` row by row: ``(batch, num_samples)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.random_ops import categorical
        >>> ids = categorical(fn.constant([[0.0, 100.0], [100.0, 0.0]]), num_samples=3, seed=1)
        >>> ids.numpy()
        array([[1, 1, 1],
               [0, 0, 0]])
    """
    z = np.asarray(unwrap(logits), dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rng = _rng(seed)
    return _wrap(np.stack([rng.choice(p.shape[-1], size=int(num_samples), p=row) for row in p]).astype(_dt(dtype)))


class SeedGenerator:
    """Keras 3's ``keras.random.SeedGenerator``: a stream of seeds from one starting seed.

    Example:
        >>> from ferronet.tensor.random_ops import SeedGenerator
        >>> gen = SeedGenerator(seed=42)
        >>> a, b = gen.next(), gen.next()
        >>> bool(np.any(np.asarray(a) != np.asarray(b)))
        True
    """

    def __init__(self, seed=None, name=None):
        # without a seed, the stream starts from ferronet's global generator (repeatable after set_random_seed)
        self._rng = np.random.default_rng(int(seed) if seed is not None else _random.next_seed())
        self.name = name

    def next(self):
        return np.random.default_rng(self._rng.integers(2**63))
