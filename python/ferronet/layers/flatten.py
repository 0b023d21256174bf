"""``Flatten``: ``(batch, d1, d2, ...) -> (batch, d1*d2*...)`` without copying contiguous inputs."""

from __future__ import annotations

import math

from ._conv_utils import data_format_arg
from .base import Layer

__all__ = ["Flatten"]


class Flatten(Layer):
    """Flatten every axis but the batch axis (a view for C-contiguous inputs).

    Args:
        data_format: ``None`` or ``"channels_last"``.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, ...)``.

    Output shape:
        ``(batch, product of the other dimensions)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.Flatten()(np.ones((2, 3, 4, 5), np.float32)).shape
        (2, 60)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, input_shape):
        rest = input_shape[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import array_ops

        return array_ops.reshape(x, (x.shape[0], -1))

    def _forward(self, state, inputs, training):
        state.in_shape = inputs.shape
        return inputs.reshape(inputs.shape[0], -1)

    def _backward(self, state, dy, need_dx):
        return dy.reshape(state.in_shape) if need_dx else None

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}
