"""TensorFlow's names over ferronet, for programs that start with ``import tensorflow as tf``.

After ``import ferronet as tf``, ``tf.constant``, ``tf.GradientTape``,
``tf.reduce_mean``, ``tf.nn.relu``, ``tf.math.exp``, ``tf.random.normal``,
``tf.data.Dataset``, ``tf.float32``, ``tf.keras`` and the rest resolve here
(``ferronet``'s module-level ``__getattr__`` forwards to this module), so
ferronet's own namespace stays short. Every op is differentiable under a
``GradientTape`` unless it has no gradient in TensorFlow either (argmax,
comparisons, integer casts).

``tf.function`` runs the function eagerly: ferronet has no graph compiler,
and its kernels are compiled ahead of time.
"""

from __future__ import annotations

import types as _types

import numpy as _np

from ..tensor.symbolic import symbolic_namespace as _symbolic_namespace
from ..tensor import GradientTape, Tensor, UnconnectedGradients, as_tensor, constant  # noqa: F401
from ..tensor.array_ops import (  # noqa: F401
    broadcast_to, concat, einsum, expand_dims, eye, fill, gather, identity, linspace, matmul, one_hot, ones,
    ones_like, pad, range, rank, repeat, reshape, reverse, shape, size, split, squeeze, stack, tensordot, tile,
    transpose, unstack, zeros, zeros_like,
)
from ..tensor.math_ops import (  # noqa: F401
    abs, add, cast, clip_by_value, cos, divide, equal, exp, greater, greater_equal, less, less_equal, log,
    logical_and, logical_not, logical_or, maximum, minimum, multiply, negative, not_equal, pow, round, sign, sin,
    sqrt, square, subtract, tan, tanh, truediv, where,
)
from ..tensor.reduce_ops import (  # noqa: F401
    argmax, argmin, norm, reduce_all, reduce_any, reduce_logsumexp, reduce_max, reduce_mean, reduce_min,
    reduce_prod, reduce_std, reduce_sum, reduce_variance,
)
from ..tensor.index_ops import (  # noqa: F401
    add_n, argsort, boolean_mask, gather_nd, meshgrid, scatter_nd, sequence_mask, sort, tensor_scatter_nd_add,
    tensor_scatter_nd_update,
)
from ..tensor.math_ops import ceil, floor, floordiv, mod  # noqa: F401
from ..tensor.nn_ops import sigmoid  # noqa: F401
from ..tensor.reduce_ops import cumsum  # noqa: F401
from ..tensor.tape import stop_gradient  # noqa: F401
from ..layers.variable import Variable  # noqa: F401
from . import config, data, linalg, math, nn, random  # noqa: F401

newaxis = None
float16, float32, float64 = _np.float16, _np.float32, _np.float64
bfloat16 = _np.float32  # storage type for bfloat16-rounded values (see ferronet.mixed_precision)
int8, int16, int32, int64 = _np.int8, _np.int16, _np.int32, _np.int64
uint8, uint16, uint32, uint64 = _np.uint8, _np.uint16, _np.uint32, _np.uint64
bool_ = bool = _np.bool_
string = _np.str_
dtypes = _types.SimpleNamespace(float16=float16, float32=float32, float64=float64, int32=int32, int64=int64,
                                uint8=uint8, bool=bool, as_dtype=lambda d: _np.dtype(d))
DType = _np.dtype
version = _types.SimpleNamespace(VERSION="2.16.0-ferronet", GIT_VERSION="ferronet")
__version__ = version.VERSION


class TensorShape(tuple):
    """A shape as TensorFlow spells it: a tuple with ``as_list()``, ``rank`` and ``num_elements()``.

    Tensors report their ``shape`` as a plain tuple, which compares equal to a TensorShape.
    """

    def __new__(cls, dims=()):
        return super().__new__(cls, () if dims is None else (None if d is None else int(d) for d in dims))

    def as_list(self):
        return list(self)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    def num_elements(self):
        return None if None in self else int(_np.prod(self, dtype=_np.int64))


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    """``value`` as a Tensor (a Tensor is returned as it is)."""
    if dtype is None and dtype_hint is not None and not isinstance(value, Tensor) and not isinstance(
            value, _np.ndarray):
        dtype = dtype_hint
    return as_tensor(value, dtype)


def clip_by_norm(t, clip_norm, axes=None):
    """``t`` scaled down so its L2 norm over ``axes`` (all by default) is at most ``clip_norm``."""
    from ..tensor import math_ops as M
    from ..tensor.reduce_ops import reduce_sum

    t = as_tensor(t)
    sq = reduce_sum(M.square(t), axis=axes, keepdims=True)
    norm = M.sqrt(M.maximum(sq, _np.finfo(t.dtype).tiny))
    return M.where(M.greater(sq, 0), M.divide(M.multiply(t, clip_norm), M.maximum(norm, clip_norm)), t)


def global_norm(t_list):
    """The L2 norm of all tensors of ``t_list`` together (None entries are skipped)."""
    from ..tensor import math_ops as M
    from ..tensor.reduce_ops import reduce_sum

    parts = [reduce_sum(M.square(M.cast(t, _np.float64 if as_tensor(t).dtype == _np.float64 else _np.float32)))
             for t in t_list if t is not None]
    total = parts[0] if parts else constant(0.0)
    for p in parts[1:]:
        total = M.add(total, p)
    return M.sqrt(total)


def clip_by_global_norm(t_list, clip_norm, use_norm=None):
    """``(clipped list, global norm)``: every tensor scaled by ``clip_norm / max(global_norm, clip_norm)``."""
    from ..tensor import math_ops as M

    norm = global_norm(t_list) if use_norm is None else as_tensor(use_norm)
    scale = M.divide(clip_norm, M.maximum(norm, clip_norm))
    return [None if t is None else M.multiply(t, M.cast(scale, as_tensor(t).dtype)) for t in t_list], norm


def is_tensor(x):
    """Whether ``x`` is a ferronet Tensor."""
    return isinstance(x, Tensor)


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False, **kwargs):
    """TensorFlow's ``@tf.function``, which here runs the function eagerly, unchanged.

    ferronet has no graph compiler: its kernels are compiled ahead of time in
    Rust, so the decorator (with or without arguments) returns the function
    itself and Python side effects run on every call.
    """
    if func is None:
        return lambda f: f
    return func


def print(*args, **kwargs):  # noqa: A001  (tf.print)
    """Print values, tensors as their arrays (``tf.print``)."""
    import builtins

    builtins.print(*[_np.asarray(a._v) if isinstance(a, Tensor) else a for a in args],
                   **{k: v for k, v in kwargs.items() if k in ("sep", "end")})


def ensure_shape(x, shape):
    """``x`` unchanged if its shape matches ``shape`` (None matches any size).

    Raises:
        ShapeError: otherwise, naming both shapes.
    """
    from ..errors import ShapeError

    x = as_tensor(x)
    if len(x.shape) != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        raise ShapeError(f"ensure_shape: expected shape {tuple(shape)}. Received: shape {x.shape}")
    return x


def __getattr__(name):
    if name == "keras":
        from .. import keras

        return keras
    raise AttributeError(f"module 'ferronet' (TensorFlow names) has no attribute {name!r}")


# Functional models: these functions on ferronet.Input's KerasTensors record Lambda layers (tf.concat([x, t], 1)...).
_symbolic_namespace(globals(), skip=("convert_to_tensor", "is_tensor", "function", "print", "ensure_shape", "constant",
                                     "range", "zeros", "ones", "fill", "eye", "linspace"))
