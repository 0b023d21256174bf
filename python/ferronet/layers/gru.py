"""``GRU``: gated recurrent unit (Cho et al. 2014), Keras' layer and weight layouts (either ``reset_after``)."""

from __future__ import annotations

from .recurrent import RNNBase, use_cudnn_arg

__all__ = ["GRU"]


class GRU(RNNBase):
    """Gated recurrent unit over ``(batch, steps, features)``.

    Per step, with gates in Keras' order ``z, r, h`` along the last axis of
    ``kernel (features, 3*units)`` and ``recurrent_kernel (units, 3*units)``.
    With ``reset_after=True`` (Keras' default and its cuDNN form) the reset
    gate multiplies the candidate's recurrent product, and ``bias`` is
    ``(2, 3*units)`` (input bias ``b``, recurrent bias ``b'``)::

        z = σ(x·W_z + b_z + h·U_z + b'_z)      r = σ(x·W_r + b_r + h·U_r + b'_r)
        ĥ = tanh(x·W_h + b_h + r * (h·U_h + b'_h))
        h = z * h + (1 - z) * ĥ

    With ``reset_after=False`` (Cho et al.'s original form, tf.keras 1.x's
    default) it multiplies the state before that product, and ``bias`` is
    ``(3*units,)``::

        z = σ(x·W_z + h·U_z + b_z)      r = σ(x·W_r + h·U_r + b_r)
        ĥ = tanh(x·W_h + (r * h)·U_h + b_h)
        h = z * h + (1 - z) * ĥ

    Args:
        units: size of ``h``.
        reset_after: apply the reset gate after the recurrent product (True)
            or to ``h`` before it (False).
        **kwargs: ``activation``, ``recurrent_activation``, ``use_bias``, the initializers and regularizers,
            ``dropout``, ``recurrent_dropout``, ``seed``, ``return_sequences``, ``return_state``,
            ``go_backwards``, ``stateful``, ``use_cudnn``: as for :class:`~ferronet.layers.LSTM`.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.GRU(3)(np.ones((2, 5, 4))).shape
        (2, 3)
        >>> gru = fn.layers.GRU(3, reset_after=False)
        >>> _ = gru(np.ones((2, 5, 4)))
        >>> [w.shape for w in gru.get_weights()]
        [(4, 9), (3, 9), (9,)]
    """

    _gates = 3

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True, reset_after=True,
                 use_cudnn="auto", **kwargs):
        use_cudnn = use_cudnn_arg(use_cudnn)
        if reset_after not in (True, False):
            raise ValueError(f"reset_after must be True or False. Received: reset_after={reset_after!r}")
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         **kwargs)
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn  # ferronet runs its fused CPU kernels whatever it says

    @property
    def _cell(self):
        return "gru" if self.reset_after else "gru_reset_before"

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation,
                "reset_after": self.reset_after}
