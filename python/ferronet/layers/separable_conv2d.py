"""``SeparableConv2D``: a depthwise convolution followed by a 1x1 (pointwise) convolution."""

from __future__ import annotations

import numpy as np

from .. import ops as _ops
from .base import Layer
from .depthwise_conv2d import depthwise_args, depthwise_output_shape, known_channels, no_constraint

__all__ = ["SeparableConv2D"]


class SeparableConv2D(Layer):
    """Depthwise-separable 2-D convolution, as ``keras.layers.SeparableConv2D``.

    The depthwise stage (strides, padding, dilation, ``depth_multiplier``)
    runs the Rust depthwise kernel; the pointwise stage is a 1x1 convolution
    on the GEMM kernels, with the bias and activation.

    The weights, in Keras' order, are ``depthwise_kernel`` of shape ``(kh, kw, channels, depth_multiplier)``,
    ``pointwise_kernel`` of shape ``(1, 1, channels·depth_multiplier, filters)`` and ``bias`` of shape
    ``(filters,)``.

    Args:
        filters: positive int, output channels.
        kernel_size: int or ``(kh, kw)`` of the depthwise stage.
        strides, padding, data_format, dilation_rate, depth_multiplier: as :class:`DepthwiseConv2D`.
        activation: name, function or ``None``.
        use_bias: default True.
        depthwise_initializer, pointwise_initializer: default ``"glorot_uniform"``.
        bias_initializer: default ``"zeros"``.
        depthwise_regularizer, pointwise_regularizer, bias_regularizer: optional regularizers.
        depthwise_constraint, pointwise_constraint, bias_constraint: must be None.
        **kwargs: base layer arguments.

    Output shape:
        ``(batch, new_height, new_width, filters)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> sep = fn.layers.SeparableConv2D(8, 3, padding="same")
        >>> sep(np.ones((2, 6, 6, 3), np.float32)).shape
        (2, 6, 6, 8)
        >>> [w.shape for w in sep.get_weights()], sep.count_params()  # a Conv2D(8, 3) has 224
        ([(3, 3, 3, 1), (1, 1, 3, 8), (8,)], 59)
    """

    _ndim = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, depthwise_constraint=None, pointwise_constraint=None, bias_constraint=None,
                 **kwargs):
        from .. import initializers, regularizers

        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"filters must be a positive integer. Received: filters={filters!r}")
        self.filters = int(filters)
        depthwise_args(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate)
        for name, value in (("depthwise_constraint", depthwise_constraint),
                            ("pointwise_constraint", pointwise_constraint), ("bias_constraint", bias_constraint)):
            no_constraint(name, value)
        self._init_kernel_args(activation, use_bias, pointwise_initializer, bias_initializer, pointwise_regularizer,
                               bias_regularizer)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_kernel = self.pointwise_kernel = None

    def build(self, input_shape):
        ch = known_channels(self, input_shape)
        self.compute_output_shape(input_shape)
        self.depthwise_kernel = self.add_weight(self.kernel_size + (ch, self.depth_multiplier),
                                                self.depthwise_initializer, regularizer=self.depthwise_regularizer,
                                                name="depthwise_kernel")
        self.pointwise_kernel = self.add_weight((1, 1, ch * self.depth_multiplier, self.filters),
                                                self.kernel_initializer, regularizer=self.kernel_regularizer,
                                                name="pointwise_kernel")
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                        name="bias")

    def compute_output_shape(self, input_shape):
        return depthwise_output_shape(self, input_shape, self.filters)

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import fused_layers, image_ops

        d = image_ops.depthwise_conv2d(x, self.depthwise_kernel, None, self.strides, self.padding,
                                       self.dilation_rate)
        name = None if self._act is None else self._act.name
        fused = name if name in ("relu", "sigmoid", "tanh") else None
        y = fused_layers.conv2d_act(d, self.pointwise_kernel, self.bias if self.use_bias else None,
                                    activation=fused)
        return y if fused is not None or self._act is None else self._activation_tensor(y)

    def _forward(self, state, inputs, training):
        state.x = inputs
        shape = (inputs.shape[0],) + tuple(self.compute_output_shape(inputs.shape)[1:-1])
        d = state.d = _ops.depthwise_conv2d(inputs, self.depthwise_kernel.value, self.strides, self.padding,
                                            dilation_rate=self.dilation_rate,
                                            out=state.buf("d", shape + (self.pointwise_kernel.shape[2],)))
        z = _ops.conv2d(d, self.pointwise_kernel.value, self.bias.value if self.use_bias else None,
                        out=state.buf("z", shape + (self.filters,)))
        return self._forward_activation(state, z)

    def _backward(self, state, dy, need_dx):
        dz = self._backward_activation(state, dy)
        train, d = state.train, state.d
        _ops.conv2d_backward(dz, d, self.pointwise_kernel.value, need_dw=train, need_db=train and self.use_bias,
                             dx_out=state.buf("dd", d.shape),
                             dw_out=state.grad(self.pointwise_kernel) if train else None,
                             db_out=state.grad(self.bias) if train and self.use_bias else None)
        dx, dk, _ = _ops.depthwise_conv2d_backward(state.buf("dd", d.shape), state.x, self.depthwise_kernel.value,
                                                    self.strides, self.padding, self.dilation_rate,
                                                    need_dx=need_dx, need_dw=train, need_db=False)
        if train:
            state.grad(self.depthwise_kernel)[...] = dk
        return dx

    def get_config(self):
        from .. import initializers, regularizers

        cfg = self._kernel_args_config()
        reg = self.depthwise_regularizer
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "depth_multiplier": self.depth_multiplier,
                "activation": cfg["activation"], "use_bias": self.use_bias,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": cfg["kernel_initializer"], "bias_initializer": cfg["bias_initializer"],
                "depthwise_regularizer": None if reg is None else regularizers.serialize(reg),
                "pointwise_regularizer": cfg["kernel_regularizer"], "bias_regularizer": cfg["bias_regularizer"],
                "depthwise_constraint": None, "pointwise_constraint": None, "bias_constraint": None}
