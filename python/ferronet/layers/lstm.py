"""``LSTM``: long short-term memory (Hochreiter & Schmidhuber 1997), Keras' layer and weight layout."""

from __future__ import annotations

import numpy as np

from .recurrent import RNNBase, use_cudnn_arg

__all__ = ["LSTM"]


class LSTM(RNNBase):
    """Long short-term memory layer over ``(batch, steps, features)``.

    Per step, with gates in Keras' order ``i, f, c, o`` along the last axis of
    ``kernel (features, 4*units)``, ``recurrent_kernel (units, 4*units)`` and
    ``bias (4*units,)``::

        i = σ(x·W_i + h·U_i + b_i)   f = σ(x·W_f + h·U_f + b_f)   o = σ(x·W_o + h·U_o + b_o)
        c = f * c + i * tanh(x·W_c + h·U_c + b_c)                  h = o * tanh(c)

    (σ is ``recurrent_activation``, tanh is ``activation``). The whole sequence
    runs as one fused Rust kernel, forward and backward through time.

    Args:
        units: size of ``h`` and ``c``.
        activation: ``"tanh"`` (default), ``"sigmoid"``, ``"relu"`` or ``"linear"``/None.
        recurrent_activation: default ``"sigmoid"``.
        use_bias: default True.
        kernel_initializer, recurrent_initializer, bias_initializer: defaults
            ``"glorot_uniform"``, ``"orthogonal"``, ``"zeros"``.
        unit_forget_bias: add 1 to the forget gate's bias at initialization (default True).
        kernel_regularizer, recurrent_regularizer, bias_regularizer: optional.
        dropout: fraction of the inputs dropped in training (one mask per sequence).
        recurrent_dropout: fraction of ``h`` dropped before the recurrent product in training.
        seed: seed of the dropout masks.
        return_sequences: return ``h`` of every step ``(batch, steps, units)`` instead of the last.
        return_state: also return the final ``h`` and ``c``.
        go_backwards: process the sequence in reverse (and return the reversed sequence).
        stateful: carry the final states of a batch into the next call of the same batch size (a batch of
            another size starts from zeros); ``reset_states()`` zeroes them.
        use_cudnn: ``"auto"``, True or False, accepted so that programs written for a GPU run; the
            fused CPU kernel runs whatever it says (so does ``unroll``).
        **kwargs: base layer arguments.

    Call arguments: ``inputs``, ``mask`` (boolean ``(batch, steps)``), ``training``,
    ``initial_state`` (``[h, c]``, each ``(batch, units)``).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> out, h, c = fn.layers.LSTM(4, return_sequences=True, return_state=True)(np.ones((2, 5, 3)))
        >>> out.shape, h.shape, c.shape
        ((2, 5, 4), (2, 4), (2, 4))
    """

    _cell = "lstm"
    _gates = 4

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, use_cudnn="auto", **kwargs):
        use_cudnn = use_cudnn_arg(use_cudnn)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.use_cudnn = use_cudnn  # ferronet runs its fused CPU kernels whatever it says

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, u = self.bias_initializer, self.units

        def init(shape, dtype):
            return np.concatenate([np.asarray(base((u,), dtype)), np.ones(u, dtype),
                                   np.asarray(base((2 * u,), dtype))]).astype(dtype)

        return init

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "unit_forget_bias": self.unit_forget_bias}
