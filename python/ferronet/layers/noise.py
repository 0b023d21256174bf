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
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training."""

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
    """Multiplies by Gaussian noise of mean 1 and standard deviation ``sqrt(rate / (1 - rate))`` in training."""

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
    """Passes its input through and adds ``l1 * sum|x| + l2 * sum(x^2)`` (per batch mean) to the model's losses."""

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
    """``x * scale + offset`` (e.g. ``Rescaling(1/255)`` for pixel values)."""

    supports_masking = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = float(scale), float(offset)

    def _tensor_call(self, x, training, **kwargs):
        return M.add(M.multiply(x, np.asarray(self.scale, x.dtype)), np.asarray(self.offset, x.dtype))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}
