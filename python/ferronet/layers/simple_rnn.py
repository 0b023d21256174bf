"""``SimpleRNN``: the fully connected recurrence ``h = activation(x·W + h·U + b)``."""

from __future__ import annotations

from .recurrent import RNNBase

__all__ = ["SimpleRNN"]


class SimpleRNN(RNNBase):
    """Fully connected recurrent layer: ``h_t = activation(x_t·kernel + h_{t-1}·recurrent_kernel + bias)``.

    Weights: ``kernel (features, units)``, ``recurrent_kernel (units, units)``, ``bias (units,)``.

    Args:
        units: size of ``h``.
        activation: ``"tanh"`` (default), ``"sigmoid"``, ``"relu"`` or ``"linear"``/None.
        **kwargs: ``use_bias``, the initializers and regularizers, ``dropout``, ``recurrent_dropout``,
            ``seed``, ``return_sequences``, ``return_state``, ``go_backwards``, ``stateful``: as for
            :class:`~ferronet.layers.LSTM`.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.SimpleRNN(3, return_sequences=True)(np.ones((2, 5, 4))).shape
        (2, 5, 3)
    """

    _cell = "simple_rnn"
    _gates = 1

    def __init__(self, units, activation="tanh", use_bias=True, **kwargs):
        kwargs.pop("recurrent_activation", None)
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)
