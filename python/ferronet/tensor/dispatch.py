"""NumPy's protocols for :class:`Tensor`: ``np.exp(t)``, ``np.sum(t)``, ``np.concatenate([t, u])``...

NumPy functions with a differentiable counterpart return a Tensor and are
recorded on a tape; the others compute on the arrays and return what NumPy
returns (arrays), so any NumPy code accepts tensors.
"""

from __future__ import annotations

import numpy as np

from . import array_ops as A
from . import math_ops as M
from . import numpy_ops as N
from . import reduce_ops as R
from .core import Tensor, unwrap

_UFUNCS = {
    np.add: M.add, np.subtract: M.subtract, np.multiply: M.multiply, np.true_divide: M.divide,
    np.power: M.power, np.negative: M.negative, np.absolute: M.abs, np.square: M.square, np.sqrt: M.sqrt,
    np.exp: M.exp, np.expm1: M.expm1, np.log: M.log, np.log1p: M.log1p, np.sin: M.sin, np.cos: M.cos,
    np.tan: M.tan, np.arcsin: M.asin, np.arccos: M.acos, np.arctan: M.atan, np.sinh: M.sinh, np.cosh: M.cosh,
    np.tanh: M.tanh, np.maximum: M.maximum, np.minimum: M.minimum, np.matmul: A.matmul,
}


def _unwrap_all(x):
    if isinstance(x, Tensor):
        return x._v
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_all(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap_all(v) for k, v in x.items()}
    return x


def array_ufunc(ufunc, method, inputs, kwargs):
    """``Tensor.__array_ufunc__``: the differentiable op for a known ufunc, else NumPy on the arrays."""
    prim = _UFUNCS.get(ufunc)
    if prim is not None and method == "__call__" and not kwargs:
        return prim(*inputs)
    return getattr(ufunc, method)(*_unwrap_all(inputs), **_unwrap_all(kwargs))


def _reduction(op):
    def f(a, axis=None, dtype=None, out=None, keepdims=False, **kw):
        if dtype is not None or out is not None or kw:
            return None
        return op(a, axis, keepdims)
    return f


def _float_reduction(op):
    """A reduction whose NumPy result is a float even for integer input (mean, var, std)."""
    def f(a, axis=None, dtype=None, out=None, keepdims=False, ddof=0, **kw):
        if dtype is not None or out is not None or ddof or kw or np.asarray(unwrap(a)).dtype.kind not in "fc":
            return None
        return op(a, axis, keepdims)
    return f


_FUNCTIONS = {
    np.sum: _reduction(R.reduce_sum), np.mean: _float_reduction(R.reduce_mean), np.max: _reduction(R.reduce_max),
    np.var: _float_reduction(R.reduce_variance), np.std: _float_reduction(R.reduce_std),
    np.cumsum: lambda a, axis=None, dtype=None, out=None: None if dtype is not None or out is not None else (
        R.cumsum(A.reshape(a, (-1,)), 0) if axis is None else R.cumsum(a, axis)),
    np.amax: _reduction(R.reduce_max), np.min: _reduction(R.reduce_min), np.amin: _reduction(R.reduce_min),
    np.prod: _reduction(R.reduce_prod),
    np.reshape: lambda a, shape=None, newshape=None, **kw: None if kw else A.reshape(a, shape if shape is not None
                                                                                         else newshape),
    np.transpose: lambda a, axes=None: A.transpose(a, axes),
    np.concatenate: lambda arrays, axis=0, **kw: None if kw else A.concat(arrays, axis),
    np.stack: lambda arrays, axis=0, **kw: None if kw else A.stack(arrays, axis),
    np.matmul: lambda a, b, **kw: None if kw else A.matmul(a, b),
    np.dot: lambda a, b, out=None: None if out is not None or np.ndim(unwrap(a)) > 2 or np.ndim(unwrap(b)) > 2
    else A.matmul(a, b) if np.ndim(unwrap(a)) and np.ndim(unwrap(b)) else M.multiply(a, b),
    np.where: lambda c, x=None, y=None: M.where(c, x, y) if x is not None else None,
    np.clip: lambda a, a_min, a_max, **kw: None if kw else M.clip_by_value(a, a_min, a_max),
    np.expand_dims: lambda a, axis: A.expand_dims(a, axis),
    np.squeeze: lambda a, axis=None: A.squeeze(a, axis),
    np.tensordot: lambda a, b, axes=2: A.tensordot(a, b, axes),
    np.einsum: lambda subscripts, *ops, **kw: None if kw or "->" not in subscripts else A.einsum(subscripts, *ops),
    np.tile: lambda a, reps: N.tile(a, reps),
    np.moveaxis: lambda a, source, destination: N.moveaxis(a, source, destination),
    np.flip: lambda m, axis=None: N.flip(m, axis),
    np.outer: lambda a, b, out=None: None if out is not None else N.outer(a, b),
    np.trace: lambda a, offset=0, axis1=0, axis2=1, dtype=None, out=None: None if dtype is not None or out is not None
    else N.trace(a, offset, axis1, axis2),
    np.linalg.norm: lambda x, ord=None, axis=None, keepdims=False: None if ord not in (None, 2, 1, np.inf)
    else R.norm(x, "euclidean" if ord is None else ord, axis, keepdims),
}


def array_function(func, args, kwargs):
    """``Tensor.__array_function__``: the differentiable op for a known function, else NumPy on the arrays."""
    f = _FUNCTIONS.get(func)
    if f is not None:
        try:
            out = f(*args, **kwargs)
        except TypeError:
            out = None
        if out is not None:
            return out
    return func(*_unwrap_all(args), **_unwrap_all(kwargs))
