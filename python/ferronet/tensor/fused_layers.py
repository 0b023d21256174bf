"""Dense and convolution layers with their activation as single primitives (the layers' tape path).

``dense_act`` and ``conv2d_act`` compute ``act(x @ W + b)`` and ``act(conv(x, W) + b)``
with the activation applied inside the Rust kernel where it can be
(convolutions: relu, sigmoid, tanh per output tile), so a layer called on the
tape costs what it costs in ``fit``'s chain step. Their fast VJPs take the
activation's gradient from the output and compute only the gradients the tape
needs (no input gradient for a first layer, no weight gradients for a frozen
one). Their twins are the unfused ops, so higher derivatives are unchanged.

``precision="bfloat16"`` (a ``mixed_bfloat16`` layer) runs the forward and
both gradient products with bfloat16 operands and float32 sums; the twins,
which only run when a tape records the gradient computation itself (higher
derivatives), multiply in float32.
"""

from __future__ import annotations

import numpy as np

from .. import ops as _ops
from . import nn_ops
from .core import Primitive, as_tensor

__all__ = ["dense_act", "conv2d_act"]

# Activations whose gradient the output alone determines (ReLU: y > 0 exactly where z > 0).
_FROM_OUTPUT = {"relu": _ops.relu_backward, "sigmoid": _ops.sigmoid_backward, "tanh": _ops.tanh_backward}
_CONV_FUSED = ("relu", "sigmoid", "tanh")
_ACT_FWD = {"relu": _ops.relu, "sigmoid": _ops.sigmoid, "tanh": _ops.tanh}


def _contig(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


def _needs(needs, n):
    return (True,) * n if needs is None else needs


# ------------------------------------------------------------------- dense
def _dense_fwd(x, kernel, bias, act, precision="float32"):
    x = _contig(x, dtype=kernel.dtype)
    x2 = x.reshape(-1, x.shape[-1])
    y = _ops.linear(x2, kernel, bias, precision=precision)
    if act is not None:
        y = _ACT_FWD[act](y)
    return y.reshape(x.shape[:-1] + (kernel.shape[1],))


def _dense_fast(g, y, x, kernel, bias, act, precision="float32", needs=None):
    need_x, need_w, need_b = _needs(needs, 3)
    g2 = _contig(g).reshape(-1, kernel.shape[1])
    if act is not None:
        g2 = _FROM_OUTPUT[act](g2, _contig(y).reshape(g2.shape))
    x2 = _contig(x, dtype=kernel.dtype).reshape(-1, kernel.shape[0])
    dx, dw, db = _ops.linear_backward(g2, x2, kernel, need_dx=need_x, need_dw=need_w,
                                      need_db=need_b and bias is not None, precision=precision)
    return (None if dx is None else dx.reshape(np.shape(x))), dw, db


_dense_fast.takes_needs = True


def _dense_formula(x, kernel, bias, act, precision="float32"):
    z = nn_ops.dense(x, kernel, bias)
    return z if act is None else nn_ops.activation(act)(z)


_dense = Primitive("dense_act", _dense_fwd, nn_ops._twin(_dense_formula), _dense_fast)


def dense_act(x, kernel, bias=None, activation=None, precision="float32"):
    """``activation(x @ kernel + bias)`` on the last axis; ``activation`` one of None, relu, sigmoid, tanh;
    ``precision`` that of ``ops.linear``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.fused_layers import dense_act
        >>> dense_act(fn.constant([[1.0, -2.0]]), fn.ones((2, 2)), fn.constant([0.0, 3.0]), activation="relu").numpy()
        array([[0., 2.]], dtype=float32)
    """
    if activation not in (None, *_FROM_OUTPUT):
        raise ValueError(f"dense_act fuses relu, sigmoid or tanh. Received: activation={activation!r}")
    return _dense(as_tensor(x), kernel, bias, act=activation, precision=precision)


# ------------------------------------------------------------- convolution
def _conv_fwd(x, kernel, bias, strides, padding, dilation, act, precision="float32"):
    return _ops.conv2d(_contig(x, dtype=kernel.dtype), kernel, bias, strides=strides, padding=padding,
                       dilation_rate=dilation, activation=act, precision=precision)


def _conv_fast(g, y, x, kernel, bias, strides, padding, dilation, act, precision="float32", needs=None):
    need_x, need_w, need_b = _needs(needs, 3)
    g = _contig(g)
    if act is not None:
        g = _FROM_OUTPUT[act](g, _contig(y))
    return _ops.conv2d_backward(g, _contig(x, dtype=kernel.dtype), kernel, strides=strides, padding=padding,
                                dilation_rate=dilation, need_dx=need_x, need_dw=need_w,
                                need_db=need_b and bias is not None, precision=precision)


_conv_fast.takes_needs = True


def _conv_formula(x, kernel, bias, strides, padding, dilation, act, precision="float32"):
    z = nn_ops.conv2d(x, kernel, bias, strides, padding, dilation)
    return z if act is None else nn_ops.activation(act)(z)


_conv = Primitive("conv2d_act", _conv_fwd, nn_ops._twin(_conv_formula), _conv_fast)


def conv2d_act(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1), activation=None,
               precision="float32"):
    """Keras ``Conv2D`` with ``activation`` (None, relu, sigmoid or tanh) applied per output tile in the kernel;
    ``precision`` that of ``ops.conv2d``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.fused_layers import conv2d_act
        >>> x = fn.reshape(fn.range(16.0), (1, 4, 4, 1))
        >>> y = conv2d_act(x, -fn.ones((2, 2, 1, 1)), fn.constant([40.0]), activation="relu")
        >>> y.numpy()[0, :, :, 0]
        array([[30., 26., 22.],
               [14., 10.,  6.],
               [ 0.,  0.,  0.]], dtype=float32)
    """
    if activation not in (None, *_CONV_FUSED):
        raise ValueError(f"conv2d_act fuses relu, sigmoid or tanh. Received: activation={activation!r}")
    return _conv(as_tensor(x), kernel, bias, strides=tuple(strides), padding=str(padding).lower(),
                 dilation=tuple(dilation), act=activation, precision=precision)
