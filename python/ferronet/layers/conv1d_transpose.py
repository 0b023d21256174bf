"""``Conv1DTranspose``: the transposed 1-D convolution (a sequence decoder's upsampling), as a
``Conv2DTranspose`` on sequences of height 1, on the same Rust kernels."""

from __future__ import annotations

import numpy as np

from ..tensor import array_ops as A
from ._conv_utils import data_format_arg
from .conv2d_transpose import Conv2DTranspose

__all__ = ["Conv1DTranspose"]


def _one(value, name):
    v = value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"{name} must be an integer. Received: {name}={value!r}")
    return int(v)


class Conv1DTranspose(Conv2DTranspose):
    """Keras ``Conv1DTranspose``: kernel ``(kernel_size, filters, in_channels)``, strides, padding,
    ``output_padding``, dilation, on ``(batch, steps, channels)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> up = fn.layers.Conv1DTranspose(4, 7, strides=2, padding="same")  # doubles the steps
        >>> up(np.ones((2, 25, 3), np.float32)).shape, up.kernel.shape
        ((2, 50, 4), (7, 4, 3))
    """

    _ndim = 3

    def __init__(self, filters, kernel_size, strides=1, padding="valid", output_padding=None, data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        k, s, d = (_one(v, n) for v, n in ((kernel_size, "kernel_size"), (strides, "strides"),
                                             (dilation_rate, "dilation_rate")))
        p = None if output_padding is None else _one(output_padding, "output_padding")
        super().__init__(filters, (1, k), strides=(1, s), padding=padding, output_padding=None if p is None else (0, p),
                         dilation_rate=(1, d), activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer, **kwargs)
        self.data_format = data_format_arg(data_format, rank=1)

    def build(self, input_shape):
        if input_shape[-1] is None:
            super().build(input_shape)  # (names the missing channel dimension)
        self._add_kernel((self.kernel_size[1], self.filters, input_shape[-1]), self.filters)  # Keras' 1-D layout

    def compute_output_shape(self, s):
        return (s[0], self._out_hw(1, s[1])[1], self.filters)

    def _hwio_tensor(self):
        return A.reshape(self.kernel, (1,) + tuple(self.kernel.shape))

    def _hwio(self, kernel):
        return kernel[None]

    # A sequence is an image of height 1 to the 2-D layer's math.
    def _tensor_call(self, x, training, **kwargs):
        return A.squeeze(super()._tensor_call(A.expand_dims(x, 1), training), 1)

    def _forward(self, state, inputs, training):
        return super()._forward(state, inputs[:, None], training)[:, 0]

    def _backward(self, state, dy, need_dx):
        dx = super()._backward(state, np.ascontiguousarray(dy)[:, None], need_dx)
        return None if dx is None else dx[:, 0]

    def get_config(self):
        config = super().get_config()
        config.update(kernel_size=[self.kernel_size[1]], strides=[self.strides[1]],
                      dilation_rate=[self.dilation_rate[1]], data_format=self.data_format,
                      output_padding=None if self.output_padding is None else [self.output_padding[1]])
        return config
