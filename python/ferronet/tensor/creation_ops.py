"""Tensor constructors and shape queries of :mod:`ferronet.tensor.array_ops` (``tf.zeros``, ``tf.range``,
``tf.shape``...): new constant tensors, outside any gradient."""

from __future__ import annotations

import numpy as np

from .core import Tensor, _wrap, as_tensor, unwrap

__all__ = ["shape", "size", "rank", "zeros", "ones", "zeros_like", "ones_like", "fill", "eye", "range", "linspace"]


def _dt(dtype, default="float32"):
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype) or default)


def shape(x, out_type="int32"):
    """The shape as a 1-D int tensor (``tf.shape``).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.shape(x).numpy()
        array([2, 3], dtype=int32)
    """
    return _wrap(np.asarray(np.shape(unwrap(x)), dtype=_dt(out_type)))


def size(x, out_type="int32"):
    """The number of elements, as an int32 scalar tensor.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> int(fn.size(x))
        6
    """
    return _wrap(np.asarray(np.size(unwrap(x)), dtype=_dt(out_type)))


def rank(x):
    """The number of axes, as an int32 scalar tensor.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> int(fn.rank(x))
        2
    """
    return _wrap(np.asarray(np.ndim(unwrap(x)), dtype=np.int32))


def _shape_arg(s):
    if isinstance(s, (int, np.integer)):
        return (int(s),)
    return tuple(int(d) for d in np.asarray(unwrap(s)).reshape(-1)) if isinstance(s, Tensor) else tuple(
        int(unwrap(d)) for d in s)


def zeros(shape, dtype="float32"):
    """Zeros of ``shape`` (float32 unless ``dtype``).

    Example:
        >>> import ferronet as fn
        >>> fn.zeros((2, 3)).numpy()
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    return _wrap(np.zeros(_shape_arg(shape), _dt(dtype)))


def ones(shape, dtype="float32"):
    """Ones of ``shape`` (float32 unless ``dtype``).

    Example:
        >>> import ferronet as fn
        >>> fn.ones((2,), dtype="int32").numpy()
        array([1, 1], dtype=int32)
    """
    return _wrap(np.ones(_shape_arg(shape), _dt(dtype)))


def zeros_like(x, dtype=None):
    """Zeros shaped like ``x``, of its dtype unless ``dtype``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.zeros_like(x).numpy()
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    return _wrap(np.zeros(np.shape(unwrap(x)), _dt(dtype, unwrap(as_tensor(x)).dtype)))


def ones_like(x, dtype=None):
    """Ones shaped like ``x``, of its dtype unless ``dtype``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.ones_like(x, dtype="int32").numpy()
        array([[1, 1, 1],
               [1, 1, 1]], dtype=int32)
    """
    return _wrap(np.ones(np.shape(unwrap(x)), _dt(dtype, unwrap(as_tensor(x)).dtype)))


def fill(dims, value, dtype=None):
    """``value`` repeated to the shape ``dims`` (its dtype unless ``dtype``).

    Example:
        >>> import ferronet as fn
        >>> fn.fill((2, 2), 7.0).numpy()
        array([[7., 7.],
               [7., 7.]], dtype=float32)
    """
    v = as_tensor(value)
    return _wrap(np.full(_shape_arg(dims), unwrap(v), dtype=_dt(dtype, v.dtype)))


def eye(num_rows, num_columns=None, batch_shape=None, dtype="float32"):
    """Identity matrices ``num_rows x num_columns``, stacked to ``batch_shape`` when given (float32 by default).

    Example:
        >>> import ferronet as fn
        >>> fn.eye(2, 3).numpy()
        array([[1., 0., 0.],
               [0., 1., 0.]], dtype=float32)
        >>> fn.eye(2, batch_shape=(4,)).shape
        (4, 2, 2)
    """
    e = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=_dt(dtype))
    if batch_shape is not None:
        e = np.broadcast_to(e, tuple(batch_shape) + e.shape).copy()
    return _wrap(e)


def range(start, limit=None, delta=1, dtype=None):
    """``tf.range``: ints give int32, floats float32 (unless ``dtype``).

    Example:
        >>> import ferronet as fn
        >>> fn.range(5).numpy(), fn.range(1.0, 2.0, 0.25).numpy()
        (array([0, 1, 2, 3, 4], dtype=int32), array([1.  , 1.25, 1.5 , 1.75], dtype=float32))
    """
    if limit is None:
        start, limit = 0, start
    vals = [unwrap(v) for v in (start, limit, delta)]
    if dtype is None:
        dtype = "float32" if any(isinstance(v, float) or np.asarray(v).dtype.kind == "f" for v in vals) else "int32"
    return _wrap(np.arange(*vals).astype(_dt(dtype)))


def linspace(start, stop, num, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (float32 unless ``start`` is a float64 tensor).

    Example:
        >>> import ferronet as fn
        >>> fn.linspace(0.0, 1.0, 5).numpy()
        array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)
    """
    dt = np.float64 if np.asarray(unwrap(start)).dtype == np.float64 and not isinstance(start, float) else np.float32
    return _wrap(np.linspace(unwrap(start), unwrap(stop), int(num), axis=axis).astype(dt))
