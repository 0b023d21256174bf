"""Reductions: sums, means, extrema, products, variances, log-sum-exp, and arg-reductions.

``axis`` may be None (all axes), an int or a tuple; ``keepdims`` keeps the
reduced axes with size 1, as in NumPy and TensorFlow.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from .core import _STACK, ARRAY_OUT, Tensor, _new, _wrap, as_tensor, primitive, unwrap

__all__ = [
    "reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_variance", "reduce_std",
    "reduce_logsumexp", "reduce_any", "reduce_all", "argmax", "argmin", "cumsum", "norm", "count_nonzero",
]


def _axes(axis, ndim):
    """Normalized, sorted tuple of reduced axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (list, tuple)):
        axes = [int(unwrap(a)) for a in axis]
    else:
        axes = [int(unwrap(axis))]
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ShapeError(f"axis {a} is out of range for a tensor of rank {ndim}. Received: axis={axis!r}")
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out)))


def _restore(g, shape, axes, keepdims):
    """``g`` reshaped so it broadcasts back over the reduced ``axes`` of ``shape``."""
    from . import array_ops

    if keepdims or not axes:
        return g
    kept = tuple(1 if i in axes else d for i, d in enumerate(shape))
    return array_ops.reshape(g, kept)


def _sum_fwd(a, axes, keepdims):
    # np.add.reduce: np.sum without its Python dispatch layer. dtype=a.dtype: integer sums stay int32 as in
    # TensorFlow (NumPy would widen them to int64).
    return _add_reduce(a, axis=axes, keepdims=keepdims, dtype=a.dtype if a.dtype.kind in "iu" else None)


_add_reduce = np.add.reduce


def _sum_vjp(g, y, a, axes, keepdims):
    from . import array_ops

    return (array_ops.broadcast_to(_restore(g, np.shape(unwrap(a)), axes, keepdims), np.shape(unwrap(a))),)


_sum = primitive("reduce_sum", _sum_fwd, _sum_vjp)


def reduce_sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes by default).

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> fn.reduce_sum(x).numpy(), fn.reduce_sum(x, axis=0).numpy()
        (array(10., dtype=float32), array([4., 6.], dtype=float32))
    """
    if type(x) is not Tensor:
        x = as_tensor(x)
    if axis is None and not _STACK and x._v.dtype.kind in "fc":  # outside a tape: one NumPy call
        t = _new(Tensor)
        t._v = _add_reduce(x._v, axis=None, keepdims=keepdims, out=...) if ARRAY_OUT else np.asarray(
            _add_reduce(x._v, axis=None, keepdims=keepdims))
        return t
    return _sum(x, axes=_axes(axis, x.ndim), keepdims=bool(keepdims))


def reduce_mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (integers average to an integer, as in TensorFlow).

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> fn.reduce_mean(x, axis=1).numpy()
        array([1.5, 3.5], dtype=float32)
        >>> fn.reduce_mean(x, axis=1, keepdims=True).shape
        (2, 1)
    """
    from . import math_ops

    x = as_tensor(x)
    axes = _axes(axis, x.ndim)
    n = int(np.prod([x.shape[a] for a in axes], dtype=np.int64))
    s = _sum(x, axes=axes, keepdims=bool(keepdims))
    if x.dtype.kind in "iu":
        return _wrap(unwrap(s) // max(n, 1))
    return math_ops.divide(s, np.asarray(n, x.dtype)) if n else math_ops.multiply(s, np.asarray(np.nan, x.dtype))


def _extreme(name, fn, doc):
    def fwd(a, axes, keepdims):
        return fn(a, axis=axes, keepdims=keepdims)

    def vjp(g, y, a, axes, keepdims):
        from . import math_ops

        shape = np.shape(unwrap(a))
        yk = _restore(y, shape, axes, keepdims)
        mask = math_ops.cast(math_ops.equal(a, yk), unwrap(g).dtype)
        # Ties share the gradient equally, as TensorFlow does.
        count = reduce_sum(mask, axis=axes, keepdims=True)
        gk = _restore(g, shape, axes, keepdims)
        return (math_ops.multiply(math_ops.divide(mask, count), gk),)

    prim = primitive(name, fwd, vjp)

    def op(x, axis=None, keepdims=False):
        x = as_tensor(x)
        return prim(x, axes=_axes(axis, x.ndim), keepdims=bool(keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


reduce_max = _extreme("reduce_max", np.max,
                      """Maximum over ``axis`` (all axes by default); ties share the gradient equally.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 5.0], [5.0, 2.0]])
        >>> fn.reduce_max(x, axis=1).numpy()
        array([5., 5.], dtype=float32)
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = fn.reduce_max(x)  # two elements tie at 5
        >>> tape.gradient(y, x).numpy()
        array([[0. , 0.5],
               [0.5, 0. ]], dtype=float32)
    """)
reduce_min = _extreme("reduce_min", np.min,
                      """Minimum over ``axis`` (all axes by default); ties share the gradient equally.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 5.0], [4.0, 2.0]])
        >>> fn.reduce_min(x, axis=0).numpy(), fn.reduce_min(x, axis=1, keepdims=True).shape
        (array([1., 2.], dtype=float32), (2, 1))
    """)


def _prod_vjp(g, y, a, axes, keepdims):
    from . import math_ops

    shape = np.shape(unwrap(a))
    # prod / a, exact where no element is zero; zeros are handled by the product of the others.
    av = unwrap(a)
    if np.any(av == 0):
        return (_prod_vjp_zeros(g, a, axes, keepdims),)
    return (math_ops.multiply(_restore(g, shape, axes, keepdims),
                              math_ops.divide(_restore(y, shape, axes, keepdims), a)),)


def _prod_vjp_zeros(g, a, axes, keepdims):
    """Gradient of a product with zeros: for each element, the product of the others (via moved axes)."""
    from . import array_ops, math_ops

    shape = np.shape(unwrap(a))
    nd = len(shape)
    rest = [i for i in range(nd) if i not in axes]
    perm = list(axes) + rest
    at = array_ops.transpose(a, perm)
    k = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    flat = array_ops.reshape(at, (k, -1))
    # exclusive cumulative products from both sides
    ones = np.ones((1, flat.shape[1]), unwrap(flat).dtype)
    left = [ones]
    for i in range(1, k):
        left.append(math_ops.multiply(left[-1], flat[i - 1:i]))
    right = [ones]
    for i in range(k - 2, -1, -1):
        right.append(math_ops.multiply(right[-1], flat[i + 1:i + 2]))
    right = right[::-1]
    others = array_ops.concat([math_ops.multiply(left[i], right[i]) for i in range(k)], 0)
    gk = array_ops.reshape(_restore(g, shape, axes, keepdims), (1, -1)) if rest else array_ops.reshape(g, (1, 1))
    res = math_ops.multiply(others, gk)
    res = array_ops.reshape(res, tuple(shape[i] for i in perm))
    inv = list(np.argsort(perm))
    return array_ops.transpose(res, inv)


_prod = primitive("reduce_prod", lambda a, axes, keepdims: np.prod(
    a, axis=axes, keepdims=keepdims, dtype=a.dtype if a.dtype.kind in "iu" else None), _prod_vjp)


def reduce_prod(x, axis=None, keepdims=False):
    """Product over ``axis``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> fn.reduce_prod(x).numpy(), fn.reduce_prod(x, axis=1).numpy()
        (array(24., dtype=float32), array([ 2., 12.], dtype=float32))
    """
    x = as_tensor(x)
    return _prod(x, axes=_axes(axis, x.ndim), keepdims=bool(keepdims))


def reduce_variance(x, axis=None, keepdims=False):
    """Population variance over ``axis`` (``ddof=0``, as TensorFlow and Keras).

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> fn.reduce_variance(x, axis=0).numpy()
        array([1., 1.], dtype=float32)
    """
    from . import math_ops

    x = as_tensor(x)
    mean = reduce_mean(x, axis=axis, keepdims=True)
    return reduce_mean(math_ops.square(math_ops.subtract(x, mean)), axis=axis, keepdims=keepdims)


def reduce_std(x, axis=None, keepdims=False):
    """Population standard deviation over ``axis``.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> fn.reduce_std(x, axis=1).numpy()
        array([0.5, 0.5], dtype=float32)
    """
    from . import math_ops

    return math_ops.sqrt(reduce_variance(x, axis=axis, keepdims=keepdims))


def reduce_logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably (shifted by the maximum).

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 2.0], [3.0, 4.0]])
        >>> round(float(fn.reduce_logsumexp(fn.constant([1000.0, 1000.0]))), 4)  # 1000 + log 2, no overflow
        1000.6932
    """
    from . import array_ops, math_ops

    x = as_tensor(x)
    m = array_ops.stop_gradient(reduce_max(x, axis=axis, keepdims=True))
    m = math_ops.where(math_ops.is_finite(m), m, np.zeros((), x.dtype))
    s = math_ops.log(reduce_sum(math_ops.exp(math_ops.subtract(x, m)), axis=axis, keepdims=True))
    out = math_ops.add(s, m)
    if not keepdims:
        out = array_ops.squeeze(out, axis=_axes(axis, x.ndim))
    return out


def norm(x, ord="euclidean", axis=None, keepdims=False):
    """Vector norm over ``axis``: ``"euclidean"``/2 (default), 1, or ``np.inf``.

    Example:
        >>> import ferronet as fn
        >>> t = fn.constant([3.0, -4.0])
        >>> fn.norm(t).numpy(), fn.norm(t, ord=1).numpy(), fn.norm(t, ord=np.inf).numpy()
        (array(5., dtype=float32), array(7., dtype=float32), array(4., dtype=float32))
    """
    from . import math_ops

    x = as_tensor(x)
    if ord in ("euclidean", 2, "fro"):
        return math_ops.sqrt(reduce_sum(math_ops.square(x), axis=axis, keepdims=keepdims))
    if ord == 1:
        return reduce_sum(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return reduce_max(math_ops.abs(x), axis=axis, keepdims=keepdims)
    raise ValueError(f"norm supports ord='euclidean', 1, 2 or np.inf. Received: ord={ord!r}")


def _cumsum_fwd(a, axis, exclusive, reverse):
    if reverse:
        a = np.flip(a, axis)
    out = np.cumsum(a, axis=axis)
    if exclusive:
        out = out - a
    return np.flip(out, axis) if reverse else out


_cumsum = primitive("cumsum", _cumsum_fwd,
                    lambda g, y, a, axis, exclusive, reverse: (_cumsum(g, axis=axis, exclusive=exclusive,
                                                                       reverse=not reverse),))


def cumsum(x, axis=0, exclusive=False, reverse=False):
    """Cumulative sum along ``axis`` (TensorFlow's ``exclusive``/``reverse`` options).

    Example:
        >>> import ferronet as fn
        >>> t = fn.constant([1.0, 2.0, 3.0])
        >>> fn.cumsum(t).numpy(), fn.cumsum(t, exclusive=True).numpy(), fn.cumsum(t, reverse=True).numpy()
        (array([1., 3., 6.], dtype=float32), array([0., 1., 3.], dtype=float32), array([6., 5., 3.], dtype=float32))
    """
    x = as_tensor(x)
    return _cumsum(x, axis=_axes(axis, x.ndim)[0], exclusive=bool(exclusive), reverse=bool(reverse))


def _arg(fn, doc):
    def op(x, axis=None, output_type=np.int64):
        a = unwrap(as_tensor(x))
        if axis is None:
            axis = 0  # TensorFlow's default for argmax/argmin
        return _wrap(fn(a, axis=int(unwrap(axis))).astype(np.dtype(getattr(output_type, "as_numpy_dtype",
                                                                              output_type))))

    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = doc
    return op


argmax = _arg(np.argmax,
              """Index of the maximum along ``axis`` (default 0, as TensorFlow), as ``output_type``; no gradient.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]])
        >>> fn.argmax(x, axis=1).numpy(), fn.argmax(x).numpy()
        (array([1, 0]), array([1, 0, 1]))
    """)
argmin = _arg(np.argmin,
              """Index of the minimum along ``axis`` (default 0, as TensorFlow), as ``output_type``; no gradient.

    Example:
        >>> import ferronet as fn
        >>> x = fn.constant([[1.0, 7.0, 3.0], [9.0, 2.0, 4.0]])
        >>> fn.argmin(x, axis=1, output_type="int32").numpy()
        array([0, 1], dtype=int32)
    """)


def _np_axis(axis):
    return tuple(int(unwrap(a)) for a in axis) if isinstance(axis, (list, tuple)) else (
        None if axis is None else int(unwrap(axis)))


def reduce_any(x, axis=None, keepdims=False):
    """Logical or over ``axis``; no gradient.

    Example:
        >>> import ferronet as fn
        >>> fn.reduce_any(fn.constant([[True, False], [False, False]]), axis=1).numpy()
        array([ True, False])
    """
    return _wrap(np.any(unwrap(as_tensor(x)), axis=_np_axis(axis), keepdims=bool(keepdims)))


def reduce_all(x, axis=None, keepdims=False):
    """Logical and over ``axis``; no gradient.

    Example:
        >>> import ferronet as fn
        >>> fn.reduce_all(fn.constant([[True, True], [True, False]]), axis=1).numpy()
        array([ True, False])
    """
    return _wrap(np.all(unwrap(as_tensor(x)), axis=_np_axis(axis), keepdims=bool(keepdims)))


def count_nonzero(x, axis=None, keepdims=False, dtype=np.int64):
    """Number of non-zero entries over ``axis`` (int64, as TensorFlow); no gradient.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.reduce_ops import count_nonzero
        >>> count_nonzero(fn.constant([[0.0, 1.0], [2.0, 0.0]]), axis=0).numpy()
        array([1, 1])
    """
    n = np.count_nonzero(unwrap(as_tensor(x)), axis=_np_axis(axis), keepdims=bool(keepdims))
    return _wrap(np.asarray(n, dtype=np.dtype(getattr(dtype, "as_numpy_dtype", dtype))))
