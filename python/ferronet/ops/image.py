"""Depthwise convolution and image geometry on NHWC arrays: projective transforms and resizing.

``depthwise_conv2d`` is ``keras.ops.depthwise_conv`` (kernel ``(kh, kw,
channels, depth_multiplier)``, output channel ``c * depth_multiplier + m``).
``affine_transform`` and ``resize`` follow ``keras.ops.image``: a transform
row ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps output pixel ``(x, y)`` to the
input point ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
``k = c0 x + c1 y + 1``; ``resize`` samples at half-pixel centers, as
``tf.image.resize``. ``adjust_images`` is the per-image contrast and
brightness of the random contrast/brightness layers. Every op has its
gradient with respect to the images.
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from ..errors import ArgumentError, ShapeError
from ._util import _common, _contiguous, _floats, _int_pair

__all__ = [
    "depthwise_conv2d", "depthwise_conv", "depthwise_conv2d_backward", "affine_transform",
    "affine_transform_backward", "resize", "resize_backward", "resize_transform", "adjust_images",
    "adjust_images_backward",
]

IntPair = Union[int, Tuple[int, int]]
INTERPOLATIONS = ("nearest", "bilinear")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _choice(op, name, value, allowed):
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ArgumentError(f"{op}: {name} must be one of {', '.join(map(repr, allowed))}. Received: {name}={value!r}")
    return value.lower()


def _nhwc(op, data_format):
    if data_format not in (None, "channels_last"):
        raise ArgumentError(f"{op} works on channels_last (NHWC) images only. Received: data_format={data_format!r}")


def depthwise_conv2d(inputs, kernel, strides: IntPair = 1, padding: str = "valid", data_format=None,
                     dilation_rate: IntPair = 1, bias=None, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Depthwise 2-D convolution, as ``keras.ops.depthwise_conv`` (and ``DepthwiseConv2D``) computes it.

    Args:
        inputs: ``(batch, height, width, channels)`` images.
        kernel: ``(kh, kw, channels, depth_multiplier)``.
        strides: int or ``(sh, sw)``.
        padding: ``"valid"`` or ``"same"`` (TensorFlow's padding: the odd cell at the end).
        data_format: ``None`` or ``"channels_last"``.
        dilation_rate: int or ``(dh, dw)``.
        bias: optional ``(channels * depth_multiplier,)`` bias.
        out: optional C-contiguous output array.

    Returns:
        ``(batch, out_height, out_width, channels * depth_multiplier)``; channel
        ``c * depth_multiplier + m`` is input channel ``c`` through filter ``m``.

    Example:
        >>> x = np.ones((1, 3, 3, 2), np.float32)
        >>> depthwise_conv2d(x, np.ones((3, 3, 2, 1), np.float32), padding="same")[0, :, :, 0]
        array([[4., 6., 4.],
               [6., 9., 6.],
               [4., 6., 4.]], dtype=float32)
    """
    op = "depthwise_conv2d"
    _nhwc(op, data_format)
    pad = _choice(op, "padding", padding, ("valid", "same"))
    st, dil = _int_pair(strides, "strides", op), _int_pair(dilation_rate, "dilation_rate", op)
    arrays = {"inputs": inputs, "kernel": kernel} if bias is None else {"inputs": inputs, "kernel": kernel, "bias": bias}
    xs = [_contiguous(a) for a in _common(op, **arrays)]
    return _core.depthwise_conv2d(xs[0], xs[1], xs[2] if bias is not None else None, st, pad, dil, out)


depthwise_conv = depthwise_conv2d  # keras.ops' name


def depthwise_conv2d_backward(dy, inputs, kernel, strides: IntPair = 1, padding: str = "valid",
                              dilation_rate: IntPair = 1, need_dx: bool = True, need_dw: bool = True,
                              need_db: bool = True) -> tuple:
    """Gradients ``(d_inputs, d_kernel, d_bias)`` of :func:`depthwise_conv2d`; unrequested ones are None.

    The kernel and bias gradients sum over all output pixels in a fixed order,
    so they do not depend on the number of threads.

    Example:
        >>> x = np.ones((1, 3, 3, 2), np.float32)
        >>> w = np.ones((3, 3, 2, 1), np.float32)
        >>> dx, dw, db = depthwise_conv2d_backward(np.ones((1, 1, 1, 2), np.float32), x, w)
        >>> dx.shape, dw.shape, db
        ((1, 3, 3, 2), (3, 3, 2, 1), array([1., 1.], dtype=float32))
    """
    op = "depthwise_conv2d_backward"
    pad = _choice(op, "padding", padding, ("valid", "same"))
    st, dil = _int_pair(strides, "strides", op), _int_pair(dilation_rate, "dilation_rate", op)
    dy, x, k = (_contiguous(a) for a in _common(op, dy=dy, inputs=inputs, kernel=kernel))
    return _core.depthwise_conv2d_backward(dy, x, k, st, pad, dil, bool(need_dx), bool(need_dw), bool(need_db))


def _transforms(op, transform, batch):
    t = np.asarray(transform, dtype=np.float64)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[1] != 8 or t.shape[0] not in (1, batch):
        raise ShapeError(f"{op}: transform must have shape (8,) or (batch, 8) = ({batch}, 8). "
                         f"Received: transform.shape={np.shape(transform)}")
    return np.ascontiguousarray(np.broadcast_to(t, (batch, 8)))


def _images(op, images):
    x = _floats(images, "images", op)
    if x.ndim not in (3, 4):
        raise ShapeError(f"{op}: images must be (height, width, channels) or (batch, height, width, channels). "
                         f"Received: images.shape={x.shape}")
    return _contiguous(x[None] if x.ndim == 3 else x), x.ndim == 3


def affine_transform(images, transform, interpolation: str = "bilinear", fill_mode: str = "constant",
                     fill_value: float = 0.0, data_format=None, output_size: Optional[Sequence[int]] = None,
                     out: Optional[np.ndarray] = None) -> np.ndarray:
    """Projective transform of images, as ``keras.ops.image.affine_transform``.

    Args:
        images: ``(batch, height, width, channels)`` or one ``(height, width, channels)`` image.
        transform: ``(8,)`` or ``(batch, 8)``: row ``[a0, a1, a2, b0, b1, b2, c0, c1]`` maps output
            pixel ``(x, y)`` to input point ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``,
            ``k = c0 x + c1 y + 1``.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: how pixel indices outside the image read: ``"constant"`` (``fill_value``),
            ``"reflect"`` (``d c b a | a b c d | d c b a``), ``"wrap"`` or ``"nearest"`` (the edge).
        fill_value: value of pixels outside the image with ``fill_mode="constant"``.
        data_format: ``None`` or ``"channels_last"``.
        output_size: ``(height, width)`` of the output (default: the input's).
        out: optional C-contiguous output array.

    Returns:
        The transformed images, of the input's dtype.

    Example:
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> shift = [1, 0, 1, 0, 1, 0, 0, 0]  # output (x, y) reads input (x + 1, y)
        >>> affine_transform(x, shift, fill_mode="nearest")[0, :, :, 0]
        array([[1., 2., 2.],
               [4., 5., 5.],
               [7., 8., 8.]], dtype=float32)
    """
    op = "affine_transform"
    _nhwc(op, data_format)
    interp = _choice(op, "interpolation", interpolation, INTERPOLATIONS)
    fill = _choice(op, "fill_mode", fill_mode, FILL_MODES)
    x, single = _images(op, images)
    size = x.shape[1:3] if output_size is None else _int_pair(output_size, "output_size", op)
    t = _transforms(op, transform, x.shape[0])
    y = _core.affine_transform(x, t, tuple(size), interp, fill, float(fill_value), out)
    return y[0] if single else y


def affine_transform_backward(dy, images_shape: Sequence[int], transform, interpolation: str = "bilinear",
                              fill_mode: str = "constant") -> np.ndarray:
    """Gradient of :func:`affine_transform` with respect to the images (of shape ``images_shape``, NHWC).

    Example:
        >>> shift = [1, 0, 1, 0, 1, 0, 0, 0]  # as in affine_transform's example
        >>> affine_transform_backward(np.ones((1, 3, 3, 1), np.float32), (1, 3, 3, 1), shift)[0, :, :, 0]
        array([[0., 1., 1.],
               [0., 1., 1.],
               [0., 1., 1.]], dtype=float32)
    """
    op = "affine_transform_backward"
    interp = _choice(op, "interpolation", interpolation, INTERPOLATIONS)
    fill = _choice(op, "fill_mode", fill_mode, FILL_MODES)
    dy = _contiguous(_floats(dy, "dy", op))
    shape = tuple(int(d) for d in images_shape)
    if len(shape) != 4:
        raise ShapeError(f"{op}: images_shape must be NHWC. Received: images_shape={images_shape!r}")
    return _core.affine_transform_backward(dy, list(shape), _transforms(op, transform, shape[0]), interp, fill)


def resize_transform(in_hw: Sequence[int], out_hw: Sequence[int], interpolation: str = "bilinear") -> np.ndarray:
    """The ``(8,)`` transform sampling an image of ``in_hw`` at the half-pixel centers of ``out_hw``.

    Output pixel ``o`` reads input coordinate ``(o + 0.5) * in / out - 0.5`` (bilinear, edge
    repeated) — ``tf.image.resize``'s sampling. For ``"nearest"`` it reads pixel
    ``floor((o + 0.5) * in / out)``, which a half-way offset turns into rounding.

    Example:
        >>> resize_transform((2, 2), (4, 4))
        array([ 0.5 ,  0.  , -0.25,  0.  ,  0.5 , -0.25,  0.  ,  0.  ])
    """
    (ih, iw), (oh, ow) = in_hw, out_hw
    sy, sx = ih / oh, iw / ow
    # NOTE: nearest reads round((o + .5) s - .5), equal to floor((o + .5) s) (halves round away from zero);
    # where (o + .5) s is a whole number the sum may land a rounding error below the half, so nudge it up.
    nudge = 1e-9 if interpolation == "nearest" else 0.0
    return np.array([sx, 0.0, 0.5 * sx - 0.5 + nudge, 0.0, sy, 0.5 * sy - 0.5 + nudge, 0.0, 0.0])


def resize(images, size: Sequence[int], interpolation: str = "bilinear", data_format=None,
           out: Optional[np.ndarray] = None) -> np.ndarray:
    """Resize images to ``size = (height, width)``, as ``keras.ops.image.resize`` (half-pixel centers).

    Args:
        images: ``(batch, height, width, channels)`` or one ``(height, width, channels)`` image.
        size: ``(height, width)`` of the result.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        data_format: ``None`` or ``"channels_last"``.
        out: optional C-contiguous output array.

    Returns:
        The resized images.

    Example:
        >>> x = np.array([0., 1.], np.float32).reshape(1, 1, 2, 1)
        >>> resize(x, (1, 4))[0, 0, :, 0]
        array([0.  , 0.25, 0.75, 1.  ], dtype=float32)
    """
    op = "resize"
    interp = _choice(op, "interpolation", interpolation, INTERPOLATIONS)
    size = _int_pair(size, "size", op)
    x, single = _images(op, images)
    t = resize_transform(x.shape[1:3], size, interp)
    y = affine_transform(x, t, interp, "nearest", 0.0, data_format, size, out)
    return y[0] if single else y


def resize_backward(dy, images_shape: Sequence[int], interpolation: str = "bilinear") -> np.ndarray:
    """Gradient of :func:`resize` with respect to the images (of shape ``images_shape``, NHWC).

    Example:
        >>> resize_backward(np.ones((1, 1, 4, 1), np.float32), (1, 1, 2, 1))[0, 0, :, 0]  # each input pixel feeds 2 outputs
        array([2., 2.], dtype=float32)
    """
    interp = _choice("resize_backward", "interpolation", interpolation, INTERPOLATIONS)
    t = resize_transform(tuple(images_shape)[1:3], np.shape(dy)[1:3], interp)
    return affine_transform_backward(dy, images_shape, t, interp, "nearest")


def _adjust_args(op, x, factor, delta, value_range):
    n = x.shape[0]
    f, d = np.asarray(factor, np.float64), np.asarray(delta, np.float64)
    for name, v in (("factor", f), ("delta", d)):
        if v.shape not in ((), (1,), (n,)):
            raise ShapeError(f"{op}: {name} must be one number or one per image ({n}). Received: {name}.shape={v.shape}")
    f = np.ascontiguousarray(np.broadcast_to(f, (n,)))
    d = np.ascontiguousarray(np.broadcast_to(d, (n,)))
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        lo = hi = float("nan")
    if not lo <= hi:
        raise ArgumentError(f"{op}: value_range must be (low, high) with low <= high. Received: value_range={value_range!r}")
    return f, d, (lo, hi)


def adjust_images(images, factor, delta=0.0, center: bool = True, value_range=(0.0, 255.0)) -> np.ndarray:
    """Per-image contrast and brightness: ``clip(factor * (x - mean) + mean + delta, *value_range)``.

    Args:
        images: ``(batch, height, width, channels)``.
        factor: contrast factor, one per image (or one for all).
        delta: offset added, one per image (or one for all).
        center: ``mean`` is each image's per-channel mean (contrast); False makes it 0.
        value_range: ``(low, high)`` the result is clipped to.

    Returns:
        The adjusted images.

    Example:
        >>> x = np.array([0., 2., 4., 6.], np.float32).reshape(1, 2, 2, 1)
        >>> adjust_images(x, 0.5, 1.0)[0, :, :, 0]
        array([[2.5, 3.5],
               [4.5, 5.5]], dtype=float32)
    """
    op = "adjust_images"
    x, _ = _images(op, images)
    if x.ndim != np.ndim(images):
        raise ShapeError(f"{op}: images must be (batch, height, width, channels). Received: images.shape={np.shape(images)}")
    f, d, vr = _adjust_args(op, x, factor, delta, value_range)
    return _core.adjust_images(x, f, d, bool(center), vr)


def adjust_images_backward(dy, images, factor, delta=0.0, center: bool = True, value_range=(0.0, 255.0)) -> np.ndarray:
    """Gradient of :func:`adjust_images` at ``images`` with respect to the images (zero where clipped).

    Example:
        >>> x = np.array([0., 2., 4., 6.], np.float32).reshape(1, 2, 2, 1)
        >>> adjust_images_backward(np.ones_like(x), x, 0.5, 1.0)[0, :, :, 0]
        array([[1., 1.],
               [1., 1.]], dtype=float32)
    """
    op = "adjust_images_backward"
    x, _ = _images(op, images)
    f, d, vr = _adjust_args(op, x, factor, delta, value_range)
    return _core.adjust_images_backward(_contiguous(_floats(dy, "dy", op)), x, f, d, bool(center), vr)
