"""Activation layers with parameters: ``ReLU`` (max_value, negative_slope, threshold), ``ELU``, ``PReLU``."""

from __future__ import annotations

import numpy as np

from .. import initializers, regularizers
from ..tensor import math_ops as M
from ..tensor import nn_ops
from .base import Layer

__all__ = ["ReLU", "ELU", "PReLU"]


class ReLU(Layer):
    """``max(x, 0)`` generalized as Keras': ``negative_slope * (x - threshold)`` below ``threshold``, capped at
    ``max_value``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[-2.0, -0.5, 0.0, 1.0, 3.0]], np.float32)
        >>> print(fn.layers.ReLU(max_value=2.0)(x))  # ReLU6-style cap
        [[0. 0. 0. 1. 2.]]
        >>> print(fn.layers.ReLU(negative_slope=0.1, threshold=0.5)(x))
        [[-0.25 -0.1  -0.05  1.    3.  ]]
    """

    supports_masking = True

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        if max_value is not None and float(max_value) < 0:
            raise ValueError(f"max_value must be >= 0. Received: max_value={max_value!r}")
        if float(negative_slope) < 0:
            raise ValueError(f"negative_slope must be >= 0. Received: negative_slope={negative_slope!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)

    def _tensor_call(self, x, training, **kwargs):
        if self.max_value is None and self.negative_slope == 0.0 and self.threshold == 0.0:
            return nn_ops.relu(x)
        # NOTE: a zero slope selects a zero, not 0 * (x - threshold), which is -0.0 for x < threshold
        below = np.zeros((), x.dtype) if self.negative_slope == 0.0 else M.multiply(M.subtract(x, self.threshold),
                                                                                    self.negative_slope)
        y = M.where(M.greater_equal(x, self.threshold), x, below)
        return y if self.max_value is None else M.minimum(y, np.asarray(self.max_value, x.dtype))

    def get_config(self):
        return {**super().get_config(), "max_value": self.max_value, "negative_slope": self.negative_slope,
                "threshold": self.threshold}


class ELU(Layer):
    """``x`` above zero, ``alpha * (exp(x) - 1)`` below.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[-2.0, 0.0, 3.0]], np.float32)
        >>> print(np.round(fn.layers.ELU(alpha=1.0)(x), 3))
        [[-0.865  0.     3.   ]]
    """

    supports_masking = True

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        self.alpha = float(alpha)

    def _tensor_call(self, x, training, **kwargs):
        return nn_ops.elu(x, self.alpha)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Leaky ReLU with a learned slope per feature (``alpha`` shaped like the input without the batch axis,
    or shared along ``shared_axes``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> layer = fn.layers.PReLU(shared_axes=[1])  # one slope per channel, shared over the steps
        >>> layer(np.ones((2, 5, 4), np.float32)).shape, layer.alpha.shape
        ((2, 5, 4), (1, 4))
        >>> print(fn.layers.PReLU(alpha_initializer=fn.initializers.Constant(0.25))(np.array([[-4.0, 2.0]])))
        [[-1.  2.]]
    """

    def __init__(self, alpha_initializer="zeros", alpha_regularizer=None, alpha_constraint=None, shared_axes=None,
                 **kwargs):
        super().__init__(**kwargs)
        if alpha_constraint is not None:
            raise ValueError("PReLU does not support alpha_constraint. Received: alpha_constraint="
                             f"{alpha_constraint!r}")
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.shared_axes = None if shared_axes is None else [int(a) for a in (
            shared_axes if isinstance(shared_axes, (list, tuple)) else [shared_axes])]
        self.alpha = None

    def build(self, input_shape):
        shape = list(input_shape[1:])
        for a in self.shared_axes or []:
            shape[a - 1] = 1
        self.alpha = self.add_weight(tuple(shape), self.alpha_initializer, regularizer=self.alpha_regularizer,
                                     name="alpha")

    def _tensor_call(self, x, training, **kwargs):
        return M.where(M.greater(x, 0), x, M.multiply(x, self.alpha))

    def get_config(self):
        return {**super().get_config(), "alpha_initializer": initializers.serialize(self.alpha_initializer),
                "alpha_regularizer": None if self.alpha_regularizer is None else regularizers.serialize(
                    self.alpha_regularizer), "alpha_constraint": None, "shared_axes": self.shared_axes}
