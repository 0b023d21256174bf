"""Element-wise primitives: arithmetic, powers, exponentials, trigonometry, comparisons.

Each op is its NumPy forward and, beside it, its VJP in differentiable ops
(``g`` is the upstream gradient, ``y`` the op's output). Binary ops broadcast
as NumPy does; their VJPs sum the gradient back to each input's shape.
"""

from __future__ import annotations

import math

import numpy as np

from .core import Tensor, _wrap, as_tensor, nondiff, primitive, unwrap

__all__ = [
    "add", "subtract", "multiply", "divide", "truediv", "floordiv", "mod", "pow", "power", "negative", "abs", "sign",
    "square", "sqrt", "rsqrt", "exp", "expm1", "log", "log1p", "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "erf", "maximum", "minimum", "squared_difference", "reciprocal", "cast",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "logical_not", "round", "floor", "ceil", "is_nan", "is_finite", "is_inf", "clip_by_value", "where",
    "real_dtype_of",
]


def real_dtype_of(x):
    """The dtype of the array behind ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import real_dtype_of
        >>> real_dtype_of(fn.constant([1.0])), real_dtype_of(np.zeros(2))
        (dtype('float32'), dtype('float64'))
    """
    return unwrap(x).dtype


def _unbroadcast(g, shape):
    """``g`` summed over the axes that broadcasting added or stretched, to ``shape``."""
    from . import reduce_ops

    gs = g.shape
    if gs == tuple(shape):
        return g
    lead = len(gs) - len(shape)
    axes = list(range(lead)) + [lead + i for i, d in enumerate(shape) if d == 1 and gs[lead + i] != 1]
    if axes:
        g = reduce_ops.reduce_sum(g, axis=tuple(axes), keepdims=True)
    from . import array_ops

    return array_ops.reshape(g, tuple(shape))


def _shape(x):
    return np.shape(unwrap(x))


# ---------------------------------------------------------------- arithmetic
add = primitive("add", np.add, lambda g, y, a, b: (_unbroadcast(g, _shape(a)), _unbroadcast(g, _shape(b))))
subtract = primitive("subtract", np.subtract,
                     lambda g, y, a, b: (_unbroadcast(g, _shape(a)), _unbroadcast(negative(g), _shape(b))))
multiply = primitive("multiply", np.multiply,
                     lambda g, y, a, b: (_unbroadcast(multiply(g, b), _shape(a)),
                                         _unbroadcast(multiply(g, a), _shape(b))))


def _div_vjp(g, y, a, b):
    ga = divide(g, b)
    return _unbroadcast(ga, _shape(a)), _unbroadcast(negative(multiply(ga, y)), _shape(b))


divide = primitive("divide", np.true_divide, _div_vjp)
truediv = divide


def _pow_fwd(a, b):
    return np.power(a, b)


def _pow_vjp(g, y, a, b):
    bm1 = subtract(b, 1) if isinstance(b, Tensor) else unwrap(b) - 1  # keep Python scalars weakly typed
    ga = multiply(g, multiply(b, power(a, bm1)))
    gb = None
    if isinstance(b, Tensor):
        av = unwrap(a)
        safe_log = where(greater(a, 0), log(where(greater(a, 0), a, np.ones((), np.asarray(av).dtype))), 0)
        gb = _unbroadcast(multiply(g, multiply(y, safe_log)), _shape(b))
    return _unbroadcast(ga, _shape(a)), gb


power = primitive("pow", _pow_fwd, _pow_vjp)
pow = power
negative = primitive("negative", np.negative, lambda g, y, a: (negative(g),))
floordiv = nondiff(np.floor_divide)
mod = nondiff(np.mod)
squared_difference = lambda x, y: square(subtract(x, y))  # noqa: E731


def reciprocal(x):
    """``1 / x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import reciprocal
        >>> reciprocal(fn.constant([2.0, 4.0])).numpy()
        array([0.5 , 0.25], dtype=float32)
    """
    return divide(1.0 if unwrap(x).dtype.kind == "f" else 1, x)


def _maxmin_vjp(pick):
    def vjp(g, y, a, b):
        mask_a = pick(a, b)
        ga = where(mask_a, g, 0)
        gb = where(mask_a, 0, g)
        return _unbroadcast(ga, _shape(a)), _unbroadcast(gb, _shape(b))

    return vjp


# Ties send the gradient to the first argument, as TensorFlow does.
maximum = primitive("maximum", np.maximum, _maxmin_vjp(lambda a, b: greater_equal(a, b)))
minimum = primitive("minimum", np.minimum, _maxmin_vjp(lambda a, b: less_equal(a, b)))

# ----------------------------------------------------------------- unary math
abs = primitive("abs", np.abs, lambda g, y, a: (multiply(g, sign(a)),))
sign = nondiff(np.sign)
square = primitive("square", np.square, lambda g, y, a: (multiply(g, multiply(a, 2)),))
sqrt = primitive("sqrt", np.sqrt, lambda g, y, a: (divide(g, multiply(y, 2)),))


def _rsqrt_fwd(a):
    return 1 / np.sqrt(a)


rsqrt = primitive("rsqrt", _rsqrt_fwd, lambda g, y, a: (multiply(g, multiply(power(y, 3), -0.5)),))
exp = primitive("exp", np.exp, lambda g, y, a: (multiply(g, y),))
expm1 = primitive("expm1", np.expm1, lambda g, y, a: (multiply(g, add(y, 1)),))
log = primitive("log", np.log, lambda g, y, a: (divide(g, a),))
log1p = primitive("log1p", np.log1p, lambda g, y, a: (divide(g, add(a, 1)),))
sin = primitive("sin", np.sin, lambda g, y, a: (multiply(g, cos(a)),))
cos = primitive("cos", np.cos, lambda g, y, a: (negative(multiply(g, sin(a))),))
tan = primitive("tan", np.tan, lambda g, y, a: (multiply(g, add(square(y), 1)),))
asin = primitive("asin", np.arcsin, lambda g, y, a: (multiply(g, rsqrt(subtract(1, square(a)))),))
acos = primitive("acos", np.arccos, lambda g, y, a: (negative(multiply(g, rsqrt(subtract(1, square(a))))),))
atan = primitive("atan", np.arctan, lambda g, y, a: (divide(g, add(square(a), 1)),))
sinh = primitive("sinh", np.sinh, lambda g, y, a: (multiply(g, cosh(a)),))
cosh = primitive("cosh", np.cosh, lambda g, y, a: (multiply(g, sinh(a)),))
tanh = primitive("tanh", np.tanh, lambda g, y, a: (multiply(g, subtract(1, square(y))),))


def _erf_fwd(a):
    try:
        from scipy.special import erf as _erf

        return _erf(a)
    except ImportError:
        return np.vectorize(math.erf, otypes=[a.dtype])(a) if a.size else a.copy()


erf = primitive("erf", _erf_fwd,
                lambda g, y, a: (multiply(g, multiply(exp(negative(square(a))), 2 / math.sqrt(math.pi))),))


def cast(x, dtype):
    """``x`` converted to ``dtype``; float-to-float casts pass gradients, casts to integers do not.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import cast
        >>> cast(fn.constant([1.7, -1.7]), "int32").numpy()
        array([ 1, -1], dtype=int32)
        >>> cast(fn.constant([1, 2]), "float32").dtype
        dtype('float32')
    """
    dt = np.dtype(getattr(dtype, "as_numpy_dtype", dtype))
    x = as_tensor(x)
    if x.dtype == dt:
        return x
    if dt.kind in "fc" and x.dtype.kind in "fc":
        return _cast(x, dtype=dt)
    return _wrap(unwrap(x).astype(dt))


_cast = primitive("cast", lambda a, dtype: a.astype(dtype),
                  lambda g, y, a, dtype: (cast(g, unwrap(a).dtype),))

# ------------------------------------------------------- comparisons (no gradient)
equal = nondiff(np.equal)
not_equal = nondiff(np.not_equal)
less = nondiff(np.less)
less_equal = nondiff(np.less_equal)
greater = nondiff(np.greater)
greater_equal = nondiff(np.greater_equal)
logical_and = nondiff(np.logical_and)
logical_or = nondiff(np.logical_or)
logical_not = nondiff(np.logical_not)
round = nondiff(np.round)
floor = nondiff(np.floor)
ceil = nondiff(np.ceil)
is_nan = nondiff(np.isnan)
is_finite = nondiff(np.isfinite)
is_inf = nondiff(np.isinf)


def _where_fwd(cond, a, b):
    return np.where(cond, a, b)


def _where_vjp(g, y, cond, a, b):
    zero = np.zeros((), unwrap(g).dtype)
    return None, _unbroadcast(where(cond, g, zero), _shape(a)), _unbroadcast(where(cond, zero, g), _shape(b))


_where = primitive("where", _where_fwd, _where_vjp)


def where(condition, x=None, y=None):
    """Elements of ``x`` where ``condition`` holds, else of ``y`` (broadcast); gradients flow to the chosen side.

    With only ``condition``, the indices of its true elements, ``(n, ndim)`` int64, as ``tf.where``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import where
        >>> x = fn.constant([1.0, -2.0, 3.0])
        >>> where(x > 0, x, fn.zeros_like(x)).numpy()
        array([1., 0., 3.], dtype=float32)
        >>> where(x > 0).numpy()  # indices where true
        array([[0],
               [2]])
    """
    if x is None and y is None:
        return _wrap(np.argwhere(unwrap(condition)).astype(np.int64))
    if x is None or y is None:
        raise ValueError("where needs both x and y, or neither. Received: only one of them")
    cond = unwrap(condition)
    cond = cond if isinstance(cond, np.ndarray) and cond.dtype == bool else np.asarray(cond, bool)
    # Python scalars take the dtype of the tensor on the other side (TensorFlow/NumPy-2 behaviour).
    xv, yv = unwrap(x), unwrap(y)
    if isinstance(xv, (list, tuple)):
        x = xv = np.asarray(as_tensor(xv)._v)
    if isinstance(yv, (list, tuple)):
        y = yv = np.asarray(as_tensor(yv)._v)
    if not isinstance(xv, np.ndarray) and not isinstance(yv, np.ndarray):
        x, y = as_tensor(xv), as_tensor(yv)   # Python values on both sides: TensorFlow's defaults
    elif not isinstance(xv, np.ndarray) and isinstance(yv, np.ndarray):
        x = np.asarray(xv, dtype=yv.dtype)
    elif not isinstance(yv, np.ndarray) and isinstance(xv, np.ndarray):
        y = np.asarray(yv, dtype=xv.dtype)
    return _where(cond, x, y)


def clip_by_value(t, clip_value_min, clip_value_max):
    """``t`` clipped to ``[min, max]``; the gradient passes where ``t`` is inside the range.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import clip_by_value
        >>> clip_by_value(fn.constant([-2.0, 0.5, 3.0]), 0.0, 1.0).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return minimum(maximum(t, clip_value_min), clip_value_max)
