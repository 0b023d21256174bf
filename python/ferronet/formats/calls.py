"""One layer call of a functional graph, in Keras 3's form and in ferronet's.

ferronet records a call as one input structure plus keyword flags; Keras 3
records ``{"args": [...], "kwargs": {...}}`` with the layer's own signature.
They agree for most layers (``args`` holds the one input structure), except:

- ``MultiHeadAttention``: Keras calls ``layer(query, value, key=..., attention_mask=...)``; ferronet
  carries the tensors as one list ``[query, value, key, attention_mask]`` (shortened at the end).
- ``mask``: Keras 3 writes the mask a layer received as an argument, computed by an operation entry
  (``NotEqual(x, 0)`` for an ``Embedding(mask_zero=True)``); ferronet propagates masks itself, so such
  a mask is read only when it is that operation on the input of an ``Embedding(mask_zero=True)``.
- ``initial_state`` of the recurrent layers and ``Bidirectional``: a keyword argument in Keras, joined to
  ferronet's inputs as ``[sequence, *states]``.
- Flags a layer takes at call time (``use_causal_mask``, ``return_attention_scores``) pass through as JSON
  booleans.
"""

from __future__ import annotations

from ..errors import FileFormatError

__all__ = ["from_keras3", "to_keras3", "CALL_FLAGS", "STATEFUL_CALLS"]

# Layers taking Keras' initial_state=[...], which ferronet joins to the inputs as [x, *states].
STATEFUL_CALLS = ("SimpleRNN", "LSTM", "GRU", "Bidirectional", "RNN")
# Boolean call arguments each layer takes, read and written as they are.
CALL_FLAGS = {"MultiHeadAttention": ("use_causal_mask", "return_attention_scores"),
              "Attention": ("use_causal_mask", "return_attention_scores"),
              "AdditiveAttention": ("use_causal_mask", "return_attention_scores")}


def from_keras3(class_name, node, parse, where, label):
    """``(inputs structure, call kwargs, mask references)`` of one Keras 3 call of a ``class_name`` layer.

    Args:
        class_name: the layer's ferronet class name.
        node: ``{"args": [...], "kwargs": {...}}`` as written in ``inbound_nodes``.
        parse: function turning a written structure into references (``graph._call_structure``).
        where, label: text for messages.
    """
    args, kwargs = node.get("args"), node.get("kwargs") or {}
    if not isinstance(kwargs, dict):
        raise FileFormatError(f"The call arguments of {where} are malformed. Received: {kwargs!r:.200} in {label}")
    kwargs = dict(kwargs)
    if class_name == "MultiHeadAttention":
        if not isinstance(args, list) or not 1 <= len(args) <= 3:
            raise FileFormatError(f"{where} is called with query and value. Received: args={args!r:.200} in {label}")
        args = list(args) + [kwargs.pop(name) for name in ("value", "key")[len(args) - 1:] if name in kwargs]
        tensors = [parse(a, where, label) for a in args]
        mask = kwargs.pop("attention_mask", None)
        if mask is not None:
            tensors = (tensors + [tensors[1]])[:3] + [parse(mask, where, label)]
        structure = tensors
    else:
        if not isinstance(args, list) or len(args) != 1:
            raise FileFormatError(f"ferronet rebuilds layer calls with one positional argument (the inputs); "
                                  f"{where} has another call. Received: args={args!r:.200} in {label}")
        structure = parse(args[0], where, label)
        state = kwargs.pop("initial_state", None) if class_name in STATEFUL_CALLS else None
        if state is not None:
            states = parse(state, where, label)
            structure = [structure] + (states if isinstance(states, list) else [states])
    masks = []
    mask = kwargs.pop("mask", None)
    if mask is not None:
        try:
            masks = [parse(mask, where, label)]
        except FileFormatError:
            raise FileFormatError(f"ferronet does not rebuild layer calls with argument 'mask' other than a tensor "
                                  f"({where}). Received: mask={mask!r:.100} in {label}") from None
    out = {}
    for key, value in kwargs.items():
        if key == "training":
            if value is not None and not isinstance(value, bool):
                raise FileFormatError(f"training must be True, False or None ({where}). Received: {value!r} in "
                                      f"{label}")
            out["training"] = value
        elif key in CALL_FLAGS.get(class_name, ()) and isinstance(value, bool):
            if value:
                out[key] = True
        elif value is not None:
            raise FileFormatError(f"ferronet does not rebuild layer calls with argument {key!r} ({where}). "
                                  f"Received: {key}={value!r:.100} in {label}")
    return structure, out, masks


def to_keras3(layer, inputs, kwargs, tensor):
    """``{"args", "kwargs"}`` of one ferronet call in Keras 3's form; ``tensor`` writes an input structure."""
    class_name = type(layer).__name__
    for key, value in kwargs.items():
        if key != "training" and key not in CALL_FLAGS.get(class_name, ()) and value is not None and value is not False:
            raise FileFormatError(f"A Keras file cannot hold the call argument {key!r} of layer {layer.name!r} "
                                  f"({class_name}) as ferronet rebuilds it; save the model in ferronet's own format "
                                  f"(model.save('model.ferronet')). Received: {key}={value!r:.100}")
    out = {}
    if kwargs.get("training") is not None:
        out["training"] = bool(kwargs["training"])
    for key in CALL_FLAGS.get(class_name, ()):
        if kwargs.get(key):
            out[key] = True
    if class_name == "MultiHeadAttention":
        query, value = inputs[0], inputs[1]
        if len(inputs) > 2 and inputs[2] is not value:
            out["key"] = tensor(inputs[2])
        if len(inputs) > 3:
            out["attention_mask"] = tensor(inputs[3])
        return {"args": [tensor(query), tensor(value)], "kwargs": out}
    if class_name in STATEFUL_CALLS and isinstance(inputs, (list, tuple)):
        return {"args": [tensor(inputs[0])], "kwargs": {**out, "initial_state": [tensor(s) for s in inputs[1:]]}}
    return {"args": [tensor(inputs)], "kwargs": out}
