"""``SGD``: gradient descent with optional (Nesterov) momentum."""

from __future__ import annotations

from .. import _core
from .base import Optimizer

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent (Keras formulas).

    ``velocity = momentum * velocity - lr * g``; ``w += velocity`` (or
    ``w += momentum * velocity - lr * g`` with ``nesterov``); plain
    ``w -= lr * g`` when ``momentum == 0``.

    Args:
        learning_rate: default 0.01.
        momentum: float in [0, 1], default 0.0.
        nesterov: default False.
        **kwargs: base optimizer arguments (``weight_decay``, ``clipnorm``, ...).

    Example:
        >>> v = ferronet.Variable(np.array([1.0, 2.0], dtype=np.float32))
        >>> optimizer = ferronet.optimizers.SGD(learning_rate=0.1, momentum=0.9)
        >>> optimizer.apply([np.array([0.5, -0.5], dtype=np.float32)], [v])
        >>> np.round(v.numpy(), 4)
        array([0.95, 2.05], dtype=float32)
    """

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, name="SGD", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum!r}")
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def build(self, var_list):
        super().build(var_list)
        if self.momentum != 0.0:
            for v in var_list:
                self.add_variable_from_reference(v, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        vel = self._slot(variable, "momentum") if self.momentum != 0.0 else None
        _core.sgd_update(variable.value, gradient, vel, learning_rate, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
