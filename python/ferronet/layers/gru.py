"""``GRU``: gated recurrent unit (Cho et al. 2014), Keras' layer and weight layout (``reset_after=True``)."""

from __future__ import annotations

from .recurrent import RNNBase

__all__ = ["GRU"]


class GRU(RNNBase):
    """Gated recurrent unit over ``(batch, steps, features)``.

    Per step, with gates in Keras' order ``z, r, h`` along the last axis of
    ``kernel (features, 3*units)`` and ``recurrent_kernel (units, 3*units)``,
    and ``bias (2, 3*units)`` (input bias ``b``, recurrent bias ``b'``)::

        z = σ(x·W_z + b_z + h·U_z + b'_z)      r = σ(x·W_r + b_r + h·U_r + b'_r)
        ĥ = tanh(x·W_h + b_h + r * (h·U_h + b'_h))
        h = z * h + (1 - z) * ĥ

    This is Keras' default ``reset_after=True`` (the reset gate applied after
    the recurrent product); ``reset_after=False`` is not implemented.

    Args:
        units: size of ``h``.
        reset_after: must be True.
        **kwargs: ``activation``, ``recurrent_activation``, ``use_bias``, the initializers and regularizers,
            ``dropout``, ``recurrent_dropout``, ``seed``, ``return_sequences``, ``return_state``,
            ``go_backwards``, ``stateful``: as for :class:`~ferronet.layers.LSTM`.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.GRU(3)(np.ones((2, 5, 4))).shape
        (2, 3)
    """

    _cell = "gru"
    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 **kwargs):
        if not reset_after:
            raise ValueError("GRU runs with reset_after=True (Keras' default and its cuDNN form); the reset-before "
                             "variant is not implemented. Received: reset_after=False")
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         **kwargs)
        self.reset_after = True

    def _bias_shape(self):
        return (2, 3 * self.units)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation, "reset_after": True}
