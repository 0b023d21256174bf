"""``Adagrad``: per-parameter learning rates from the sum of squared gradients."""

from __future__ import annotations

from .. import _core
from .base import Optimizer

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad with Keras' defaults.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: starting value of the accumulators, default 0.1.
        epsilon: default 1e-7.
        **kwargs: base optimizer arguments.

    Example:
        >>> v = ferronet.Variable(np.array([1.0, 2.0], dtype=np.float32))
        >>> optimizer = ferronet.optimizers.Adagrad(learning_rate=0.1)
        >>> optimizer.apply([np.array([0.5, -0.5], dtype=np.float32)], [v])
        >>> np.round(v.numpy(), 4)
        array([0.9155, 2.0845], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7, name="adagrad", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not float(initial_accumulator_value) >= 0:
            raise ValueError(
                f"initial_accumulator_value must be >= 0. Received: initial_accumulator_value={initial_accumulator_value!r}"
            )
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def build(self, var_list):
        super().build(var_list)
        for v in var_list:
            self.add_variable_from_reference(v, "accumulator", self.initial_accumulator_value)

    def update_step(self, gradient, variable, learning_rate):
        _core.adagrad_update(variable.value, gradient, self._slot(variable, "accumulator"), learning_rate,
                             self.epsilon)

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}
