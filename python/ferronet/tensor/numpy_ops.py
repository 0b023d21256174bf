"""NumPy-named ops with NumPy's semantics, differentiable (the core of ``keras.ops``).

Where NumPy and TensorFlow disagree these follow NumPy: ``split`` takes the
indices where sections start, ``tile`` pads ``reps`` with leading 1s,
``take`` and ``cumsum`` flatten when ``axis`` is None, ``dot`` contracts the
last axis of ``a`` with the second-to-last of ``b``, ``einsum`` accepts
implicit output subscripts.
"""

from __future__ import annotations

import numpy as np

from . import array_ops as A
from . import index_ops as I
from . import math_ops as M
from . import reduce_ops as R
from .core import as_tensor, unwrap

__all__ = ["moveaxis", "expand_dims", "hstack", "vstack", "split", "tile", "flip", "pad", "take", "dot", "einsum",
           "outer", "inner", "trace", "diagonal", "diag", "logaddexp", "nan_to_num", "norm", "cumsum"]


def _axes_list(axis):
    return list(axis) if isinstance(axis, (list, tuple)) else [axis]


def moveaxis(x, source, destination):
    """``x`` with the axes ``source`` moved to positions ``destination`` (the others keep their order).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import moveaxis
        >>> moveaxis(fn.zeros((2, 3, 4)), 0, -1).shape
        (3, 4, 2)
    """
    x = as_tensor(x)
    src = [int(a) % x.ndim for a in _axes_list(source)]
    dst = [int(a) % x.ndim for a in _axes_list(destination)]
    if len(src) != len(dst):
        raise ValueError(f"moveaxis needs as many destinations as sources. Received: source={source}, "
                         f"destination={destination}")
    perm = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        perm.insert(d, s)
    return A.transpose(x, perm)


def expand_dims(x, axis):
    """``x`` with new size-1 axes at the positions ``axis`` (an int or a tuple) of the result.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import expand_dims
        >>> expand_dims(fn.zeros((2, 3)), (0, 3)).shape
        (1, 2, 3, 1)
    """
    x = as_tensor(x)
    axes = _axes_list(axis)
    nd = x.ndim + len(axes)
    for a in sorted(int(a) % nd for a in axes):
        x = A.expand_dims(x, a)
    return x


def hstack(xs):
    """Join along axis 1 (axis 0 for 1-D tensors).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import hstack
        >>> hstack([fn.ones((2, 1)), fn.zeros((2, 2))]).numpy()
        array([[1., 0., 0.],
               [1., 0., 0.]], dtype=float32)
    """
    xs = [as_tensor(x) for x in xs]
    return A.concat(xs, 0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    """Join along axis 0, 1-D tensors becoming rows.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import vstack
        >>> vstack([fn.constant([1.0, 2.0]), fn.constant([3.0, 4.0])]).numpy()
        array([[1., 2.],
               [3., 4.]], dtype=float32)
    """
    return A.concat([A.reshape(t, (1, -1)) if t.ndim == 1 else t for t in map(as_tensor, xs)], 0)


def split(x, indices_or_sections, axis=0):
    """An int gives that many equal sections; a list gives the indices where sections start.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import split
        >>> [t.numpy() for t in split(fn.range(5.0), [2])]
        [array([0., 1.], dtype=float32), array([2., 3., 4.], dtype=float32)]
    """
    x = as_tensor(x)
    if isinstance(indices_or_sections, (int, np.integer)):
        return A.split(x, int(indices_or_sections), axis)
    n = x.shape[int(axis)]
    bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return A.split(x, [max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])], axis)


def tile(x, repeats):
    """``x`` repeated ``repeats`` times per axis; a short ``repeats`` gets leading 1s, a long one adds axes to ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import tile
        >>> tile(fn.constant([1.0, 2.0]), 2).numpy()
        array([1., 2., 1., 2.], dtype=float32)
    """
    x = as_tensor(x)
    reps = [int(r) for r in _axes_list(unwrap(repeats) if not isinstance(repeats, (list, tuple)) else repeats)]
    if len(reps) < x.ndim:
        reps = [1] * (x.ndim - len(reps)) + reps
    elif len(reps) > x.ndim:
        x = A.reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    return A.tile(x, reps)


def flip(x, axis=None):
    """``x`` reversed along ``axis`` (every axis when None).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import flip
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> flip(x, axis=1).numpy()
        array([[2., 1., 0.],
               [5., 4., 3.]], dtype=float32)
        >>> flip(x).numpy()
        array([[5., 4., 3.],
               [2., 1., 0.]], dtype=float32)
    """
    x = as_tensor(x)
    return A.reverse(x, list(range(x.ndim)) if axis is None else axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    """Constant padding with NumPy's ``pad_width`` forms: an int, ``(before, after)``, or one pair per axis.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import pad
        >>> pad(fn.constant([1.0, 2.0]), (1, 1)).numpy()
        array([0., 1., 2., 0.], dtype=float32)
        >>> pad(fn.constant([1.0, 2.0]), (0, 2), constant_values=9.0).numpy()
        array([1., 2., 9., 9.], dtype=float32)
    """
    x = as_tensor(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2), (x.ndim, 2))
    return A.pad(x, pw.tolist(), mode=mode, constant_values=0 if constant_values is None else constant_values)


def take(x, indices, axis=None):
    """Slices of ``x`` along ``axis`` (of the flattened ``x`` when None); negative indices count from the end.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import take
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> take(x, [0, 5]).numpy()
        array([0., 5.], dtype=float32)
        >>> take(x, [2, 0], axis=1).numpy()
        array([[2., 0.],
               [5., 3.]], dtype=float32)
    """
    x = as_tensor(x)
    if axis is None:
        x, axis = A.reshape(x, (-1,)), 0
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take indices must be integers. Received: dtype {idx.dtype}")
    return A.gather(x, np.where(idx < 0, idx + x.shape[int(axis)], idx), axis=axis)


def dot(a, b):
    """Products of scalars, inner products of vectors, ``matmul`` of matrices, else last axis by second-to-last.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import dot
        >>> float(dot(fn.constant([1.0, 2.0]), fn.constant([3.0, 4.0])))
        11.0
    """
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return M.multiply(a, b)
    if b.ndim <= 2:
        return A.matmul(a, b)
    return A.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def einsum(subscripts, *operands):
    """Einstein summation; without ``->`` the output takes the letters used once, in alphabetical order.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import einsum
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> einsum("ij->j", x).numpy()
        array([3., 5., 7.], dtype=float32)
    """
    s = subscripts.replace(" ", "")
    if "->" not in s:
        letters = [c for c in s if c.isalpha()]
        s += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return A.einsum(s, *[as_tensor(o) for o in operands])


def outer(a, b):
    """``a.ravel()[:, None] * b.ravel()[None, :]``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import outer
        >>> outer(fn.constant([1.0, 2.0]), fn.constant([1.0, 10.0, 100.0])).numpy()
        array([[  1.,  10., 100.],
               [  2.,  20., 200.]], dtype=float32)
    """
    return M.multiply(A.reshape(as_tensor(a), (-1, 1)), A.reshape(as_tensor(b), (1, -1)))


def inner(a, b):
    """Sum over the last axes of ``a`` and ``b`` (a product when one is a scalar).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import inner
        >>> float(inner(fn.constant([1.0, 2.0]), fn.constant([3.0, 4.0])))
        11.0
    """
    a, b = as_tensor(a), as_tensor(b)
    return M.multiply(a, b) if a.ndim == 0 or b.ndim == 0 else A.tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def diagonal(x, offset=0, axis1=0, axis2=1):
    """The ``offset`` diagonal of the ``(axis1, axis2)`` planes, as a new last axis.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import diagonal
        >>> diagonal(fn.reshape(fn.range(9.0), (3, 3))).numpy()
        array([0., 4., 8.], dtype=float32)
    """
    x = as_tensor(x)
    index = np.diagonal(np.arange(x.size).reshape(x.shape), offset, axis1, axis2)
    return A.getitem(A.reshape(x, (-1,)), index)


def trace(x, offset=0, axis1=0, axis2=1):
    """Sum of the ``offset`` diagonal of the ``(axis1, axis2)`` planes.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import trace
        >>> float(trace(fn.reshape(fn.range(9.0), (3, 3))))
        12.0
        >>> float(trace(fn.reshape(fn.range(9.0), (3, 3)), offset=1))
        6.0
    """
    return R.reduce_sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diag(x, k=0):
    """A square matrix with 1-D ``x`` on its ``k``-th diagonal, or the ``k``-th diagonal of 2-D ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import diag
        >>> diag(fn.constant([1.0, 2.0])).numpy()
        array([[1., 0.],
               [0., 2.]], dtype=float32)
        >>> diag(fn.reshape(fn.range(4.0), (2, 2))).numpy()
        array([0., 3.], dtype=float32)
    """
    x = as_tensor(x)
    if x.ndim != 1:
        return diagonal(x, k)
    i = np.arange(x.shape[0])
    n = x.shape[0] + abs(int(k))
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return I.scatter_nd(np.stack([rows, cols], -1), x, (n, n))


def logaddexp(a, b):
    """``log(exp(a) + exp(b))``, computed stably.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import logaddexp
        >>> round(float(logaddexp(fn.constant(1000.0), fn.constant(1000.0))), 4)
        1000.6932
    """
    m = A.stop_gradient(M.maximum(a, b))
    return M.add(m, M.log(M.add(M.exp(M.subtract(a, m)), M.exp(M.subtract(b, m)))))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    """NaN and infinities replaced (by 0 and the largest finite values unless given); finite entries pass gradients.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import nan_to_num
        >>> nan_to_num(fn.constant([np.nan, 1.0, np.inf]), posinf=5.0).numpy()
        array([0., 1., 5.], dtype=float32)
    """
    x = as_tensor(x)
    v = unwrap(x)
    return M.where(np.isfinite(v), x, np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf))


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0 or any p) and the Frobenius norm (``"fro"``) of matrices.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import norm
        >>> float(norm(fn.constant([3.0, 4.0])))
        5.0
        >>> float(norm(fn.constant([[1.0, 2.0], [2.0, 4.0]])))  # Frobenius
        5.0
    """
    x = as_tensor(x)
    if x.dtype.kind not in "fc":
        x = M.cast(x, np.float32)
    if isinstance(axis, (tuple, list)) and len(axis) == 2 and ord not in (None, "fro"):
        raise NotImplementedError(f"Matrix norms other than 'fro' are not supported. Received: ord={ord!r}")
    if ord in (None, "fro", 2):
        return R.norm(x, "euclidean", axis, keepdims)
    if ord == np.inf:
        return R.reduce_max(M.abs(x), axis, keepdims)
    if ord == -np.inf:
        return R.reduce_min(M.abs(x), axis, keepdims)
    if ord == 0:
        return R.reduce_sum(M.cast(M.not_equal(x, 0), x.dtype), axis, keepdims)
    if isinstance(ord, (int, float)):
        return M.power(R.reduce_sum(M.power(M.abs(x), float(ord)), axis, keepdims), 1.0 / float(ord))
    raise ValueError(f"Unsupported norm order. Received: ord={ord!r}")


def cumsum(x, axis=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when None).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.numpy_ops import cumsum
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> cumsum(x).numpy()
        array([ 0.,  1.,  3.,  6., 10., 15.], dtype=float32)
        >>> cumsum(x, axis=1).numpy()
        array([[ 0.,  1.,  3.],
               [ 3.,  7., 12.]], dtype=float32)
    """
    x = as_tensor(x)
    return R.cumsum(A.reshape(x, (-1,)), 0) if axis is None else R.cumsum(x, axis)
