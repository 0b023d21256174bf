"""``BatchNormalization`` over the last (channel/feature) axis."""

from __future__ import annotations

import inspect

import numpy as np

from .. import initializers, ops, regularizers
from ..errors import ShapeError
from .base import Layer, fmt_shape

__all__ = ["BatchNormalization"]

_BACKWARD_OUTS = None


def _backward_takes_outs() -> bool:
    """Whether the core's batch_norm_backward writes into given arrays (checked once)."""
    global _BACKWARD_OUTS
    if _BACKWARD_OUTS is None:
        try:
            _BACKWARD_OUTS = "dx_out" in inspect.signature(ops.batch_norm_backward).parameters
        except (TypeError, ValueError):
            _BACKWARD_OUTS = False
    return _BACKWARD_OUTS


class BatchNormalization(Layer):
    """Normalize each feature with the batch statistics while training, the moving ones otherwise.

    In training the layer uses the batch mean and (biased) variance and
    updates ``moving = momentum * moving + (1 - momentum) * batch``; in
    predict/evaluate, and whenever the layer is frozen (``trainable=False``,
    as in Keras 3 for fine-tuning), it uses the moving statistics.

    Args:
        axis: the feature axis; only the last axis (-1) is supported.
        momentum: moving-average momentum, default 0.99.
        epsilon: added to the variance, default 1e-3.
        center: learn an offset ``beta`` (default True).
        scale: learn a factor ``gamma`` (default True).
        beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer:
            defaults zeros, ones, zeros, ones.
        beta_regularizer, gamma_regularizer: optional regularizers.
        **kwargs: base layer arguments.

    Input shape:
        ``(batch, ..., features)``. Output shape: same. Weights, in Keras' order:
        ``gamma, beta, moving_mean, moving_variance`` (``(features,)`` each).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> bn = fn.layers.BatchNormalization(momentum=0.9)
        >>> x = np.array([[0.0, 10.0], [2.0, 30.0]], np.float32)
        >>> print(np.round(bn(x, training=True), 3))  # training: the batch statistics
        [[-1. -1.]
         [ 1.  1.]]
        >>> print(bn.moving_mean.numpy())  # 0.9 * 0 + 0.1 * batch mean
        [0.1 2. ]
        >>> [w.shape for w in bn.get_weights()]  # gamma, beta, moving_mean, moving_variance
        [(2,), (2,), (2,), (2,)]
    """

    supports_masking = True

    _min_ndim = 2

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization normalizes over one axis. Received: axis={axis!r}")
            axis = axis[0]
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1]. Received: momentum={momentum!r}")
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive. Received: epsilon={epsilon!r}")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.gamma = self.beta = None

    def build(self, input_shape):
        rank = len(input_shape)
        if self.axis not in (-1, rank - 1):
            raise ShapeError(
                f'Layer "{self.name}" (BatchNormalization) normalizes the last axis only (axis=-1, channels_last). '
                f"Received: axis={self.axis} for input shape {fmt_shape(input_shape)}"
            )
        c = input_shape[-1]
        if c is None:
            raise ShapeError(
                f'Layer "{self.name}" (BatchNormalization) needs a known feature dimension. '
                f"Received: input shape {fmt_shape(input_shape)}"
            )
        if self.scale:
            self.gamma = self.add_weight((c,), self.gamma_initializer, regularizer=self.gamma_regularizer, name="gamma")
        if self.center:
            self.beta = self.add_weight((c,), self.beta_initializer, regularizer=self.beta_regularizer, name="beta")
        self.moving_mean = self.add_weight((c,), self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight((c,), self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")
        # Stand-ins for an absent gamma/beta (scale=False / center=False), and
        # zeros used to run the inference kernel as the frozen-layer backward.
        self._ones = np.ones((c,), self._np_dtype)
        self._zeros = np.zeros((c,), self._np_dtype)
        self._scratch = np.empty((c,), self._np_dtype)

    def _check_call_shape(self, shape):
        want = self.input_shape
        if want is not None and (len(shape) != len(want) or shape[-1] != want[-1]):
            raise ShapeError(
                f'Layer "{self.name}" (BatchNormalization) was built for inputs of shape {fmt_shape(want)}. '
                f"Received: input shape {fmt_shape(shape)}"
            )

    def _gamma(self):
        return self.gamma.value if self.scale else self._ones

    def _beta(self):
        return self.beta.value if self.center else self._zeros

    def _tensor_call(self, x, training, **kwargs):
        from ..tensor import math_ops as M
        from ..tensor import reduce_ops as R

        axes = tuple(range(x.ndim - 1))
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        if training and self._trainable:
            mean = R.reduce_mean(x, axis=axes)
            var = R.reduce_mean(M.square(M.subtract(x, mean)), axis=axes)
            m = self.momentum
            self.moving_mean.assign(self.moving_mean.value * m + mean.numpy() * (1.0 - m))
            self.moving_variance.assign(self.moving_variance.value * m + var.numpy() * (1.0 - m))
        else:
            mean, var = self.moving_mean.numpy(), self.moving_variance.numpy()
        y = M.multiply(M.subtract(x, mean), M.rsqrt(M.add(var, np.asarray(self.epsilon, x.dtype))))
        if gamma is not None:
            y = M.multiply(y, gamma)
        return y if beta is None else M.add(y, beta)

    def _forward(self, state, inputs, training):
        state.x = inputs
        out = state.buf("y", inputs.shape)
        state.batch_stats = bool(training) and self._trainable
        if not state.batch_stats:
            return ops.batch_norm_infer(inputs, self._gamma(), self._beta(), self.moving_mean.value,
                                        self.moving_variance.value, self.epsilon, out=out)
        y, state.mean, state.var = ops.batch_norm_train(inputs, self._gamma(), self._beta(), self.epsilon, out=out)
        m, s = self.momentum, self._scratch
        for moving, batch in ((self.moving_mean.value, state.mean), (self.moving_variance.value, state.var)):
            np.multiply(moving, m, out=moving)
            np.multiply(batch, 1.0 - m, out=s)
            np.add(moving, s, out=moving)
        return y

    def _backward(self, state, dy, need_dx):
        if not state.batch_stats:
            if not need_dx:
                return None
            # Inference is an affine map per feature: dx = dy * gamma / sqrt(var + eps),
            # which is the inference kernel applied to dy with zero mean and offset.
            return ops.batch_norm_infer(dy, self._gamma(), self._zeros, self._zeros, self.moving_variance.value,
                                        self.epsilon, out=state.buf("dx", dy.shape))
        if _backward_takes_outs():
            c = self._scratch.shape
            dx, _, _ = ops.batch_norm_backward(
                dy, state.x, self._gamma(), state.mean, state.var, self.epsilon,
                dx_out=state.buf("dx", dy.shape),
                dgamma_out=state.grad(self.gamma) if self.scale and state.train else state.buf("dgamma", c),
                dbeta_out=state.grad(self.beta) if self.center and state.train else state.buf("dbeta", c),
            )
            return dx if need_dx else None
        dx, dgamma, dbeta = ops.batch_norm_backward(dy, state.x, self._gamma(), state.mean, state.var, self.epsilon)
        if self.scale and state.train:
            np.copyto(state.grad(self.gamma), dgamma)
        if self.center and state.train:
            np.copyto(state.grad(self.beta), dbeta)
        return dx if need_dx else None

    def get_config(self):
        ser = initializers.serialize
        return {
            **super().get_config(),
            "axis": self.axis, "momentum": self.momentum, "epsilon": self.epsilon,
            "center": self.center, "scale": self.scale,
            "beta_initializer": ser(self.beta_initializer), "gamma_initializer": ser(self.gamma_initializer),
            "moving_mean_initializer": ser(self.moving_mean_initializer),
            "moving_variance_initializer": ser(self.moving_variance_initializer),
            "beta_regularizer": None if self.beta_regularizer is None else regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": None if self.gamma_regularizer is None else regularizers.serialize(
                self.gamma_regularizer),
        }
