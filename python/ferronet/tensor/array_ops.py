"""Shape and indexing primitives: reshape, transpose, slicing, concatenation, gathering, padding.

Their VJPs move the gradient back to where each element came from
(scatter-add for gathers and slices, the inverse permutation for
transposes), in differentiable ops.
"""

from __future__ import annotations

import builtins

import numpy as np

from ..errors import ShapeError
from .core import _STACK, Tensor, _new, _wrap, as_tensor, nondiff, primitive, unwrap

__all__ = [
    "reshape", "transpose", "broadcast_to", "expand_dims", "squeeze", "concat", "stack", "unstack", "split", "tile",
    "gather", "getitem", "one_hot", "stop_gradient", "identity", "pad", "reverse", "repeat", "shape", "size", "rank",
    "zeros", "ones", "zeros_like", "ones_like", "fill", "eye", "range", "linspace", "matmul", "tensordot",
    "einsum", "flatten", "swapaxes",
]


def _reshape_fwd(a, shape):
    return np.reshape(a, shape)


_reshape = primitive("reshape", _reshape_fwd, lambda g, y, a, shape: (_reshape(g, shape=np.shape(unwrap(a))),))


def reshape(x, shape):
    """``x`` with a new shape (one dimension may be -1).

    Example:
        >>> import ferronet as fn
        >>> fn.reshape(fn.range(6), (2, -1)).numpy()
        array([[0, 1, 2],
               [3, 4, 5]], dtype=int32)
    """
    if not _STACK and type(x) is Tensor and type(shape) is tuple:
        try:
            return _wrap(x._v.reshape(shape))  # outside a tape: one NumPy call
        except (ValueError, TypeError):
            pass  # the checked path below raises the error
    shape = tuple(int(d) for d in unwrap(shape)) if not isinstance(shape, (int, np.integer)) else (int(shape),)
    x = as_tensor(x)
    try:
        return _reshape(x, shape=shape)
    except ValueError:
        raise ShapeError(f"Cannot reshape a tensor of shape {x.shape} ({x.size} values) into shape {shape}. "
                         f"Received: shape={shape}") from None


def flatten(x):
    """``x`` as a 1-D tensor.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.array_ops import flatten
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> flatten(x).numpy()
        array([0., 1., 2., 3., 4., 5.], dtype=float32)
    """
    return reshape(x, (-1,))


def _transpose_fwd(a, perm):
    return np.transpose(a, perm)


_transpose = primitive("transpose", _transpose_fwd,
                       lambda g, y, a, perm: (_transpose(g, perm=tuple(np.argsort(perm))),))


def transpose(x, perm=None, axes=None):
    """Permute the axes (reversed by default, as ``tf.transpose``; ``axes`` is NumPy's spelling).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.transpose(x).shape, fn.transpose(fn.zeros((2, 3, 4)), perm=(0, 2, 1)).shape
        ((3, 2), (2, 4, 3))
    """
    x = as_tensor(x)
    perm = perm if perm is not None else axes
    perm = tuple(builtins.range(x.ndim - 1, -1, -1)) if perm is None else tuple(int(p) % max(x.ndim, 1) for p in perm)
    return _transpose(x, perm=perm)


def swapaxes(x, axis1, axis2):
    """``x`` with ``axis1`` and ``axis2`` exchanged.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.array_ops import swapaxes
        >>> swapaxes(fn.zeros((2, 3, 4)), 0, 2).shape
        (4, 3, 2)
    """
    x = as_tensor(x)
    perm = list(builtins.range(x.ndim))
    perm[axis1], perm[axis2] = perm[axis2], perm[axis1]
    return _transpose(x, perm=tuple(perm))


def _broadcast_vjp(g, y, a, shape):
    from .math_ops import _unbroadcast

    return (_unbroadcast(g, np.shape(unwrap(a))),)


_broadcast = primitive("broadcast_to", lambda a, shape: np.array(np.broadcast_to(a, shape)), _broadcast_vjp)


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (materialized).

    Example:
        >>> import ferronet as fn
        >>> fn.broadcast_to(fn.constant([1.0, 2.0]), (2, 2)).numpy()
        array([[1., 2.],
               [1., 2.]], dtype=float32)
    """
    return _broadcast(as_tensor(x), shape=tuple(int(d) for d in unwrap(shape)))


def expand_dims(x, axis):
    """``x`` with a new size-1 axis at ``axis`` (negative counts from the end of the result).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.expand_dims(x, 0).shape, fn.expand_dims(x, -1).shape
        ((1, 2, 3), (2, 3, 1))
    """
    x = as_tensor(x)
    axis = int(axis)
    if axis < 0:
        axis += x.ndim + 1
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def squeeze(x, axis=None):
    """Drop size-1 axes (all of them, or those in ``axis``).

    Example:
        >>> import ferronet as fn
        >>> fn.squeeze(fn.zeros((1, 3, 1))).shape, fn.squeeze(fn.zeros((1, 3, 1)), axis=0).shape
        ((3,), (3, 1))
    """
    x = as_tensor(x)
    if axis is None:
        return reshape(x, tuple(d for d in x.shape if d != 1))
    axes = {int(a) % x.ndim for a in (axis if isinstance(axis, (list, tuple)) else [axis])}
    for a in axes:
        if x.shape[a] != 1:
            raise ShapeError(f"Cannot squeeze axis {a} of size {x.shape[a]}. Received: shape {x.shape}, axis={axis}")
    return reshape(x, tuple(d for i, d in enumerate(x.shape) if i not in axes))


# ------------------------------------------------------------------- slicing
def _getitem_fwd(a, index):
    out = a[index]
    return out if isinstance(out, np.ndarray) else np.asarray(out)


def _getitem_vjp(g, y, a, index):
    return (_scatter(g, shape=np.shape(unwrap(a)), index=index),)


def _scatter_fwd(g, shape, index):
    out = np.zeros(shape, g.dtype)
    np.add.at(out, index, g) if _has_array_index(index) else out.__setitem__(index, g)
    return out


_getitem = primitive("getitem", _getitem_fwd, _getitem_vjp)
_scatter = primitive("scatter", _scatter_fwd, lambda g, y, gg, shape, index: (_getitem(g, index=index),))


def _has_array_index(index):
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, (np.ndarray, list)) for p in parts)


def _clean_index(index):
    if isinstance(index, Tensor):
        return unwrap(index)
    if isinstance(index, tuple):
        return tuple(unwrap(i) if isinstance(i, Tensor) else i for i in index)
    return index


def getitem(x, index):
    """``x[index]`` with NumPy's basic and advanced indexing; gradients scatter back (repeats add).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.array_ops import getitem
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> getitem(x, (slice(None), 1)).numpy()
        array([1., 4.], dtype=float32)
        >>> x[1, ::2].numpy()  # the same op behind Tensor indexing
        array([3., 5.], dtype=float32)
    """
    return _getitem(as_tensor(x), index=_clean_index(index))


def _tensor_getitem(self, index):
    if not _STACK:  # outside a tape: one NumPy indexing and one object
        kind = type(index)
        if kind is slice or kind is int:
            t = _new(Tensor)
            t._v = self._v[index] if kind is slice else self._v[index, ...]  # ``, ...``: a 0-d view, not a scalar
            return t
    return _getitem(self, index=_clean_index(index))


Tensor.__getitem__ = _tensor_getitem


def _concat_fwd(*arrays, axis):
    return np.concatenate(arrays, axis=axis)


def _concat_vjp(g, y, *arrays, axis):
    out, start = [], 0
    for a in arrays:
        n = np.shape(unwrap(a))[axis]
        index = (slice(None),) * axis + (slice(start, start + n),)
        out.append(_getitem(g, index=index))
        start += n
    return tuple(out)


_concat = primitive("concat", _concat_fwd, _concat_vjp)


def concat(values, axis=0):
    """Join tensors along an existing ``axis``.

    Raises:
        ShapeError: when the other dimensions differ (the message lists the shapes).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.concat([x, x], axis=0).shape, fn.concat([x, x], axis=1).shape
        ((4, 3), (2, 6))
    """
    values = [as_tensor(v) for v in values]
    if not values:
        raise ValueError("concat needs at least one tensor. Received: an empty list")
    nd = values[0].ndim
    axis = int(axis) % max(nd, 1)
    shapes = [v.shape for v in values]
    if any(len(s) != nd or s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:] for s in shapes):
        raise ShapeError(f"concat along axis {axis} needs equal other dimensions. Received: shapes {shapes}")
    return _concat(*values, axis=axis)


def stack(values, axis=0):
    """Join same-shape tensors along a new ``axis``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.stack([x, x]).shape, fn.stack([x, x], axis=-1).shape
        ((2, 2, 3), (2, 3, 2))
    """
    values = [as_tensor(v) for v in values]
    if not values:
        raise ValueError("stack needs at least one tensor. Received: an empty list")
    shapes = {v.shape for v in values}
    if len(shapes) != 1:
        raise ShapeError(f"stack needs tensors of one shape. Received: shapes {[v.shape for v in values]}")
    axis = int(axis)
    if axis < 0:
        axis += values[0].ndim + 1
    return concat([expand_dims(v, axis) for v in values], axis)


def unstack(x, num=None, axis=0):
    """The slices of ``x`` along ``axis``, as a list.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> [t.numpy() for t in fn.unstack(x)]
        [array([0., 1., 2.], dtype=float32), array([3., 4., 5.], dtype=float32)]
    """
    x = as_tensor(x)
    axis = int(axis) % x.ndim
    return [getitem(x, (slice(None),) * axis + (i,)) for i in builtins.range(x.shape[axis])]


def split(x, num_or_size_splits, axis=0):
    """Split along ``axis`` into equal parts (an int) or parts of the given sizes (a list).

    Example:
        >>> import ferronet as fn
        >>> [t.shape for t in fn.split(fn.zeros((6, 2)), 3)]
        [(2, 2), (2, 2), (2, 2)]
        >>> [t.shape for t in fn.split(fn.zeros((6, 2)), [1, 5])]
        [(1, 2), (5, 2)]
    """
    x = as_tensor(x)
    axis = int(axis) % x.ndim
    n = x.shape[axis]
    if isinstance(num_or_size_splits, (int, np.integer)):
        k = int(num_or_size_splits)
        if k <= 0 or n % k:
            raise ShapeError(f"split: axis {axis} of size {n} cannot be split into {k} equal parts. "
                             f"Received: num_or_size_splits={k}")
        sizes = [n // k] * k
    else:
        sizes = [int(s) for s in num_or_size_splits]
        if -1 in sizes:
            sizes[sizes.index(-1)] = n - (sum(sizes) + 1)
        if sum(sizes) != n:
            raise ShapeError(f"split sizes {sizes} do not add up to {n}. Received: num_or_size_splits={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(getitem(x, (slice(None),) * axis + (slice(start, start + s),)))
        start += s
    return out


def tile(x, multiples):
    """Repeat ``x`` ``multiples[i]`` times along each axis.

    Example:
        >>> import ferronet as fn
        >>> fn.tile(fn.constant([[1.0, 2.0]]), (2, 2)).numpy()
        array([[1., 2., 1., 2.],
               [1., 2., 1., 2.]], dtype=float32)
    """
    x = as_tensor(x)
    multiples = tuple(int(m) for m in unwrap(multiples))
    if len(multiples) != x.ndim:
        raise ShapeError(f"tile needs one multiple per axis ({x.ndim}). Received: multiples={multiples}")
    # Tiling is a broadcast over interleaved new axes, so its gradient is a sum.
    inter = []
    for m, d in zip(multiples, x.shape):
        inter += [1, d]
    b = broadcast_to(reshape(x, inter), [v for m, d in zip(multiples, x.shape) for v in (m, d)])
    return reshape(b, tuple(m * d for m, d in zip(multiples, x.shape)))


def repeat(x, repeats, axis=None):
    """Each slice along ``axis`` repeated ``repeats`` times (flattened first when None).

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.repeat(fn.constant([1.0, 2.0]), 2).numpy()
        array([1., 1., 2., 2.], dtype=float32)
        >>> fn.repeat(x, 2, axis=0).shape
        (4, 3)
    """
    x = as_tensor(x)
    if axis is None:
        x, axis = reshape(x, (-1,)), 0
    idx = np.repeat(np.arange(x.shape[axis]), repeats)
    return gather(x, idx, axis=axis)


def gather(params, indices, axis=0, batch_dims=0):
    """Rows (slices along ``axis``) of ``params`` picked by ``indices``; gradients add up for repeats.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.gather(x, np.array([1, 0, 1])).numpy()
        array([[3., 4., 5.],
               [0., 1., 2.],
               [3., 4., 5.]], dtype=float32)
        >>> fn.gather(x, np.array([2]), axis=1).numpy()
        array([[2.],
               [5.]], dtype=float32)
    """
    if batch_dims:
        raise NotImplementedError("gather with batch_dims is not supported. Received: batch_dims="
                                  f"{batch_dims}")
    params = as_tensor(params)
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"gather indices must be integers. Received: dtype {idx.dtype}")
    axis = int(axis) % params.ndim
    n = params.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"gather indices must be in [0, {n}) along axis {axis}. "
                         f"Received: indices from {idx.min()} to {idx.max()}")
    return _getitem(params, index=(slice(None),) * axis + (idx,))


def one_hot(indices, depth, on_value=1.0, off_value=0.0, axis=-1, dtype="float32"):
    """One-hot rows for integer ``indices`` (out-of-range ids give all-``off_value`` rows, as TensorFlow).

    Example:
        >>> import ferronet as fn
        >>> fn.one_hot(np.array([0, 2, 5]), depth=3).numpy()
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 0., 0.]], dtype=float32)
    """
    idx = np.asarray(unwrap(indices)).astype(np.int64)
    depth = int(depth)
    out = np.full(idx.shape + (depth,), off_value, dtype=np.dtype(getattr(dtype, "as_numpy_dtype", dtype)))
    valid = (idx >= 0) & (idx < depth)
    out[valid, idx[valid]] = on_value
    if axis != -1:
        out = np.moveaxis(out, -1, axis)
    return _wrap(out)


stop_gradient = nondiff(lambda x: x, name="stop_gradient",
                        doc="""``x`` as a tensor no tape traces through: its gradient is None.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.array_ops import stop_gradient
        >>> x = fn.constant(3.0)
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = x * stop_gradient(x)  # the second factor counts as a constant
        >>> float(y), float(tape.gradient(y, x))
        (9.0, 3.0)
    """)
identity = primitive("identity", lambda x: x, lambda g, y, a: (g,),
                     doc="""``x`` itself, as a tensor a tape traces through (gradient 1).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.array_ops import identity
        >>> x = fn.constant([1.0, 2.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = identity(x) * 2.0
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([2., 4.], dtype=float32), array([2., 2.], dtype=float32))
    """)


def _pad_fwd(a, paddings, constant_values):
    return np.pad(a, paddings, constant_values=constant_values)


def _pad_vjp(g, y, a, paddings, constant_values):
    index = tuple(slice(lo, lo + d) for (lo, hi), d in zip(paddings, np.shape(unwrap(a))))
    return (_getitem(g, index=index),)


_pad = primitive("pad", _pad_fwd, _pad_vjp)


def pad(x, paddings, mode="CONSTANT", constant_values=0):
    """Constant padding: ``paddings[i] = (before, after)`` for axis ``i``.

    Example:
        >>> import ferronet as fn
        >>> fn.pad(fn.constant([[1.0, 2.0]]), [(1, 0), (0, 1)]).numpy()
        array([[0., 0., 0.],
               [1., 2., 0.]], dtype=float32)
    """
    if str(mode).upper() != "CONSTANT":
        raise NotImplementedError(f"pad supports mode='CONSTANT'. Received: mode={mode!r}")
    x = as_tensor(x)
    paddings = tuple((int(a), int(b)) for a, b in unwrap(paddings))
    return _pad(x, paddings=paddings, constant_values=constant_values)


def reverse(x, axis):
    """``x`` reversed along each axis in ``axis``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.reshape(fn.range(6.0), (2, 3))
        >>> fn.reverse(x, axis=[1]).numpy()
        array([[2., 1., 0.],
               [5., 4., 3.]], dtype=float32)
    """
    x = as_tensor(x)
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    index = [slice(None)] * x.ndim
    for a in axes:
        index[int(a) % x.ndim] = slice(None, None, -1)
    return getitem(x, tuple(index))


# -------------------------------------------------------------- constructors
from .creation_ops import (  # noqa: E402  (documented here, as tf.* names)
    eye, fill, linspace, ones, ones_like, range, rank, shape, size, zeros, zeros_like,
)

for _f in (eye, fill, linspace, ones, ones_like, range, rank, shape, size, zeros, zeros_like):
    _f.__module__ = __name__


# -------------------------------------------------------------------- products
from .products import einsum, matmul, tensordot  # noqa: E402  (they build on the ops above)

for _f in (einsum, matmul, tensordot):
    _f.__module__ = __name__
