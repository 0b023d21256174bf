"""``RNN``: a cell run over every step of a sequence; ``StackedRNNCells``: several cells as one.

``RNN(cell)`` takes Keras' sequence arguments (``return_sequences``,
``return_state``, ``go_backwards``, ``stateful``, ``zero_output_for_mask``;
``unroll`` is accepted), masks and initial states, like ``LSTM``. The cell
is a built-in one (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``), which runs
the whole sequence as one fused kernel exactly as its layer does, or any
layer with a ``state_size`` and a ``call(inputs, states)`` returning
``(output, new_states)``, which is called step by step on the tape (so its
gradients come from its own ops).
"""

from __future__ import annotations

import inspect

import numpy as np

from ..tensor import array_ops as A
from ..tensor import math_ops as M
from ..tensor.core import Tensor, unwrap
from .base import Layer
from .recurrent import RNNBase, SequenceLayer
from .rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, _Cell

__all__ = ["RNN", "StackedRNNCells"]

_FUSED = (SimpleRNNCell, LSTMCell, GRUCell)
_SEQUENCE_ARGS = ("return_sequences", "return_state", "go_backwards", "stateful", "zero_output_for_mask")


def _sizes(cell):
    size = cell.state_size
    return [int(s) for s in size] if isinstance(size, (list, tuple)) else [int(size)]


def _check_cell(cell, where):
    if not (hasattr(cell, "state_size") and callable(getattr(cell, "call", None) or getattr(cell, "__call__", None))):
        raise ValueError(f"{where} needs a cell: a layer with a state_size attribute and a call(inputs, states) "
                         f"method. Received: {cell!r}")
    return cell


def _step(cell, x, states, training):
    """``(output, new_states)`` of one step of ``cell``, new states as a list."""
    if isinstance(cell, (_Cell, StackedRNNCells)):
        out, new = cell(x, states, training=training)
    else:
        if not cell.built:
            cell.build(tuple(x.shape))
            cell.built = True
        kwargs = {"training": training} if "training" in inspect.signature(cell.call).parameters else {}
        out, new = cell.call(x, states, **kwargs)
    return out, (list(new) if isinstance(new, (list, tuple)) else [new])


class StackedRNNCells(Layer):
    """Cells applied one after the other within each step: cell ``k`` reads cell ``k - 1``'s output.

    Its states are the cells' states one after the other (a flat list), as are the states an ``RNN`` over it
    returns with ``return_state=True``.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> cells = fn.layers.StackedRNNCells([fn.layers.LSTMCell(4), fn.layers.GRUCell(3)])
        >>> cells.state_size, cells.output_size
        ([4, 4, 3], 3)
        >>> fn.layers.RNN(cells)(np.ones((2, 5, 6), np.float32)).shape
        (2, 3)
    """

    def __init__(self, cells, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(cells, (list, tuple)) or not cells:
            raise ValueError(f"StackedRNNCells takes a non-empty list of cells. Received: cells={cells!r}")
        self.cells = [_check_cell(c, "StackedRNNCells") for c in cells]

    @property
    def state_size(self):
        return [s for c in self.cells for s in _sizes(c)]

    @property
    def output_size(self):
        last = self.cells[-1]
        return int(getattr(last, "output_size", _sizes(last)[0]))

    def get_initial_state(self, batch_size=None):
        return [Tensor(np.zeros((int(batch_size or 1), s), self._np_dtype)) for s in self.state_size]

    def build(self, input_shape):
        features = input_shape[-1]
        for cell in self.cells:
            if not cell.built:
                cell.build((None, features))
                cell.built = True
            features = int(getattr(cell, "output_size", _sizes(cell)[0]))
        self.built = True

    def __call__(self, inputs, states, training=None):
        new, x, k = [], inputs, 0
        for cell in self.cells:
            n = len(_sizes(cell))
            x, cell_states = _step(cell, x, list(states[k:k + n]), training)
            new.extend(cell_states)
            k += n
        return x, new

    def get_config(self):
        from . import serialize

        return {**super().get_config(), "cells": [serialize(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize

        config = dict(config)
        cells = [c if isinstance(c, Layer) else deserialize(c, custom_objects) for c in config.pop("cells")]
        return cls(cells, **config)


class RNN(SequenceLayer):
    """A recurrent layer from a cell (see the module docstring).

    Args:
        cell: a cell, or a list of cells (run as :class:`StackedRNNCells`).
        return_sequences: return the output of every step ``(batch, steps, output_size)``, not the last.
        return_state: also return the final states (flat, in the cell's order).
        go_backwards: process the sequence in reverse (and return the reversed sequence).
        stateful: carry the final states of a batch into the next call of the same batch size.
        unroll: accepted for Keras compatibility.
        zero_output_for_mask: masked steps output zeros instead of repeating the previous output.
        **kwargs: base layer arguments.

    Call arguments: ``inputs`` ``(batch, steps, features)``, ``mask`` (boolean ``(batch, steps)``),
    ``training``, ``initial_state`` (a list of ``(batch, size)`` tensors).

    Example:
        A built-in cell runs as its layer does; a cell of your own is called at every step:

        >>> import numpy as np, ferronet as fn
        >>> from ferronet.keras import ops
        >>> x = np.random.default_rng(0).normal(size=(2, 5, 3)).astype(np.float32)
        >>> fn.layers.RNN(fn.layers.LSTMCell(4), return_sequences=True)(x).shape
        (2, 5, 4)
        >>> class MinimalRNNCell(fn.layers.Layer):
        ...     def __init__(self, units, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.units, self.state_size = units, units
        ...     def build(self, input_shape):
        ...         self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
        ...         self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), name="recurrent_kernel")
        ...     def call(self, inputs, states):
        ...         h = ops.matmul(inputs, self.kernel) + ops.matmul(states[0], self.recurrent_kernel)
        ...         return h, [h]
        >>> out, state = fn.layers.RNN(MinimalRNNCell(4), return_state=True)(x)
        >>> out.shape, state.shape
        ((2, 4), (2, 4))
    """

    _ndim = 3
    supports_masking = True

    def __init__(self, cell, return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, zero_output_for_mask=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        self.cell = _check_cell(cell, "RNN")
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.stateful = bool(go_backwards), bool(stateful)
        self.unroll, self.zero_output_for_mask = bool(unroll), bool(zero_output_for_mask)
        self._states = None

    @property
    def _state_sizes(self):
        return _sizes(self.cell)

    @property
    def _n_states(self):
        return len(self._state_sizes)

    @property
    def _output_size(self):
        return int(getattr(self.cell, "output_size", self._state_sizes[0]))

    def build(self, input_shape):
        input_shape, features = self._features(input_shape)
        if not self.cell.built:
            self.cell.build((None, features))
            self.cell.built = True
        self.built = True
        self.input_shape = (None,) + tuple(input_shape[1:])

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            input_shape = input_shape[0]
        batch, steps, size = input_shape[0], input_shape[1], self._output_size
        out = (batch, steps, size) if self.return_sequences else (batch, size)
        return [out] + [(batch, s) for s in self._state_sizes] if self.return_state else out

    def _tensor_call(self, x, training, mask=None, **kwargs):
        x, given, m = self._split_inputs(x, mask)
        if type(self.cell) in _FUSED:
            return self._fused_call(x, given, training, m)
        batch, steps = x.shape[0], x.shape[1]
        dt = self._np_dtype
        states = self._initial_states(batch, given, dt)
        cells = self.cell.cells if isinstance(self.cell, StackedRNNCells) else [self.cell]
        for c in cells:
            if isinstance(c, _Cell):
                c.reset_dropout_mask()
                c.reset_recurrent_dropout_mask()
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, prev = [], Tensor(np.zeros((batch, self._output_size), dt))
        for t in order:
            out, new = _step(self.cell, x[:, t], states, training)
            if m is not None:
                keep = m[:, t:t + 1]
                out = M.multiply(out, keep.astype(dt)) if self.zero_output_for_mask else M.where(keep, out, prev)
                new = [M.where(keep, n, s) for n, s in zip(new, states)]
            states, prev = new, out
            outputs.append(out)
        if self.stateful:
            self._states = [np.array(unwrap(s), copy=True) for s in states]
        out = A.stack(outputs, axis=1) if self.return_sequences else outputs[-1]
        return [out] + list(states) if self.return_state else out

    def _fused_call(self, x, given, training, mask):
        # The cell is its layer with the sequence arguments at their defaults: run the layer's call with this
        # layer's, so the whole sequence is one fused kernel (and one dropout mask per sequence, as Keras).
        cell = self.cell
        for key in _SEQUENCE_ARGS:
            setattr(cell, key, getattr(self, key))
        cell._states = self._states
        try:
            return RNNBase._tensor_call(cell, [x, *given] if given else x, training, mask=mask)
        finally:
            self._states = cell._states
            for key in _SEQUENCE_ARGS:
                setattr(cell, key, False)
            cell._states = None

    def get_config(self):
        from . import serialize

        return {**super().get_config(), "cell": serialize(self.cell), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from . import deserialize

        config = dict(config)
        cell = config.pop("cell")
        return cls(cell if isinstance(cell, Layer) else deserialize(cell, custom_objects), **config)
