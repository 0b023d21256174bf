"""Element-wise ops with no gradient: comparisons, logic, rounding and float classes.

Each returns a new :class:`~ferronet.tensor.Tensor` (bool for comparisons,
logic and classes) and records nothing on a tape. They are re-exported by
:mod:`.math_ops`, where ``tf.math`` has them.
"""

from __future__ import annotations

import numpy as np

from .core import nondiff

__all__ = [
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "logical_and", "logical_or",
    "logical_not", "round", "floor", "ceil", "sign", "floordiv", "mod", "is_nan", "is_finite", "is_inf",
]

# ---------------------------------------------------------------- comparisons
equal = nondiff(np.equal, doc="""Whether ``x == y``, element-wise (broadcast as NumPy does).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import equal
        >>> equal(fn.constant([1, 2, 3]), 2).numpy()
        array([False,  True, False])
    """)
not_equal = nondiff(np.not_equal, doc="""Whether ``x != y``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import not_equal
        >>> not_equal(fn.constant([1, 2, 3]), fn.constant([1, 0, 3])).numpy()
        array([False,  True, False])
    """)
less = nondiff(np.less, doc="""Whether ``x < y``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import less
        >>> less(fn.constant([1.0, 2.0, 3.0]), 2.0).numpy()
        array([ True, False, False])
    """)
less_equal = nondiff(np.less_equal, doc="""Whether ``x <= y``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import less_equal
        >>> less_equal(fn.constant([1.0, 2.0, 3.0]), 2.0).numpy()
        array([ True,  True, False])
    """)
greater = nondiff(np.greater, doc="""Whether ``x > y``, element-wise (``x > y`` on tensors calls it).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import greater
        >>> greater(fn.constant([1.0, 2.0, 3.0]), 2.0).numpy()
        array([False, False,  True])
    """)
greater_equal = nondiff(np.greater_equal, doc="""Whether ``x >= y``, element-wise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import greater_equal
        >>> greater_equal(fn.constant([1.0, 2.0, 3.0]), 2.0).numpy()
        array([False,  True,  True])
    """)

# ---------------------------------------------------------------------- logic
logical_and = nondiff(np.logical_and, doc="""Element-wise ``x and y`` of two boolean tensors.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import logical_and
        >>> logical_and(fn.constant([True, True, False]), fn.constant([True, False, False])).numpy()
        array([ True, False, False])
    """)
logical_or = nondiff(np.logical_or, doc="""Element-wise ``x or y`` of two boolean tensors.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import logical_or
        >>> logical_or(fn.constant([True, True, False]), fn.constant([True, False, False])).numpy()
        array([ True,  True, False])
    """)
logical_not = nondiff(np.logical_not, doc="""Element-wise ``not x`` of a boolean tensor.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import logical_not
        >>> logical_not(fn.constant([True, False])).numpy()
        array([False,  True])
    """)

# ------------------------------------------------------------------- rounding
round = nondiff(np.round, doc="""``x`` rounded to the nearest integer value, halves to even (as ``tf.round``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import round
        >>> round(fn.constant([0.5, 1.5, 2.6, -1.4])).numpy()
        array([ 0.,  2.,  3., -1.], dtype=float32)
    """)
floor = nondiff(np.floor, doc="""The largest integer value ``<= x``, element-wise, in ``x``'s dtype.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import floor
        >>> floor(fn.constant([1.7, -1.2])).numpy()
        array([ 1., -2.], dtype=float32)
    """)
ceil = nondiff(np.ceil, doc="""The smallest integer value ``>= x``, element-wise, in ``x``'s dtype.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import ceil
        >>> ceil(fn.constant([1.2, -1.7])).numpy()
        array([ 2., -1.], dtype=float32)
    """)
sign = nondiff(np.sign,
               doc="""``-1``, ``0`` or ``1`` by the sign of each element (no gradient: it is 0 almost everywhere).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import sign
        >>> sign(fn.constant([-3.0, 0.0, 2.5])).numpy()
        array([-1.,  0.,  1.], dtype=float32)
    """)
floordiv = nondiff(np.floor_divide, name="floordiv",
                   doc="""``x // y``: the quotient rounded toward minus infinity, as Python's ``//``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import floordiv
        >>> floordiv(fn.constant([7, -7]), 2).numpy()
        array([ 3, -4], dtype=int32)
    """)
mod = nondiff(np.mod, name="mod", doc="""``x % y``: the remainder with the sign of ``y``, as Python's ``%``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import mod
        >>> mod(fn.constant([7.0, -7.0]), 3.0).numpy()
        array([1., 2.], dtype=float32)
    """)

# --------------------------------------------------------------- float classes
is_nan = nondiff(np.isnan, name="is_nan", doc="""Whether each element is NaN.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import is_nan
        >>> is_nan(fn.constant([1.0, np.nan, np.inf])).numpy()
        array([False,  True, False])
    """)
is_finite = nondiff(np.isfinite, name="is_finite", doc="""Whether each element is neither infinite nor NaN.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import is_finite
        >>> is_finite(fn.constant([1.0, np.nan, -np.inf])).numpy()
        array([ True, False, False])
    """)
is_inf = nondiff(np.isinf, name="is_inf", doc="""Whether each element is ``+inf`` or ``-inf``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.math_ops import is_inf
        >>> is_inf(fn.constant([1.0, np.nan, -np.inf])).numpy()
        array([False, False,  True])
    """)
