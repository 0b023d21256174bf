"""Random image augmentation, active only in training: ``RandomFlip``, ``RandomRotation``, ``RandomTranslation``,
``RandomZoom``, ``RandomContrast``, ``RandomBrightness`` (Keras' names, arguments and transforms).

Each call in training draws one set of parameters per image in Python, from
a generator seeded by (layer seed, call number) — so a seeded layer repeats
its draws, whatever the number of threads, and continues them after a save
and load. The geometric layers turn the draws into one projective transform
per image and run the Rust transform kernel (fill modes ``reflect``,
``wrap``, ``constant``, ``nearest``; ``bilinear`` or ``nearest``
interpolation); its gradient is the kernel's transpose, so the layers can
sit anywhere in a model. Contrast and brightness run one Rust kernel per
call too, with its gradient. At inference (``training=False``) they pass their
input through.
"""

from __future__ import annotations

import math

import numpy as np

from ..utils import random as _random
from ._conv_utils import data_format_arg
from .base import Layer
from .image_preprocessing import as_float, interpolation_arg

__all__ = ["RandomFlip", "RandomRotation", "RandomTranslation", "RandomZoom", "RandomContrast", "RandomBrightness"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
_MASK64 = (1 << 64) - 1


def _range(value, name, symmetric_low=None, lo=-math.inf, hi=math.inf):
    """``(lower, upper)`` from a number ``f`` (``(-f, f)``, or ``(symmetric_low, f)``) or a pair."""
    try:
        if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
            f = float(value)
            pair = (-abs(f), abs(f)) if symmetric_low is None else (symmetric_low, f)
        else:
            a, b = value
            pair = (float(a), float(b))
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or a pair (lower, upper). Received: {name}={value!r}") from None
    if not (lo <= pair[0] <= pair[1] <= hi):
        raise ValueError(f"{name} must give lower <= upper within [{lo}, {hi}]. Received: {name}={value!r}")
    return pair


class _RandomLayer(Layer):
    """Seeded per-call generators and the training-only switch shared by the augmentation layers."""

    _ndim = 4

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an integer or None. Received: seed={seed!r}")
        self.seed = None if seed is None else int(seed)
        self._seed = (self.seed & _MASK64) if seed is not None else _random.next_seed()
        self._calls = 0
        self.data_format = data_format_arg(data_format)

    def _generator(self):
        """The generator of this call's draws: a stream of its own per (layer seed, call number)."""
        self._calls += 1
        return np.random.default_rng([self._seed, self._calls])

    def _tensor_call(self, x, training, **kwargs):
        if not training:
            return x
        return self._augment(as_float(self, x), self._generator())

    def _get_state(self):
        return {"calls": self._calls}

    def _set_state(self, state):
        self._calls = int(state.get("calls", 0))

    def get_config(self):
        return {**super().get_config(), "seed": self.seed, "data_format": self.data_format}


class _Geometric(_RandomLayer):
    """Augmentation by one projective transform per image."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if not isinstance(fill_mode, str) or fill_mode.lower() not in FILL_MODES:
            raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}. "
                             f"Received: fill_mode={fill_mode!r}")
        self.fill_mode = fill_mode.lower()
        self.interpolation = interpolation_arg(interpolation)
        self.fill_value = float(fill_value)

    def _augment(self, x, rng):
        from ..tensor import image_ops

        t = self._transforms(rng, x.shape[0], float(x.shape[1]), float(x.shape[2]))
        return image_ops.affine_transform(x, t, self.interpolation, self.fill_mode, self.fill_value)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


def _rows(*columns):
    """``(n, 8)`` transforms from 8 per-image columns (scalars broadcast)."""
    n = max(np.size(c) for c in columns)
    return np.stack([np.broadcast_to(np.asarray(c, np.float64), (n,)) for c in columns], axis=1)


class RandomFlip(_RandomLayer):
    """Flip each image with probability 1/2, as ``keras.layers.RandomFlip``.

    Args:
        mode: ``"horizontal"``, ``"vertical"`` or ``"horizontal_and_vertical"``
            (default; the two flips drawn independently).
        seed: optional integer making the draws reproducible.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import ferronet as fn
        >>> x = np.arange(3, dtype=np.float32).reshape(1, 1, 3, 1)
        >>> flip = fn.layers.RandomFlip("horizontal", seed=1)
        >>> flip(x).numpy().ravel()  # inference: unchanged
        array([0., 1., 2.], dtype=float32)
    """

    MODES = ("horizontal", "vertical", "horizontal_and_vertical")

    def __init__(self, mode="horizontal_and_vertical", seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(map(repr, self.MODES))}. Received: mode={mode!r}")
        self.mode = mode

    def _augment(self, x, rng):
        from ..tensor import image_ops

        n, h, w = x.shape[0], x.shape[1], x.shape[2]
        fx = rng.uniform(size=n) < 0.5 if self.mode != "vertical" else np.zeros(n, bool)
        fy = rng.uniform(size=n) < 0.5 if self.mode != "horizontal" else np.zeros(n, bool)
        sx, sy = np.where(fx, -1.0, 1.0), np.where(fy, -1.0, 1.0)
        t = _rows(sx, 0, np.where(fx, w - 1.0, 0.0), 0, sy, np.where(fy, h - 1.0, 0.0), 0, 0)
        return image_ops.affine_transform(x, t, "nearest", "nearest")

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomRotation(_Geometric):
    """Rotate each image by a random angle about its center, as ``keras.layers.RandomRotation``.

    Args:
        factor: fraction of a full turn: a number ``f`` draws angles in
            ``[-f·2π, f·2π]``, a pair ``(lower, upper)`` in ``[lower·2π, upper·2π]``;
            positive angles turn counter-clockwise.
        fill_mode: ``"reflect"`` (default), ``"wrap"``, ``"constant"`` or ``"nearest"``.
        interpolation: ``"bilinear"`` (default) or ``"nearest"``.
        seed: optional integer making the draws reproducible.
        fill_value: value outside the image with ``fill_mode="constant"``.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> quarter = fn.layers.RandomRotation(factor=(0.25, 0.25))  # always a quarter turn, to show the direction
        >>> print(np.round(quarter(x, training=True).numpy()[0, :, :, 0]))
        [[2. 5. 8.]
         [1. 4. 7.]
         [0. 3. 6.]]
        >>> fn.layers.RandomRotation(0.1, seed=0)(np.ones((2, 8, 8, 3)), training=True).shape
        (2, 8, 8, 3)
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.factor = factor if isinstance(factor, (int, float)) else list(factor)
        self._lower, self._upper = _range(factor, "factor")

    def _transforms(self, rng, n, h, w):
        angle = rng.uniform(self._lower, self._upper, size=n) * 2.0 * math.pi
        c, s = np.cos(angle), np.sin(angle)
        x_off = ((w - 1) - (c * (w - 1) - s * (h - 1))) / 2.0
        y_off = ((h - 1) - (s * (w - 1) + c * (h - 1))) / 2.0
        return _rows(c, -s, x_off, s, c, y_off, 0, 0)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomTranslation(_Geometric):
    """Shift each image by a random fraction of its size, as ``keras.layers.RandomTranslation``.

    Args:
        height_factor: a number ``f`` (shifts in ``[-f, f]`` of the height) or a pair
            ``(lower, upper)``; positive values move the image down.
        width_factor: the same for the width; positive values move the image right.
        fill_mode, interpolation, seed, fill_value: as :class:`RandomRotation`.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(9, dtype=np.float32).reshape(1, 3, 3, 1)
        >>> shift = fn.layers.RandomTranslation(0.0, (1 / 3, 1 / 3), fill_mode="constant")  # one column right
        >>> print(shift(x, training=True).numpy()[0, :, :, 0])
        [[0. 0. 1.]
         [0. 3. 4.]
         [0. 6. 7.]]
        >>> print(shift(x).numpy()[0, 0, :, 0])  # inference: unchanged
        [0. 1. 2.]
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = height_factor if isinstance(height_factor, (int, float)) else list(height_factor)
        self.width_factor = width_factor if isinstance(width_factor, (int, float)) else list(width_factor)
        self._h = _range(height_factor, "height_factor", lo=-1.0, hi=1.0)
        self._w = _range(width_factor, "width_factor", lo=-1.0, hi=1.0)

    def _transforms(self, rng, n, h, w):
        dy = rng.uniform(*self._h, size=n) * h
        dx = rng.uniform(*self._w, size=n) * w
        return _rows(1, 0, -dx, 0, 1, -dy, 0, 0)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class RandomZoom(_Geometric):
    """Zoom each image in or out about its center, as ``keras.layers.RandomZoom``.

    Args:
        height_factor: a number ``f`` (zoom ``1 + [-f, f]``) or a pair ``(lower, upper)`` (zoom
            ``1 + [lower, upper]``) of the height; positive values zoom out, negative values zoom in.
        width_factor: the same for the width; None (default) keeps the aspect ratio (one zoom for both).
        fill_mode, interpolation, seed, fill_value: as :class:`RandomRotation`.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> zoom_in = fn.layers.RandomZoom((-0.5, -0.5))  # always 2x, about the center
        >>> print(zoom_in(x, training=True).numpy()[0, :, :, 0])
        [[ 3.75  4.25  4.75  5.25]
         [ 5.75  6.25  6.75  7.25]
         [ 7.75  8.25  8.75  9.25]
         [ 9.75 10.25 10.75 11.25]]
        >>> fn.layers.RandomZoom(0.2, seed=0)(np.ones((2, 8, 8, 3)), training=True).shape
        (2, 8, 8, 3)
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, **kwargs)
        self.height_factor = height_factor if isinstance(height_factor, (int, float)) else list(height_factor)
        self.width_factor = width_factor if width_factor is None or isinstance(width_factor, (int, float)) \
            else list(width_factor)
        self._h = _range(height_factor, "height_factor", lo=-1.0)
        self._w = None if width_factor is None else _range(width_factor, "width_factor", lo=-1.0)

    def _transforms(self, rng, n, h, w):
        zy = 1.0 + rng.uniform(*self._h, size=n)
        zx = zy if self._w is None else 1.0 + rng.uniform(*self._w, size=n)
        return _rows(zx, 0, (w - 1) / 2.0 * (1.0 - zx), 0, zy, (h - 1) / 2.0 * (1.0 - zy), 0, 0)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor, "width_factor": self.width_factor}


class _Color(_RandomLayer):
    def __init__(self, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        try:
            lo, hi = (float(v) for v in value_range)
        except (TypeError, ValueError):
            lo = hi = math.nan
        if not lo < hi:
            raise ValueError(f"value_range must be a pair (low, high) with low < high. "
                             f"Received: value_range={value_range!r}")
        self.value_range = (lo, hi)

    def get_config(self):
        return {**super().get_config(), "value_range": list(self.value_range)}


class RandomContrast(_Color):
    """Scale each image's deviation from its per-channel mean by a random factor, as ``keras.layers.RandomContrast``.

    Args:
        factor: a number ``f`` (factors in ``[1 - f, 1 + f]``) or a pair ``(lower, upper)``
            (factors in ``[1 - lower, 1 + upper]``).
        value_range: ``(low, high)`` the outputs are clipped to, default ``(0, 255)``.
        seed: optional integer making the draws reproducible.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> img = np.array([0.0, 100.0, 200.0], np.float32).reshape(1, 1, 3, 1)  # mean 100
        >>> contrast = fn.layers.RandomContrast((0.5, 0.5), seed=0)  # factors in [0.5, 1.5]
        >>> out = contrast(img, training=True).numpy().ravel()
        >>> bool(out[1] == 100.0), bool(0.0 <= out.min() and out.max() <= 255.0)  # the mean stays, values clipped
        (True, True)
        >>> print(contrast(img).numpy().ravel())  # inference: unchanged
        [  0. 100. 200.]
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        self.factor = factor if isinstance(factor, (int, float)) else list(factor)
        lower, upper = (abs(float(factor)),) * 2 if isinstance(factor, (int, float)) else _range(factor, "factor")
        if not 0 <= lower <= 1 or upper < 0:
            raise ValueError(f"factor must be in [0, 1] (a pair: lower in [0, 1], upper >= 0). Received: factor={factor!r}")
        self._lower, self._upper = 1.0 - lower, 1.0 + upper

    def _augment(self, x, rng):
        from ..tensor import image_ops

        f = rng.uniform(self._lower, self._upper, size=x.shape[0])
        return image_ops.adjust_images(x, f, 0.0, True, self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class RandomBrightness(_Color):
    """Add a random offset to each image, as ``keras.layers.RandomBrightness``.

    Args:
        factor: a number ``f`` in ``[0, 1]`` (offsets in ``[-f, f]`` times the width of
            ``value_range``) or a pair ``(lower, upper)`` within ``[-1, 1]``.
        value_range: ``(low, high)`` of the pixel values, default ``(0, 255)``; outputs are clipped to it.
        seed: optional integer making the draws reproducible.
        **kwargs: base layer arguments (and ``data_format``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> img = np.array([0.0, 0.5, 0.9], np.float32).reshape(1, 1, 3, 1)
        >>> brighter = fn.layers.RandomBrightness((0.2, 0.2), value_range=(0, 1))  # always +0.2
        >>> print(brighter(img, training=True).numpy().ravel())  # clipped to the value range
        [0.2 0.7 1. ]
        >>> fn.layers.RandomBrightness(0.1, seed=0)(np.ones((2, 8, 8, 3)), training=True).shape
        (2, 8, 8, 3)
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(value_range, seed, **kwargs)
        self.factor = factor if isinstance(factor, (int, float)) else list(factor)
        self._lower, self._upper = _range(factor, "factor", lo=-1.0, hi=1.0)

    def _augment(self, x, rng):
        from ..tensor import image_ops

        lo, hi = self.value_range
        delta = rng.uniform(self._lower, self._upper, size=x.shape[0]) * (hi - lo)
        return image_ops.adjust_images(x, 1.0, delta, False, self.value_range)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
