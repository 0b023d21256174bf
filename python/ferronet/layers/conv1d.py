"""One-dimensional layers on ``(batch, steps, channels)``: ``Conv1D``, ``MaxPooling1D``, ``AveragePooling1D``,
``GlobalAveragePooling1D``, ``GlobalMaxPooling1D``.

A 1-D convolution or pooling is the 2-D one on an image of height 1, so they
run the same Rust kernels (direct or GEMM convolution with the activation per
tile, pooling with its backward) as fused tape primitives. ``padding="causal"``
pads ``(kernel_size - 1) * dilation_rate`` steps on the left, as Keras does.
"""

from __future__ import annotations

import numpy as np

from .. import ops
from ..errors import ShapeError
from ..tensor import array_ops as A
from ..tensor import fused_layers, nn_ops
from ..tensor import reduce_ops as R
from ._conv_utils import data_format_arg
from .base import Layer, fmt_shape

__all__ = ["Conv1D", "MaxPooling1D", "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
           "MaxPool1D", "AvgPool1D", "GlobalAvgPool1D", "GlobalMaxPool1D"]


def _int(value, name):
    v = value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(v)


def _padding(padding, allow_causal):
    p = str(padding).lower()
    if p not in (("valid", "same", "causal") if allow_causal else ("valid", "same")):
        raise ValueError(f"padding must be 'valid', 'same'{' or causal' if allow_causal else ''}. "
                         f"Received: padding={padding!r}")
    return p


def _out_len(n, k, s, d, padding):
    if n is None:
        return None
    ke = (k - 1) * d + 1
    return -(-n // s) if padding == "same" else (n - ke) // s + 1 if padding == "valid" else (n - 1) // s + 1


class Conv1D(Layer):
    """Keras ``Conv1D``: kernel ``(kernel_size, in_channels, filters)``, padding valid/same/causal, dilation.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.ones((2, 10, 3), np.float32)  # (batch, steps, channels)
        >>> fn.layers.Conv1D(4, 3)(x).shape
        (2, 8, 4)
        >>> fn.layers.Conv1D(4, 3, padding="causal", dilation_rate=2)(x).shape  # output t sees inputs <= t only
        (2, 10, 4)
    """

    _ndim = 3

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1,
                 groups=1, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if groups != 1:
            raise ValueError(f"Conv1D supports groups=1. Received: groups={groups!r}")
        self.filters = _int(filters, "filters")
        self.kernel_size = _int(kernel_size, "kernel_size")
        self.strides = _int(strides, "strides")
        self.dilation_rate = _int(dilation_rate, "dilation_rate")
        self.padding = _padding(padding, allow_causal=True)
        if self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("strides > 1 not supported in conjunction with dilation_rate > 1. Received: "
                             f"strides={strides}, dilation_rate={dilation_rate}")
        self.data_format = data_format_arg(data_format, rank=1)
        self._init_kernel_args(activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
                               bias_regularizer)

    def build(self, input_shape):
        c = input_shape[-1]
        if c is None:
            raise ShapeError(f'Layer "{self.name}" (Conv1D) needs a known channel dimension. '
                             f"Received: input shape {fmt_shape(input_shape)}")
        self._add_kernel((self.kernel_size, c, self.filters), self.filters)

    def compute_output_shape(self, s):
        steps = _out_len(s[1], self.kernel_size, self.strides, self.dilation_rate, self.padding)
        if steps is not None and steps <= 0:
            raise ShapeError(f'Layer "{self.name}" (Conv1D) with kernel_size={self.kernel_size} needs at least '
                             f"{(self.kernel_size - 1) * self.dilation_rate + 1} steps. Received: input shape "
                             f"{fmt_shape(s)}")
        return (s[0], steps, self.filters)

    def _tensor_call(self, x, training, **kwargs):
        padding = self.padding
        if padding == "causal":
            x = A.pad(x, ((0, 0), ((self.kernel_size - 1) * self.dilation_rate, 0), (0, 0)))
            padding = "valid"
        name = None if self._act is None else self._act.name
        fused = name if name in ("relu", "sigmoid", "tanh") else None
        kernel = A.reshape(self.kernel, (1,) + tuple(self.kernel.shape))
        y = fused_layers.conv2d_act(A.expand_dims(x, 1), kernel, self.bias if self.use_bias else None,
                                    (1, self.strides), padding, (1, self.dilation_rate), activation=fused,
                                    precision=self._precision)
        y = A.squeeze(y, 1)
        return y if fused is not None or self._act is None else self._activation_tensor(y)

    def _forward(self, state, inputs, training):
        # A 1-D convolution is a 2-D one of height 1; "causal" pads the past with zeros first.
        n, steps, c = inputs.shape
        lead = (self.kernel_size - 1) * self.dilation_rate if self.padding == "causal" else 0
        x = inputs
        if lead:
            x = state.buf("padded", (n, steps + lead, c))
            x[:, :lead] = 0
            x[:, lead:] = inputs
        state.x, state.lead = x, lead
        out = self.compute_output_shape(inputs.shape)[1]
        z = ops.conv2d(x[:, None], self.kernel.value[None], self.bias.value if self.use_bias else None,
                       (1, self.strides), self._padding2d(), (1, self.dilation_rate),
                       out=state.buf("z", (n, 1, out, self.filters)), precision=self._precision)
        return self._forward_activation(state, z[:, 0])

    def _backward(self, state, dy, need_dx):
        dz = np.ascontiguousarray(self._backward_activation(state, dy))
        x, train = state.x, state.train
        ops.conv2d_backward(
            dz[:, None], x[:, None], self.kernel.value[None], (1, self.strides), self._padding2d(),
            (1, self.dilation_rate), need_dx=need_dx, need_dw=train, need_db=train and self.use_bias,
            dx_out=state.buf("dx", (x.shape[0], 1) + x.shape[1:]) if need_dx else None,
            dw_out=state.grad(self.kernel)[None] if train else None,
            db_out=state.grad(self.bias) if train and self.use_bias else None,
            precision=self._precision,
        )
        if not need_dx:
            return None
        dx = state.buf("dx", (x.shape[0], 1) + x.shape[1:])[:, 0]
        if not state.lead:
            return dx
        out = state.buf("dx_steps", (x.shape[0], x.shape[1] - state.lead, x.shape[2]))
        out[...] = dx[:, state.lead:]  # the padded past gets no gradient
        return out

    def _padding2d(self):
        return "valid" if self.padding == "causal" else self.padding

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": [self.kernel_size],
                "strides": [self.strides], "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": [self.dilation_rate], "groups": 1, **self._kernel_args_config()}


class _Pooling1D(Layer):
    _ndim = 3
    _op = None

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = _int(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _int(strides, "strides")
        self.padding = _padding(padding, allow_causal=False)
        self.data_format = data_format_arg(data_format, rank=1)

    def compute_output_shape(self, s):
        steps = _out_len(s[1], self.pool_size, self.strides, 1, self.padding)
        if steps is not None and steps <= 0:
            raise ShapeError(f'Layer "{self.name}" ({type(self).__name__}) needs at least {self.pool_size} steps. '
                             f"Received: input shape {fmt_shape(s)}")
        return (s[0], steps, s[2])

    def _tensor_call(self, x, training, **kwargs):
        y = getattr(nn_ops, self._op)(A.expand_dims(x, 1), (1, self.pool_size), (1, self.strides), self.padding)
        return A.squeeze(y, 1)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Maximum over windows of ``pool_size`` steps.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
        >>> print(fn.layers.MaxPooling1D(pool_size=2)(x).numpy().ravel())
        [1. 3. 5.]
    """

    _op = "max_pool2d"


class AveragePooling1D(_Pooling1D):
    """Mean over windows of ``pool_size`` steps ('same' windows average over the real steps only).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
        >>> print(fn.layers.AveragePooling1D(pool_size=2)(x).numpy().ravel())
        [0.5 2.5 4.5]
        >>> print(fn.layers.AveragePooling1D(4, strides=2, padding="same")(x).numpy().ravel())  # edges: 3 real steps
        [1.  2.5 4. ]
    """

    _op = "avg_pool2d"


class _GlobalPooling1D(Layer):
    """Reduces the steps axis: 1 of ``(batch, steps, channels)``, or 2 of ``(batch, channels, steps)`` with
    ``data_format="channels_first"`` (which Keras programs also use to reduce over the features of
    ``(batch, steps, features)`` data)."""

    _ndim = 3
    _reduce = None

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError("data_format must be 'channels_last' or 'channels_first'. "
                             f"Received: data_format={data_format!r}")
        self.data_format = data_format or "channels_last"
        self.keepdims = bool(keepdims)

    @property
    def _axis(self):
        return 2 if self.data_format == "channels_first" else 1

    def compute_output_shape(self, s):
        s = tuple(s)
        if self.keepdims:
            return s[:self._axis] + (1,) + s[self._axis + 1:]
        return s[:self._axis] + s[self._axis + 1:]

    def _tensor_call(self, x, training, **kwargs):
        return getattr(R, self._reduce)(x, axis=self._axis, keepdims=self.keepdims)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps: ``(batch, steps, c) -> (batch, c)``; with a mask, over the unmasked steps only.

    ``data_format="channels_first"`` takes ``(batch, c, steps)`` and reduces the last axis.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]]], np.float32)
        >>> print(fn.layers.GlobalAveragePooling1D()(x))
        [[1.3333334 2.       ]]
        >>> print(fn.layers.GlobalAveragePooling1D()(fn.layers.Masking(0.0)(x)))  # the padded step is left out
        [[2. 3.]]
    """

    _reduce = "reduce_mean"
    supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def _tensor_call(self, x, training, mask=None, **kwargs):
        if mask is None:
            return super()._tensor_call(x, training)
        from ..tensor import math_ops as M
        from ..tensor.core import unwrap

        m = np.asarray(unwrap(mask), dtype=x.dtype)
        m = m[:, None, :] if self._axis == 2 else m[:, :, None]  # the mask is (batch, steps)
        total = R.reduce_sum(M.multiply(x, m), axis=self._axis, keepdims=self.keepdims)
        count = m.sum(axis=self._axis, keepdims=self.keepdims)
        return M.divide(total, np.maximum(count, 1.0))


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the steps: ``(batch, steps, c) -> (batch, c)``.

    ``data_format="channels_first"`` takes ``(batch, c, steps)`` and reduces the last axis.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
        >>> print(fn.layers.GlobalMaxPooling1D()(x))
        [[4. 5.]]
        >>> fn.layers.GlobalMaxPooling1D(keepdims=True)(x).shape
        (1, 1, 2)
    """

    _reduce = "reduce_max"


MaxPool1D, AvgPool1D = MaxPooling1D, AveragePooling1D
GlobalAvgPool1D, GlobalMaxPool1D = GlobalAveragePooling1D, GlobalMaxPooling1D
