"""Where Keras 3 keeps a layer's weights: its own group, or groups of the sub-objects it is made of.

Keras 3 saves every object it tracks under its own HDF5 group, ``<path>/vars``
holding that object's variables as ``"0"``, ``"1"``, .... Most layers keep
their weights themselves (``layers/dense/vars``), but some are built of inner
objects that own them:

==================  ===========================================================================
layer               groups, in the order of ferronet's (and Keras') weights
==================  ===========================================================================
SimpleRNN/LSTM/GRU  ``cell`` (kernel, recurrent_kernel, bias); RNN the same, its cell being a built-in one
Bidirectional       ``forward_layer/...`` then ``backward_layer/...`` (each a recurrent layer's)
TimeDistributed     ``layer/...`` (the wrapped layer's own layout)
MultiHeadAttention  ``query_dense``, ``key_dense``, ``value_dense``, ``output_dense`` (kernel, bias
                    each), and the weightless ``_dropout_layer`` and ``_softmax``
==================  ===========================================================================

A layer's layout is a list of ``(group relative to the layer's, number of
weights)`` that splits its flat weight list in order; ``""`` is the layer's own
group. Layers made of sub-objects list their own (empty) group too, as Keras
writes it. One table, :func:`_children`, says which attribute or count each
sub-object takes; wrappers nest through it, so ``Bidirectional(LSTM)`` and
``TimeDistributed(TimeDistributed(Dense))`` need no rule of their own.
"""

from __future__ import annotations

__all__ = ["layout", "join", "RECURRENT", "RNN_CELLS"]

RECURRENT = ("SimpleRNN", "LSTM", "GRU")
RNN_CELLS = ("SimpleRNNCell", "LSTMCell", "GRUCell")
_MHA_PARTS = ("query", "key", "value", "output")


def _children(layer, count):
    """``[(child group, the ferronet layer it mirrors or None, its number of weights)]``; [] for a plain layer."""
    kind = type(layer).__name__
    if kind in RECURRENT or kind == "RNN":  # (an RNN's own cell: one of RNN_CELLS)
        return [("cell", None, count)]
    if kind == "Bidirectional":  # each direction: kernel, recurrent_kernel and, with use_bias, bias
        forward = 2 + int(layer.forward_layer.use_bias)
        return [("forward_layer", layer.forward_layer, forward),
                ("backward_layer", layer.backward_layer, count - forward)]
    if kind == "TimeDistributed":
        return [("layer", layer.layer, count)]
    if kind == "MultiHeadAttention":
        each = 2 if layer.use_bias else 1
        return [(f"{part}_dense", None, each) for part in _MHA_PARTS] + [
            ("_dropout_layer", None, 0), ("_softmax", None, 0)]
    return []


def layout(layer, count):
    """``[(relative group, number of weights), ...]`` of a layer holding ``count`` weights, in weight order.

    Raises:
        ValueError: if ``count`` does not fit the layer's sub-objects (a layer built unlike its config).
    """
    children = _children(layer, count)
    if not children:
        return [("", count)]
    out = [("", 0)]
    for name, child, n in children:
        out += [(f"{name}/{sub}" if sub else name, k) for sub, k in (layout(child, n) if child else [("", n)])]
    if sum(n for _, n in out) != count:
        raise ValueError(f"Layer {layer.name!r} ({type(layer).__name__}) has {count} weights, which do not fit "
                         f"Keras' groups {[g for g, _ in out]}. Received: {count} weights")
    return out


def join(path, sub):
    """``path/sub``, or ``path`` for the layer's own group."""
    return f"{path}/{sub}" if sub else path
