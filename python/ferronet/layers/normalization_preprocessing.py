"""``Normalization``: feature-wise standardization with statistics learned by ``adapt`` (Keras' preprocessing layer)."""

from __future__ import annotations

import numpy as np

from ..tensor import math_ops as M
from ..tensor.core import unwrap
from .base import Layer

__all__ = ["Normalization"]


class Normalization(Layer):
    """``(x - mean) / max(sqrt(variance), epsilon)`` per feature; ``invert=True`` maps back.

    The statistics come from ``mean``/``variance`` given to the constructor (then
    they are constants, kept in the config) or from :meth:`adapt` on training
    data (before ``fit``); adapted ones are non-trainable weights ``mean``,
    ``variance`` and an int32 ``count`` of the samples seen, Keras' layout.

    Args:
        axis: the axis (or axes) holding separate features, default -1; None for one scalar mean.
        mean, variance: fixed statistics instead of ``adapt``.
        invert: apply the inverse map (de-normalize model outputs).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> data = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 50.0]], np.float32)
        >>> norm = fn.layers.Normalization()
        >>> norm.adapt(data)  # per-feature mean and variance of the training data
        >>> print(norm.mean.numpy(), np.round(norm.variance.numpy(), 2))
        [ 3. 30.] [  2.67 266.67]
        >>> print(np.round(norm(data), 3))
        [[-1.225 -1.225]
         [ 0.     0.   ]
         [ 1.225  1.225]]
        >>> print(fn.layers.Normalization(mean=2.0, variance=4.0)(np.array([[0.0, 2.0, 6.0]])))
        [[-1.  0.  2.]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if (mean is None) != (variance is None):
            raise ValueError("Give both mean and variance, or neither (and call adapt). "
                             f"Received: mean={mean!r}, variance={variance!r}")
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(int(a) for a in axis)
        self.invert = bool(invert)
        self._given = None if mean is None else (np.asarray(mean, np.float64), np.asarray(variance, np.float64))
        self.mean = self.variance = self.count = None
        self._constants = None

    def _keep(self, ndim):
        axes = () if self.axis is None else ((self.axis,) if isinstance(self.axis, int) else self.axis)
        return tuple(sorted(a % ndim for a in axes))

    def build(self, input_shape):
        keep = self._keep(len(input_shape))
        shape = tuple(input_shape[a] for a in keep)
        if any(d is None for d in shape):
            raise ValueError(f'Layer "{self.name}" (Normalization) needs known sizes on axis={self.axis}. '
                             f"Received: input shape {tuple(input_shape)}")
        if self._given is not None:
            self._constants = tuple(np.broadcast_to(g, shape).astype(self.dtype) for g in self._given)
            return
        self.mean = self.add_weight(shape, "zeros", trainable=False, name="mean")
        self.variance = self.add_weight(shape, "ones", trainable=False, name="variance")
        self.count = self.add_weight((), "zeros", dtype="int32", trainable=False, name="count")

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the per-feature mean and variance of ``data`` (an array, or a dataset of batches)."""
        if self._given is not None:
            raise ValueError(f'Layer "{self.name}" (Normalization) was given its mean and variance, so it cannot '
                             f"adapt. Received: mean={self._given[0].tolist()!r}")
        if hasattr(data, "__iter__") and not isinstance(data, np.ndarray) and not hasattr(data, "__array__"):
            data = np.concatenate([np.asarray(unwrap(b[0] if isinstance(b, tuple) else b)) for b in data])
        x = np.asarray(unwrap(data), dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        if not self.built:
            self._build_with(x.shape)
        keep = self._keep(x.ndim)
        reduce = tuple(a for a in range(x.ndim) if a not in keep)
        self.mean.assign(x.mean(axis=reduce))
        self.variance.assign(x.var(axis=reduce))
        self.count.assign(np.asarray(int(np.prod([x.shape[a] for a in reduce])), np.int32))

    def _tensor_call(self, x, training, **kwargs):
        keep = self._keep(x.ndim)
        shape = tuple(x.shape[a] if a in keep else 1 for a in range(x.ndim))
        mean, variance = self._constants if self._given is not None else (self.mean.numpy(), self.variance.numpy())
        mean = mean.reshape(shape).astype(x.dtype)
        std = np.maximum(np.sqrt(variance), 1e-7).reshape(shape).astype(x.dtype)
        if self.invert:
            return M.add(M.multiply(x, std), mean)
        return M.divide(M.subtract(x, mean), std)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "invert": self.invert,
                "mean": None if self._given is None else self._given[0].tolist(),
                "variance": None if self._given is None else self._given[1].tolist()}
