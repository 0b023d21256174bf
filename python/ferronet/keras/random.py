"""``keras.random``: random tensors with Keras 3's signatures and seeding.

``seed`` may be None (ferronet's global generator, seeded by
``keras.utils.set_random_seed``), an int (the same draw on every call) or a
:class:`SeedGenerator` (a reproducible stream: each call draws anew).
Float results default to ``keras.backend.floatx()``.

Example:
    >>> from ferronet.keras import random
    >>> seeds = random.SeedGenerator(1337)
    >>> eps = random.normal((4, 2), seed=seeds)
    >>> eps.shape, eps.dtype.name
    ((4, 2), 'float32')
"""

from __future__ import annotations

import numpy as np

from ..tensor import random_ops as _r
from ..tensor.core import _wrap, as_tensor, unwrap
from ..tensor.random_ops import SeedGenerator  # noqa: F401
from . import backend as _backend

__all__ = ["normal", "uniform", "truncated_normal", "randint", "shuffle", "dropout", "categorical", "SeedGenerator",
           "gamma", "binomial", "beta"]


def _float(dtype):
    dt = np.dtype(getattr(dtype, "as_numpy_dtype", dtype) or _backend.floatx())
    if dt.kind != "f":
        raise ValueError(f"This random draw produces floats. Received: dtype={dtype!r}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian values with ``mean`` and ``stddev``."""
    return _r.normal(shape, mean, stddev, _float(dtype), seed)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform values in ``[minval, maxval)``."""
    return _r.uniform(shape, minval, maxval, _float(dtype), seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian values redrawn until within two standard deviations of ``mean``."""
    return _r.truncated_normal(shape, mean, stddev, _float(dtype), seed)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``."""
    dt = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    if dt.kind not in "iu":
        raise ValueError(f"randint produces integers. Received: dtype={dtype!r}")
    if int(maxval) <= int(minval):
        raise ValueError(f"randint needs minval < maxval. Received: minval={minval}, maxval={maxval}")
    return _r.randint(shape, minval, maxval, dt, seed)


def shuffle(x, axis=0, seed=None):
    """A copy of ``x`` with its slices along ``axis`` in random order."""
    return _r.shuffle(x, seed=seed, axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each element with probability ``rate``, scale the others by ``1 / (1 - rate)`` (differentiable)."""
    from ..tensor.nn_ops import dropout as _dropout

    return _dropout(inputs, rate, noise_shape=noise_shape, seed=seed)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Class ids drawn from ``softmax(logits)`` row by row: ``(batch, num_samples)``."""
    return _r.categorical(logits, num_samples, dtype, seed)


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma-distributed values with concentration ``alpha`` (scale 1)."""
    return _wrap(_r._rng(seed).gamma(float(unwrap(alpha)), size=_r._shape(shape)).astype(_float(dtype)))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial counts of ``counts`` trials with success ``probabilities``."""
    c, p = np.asarray(unwrap(as_tensor(counts))), np.asarray(unwrap(as_tensor(probabilities)))
    return _wrap(_r._rng(seed).binomial(c.astype(np.int64), p, size=_r._shape(shape)).astype(_float(dtype)))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta-distributed values."""
    a, b = np.asarray(unwrap(alpha), np.float64), np.asarray(unwrap(beta), np.float64)
    return _wrap(_r._rng(seed).beta(a, b, size=_r._shape(shape)).astype(_float(dtype)))
