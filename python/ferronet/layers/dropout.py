"""``Dropout``: zero a fraction of the inputs while training, scaling the rest by ``1 / (1 - rate)``."""

from __future__ import annotations

import numpy as np

from .. import _core
from ..utils import random as _random
from ..errors import ShapeError
from .base import Layer

__all__ = ["Dropout"]

_MASK64 = (1 << 63) - 1


class Dropout(Layer):
    """Inverted dropout: active only when ``training`` (in ``fit``), the identity in predict/evaluate.

    Each training call draws a new mask from the counter-based generator of
    the core, seeded by (layer seed, call number), so masks are reproducible
    after :func:`ferronet.utils.set_random_seed` whatever the thread count.

    Args:
        rate: fraction of inputs to drop, ``0 <= rate < 1``.
        noise_shape: optional shape of the mask, broadcast over the input
            (Keras): an entry per input axis, each 1 (the decision is shared
            along that axis), the axis' size, or ``None`` (the input's size
            at call time). ``(None, 1, 1, None)`` on NHWC images drops whole
            feature maps.
        seed: optional integer; default: drawn from the global generator.
        **kwargs: base layer arguments.

    Input shape:
        Any. Output shape: same as the input.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> drop = fn.layers.Dropout(0.5, seed=0)
        >>> x = np.ones((2, 4), np.float32)
        >>> print(drop(x))  # inference: the identity
        [[1. 1. 1. 1.]
         [1. 1. 1. 1.]]
        >>> y = drop(x, training=True).numpy()  # training: kept entries scaled by 1 / (1 - rate)
        >>> sorted(set(y.ravel().tolist()))
        [0.0, 2.0]
    """

    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        try:
            rate = float(rate)
        except (TypeError, ValueError):
            raise ValueError(f"rate must be a float in [0, 1). Received: rate={rate!r}") from None
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be a float in [0, 1). Received: rate={rate!r}")
        if noise_shape is not None:
            try:
                noise_shape = tuple(None if d is None else int(d) for d in noise_shape)
            except (TypeError, ValueError):
                raise ValueError(
                    f"noise_shape must be a tuple of ints or None. Received: noise_shape={noise_shape!r}"
                ) from None
        self.rate = rate
        self.noise_shape = noise_shape
        self.seed = seed
        self._seed = (int(seed) & _MASK64) if seed is not None else _random.next_seed()
        self._calls = 0

    def _call_seed(self) -> int:
        # splitmix-style mixing of (layer seed, call number): distinct streams per call.
        z = (self._seed + 0x9E3779B97F4A7C15 * (self._calls + 1)) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        return (z ^ (z >> 31)) & _MASK64

    def _tensor_call(self, x, training, **kwargs):
        if not training or self.rate == 0.0:
            return x
        from ..tensor import math_ops

        state = self._new_state()
        self._forward(state, np.ascontiguousarray(x.numpy()), True)  # draws this call's mask (same stream as fit)
        keep = state.mask.astype(x.dtype) * np.asarray(1.0 / (1.0 - self.rate), x.dtype)
        return math_ops.multiply(x, keep)

    def _forward(self, state, inputs, training):
        state.active = bool(training) and self.rate > 0.0
        if not state.active:
            return inputs
        seed = self._call_seed()
        self._calls += 1
        # NOTE: direct kernel call, as in Dense (contiguous buffers of the layer's dtype).
        y, state.mask = _core.dropout(inputs, self.rate, seed, state.buf("y", inputs.shape),
                                      state.buf("mask", inputs.shape, np.uint8), self._noise_for(inputs.shape))
        return y

    def _noise_for(self, shape):
        ns = self.noise_shape
        if ns is None:
            return None
        if len(ns) != len(shape) or any(d is not None and d != 1 and d != s for d, s in zip(ns, shape)):
            raise ShapeError(
                f'Layer "{self.name}" (Dropout) has noise_shape={ns}, which does not broadcast over its input: '
                f"each entry must be 1, None or the input's size on that axis. Received: input shape {tuple(shape)}"
            )
        return tuple(s if d is None else d for d, s in zip(ns, shape))

    def _backward(self, state, dy, need_dx):
        if not need_dx:
            return None
        if not state.active:
            return dy
        return _core.dropout_backward(dy, state.mask, self.rate, state.buf("dx", dy.shape))

    def _get_state(self):
        return {"seed": self._seed, "calls": self._calls}

    def _set_state(self, state):
        self._seed = int(state.get("seed", self._seed))
        self._calls = int(state.get("calls", 0))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape), "seed": self.seed}
