"""``tf.math``: element-wise math and reductions, each differentiable under a ``GradientTape``."""

from ..tensor.symbolic import symbolic_namespace as _symbolic_namespace
from ..tensor.math_ops import (  # noqa: F401
    abs, acos, add, asin, atan, ceil, cos, cosh, divide, equal, erf, exp, expm1, floor, floordiv, greater,
    greater_equal, is_finite, is_inf, is_nan, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    maximum, minimum, mod, multiply, negative, not_equal, pow, reciprocal, round, rsqrt, sign, sin, sinh, sqrt, square,
    squared_difference, subtract, tan, tanh, truediv,
)
from ..tensor.nn_ops import l2_normalize, log_softmax, sigmoid, softmax, softplus  # noqa: F401
from ..tensor.index_ops import add_n, top_k  # noqa: F401
from ..tensor.reduce_ops import (  # noqa: F401
    argmax, argmin, count_nonzero, cumsum, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean,
    reduce_min, reduce_prod, reduce_std, reduce_sum, reduce_variance,
)


def divide_no_nan(x, y):
    """``x / y``, and 0 where ``y`` is 0."""
    from ..tensor import math_ops as M

    safe = M.where(M.equal(y, 0), 1, y) if not isinstance(y, (int, float)) else (y or 1)
    return M.where(M.equal(y, 0), 0, M.divide(x, safe))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, stable for any ``x``."""
    from ..tensor import math_ops as M
    from ..tensor.nn_ops import softplus as _softplus

    return M.negative(_softplus(M.negative(x)))


floormod = mod


# Functional models: these functions on ferronet.Input's KerasTensors record Lambda layers (tf.concat([x, t], 1)...).
_symbolic_namespace(globals(), skip=())
