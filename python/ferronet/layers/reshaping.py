"""Reshaping layers: ``UpSampling1D/2D``, ``ZeroPadding1D/2D``, ``Cropping1D/2D``, ``Permute``, ``RepeatVector``.

Written with tensor ops (Keras' layouts: NWC and NHWC), so the tape gives
their backward: a model using them trains through the tape.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor import array_ops as A
from ._conv_utils import data_format_arg, int_pair
from .base import Layer, fmt_shape

__all__ = ["UpSampling1D", "UpSampling2D", "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Permute",
           "RepeatVector"]


def _pairs(value, name):
    """``((top, bottom), (left, right))`` from an int, a pair of ints or a pair of pairs (Keras' forms)."""
    if isinstance(value, (int, np.integer)):
        v = int(value)
        out = ((v, v), (v, v))
    elif len(value) == 2 and all(isinstance(v, (int, np.integer)) for v in value):
        out = ((int(value[0]),) * 2, (int(value[1]),) * 2)
    else:
        out = tuple((int(a), int(b)) for a, b in value)
    if len(out) != 2 or any(v < 0 for pair in out for v in pair):
        raise ValueError(f"{name} must be non-negative ints: an int, (rows, cols) or ((top, bottom), (left, right)). "
                         f"Received: {name}={value!r}")
    return out


def _pair1(value, name):
    out = (int(value),) * 2 if isinstance(value, (int, np.integer)) else tuple(int(v) for v in value)
    if len(out) != 2 or min(out) < 0:
        raise ValueError(f"{name} must be a non-negative int or a pair. Received: {name}={value!r}")
    return out


class UpSampling2D(Layer):
    """Enlarge images ``size`` times: ``"nearest"`` (Keras' default) repeats rows and columns, ``"bilinear"``
    interpolates at half-pixel centers (``keras.ops.image.resize``, edge pixels repeated).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
        >>> print(fn.layers.UpSampling2D(2)(x).numpy()[0, :, :, 0])
        [[1. 1. 2. 2.]
         [1. 1. 2. 2.]
         [3. 3. 4. 4.]
         [3. 3. 4. 4.]]
        >>> print(fn.layers.UpSampling2D(2, interpolation="bilinear")(x).numpy()[0, 0, :, 0])
        [1.   1.25 1.75 2.  ]
    """

    _ndim = 4

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.size = int_pair(size, "size")
        self.data_format = data_format_arg(data_format)
        if interpolation not in ("nearest", "bilinear"):
            raise ValueError("UpSampling2D supports interpolation='nearest' or 'bilinear'. "
                             f"Received: interpolation={interpolation!r}")
        self.interpolation = interpolation

    def compute_output_shape(self, s):
        return (s[0], None if s[1] is None else s[1] * self.size[0], None if s[2] is None else s[2] * self.size[1],
                s[3])

    def _tensor_call(self, x, training, **kwargs):
        n, h, w, c = x.shape
        sh, sw = self.size
        if self.interpolation == "bilinear":
            from ..tensor import image_ops

            return image_ops.resize(x, (h * sh, w * sw), "bilinear")
        y = A.broadcast_to(A.reshape(x, (n, h, 1, w, 1, c)), (n, h, sh, w, sw, c))
        return A.reshape(y, (n, h * sh, w * sw, c))

    def get_config(self):
        return {**super().get_config(), "size": list(self.size), "data_format": self.data_format,
                "interpolation": self.interpolation}


class UpSampling1D(Layer):
    """Repeat each step ``size`` times: ``(batch, steps, features)`` -> ``(batch, steps * size, features)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[[1.0], [2.0]]], np.float32)
        >>> print(fn.layers.UpSampling1D(2)(x).numpy().ravel())
        [1. 1. 2. 2.]
    """

    _ndim = 3

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        self.size = int(size)
        if self.size < 1:
            raise ValueError(f"size must be a positive integer. Received: size={size!r}")

    def compute_output_shape(self, s):
        return (s[0], None if s[1] is None else s[1] * self.size, s[2])

    def _tensor_call(self, x, training, **kwargs):
        n, t, c = x.shape
        return A.reshape(A.broadcast_to(A.reshape(x, (n, t, 1, c)), (n, t, self.size, c)), (n, t * self.size, c))

    def get_config(self):
        return {**super().get_config(), "size": self.size}


class ZeroPadding2D(Layer):
    """Zeros around images: ``padding`` an int, ``(rows, cols)`` or ``((top, bottom), (left, right))``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32).reshape(1, 2, 2, 1)
        >>> print(fn.layers.ZeroPadding2D(1)(x).numpy()[0, :, :, 0])
        [[0. 0. 0. 0.]
         [0. 1. 2. 0.]
         [0. 3. 4. 0.]
         [0. 0. 0. 0.]]
        >>> fn.layers.ZeroPadding2D(((1, 0), (0, 2)))(np.ones((2, 4, 4, 3))).shape  # ((top, bottom), (left, right))
        (2, 5, 6, 3)
    """

    _ndim = 4

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pairs(padding, "padding")
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, s):
        (t, b), (l, r) = self.padding
        return (s[0], None if s[1] is None else s[1] + t + b, None if s[2] is None else s[2] + l + r, s[3])

    def _tensor_call(self, x, training, **kwargs):
        return A.pad(x, ((0, 0),) + self.padding + ((0, 0),))

    def get_config(self):
        return {**super().get_config(), "padding": [list(p) for p in self.padding], "data_format": self.data_format}


class ZeroPadding1D(Layer):
    """Zeros before and after the steps: ``padding`` an int or ``(before, after)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.array([[[1.0], [2.0]]], np.float32)
        >>> print(fn.layers.ZeroPadding1D(1)(x).numpy().ravel(), fn.layers.ZeroPadding1D((0, 2))(x).numpy().ravel())
        [0. 1. 2. 0.] [1. 2. 0. 0.]
    """

    _ndim = 3

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair1(padding, "padding")

    def compute_output_shape(self, s):
        return (s[0], None if s[1] is None else s[1] + sum(self.padding), s[2])

    def _tensor_call(self, x, training, **kwargs):
        return A.pad(x, ((0, 0), self.padding, (0, 0)))

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding)}


class Cropping2D(Layer):
    """Remove rows and columns at the borders: ``cropping`` as for :class:`ZeroPadding2D`.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> print(fn.layers.Cropping2D(1)(x).numpy()[0, :, :, 0])
        [[ 5.  6.]
         [ 9. 10.]]
        >>> fn.layers.Cropping2D(((1, 0), (0, 2)))(np.ones((2, 4, 4, 3))).shape
        (2, 3, 2, 3)
    """

    _ndim = 4

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pairs(cropping, "cropping")
        self.data_format = data_format_arg(data_format)

    def compute_output_shape(self, s):
        (t, b), (l, r) = self.cropping
        h = None if s[1] is None else s[1] - t - b
        w = None if s[2] is None else s[2] - l - r
        if (h is not None and h <= 0) or (w is not None and w <= 0):
            raise ShapeError(f'Layer "{self.name}" (Cropping2D) with cropping={self.cropping} leaves nothing of '
                             f"images of shape {fmt_shape(s)}. Received: input shape {fmt_shape(s)}")
        return (s[0], h, w, s[3])

    def _tensor_call(self, x, training, **kwargs):
        (t, b), (l, r) = self.cropping
        return x[:, t:x.shape[1] - b, l:x.shape[2] - r, :]

    def get_config(self):
        return {**super().get_config(), "cropping": [list(p) for p in self.cropping], "data_format": self.data_format}


class Cropping1D(Layer):
    """Remove steps at the start and end: ``cropping`` an int or ``(start, end)``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 4, 1)
        >>> print(fn.layers.Cropping1D((1, 0))(x).numpy().ravel())
        [1. 2. 3.]
    """

    _ndim = 3

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair1(cropping, "cropping")

    def compute_output_shape(self, s):
        steps = None if s[1] is None else s[1] - sum(self.cropping)
        if steps is not None and steps <= 0:
            raise ShapeError(f'Layer "{self.name}" (Cropping1D) with cropping={self.cropping} leaves no steps. '
                             f"Received: input shape {fmt_shape(s)}")
        return (s[0], steps, s[2])

    def _tensor_call(self, x, training, **kwargs):
        a, b = self.cropping
        return x[:, a:x.shape[1] - b, :]

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class Permute(Layer):
    """Reorder the axes after the batch axis: ``dims`` is a permutation of ``1..ndim-1`` (Keras counts from 1).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 3, 2)
        >>> print(fn.layers.Permute((2, 1))(x))  # (batch, 3, 2) -> (batch, 2, 3)
        [[[0. 2. 4.]
          [1. 3. 5.]]]
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"dims must be a permutation of 1..{len(self.dims)}. Received: dims={dims!r}")

    def compute_output_shape(self, s):
        if len(s) != len(self.dims) + 1:
            raise ShapeError(f'Layer "{self.name}" (Permute) with dims={self.dims} needs inputs of rank '
                             f"{len(self.dims) + 1}. Received: input shape {fmt_shape(s)}")
        return (s[0],) + tuple(s[d] for d in self.dims)

    def _tensor_call(self, x, training, **kwargs):
        return A.transpose(x, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """``(batch, features)`` -> ``(batch, n, features)``: the vector repeated ``n`` times.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> print(fn.layers.RepeatVector(3)(np.array([[1.0, 2.0]], np.float32)))
        [[[1. 2.]
          [1. 2.]
          [1. 2.]]]
    """

    _ndim = 2

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = int(n)
        if self.n < 1:
            raise ValueError(f"n must be a positive integer. Received: n={n!r}")

    def compute_output_shape(self, s):
        return (s[0], self.n, s[1])

    def _tensor_call(self, x, training, **kwargs):
        return A.broadcast_to(A.expand_dims(x, 1), (x.shape[0], self.n, x.shape[1]))

    def get_config(self):
        return {**super().get_config(), "n": self.n}
