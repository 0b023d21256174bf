"""Python operators and NumPy-style methods of :class:`Tensor`.

Outside a tape each operator is one NumPy call plus a wrapper (the benchmark
``benches/bench_tensor.py`` measures the overhead); inside one it goes
through the differentiable primitive.
"""

from __future__ import annotations

import numpy as np

from . import array_ops as A
from . import math_ops as M
from . import reduce_ops as R
from .core import _STACK, ARRAY_OUT, Tensor, _default_dtype, _new, _wrap

_asarray = np.asarray
_SCALARS = (float, int, bool)


def _operand(other):
    """The array or scalar behind ``other``; None for types that should handle the operation themselves."""
    if isinstance(other, Tensor):
        return other._v
    if isinstance(other, (list, tuple)):
        return _default_dtype(other)  # TensorFlow's int32/float32, not NumPy's 64-bit defaults
    if type(other) in _SCALARS:
        return other
    if getattr(other, "_is_symbolic", False) or getattr(type(other), "__array_ufunc__", 0) is None:
        return None  # the other operand handles the operation (a KerasTensor, pytest.approx...), as with ndarrays
    return other


def _binary(prim, npfn, reflected=False):
    # Outside a tape: one NumPy call and one object (``out=...`` keeps 0-d results arrays on NumPy >= 2.3).
    if reflected:
        def op(self, other):
            o = other._v if type(other) is Tensor else _operand(other)
            if o is None:
                return NotImplemented
            if _STACK:
                return prim(other, self)
            t = _new(Tensor)
            t._v = npfn(o, self._v, out=...) if ARRAY_OUT else _asarray(npfn(o, self._v))
            return t
    else:
        def op(self, other):
            o = other._v if type(other) is Tensor else _operand(other)
            if o is None:
                return NotImplemented
            if _STACK:
                return prim(self, other)
            t = _new(Tensor)
            t._v = npfn(self._v, o, out=...) if ARRAY_OUT else _asarray(npfn(self._v, o))
            return t
    return op


def _compare(npfn):
    def op(self, other):
        o = _operand(other)
        if o is None:
            return NotImplemented
        return _wrap(npfn(self._v, o))
    return op


for _name, _prim, _fn in (("add", M.add, np.add), ("sub", M.subtract, np.subtract), ("mul", M.multiply, np.multiply),
                          ("truediv", M.divide, np.true_divide), ("pow", M.power, np.power)):
    setattr(Tensor, f"__{_name}__", _binary(_prim, _fn))
    setattr(Tensor, f"__r{_name}__", _binary(_prim, _fn, reflected=True))

Tensor.__floordiv__ = _compare(np.floor_divide)
Tensor.__rfloordiv__ = lambda self, other: _wrap(np.floor_divide(_operand(other), self._v))
Tensor.__mod__ = _compare(np.mod)
Tensor.__rmod__ = lambda self, other: _wrap(np.mod(_operand(other), self._v))
Tensor.__lt__ = _compare(np.less)
Tensor.__le__ = _compare(np.less_equal)
Tensor.__gt__ = _compare(np.greater)
Tensor.__ge__ = _compare(np.greater_equal)
Tensor.__eq__ = _compare(np.equal)
Tensor.__ne__ = _compare(np.not_equal)
Tensor.__and__ = _compare(np.logical_and)
Tensor.__or__ = _compare(np.logical_or)
Tensor.__xor__ = _compare(np.logical_xor)
Tensor.__invert__ = lambda self: _wrap(np.invert(self._v))
Tensor.__neg__ = lambda self: M.negative(self) if _STACK else _wrap(np.negative(self._v))
Tensor.__pos__ = lambda self: self
Tensor.__round__ = lambda self, ndigits=None: round(self._v.item(), ndigits) if self._v.ndim == 0 else _wrap(
    np.round(self._v, ndigits or 0))
Tensor.__abs__ = lambda self: M.abs(self)


# NumPy-style methods, so array code keeps working on tensors.
def _method(fn, **fixed):
    def m(self, *args, **kwargs):
        return fn(self, *args, **fixed, **kwargs)
    m.__name__ = fn.__name__
    return m


def _reshape(self, *shape):
    if not _STACK:  # outside a tape: one NumPy call (errors are reported by the checked path)
        try:
            t = _new(Tensor)
            t._v = self._v.reshape(*shape)
            return t
        except (ValueError, TypeError):
            pass
    return A.reshape(self, shape[0] if len(shape) == 1 and not isinstance(shape[0], int) else shape)


def _transpose(self, *axes):
    return A.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))


Tensor.reshape = _reshape
Tensor.transpose = _transpose
Tensor.T = property(lambda self: A.transpose(self))
Tensor.sum = R.reduce_sum
Tensor.mean = lambda self, axis=None, keepdims=False: R.reduce_mean(self, axis, keepdims)
Tensor.max = lambda self, axis=None, keepdims=False: R.reduce_max(self, axis, keepdims)
Tensor.min = lambda self, axis=None, keepdims=False: R.reduce_min(self, axis, keepdims)
Tensor.prod = lambda self, axis=None, keepdims=False: R.reduce_prod(self, axis, keepdims)
Tensor.std = lambda self, axis=None, keepdims=False: R.reduce_std(self, axis, keepdims)
Tensor.var = lambda self, axis=None, keepdims=False: R.reduce_variance(self, axis, keepdims)
Tensor.argmax = lambda self, axis=None: _wrap(np.argmax(self._v, axis=axis))
Tensor.argmin = lambda self, axis=None: _wrap(np.argmin(self._v, axis=axis))
Tensor.astype = lambda self, dtype: M.cast(self, dtype)
Tensor.flatten = lambda self: A.reshape(self, (-1,))
Tensor.ravel = Tensor.flatten
Tensor.squeeze = lambda self, axis=None: A.squeeze(self, axis)
Tensor.item = lambda self: self._v.item()
Tensor.tolist = lambda self: self._v.tolist()
Tensor.copy = lambda self: _wrap(self._v.copy())
Tensor.get_shape = lambda self: self._v.shape
