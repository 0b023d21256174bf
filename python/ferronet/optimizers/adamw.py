"""``AdamW``: Adam with decoupled weight decay."""

from __future__ import annotations

from .. import _core
from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    """Adam with decoupled weight decay ``w -= lr * weight_decay * w`` (Keras defaults).

    Args:
        learning_rate: default 0.001.
        weight_decay: default 0.004.
        beta_1, beta_2, epsilon, amsgrad: as :class:`Adam`.
        **kwargs: base optimizer arguments.

    Example:
        >>> v = ferronet.Variable(np.array([1.0, 2.0], dtype=np.float32))
        >>> optimizer = ferronet.optimizers.AdamW(learning_rate=0.1, weight_decay=0.01)
        >>> optimizer.apply([np.array([0.5, -0.5], dtype=np.float32)], [v])
        >>> np.round(v.numpy(), 4)
        array([0.899, 2.098], dtype=float32)
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name="adamw", **kwargs):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, amsgrad=amsgrad,
                         name=name, weight_decay=weight_decay, **kwargs)
        if self.weight_decay is None:
            raise ValueError(f"AdamW needs a weight_decay. Received: weight_decay={weight_decay!r}")

    def _apply_weight_decay(self, variables, lr):
        pass  # the kernel decays each weight inside update_step

    def update_step(self, gradient, variable, learning_rate):
        s = self._slots[id(variable)]
        _core.adamw_update(variable.value, gradient, s["momentum"], s["velocity"], self.iterations + 1,
                           learning_rate, self.weight_decay, self.beta_1, self.beta_2, self.epsilon,
                           s.get("velocity_hat"))
