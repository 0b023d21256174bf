"""Fused optimizer updates with Keras 3's formulas and defaults, in place.

Each function performs one ``update_step`` of the Keras optimizer of the same
name on one parameter array, in a single pass over memory. The parameter and
the optimizer state (velocity, moments, accumulators) are modified in place,
so they must be C-contiguous, writeable NumPy arrays of one float dtype and
shape; the gradient is cast to the parameter's dtype like Keras does. The
state arrays start as Keras initialises them: zeros, except Adagrad's
accumulator (``initial_accumulator_value``, 0.1 in Keras).

Example:
    >>> p, velocity = np.ones(3), np.zeros(3)
    >>> sgd_update(p, np.full(3, 0.5), velocity, learning_rate=0.1, momentum=0.9)
    >>> p
    array([0.95, 0.95, 0.95])
"""

from __future__ import annotations

import operator
from typing import Optional

import numpy as np

from .. import _core
from ..errors import ArgumentError, DTypeError
from ._util import _FLOATS, _contiguous

__all__ = ["sgd_update", "adam_update", "adamw_update", "rmsprop_update", "adagrad_update"]


def _param(param, op: str) -> np.ndarray:
    if not isinstance(param, np.ndarray) or param.dtype not in _FLOATS:
        what = f"dtype={param.dtype}" if isinstance(param, np.ndarray) else f"type={type(param).__name__}"
        raise DTypeError(
            f"{op}: param is updated in place, so it must be a float32 or float64 NumPy array. Received: param.{what}"
        )
    return param


def _grad(grad, param: np.ndarray, op: str) -> np.ndarray:
    g = np.asarray(grad)
    if g.dtype.kind not in "fiub":
        raise DTypeError(f"{op}: grad must be a real-valued array. Received: grad.dtype={g.dtype}")
    return _contiguous(g.astype(param.dtype, copy=False))


def _step(step, op: str) -> int:
    try:
        s = operator.index(step)
    except TypeError:
        raise ArgumentError(f"{op}: step must be an int (Keras' iterations + 1). Received: step={step!r}") from None
    if not 1 <= s < 2**63:
        raise ArgumentError(
            f"{op}: step is the 1-based iteration count (Keras' iterations + 1), below 2**63. Received: step={s}"
        )
    return s


def sgd_update(
    param: np.ndarray,
    grad,
    velocity: Optional[np.ndarray] = None,
    learning_rate: float = 0.01,
    momentum: float = 0.0,
    nesterov: bool = False,
) -> None:
    """One ``keras.optimizers.SGD`` step, in place.

    Without ``velocity``: ``param -= learning_rate * grad``. With it:
    ``velocity = momentum * velocity - learning_rate * grad``, then
    ``param += velocity``, or ``param += momentum * velocity - learning_rate * grad``
    when ``nesterov``.

    Args:
        param: parameter array, updated in place.
        grad: its gradient.
        velocity: momentum buffer (zeros at first), updated in place;
            required when ``momentum`` is not 0.
        learning_rate: step size.
        momentum: in ``[0, 1]``.
        nesterov: use Nesterov momentum.

    Example:
        >>> param = np.array([1.0, 2.0], dtype=np.float32)
        >>> sgd_update(param, np.array([0.5, -0.5], dtype=np.float32), learning_rate=0.1)
        >>> param
        array([0.95, 2.05], dtype=float32)
    """
    op = "sgd_update"
    param = _param(param, op)
    _core.sgd_update(
        param, _grad(grad, param, op), velocity, float(learning_rate), float(momentum), bool(nesterov)
    )


def adam_update(
    param: np.ndarray,
    grad,
    m: np.ndarray,
    v: np.ndarray,
    step: int,
    learning_rate: float = 0.001,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    vhat: Optional[np.ndarray] = None,
) -> None:
    """One ``keras.optimizers.Adam`` step, in place.

    ``m += (grad - m)(1 - beta_1)``, ``v += (grad² - v)(1 - beta_2)``, then
    ``param -= alpha * m / (sqrt(v) + epsilon)`` with
    ``alpha = learning_rate * sqrt(1 - beta_2**step) / (1 - beta_1**step)``.
    With ``vhat`` (AMSGrad) ``vhat = maximum(vhat, v)`` replaces ``v`` in the
    denominator.

    Args:
        param: parameter array, updated in place.
        grad: its gradient.
        m, v: first and second moment buffers (zeros at first), updated in place.
        step: 1-based iteration count (Keras' ``iterations + 1``).
        learning_rate, beta_1, beta_2, epsilon: Keras' hyper-parameters.
        vhat: AMSGrad's running maximum of ``v`` (zeros at first), updated in place.

    Example:
        >>> param = np.array([1.0, 2.0], dtype=np.float32)
        >>> m, v = np.zeros_like(param), np.zeros_like(param)
        >>> adam_update(param, np.array([0.5, -0.5], dtype=np.float32), m, v, step=1, learning_rate=0.1)
        >>> np.round(param, 4)
        array([0.9, 2.1], dtype=float32)
    """
    op = "adam_update"
    param = _param(param, op)
    _core.adam_update(
        param, _grad(grad, param, op), m, v, _step(step, op),
        float(learning_rate), float(beta_1), float(beta_2), float(epsilon), vhat,
    )


def adamw_update(
    param: np.ndarray,
    grad,
    m: np.ndarray,
    v: np.ndarray,
    step: int,
    learning_rate: float = 0.001,
    weight_decay: float = 0.004,
    beta_1: float = 0.9,
    beta_2: float = 0.999,
    epsilon: float = 1e-7,
    vhat: Optional[np.ndarray] = None,
) -> None:
    """One ``keras.optimizers.AdamW`` step, in place.

    Decoupled weight decay first, as Keras applies it before the update step:
    ``param -= learning_rate * weight_decay * param``; then exactly
    :func:`adam_update`.

    Args:
        param: parameter array, updated in place.
        grad: its gradient.
        m, v: first and second moment buffers (zeros at first), updated in place.
        step: 1-based iteration count (Keras' ``iterations + 1``).
        learning_rate, weight_decay, beta_1, beta_2, epsilon: Keras' hyper-parameters.
        vhat: AMSGrad's running maximum of ``v``, updated in place.

    Example:
        >>> param = np.array([1.0, 2.0], dtype=np.float32)
        >>> m, v = np.zeros_like(param), np.zeros_like(param)
        >>> adamw_update(param, np.array([0.5, -0.5], dtype=np.float32), m, v, step=1, learning_rate=0.1)
        >>> np.round(param, 4)
        array([0.8996, 2.0992], dtype=float32)
    """
    op = "adamw_update"
    param = _param(param, op)
    _core.adamw_update(
        param, _grad(grad, param, op), m, v, _step(step, op),
        float(learning_rate), float(weight_decay), float(beta_1), float(beta_2), float(epsilon), vhat,
    )


def rmsprop_update(
    param: np.ndarray,
    grad,
    velocity: np.ndarray,
    learning_rate: float = 0.001,
    rho: float = 0.9,
    momentum: float = 0.0,
    epsilon: float = 1e-7,
    momentum_buf: Optional[np.ndarray] = None,
    average_grad: Optional[np.ndarray] = None,
) -> None:
    """One ``keras.optimizers.RMSprop`` step, in place.

    ``velocity = rho * velocity + (1 - rho) * grad²``; centered (when
    ``average_grad`` is given) ``average_grad = rho * average_grad + (1 - rho) * grad``
    and the increment is ``learning_rate * grad / sqrt(velocity - average_grad² + epsilon)``,
    otherwise ``learning_rate * grad / sqrt(velocity + epsilon)``. It is
    subtracted from ``param``, or with momentum accumulated as
    ``momentum_buf = momentum * momentum_buf + increment`` and ``param -= momentum_buf``.

    Args:
        param: parameter array, updated in place.
        grad: its gradient.
        velocity: running mean of ``grad²`` (zeros at first), updated in place.
        learning_rate, rho, momentum, epsilon: Keras' hyper-parameters.
        momentum_buf: momentum buffer, required when ``momentum > 0``.
        average_grad: running mean of ``grad`` for the centered variant.

    Example:
        >>> param = np.array([1.0, 2.0], dtype=np.float32)
        >>> velocity = np.zeros_like(param)
        >>> rmsprop_update(param, np.array([0.5, -0.5], dtype=np.float32), velocity, learning_rate=0.1)
        >>> np.round(param, 4)
        array([0.6838, 2.3162], dtype=float32)
    """
    op = "rmsprop_update"
    param = _param(param, op)
    _core.rmsprop_update(
        param, _grad(grad, param, op), velocity, float(learning_rate), float(rho), float(momentum),
        float(epsilon), momentum_buf, average_grad,
    )


def adagrad_update(
    param: np.ndarray,
    grad,
    accumulator: np.ndarray,
    learning_rate: float = 0.001,
    epsilon: float = 1e-7,
) -> None:
    """One ``keras.optimizers.Adagrad`` step, in place.

    ``accumulator += grad²``, ``param -= learning_rate * grad / sqrt(accumulator + epsilon)``.

    Args:
        param: parameter array, updated in place.
        grad: its gradient.
        accumulator: running sum of ``grad²`` (Keras starts it at 0.1), updated in place.
        learning_rate, epsilon: Keras' hyper-parameters.

    Example:
        >>> param = np.array([1.0, 2.0], dtype=np.float32)
        >>> accumulator = np.full_like(param, 0.1)
        >>> adagrad_update(param, np.array([0.5, -0.5], dtype=np.float32), accumulator, learning_rate=0.1)
        >>> np.round(param, 4)
        array([0.9155, 2.0845], dtype=float32)
    """
    op = "adagrad_update"
    param = _param(param, op)
    _core.adagrad_update(param, _grad(grad, param, op), accumulator, float(learning_rate), float(epsilon))
