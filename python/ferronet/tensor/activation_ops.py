"""Activations as differentiable primitives: a Rust forward and backward kernel each.

Each has a fast VJP calling the Rust backward kernel on arrays (used when
nothing records the gradient computation) and a differentiable twin (used
when a higher derivative is taken): the gradient of the same function
written in elementary differentiable primitives, taken on a nested tape (see
:func:`_twin`). :mod:`.nn_ops` re-exports them beside the fused layers.
"""

from __future__ import annotations

import inspect
import math

import numpy as np

from .. import ops as _ops
from . import array_ops as A
from . import math_ops as M
from . import reduce_ops as R
from .core import Primitive, Tensor, as_tensor, primitive, unwrap
from .symbolic import symbolic_aware

__all__ = ["relu", "relu6", "sigmoid", "tanh", "softplus", "softsign", "elu", "selu", "leaky_relu", "gelu", "silu",
           "swish", "softmax", "log_softmax"]


def _twin(formula):
    """A differentiable VJP computed as the gradient of ``formula`` (elementary ops) on a nested tape."""

    def vjp(g, y, *inputs, **params):
        from .tape import GradientTape

        ts = [x if isinstance(x, Tensor) else None for x in inputs]
        with GradientTape(watch_accessed_variables=False) as tape:
            for t in ts:
                if t is not None and t.dtype.kind == "f":
                    tape.watch(t)
            out = formula(*inputs, **params)
        watched = [t for t in ts if t is not None and t.dtype.kind == "f"]
        gs = iter(tape.gradient(out, watched, output_gradients=[g], unconnected_gradients="zero"))
        return tuple(next(gs) if t is not None and t.dtype.kind == "f" else None for t in ts)

    return vjp


def _contig(a, dtype=None):
    """``a`` as a C-contiguous array (0-d arrays stay 0-d, unlike ``np.ascontiguousarray``)."""
    a = np.asarray(a, dtype=dtype)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _float(a):
    return a if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64) else None


def _act(name, fwd, fast_bwd, formula, saved="x", doc=None):
    """An activation primitive: Rust forward/backward on float arrays, NumPy otherwise.

    With ``doc``, a public op: a function carrying that docstring (see :func:`~.core.primitive`).
    """

    def forward(x, **kw):
        return fwd(_contig(x), **kw) if _float(x) is not None else unwrap(formula(as_tensor(x), **kw))

    def fast(g, y, x, **kw):
        return (fast_bwd(_contig(g), _contig(x if saved == "x" else y), **kw),)

    if doc is None:
        return Primitive(name, forward, _twin(formula), fast)
    op = primitive(name, forward, _twin(formula), fast, doc=doc)
    op.__signature__ = _X
    return op


_X = inspect.Signature([inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD)])

relu = _act("relu", _ops.relu, _ops.relu_backward, lambda x: M.where(M.greater(x, 0), x, 0),
            doc="""``max(x, 0)``, element-wise; its gradient is 1 where ``x > 0``, else 0.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import relu
        >>> x = fn.constant([-2.0, 0.0, 3.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = relu(x)
        >>> y.numpy(), tape.gradient(y, x).numpy()
        (array([0., 0., 3.], dtype=float32), array([0., 0., 1.], dtype=float32))
    """)
sigmoid = _act("sigmoid", _ops.sigmoid, _ops.sigmoid_backward,
               lambda x: M.divide(1.0, M.add(M.exp(M.negative(x)), 1.0)), saved="y",
               doc="""``1 / (1 + exp(-x))``, element-wise, stable for large ``|x|``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import sigmoid
        >>> x = fn.constant([-100.0, 0.0, 2.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = sigmoid(x)
        >>> np.round(y.numpy(), 4), np.round(tape.gradient(y, x).numpy(), 4)  # y (1 - y)
        (array([0.    , 0.5   , 0.8808], dtype=float32), array([0.   , 0.25 , 0.105], dtype=float32))
    """)
tanh = _act("tanh", _ops.tanh, _ops.tanh_backward, lambda x: M.tanh(x), saved="y",
            doc="""Hyperbolic tangent, element-wise, by the Rust kernel (the same values as ``math_ops.tanh``).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import tanh
        >>> np.round(tanh(fn.constant([-1.0, 0.0, 1.0])).numpy(), 4)
        array([-0.7616,  0.    ,  0.7616], dtype=float32)
    """)
softplus = _act("softplus", _ops.softplus, _ops.softplus_backward,
                lambda x: M.add(M.maximum(x, 0), M.log1p(M.exp(M.negative(M.abs(x))))),
                doc="""``log(1 + exp(x))``, element-wise, stable for large ``|x|``; its gradient is ``sigmoid(x)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softplus
        >>> np.round(softplus(fn.constant([-100.0, 0.0, 100.0])).numpy(), 4)
        array([  0.    ,   0.6931, 100.    ], dtype=float32)
    """)
silu = _act("silu", _ops.silu, _ops.silu_backward, lambda x: M.multiply(x, sigmoid(x)),
            doc="""``x * sigmoid(x)``, element-wise (``swish`` is the same op).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import silu
        >>> x = fn.constant([-1.0, 0.0, 2.0])
        >>> with fn.GradientTape() as tape:
        ...     tape.watch(x)
        ...     y = silu(x)
        >>> np.round(y.numpy(), 4), np.round(tape.gradient(y, x).numpy(), 4)
        (array([-0.2689,  0.    ,  1.7616], dtype=float32), array([0.0723, 0.5   , 1.0908], dtype=float32))
    """)
swish = silu
_SQRT1_2 = 1 / math.sqrt(2.0)


def _gelu_formula(x, approximate=False):
    if approximate:
        inner = M.multiply(math.sqrt(2 / math.pi), M.add(x, M.multiply(0.044715, M.power(x, 3))))
        return M.multiply(M.multiply(0.5, x), M.add(1.0, M.tanh(inner)))
    return M.multiply(M.multiply(0.5, x), M.add(1.0, M.erf(M.multiply(x, _SQRT1_2))))


gelu_prim = _act("gelu", _ops.gelu, _ops.gelu_backward, _gelu_formula)


@symbolic_aware
def gelu(x, approximate=False):
    """Gaussian error linear unit (exact by default, ``approximate=True`` for the tanh form).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import gelu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(gelu(x).numpy(), 4)
        array([-0.0455,  0.    ,  8.    ], dtype=float32)
    """
    return gelu_prim(as_tensor(x), approximate=bool(approximate))


def _elu_formula(x, alpha=1.0):
    return M.where(M.greater(x, 0), x, M.multiply(alpha, M.expm1(M.minimum(x, 0))))


_elu = _act("elu", _ops.elu, _ops.elu_backward, _elu_formula)


@symbolic_aware
def elu(x, alpha=1.0):
    """``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import elu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(elu(x).numpy(), 4)
        array([-0.8647,  0.    ,  8.    ], dtype=float32)
    """
    return _elu(as_tensor(x), alpha=float(alpha))


def _leaky_formula(x, negative_slope=0.2):
    return M.where(M.greater(x, 0), x, M.multiply(x, negative_slope))


_leaky = _act("leaky_relu", _ops.leaky_relu, _ops.leaky_relu_backward, _leaky_formula)


@symbolic_aware
def leaky_relu(x, negative_slope=0.2, alpha=None):
    """``x`` for ``x > 0`` else ``negative_slope * x`` (``alpha`` is ``tf.nn``'s name; its default there is 0.2).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import leaky_relu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> leaky_relu(x).numpy()
        array([-0.4,  0. ,  8. ], dtype=float32)
    """
    return _leaky(as_tensor(x), negative_slope=float(alpha if alpha is not None else negative_slope))


@symbolic_aware
def relu6(x):
    """``min(max(x, 0), 6)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import relu6
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> relu6(x).numpy()
        array([0., 0., 6.], dtype=float32)
    """
    return M.clip_by_value(relu(x), 0, 6)


@symbolic_aware
def softsign(x):
    """``x / (1 + |x|)``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softsign
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(softsign(x).numpy(), 4)
        array([-0.6667,  0.    ,  0.8889], dtype=float32)
    """
    return M.divide(x, M.add(M.abs(x), 1))


@symbolic_aware
def selu(x):
    """Scaled exponential linear unit (Klambauer et al.'s constants).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import selu
        >>> x = fn.constant([-2.0, 0.0, 8.0])
        >>> np.round(selu(x).numpy(), 4)
        array([-1.5202,  0.    ,  8.4056], dtype=float32)
    """
    return M.multiply(1.0507009873554805, elu(x, 1.6732632423543772))


def _softmax_formula(x, axis=-1):
    e = M.exp(M.subtract(x, A.stop_gradient(R.reduce_max(x, axis=axis, keepdims=True))))
    return M.divide(e, R.reduce_sum(e, axis=axis, keepdims=True))


def _log_softmax_formula(x, axis=-1):
    s = M.subtract(x, A.stop_gradient(R.reduce_max(x, axis=axis, keepdims=True)))
    return M.subtract(s, M.log(R.reduce_sum(M.exp(s), axis=axis, keepdims=True)))


_softmax = _act("softmax", _ops.softmax, _ops.softmax_backward, _softmax_formula, saved="y")
_log_softmax = _act("log_softmax", _ops.log_softmax, _ops.log_softmax_backward, _log_softmax_formula, saved="y")


@symbolic_aware
def softmax(x, axis=-1):
    """Softmax along ``axis``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import softmax
        >>> np.round(softmax(fn.constant([[1.0, 2.0, 3.0]])).numpy(), 4)
        array([[0.09  , 0.2447, 0.6652]], dtype=float32)
    """
    return _softmax(as_tensor(x), axis=int(axis))


@symbolic_aware
def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``, computed stably.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.nn_ops import log_softmax
        >>> np.round(log_softmax(fn.constant([[1.0, 2.0, 3.0]])).numpy(), 4)
        array([[-2.4076, -1.4076, -0.4076]], dtype=float32)
    """
    return _log_softmax(as_tensor(x), axis=int(axis))


_ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softplus": softplus, "silu": silu,
                "swish": silu, "gelu": gelu, "elu": elu, "leaky_relu": leaky_relu, "softmax": softmax,
                "log_softmax": log_softmax, "linear": None, None: None, "selu": selu, "relu6": relu6,
                "softsign": softsign}


def activation(name):
    """The tensor op for a built-in activation name (None for linear)."""
    return _ACTIVATIONS[name]
