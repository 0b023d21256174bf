"""``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``: one step of a recurrence, for step-by-step loops and ``RNN``.

A cell has its layer's arguments, weights (same names, shapes and initial
values as ``SimpleRNN``/``LSTM``/``GRU``, Keras' layouts) and math, applied
to one step: ``output, new_states = cell(x_t, states)``, with ``x_t`` of
shape ``(batch, features)`` and ``states`` a list of ``(batch, units)``
tensors (``[h]``, or ``[h, c]`` for the LSTM). The step runs the layers'
fused Rust kernel over a sequence of one step, forward and backward, so a
loop of cell calls gives the layer's results. Dropout masks are drawn at
the first training call and kept for the following steps until
``reset_dropout_mask()``/``reset_recurrent_dropout_mask()`` (``RNN`` resets
them for each sequence), as in Keras.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor import array_ops as A
from ..tensor import math_ops as M
from ..tensor.core import Tensor
from ..tensor.recurrent_ops import rnn_sequence
from .base import Layer, fmt_shape
from .gru import GRU
from .lstm import LSTM
from .simple_rnn import SimpleRNN

__all__ = ["SimpleRNNCell", "LSTMCell", "GRUCell"]

# The sequence layers' arguments a cell does not have.
_SEQUENCE_ONLY = ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask",
                  "use_cudnn")


class _Cell:
    """One step of the layer it is mixed into (see the module docstring)."""

    _ndim = 2

    def __init__(self, *args, **kwargs):
        for key in _SEQUENCE_ONLY:
            if key in kwargs:
                raise TypeError(f"{type(self).__name__} is one step of a recurrence and has no {key} (it belongs to "
                                f"the layer running it, RNN or {type(self).__name__[:-4]}). Received: {key}=")
        super().__init__(*args, **kwargs)
        self._dropout_mask = self._recurrent_dropout_mask = None

    @property
    def state_size(self):
        """``units``, or ``[units, units]`` for the LSTM (``h`` and ``c``)."""
        return [self.units, self.units] if self._n_states == 2 else self.units

    @property
    def output_size(self):
        return self.units

    def get_initial_state(self, batch_size=None):
        """Zero states: a list of ``(batch_size, units)`` tensors."""
        return [Tensor(np.zeros((int(batch_size or 1), self.units), self._np_dtype)) for _ in range(self._n_states)]

    def reset_dropout_mask(self):
        """Forget the input dropout mask: the next training call draws a new one."""
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forget the recurrent dropout mask: the next training call draws a new one."""
        self._recurrent_dropout_mask = None

    def __call__(self, inputs, states=None, training=None, **kwargs):
        single = states is not None and not isinstance(states, (list, tuple))
        if states is None:
            states = self.get_initial_state(np.shape(inputs)[0])
        states = [states] if single else list(states)
        out = Layer.__call__(self, [inputs, *states], training=training, **kwargs)
        return out[0], (out[1] if single else list(out[1:]))

    def compute_output_shape(self, input_shape):
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return [(batch, self.units)] * (1 + self._n_states)

    def compute_mask(self, inputs, mask=None):
        return None

    def _tensor_call(self, x, training, **kwargs):
        if not isinstance(x, (list, tuple)):
            x = [x, *self.get_initial_state(x.shape[0])]
        x, states = x[0], list(x[1:])
        features = self.kernel.shape[0]
        if x.ndim != 2 or x.shape[1] != features:
            raise ShapeError(f'Cell "{self.name}" ({type(self).__name__}) takes one step, (batch, {features}). '
                             f"Received: input shape {fmt_shape(tuple(x.shape))}")
        batch = x.shape[0]
        states = self._initial_states(batch, states, self._np_dtype)  # (checks the states given)
        scale = None
        if training and self.dropout > 0:
            if self._dropout_mask is None or self._dropout_mask.shape != tuple(x.shape):
                self._dropout_mask = self._dropout_factors(self.dropout, tuple(x.shape))
            x = M.multiply(x, self._dropout_mask)
        if training and self.recurrent_dropout > 0:
            if self._recurrent_dropout_mask is None or self._recurrent_dropout_mask.shape != (batch, self.units):
                self._recurrent_dropout_mask = self._dropout_factors(self.recurrent_dropout, (batch, self.units))
            scale = self._recurrent_dropout_mask
        seq = rnn_sequence(A.expand_dims(x, 1), self.kernel, self.recurrent_kernel, self.bias if self.use_bias else None,
                           states[0], states[1] if self._n_states == 2 else None, cell=self._cell,
                           activation=self.activation, recurrent_activation=self.recurrent_activation,
                           recurrent_scale=scale)
        u = self.units
        h = seq[:, 0, :u]
        return [h, h] + ([seq[:, 0, u:]] if self._n_states == 2 else [])

    def get_config(self):
        config = super().get_config()
        for key in _SEQUENCE_ONLY:
            config.pop(key, None)
        return config


class SimpleRNNCell(_Cell, SimpleRNN):
    """One step of :class:`~ferronet.layers.SimpleRNN`: ``h = activation(x·kernel + h_prev·recurrent_kernel + bias)``.

    Arguments and weights as for ``SimpleRNN`` without its sequence arguments; ``cell(x_t, states)`` returns
    ``(h, [h])`` (``(h, h)`` when ``states`` is one tensor).

    Example:
        >>> import numpy as np, ferronet as fn
        >>> cell = fn.layers.SimpleRNNCell(3)
        >>> h, [state] = cell(np.ones((2, 4), np.float32), [np.zeros((2, 3), np.float32)])
        >>> h.shape, bool(np.array_equal(h.numpy(), state.numpy()))
        ((2, 3), True)
    """


class LSTMCell(_Cell, LSTM):
    """One step of :class:`~ferronet.layers.LSTM`; ``cell(x_t, [h, c])`` returns ``(h, [h, c])``.

    Arguments and weights as for ``LSTM`` (``unit_forget_bias`` included) without its sequence arguments.

    Example:
        A loop over the steps gives the layer's output:

        >>> import numpy as np, ferronet as fn
        >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
        >>> cell, layer = fn.layers.LSTMCell(4), fn.layers.LSTM(4)
        >>> states = cell.get_initial_state(batch_size=2)
        >>> for t in range(5):
        ...     h, states = cell(x[:, t], states)
        >>> _ = layer(x)
        >>> layer.set_weights(cell.get_weights())
        >>> bool(np.allclose(layer(x).numpy(), h.numpy(), atol=1e-6))
        True
    """


class GRUCell(_Cell, GRU):
    """One step of :class:`~ferronet.layers.GRU` (``reset_after`` either way); ``cell(x_t, [h])`` returns
    ``(h, [h])``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> cell = fn.layers.GRUCell(3, reset_after=False)
        >>> h, states = cell(np.ones((2, 4), np.float32))  # zero states when none are given
        >>> h.shape, len(states), [w.shape for w in cell.get_weights()]
        ((2, 3), 1, [(4, 9), (3, 9), (9,)])
    """
