"""Regularization by noise, active only in training: ``GaussianNoise``, ``GaussianDropout``, ``ActivityRegularization``,
and ``Rescaling`` (a fixed affine map, Keras' preprocessing layer)."""

from __future__ import annotations

import numpy as np

from ..tensor import math_ops as M
from ..tensor import reduce_ops as R
from ..utils import random as _random
from .base import Layer

__all__ = ["GaussianNoise", "GaussianDropout", "ActivityRegularization", "Rescaling"]


class _Noise(Layer):
    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = np.random.default_rng(seed if seed is not None else _random.next_seed())


class GaussianNoise(_Noise):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> noise = fn.layers.GaussianNoise(0.1, seed=0)
        >>> x = np.zeros((100, 10), np.float32)
        >>> float(np.abs(noise(x).numpy()).max())  # inference: unchanged
        0.0
        >>> print(round(float(noise(x, training=True).numpy().std()), 1))
        0.1
    """

    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.stddev = float(stddev)
        if self.stddev < 0:
            raise ValueError(f"stddev must be >= 0. Received: stddev={stddev!r}")

    def _tensor_call(self, x, training, **kwargs):
        if not training or self.stddev == 0:
            return x
        return M.add(x, (self._rng.standard_normal(x.shape) * self.stddev).astype(x.dtype))

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_Noise):
    """Multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in training.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> drop = fn.layers.GaussianDropout(0.2, seed=0)  # noise std sqrt(0.2 / 0.8) = 0.5
        >>> y = drop(np.ones((100, 10), np.float32), training=True).numpy()
        >>> print(round(float(y.mean()), 1), round(float(y.std()), 1))
        1.0 0.5
    """

    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = float(rate)
        if not 0 <= self.rate < 1:
            raise ValueError(f"rate must be in [0, 1). Received: rate={rate!r}")

    def _tensor_call(self, x, training, **kwargs):
        if not training or self.rate == 0:
            return x
        std = np.sqrt(self.rate / (1.0 - self.rate))
        return M.multiply(x, (1.0 + self._rng.standard_normal(x.shape) * std).astype(x.dtype))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """Passes its input through and adds ``l1 * sum|x| + l2 * sum(x^2)`` (per batch mean) to the model's losses.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> reg = fn.layers.ActivityRegularization(l1=0.01)
        >>> print(reg(np.array([[1.0, -2.0], [3.0, 0.0]], np.float32)))  # the input, unchanged
        [[ 1. -2.]
         [ 3.  0.]]
        >>> [round(float(loss), 4) for loss in reg.losses]  # 0.01 * (1 + 2 + 3) / batch of 2
        [0.03]
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)

    def _tensor_call(self, x, training, **kwargs):
        n = max(1, x.shape[0])
        if self.l1:
            self.add_loss(M.multiply(R.reduce_sum(M.abs(x)), self.l1 / n))
        if self.l2:
            self.add_loss(M.multiply(R.reduce_sum(M.square(x)), self.l2 / n))
        return x

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


class Rescaling(Layer):
    """``x * scale + offset`` (e.g. ``Rescaling(1/255)`` for pixel values).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> pixels = np.array([[0, 51, 255]], np.uint8)
        >>> print(np.round(fn.layers.Rescaling(1 / 255)(pixels), 3))
        [[0.  0.2 1. ]]
        >>> print(fn.layers.Rescaling(1 / 127.5, offset=-1.0)(np.array([[0.0, 127.5, 255.0]])))  # to [-1, 1]
        [[-1.  0.  1.]]
    """

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def _tensor_call(self, x, training, **kwargs):
        return M.add(M.multiply(x, np.asarray(self.scale, x.dtype)), np.asarray(self.offset, x.dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
