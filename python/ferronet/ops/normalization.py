"""Dropout, batch normalization and the row sums behind bias gradients.

Batch norm works over the last axis, like ``keras.layers.BatchNormalization``
with its default ``axis=-1``: ``x`` is viewed as ``(N, C)`` and every one of the
``C`` channels is normalised over the other ``N`` entries. Sums run in a fixed
order (blocks of rows, then pairwise), so results do not depend on the
thread count.
"""

from __future__ import annotations

import operator
from typing import Optional, Tuple

import numpy as np

from .. import _core
from ..errors import ArgumentError, DTypeError
from ._util import _common, _contiguous, _floats, _int

__all__ = [
    "dropout",
    "dropout_backward",
    "batch_norm_train",
    "batch_norm_backward",
    "batch_norm_infer",
    "sum_rows",
    "l1_l2_penalty",
]

_U64 = (1 << 64) - 1


def _rate(rate, op: str) -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise ArgumentError(f"{op}: rate must be a float in [0, 1]. Received: rate={rate!r}") from None
    return r


def dropout(
    x,
    rate: float,
    seed: int,
    out: Optional[np.ndarray] = None,
    mask_out: Optional[np.ndarray] = None,
    noise_shape=None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout, as ``keras.layers.Dropout`` applies it in training.

    Element ``i`` (in C order) is kept with probability ``1 - rate``, decided
    by a counter-based hash (splitmix64) of ``(seed, i)``: the same seed gives
    the same mask on any machine, SIMD path or thread count.

    Args:
        x: input array, any shape.
        rate: fraction of elements to drop, in ``[0, 1]``.
        seed: any int (used modulo 2**64).
        out: optional C-contiguous array for ``y``.
        mask_out: optional C-contiguous uint8 array for the mask.
        noise_shape: optional shape with an entry per axis of ``x``, each 1
            or that axis' size (Keras' ``noise_shape``): one keep decision per
            cell of it, shared along the axes where it is 1 (e.g.
            ``(batch, 1, 1, channels)`` drops whole feature maps). The
            decision of a cell is the hash of its index in ``noise_shape``.

    Returns:
        ``(y, mask)``: ``y = x * mask / (1 - rate)`` (dropped elements are 0,
        even where ``x`` is inf or NaN) and the uint8 0/1 ``mask``.

    Example:
        >>> y, mask = dropout(np.ones((2, 4), np.float32), rate=0.5, seed=0)
        >>> sorted(set(y.ravel().tolist())), mask.shape
        ([0.0, 2.0], (2, 4))
    """
    op = "dropout"
    try:
        s = operator.index(seed) & _U64
    except TypeError:
        raise ArgumentError(f"{op}: seed must be an int. Received: seed={seed!r}") from None
    ns = None
    if noise_shape is not None:
        try:
            ns = tuple(_int(d, "noise_shape", op, lo=0) for d in noise_shape)
        except (ArgumentError, TypeError):
            raise ArgumentError(
                f"{op}: noise_shape must be a sequence of non-negative ints, one per axis of x. Received: "
                f"noise_shape={noise_shape!r}"
            ) from None
    return _core.dropout(_contiguous(_floats(x, "x", op)), _rate(rate, op), s, out, mask_out, ns)


def dropout_backward(dy, mask, rate: float, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Gradient of :func:`dropout`: ``dx = dy * mask / (1 - rate)``.

    Args:
        dy: gradient of ``y``.
        mask: the mask :func:`dropout` returned (uint8, or bool).
        rate: the rate given to :func:`dropout`.
        out: optional C-contiguous array to write into.

    Returns:
        ``dx``, shaped like ``dy``.

    Example:
        >>> mask = np.array([[1, 0, 1, 0]], dtype=np.uint8)
        >>> dropout_backward(np.ones((1, 4), np.float32), mask, rate=0.5)
        array([[2., 0., 2., 0.]], dtype=float32)
    """
    op = "dropout_backward"
    m = np.asarray(mask)
    if m.dtype == np.bool_:
        m = m.view(np.uint8)
    elif m.dtype != np.uint8:
        raise DTypeError(f"{op}: mask must be the uint8 (or bool) mask dropout returned. Received: mask.dtype={m.dtype}")
    return _core.dropout_backward(_contiguous(_floats(dy, "dy", op)), _contiguous(m), _rate(rate, op), out)


def _channels(x: np.ndarray, vec, fill: float) -> object:
    """A per-channel vector, or ``fill`` for each channel when ``vec`` is None."""
    return np.full(x.shape[-1:] if x.ndim else (0,), fill, x.dtype) if vec is None else vec


def batch_norm_train(
    x, gamma, beta, epsilon: float = 1e-3, out: Optional[np.ndarray] = None
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode batch normalization over the last axis.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` with the batch
    mean and the biased batch variance of every channel (two passes: the
    mean, then the mean squared deviation from it).

    Args:
        x: ``(..., C)`` input.
        gamma: ``(C,)`` scale (``None`` for ones, like ``scale=False``).
        beta: ``(C,)`` offset (``None`` for zeros, like ``center=False``).
        epsilon: added to the variance (Keras' default 1e-3).
        out: optional C-contiguous array for ``y``.

    Returns:
        ``(y, mean, var)``; ``mean`` and ``var`` have shape ``(C,)``.

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
        >>> y, mean, var = batch_norm_train(x, np.ones(2, np.float32), np.zeros(2, np.float32))
        >>> np.round(y, 3), mean, var
        (array([[-1., -1.],
               [ 1.,  1.]], dtype=float32), array([ 2., 20.], dtype=float32), array([  1., 100.], dtype=float32))
    """
    op = "batch_norm_train"
    x = _floats(x, "x", op)
    x, gamma, beta = _common(op, x=x, gamma=_channels(x, gamma, 1.0), beta=_channels(x, beta, 0.0))
    return _core.batch_norm_train(_contiguous(x), _contiguous(gamma), _contiguous(beta), float(epsilon), out)


def batch_norm_backward(
    dy,
    x,
    gamma,
    mean,
    var,
    epsilon: float = 1e-3,
    dx_out: Optional[np.ndarray] = None,
    dgamma_out: Optional[np.ndarray] = None,
    dbeta_out: Optional[np.ndarray] = None,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients of :func:`batch_norm_train`.

    With ``xhat = (x - mean) / sqrt(var + epsilon)`` and ``N`` rows:
    ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)`` and
    ``dx = gamma / sqrt(var + epsilon) * (dy - dbeta / N - xhat * dgamma / N)``.

    Args:
        dy: gradient of ``y``, shaped like ``x``.
        x: the forward input.
        gamma: ``(C,)`` scale (``None`` for ones).
        mean, var: the batch statistics :func:`batch_norm_train` returned.
        epsilon: as given to :func:`batch_norm_train`.
        dx_out, dgamma_out, dbeta_out: optional C-contiguous arrays (of the
            operands' dtype) to write the gradients into.

    Returns:
        ``(dx, dgamma, dbeta)``.

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
        >>> gamma, beta = np.ones(2, np.float32), np.zeros(2, np.float32)
        >>> y, mean, var = batch_norm_train(x, gamma, beta)
        >>> dx, dgamma, dbeta = batch_norm_backward(np.ones_like(x), x, gamma, mean, var)
        >>> np.round(dx, 4), dbeta
        (array([[0., 0.],
               [0., 0.]], dtype=float32), array([2., 2.], dtype=float32))
    """
    op = "batch_norm_backward"
    x = _floats(x, "x", op)
    dy, x, gamma, mean, var = _common(op, dy=dy, x=x, gamma=_channels(x, gamma, 1.0), mean=mean, var=var)
    return _core.batch_norm_backward(
        _contiguous(dy), _contiguous(x), _contiguous(gamma), _contiguous(mean), _contiguous(var), float(epsilon),
        dx_out, dgamma_out, dbeta_out,
    )


def batch_norm_infer(
    x, gamma, beta, mean, var, epsilon: float = 1e-3, out: Optional[np.ndarray] = None
) -> np.ndarray:
    """Inference-mode batch normalization with given (moving) statistics.

    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta`` over the last axis.

    Args:
        x: ``(..., C)`` input.
        gamma, beta: ``(C,)`` scale and offset (``None`` for ones / zeros).
        mean, var: ``(C,)`` statistics, e.g. Keras' moving mean and variance.
        epsilon: added to the variance.
        out: optional C-contiguous array to write into.

    Returns:
        ``y``, shaped like ``x``.

    Example:
        >>> x = np.array([[1.0, 10.0], [3.0, 30.0]], dtype=np.float32)
        >>> ones, zeros = np.ones(2, np.float32), np.zeros(2, np.float32)
        >>> np.round(batch_norm_infer(x, ones, zeros, mean=np.array([2.0, 20.0], np.float32), var=ones), 3)
        array([[-1.   , -9.995],
               [ 1.   ,  9.995]], dtype=float32)
    """
    op = "batch_norm_infer"
    x = _floats(x, "x", op)
    x, gamma, beta, mean, var = _common(
        op, x=x, gamma=_channels(x, gamma, 1.0), beta=_channels(x, beta, 0.0), mean=mean, var=var
    )
    return _core.batch_norm_infer(
        _contiguous(x), _contiguous(gamma), _contiguous(beta), _contiguous(mean), _contiguous(var),
        float(epsilon), out,
    )


def sum_rows(x, out: Optional[np.ndarray] = None):
    """``x.sum(axis=0)`` in a fixed order, whatever the thread count (bias gradients).

    Args:
        x: ``(N, ...)`` array.
        out: optional C-contiguous array of shape ``x.shape[1:]``.

    Returns:
        The sums, of shape ``x.shape[1:]`` (a NumPy scalar for 1-D ``x``, as NumPy).

    Example:
        >>> sum_rows(np.arange(6, dtype=np.float32).reshape(3, 2))
        array([6., 9.], dtype=float32)
    """
    r = _core.sum_rows(_contiguous(_floats(x, "x", "sum_rows")), out)
    return r[()] if out is None and r.ndim == 0 else r


def l1_l2_penalty(w, l1: float = 0.0, l2: float = 0.0, grad: Optional[np.ndarray] = None) -> float:
    """Weight-regularization penalty ``l1 * sum|w| + l2 * sum(w**2)`` (Keras' L1L2).

    Args:
        w: weights (float32/float64 array).
        l1, l2: non-negative coefficients.
        grad: optional C-contiguous array like ``w``; the penalty's gradient
            ``l1 * sign(w) + 2 * l2 * w`` is added to it in place.

    Returns:
        The penalty as a float (accumulated in float64, in a fixed order).

    Example:
        >>> w = np.array([1.0, -2.0], dtype=np.float32)
        >>> grad = np.zeros_like(w)
        >>> round(l1_l2_penalty(w, l1=0.1, l2=0.01, grad=grad), 4)
        0.35
        >>> np.round(grad, 4)
        array([ 0.12, -0.14], dtype=float32)
    """
    return _core.l1_l2_penalty(_contiguous(_floats(w, "w", "l1_l2_penalty")), float(l1), float(l2), grad)
