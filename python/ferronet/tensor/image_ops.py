"""Depthwise convolution and image transforms as tape primitives (the layers' tape path).

``depthwise_conv2d`` runs the Rust kernel forward and, outside a recorded
gradient computation, the Rust backward (only the gradients the tape needs);
its twin is the same op written in elementary primitives (pad, slices,
products, sums), so higher derivatives work. ``affine_transform`` is linear
in the images: its VJP is its transpose (the Rust scatter), whose own VJP is
the transform again, so the pair is differentiable to any order.
``adjust_images`` (contrast and brightness) has a Rust forward and backward
and, as twin, its formula in elementary primitives.
"""

from __future__ import annotations

import numpy as np

from .. import ops as _ops
from . import array_ops as A
from . import math_ops as M
from . import nn_ops
from . import reduce_ops as R
from .core import Primitive, as_tensor

__all__ = ["depthwise_conv2d", "affine_transform", "resize", "adjust_images"]


def _contig(a, dtype=None):
    return np.ascontiguousarray(a, dtype=dtype)


# ------------------------------------------------------------ depthwise
def _dw_fwd(x, kernel, bias, strides, padding, dilation):
    return _ops.depthwise_conv2d(_contig(x, dtype=kernel.dtype), kernel, strides, padding, None, dilation, bias=bias)


def _dw_fast(g, y, x, kernel, bias, strides, padding, dilation, needs=None):
    need_x, need_w, need_b = (True, True, True) if needs is None else needs
    dx, dk, db = _ops.depthwise_conv2d_backward(_contig(g), _contig(x, dtype=kernel.dtype), kernel, strides, padding,
                                                dilation, need_dx=need_x, need_dw=need_w,
                                                need_db=need_b and bias is not None)
    return dx, dk, db


_dw_fast.takes_needs = True


def _dw_formula(x, kernel, bias, strides, padding, dilation):
    kh, kw, c, dm = kernel.shape
    p = nn_ops.patches(x, (kh, kw), strides, dilation, padding)  # (n, oh, ow, kh*kw, c)
    y = R.reduce_sum(M.multiply(A.expand_dims(p, -1), A.reshape(kernel, (kh * kw, c, dm))), axis=3)
    y = A.reshape(y, tuple(y.shape[:3]) + (c * dm,))
    return y if bias is None else M.add(y, bias)


_depthwise = Primitive("depthwise_conv2d", _dw_fwd, nn_ops._twin(_dw_formula), _dw_fast)


def depthwise_conv2d(x, kernel, bias=None, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """Keras ``DepthwiseConv2D`` math on NHWC ``x`` and a ``(kh, kw, channels, depth_multiplier)`` kernel.

    Each input channel is convolved with its own filters; the output has
    ``channels * depth_multiplier`` channels.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.image_ops import depthwise_conv2d
        >>> x = fn.constant(np.arange(18.0, dtype="float32").reshape(1, 3, 3, 2))
        >>> y = depthwise_conv2d(x, fn.ones((2, 2, 2, 1)))  # 2x2 window sums, channel by channel
        >>> y.shape, y.numpy()[0, :, :, 0]
        ((1, 2, 2, 2), array([[16., 24.],
               [40., 48.]], dtype=float32))
    """
    return _depthwise(as_tensor(x), kernel, bias, strides=tuple(strides), padding=str(padding).lower(),
                      dilation=tuple(dilation))


# --------------------------------------------------------------- affine
def _affine_fwd(x, transform, out_hw, interpolation, fill_mode, fill_value):
    return _ops.affine_transform(_contig(x), transform, interpolation, fill_mode, fill_value, output_size=out_hw)


def _affine_t_fwd(g, transform, x_shape, interpolation, fill_mode):
    return _ops.affine_transform_backward(_contig(g), x_shape, transform, interpolation, fill_mode)


def _affine_vjp(g, y, x, transform, out_hw, interpolation, fill_mode, fill_value):
    return (_affine_t(g, transform=transform, x_shape=tuple(x.shape), interpolation=interpolation,
                      fill_mode=fill_mode),)


def _affine_fast(g, y, x, transform, out_hw, interpolation, fill_mode, fill_value):
    return (_affine_t_fwd(g, transform, np.shape(x), interpolation, fill_mode),)


def _affine_t_vjp(h, d, g, transform, x_shape, interpolation, fill_mode):
    return (_affine(h, transform=transform, out_hw=tuple(g.shape[1:3]), interpolation=interpolation,
                    fill_mode=fill_mode, fill_value=0.0),)


def _affine_t_fast(h, d, g, transform, x_shape, interpolation, fill_mode):
    return (_affine_fwd(h, transform, tuple(np.shape(g)[1:3]), interpolation, fill_mode, 0.0),)


_affine = Primitive("affine_transform", _affine_fwd, _affine_vjp, _affine_fast)
_affine_t = Primitive("affine_transform_transpose", _affine_t_fwd, _affine_t_vjp, _affine_t_fast)


def affine_transform(x, transform, interpolation="bilinear", fill_mode="constant", fill_value=0.0, output_size=None):
    """``keras.ops.image.affine_transform`` on an NHWC tensor; ``transform`` is ``(8,)`` or ``(batch, 8)``.

    ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps each output pixel ``(x, y)`` to
    the input point ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)`` with
    ``k = c0 x + c1 y + 1``; points outside the image take ``fill_mode``.
    Differentiable with respect to ``x``.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.image_ops import affine_transform
        >>> row = fn.constant(np.arange(4.0, dtype="float32").reshape(1, 1, 4, 1))
        >>> affine_transform(row, [1, 0, 1, 0, 1, 0, 0, 0]).numpy()[0, 0, :, 0]  # shift left by one pixel
        array([1., 2., 3., 0.], dtype=float32)
    """
    x = as_tensor(x)
    t = np.ascontiguousarray(np.broadcast_to(np.asarray(transform, np.float64), (x.shape[0], 8)))
    out_hw = tuple(x.shape[1:3]) if output_size is None else tuple(int(s) for s in output_size)
    return _affine(x, transform=t, out_hw=out_hw, interpolation=interpolation, fill_mode=fill_mode,
                   fill_value=float(fill_value))


def resize(x, size, interpolation="bilinear"):
    """``keras.ops.image.resize`` of an NHWC tensor to ``size = (height, width)`` (half-pixel centers).

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.image_ops import resize
        >>> x = fn.constant([[[[0.0], [1.0]], [[2.0], [3.0]]]])  # one 2x2 image
        >>> resize(x, (4, 4)).numpy()[0, :, :, 0]
        array([[0.  , 0.25, 0.75, 1.  ],
               [0.5 , 0.75, 1.25, 1.5 ],
               [1.5 , 1.75, 2.25, 2.5 ],
               [2.  , 2.25, 2.75, 3.  ]], dtype=float32)
    """
    x = as_tensor(x)
    size = tuple(int(s) for s in size)
    if size == tuple(x.shape[1:3]):
        return x
    t = _ops.resize_transform(x.shape[1:3], size, interpolation)
    return affine_transform(x, t, interpolation, "nearest", 0.0, size)


# ------------------------------------------------------ contrast/brightness
def _adjust_fwd(x, factor, delta, center, value_range):
    return _ops.adjust_images(_contig(x), factor, delta, center, value_range)


def _adjust_fast(g, y, x, factor, delta, center, value_range):
    return (_ops.adjust_images_backward(_contig(g), _contig(x), factor, delta, center, value_range),)


def _adjust_formula(x, factor, delta, center, value_range):
    dt = x.dtype
    f = np.asarray(factor, dt).reshape(-1, 1, 1, 1)
    d = np.asarray(delta, dt).reshape(-1, 1, 1, 1)
    y = M.multiply(x, f)
    if center:
        y = M.add(y, M.multiply(R.reduce_mean(x, axis=(1, 2), keepdims=True), 1 - f))
    return M.clip_by_value(M.add(y, d), *(np.asarray(v, dt) for v in value_range))


_adjust = Primitive("adjust_images", _adjust_fwd, nn_ops._twin(_adjust_formula), _adjust_fast)


def adjust_images(x, factor, delta, center=True, value_range=(0.0, 255.0)):
    """Per-image ``clip(factor * (x - mean) + mean + delta, *value_range)`` of an NHWC tensor.

    The mean is per image and channel when ``center``, else 0; ``factor``
    (contrast) and ``delta`` (brightness) have one value per image.

    Example:
        >>> import ferronet as fn
        >>> from ferronet.tensor.image_ops import adjust_images
        >>> x = fn.constant([10.0, 20.0, 30.0, 40.0], shape=(1, 2, 2, 1))  # mean 25
        >>> adjust_images(x, factor=2.0, delta=5.0).numpy()[0, :, :, 0]
        array([[ 0., 20.],
               [40., 60.]], dtype=float32)
    """
    x = as_tensor(x)
    n = x.shape[0]
    f = np.ascontiguousarray(np.broadcast_to(np.asarray(factor, np.float64), (n,)))
    d = np.ascontiguousarray(np.broadcast_to(np.asarray(delta, np.float64), (n,)))
    return _adjust(x, factor=f, delta=d, center=bool(center), value_range=tuple(float(v) for v in value_range))
