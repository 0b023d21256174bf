"""``LayerNormalization`` and ``UnitNormalization``: per-sample normalization over feature axes."""

from __future__ import annotations

import numpy as np

from .. import initializers
from ..tensor import math_ops as M
from ..tensor import reduce_ops as R
from .base import Layer

__all__ = ["LayerNormalization", "UnitNormalization"]


def _axes(axis, ndim):
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    return tuple(sorted(int(a) % ndim for a in axes))


class LayerNormalization(Layer):
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with statistics over ``axis`` of each sample.

    Args:
        axis: int or list of ints (default -1, the features).
        epsilon: added to the variance (Keras' default 1e-3).
        center, scale: learn ``beta`` / ``gamma``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> norm = fn.layers.LayerNormalization()
        >>> y = norm(np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 10.0, 14.0]], np.float32))
        >>> print(np.round(y, 3))  # each row: mean 0, variance ~1
        [[-1.341 -0.447  0.447  1.341]
         [-0.577 -0.577 -0.577  1.732]]
        >>> norm.gamma.shape, norm.beta.shape
        ((4,), (4,))
    """

    supports_masking = True

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", **kwargs):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else [int(a) for a in axis]
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        axes = _axes(self.axis, len(input_shape))
        if 0 in axes:
            raise ValueError(f"LayerNormalization cannot normalize over the batch axis. Received: axis={self.axis}")
        shape = tuple(input_shape[a] for a in axes)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta")

    def _tensor_call(self, x, training, **kwargs):
        axes = _axes(self.axis, x.ndim)
        mean = R.reduce_mean(x, axis=axes, keepdims=True)
        var = R.reduce_mean(M.square(M.subtract(x, mean)), axis=axes, keepdims=True)
        y = M.multiply(M.subtract(x, mean), M.rsqrt(M.add(var, np.asarray(self.epsilon, x.dtype))))
        shape = tuple(x.shape[a] if a in axes else 1 for a in range(x.ndim))
        from ..tensor import array_ops as A

        if self.gamma is not None:
            y = M.multiply(y, A.reshape(self.gamma, shape))
        if self.beta is not None:
            y = M.add(y, A.reshape(self.beta, shape))
        return y

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer)}


class UnitNormalization(Layer):
    """Each sample scaled to unit L2 norm over ``axis`` (default -1).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> print(fn.layers.UnitNormalization()(np.array([[3.0, 4.0], [0.0, 2.0]], np.float32)))
        [[0.6 0.8]
         [0.  1. ]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = axis if isinstance(axis, int) else [int(a) for a in axis]

    def _tensor_call(self, x, training, **kwargs):
        axes = _axes(self.axis, x.ndim)
        sq = R.reduce_sum(M.square(x), axis=axes, keepdims=True)
        return M.multiply(x, M.rsqrt(M.maximum(sq, np.asarray(1e-12, x.dtype))))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
