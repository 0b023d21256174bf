"""``Conv2DTranspose``: the transpose of a convolution (a decoder's upsampling convolution), on the Rust kernels.

A transposed convolution is the gradient of a convolution with respect to
its input, so it runs the convolution's input-gradient kernel; its own input
gradient is a plain convolution and its kernel gradient the convolution's
weight-gradient kernel with the roles of input and output swapped. Keras'
kernel layout ``(kh, kw, filters, in_channels)`` is exactly the HWIO kernel of
that convolution. Output sizes follow Keras (``output_padding`` included).
"""

from __future__ import annotations

import numpy as np

from .. import _core
from .. import ops as _ops
from ..ops.conv import deconv_length
from ..errors import ShapeError
from ..tensor.core import Primitive
from ._conv_utils import data_format_arg, int_pair, padding_arg
from .base import Layer, fmt_shape

__all__ = ["Conv2DTranspose"]


def _forward(x, kernel, bias, out_hw, strides, padding, dilation, precision="float32"):
    x = np.ascontiguousarray(x, dtype=kernel.dtype)
    return _core.conv2d_transpose(x, kernel, bias, tuple(out_hw), tuple(strides), padding, tuple(dilation),
                                  None, precision)


def _fast(g, y, x, kernel, bias, out_hw, strides, padding, dilation, precision="float32", needs=None):
    need_x, need_w, need_b = needs if needs is not None else (True, True, True)
    g = np.ascontiguousarray(g)
    dx = _ops.conv2d(g, kernel, None, strides=strides, padding=padding, dilation_rate=dilation,
                     precision=precision) if need_x else None
    dw = None
    if need_w:
        _, dw, _ = _ops.conv2d_backward(np.ascontiguousarray(x, dtype=kernel.dtype), g, kernel, strides=strides,
                                        padding=padding, dilation_rate=dilation, need_dx=False, need_dw=True,
                                        need_db=False, precision=precision)
    db = _ops.sum_rows(g.reshape(-1, g.shape[-1])) if need_b and bias is not None else None
    return dx, dw, db


_fast.takes_needs = True


def _no_twin(g, y, *args, **params):
    raise NotImplementedError("Conv2DTranspose gives first derivatives only (its backward runs the Rust "
                              "convolution kernels). Received: a higher derivative through a Conv2DTranspose")


Conv2DTransposeOp = Primitive("conv2d_transpose", _forward, _no_twin, _fast)


class Conv2DTranspose(Layer):
    """Keras ``Conv2DTranspose``: strides, padding, ``output_padding``, dilation; kernel ``(kh, kw, filters, in)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> up = fn.layers.Conv2DTranspose(4, 3, strides=2, padding="same")  # doubles height and width
        >>> up(np.ones((2, 5, 5, 3), np.float32)).shape, up.kernel.shape
        ((2, 10, 10, 4), (3, 3, 4, 3))
        >>> fn.layers.Conv2DTranspose(4, 3, strides=2)(np.ones((2, 5, 5, 3), np.float32)).shape
        (2, 11, 11, 4)
    """

    _ndim = 4

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid", output_padding=None, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ValueError(f"filters must be a positive integer. Received: filters={filters!r}")
        self.filters = int(filters)
        self.kernel_size = int_pair(kernel_size, "kernel_size")
        self.strides = int_pair(strides, "strides")
        self.padding = padding_arg(padding)
        self.output_padding = None if output_padding is None else int_pair(output_padding, "output_padding", minimum=0)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"output_padding must be smaller than the strides. Received: "
                             f"output_padding={output_padding}, strides={strides}")
        self.data_format = data_format_arg(data_format)
        self.dilation_rate = int_pair(dilation_rate, "dilation_rate")
        self._init_kernel_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ShapeError(f'Layer "{self.name}" (Conv2DTranspose) needs a known channel dimension. '
                             f"Received: input shape {fmt_shape(input_shape)}")
        self._add_kernel(self.kernel_size + (self.filters, c), self.filters)

    def _out_hw(self, h, w):
        op = self.output_padding or (None, None)
        return tuple(deconv_length(n, k, self.padding, p, s, d) for n, k, p, s, d in zip(
            (h, w), self.kernel_size, op, self.strides, self.dilation_rate))

    def compute_output_shape(self, s):
        return (s[0],) + self._out_hw(s[1], s[2]) + (self.filters,)

    # The kernel as the convolution's HWIO array (Conv1DTranspose keeps Keras' 1-D layout, without the height).
    def _hwio_tensor(self):
        return self.kernel

    def _hwio(self, kernel):
        return kernel

    def _tensor_call(self, x, training, **kwargs):
        out_hw = self._out_hw(x.shape[1], x.shape[2])
        y = Conv2DTransposeOp(x, self._hwio_tensor(), self.bias if self.use_bias else None, out_hw=out_hw,
                              strides=self.strides, padding=self.padding, dilation=self.dilation_rate,
                              precision=self._precision)
        return self._activation_tensor(y)

    def _forward(self, state, inputs, training):
        state.x = inputs
        shape = (inputs.shape[0],) + self._out_hw(inputs.shape[1], inputs.shape[2]) + (self.filters,)
        z = _ops.conv_transpose(inputs, self._hwio(self.kernel.value), self.strides, self.padding,
                                self.output_padding, dilation_rate=self.dilation_rate,
                                bias=self.bias.value if self.use_bias else None, out=state.buf("z", shape),
                                precision=self._precision)
        return self._forward_activation(state, z)

    def _backward(self, state, dy, need_dx):
        # The transposed convolution's input gradient is the convolution itself; its kernel gradient is the
        # convolution's, with input and output swapped.
        dz = self._backward_activation(state, dy)
        x, kernel = state.x, self._hwio(self.kernel.value)
        args = dict(strides=self.strides, padding=self.padding, dilation_rate=self.dilation_rate,
                    precision=self._precision)
        if state.train:
            _ops.conv2d_backward(x, dz, kernel, need_dx=False, need_dw=True, need_db=False,
                                 dw_out=self._hwio(state.grad(self.kernel)), **args)
            if self.use_bias:
                _ops.sum_rows(dz.reshape(-1, dz.shape[-1]), out=state.grad(self.bias))
        if not need_dx:
            return None
        return _ops.conv2d(dz, kernel, None, out=state.buf("dx", x.shape), **args)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "data_format": self.data_format, "dilation_rate": list(self.dilation_rate),
                **self._kernel_args_config()}
