"""Keras' functional API: symbolic ``Input`` tensors, layer calls recorded as nodes, ``Model(inputs, outputs)``.

``ferronet.Input(shape)`` returns a :class:`KerasTensor`; calling a layer on
KerasTensors records a :class:`Node` (the layer, its inputs, its outputs) and
returns new KerasTensors, whose shapes come from running the layer once on a
one-sample batch of zeros. ``Model(inputs, outputs)`` walks the nodes back
from the outputs, checks that everything is connected to the inputs, and
runs them in topological order. A layer called several times (shared layers)
has one node per call; a model can be called as a layer.

Example:
    >>> import ferronet as fn
    >>> from ferronet import layers
    >>> inputs = fn.Input((8,))
    >>> h = layers.Dense(16, activation="relu")(inputs)
    >>> outputs = layers.Dense(1)(layers.Concatenate()([h, inputs]))
    >>> model = fn.Model(inputs, outputs)
    >>> model.output_shape
    (None, 1)
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..tensor.core import Tensor, unwrap

__all__ = ["KerasTensor", "Node", "is_symbolic", "call_symbolic", "flatten", "pack_like"]


class KerasTensor:
    """A symbolic tensor: a shape and a dtype standing for data not given yet (Keras' ``KerasTensor``).

    Attributes:
        shape: tuple, batch dimension None.
        dtype: NumPy dtype name.
        name: the producing layer's name (with an output index when it has several outputs).
    """

    _is_symbolic = True
    __array_priority__ = 1000.0

    def __init__(self, shape, dtype="float32", name=None, history=None):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype).name
        self.name = name
        self._keras_history = history  # (layer, node index, output index)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "A symbolic KerasTensor (from ferronet.Input) has no values: it can only be passed to layers and "
            "Model(inputs, outputs), or combined with ferronet tensor ops. Received: a conversion to a NumPy array"
        )

    def __len__(self):
        raise TypeError(f"A symbolic KerasTensor has no length (its batch dimension is not known). "
                        f"Received: len() of {self!r}")


def _deferred(op_name, reflected=False):
    """A Python operator on KerasTensors: the tensor op, recorded as a Lambda layer of the graph."""

    def op(self, *others):
        from ..tensor import array_ops as A
        from ..tensor import math_ops as M
        from ..tensor.symbolic import defer

        fn = getattr(M, op_name, None) or getattr(A, op_name)
        args = (others[0], self) if reflected else (self, *others)
        return defer(fn, op_name, args, {})

    return op


for _name, _fn in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                   ("pow", "power")):
    setattr(KerasTensor, f"__{_name}__", _deferred(_fn))
    setattr(KerasTensor, f"__r{_name}__", _deferred(_fn, reflected=True))
KerasTensor.__neg__ = _deferred("negative")
KerasTensor.__getitem__ = _deferred("getitem")
KerasTensor.__matmul__ = _deferred("matmul")
KerasTensor.__rmatmul__ = _deferred("matmul", reflected=True)


class Node:
    """One call of a layer in a functional graph."""

    __slots__ = ("layer", "inputs", "outputs", "kwargs", "flat_inputs")

    def __init__(self, layer, inputs, outputs, kwargs):
        self.layer = layer
        self.inputs = inputs            # the structure the layer was called with
        self.flat_inputs = flatten(inputs)
        self.outputs = outputs          # list of KerasTensors
        self.kwargs = kwargs

    @property
    def parent_nodes(self):
        out = []
        for t in self.flat_inputs:
            layer, index, _ = t._keras_history
            out.append(layer._inbound_nodes[index])
        return out


def is_symbolic(x) -> bool:
    """Whether ``x`` (or any leaf of a list/tuple/dict) is a KerasTensor."""
    if isinstance(x, KerasTensor):
        return True
    if isinstance(x, (list, tuple)):
        return any(is_symbolic(v) for v in x)
    if isinstance(x, dict):
        return any(is_symbolic(v) for v in x.values())
    return False


def flatten(x) -> list:
    if isinstance(x, (list, tuple)):
        return [leaf for v in x for leaf in flatten(v)]
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    return [x]


def pack_like(structure, leaves):
    """``leaves`` arranged in the nesting of ``structure`` (inverse of :func:`flatten`)."""
    it = iter(leaves)

    def build(s):
        if isinstance(s, (list, tuple)):
            return type(s)(build(v) for v in s)
        if isinstance(s, dict):
            return {k: build(s[k]) for k in sorted(s)}
        return next(it)

    return build(structure)


# Stand-ins for unknown sizes when a layer runs on placeholder inputs to find its output shapes: large enough
# for valid convolutions and pooling, powers of two so that pooling and upsampling round trips line up (U-Nets),
# and two of them, so that an output size that follows an unknown input size is known to be unknown.
_PROBES = (32, 64)


def _dummy(t: KerasTensor, probe=_PROBES[0]):
    shape = tuple(1 if d is None and i == 0 else probe if d is None else d for i, d in enumerate(t.shape))
    return Tensor(np.zeros(shape, t.dtype))


def _unknown_sizes_built(layer, leaves):
    """A layer built by the stand-in run on one input takes any size where its symbolic input has none."""
    built = layer.__dict__.get("input_shape")
    if len(leaves) == 1 and isinstance(built, tuple) and len(built) == len(leaves[0].shape):
        layer.input_shape = tuple(None if s is None else b for b, s in zip(built, leaves[0].shape))


def _leaf_shapes(out):
    return [tuple(np.shape(unwrap(o) if isinstance(o, Tensor) else o)) for o in flatten(out)]


def call_symbolic(layer, inputs, kwargs):
    """Record ``layer(inputs)`` as a node and return its symbolic outputs."""
    leaves = flatten(inputs)
    for t in leaves:
        if not isinstance(t, KerasTensor):
            raise TypeError(
                f'Layer "{layer.name}" was called on a mix of symbolic inputs (from ferronet.Input) and data. '
                f"Received: {type(t).__name__} among its inputs; wrap constants with layers or give them as inputs")
    training = kwargs.pop("training", None)
    unknown = any(d is None for t in leaves for d in t.shape[1:])

    def run(probe):
        return layer(pack_like(inputs, [_dummy(t, probe) for t in leaves]),
                     training=False if training is None else training, **kwargs)

    try:
        out = run(_PROBES[0])
        again = None
        if unknown:  # which output sizes follow the unknown input sizes: run again with the other stand-in
            _unknown_sizes_built(layer, leaves)
            again = _leaf_shapes(run(_PROBES[1]))
    except ShapeError as e:
        raise ShapeError(f'Layer "{layer.name}" ({type(layer).__name__}) cannot take its symbolic inputs of '
                         f"shapes {[t.shape for t in leaves]}: {e}") from None
    out_leaves = flatten(out)
    nodes = layer.__dict__.setdefault("_inbound_nodes", [])
    index = len(nodes)
    sym = []
    batch = leaves[0].shape[0] if leaves and leaves[0].shape else None
    for k, o in enumerate(out_leaves):
        o = unwrap(o) if isinstance(o, Tensor) else np.asarray(o)
        shape = (batch,) + tuple(o.shape[1:]) if o.ndim else ()
        if again is not None and o.ndim and len(again[k]) == o.ndim:
            shape = (batch,) + tuple(None if d != e else d for d, e in zip(o.shape[1:], again[k][1:]))
        name = layer.name if len(out_leaves) == 1 else f"{layer.name}_{k}"
        sym.append(KerasTensor(shape, o.dtype, name, (layer, index, k)))
    nodes.append(Node(layer, inputs, sym, dict(kwargs, training=training)))
    layer.output_shape = sym[0].shape if len(sym) == 1 else [t.shape for t in sym]
    return pack_like(out, sym)
