"""``Adam``: adaptive moment estimation (optionally AMSGrad)."""

from __future__ import annotations

from .. import _core
from .base import Optimizer

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam with Keras' defaults and bias-corrected step size.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.
        beta_2: default 0.999.
        epsilon: default 1e-7 (Keras' value, not PyTorch's 1e-8).
        amsgrad: keep the maximum of past second moments.
        **kwargs: base optimizer arguments.

    Example:
        >>> v = ferronet.Variable(np.array([1.0, 2.0], dtype=np.float32))
        >>> optimizer = ferronet.optimizers.Adam(learning_rate=0.1)
        >>> optimizer.apply([np.array([0.5, -0.5], dtype=np.float32)], [v])
        >>> np.round(v.numpy(), 4)
        array([0.9, 2.1], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, name="adam",
                 **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        for n, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= float(b) < 1.0:
                raise ValueError(f"{n} must be in [0, 1). Received: {n}={b!r}")
        if not float(epsilon) > 0:
            raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def build(self, var_list):
        super().build(var_list)
        for v in var_list:
            self.add_variable_from_reference(v, "momentum")
            self.add_variable_from_reference(v, "velocity")
            if self.amsgrad:
                self.add_variable_from_reference(v, "velocity_hat")

    def _fuses_into_gradient(self) -> bool:
        # Plain Adam only: AMSGrad, weight decay and clipping need the whole gradient first.
        return (type(self) is Adam and not self.amsgrad and not self.weight_decay and self.clipnorm is None
                and self.clipvalue is None and self.global_clipnorm is None)

    def update_step(self, gradient, variable, learning_rate):
        s = self._slots[id(variable)]
        # NOTE: direct kernel call: parameters, gradient buffers and slots are C-contiguous arrays of one dtype.
        _core.adam_update(variable.value, gradient, s["momentum"], s["velocity"], self.iterations + 1,
                          learning_rate, self.beta_1, self.beta_2, self.epsilon, s.get("velocity_hat"))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}
