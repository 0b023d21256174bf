"""Activation layers: ``Activation``, ``LeakyReLU``, ``Softmax``."""

from __future__ import annotations

from .. import activations
from .base import Layer

__all__ = ["Activation", "LeakyReLU", "Softmax"]


class Activation(Layer):
    """Apply an activation function (name or function from ``ferronet.activations``).

    Args:
        activation: e.g. ``"relu"``, ``"softmax"``, ``ferronet.nn.tanh``.
        **kwargs: base layer arguments.

    Input shape:
        Any. Output shape: same as the input.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[-2.0, -0.5, 0.0, 1.0, 3.0]], np.float32)
        >>> print(fn.layers.Activation("relu")(x))
        [[0. 0. 0. 1. 3.]]
        >>> fn.layers.Activation("tanh")(np.zeros((2, 5))).shape
        (2, 5)
    """

    supports_masking = True

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._init_activation(activation)

    def _tensor_call(self, x, training, **kwargs):
        return self._activation_tensor(x)

    def _forward(self, state, inputs, training):
        return self._forward_activation(state, inputs)

    def _backward(self, state, dy, need_dx):
        return self._backward_activation(state, dy) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "activation": self._activation_config()}


class LeakyReLU(Layer):
    """``x`` for ``x > 0``, ``negative_slope * x`` otherwise (Keras layer default ``negative_slope=0.3``).

    Args:
        negative_slope: float >= 0 (Keras 2's ``alpha`` is accepted too).
        **kwargs: base layer arguments.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[-2.0, -0.5, 0.0, 1.0, 3.0]], np.float32)
        >>> print(fn.layers.LeakyReLU(negative_slope=0.1)(x))
        [[-0.2  -0.05  0.    1.    3.  ]]
    """

    supports_masking = True

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:
            negative_slope = kwargs.pop("alpha")
        super().__init__(**kwargs)
        negative_slope = float(negative_slope)
        if negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0. Received: negative_slope={negative_slope!r}")
        self.negative_slope = negative_slope
        self.activation = activations.leaky_relu
        self._act = activations._pair("leaky_relu", negative_slope=negative_slope)

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import nn_ops

        return nn_ops.leaky_relu(x, self.negative_slope)

    def _forward(self, state, inputs, training):
        return self._forward_activation(state, inputs)

    def _backward(self, state, dy, need_dx):
        return self._backward_activation(state, dy) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax along ``axis`` (default -1).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> p = fn.layers.Softmax()(np.array([[1.0, 2.0, 3.0]], np.float32))
        >>> print(np.round(p, 3), float(p.numpy().sum()))
        [[0.09  0.245 0.665]] 1.0
    """

    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)
        self._act_axis = self.axis
        self.activation = activations.softmax
        self._act = activations._pair("softmax", axis=self.axis)

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import nn_ops

        return nn_ops.softmax(x, self.axis)

    def _forward(self, state, inputs, training):
        return self._forward_activation(state, inputs)

    def _backward(self, state, dy, need_dx):
        return self._backward_activation(state, dy) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
