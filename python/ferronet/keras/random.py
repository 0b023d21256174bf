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
    """Gaussian values with ``mean`` and ``stddev``.

    Example:
        >>> from ferronet.keras import random
        >>> a = random.normal((2, 3), seed=1)
        >>> a.shape, a.dtype.name, bool(np.all(a.numpy() == random.normal((2, 3), seed=1).numpy()))
        ((2, 3), 'float32', True)
        >>> z = random.normal((100_000,), mean=5.0, stddev=2.0, seed=0).numpy()
        >>> round(float(z.mean()), 1), round(float(z.std()), 1)
        (5.0, 2.0)
    """
    return _r.normal(shape, mean, stddev, _float(dtype), seed)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform values in ``[minval, maxval)``.

    Example:
        >>> from ferronet.keras import random
        >>> u = random.uniform((1000,), minval=-1.0, maxval=1.0, seed=0).numpy()
        >>> bool(u.min() >= -1.0 and u.max() < 1.0), u.dtype
        (True, dtype('float32'))
    """
    return _r.uniform(shape, minval, maxval, _float(dtype), seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Gaussian values redrawn until within two standard deviations of ``mean``.

    Example:
        >>> from ferronet.keras import random
        >>> t = random.truncated_normal((10_000,), stddev=0.5, seed=0).numpy()
        >>> bool(np.abs(t).max() <= 1.0)  # never beyond 2 * stddev
        True
    """
    return _r.truncated_normal(shape, mean, stddev, _float(dtype), seed)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in ``[minval, maxval)``.

    Example:
        >>> from ferronet.keras import random
        >>> d = random.randint((1000,), 1, 7, seed=0).numpy()  # dice rolls
        >>> d.dtype, sorted(set(d.tolist()))
        (dtype('int32'), [1, 2, 3, 4, 5, 6])
    """
    dt = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    if dt.kind not in "iu":
        raise ValueError(f"randint produces integers. Received: dtype={dtype!r}")
    if int(maxval) <= int(minval):
        raise ValueError(f"randint needs minval < maxval. Received: minval={minval}, maxval={maxval}")
    return _r.randint(shape, minval, maxval, dt, seed)


def shuffle(x, axis=0, seed=None):
    """A copy of ``x`` with its slices along ``axis`` in random order.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import random
        >>> x = fn.constant([[1, 1], [2, 2], [3, 3], [4, 4]])
        >>> s = random.shuffle(x, seed=0).numpy()  # rows move, each row stays whole
        >>> s.shape, sorted(s[:, 0].tolist()), bool(np.all(s[:, 0] == s[:, 1]))
        ((4, 2), [1, 2, 3, 4], True)
    """
    return _r.shuffle(x, seed=seed, axis=axis)


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zero each element with probability ``rate``, scale the others by ``1 / (1 - rate)`` (differentiable).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import random
        >>> y = random.dropout(fn.ones((1000,)), rate=0.25, seed=0).numpy()
        >>> np.unique(y), round(float(y.mean()), 1)  # kept values are 1 / 0.75
        (array([0.       , 1.3333334], dtype=float32), 1.0)
    """
    from ..tensor.nn_ops import dropout as _dropout

    return _dropout(inputs, rate, noise_shape=noise_shape, seed=seed)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """Class ids drawn from ``softmax(logits)`` row by row: ``(batch, num_samples)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.keras import random
        >>> logits = fn.constant([[0.0, 100.0], [100.0, 0.0]])  # row 0 picks class 1, row 1 class 0
        >>> random.categorical(logits, 3, seed=0).numpy()
        array([[1, 1, 1],
               [0, 0, 0]], dtype=int32)
    """
    return _r.categorical(logits, num_samples, dtype, seed)


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma-distributed values with concentration ``alpha`` (scale 1).

    Example:
        >>> from ferronet.keras import random
        >>> g = random.gamma((100_000,), alpha=2.0, seed=0).numpy()
        >>> bool(g.min() > 0), round(float(g.mean()), 1)  # the mean is alpha
        (True, 2.0)
    """
    return _wrap(_r._rng(seed).gamma(float(unwrap(alpha)), size=_r._shape(shape)).astype(_float(dtype)))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial counts of ``counts`` trials with success ``probabilities``.

    Example:
        >>> from ferronet.keras import random
        >>> k = random.binomial((100_000,), counts=10, probabilities=0.3, seed=0).numpy()
        >>> k.dtype, bool(k.min() >= 0 and k.max() <= 10), round(float(k.mean()), 1)  # the mean is 10 * 0.3
        (dtype('float32'), True, 3.0)
    """
    c, p = np.asarray(unwrap(as_tensor(counts))), np.asarray(unwrap(as_tensor(probabilities)))
    return _wrap(_r._rng(seed).binomial(c.astype(np.int64), p, size=_r._shape(shape)).astype(_float(dtype)))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta-distributed values in ``(0, 1)`` with shape parameters ``alpha`` and ``beta``.

    Example:
        >>> from ferronet.keras import random
        >>> b = random.beta((100_000,), alpha=2.0, beta=6.0, seed=0).numpy()
        >>> bool(b.min() > 0 and b.max() < 1), round(float(b.mean()), 2)  # the mean is 2 / (2 + 6)
        (True, 0.25)
    """
    a, b = np.asarray(unwrap(alpha), np.float64), np.asarray(unwrap(beta), np.float64)
    return _wrap(_r._rng(seed).beta(a, b, size=_r._shape(shape)).astype(_float(dtype)))
