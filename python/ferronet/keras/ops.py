"""``keras.ops``: Keras 3's NumPy-style op namespace over ferronet's tensors.

The names, argument orders and defaults are Keras 3's (NumPy's where Keras
follows NumPy: ``split`` takes section *indices*, ``take`` and ``argmax``
flatten when ``axis`` is None, ``mean`` of integers is a float). Every op
accepts tensors, variables, NumPy arrays and Python values, returns a
:class:`ferronet.Tensor`, and is differentiable under a
:class:`~ferronet.GradientTape` unless it has no gradient (comparisons,
``argmax``, rounding). Constructors default to ``keras.backend.floatx()``.

Example:
    >>> from ferronet.keras import ops
    >>> float(ops.sum(ops.square(ops.arange(4.0))))
    14.0
"""

from __future__ import annotations

import builtins

import numpy as np

from ..tensor import array_ops as _A
from ..tensor import index_ops as _I
from ..tensor import linalg_ops as _L
from ..tensor import math_ops as _M
from ..tensor import nn_ops as _N
from ..tensor import numpy_ops as _NP
from ..tensor import reduce_ops as _R
from ..tensor.core import Tensor, _wrap, as_tensor, unwrap
from ..tensor.numpy_ops import (  # noqa: F401
    diag, diagonal, dot, einsum, expand_dims, flip, hstack, inner, logaddexp, moveaxis, nan_to_num, outer, pad, split,
    take, tile, trace, vstack,
)
from ..tensor.symbolic import symbolic_namespace as _symbolic_namespace
from ..tensor.attention_ops import dot_product_attention  # noqa: F401
from ..tensor.tape import stop_gradient  # noqa: F401
from . import backend as _backend

# ------------------------------------------------------------------ creation


def _dtype(dtype, default=None):
    if dtype is None:
        dtype = default if default is not None else _backend.floatx()
    return np.dtype(getattr(dtype, "as_numpy_dtype", dtype))


def _python_dtype(value):
    """Keras' dtype for a Python value: floatx for floats, int32 for ints, bool for bools."""
    a = np.asarray(unwrap(value))
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return a.dtype
    return np.dtype(bool) if a.dtype == bool else np.dtype("int32") if a.dtype.kind in "iu" else _dtype(None)


def convert_to_tensor(x, dtype=None, sparse=None):
    """``x`` as a Tensor (Python floats become floatx, ints int32; arrays keep their dtype)."""
    if dtype is None and not isinstance(x, (Tensor, np.ndarray, np.generic)):
        dtype = _python_dtype(x)
    return as_tensor(x, None if dtype is None else _dtype(dtype))


def convert_to_numpy(x):
    """The NumPy array behind ``x``."""
    return np.asarray(unwrap(x))


def shape(x):
    """The shape of ``x`` as a tuple of ints (None for the batch dimension of a symbolic tensor)."""
    if getattr(x, "_is_symbolic", False):
        return tuple(x.shape)
    return tuple(np.shape(unwrap(x)))


def ndim(x):
    """The number of axes of ``x``."""
    return len(shape(x))


def size(x):
    """The number of elements of ``x``."""
    return int(np.prod(shape(x), dtype=np.int64))


def dtype(x):
    """The dtype name of ``x`` (``"float32"``...)."""
    return _backend.standardize_dtype(np.asarray(unwrap(x)).dtype)


def cast(x, dtype):
    """``x`` converted to ``dtype`` (float-to-float casts pass gradients)."""
    return _M.cast(x, _dtype(dtype))


def _shape_arg(s):
    return (int(s),) if isinstance(s, (int, np.integer)) else tuple(int(unwrap(d)) for d in unwrap(s))


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (floatx unless ``dtype``)."""
    return _wrap(np.zeros(_shape_arg(shape), _dtype(dtype)))


def ones(shape, dtype=None):
    """Ones of ``shape`` (floatx unless ``dtype``)."""
    return _wrap(np.ones(_shape_arg(shape), _dtype(dtype)))


def full(shape, fill_value, dtype=None):
    """``fill_value`` repeated to ``shape`` (the value's dtype unless ``dtype``)."""
    return _wrap(np.full(_shape_arg(shape), unwrap(fill_value), _dtype(dtype, _python_dtype(fill_value))))


def zeros_like(x, dtype=None):
    """Zeros shaped like ``x``, of its dtype unless ``dtype``."""
    return _wrap(np.zeros(shape(x), _dtype(dtype, _python_dtype(x))))


def ones_like(x, dtype=None):
    """Ones shaped like ``x``, of its dtype unless ``dtype``."""
    return _wrap(np.ones(shape(x), _dtype(dtype, _python_dtype(x))))


def full_like(x, fill_value, dtype=None):
    """``fill_value`` shaped like ``x``, of its dtype unless ``dtype``."""
    return _wrap(np.full(shape(x), unwrap(fill_value), _dtype(dtype, _python_dtype(x))))


def eye(N, M=None, k=0, dtype=None):
    """An ``N x M`` matrix with ones on the ``k``-th diagonal (floatx unless ``dtype``)."""
    return _wrap(np.eye(int(N), None if M is None else int(M), int(k), dtype=_dtype(dtype)))


def identity(n, dtype=None):
    """The ``n x n`` identity matrix."""
    return eye(n, dtype=dtype)


def arange(start, stop=None, step=1, dtype=None):
    """``np.arange``; int32 when every bound is an int, floatx otherwise (unless ``dtype``)."""
    if stop is None:
        start, stop = 0, start
    vals = [unwrap(v) for v in (start, stop, step)]
    if dtype is None:
        dtype = "int32" if builtins.all(np.asarray(v).dtype.kind in "iu" for v in vals) else _backend.floatx()
    return _wrap(np.arange(*vals).astype(_dtype(dtype)))


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` (floatx unless ``dtype``)."""
    out, step = np.linspace(unwrap(start), unwrap(stop), int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = _wrap(out.astype(_dtype(dtype)))
    return (out, step) if retstep else out


def tri(N, M=None, k=0, dtype=None):
    """Ones at and below the ``k``-th diagonal of an ``N x M`` matrix."""
    return _wrap(np.tri(int(N), None if M is None else int(M), int(k), dtype=_dtype(dtype)))


# ------------------------------------------------------------- element-wise
add, subtract, multiply, divide, true_divide = _M.add, _M.subtract, _M.multiply, _M.divide, _M.divide
power, negative, square, sqrt, exp, log, log1p, expm1 = (_M.power, _M.negative, _M.square, _M.sqrt, _M.exp, _M.log,
                                                         _M.log1p, _M.expm1)
sin, cos, tan, arcsin, arccos, arctan = _M.sin, _M.cos, _M.tan, _M.asin, _M.acos, _M.atan
sinh, cosh = _M.sinh, _M.cosh
absolute = abs = _M.abs
maximum, minimum, sign, floor, ceil, erf = _M.maximum, _M.minimum, _M.sign, _M.floor, _M.ceil, _M.erf
reciprocal, rsqrt = _M.reciprocal, _M.rsqrt
equal, not_equal, less, less_equal, greater, greater_equal = (_M.equal, _M.not_equal, _M.less, _M.less_equal,
                                                              _M.greater, _M.greater_equal)
logical_and, logical_or, logical_not = _M.logical_and, _M.logical_or, _M.logical_not
isnan, isfinite, isinf = _M.is_nan, _M.is_finite, _M.is_inf
floor_divide, mod = _M.floordiv, _M.mod


def round(x, decimals=0):
    """Round half to even (NumPy's rule) to ``decimals`` places; no gradient."""
    return _wrap(np.round(unwrap(convert_to_tensor(x)), int(decimals)))


def clip(x, x_min, x_max):
    """``x`` clipped to ``[x_min, x_max]``; the gradient passes inside the range."""
    return _M.clip_by_value(convert_to_tensor(x), x_min, x_max)


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` else ``x2``; with ``condition`` alone, ``np.nonzero``'s tuple of index tensors."""
    if x1 is None and x2 is None:
        return tuple(_wrap(i.astype(np.int32)) for i in np.nonzero(unwrap(condition)))
    return _M.where(condition, x1, x2)


def square_difference(x1, x2):
    """``(x1 - x2) ** 2``."""
    return _M.squared_difference(x1, x2)


# ---------------------------------------------------------------- reductions
def _float_input(x):
    x = convert_to_tensor(x)
    return x if x.dtype.kind in "fc" else _M.cast(x, _backend.floatx())


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (all axes when None)."""
    return _R.reduce_sum(convert_to_tensor(x), axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; integer input gives a float (floatx), as Keras."""
    return _R.reduce_mean(_float_input(x), axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    """Maximum over ``axis``, at least ``initial`` when given; ties share the gradient."""
    out = _R.reduce_max(convert_to_tensor(x), axis, keepdims)
    return out if initial is None else _M.maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """Minimum over ``axis``, at most ``initial`` when given; ties share the gradient."""
    out = _R.reduce_min(convert_to_tensor(x), axis, keepdims)
    return out if initial is None else _M.minimum(out, initial)


amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    """Product over ``axis`` (computed in ``dtype`` when given)."""
    x = convert_to_tensor(x) if dtype is None else cast(x, dtype)
    return _R.reduce_prod(x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    """Population variance (``ddof=0``)."""
    return _R.reduce_variance(_float_input(x), axis, keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation (``ddof=0``)."""
    return _R.reduce_std(_float_input(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, computed stably."""
    return _R.reduce_logsumexp(_float_input(x), axis, keepdims)


def any(x, axis=None, keepdims=False):
    """Logical or over ``axis``; no gradient."""
    return _wrap(np.any(unwrap(x), axis=_np_axis(axis), keepdims=keepdims))


def all(x, axis=None, keepdims=False):
    """Logical and over ``axis``; no gradient."""
    return _wrap(np.all(unwrap(x), axis=_np_axis(axis), keepdims=keepdims))


def cumsum(x, axis=None, dtype=None):
    """Cumulative sum along ``axis`` (of the flattened ``x`` when None)."""
    return _NP.cumsum(convert_to_tensor(x) if dtype is None else cast(x, dtype), axis)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0 or any p) and the Frobenius norm (``"fro"``) of matrices."""
    return _NP.norm(_float_input(x), ord, axis, keepdims)


def count_nonzero(x, axis=None):
    """Number of non-zero entries over ``axis`` (int32)."""
    return _wrap(np.asarray(np.count_nonzero(unwrap(x), axis=_np_axis(axis)), dtype=np.int32))


def _np_axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _arg(fn):
    def op(x, axis=None, keepdims=False):
        a = np.asarray(unwrap(x))
        out = fn(a, axis=axis, keepdims=keepdims)
        return _wrap(np.asarray(out, dtype=np.int32))

    op.__name__ = fn.__name__
    op.__doc__ = f"Index of the {fn.__name__[3:]}imum (over the flattened input when ``axis`` is None), int32."
    return op


argmax, argmin = _arg(np.argmax), _arg(np.argmin)


# --------------------------------------------------------------------- shapes
def reshape(x, newshape):
    """``x`` with shape ``newshape`` (one dimension may be -1)."""
    return _A.reshape(convert_to_tensor(x), newshape)


def transpose(x, axes=None):
    """``x`` with its axes permuted (reversed when ``axes`` is None)."""
    return _A.transpose(convert_to_tensor(x), axes)


def swapaxes(x, axis1, axis2):
    """``x`` with ``axis1`` and ``axis2`` exchanged."""
    return _A.swapaxes(convert_to_tensor(x), int(axis1), int(axis2))


def squeeze(x, axis=None):
    """``x`` without its size-1 axes (or those in ``axis``)."""
    return _A.squeeze(convert_to_tensor(x), axis)


def ravel(x):
    """``x`` flattened to 1-D."""
    return _A.reshape(convert_to_tensor(x), (-1,))


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape``; the gradient sums back."""
    return _A.broadcast_to(convert_to_tensor(x), shape)


def concatenate(xs, axis=0):
    """Tensors joined along an existing ``axis``."""
    return _A.concat([convert_to_tensor(x) for x in xs], axis)


def stack(x, axis=0):
    """Same-shape tensors joined along a new ``axis``."""
    return _A.stack([convert_to_tensor(v) for v in x], axis)


def repeat(x, repeats, axis=None):
    """Each element (slice along ``axis``) repeated ``repeats`` times; flattened first when ``axis`` is None."""
    return _A.repeat(convert_to_tensor(x), repeats, axis)


def take_along_axis(x, indices, axis=None):
    """``x`` gathered along ``axis`` by an index array of ``x``'s rank (NumPy's ``take_along_axis``)."""
    return _I.take_along_axis(convert_to_tensor(x), indices, axis)


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` starting at ``start_indices`` with ``shape`` (Keras' ``ops.slice``)."""
    idx = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(unwrap(start_indices), unwrap(shape)))
    return _A.getitem(convert_to_tensor(inputs), idx)


def sort(x, axis=-1):
    """``x`` sorted along ``axis``; the gradient goes back to each value's origin."""
    return _I.sort(convert_to_tensor(x), axis)


def argsort(x, axis=-1):
    """Indices that sort ``x`` along ``axis`` (int32)."""
    return _I.argsort(convert_to_tensor(x), axis)


def top_k(x, k, sorted=True):
    """``(values, indices)`` of the ``k`` largest entries along the last axis."""
    return _I.top_k(convert_to_tensor(x), k, sorted)


def meshgrid(*x, indexing="xy"):
    """Coordinate grids from 1-D tensors (``'xy'`` or ``'ij'`` indexing)."""
    return _I.meshgrid(*x, indexing=indexing)


# --------------------------------------------------------------------- linalg
def matmul(x1, x2):
    """Matrix product with NumPy's broadcasting rules (1-D operands as vectors)."""
    return _A.matmul(convert_to_tensor(x1), convert_to_tensor(x2))


def tensordot(x1, x2, axes=2):
    """Sum of products over ``axes`` (an int: the last axes of ``x1`` with the first of ``x2``)."""
    return _A.tensordot(convert_to_tensor(x1), convert_to_tensor(x2), axes)


# ------------------------------------------------------------------------- nn
relu, sigmoid, tanh, softplus, silu, swish = _N.relu, _N.sigmoid, _N.tanh, _N.softplus, _N.silu, _N.silu
relu6, selu, softsign, elu = _N.relu6, _N.selu, _N.softsign, _N.elu


def gelu(x, approximate=True):
    """Gaussian error linear unit; Keras' default is the tanh approximation."""
    return _N.gelu(x, approximate=approximate)


def leaky_relu(x, negative_slope=0.2):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise."""
    return _N.leaky_relu(x, negative_slope)


def hard_sigmoid(x):
    """``clip(x / 6 + 1/2, 0, 1)``."""
    return _M.clip_by_value(_M.add(_M.multiply(convert_to_tensor(x), 1 / 6), 0.5), 0.0, 1.0)


def log_sigmoid(x):
    """``log(sigmoid(x))``, computed stably as ``-softplus(-x)``."""
    return _M.negative(_N.softplus(_M.negative(convert_to_tensor(x))))


def softmax(x, axis=-1):
    """Softmax along ``axis``."""
    return _N.softmax(x, axis)


def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``, computed stably."""
    return _N.log_softmax(x, axis)


def one_hot(x, num_classes, axis=-1, dtype=None):
    """One-hot vectors for integer ``x`` (floatx unless ``dtype``; out-of-range ids give zeros)."""
    return _A.one_hot(x, num_classes, axis=axis, dtype=_dtype(dtype))


def moments(x, axes, keepdims=False):
    """``(mean, variance)`` over ``axes``."""
    return _N.moments(_float_input(x), axes, keepdims)


def normalize(x, axis=-1, order=2):
    """``x`` divided by its ``order``-norm along ``axis``."""
    x = _float_input(x)
    return _M.divide(x, _M.maximum(norm(x, order, axis, keepdims=True), _backend.epsilon()))


def binary_crossentropy(target, output, from_logits=False):
    """Element-wise binary cross-entropy (no reduction); probabilities are clipped to ``[epsilon, 1 - epsilon]``."""
    return _N.binary_crossentropy(target, _float_input(output), from_logits, _backend.epsilon())


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """``-sum(target * log(output))`` over ``axis``; probabilities are renormalized and clipped first."""
    return _N.categorical_crossentropy(target, _float_input(output), from_logits, axis, _backend.epsilon())


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Cross-entropy with integer class ids ``target`` (shaped ``output.shape[:-1]``, or with a trailing 1)."""
    return _N.sparse_categorical_crossentropy(target, _float_input(output), from_logits, axis, _backend.epsilon())


# -------------------------------------------------------------------- control
def cond(pred, true_fn, false_fn):
    """``true_fn()`` if ``pred`` else ``false_fn()`` (eager: only the chosen branch runs)."""
    return true_fn() if bool(unwrap(pred)) else false_fn()


def is_tensor(x):
    """Whether ``x`` is a ferronet Tensor."""
    return isinstance(x, Tensor)


def vectorized_map(function, elements):
    """``function`` applied to each slice of ``elements`` along axis 0, results stacked (a Python loop)."""
    return _A.stack([function(e) for e in convert_to_tensor(elements)], 0)


def fori_loop(lower, upper, body_fun, init_val):
    """``body_fun(i, val)`` for ``i`` in ``[lower, upper)``, eagerly."""
    val = init_val
    for i in builtins.range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    """``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)`` (at most ``maximum_iterations`` times), eagerly."""
    single = not isinstance(loop_vars, (list, tuple))
    vs = (loop_vars,) if single else tuple(loop_vars)
    i = 0
    while bool(unwrap(cond(*vs))) and (maximum_iterations is None or i < maximum_iterations):
        out = body(*vs)
        vs = (out,) if single else tuple(out)
        i += 1
    return vs[0] if single else type(loop_vars)(vs)


inv, det, solve = _L.inv, _L.det, _L.solve


# Functional models: ops on ferronet.Input's KerasTensors record Lambda layers, as in Keras 3.
_symbolic_namespace(globals(), skip=("convert_to_numpy", "shape", "ndim", "size", "dtype", "is_tensor", "cond",
                                     "fori_loop", "while_loop", "zeros", "ones", "full", "eye", "identity", "arange",
                                     "linspace", "tri", "convert_to_tensor"))
