"""``RMSprop``: divide the gradient by a running RMS of its recent values."""

from __future__ import annotations

from .. import _core
from .base import Optimizer

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop with Keras' defaults (Keras' default optimizer in ``compile``).

    Args:
        learning_rate: default 0.001.
        rho: decay of the squared-gradient average, default 0.9.
        momentum: default 0.0.
        epsilon: default 1e-7.
        centered: normalize by the variance estimate instead of the second moment.
        **kwargs: base optimizer arguments.

    Example:
        >>> v = ferronet.Variable(np.array([1.0, 2.0], dtype=np.float32))
        >>> optimizer = ferronet.optimizers.RMSprop(learning_rate=0.1)
        >>> optimizer.apply([np.array([0.5, -0.5], dtype=np.float32)], [v])
        >>> np.round(v.numpy(), 4)
        array([0.6838, 2.3162], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, name="rmsprop",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not 0.0 <= float(rho) < 1.0:
            raise ValueError(f"rho must be in [0, 1). Received: rho={rho!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum!r}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def build(self, var_list):
        super().build(var_list)
        for v in var_list:
            self.add_variable_from_reference(v, "velocity")
            if self.momentum > 0:
                self.add_variable_from_reference(v, "momentum")
            if self.centered:
                self.add_variable_from_reference(v, "average_gradient")

    def update_step(self, gradient, variable, learning_rate):
        s = self._slots[id(variable)]
        _core.rmsprop_update(variable.value, gradient, s["velocity"], learning_rate, self.rho, self.momentum,
                             self.epsilon, s.get("momentum"), s.get("average_gradient"))

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}
