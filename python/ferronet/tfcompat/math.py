"""``tf.math``: element-wise math and reductions, each differentiable under a ``GradientTape``."""

from ..tensor.math_ops import (  # noqa: F401
    abs, acos, add, asin, atan, ceil, cos, cosh, divide, equal, erf, exp, expm1, floor, floordiv, greater,
    greater_equal, is_finite, is_inf, is_nan, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    maximum, minimum, mod, multiply, negative, not_equal, pow, reciprocal, round, rsqrt, sign, sin, sinh, sqrt, square,
    squared_difference, subtract, tan, tanh, truediv,
)
from ..tensor.nn_ops import l2_normalize, log_softmax, sigmoid, softmax, softplus  # noqa: F401
from ..tensor.reduce_ops import (  # noqa: F401
    argmax, argmin, count_nonzero, cumsum, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean,
    reduce_min, reduce_prod, reduce_std, reduce_sum, reduce_variance,
)

def divide_no_nan(x, y):
    """``x / y``, and 0 where ``y`` is 0."""
    from ..tensor import math_ops as M

    safe = M.where(M.equal(y, 0), 1, y) if not isinstance(y, (int, float)) else (y or 1)
    return M.where(M.equal(y, 0), 0, M.divide(x, safe))


def top_k(input, k=1, sorted=True):
    """``(values, indices)`` of the ``k`` largest entries along the last axis (values differentiable)."""
    import numpy as np

    from ..tensor import array_ops as A
    from ..tensor.core import _wrap, as_tensor, unwrap

    x = as_tensor(input)
    idx = np.argsort(-unwrap(x), axis=-1, kind="stable")[..., :int(k)]
    flat = A.reshape(x, (-1, x.shape[-1]))
    rows = np.arange(flat.shape[0])[:, None]
    vals = A.reshape(flat[rows, idx.reshape(flat.shape[0], -1)], idx.shape)
    return vals, _wrap(idx.astype(np.int32))
