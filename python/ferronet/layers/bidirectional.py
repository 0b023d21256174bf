"""``Bidirectional``: a recurrent layer run forwards and backwards over the sequence, outputs merged."""

from __future__ import annotations

from ..tensor import array_ops as A
from ..tensor import math_ops as M
from .base import Layer
from .recurrent import SequenceLayer, fold_initial_state

__all__ = ["Bidirectional"]

_MERGE_MODES = ("sum", "mul", "ave", "concat", None)


def _is_sequence_layer(layer):
    """A layer over a whole sequence (a cell, one step, is not one)."""
    from .rnn_cells import _Cell

    return isinstance(layer, SequenceLayer) and not isinstance(layer, _Cell)


def _cell_copy(layer):
    """For an ``RNN``, a new cell like its own (its class and config: a cell of your own needs no registering)."""
    from .rnn_layer import RNN, StackedRNNCells

    if not isinstance(layer, RNN):
        return {}
    cell = layer.cell
    if isinstance(cell, StackedRNNCells):
        copies = [type(c).from_config(c.get_config()) for c in cell.cells]
        return {"cell": type(cell)(copies, **{k: v for k, v in cell.get_config().items() if k != "cells"})}
    return {"cell": type(cell).from_config(cell.get_config())}


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a copy of it (or ``backward_layer``) backwards, then merges the two outputs.

    With ``return_sequences`` the backward output is reversed back, so step
    ``t`` of both halves belongs to input step ``t``; masked steps output
    zeros. Weights: the forward layer's, then the backward layer's.

    Args:
        layer: a ``SimpleRNN``, ``LSTM``, ``GRU`` or ``RNN`` (each direction gets its own copy of the cell).
        merge_mode: ``"concat"`` (default), ``"sum"``, ``"mul"``, ``"ave"`` or None (a list of both outputs).
        backward_layer: optional recurrent layer for the backward direction (``go_backwards`` must be the
            opposite of ``layer``'s, and ``return_sequences``/``return_state`` equal).
        **kwargs: base layer arguments.

    Example:
        >>> import numpy as np, ferronet as fn
        >>> fn.layers.Bidirectional(fn.layers.LSTM(4, return_sequences=True))(np.ones((2, 5, 3))).shape
        (2, 5, 8)
    """

    _ndim = 3
    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        from . import serialize

        if not _is_sequence_layer(layer):
            raise ValueError(f"Bidirectional wraps a SimpleRNN, LSTM, GRU or RNN layer. Received: layer={layer!r}")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"merge_mode must be one of {_MERGE_MODES}. Received: merge_mode={merge_mode!r}")
        if weights is not None:
            raise ValueError("Bidirectional(weights=...) is not supported: call set_weights() once built. "
                             "Received: weights")
        super().__init__(**kwargs)
        layer_config = serialize(layer)["config"]
        # A layer read back from a config is already the forward one: no second prefix (as Keras).
        base = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        self.forward_layer = type(layer).from_config(dict(layer_config, name=f"forward_{base}", **_cell_copy(layer)))
        if backward_layer is None:
            config = dict(layer_config, name=f"backward_{base}", go_backwards=not layer.go_backwards,
                          **_cell_copy(layer))
            self.backward_layer = type(layer).from_config(config)
        else:
            if not _is_sequence_layer(backward_layer):
                raise ValueError("backward_layer must be a SimpleRNN, LSTM, GRU or RNN layer. Received: "
                                 f"{backward_layer!r}")
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError("backward_layer.go_backwards must be the opposite of layer.go_backwards. Received: "
                                 f"both {layer.go_backwards}")
            for attr in ("return_sequences", "return_state", "stateful"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(f"backward_layer.{attr} must equal layer.{attr}. Received: "
                                     f"{getattr(backward_layer, attr)} and {getattr(layer, attr)}")
            self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = self.return_sequences

    def __call__(self, *args, **kwargs):
        # initial_state: the forward layer's states, then the backward layer's, joined to the inputs.
        return super().__call__(*fold_initial_state(args, kwargs), **kwargs)

    @property
    def _tracked_layers(self):
        return [self.forward_layer, self.backward_layer]

    def build(self, input_shape):
        shape = input_shape[0] if isinstance(input_shape, list) else input_shape
        for sub in (self.forward_layer, self.backward_layer):
            sub.build(shape)

    def compute_output_shape(self, input_shape):
        out = self.forward_layer.compute_output_shape(input_shape)
        states = []
        if self.return_state:
            out, states = out[0], out[1:] * 2
        if self.merge_mode == "concat":
            out = tuple(out[:-1]) + (2 * out[-1],)
        elif self.merge_mode is None:
            out = [out, out]
        if not self.return_state:
            return out
        return (out if isinstance(out, list) else [out]) + states

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out = mask if self.return_sequences else None
        n = 2 * self.forward_layer._n_states if self.return_state else 0
        heads = [out, out] if self.merge_mode is None else [out]
        return heads + [None] * n if (n or self.merge_mode is None) else out

    def _tensor_call(self, x, training, mask=None, **kwargs):
        states = []
        if isinstance(x, (list, tuple)):
            x, states = x[0], list(x[1:])
        n = self.forward_layer._n_states
        if states and len(states) != 2 * n:
            raise ValueError(f'Layer "{self.name}" takes {2 * n} initial states (forward, then backward). '
                             f"Received: {len(states)}")
        fw = self.forward_layer(x, mask=mask, training=training, initial_state=states[:n] or None)
        bw = self.backward_layer(x, mask=mask, training=training, initial_state=states[n:] or None)
        fw_states, bw_states = [], []
        if self.return_state:
            fw, fw_states = fw[0], list(fw[1:])
            bw, bw_states = bw[0], list(bw[1:])
        if self.return_sequences:
            bw = A.reverse(bw, [1])
        if self.merge_mode == "concat":
            out = A.concat([fw, bw], axis=-1)
        elif self.merge_mode == "sum":
            out = M.add(fw, bw)
        elif self.merge_mode == "ave":
            out = M.multiply(M.add(fw, bw), 0.5)
        elif self.merge_mode == "mul":
            out = M.multiply(fw, bw)
        else:
            out = [fw, bw]
        if not self.return_state:
            return out
        return (out if isinstance(out, list) else [out]) + fw_states + bw_states

    def reset_states(self, states=None):
        """Reset both directions' states (stateful layers)."""
        n = self.forward_layer._n_states
        self.forward_layer.reset_states(None if states is None else states[:n])
        self.backward_layer.reset_states(None if states is None else states[n:])

    def get_config(self):
        """Both directions' configs, as Keras writes them (``from_config`` rebuilds the same two layers)."""
        from . import serialize

        return {**super().get_config(), "layer": serialize(self.forward_layer), "merge_mode": self.merge_mode,
                "backward_layer": serialize(self.backward_layer)}

    @classmethod
    def from_config(cls, config):
        from . import deserialize

        config = dict(config)
        layer = deserialize(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=None if backward is None else deserialize(backward), **config)
