"""Image resizing layers: ``Resizing`` and ``CenterCrop`` (NHWC, Keras' sampling: half-pixel centers)."""

from __future__ import annotations

import numpy as np

from ..tensor import math_ops as M
from ._conv_utils import data_format_arg
from .base import Layer

__all__ = ["Resizing", "CenterCrop", "crop_to_aspect_ratio"]

INTERPOLATIONS = ("bilinear", "nearest")


def _size(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{name} must be a positive integer. Received: {name}={value!r}")
    return int(value)


def interpolation_arg(value):
    if not isinstance(value, str) or value.lower() not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be 'bilinear' or 'nearest'. Received: interpolation={value!r}")
    return value.lower()


def crop_to_aspect_ratio(x, height, width):
    """The centered crop of NHWC ``x`` with the aspect ratio of ``height x width`` (Keras' integer arithmetic).

    Example:
        >>> import numpy as np
        >>> from ferronet.layers.image_preprocessing import crop_to_aspect_ratio
        >>> x = np.arange(24, dtype=np.float32).reshape(1, 4, 6, 1)
        >>> square = crop_to_aspect_ratio(x, 1, 1)  # the central 4x4 of the 4x6 image
        >>> square.shape, square[0, 0, :, 0]
        ((1, 4, 4, 1), array([1., 2., 3., 4.], dtype=float32))
    """
    h, w = x.shape[1], x.shape[2]
    ch = max(min(h, int(float(w * height) / width)), 1)
    cw = max(min(w, int(float(h * width) / height)), 1)
    top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
    return x[:, top:top + ch, left:left + cw, :]


def as_float(layer, x):
    """``x`` in the layer's float dtype (image layers take integer pixels too)."""
    return x if x.dtype == layer._np_dtype else M.cast(x, layer.dtype)


class Resizing(Layer):
    """Resize images to ``(height, width)``, as ``keras.layers.Resizing``.

    Args:
        height, width: positive ints, the output size.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``; samples at
            half-pixel centers, as ``tf.image.resize``.
        crop_to_aspect_ratio: if True, first take the largest centered crop
            with the target aspect ratio, so the image is not distorted.
        pad_to_aspect_ratio, antialias: must be False.
        data_format: ``None`` or ``"channels_last"``.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, height, width, channels)`` with the layer's height and width.

    Example:
        >>> import ferronet as fn
        >>> fn.layers.Resizing(4, 6)(np.zeros((2, 8, 8, 3), np.float32)).shape
        (2, 4, 6, 3)
    """

    _ndim = 4

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _size(height, "height"), _size(width, "width")
        self.interpolation = interpolation_arg(interpolation)
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        for name, value in (("pad_to_aspect_ratio", pad_to_aspect_ratio), ("antialias", antialias)):
            if value:
                raise ValueError(f"Resizing supports {name}=False only. Received: {name}={value!r}")
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, s):
        return (s[0], self.height, self.width, s[3])

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import image_ops

        x = as_float(self, x)
        if self.crop_to_aspect_ratio:
            x = crop_to_aspect_ratio(x, self.height, self.width)
        return image_ops.resize(x, (self.height, self.width), self.interpolation)

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation, "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": False, "antialias": False, "data_format": self.data_format}


class CenterCrop(Layer):
    """The central ``height x width`` window of each image, as ``keras.layers.CenterCrop``.

    An image smaller than the target along either axis is instead cropped to
    the target's aspect ratio and resized (bilinear) to the target, as Keras does.

    Args:
        height, width: positive ints, the output size.
        data_format: ``None`` or ``"channels_last"``.
        **kwargs: base layer arguments.

    Example:
        >>> import ferronet as fn
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> fn.layers.CenterCrop(2, 2)(x).numpy()[0, :, :, 0]
        array([[ 5.,  6.],
               [ 9., 10.]], dtype=float32)
    """

    _ndim = 4

    def __init__(self, height, width, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.height, self.width = _size(height, "height"), _size(width, "width")
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, s):
        return (s[0], self.height, self.width, s[3])

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import image_ops

        x = as_float(self, x)
        dh, dw = x.shape[1] - self.height, x.shape[2] - self.width
        if dh >= 0 and dw >= 0:
            top, left = dh // 2, dw // 2
            return x[:, top:top + self.height, left:left + self.width, :]
        return image_ops.resize(crop_to_aspect_ratio(x, self.height, self.width), (self.height, self.width))

    def get_config(self):
        return {**super().get_config(), "height": self.height, "width": self.width, "data_format": self.data_format}
