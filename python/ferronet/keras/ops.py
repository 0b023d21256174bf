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
    >>> ops.sum(ops.square(ops.arange(4.0)))
    <Tensor: shape=(), dtype=float32, numpy=14.0>
"""

from __future__ import annotations

import builtins

import numpy as np

from ..tensor import array_ops as _A
from ..tensor import index_ops as _I
from ..tensor import linalg_ops as _L
from ..tensor import math_ops as _M
from ..tensor import nn_ops as _N
from ..tensor import reduce_ops as _R
from ..tensor.core import Tensor, _wrap, as_tensor, unwrap
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
    """The shape of ``x`` as a tuple of ints."""
    return tuple(np.shape(unwrap(x)))


def ndim(x):
    return len(shape(x))


def size(x):
    return int(np.prod(shape(x), dtype=np.int64))


def dtype(x):
    """The dtype name of ``x`` (``"float32"``...)."""
    return _backend.standardize_dtype(np.asarray(unwrap(x)).dtype)


def cast(x, dtype):
    return _M.cast(x, _dtype(dtype))


def _shape_arg(s):
    return (int(s),) if isinstance(s, (int, np.integer)) else tuple(int(unwrap(d)) for d in unwrap(s))


def zeros(shape, dtype=None):
    return _wrap(np.zeros(_shape_arg(shape), _dtype(dtype)))


def ones(shape, dtype=None):
    return _wrap(np.ones(_shape_arg(shape), _dtype(dtype)))


def full(shape, fill_value, dtype=None):
    return _wrap(np.full(_shape_arg(shape), unwrap(fill_value), _dtype(dtype, _python_dtype(fill_value))))


def zeros_like(x, dtype=None):
    return _wrap(np.zeros(shape(x), _dtype(dtype, _python_dtype(x))))


def ones_like(x, dtype=None):
    return _wrap(np.ones(shape(x), _dtype(dtype, _python_dtype(x))))


def full_like(x, fill_value, dtype=None):
    return _wrap(np.full(shape(x), unwrap(fill_value), _dtype(dtype, _python_dtype(x))))


def eye(N, M=None, k=0, dtype=None):
    return _wrap(np.eye(int(N), None if M is None else int(M), int(k), dtype=_dtype(dtype)))


def identity(n, dtype=None):
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
    out, step = np.linspace(unwrap(start), unwrap(stop), int(num), endpoint=endpoint, retstep=True, axis=axis)
    out = _wrap(out.astype(_dtype(dtype)))
    return (out, step) if retstep else out


def tri(N, M=None, k=0, dtype=None):
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
    return _M.squared_difference(x1, x2)


def logaddexp(x1, x2):
    """``log(exp(x1) + exp(x2))``, computed stably."""
    m = _A.stop_gradient(_M.maximum(x1, x2))
    return _M.add(m, _M.log(_M.add(_M.exp(_M.subtract(x1, m)), _M.exp(_M.subtract(x2, m)))))


def nan_to_num(x, nan=0.0, posinf=None, neginf=None):
    x = convert_to_tensor(x)
    v = unwrap(x)
    keep = np.isfinite(v)
    repl = np.nan_to_num(v, nan=nan, posinf=posinf, neginf=neginf)
    return _M.where(keep, x, repl)


# ---------------------------------------------------------------- reductions
def _float_input(x):
    x = convert_to_tensor(x)
    return x if x.dtype.kind in "fc" else _M.cast(x, _backend.floatx())


def sum(x, axis=None, keepdims=False):
    return _R.reduce_sum(convert_to_tensor(x), axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``; integer input gives a float (floatx), as Keras."""
    return _R.reduce_mean(_float_input(x), axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    out = _R.reduce_max(convert_to_tensor(x), axis, keepdims)
    return out if initial is None else _M.maximum(out, initial)


def min(x, axis=None, keepdims=False, initial=None):
    out = _R.reduce_min(convert_to_tensor(x), axis, keepdims)
    return out if initial is None else _M.minimum(out, initial)


amax, amin = max, min


def prod(x, axis=None, keepdims=False, dtype=None):
    x = convert_to_tensor(x) if dtype is None else cast(x, dtype)
    return _R.reduce_prod(x, axis, keepdims)


def var(x, axis=None, keepdims=False):
    """Population variance (``ddof=0``)."""
    return _R.reduce_variance(_float_input(x), axis, keepdims)


def std(x, axis=None, keepdims=False):
    """Population standard deviation (``ddof=0``)."""
    return _R.reduce_std(_float_input(x), axis, keepdims)


def logsumexp(x, axis=None, keepdims=False):
    return _R.reduce_logsumexp(_float_input(x), axis, keepdims)


def any(x, axis=None, keepdims=False):
    return _wrap(np.any(unwrap(x), axis=_np_axis(axis), keepdims=keepdims))


def all(x, axis=None, keepdims=False):
    return _wrap(np.all(unwrap(x), axis=_np_axis(axis), keepdims=keepdims))


def count_nonzero(x, axis=None):
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


def cumsum(x, axis=None, dtype=None):
    x = convert_to_tensor(x) if dtype is None else cast(x, dtype)
    if axis is None:
        return _R.cumsum(_A.reshape(x, (-1,)), 0)
    return _R.cumsum(x, axis)


def norm(x, ord=None, axis=None, keepdims=False):
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0 or any p) and the Frobenius norm of matrices (``"fro"``)."""
    x = _float_input(x)
    if isinstance(axis, (tuple, list)) and len(axis) == 2 and ord not in (None, "fro"):
        raise NotImplementedError(f"Matrix norms other than 'fro' are not supported. Received: ord={ord!r}")
    if ord in (None, "fro", 2):
        return _R.norm(x, "euclidean", axis, keepdims)
    if ord == np.inf:
        return _R.reduce_max(_M.abs(x), axis, keepdims)
    if ord == -np.inf:
        return _R.reduce_min(_M.abs(x), axis, keepdims)
    if ord == 0:
        return _M.cast(_R.reduce_sum(_M.cast(_M.not_equal(x, 0), x.dtype), axis, keepdims), x.dtype)
    if isinstance(ord, (int, float)):
        p = float(ord)
        return _M.power(_R.reduce_sum(_M.power(_M.abs(x), p), axis, keepdims), 1.0 / p)
    raise ValueError(f"Unsupported norm order. Received: ord={ord!r}")


# --------------------------------------------------------------------- shapes
def reshape(x, newshape):
    return _A.reshape(convert_to_tensor(x), newshape)


def transpose(x, axes=None):
    return _A.transpose(convert_to_tensor(x), axes)


def swapaxes(x, axis1, axis2):
    return _A.swapaxes(convert_to_tensor(x), int(axis1), int(axis2))


def moveaxis(x, source, destination):
    x = convert_to_tensor(x)
    src = [int(a) % x.ndim for a in (source if isinstance(source, (list, tuple)) else [source])]
    dst = [int(a) % x.ndim for a in (destination if isinstance(destination, (list, tuple)) else [destination])]
    perm = [i for i in builtins.range(x.ndim) if i not in src]
    for d, s_ in sorted(zip(dst, src)):
        perm.insert(d, s_)
    return _A.transpose(x, perm)


def expand_dims(x, axis):
    x = convert_to_tensor(x)
    for a in sorted(int(a) % (x.ndim + (len(axis) if isinstance(axis, (list, tuple)) else 1))
                    for a in (axis if isinstance(axis, (list, tuple)) else [axis])):
        x = _A.expand_dims(x, a)
    return x


def squeeze(x, axis=None):
    return _A.squeeze(convert_to_tensor(x), axis)


def ravel(x):
    return _A.reshape(convert_to_tensor(x), (-1,))


def broadcast_to(x, shape):
    return _A.broadcast_to(convert_to_tensor(x), shape)


def concatenate(xs, axis=0):
    return _A.concat([convert_to_tensor(x) for x in xs], axis)


def stack(x, axis=0):
    return _A.stack([convert_to_tensor(v) for v in x], axis)


def hstack(xs):
    xs = [convert_to_tensor(x) for x in xs]
    return _A.concat(xs, 0 if xs[0].ndim == 1 else 1)


def vstack(xs):
    return _A.concat([_A.reshape(t, (1, -1)) if t.ndim == 1 else t for t in map(convert_to_tensor, xs)], 0)


def split(x, indices_or_sections, axis=0):
    """NumPy's split: an int gives equal sections, a list gives the indices where sections start."""
    x = convert_to_tensor(x)
    if isinstance(indices_or_sections, (int, np.integer)):
        return _A.split(x, int(indices_or_sections), axis)
    n = x.shape[int(axis)]
    bounds = [0] + [int(i) for i in indices_or_sections] + [n]
    return _A.split(x, [builtins.max(b - a, 0) for a, b in zip(bounds[:-1], bounds[1:])], axis)


def tile(x, repeats):
    """``np.tile``: ``repeats`` shorter than ``x.ndim`` gets leading 1s; longer, ``x`` gets leading axes."""
    x = convert_to_tensor(x)
    reps = [int(r) for r in (repeats if isinstance(repeats, (list, tuple)) else [repeats])]
    if len(reps) < x.ndim:
        reps = [1] * (x.ndim - len(reps)) + reps
    elif len(reps) > x.ndim:
        x = _A.reshape(x, (1,) * (len(reps) - x.ndim) + x.shape)
    return _A.tile(x, reps)


def repeat(x, repeats, axis=None):
    return _A.repeat(convert_to_tensor(x), repeats, axis)


def flip(x, axis=None):
    x = convert_to_tensor(x)
    return _A.reverse(x, list(builtins.range(x.ndim)) if axis is None else axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    x = convert_to_tensor(x)
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2) if np.ndim(pad_width) else
                         np.full((1, 2), int(pad_width)), (x.ndim, 2))
    return _A.pad(x, pw.tolist(), mode=mode, constant_values=0 if constant_values is None else constant_values)


def take(x, indices, axis=None):
    """``np.take``: slices of ``x`` along ``axis`` (of the flattened ``x`` when None); negative indices count back."""
    x = convert_to_tensor(x)
    if axis is None:
        x, axis = _A.reshape(x, (-1,)), 0
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        raise TypeError(f"take indices must be integers. Received: dtype {idx.dtype}")
    n = x.shape[int(axis)]
    return _A.gather(x, np.where(idx < 0, idx + n, idx), axis=axis)


def take_along_axis(x, indices, axis=None):
    return _I.take_along_axis(convert_to_tensor(x), indices, axis)


def slice(inputs, start_indices, shape):
    """The block of ``inputs`` starting at ``start_indices`` with ``shape`` (Keras' ``ops.slice``)."""
    idx = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(unwrap(start_indices), unwrap(shape)))
    return _A.getitem(convert_to_tensor(inputs), idx)


def sort(x, axis=-1):
    return _I.sort(convert_to_tensor(x), axis)


def argsort(x, axis=-1):
    return _I.argsort(convert_to_tensor(x), axis)


def top_k(x, k, sorted=True):
    return _I.top_k(convert_to_tensor(x), k, sorted)


def meshgrid(*x, indexing="xy"):
    return _I.meshgrid(*x, indexing=indexing)


# --------------------------------------------------------------------- linalg
def matmul(x1, x2):
    return _A.matmul(convert_to_tensor(x1), convert_to_tensor(x2))


def dot(x1, x2):
    """``np.dot``: products of scalars, inner products of vectors, ``matmul`` of matrices, last-by-second-last axes."""
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    if a.ndim == 0 or b.ndim == 0:
        return _M.multiply(a, b)
    if b.ndim <= 2:
        return _A.matmul(a, b)
    return _A.tensordot(a, b, axes=([a.ndim - 1], [b.ndim - 2]))


def tensordot(x1, x2, axes=2):
    return _A.tensordot(convert_to_tensor(x1), convert_to_tensor(x2), axes)


def einsum(subscripts, *operands):
    """``np.einsum``; without ``->`` the output takes the letters used once, in alphabetical order."""
    s = subscripts.replace(" ", "")
    if "->" not in s:
        letters = [c for c in s if c.isalpha()]
        s += "->" + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return _A.einsum(s, *[convert_to_tensor(o) for o in operands])


def outer(x1, x2):
    return _M.multiply(_A.reshape(convert_to_tensor(x1), (-1, 1)), _A.reshape(convert_to_tensor(x2), (1, -1)))


def inner(x1, x2):
    a, b = convert_to_tensor(x1), convert_to_tensor(x2)
    return _M.multiply(a, b) if a.ndim == 0 or b.ndim == 0 else _A.tensordot(a, b, ([a.ndim - 1], [b.ndim - 1]))


def trace(x, offset=0, axis1=0, axis2=1):
    x = convert_to_tensor(x)
    return sum(diagonal(x, offset, axis1, axis2), axis=-1)


def diagonal(x, offset=0, axis1=0, axis2=1):
    x = convert_to_tensor(x)
    d = np.diagonal(np.arange(x.size).reshape(x.shape), offset, axis1, axis2)
    return _A.getitem(_A.reshape(x, (-1,)), d)


def diag(x, k=0):
    x = convert_to_tensor(x)
    if x.ndim == 1:
        n = x.shape[0] + builtins.abs(int(k))
        rows, cols = (np.arange(x.shape[0]), np.arange(x.shape[0]) + k) if k >= 0 else \
            (np.arange(x.shape[0]) - k, np.arange(x.shape[0]))
        return _I.scatter_nd(np.stack([rows, cols], -1), x, (n, n))
    return diagonal(x, k)


# ------------------------------------------------------------------------- nn
relu, sigmoid, tanh, softplus, silu, swish = _N.relu, _N.sigmoid, _N.tanh, _N.softplus, _N.silu, _N.silu
relu6, selu, softsign, elu = _N.relu6, _N.selu, _N.softsign, _N.elu


def gelu(x, approximate=True):
    """Gaussian error linear unit; Keras' default is the tanh approximation."""
    return _N.gelu(x, approximate=approximate)


def leaky_relu(x, negative_slope=0.2):
    return _N.leaky_relu(x, negative_slope)


def hard_sigmoid(x):
    return _M.clip_by_value(_M.add(_M.multiply(convert_to_tensor(x), 1 / 6), 0.5), 0.0, 1.0)


def log_sigmoid(x):
    return _M.negative(_N.softplus(_M.negative(convert_to_tensor(x))))


def softmax(x, axis=-1):
    return _N.softmax(x, axis)


def log_softmax(x, axis=-1):
    return _N.log_softmax(x, axis)


def one_hot(x, num_classes, axis=-1, dtype=None):
    return _A.one_hot(x, num_classes, axis=axis, dtype=_dtype(dtype))


def moments(x, axes, keepdims=False):
    return _N.moments(_float_input(x), axes, keepdims)


def normalize(x, axis=-1, order=2):
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
    return isinstance(x, Tensor)


def vectorized_map(function, elements):
    """``function`` applied to each slice of ``elements`` along axis 0, results stacked (a Python loop)."""
    return _A.stack([function(e) for e in convert_to_tensor(elements)], 0)


def fori_loop(lower, upper, body_fun, init_val):
    val = init_val
    for i in builtins.range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


def while_loop(cond, body, loop_vars, maximum_iterations=None):
    single = not isinstance(loop_vars, (list, tuple))
    vs = (loop_vars,) if single else tuple(loop_vars)
    i = 0
    while bool(unwrap(cond(*vs))) and (maximum_iterations is None or i < maximum_iterations):
        out = body(*vs)
        vs = (out,) if single else tuple(out)
        i += 1
    return vs[0] if single else type(loop_vars)(vs)


inv, det, solve = _L.inv, _L.det, _L.solve
