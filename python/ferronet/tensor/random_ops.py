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
    """Seed every random draw of ferronet (``tf.random.set_seed``)."""
    _random.set_random_seed(int(seed))


def uniform(shape, minval=0.0, maxval=None, dtype="float32", seed=None):
    """Uniform values in ``[minval, maxval)`` (``maxval`` defaults to 1 for floats)."""
    dt = _dt(dtype)
    rng = _rng(seed)
    if dt.kind in "iu":
        if maxval is None:
            raise ValueError("uniform with an integer dtype needs maxval. Received: maxval=None")
        return _wrap(rng.integers(int(minval), int(maxval), size=_shape(shape)).astype(dt))
    maxval = 1.0 if maxval is None else maxval
    return _wrap(rng.uniform(float(unwrap(minval)), float(unwrap(maxval)), size=_shape(shape)).astype(dt))


def normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Gaussian values with ``mean`` and ``stddev``."""
    return _wrap((_rng(seed).standard_normal(_shape(shape)) * float(unwrap(stddev)) + float(unwrap(mean))).astype(
        _dt(dtype)))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype="float32", seed=None):
    """Gaussian values redrawn until within two standard deviations of the mean."""
    rng = _rng(seed)
    shape = _shape(shape)
    z = rng.standard_normal(shape)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _wrap((z * float(stddev) + float(mean)).astype(_dt(dtype)))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    return _wrap(_rng(seed).integers(int(minval), int(maxval), size=_shape(shape)).astype(_dt(dtype)))


def shuffle(value, seed=None, axis=0):
    """A copy of ``value`` with its slices along ``axis`` in random order."""
    a = np.array(unwrap(value), copy=True)
    _rng(seed).shuffle(a, axis=axis)
    return _wrap(a)


def categorical(logits, num_samples, dtype="int64", seed=None):
    """Class ids drawn from ``softmax(logits)`` row by row: ``(batch, num_samples)``."""
    z = np.asarray(unwrap(logits), dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    rng = _rng(seed)
    return _wrap(np.stack([rng.choice(p.shape[-1], size=int(num_samples), p=row) for row in p]).astype(_dt(dtype)))


class SeedGenerator:
    """Keras 3's ``keras.random.SeedGenerator``: a stream of seeds from one starting seed."""

    def __init__(self, seed=None, name=None):
        # without a seed, the stream starts from ferronet's global generator (repeatable after set_random_seed)
        self._rng = np.random.default_rng(int(seed) if seed is not None else _random.next_seed())
        self.name = name

    def next(self):
        return np.random.default_rng(self._rng.integers(2**63))
