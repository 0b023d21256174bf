"""``DepthwiseConv2D``: each input channel convolved with its own ``depth_multiplier`` filters (NHWC)."""

from __future__ import annotations

import numpy as np

from .. import ops as _ops
from ..errors import ShapeError
from ._conv_utils import data_format_arg, int_pair, out_length, padding_arg
from .base import Layer, fmt_shape

__all__ = ["DepthwiseConv2D"]


def no_constraint(name, value):
    """Refuse a weight constraint (ferronet's optimizers apply none), accepting Keras' default None."""
    if value is not None:
        raise ValueError(f"ferronet layers take no weight constraints; pass {name}=None. Received: {name}={value!r}")


def depthwise_args(layer, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate):
    """Validate and store the arguments DepthwiseConv2D and SeparableConv2D share."""
    layer.kernel_size = int_pair(kernel_size, "kernel_size")
    layer.strides = int_pair(strides, "strides")
    layer.padding = padding_arg(padding)
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, (int, np.integer)) \
            or depth_multiplier <= 0:
        raise ValueError(f"depth_multiplier must be a positive integer. Received: depth_multiplier={depth_multiplier!r}")
    layer.depth_multiplier = int(depth_multiplier)
    layer.data_format = data_format_arg(data_format)
    layer.dilation_rate = int_pair(dilation_rate, "dilation_rate")
    if max(layer.strides) > 1 and max(layer.dilation_rate) > 1:
        raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1. "
                         f"Received: strides={layer.strides} and dilation_rate={layer.dilation_rate}")


def depthwise_output_shape(layer, s, channels):
    """Output shape of the depthwise stage for input shape ``s``, with ``channels`` output channels."""
    h = out_length(s[1], layer.kernel_size[0], layer.strides[0], layer.padding, layer.dilation_rate[0])
    w = out_length(s[2], layer.kernel_size[1], layer.strides[1], layer.padding, layer.dilation_rate[1])
    if h == 0 or w == 0:
        raise ShapeError(f'Layer "{layer.name}" ({type(layer).__name__}) with kernel_size={layer.kernel_size}, '
                         f"dilation_rate={layer.dilation_rate} and padding='valid' needs larger images. "
                         f"Received: input shape {fmt_shape(s)}")
    return (s[0], h, w, channels)


def known_channels(layer, input_shape):
    ch = input_shape[-1]
    if ch is None:
        raise ShapeError(f'Layer "{layer.name}" ({type(layer).__name__}) needs a known channel dimension. '
                         f"Received: input shape {fmt_shape(input_shape)}")
    return ch


class DepthwiseConv2D(Layer):
    """Depthwise 2-D convolution, as ``keras.layers.DepthwiseConv2D``.

    Every input channel ``c`` is convolved with its own ``depth_multiplier``
    filters; output channel ``c·depth_multiplier + m`` holds filter ``m``. The weights are ``kernel`` of shape
    ``(kh, kw, channels, depth_multiplier)`` and ``bias`` of shape ``(channels·depth_multiplier,)``.

    Args:
        kernel_size: int or ``(kh, kw)``.
        strides: int or ``(sh, sw)``, default 1.
        padding: ``"valid"`` (default) or ``"same"``.
        depth_multiplier: filters per input channel, default 1.
        data_format: ``None`` or ``"channels_last"``.
        dilation_rate: int or ``(dh, dw)``; strides and dilation cannot both exceed 1.
        activation: name, function or ``None``.
        use_bias: default True.
        depthwise_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        depthwise_regularizer, bias_regularizer: optional regularizers.
        depthwise_constraint, bias_constraint: must be None (no constraints in ferronet).
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, new_height, new_width, channels·depth_multiplier)``.

    Example:
        >>> import ferronet as fn
        >>> layer = fn.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")
        >>> layer(np.zeros((1, 8, 8, 3), np.float32)).shape
        (1, 8, 8, 6)
    """

    _ndim = 4

    def __init__(self, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, bias_regularizer=None,
                 depthwise_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        depthwise_args(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        no_constraint("depthwise_constraint", depthwise_constraint)
        no_constraint("bias_constraint", bias_constraint)
        self._init_kernel_args(activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
                               bias_regularizer)

    def build(self, input_shape):
        ch = known_channels(self, input_shape)
        self.compute_output_shape(input_shape)
        self._add_kernel(self.kernel_size + (ch, self.depth_multiplier), ch * self.depth_multiplier)

    def compute_output_shape(self, input_shape):
        ch = input_shape[-1]
        return depthwise_output_shape(self, input_shape, None if ch is None else ch * self.depth_multiplier)

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import image_ops

        y = image_ops.depthwise_conv2d(x, self.kernel, self.bias if self.use_bias else None, self.strides,
                                       self.padding, self.dilation_rate)
        return self._activation_tensor(y)

    def _forward(self, state, inputs, training):
        state.x = inputs
        shape = (inputs.shape[0],) + tuple(self.compute_output_shape(inputs.shape)[1:])
        z = _ops.depthwise_conv2d(inputs, self.kernel.value, self.strides, self.padding,
                                  dilation_rate=self.dilation_rate, bias=self.bias.value if self.use_bias else None,
                                  out=state.buf("z", shape))
        return self._forward_activation(state, z)

    def _backward(self, state, dy, need_dx):
        dz = self._backward_activation(state, dy)
        train = state.train
        dx, dk, db = _ops.depthwise_conv2d_backward(dz, state.x, self.kernel.value, self.strides, self.padding,
                                                     self.dilation_rate, need_dx=need_dx, need_dw=train,
                                                     need_db=train and self.use_bias)
        if train:
            state.grad(self.kernel)[...] = dk
            if self.use_bias:
                state.grad(self.bias)[...] = db
        return dx

    def get_config(self):
        cfg = self._kernel_args_config()
        return {**super().get_config(), "kernel_size": list(self.kernel_size), "strides": list(self.strides),
                "padding": self.padding, "depth_multiplier": self.depth_multiplier, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "activation": cfg["activation"],
                "use_bias": self.use_bias, "depthwise_initializer": cfg["kernel_initializer"],
                "bias_initializer": cfg["bias_initializer"], "depthwise_regularizer": cfg["kernel_regularizer"],
                "bias_regularizer": cfg["bias_regularizer"], "depthwise_constraint": None, "bias_constraint": None}
