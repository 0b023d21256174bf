"""Index-driven ops built on differentiable gathers and scatters.

``take_along_axis``, ``gather_nd``, ``boolean_mask``, ``scatter_nd``,
``sort`` and ``top_k`` move values by integer indices, so their gradients are
the matching scatter-adds (through :func:`~.array_ops.getitem`); ``argsort``,
``sequence_mask`` and ``meshgrid``'s index grids have none.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from . import array_ops as A
from .core import _wrap, as_tensor, unwrap

__all__ = ["take_along_axis", "gather_nd", "boolean_mask", "scatter_nd", "sort", "argsort", "top_k", "meshgrid",
           "sequence_mask", "add_n", "tensor_scatter_nd_update", "tensor_scatter_nd_add"]


def _int_indices(indices, name):
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name} indices must be integers. Received: dtype {idx.dtype}")
    return idx


def take_along_axis(x, indices, axis=None):
    """``np.take_along_axis``: ``out[..., i, ...] = x[..., indices[..., i, ...], ...]`` along ``axis``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.index_ops import take_along_axis
        >>> take_along_axis(fn.constant([[10.0, 20.0], [30.0, 40.0]]), np.array([[1], [0]]), axis=1).numpy()
        array([[20.],
               [30.]], dtype=float32)
    """
    x = as_tensor(x)
    idx = _int_indices(indices, "take_along_axis")
    if axis is None:
        x, axis = A.reshape(x, (-1,)), 0
    axis = int(axis) % x.ndim
    if idx.ndim != x.ndim:
        raise ShapeError(f"take_along_axis needs indices of the same rank as x ({x.ndim}). "
                         f"Received: indices.shape={idx.shape}, x.shape={x.shape}")
    shape = np.broadcast_shapes(tuple(1 if i == axis else d for i, d in enumerate(x.shape)),
                                tuple(1 if i == axis else d for i, d in enumerate(idx.shape)))
    x = A.broadcast_to(x, tuple(x.shape[axis] if i == axis else d for i, d in enumerate(shape)))
    idx = np.broadcast_to(idx, tuple(idx.shape[axis] if i == axis else d for i, d in enumerate(shape)))
    grids = list(np.ogrid[tuple(slice(n) for n in idx.shape)])
    grids[axis] = idx
    return A.getitem(x, tuple(grids))


def gather_nd(params, indices, batch_dims=0):
    """``tf.gather_nd``: the last axis of ``indices`` addresses the leading axes of ``params``.

    Example:
        >>> import ferronet as fn
        >>> fn.gather_nd(fn.constant([[10.0, 20.0], [30.0, 40.0]]), np.array([[0, 1], [1, 0]])).numpy()
        array([20., 30.], dtype=float32)
    """
    if batch_dims:
        raise NotImplementedError(f"gather_nd with batch_dims is not supported. Received: batch_dims={batch_dims}")
    params = as_tensor(params)
    idx = _int_indices(indices, "gather_nd")
    if idx.shape[-1] > params.ndim:
        raise ShapeError(f"gather_nd: index depth {idx.shape[-1]} exceeds the rank of params {params.ndim}. "
                         f"Received: indices.shape={idx.shape}, params.shape={params.shape}")
    return A.getitem(params, tuple(idx[..., k] for k in range(idx.shape[-1])))


def boolean_mask(tensor, mask, axis=0):
    """The entries of ``tensor`` where ``mask`` (covering the axes from ``axis``) is true, flattened into one axis.

    Example:
        >>> import ferronet as fn
        >>> fn.boolean_mask(fn.constant([1.0, 2.0, 3.0]), np.array([True, False, True])).numpy()
        array([1., 3.], dtype=float32)
    """
    tensor = as_tensor(tensor)
    m = np.asarray(unwrap(mask), dtype=bool)
    axis = int(axis) % max(tensor.ndim, 1)
    if tensor.shape[axis:axis + m.ndim] != m.shape:
        raise ShapeError(f"boolean_mask: mask shape {m.shape} must match the tensor's axes from {axis}. "
                         f"Received: tensor.shape={tensor.shape}")
    return A.getitem(tensor, (slice(None),) * axis + (m,))


def scatter_nd(indices, updates, shape):
    """``tf.scatter_nd``: a zero tensor of ``shape`` with ``updates`` added at ``indices`` (repeats add up).

    Example:
        >>> import ferronet as fn
        >>> fn.scatter_nd(np.array([[1], [3]]), fn.constant([5.0, 7.0]), shape=(4,)).numpy()
        array([0., 5., 0., 7.], dtype=float32)
    """
    idx = _int_indices(indices, "scatter_nd")
    updates = as_tensor(updates)
    shape = tuple(int(d) for d in np.asarray(unwrap(shape)).reshape(-1))
    index = tuple(idx[..., k] for k in range(idx.shape[-1]))
    expected = idx.shape[:-1] + shape[idx.shape[-1]:]
    if updates.shape != expected:
        raise ShapeError(f"scatter_nd: updates must have shape {expected}. Received: updates.shape={updates.shape}")
    # a fancy index keeps np.add.at's summing of repeated indices
    return A._scatter(updates, shape=shape, index=index if index else (Ellipsis,))


def argsort(values, axis=-1, direction="ASCENDING", stable=True):
    """Indices that sort ``values`` along ``axis`` (int32, as TensorFlow); no gradient.

    Example:
        >>> import ferronet as fn
        >>> fn.argsort(fn.constant([3.0, 1.0, 2.0])).numpy()
        array([1, 2, 0], dtype=int32)
    """
    v = np.asarray(unwrap(values))
    if direction not in ("ASCENDING", "DESCENDING"):
        raise ValueError(f"direction must be 'ASCENDING' or 'DESCENDING'. Received: direction={direction!r}")
    if direction == "DESCENDING":
        key = v.astype(np.float64) if v.dtype.kind in "ub" else v
        idx = np.argsort(-key, axis=axis, kind="stable")  # stable: equal values keep their order
    else:
        idx = np.argsort(v, axis=axis, kind="stable")
    return _wrap(idx.astype(np.int32))


def sort(values, axis=-1, direction="ASCENDING"):
    """``values`` sorted along ``axis``; the gradient goes back to where each value came from.

    Example:
        >>> import ferronet as fn
        >>> fn.sort(fn.constant([3.0, 1.0, 2.0])).numpy(), fn.sort(fn.constant([3.0, 1.0, 2.0]), direction="DESCENDING").numpy()
        (array([1., 2., 3.], dtype=float32), array([3., 2., 1.], dtype=float32))
    """
    return take_along_axis(values, unwrap(argsort(values, axis, direction)), axis=axis)


def top_k(x, k=1, sorted=True):
    """``(values, indices)`` of the ``k`` largest entries along the last axis (values differentiable).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.index_ops import top_k
        >>> values, indices = top_k(fn.constant([1.0, 4.0, 2.0, 3.0]), k=2)
        >>> values.numpy(), indices.numpy()
        (array([4., 3.], dtype=float32), array([1, 3], dtype=int32))
    """
    x = as_tensor(x)
    idx = unwrap(argsort(x, -1, "DESCENDING"))[..., :int(k)]
    return take_along_axis(x, idx, axis=-1), _wrap(idx.astype(np.int32))


def meshgrid(*args, indexing="xy"):
    """Coordinate grids from 1-D tensors (``'xy'`` swaps the first two axes, as NumPy and TensorFlow).

    Example:
        >>> import ferronet as fn
        >>> xx, yy = fn.meshgrid(fn.constant([1.0, 2.0, 3.0]), fn.constant([10.0, 20.0]))
        >>> xx.shape, yy.numpy()[:, 0]
        ((2, 3), array([10., 20.], dtype=float32))
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"indexing must be 'xy' or 'ij'. Received: indexing={indexing!r}")
    ts = [A.reshape(as_tensor(a), (-1,)) for a in args]
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        pos = (1 if i == 0 else 0 if i == 1 else i) if indexing == "xy" and len(ts) >= 2 else i
        view = [1] * len(ts)
        view[pos] = t.shape[0]
        out.append(A.broadcast_to(A.reshape(t, tuple(view)), tuple(shape)))
    return out


def sequence_mask(lengths, maxlen=None, dtype=np.bool_):
    """``mask[..., j] = j < lengths[...]`` (``maxlen`` defaults to the largest length).

    Example:
        >>> import ferronet as fn
        >>> fn.sequence_mask(np.array([1, 3]), maxlen=4).numpy()
        array([[ True, False, False, False],
               [ True,  True,  True, False]])
    """
    ln = np.asarray(unwrap(lengths))
    maxlen = int(ln.max()) if maxlen is None else int(unwrap(maxlen))
    return _wrap((np.arange(maxlen) < ln[..., None]).astype(np.dtype(getattr(dtype, "as_numpy_dtype", dtype))))


def add_n(inputs):
    """Element-wise sum of a list of same-shape tensors.

    Example:
        >>> import ferronet as fn
        >>> fn.add_n([fn.constant([1.0, 2.0]), fn.constant([3.0, 4.0]), fn.constant([5.0, 6.0])]).numpy()
        array([ 9., 12.], dtype=float32)
    """
    from . import math_ops

    inputs = [as_tensor(t) for t in inputs]
    if not inputs:
        raise ValueError("add_n needs at least one tensor. Received: an empty list")
    shapes = {t.shape for t in inputs}
    if len(shapes) != 1:
        raise ShapeError(f"add_n needs tensors of one shape. Received: shapes {[t.shape for t in inputs]}")
    out = inputs[0]
    for t in inputs[1:]:
        out = math_ops.add(out, t)
    return out


def tensor_scatter_nd_update(tensor, indices, updates):
    """``tensor`` with the entries at ``indices`` replaced by ``updates`` (gradients flow to both, as TensorFlow).

    Example:
        >>> import ferronet as fn
        >>> fn.tensor_scatter_nd_update(fn.zeros((4,)), np.array([[0], [2]]), fn.constant([9.0, 8.0])).numpy()
        array([9., 0., 8., 0.], dtype=float32)
    """
    from . import math_ops

    tensor = as_tensor(tensor)
    idx = _int_indices(indices, "tensor_scatter_nd_update")
    mask = np.zeros(tensor.shape, bool)
    mask[tuple(idx[..., k] for k in range(idx.shape[-1]))] = True
    return math_ops.where(mask, scatter_nd(idx, updates, tensor.shape), tensor)


def tensor_scatter_nd_add(tensor, indices, updates):
    """``tensor`` with ``updates`` added at ``indices`` (repeats add up).

    Example:
        >>> import ferronet as fn
        >>> fn.tensor_scatter_nd_add(fn.ones((3,)), np.array([[1], [1]]), fn.constant([2.0, 3.0])).numpy()
        array([1., 6., 1.], dtype=float32)
    """
    from . import math_ops

    return math_ops.add(tensor, scatter_nd(indices, updates, np.shape(unwrap(tensor))))
