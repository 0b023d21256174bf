"""Element-wise primitives: arithmetic, powers, exponentials, trigonometry, comparisons.

Each op is its NumPy forward and, beside it, its VJP in differentiable ops
(``g`` is the upstream gradient, ``y`` the op's output). Binary ops broadcast
as NumPy does; their VJPs sum the gradient back to each input's shape. The
ops with no gradient (comparisons, logic, rounding) live in :mod:`.compare_ops`
and are re-exported here. Each public op is declared with its docstring
(``primitive(..., doc=...)``), example included.
"""

from __future__ import annotations

import math

import numpy as np

from .compare_ops import (  # noqa: F401  (re-exported: tf.math has them)
    ceil, equal, floor, floordiv, greater, greater_equal, is_finite, is_inf, is_nan, less, less_equal,
    logical_and, logical_not, logical_or, mod, not_equal, round, sign,
)
from .core import Tensor, _wrap, as_tensor, primitive, unwrap

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
add = primitive("add", np.add, lambda g, y, a, b: (_unbroadcast(g, _shape(a)), _unbroadcast(g, _shape(b))),
                doc="""``x + y``, element-wise, broadcast as NumPy does (``x + y`` on tensors calls it).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import add
        >>> add(fn.constant([1.0, 2.0]), fn.constant([[10.0], [20.0]])).numpy()
        array([[11., 12.],
               [21., 22.]], dtype=float32)
    """)
subtract = primitive("subtract", np.subtract,
                     lambda g, y, a, b: (_unbroadcast(g, _shape(a)), _unbroadcast(negative(g), _shape(b))),
                     doc="""``x - y``, element-wise, broadcast as NumPy does.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import subtract
        >>> subtract(fn.constant([5.0, 7.0]), 2.0).numpy()
        array([3., 5.], dtype=float32)
    """)
multiply = primitive("multiply", np.multiply,
                     lambda g, y, a, b: (_unbroadcast(multiply(g, b), _shape(a)),
                                         _unbroadcast(multiply(g, a), _shape(b))),
                     doc="""``x * y``, element-wise; the gradient with respect to each input is the other.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import multiply
        >>> a, b = fn.constant([1.0, 2.0]), fn.constant([3.0, 4.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(a)
        ...     y = multiply(a, b)
        >>> y.numpy(), tape.gradient(y, a).numpy()
        (array([3., 8.], dtype=float32), array([3., 4.], dtype=float32))
    """)


def _div_vjp(g, y, a, b):
    ga = divide(g, b)
    return _unbroadcast(ga, _shape(a)), _unbroadcast(negative(multiply(ga, y)), _shape(b))


divide = primitive("divide", np.true_divide, _div_vjp,
                   doc="""``x / y``, element-wise (true division; ``truediv`` is the same op).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import divide
        >>> b = fn.constant([2.0, 4.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(b)
        ...     y = divide(1.0, b)
        >>> y.numpy(), tape.gradient(y, b).numpy()  # d(1/b)/db = -1/b**2
        (array([0.5 , 0.25], dtype=float32), array([-0.25  , -0.0625], dtype=float32))
    """)
truediv = divide


def _pow_fwd(x, y):
    return np.power(x, y)


def _pow_vjp(g, y, a, b):
    bm1 = subtract(b, 1) if isinstance(b, Tensor) else unwrap(b) - 1  # keep Python scalars weakly typed
    ga = multiply(g, multiply(b, power(a, bm1)))
    gb = None
    if isinstance(b, Tensor):
        av = unwrap(a)
        safe_log = where(greater(a, 0), log(where(greater(a, 0), a, np.ones((), np.asarray(av).dtype))), 0)
        gb = _unbroadcast(multiply(g, multiply(y, safe_log)), _shape(b))
    return _unbroadcast(ga, _shape(a)), gb


power = primitive("pow", _pow_fwd, _pow_vjp,
                  doc="""``x ** y``, element-wise (``pow`` is the same op); differentiable in both.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import power
        >>> x = fn.constant([1.0, 2.0, 3.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = power(x, 3)
        >>> y.numpy(), tape.gradient(y, x).numpy()  # 3 x**2
        (array([ 1.,  8., 27.], dtype=float32), array([ 3., 12., 27.], dtype=float32))
    """)
pow = power
negative = primitive("negative", np.negative, lambda g, y, a: (negative(g),), doc="""``-x``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import negative
        >>> negative(fn.constant([1.0, -2.0])).numpy()
        array([-1.,  2.], dtype=float32)
    """)


def squared_difference(x, y):
    """``(x - y) ** 2``, element-wise, differentiable in both.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import squared_difference
        >>> squared_difference(fn.constant([1.0, 5.0]), fn.constant([3.0, 5.0])).numpy()
        array([4., 0.], dtype=float32)
    """
    return square(subtract(x, y))


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
maximum = primitive("maximum", np.maximum, _maxmin_vjp(lambda a, b: greater_equal(a, b)),
                    doc="""Element-wise maximum of ``x`` and ``y``; the gradient goes to the larger (``x`` on ties).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import maximum
        >>> x = fn.constant([-1.0, 0.0, 2.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = maximum(x, 0.0)
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([0., 0., 2.], dtype=float32), array([0., 1., 1.], dtype=float32))
    """)
minimum = primitive("minimum", np.minimum, _maxmin_vjp(lambda a, b: less_equal(a, b)),
                    doc="""Element-wise minimum of ``x`` and ``y``; the gradient goes to the smaller (``x`` on ties).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import minimum
        >>> minimum(fn.constant([-1.0, 0.0, 2.0]), fn.constant([0.0, 0.0, 1.0])).numpy()
        array([-1.,  0.,  1.], dtype=float32)
    """)

# ----------------------------------------------------------------- unary math
abs = primitive("abs", np.abs, lambda g, y, a: (multiply(g, sign(a)),),
                doc="""``|x|``, element-wise; its gradient is ``sign(x)`` (0 at 0).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import abs
        >>> x = fn.constant([-2.0, 0.0, 3.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = abs(x)
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([2., 0., 3.], dtype=float32), array([-1.,  0.,  1.], dtype=float32))
    """)
square = primitive("square", np.square, lambda g, y, a: (multiply(g, multiply(a, 2)),), doc="""``x ** 2``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import square
        >>> x = fn.constant([1.0, -3.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = square(x)
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([1., 9.], dtype=float32), array([ 2., -6.], dtype=float32))
    """)
sqrt = primitive("sqrt", np.sqrt, lambda g, y, a: (divide(g, multiply(y, 2)),),
                 doc="""``√x``, element-wise (NaN for ``x < 0``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import sqrt
        >>> x = fn.constant([1.0, 4.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = sqrt(x)
        >>> y.numpy(), tape.gradient(y, x).numpy()  # 1 / (2 √x)
        (array([1., 2.], dtype=float32), array([0.5 , 0.25], dtype=float32))
    """)


def _rsqrt_fwd(x):
    return 1 / np.sqrt(x)


rsqrt = primitive("rsqrt", _rsqrt_fwd, lambda g, y, a: (multiply(g, multiply(power(y, 3), -0.5)),),
                  doc="""``1 / √x``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import rsqrt
        >>> rsqrt(fn.constant([1.0, 4.0, 16.0])).numpy()
        array([1.  , 0.5 , 0.25], dtype=float32)
    """)
exp = primitive("exp", np.exp, lambda g, y, a: (multiply(g, y),), doc="""``e ** x``, element-wise; its own derivative.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import exp
        >>> x = fn.constant([0.0, 1.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = exp(x)
        >>> np.round(y.numpy(), 4), np.round(tape.gradient(y, x).numpy(), 4)
        (array([1.    , 2.7183], dtype=float32), array([1.    , 2.7183], dtype=float32))
    """)
expm1 = primitive("expm1", np.expm1, lambda g, y, a: (multiply(g, add(y, 1)),),
                  doc="""``e ** x - 1``, accurate for small ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import expm1
        >>> expm1(fn.constant([1e-7, 0.0], dtype="float64")).numpy()
        array([1.00000005e-07, 0.00000000e+00])
    """)
log = primitive("log", np.log, lambda g, y, a: (divide(g, a),),
                doc="""The natural logarithm, element-wise (``-inf`` at 0, NaN below).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import log
        >>> x = fn.constant([1.0, 4.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = log(x)
        >>> np.round(y.numpy(), 4), tape.gradient(y, x).numpy()  # 1 / x
        (array([0.    , 1.3863], dtype=float32), array([1.  , 0.25], dtype=float32))
    """)
log1p = primitive("log1p", np.log1p, lambda g, y, a: (divide(g, add(a, 1)),),
                  doc="""``log(1 + x)``, accurate for small ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import log1p
        >>> log1p(fn.constant([1e-7, 0.0], dtype="float64")).numpy()
        array([9.9999995e-08, 0.0000000e+00])
    """)
sin = primitive("sin", np.sin, lambda g, y, a: (multiply(g, cos(a)),),
                doc="""Sine (radians), element-wise; any order of derivative.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import sin
        >>> x = fn.constant([0.0, np.pi / 2])
        >>> with fn.GradientTape() as outer:
        ...     outer.watch(x)
        ...     with fn.GradientTape() as inner:
        ...         inner.watch(x)
        ...         y = sin(x)
        ...     dy = inner.gradient(y, x)
        >>> np.round(y.numpy(), 4), np.round(dy.numpy(), 4), np.round(outer.gradient(dy, x).numpy(), 4)
        (array([0., 1.], dtype=float32), array([ 1., -0.], dtype=float32), array([-0., -1.], dtype=float32))
    """)
cos = primitive("cos", np.cos, lambda g, y, a: (negative(multiply(g, sin(a))),), doc="""Cosine (radians), element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import cos
        >>> np.round(cos(fn.constant([0.0, np.pi / 3, np.pi])).numpy(), 4)
        array([ 1. ,  0.5, -1. ], dtype=float32)
    """)
tan = primitive("tan", np.tan, lambda g, y, a: (multiply(g, add(square(y), 1)),),
                doc="""Tangent (radians), element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import tan
        >>> np.round(tan(fn.constant([0.0, np.pi / 4])).numpy(), 4)
        array([0., 1.], dtype=float32)
    """)
asin = primitive("asin", np.arcsin, lambda g, y, a: (multiply(g, rsqrt(subtract(1, square(a)))),),
                 doc="""Inverse sine, element-wise, in ``[-π/2, π/2]`` (NaN outside ``[-1, 1]``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import asin
        >>> np.round(asin(fn.constant([0.0, 0.5, 1.0])).numpy(), 4)
        array([0.    , 0.5236, 1.5708], dtype=float32)
    """)
acos = primitive("acos", np.arccos, lambda g, y, a: (negative(multiply(g, rsqrt(subtract(1, square(a))))),),
                 doc="""Inverse cosine, element-wise, in ``[0, π]`` (NaN outside ``[-1, 1]``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import acos
        >>> np.round(acos(fn.constant([1.0, 0.5, -1.0])).numpy(), 4)
        array([0.    , 1.0472, 3.1416], dtype=float32)
    """)
atan = primitive("atan", np.arctan, lambda g, y, a: (divide(g, add(square(a), 1)),),
                 doc="""Inverse tangent, element-wise, in ``(-π/2, π/2)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import atan
        >>> np.round(atan(fn.constant([0.0, 1.0])).numpy(), 4)
        array([0.    , 0.7854], dtype=float32)
    """)
sinh = primitive("sinh", np.sinh, lambda g, y, a: (multiply(g, cosh(a)),), doc="""Hyperbolic sine, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import sinh
        >>> np.round(sinh(fn.constant([0.0, 1.0])).numpy(), 4)
        array([0.    , 1.1752], dtype=float32)
    """)
cosh = primitive("cosh", np.cosh, lambda g, y, a: (multiply(g, sinh(a)),), doc="""Hyperbolic cosine, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import cosh
        >>> np.round(cosh(fn.constant([0.0, 1.0])).numpy(), 4)
        array([1.    , 1.5431], dtype=float32)
    """)
tanh = primitive("tanh", np.tanh, lambda g, y, a: (multiply(g, subtract(1, square(y))),),
                 doc="""Hyperbolic tangent, element-wise; its gradient is ``1 - tanh(x) ** 2``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import tanh
        >>> x = fn.constant([0.0, 1.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = tanh(x)
        >>> np.round(y.numpy(), 4), np.round(tape.gradient(y, x).numpy(), 4)
        (array([0.    , 0.7616], dtype=float32), array([1.  , 0.42], dtype=float32))
    """)


def _erf_fwd(x):
    try:
        from scipy.special import erf as _erf

        return _erf(x)
    except ImportError:
        return np.vectorize(math.erf, otypes=[x.dtype])(x) if x.size else x.copy()


erf = primitive("erf", _erf_fwd,
                lambda g, y, a: (multiply(g, multiply(exp(negative(square(a))), 2 / math.sqrt(math.pi))),),
                doc="""The Gauss error function, element-wise; its gradient is ``2 / √π · exp(-x²)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import erf
        >>> np.round(erf(fn.constant([0.0, 0.5, 3.0])).numpy(), 4)
        array([0.    , 0.5205, 1.    ], dtype=float32)
    """)


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
