"""``Conv2D``: 2-D convolution over NHWC images with an HWIO kernel."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import ShapeError
from ._conv_utils import data_format_arg, int_pair, out_length, padding_arg
from .base import Layer, fmt_shape

__all__ = ["Conv2D"]


# Activations the convolution kernel applies itself, and whose backward needs only the output.
_FUSED_ACTIVATIONS = frozenset({"relu", "sigmoid", "tanh"})


class Conv2D(Layer):
    """2-D convolution layer (cross-correlation, as in Keras).

    Args:
        filters: positive int, number of output channels.
        kernel_size: int or ``(kh, kw)``.
        strides: int or ``(sh, sw)``, default 1.
        padding: ``"valid"`` (default) or ``"same"`` (output size ``ceil(input / stride)``).
        data_format: ``None`` or ``"channels_last"`` (NHWC, the only layout).
        dilation_rate: int or ``(dh, dw)``; strides and dilation cannot both exceed 1 (Keras rule).
        groups: must be 1.
        activation: name, function or ``None``.
        use_bias: default True.
        kernel_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        kernel_regularizer, bias_regularizer: optional regularizers.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, new_height, new_width, filters)``. Weights: ``kernel (kh, kw, channels, filters)``, ``bias (filters,)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.ones((2, 6, 6, 3), np.float32)  # NHWC
        >>> fn.layers.Conv2D(8, 3, padding="same", activation="relu")(x).shape
        (2, 6, 6, 8)
        >>> conv = fn.layers.Conv2D(8, 3, strides=2)
        >>> conv(x).shape, conv.kernel.shape
        ((2, 2, 2, 8), (3, 3, 3, 8))
    """

    _ndim = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None, dilation_rate=(1, 1),
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"filters must be a positive integer. Received: filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.strides = int_pair(strides, "strides")
        self.padding = padding_arg(padding)
        self.data_format = data_format_arg(data_format)
        self.dilation_rate = int_pair(dilation_rate, "dilation_rate")
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(
                "strides > 1 not supported in conjunction with dilation_rate > 1. "
                f"Received: strides={self.strides} and dilation_rate={self.dilation_rate}"
            )
        if groups != 1:
            raise ValueError(f"Grouped convolutions are not supported; groups must be 1. Received: groups={groups!r}")
        self.groups = 1
        self._init_kernel_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer)

    def build(self, input_shape):
        ch = input_shape[-1]
        if ch is None:
            raise ShapeError(
                f'Layer "{self.name}" (Conv2D) needs a known channel dimension. Received: input shape '
                f"{fmt_shape(input_shape)}"
            )
        self.compute_output_shape(input_shape)
        self._add_kernel(self.kernel_size + (ch, self.filters), self.filters)

    def compute_output_shape(self, input_shape):
        h = out_length(input_shape[1], self.kernel_size[0], self.strides[0], self.padding, self.dilation_rate[0])
        w = out_length(input_shape[2], self.kernel_size[1], self.strides[1], self.padding, self.dilation_rate[1])
        if h == 0 or w == 0:
            raise ShapeError(
                f'Layer "{self.name}" (Conv2D) with kernel_size={self.kernel_size}, dilation_rate={self.dilation_rate} '
                f"and padding='valid' needs images of at least "
                f"{(self.kernel_size[0] - 1) * self.dilation_rate[0] + 1}x"
                f"{(self.kernel_size[1] - 1) * self.dilation_rate[1] + 1}. Received: input shape {fmt_shape(input_shape)}"
            )
        return (input_shape[0], h, w, self.filters)

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import fused_layers

        bias = self.bias if self.use_bias else None
        name = None if self._act is None else self._act.name
        fused = name if name in ("relu", "sigmoid", "tanh") else None
        y = fused_layers.conv2d_act(x, self.kernel, bias, self.strides, self.padding, self.dilation_rate,
                                    activation=fused, precision=self._precision)
        return y if fused is not None or self._act is None else self._activation_tensor(y)

    def _forward(self, state, inputs, training):
        state.x = inputs
        shape = (inputs.shape[0],) + self.output_shape[1:]
        bias = self.bias.value if self.use_bias else None
        act = self._act
        if act is not None and not state.logits and act.name in _FUSED_ACTIVATIONS:
            # The activation is applied to each tile as the kernel writes it. Only the output is kept:
            # these activations' gradients need nothing else (ReLU's takes its sign from y, as y > 0
            # exactly where z > 0).
            y = ops.conv2d(inputs, self.kernel.value, bias, self.strides, self.padding, self.dilation_rate,
                           out=state.buf("y", shape), activation=act.name, precision=self._precision)
            state.z = state.y = y
            return y
        z = ops.conv2d(inputs, self.kernel.value, bias, self.strides, self.padding, self.dilation_rate,
                       out=state.buf("z", shape), precision=self._precision)
        return self._forward_activation(state, z)

    def _backward(self, state, dy, need_dx):
        dz = self._backward_activation(state, dy)
        train = state.train
        x = state.x
        ops.conv2d_backward(
            dz, x, self.kernel.value, self.strides, self.padding, self.dilation_rate,
            need_dx=need_dx, need_dw=train, need_db=train and self.use_bias,
            dx_out=state.buf("dx", x.shape) if need_dx else None,
            dw_out=state.grad(self.kernel) if train else None,
            db_out=state.grad(self.bias) if train and self.use_bias else None,
            precision=self._precision,
        )
        return state.buf("dx", x.shape) if need_dx else None

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "groups": self.groups,
            **self._kernel_args_config(),
        }
