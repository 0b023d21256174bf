"""Activations and softmax, each next to its gradient ``<name>_backward``.

A forward function maps ``x`` to ``f(x)``. Its backward takes the upstream
gradient ``dy`` and the tensor the forward saved -- its input ``x``, or its
output ``y`` for sigmoid, tanh, softmax and log_softmax -- and returns
``dL/dx``. float32 and float64 run in the Rust core (mixed operands promote to
float64, lists become float64); other dtypes raise ``DTypeError``. NaN and
infinities propagate as the NumPy formula in each docstring would propagate
them, results agree with that formula to a few ulp, and they do not depend on
the number of threads. ``out=`` may be the input itself (``relu(x, out=x)``).

Example:
    >>> import numpy as np
    >>> from ferronet import ops
    >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
    >>> ops.relu(x)
    array([0., 0., 2.], dtype=float32)
    >>> ops.relu_backward(np.ones(3, np.float32), x)
    array([0., 0., 1.], dtype=float32)
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from .. import _core
from ._util import _INT_MAX, _common, _contiguous, _floats, _int

__all__ = [
    "relu",
    "relu_backward",
    "leaky_relu",
    "leaky_relu_backward",
    "elu",
    "elu_backward",
    "sigmoid",
    "sigmoid_backward",
    "tanh",
    "tanh_backward",
    "softplus",
    "softplus_backward",
    "gelu",
    "gelu_backward",
    "silu",
    "silu_backward",
    "swish",
    "swish_backward",
    "softmax",
    "softmax_backward",
    "log_softmax",
    "log_softmax_backward",
]


def _x(op: str, x) -> np.ndarray:
    return _contiguous(_floats(x, "x", op))


def _pair(op: str, dy, saved, name: str):
    dy, saved = _common(op, dy=dy, **{name: saved})
    return _contiguous(dy), _contiguous(saved)


def _axis(op: str, axis) -> int:
    return _int(axis, "axis", op, lo=-_INT_MAX - 1)


def relu(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.maximum(x, 0)``.

    Args:
        x: float array.
        out: optional array of x's shape and dtype to write into.

    Returns:
        The activation, of x's shape and dtype.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> relu(x)
        array([0., 0., 2.], dtype=float32)
    """
    return _core.relu(_x("relu", x), out)


def relu_backward(dy, x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.where(x > 0, dy, 0)`` (the gradient at 0 is taken as 0, as in Keras).

    Args:
        dy: gradient of the loss w.r.t. the output.
        x: the forward's input.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> relu_backward(np.ones(3, np.float32), x)
        array([0., 0., 1.], dtype=float32)
    """
    dy, x = _pair("relu_backward", dy, x, "x")
    return _core.relu_backward(dy, x, out)


def leaky_relu(x, negative_slope: float = 0.2, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.where(x < 0, negative_slope * x, x)``.

    Args:
        x: float array.
        negative_slope: slope for negative inputs (finite).
        out: optional array to write into.

    Returns:
        The activation.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> leaky_relu(x)
        array([-0.2,  0. ,  2. ], dtype=float32)
    """
    return _core.leaky_relu(_x("leaky_relu", x), float(negative_slope), out)


def leaky_relu_backward(dy, x, negative_slope: float = 0.2, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.where(x > 0, dy, negative_slope * dy)``.

    Args:
        dy: gradient w.r.t. the output.
        x: the forward's input.
        negative_slope: as given to :func:`leaky_relu`.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> leaky_relu_backward(np.ones(3, np.float32), x)
        array([0.2, 0.2, 1. ], dtype=float32)
    """
    dy, x = _pair("leaky_relu_backward", dy, x, "x")
    return _core.leaky_relu_backward(dy, x, float(negative_slope), out)


def elu(x, alpha: float = 1.0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.where(x > 0, x, alpha * np.expm1(x))``.

    Args:
        x: float array.
        alpha: scale of the negative part (finite).
        out: optional array to write into.

    Returns:
        The activation.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(elu(x), 4)
        array([-0.6321,  0.    ,  2.    ], dtype=float32)
    """
    return _core.elu(_x("elu", x), float(alpha), out)


def elu_backward(dy, x, alpha: float = 1.0, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.where(x > 0, dy, dy * alpha * np.exp(x))``.

    Args:
        dy: gradient w.r.t. the output.
        x: the forward's input.
        alpha: as given to :func:`elu`.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(elu_backward(np.ones(3, np.float32), x), 4)
        array([0.3679, 1.    , 1.    ], dtype=float32)
    """
    dy, x = _pair("elu_backward", dy, x, "x")
    return _core.elu_backward(dy, x, float(alpha), out)


def sigmoid(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``1 / (1 + np.exp(-x))``, accurate in both tails.

    Args:
        x: float array.
        out: optional array to write into.

    Returns:
        The activation, in [0, 1].

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(sigmoid(x), 4)
        array([0.2689, 0.5   , 0.8808], dtype=float32)
    """
    return _core.sigmoid(_x("sigmoid", x), out)


def sigmoid_backward(dy, y, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``dy * y * (1 - y)`` from the forward's output ``y``.

    Args:
        dy: gradient w.r.t. the output.
        y: ``sigmoid(x)``.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> y = sigmoid(x)
        >>> np.round(sigmoid_backward(np.ones(3, np.float32), y), 4)
        array([0.1966, 0.25  , 0.105 ], dtype=float32)
    """
    dy, y = _pair("sigmoid_backward", dy, y, "y")
    return _core.sigmoid_backward(dy, y, out)


def tanh(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.tanh(x)``.

    Args:
        x: float array.
        out: optional array to write into.

    Returns:
        The activation, in [-1, 1].

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(tanh(x), 4)
        array([-0.7616,  0.    ,  0.964 ], dtype=float32)
    """
    return _core.tanh(_x("tanh", x), out)


def tanh_backward(dy, y, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``dy * (1 - y**2)`` from the forward's output ``y``.

    Args:
        dy: gradient w.r.t. the output.
        y: ``tanh(x)``.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> y = tanh(x)
        >>> np.round(tanh_backward(np.ones(3, np.float32), y), 4)
        array([0.42  , 1.    , 0.0707], dtype=float32)
    """
    dy, y = _pair("tanh_backward", dy, y, "y")
    return _core.tanh_backward(dy, y, out)


def softplus(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``np.logaddexp(0, x)`` = log(1 + exp(x)), without overflow.

    Args:
        x: float array.
        out: optional array to write into.

    Returns:
        The activation.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(softplus(x), 4)
        array([0.3133, 0.6931, 2.1269], dtype=float32)
    """
    return _core.softplus(_x("softplus", x), out)


def softplus_backward(dy, x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``dy * sigmoid(x)``.

    Args:
        dy: gradient w.r.t. the output.
        x: the forward's input.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(softplus_backward(np.ones(3, np.float32), x), 4)
        array([0.2689, 0.5   , 0.8808], dtype=float32)
    """
    dy, x = _pair("softplus_backward", dy, x, "x")
    return _core.softplus_backward(dy, x, out)


def gelu(x, approximate: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gaussian error linear unit, as ``keras.ops.gelu``.

    Exact: ``x/2 * (1 + erf(x/sqrt(2)))``. With ``approximate=True``:
    ``x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))``.

    Args:
        x: float array.
        approximate: use the tanh approximation.
        out: optional array to write into.

    Returns:
        The activation.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(gelu(x), 4)
        array([-0.1587,  0.    ,  1.9545], dtype=float32)
        >>> np.round(gelu(x, approximate=True), 4)
        array([-0.1588,  0.    ,  1.9546], dtype=float32)
    """
    return _core.gelu(_x("gelu", x), bool(approximate), out)


def gelu_backward(dy, x, approximate: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of :func:`gelu`: ``dy * (Phi(x) + x * phi(x))`` when exact.

    Args:
        dy: gradient w.r.t. the output.
        x: the forward's input.
        approximate: as given to :func:`gelu`.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(gelu_backward(np.ones(3, np.float32), x), 4)
        array([-0.0833,  0.5   ,  1.0852], dtype=float32)
    """
    dy, x = _pair("gelu_backward", dy, x, "x")
    return _core.gelu_backward(dy, x, bool(approximate), out)


def silu(x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``x * sigmoid(x)`` (also called swish).

    Args:
        x: float array.
        out: optional array to write into.

    Returns:
        The activation.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(silu(x), 4)
        array([-0.2689,  0.    ,  1.7616], dtype=float32)
    """
    return _core.silu(_x("silu", x), out)


def silu_backward(dy, x, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``dy * s * (1 + x * (1 - s))`` with ``s = sigmoid(x)``.

    Args:
        dy: gradient w.r.t. the output.
        x: the forward's input.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> x = np.array([-1.0, 0.0, 2.0], dtype=np.float32)
        >>> np.round(silu_backward(np.ones(3, np.float32), x), 4)
        array([0.0723, 0.5   , 1.0908], dtype=float32)
    """
    dy, x = _pair("silu_backward", dy, x, "x")
    return _core.silu_backward(dy, x, out)


swish = silu
swish_backward = silu_backward


def softmax(x, axis: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``e / e.sum(axis, keepdims=True)`` with ``e = np.exp(x - x.max(axis, keepdims=True))``.

    Stable for any finite ``x``; a NaN or ``+inf`` makes its whole slice NaN,
    as in that formula.

    Args:
        x: float array.
        axis: the axis to normalise over (negative counts from the end).
        out: optional array to write into.

    Returns:
        Probabilities summing to 1 along ``axis``.

    Example:
        >>> x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
        >>> np.round(softmax(x), 4)
        array([[0.09  , 0.2447, 0.6652]], dtype=float32)
    """
    return _core.softmax(_x("softmax", x), _axis("softmax", axis), out)


def softmax_backward(dy, y, axis: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``y * (dy - (dy * y).sum(axis, keepdims=True))`` from the forward's output ``y``.

    Args:
        dy: gradient w.r.t. the output.
        y: ``softmax(x, axis)``.
        axis: as given to :func:`softmax`.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> y = softmax(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
        >>> np.round(softmax_backward(np.array([[1.0, 0.0, 0.0]], np.float32), y), 4)
        array([[ 0.0819, -0.022 , -0.0599]], dtype=float32)
    """
    dy, y = _pair("softmax_backward", dy, y, "y")
    return _core.softmax_backward(dy, y, _axis("softmax_backward", axis), out)


def log_softmax(x, axis: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``x - m - np.log(np.exp(x - m).sum(axis, keepdims=True))`` with ``m`` the max along ``axis``.

    Args:
        x: float array.
        axis: the axis to normalise over.
        out: optional array to write into.

    Returns:
        Log-probabilities along ``axis``.

    Example:
        >>> x = np.array([[1.0, 2.0, 3.0]], dtype=np.float32)
        >>> np.round(log_softmax(x), 4)
        array([[-2.4076, -1.4076, -0.4076]], dtype=float32)
    """
    return _core.log_softmax(_x("log_softmax", x), _axis("log_softmax", axis), out)


def log_softmax_backward(dy, y, axis: int = -1, out: Optional[np.ndarray] = None) -> np.ndarray:
    """``dy - np.exp(y) * dy.sum(axis, keepdims=True)`` from the forward's output ``y``.

    Args:
        dy: gradient w.r.t. the output.
        y: ``log_softmax(x, axis)``.
        axis: as given to :func:`log_softmax`.
        out: optional array to write into.

    Returns:
        The gradient w.r.t. ``x``.

    Example:
        >>> y = log_softmax(np.array([[1.0, 2.0, 3.0]], dtype=np.float32))
        >>> np.round(log_softmax_backward(np.array([[1.0, 0.0, 0.0]], np.float32), y), 4)
        array([[ 0.91  , -0.2447, -0.6652]], dtype=float32)
    """
    dy, y = _pair("log_softmax_backward", dy, y, "y")
    return _core.log_softmax_backward(dy, y, _axis("log_softmax_backward", axis), out)
