"""Pooling layers: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D (NHWC)."""

from __future__ import annotations

from typing import Optional

from .. import ops
from ..errors import ShapeError
from ._conv_utils import data_format_arg, int_pair, out_length, padding_arg
from .base import Layer, fmt_shape

__all__ = [
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
    "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "GlobalMaxPool2D",
]


class _Pooling2D(Layer):
    """Windowed pooling over height and width; subclasses name the core ops."""

    _ndim = 4
    _forward_op: Optional[str] = None
    _backward_op: Optional[str] = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else int_pair(strides, "strides")
        self.padding = padding_arg(padding)
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, input_shape):
        h = out_length(input_shape[1], self.pool_size[0], self.strides[0], self.padding)
        w = out_length(input_shape[2], self.pool_size[1], self.strides[1], self.padding)
        if h == 0 or w == 0:
            raise ShapeError(
                f'Layer "{self.name}" ({type(self).__name__}) with pool_size={self.pool_size} and padding=\'valid\' '
                f"needs images of at least {self.pool_size[0]}x{self.pool_size[1]}. "
                f"Received: input shape {fmt_shape(input_shape)}"
            )
        return (input_shape[0], h, w, input_shape[3])

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import nn_ops

        return getattr(nn_ops, self._forward_op)(x, self.pool_size, self.strides, self.padding)

    def _forward(self, state, inputs, training):
        state.x = inputs
        shape = (inputs.shape[0],) + self.output_shape[1:]
        return getattr(ops, self._forward_op)(inputs, self.pool_size, self.strides, self.padding,
                                              out=state.buf("y", shape))

    def _backward(self, state, dy, need_dx):
        if not need_dx:
            return None
        x = state.x
        return getattr(ops, self._backward_op)(dy, x, self.pool_size, self.strides, self.padding,
                                               out=state.buf("dx", x.shape))

    # Whether the backward can also apply a preceding ReLU's gradient (``state.through_relu``).
    _takes_relu_grad = False

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "strides": list(self.strides),
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling2D(_Pooling2D):
    """Maximum over ``pool_size`` windows (default 2x2, strides = pool_size, padding 'valid').

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, pooled_height, pooled_width, channels)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> print(fn.layers.MaxPooling2D()(x).numpy()[0, :, :, 0])  # 2x2 windows, stride 2
        [[ 5.  7.]
         [13. 15.]]
        >>> fn.layers.MaxPool2D(3, strides=1, padding="same")(np.ones((2, 5, 5, 3))).shape  # the short alias
        (2, 5, 5, 3)
    """

    _forward_op, _backward_op = "max_pool2d", "max_pool2d_backward"
    # A plan sets ``state.through_relu`` when the previous layer ends in a ReLU whose gradient this backward
    # applies (one pass over the unpooled tensor instead of two).
    _takes_relu_grad = True

    def _backward(self, state, dy, need_dx):
        if not need_dx:
            return None
        x = state.x
        return ops.max_pool2d_backward(dy, x, self.pool_size, self.strides, self.padding,
                                       out=state.buf("dx", x.shape), through_relu=state.through_relu)


class AveragePooling2D(_Pooling2D):
    """Mean over ``pool_size`` windows; with 'same' padding only the valid cells are averaged (Keras).

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, pooled_height, pooled_width, channels)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> print(fn.layers.AveragePooling2D()(x).numpy()[0, :, :, 0])
        [[ 2.5  4.5]
         [10.5 12.5]]
        >>> corner = fn.layers.AvgPool2D(3, strides=1, padding="same")(x).numpy()[0, 0, 0, 0]
        >>> float(corner)  # (0 + 1 + 4 + 5) / 4: the padding is not counted
        2.5
    """

    _forward_op, _backward_op = "avg_pool2d", "avg_pool2d_backward"


class _GlobalPooling2D(Layer):
    _ndim = 4

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1, 1, input_shape[3]) if self.keepdims else (input_shape[0], input_shape[3])

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import reduce_ops

        return getattr(reduce_ops, self._reduce)(x, axis=(1, 2), keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over height and width: ``(batch, h, w, c) -> (batch, c)`` (or ``(batch, 1, 1, c)`` with keepdims).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)  # channel 0: 0 2 4 6, channel 1: 1 3 5 7
        >>> print(fn.layers.GlobalAveragePooling2D()(x))
        [[3. 4.]]
        >>> fn.layers.GlobalAvgPool2D(keepdims=True)(x).shape
        (1, 1, 1, 2)
    """

    _reduce = "reduce_mean"

    def _forward(self, state, inputs, training):
        state.x = inputs
        y = ops.global_avg_pool2d(inputs, out=state.buf("y", (inputs.shape[0], inputs.shape[3])))
        return y.reshape(inputs.shape[0], 1, 1, inputs.shape[3]) if self.keepdims else y

    def _backward(self, state, dy, need_dx):
        if not need_dx:
            return None
        x = state.x
        return ops.global_avg_pool2d_backward(dy.reshape(x.shape[0], x.shape[3]), x.shape,
                                              out=state.buf("dx", x.shape))


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over height and width: ``(batch, h, w, c) -> (batch, c)`` (or ``(batch, 1, 1, c)`` with keepdims).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(8, dtype=np.float32).reshape(1, 2, 2, 2)
        >>> print(fn.layers.GlobalMaxPooling2D()(x))
        [[6. 7.]]
    """

    _reduce = "reduce_max"

    def _forward(self, state, inputs, training):
        state.x = inputs
        y = ops.global_max_pool2d(inputs, out=state.buf("y", (inputs.shape[0], inputs.shape[3])))
        return y.reshape(inputs.shape[0], 1, 1, inputs.shape[3]) if self.keepdims else y

    def _backward(self, state, dy, need_dx):
        if not need_dx:
            return None
        x = state.x
        return ops.global_max_pool2d_backward(dy.reshape(x.shape[0], x.shape[3]), x, out=state.buf("dx", x.shape))


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
