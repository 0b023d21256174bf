"""Plan a model from a translated config before allocating it: layers, weight names, shapes and Keras paths.

Loading an untrusted file must not let its config allocate memory the file
does not back: a config saying ``Dense(units=10**9)`` would otherwise build a
4 GB kernel before any check. So the layers are first created unbuilt (their
constructors allocate nothing), their output shapes are walked with
``compute_output_shape``, and each weight's shape is derived from its layer's
arguments. Readers compare those shapes with the file's arrays before reading
them, and the model is assembled only once every array is in hand.

Keras 3 names a layer's weights by position under ``layers/<class>[_n]/vars``
(the snake-cased class name, numbered per class in layer order, never the
layer's own name), or under the groups of the sub-objects it is made of
(``layers/lstm/cell/vars``, see :mod:`ferronet.formats.layout`), and Keras 2
by ``<layer name>/<weight name>``; a plan holds both, and the layer object the
arrays go to. Functional models are planned by
:mod:`ferronet.formats.graph`.
"""

from __future__ import annotations

import math

from ..errors import FileFormatError
from ..layers.base import _snake_case
from .layout import RECURRENT, RNN_CELLS, join, layout

__all__ = ["Planned", "plan_model", "plan_built", "assemble", "assign_all", "flat_weights", "keras_paths",
           "paths_for", "plan_layer", "model_layers", "layer_plan"]

# Largest number of scalars a planned model may declare before any array is read (checked against the file too).
_MAX_PARAMS = 1 << 36

_WEIGHTLESS = {"InputLayer", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
               "Flatten", "Reshape", "Dropout", "Activation", "LeakyReLU", "Softmax", "MaxPooling1D",
               "AveragePooling1D", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "UpSampling1D", "UpSampling2D",
               "ZeroPadding1D", "ZeroPadding2D", "Cropping1D", "Cropping2D", "Permute", "RepeatVector", "ReLU", "ELU",
               "UnitNormalization", "GaussianNoise", "GaussianDropout", "ActivityRegularization", "Rescaling",
               "SpatialDropout1D", "SpatialDropout2D"}


class Planned:
    """One layer that owns weights: where Keras stores them and what ferronet will allocate.

    Attributes:
        layer_name: the layer's own name.
        top: name of the top-level layer holding it (itself, or the nested model it is in).
        keras_path: Keras 3 group path of the layer (``layers/dense_1`` or ``layers/sequential/layers/dense``).
        weights: ``[(weight name, shape), ...]`` in ferronet's (and Keras') creation order.
        offset: index of its first weight among all weights of ``top``.
        layer: the layer object (unbuilt while planning) that receives the arrays.
        groups: ``[(group path, number of weights), ...]``: the Keras 3 groups (without ``/vars``) that
            hold the weights in order (``[("layers/lstm", 0), ("layers/lstm/cell", 3)]``).
    """

    __slots__ = ("layer_name", "top", "keras_path", "weights", "offset", "layer", "groups")

    def __init__(self, layer_name, top, keras_path, weights, offset, layer=None, groups=None):
        self.layer_name, self.top, self.keras_path, self.weights, self.offset, self.layer = (
            layer_name, top, keras_path, weights, offset, layer)
        self.groups = [(keras_path, len(weights))] if groups is None else groups

    def moved(self, prefix, top):
        """This plan for a model nested at ``prefix`` (its paths gain the prefix, its top becomes ``top``)."""
        return Planned(self.layer_name, top, f"{prefix}/{self.keras_path}", self.weights, 0, self.layer,
                       [(f"{prefix}/{g}", n) for g, n in self.groups])


def layer_plan(layer, top, path, weights):
    """The :class:`Planned` of ``layer`` at Keras 3 group ``path``, its weights split into Keras' groups."""
    groups = [(join(path, sub), n) for sub, n in layout(layer, len(weights))]
    return Planned(layer.name, top, path, weights, 0, layer, groups)


def set_offsets(plans):
    """Number each plan's first weight among the weights of its top-level layer, in plan order."""
    seen = {}
    for p in plans:
        p.offset = seen.get(p.top, 0)
        seen[p.top] = p.offset + len(p.weights)
    return plans


def _weight_specs(layer, shape):
    """``[(name, shape)]`` of the weights ``layer`` will create for inputs of ``shape`` (None if unknown)."""
    kind = type(layer).__name__
    if kind in _WEIGHTLESS:
        return []
    if kind == "Dense":
        specs = [("kernel", (shape[-1], layer.units))]
        return specs + ([("bias", (layer.units,))] if layer.use_bias else [])
    if kind == "Conv2D":
        specs = [("kernel", tuple(layer.kernel_size) + (shape[-1], layer.filters))]
        return specs + ([("bias", (layer.filters,))] if layer.use_bias else [])
    if kind == "BatchNormalization":
        c = (shape[-1],)
        return ([("gamma", c)] if layer.scale else []) + ([("beta", c)] if layer.center else []) + [
            ("moving_mean", c), ("moving_variance", c)]
    if kind in ("Conv1D", "Conv2DTranspose", "Conv1DTranspose"):
        k = (layer.kernel_size,) if kind == "Conv1D" else tuple(layer.kernel_size[kind == "Conv1DTranspose":])
        io = (shape[-1], layer.filters) if kind == "Conv1D" else (layer.filters, shape[-1])
        return [("kernel", k + io)] + ([("bias", (layer.filters,))] if layer.use_bias else [])
    if kind == "PReLU":
        alpha = list(shape[1:])
        for a in layer.shared_axes or []:
            alpha[a - 1] = 1
        return [("alpha", tuple(alpha))]
    if kind == "LayerNormalization":
        from ..layers.layer_normalization import _axes

        c = tuple(shape[a] for a in _axes(layer.axis, len(shape)))
        return ([("gamma", c)] if layer.scale else []) + ([("beta", c)] if layer.center else [])
    if kind == "Normalization":  # Keras keeps statistics given to the constructor out of its weights
        c = tuple(shape[a] for a in layer._keep(len(shape)))
        return [] if layer._given is not None else [("mean", c), ("variance", c), ("count", ())]
    if kind == "Embedding":
        return [("embeddings", (layer.input_dim, layer.output_dim))]
    if kind == "TimeDistributed":
        if type(layer.layer).__name__ in ("Sequential", "Functional"):
            return None
        return _weight_specs(layer.layer, (None,) + tuple(shape[2:]))
    if kind == "RNN":
        return _weight_specs(layer.cell, shape)
    if kind in RECURRENT or kind in RNN_CELLS:
        width = layer._gates * layer.units
        specs = [("kernel", (shape[-1], width)), ("recurrent_kernel", (layer.units, width))]
        return specs + ([("bias", layer._bias_shape())] if layer.use_bias else [])
    if kind == "Bidirectional":
        return _weight_specs(layer.forward_layer, shape) + _weight_specs(layer.backward_layer, shape)
    if kind == "Attention":
        return [("scale", ())] if layer.use_scale else []
    if kind == "AdditiveAttention":
        return [("scale", (shape[0][-1],))] if layer.use_scale else []
    if kind == "MultiHeadAttention":
        return _attention_specs(layer, shape)
    return None


def _attention_specs(layer, shapes):
    """MultiHeadAttention's weights for ``[query, value(, key)]`` shapes: Keras' four projections."""
    q, v = shapes[0], shapes[1]
    k = shapes[2] if len(shapes) > 2 else v
    if len(q) < 3 or len(v) != len(q) or len(k) != len(q):
        raise ValueError(f"query, value and key need one rank of at least 3; got {q}, {v}, {k}")
    layer._check_axes(len(q))
    n, h, hv, out = layer.num_heads, layer.key_dim, layer.value_dim, layer._output_dim or q[-1]
    specs = []
    for part, dim, width in (("query", q[-1], h), ("key", k[-1], h), ("value", v[-1], hv)):
        specs += [(f"{part}_kernel", (dim, n, width))] + ([(f"{part}_bias", (n, width))] if layer.use_bias else [])
    return specs + [("output_kernel", (n, hv, out))] + ([("output_bias", (out,))] if layer.use_bias else [])


def keras_paths(layers, prefix="layers"):
    """Keras 3's group path for each layer of a list, in order (numbered per class name)."""
    return paths_for([_class_name(layer) for layer in layers], prefix)


def paths_for(class_names, prefix="layers"):
    """Keras 3's group paths for layers of these classes, in order (numbered per snake-cased class name)."""
    used, out = {}, []
    for class_name in class_names:
        name = _snake_case(class_name)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        out.append(f"{prefix}/{name}")
    return out


def plan_layer(layer, shape, label):
    """``(weight specs, output shape)`` of a layer for inputs of ``shape`` (a list: attention), allocating nothing."""
    several = isinstance(shape, list)
    if several and type(layer).__name__ not in ("MultiHeadAttention", "Attention", "AdditiveAttention"):
        raise FileFormatError(f"Layer {layer.name!r} takes one tensor. Received: inputs of shapes {shape} in {label}")
    # Unknown sizes (sequences of any length, images of any size) are fine where the weights do not depend on them.
    unknown = FileFormatError(f"Layer {layer.name!r} gets inputs of unknown shape {shape}, and its weights or output "
                              f"depend on the unknown sizes: the model config needs a complete input shape. "
                              f"Received: {label}")
    open_sizes = any(d is None for s in (shape if several else [shape]) for d in s[1:])
    try:
        if not several:
            layer._check_input_shape(shape)
        specs = _weight_specs(layer, shape)
        if specs is None:  # a layer from custom_objects: the caller trusts its code, so build it to see
            layer._build_with(shape)
            specs = [(v.name, tuple(v.shape)) for v in layer.weights]
        out = layer.compute_output_shape(shape)  # a list for several outputs (return_state)
    except (ValueError, TypeError) as e:
        if open_sizes:
            raise unknown from None
        raise FileFormatError(f"The model config does not fit together at layer {layer.name!r} ({e}). "
                              f"Received: {label}") from None
    if open_sizes and any(not isinstance(d, int) for _, s in specs for d in s):
        raise unknown
    return specs, [tuple(o) for o in out] if isinstance(out, list) else tuple(out)


def _walk(layers, shape, prefix, top, plans, label):
    """Plan ``layers`` (a Sequential's) for inputs of ``shape``; returns the output shape."""
    from .graph import UnbuiltGraph

    for layer, path in zip(layers, keras_paths(layers, prefix)):
        own_top = top or layer.name
        if type(layer).__name__ == "InputLayer":  # a nested model's own input must be what it receives
            if tuple(layer.shape) != tuple(shape[1:]):
                raise FileFormatError(f"Input {layer.name!r} has shape {(None,) + tuple(layer.shape)} but receives "
                                      f"{tuple(shape)}. Received: {label}")
            continue
        if isinstance(layer, _Unbuilt):
            shape = _walk(layer.layers, shape, path + "/layers", own_top, plans, label)
            continue
        if isinstance(layer, UnbuiltGraph):
            raise FileFormatError(f"ferronet's Sequential models cannot hold a functional model yet ({layer.name!r}); "
                                  f"rebuild it as one functional model. Received: {label}")
        specs, out = plan_layer(layer, shape, label)
        if specs:
            plans.append(layer_plan(layer, own_top, path, specs))
        shape = out
    set_offsets(plans)
    return shape


class _Unbuilt:
    """A nested Sequential whose layers exist but are not assembled yet (planning allocates nothing)."""

    keras_class = "Sequential"

    def __init__(self, entry, layers):
        self.entry, self.layers, self.name = entry, layers, entry["config"].get("name")


def _class_name(layer):
    return getattr(layer, "keras_class", None) or type(layer).__name__


def _objects(entry, label, custom_objects):
    """Unbuilt layer objects for a translated entry (nested Sequential configs as :class:`_Unbuilt`)."""
    from .. import layers as layers_module
    from .graph import UnbuiltGraph

    if entry.get("class_name") == "Sequential":
        return _Unbuilt(entry, [_objects(e, label, custom_objects) for e in entry["config"]["layers"]])
    if entry.get("class_name") == "Functional":
        return UnbuiltGraph(entry, label, custom_objects)
    try:
        return layers_module.deserialize(entry, custom_objects=custom_objects)
    except (ValueError, TypeError) as e:
        name = entry.get("config", {}).get("name")
        raise FileFormatError(f"ferronet cannot create layer {name!r} ({entry.get('class_name')}) from the file: "
                              f"{e} Received: {label}") from None


def _input_shape(config, layers, label):
    """The batch input shape: the InputLayer's, else ``build_input_shape``, else the first layer's own."""
    given = config.get("build_input_shape")
    given = None if given is None else (None,) + tuple(given)[1:]
    first = layers[0] if layers else None
    if type(first).__name__ == "InputLayer":
        shape = (None,) + tuple(first.shape)
        if given is not None and given != shape:
            raise FileFormatError(f"The model config is inconsistent: its InputLayer has shape {shape} but "
                                  f"build_input_shape is {given}. Received: {label}")
        return shape
    if given is not None:
        return given
    if isinstance(first, _Unbuilt):
        return _input_shape(first.entry["config"], first.layers, label)
    shape = getattr(first, "_batch_input_shape", None)
    return None if shape is None else (None,) + tuple(shape)[1:]


def plan_model(fconfig, label, custom_objects=None):
    """Unbuilt layers and weight plan for a translated Sequential config.

    Returns:
        ``(plans, build)``: the list of :class:`Planned` and a function that assembles the model.

    Raises:
        FileFormatError: for a functional config (not loadable yet), a config without an input shape,
            or layers whose shapes do not fit.
    """
    try:
        return _plan_model(fconfig, label, custom_objects)
    except (TypeError, AttributeError, KeyError, IndexError, RecursionError) as e:
        # Arguments of the wrong JSON type that the layers' constructors did not catch.
        raise FileFormatError(f"The model config is malformed ({type(e).__name__}: {e}). Received: {label}") from None


def _plan_model(fconfig, label, custom_objects=None):
    root = _objects(fconfig, label, custom_objects)
    if fconfig["class_name"] == "Functional":
        plans, shape = set_offsets(list(root.plans)), None
    else:
        shape = _input_shape(fconfig["config"], root.layers, label)
        if shape is None:
            raise FileFormatError(f"The model config has no input shape, so its weights cannot be placed. "
                                  f"Received: {label}")
        plans = []
        _walk(root.layers, shape, "layers", None, plans, label)
    total = sum(math.prod(s) for p in plans for _, s in p.weights)
    if total > _MAX_PARAMS:
        raise FileFormatError(f"The model config declares {total} weights, more than ferronet loads "
                              f"({_MAX_PARAMS}). Received: {label}")
    return plans, lambda: _assemble_checked(root, shape, label)


def _assemble_checked(root, shape, label):
    try:
        return root.assemble() if not isinstance(root, _Unbuilt) else assemble(root, shape)
    except (ValueError, TypeError) as e:  # e.g. layers of different dtypes
        raise FileFormatError(f"ferronet cannot assemble the model of the file ({e}). Received: {label}") from None


def assemble(unbuilt, shape):
    """The Sequential model of a plan (allocates the weights)."""
    from ..models import Sequential

    config = unbuilt.entry["config"]
    model = Sequential(name=config.get("name"), trainable=config.get("trainable", True))
    for layer in unbuilt.layers:
        model.add(assemble(layer, None) if isinstance(layer, _Unbuilt) else layer)
    if not model.built and shape is not None:
        model.build(shape)
    return model


def assign_all(model, arrays, label, plans):
    """Assign ``arrays`` (plan order) to the planned layers' weights, after checking every shape."""
    variables = [v for p in plans for v in p.layer.weights]
    every = {id(v) for v in flat_weights(model)}
    if (len(variables) != len(arrays) or any(v.shape != a.shape for v, a in zip(variables, arrays))
            or {id(v) for v in variables} != every or len(every) != len(variables)):
        raise FileFormatError(f"The model built from the file does not match its weights "
                              f"({[tuple(v.shape) for v in variables]} vs {[a.shape for a in arrays]}). Received: {label}")
    for v, a in zip(variables, arrays):
        v.assign(a)


def model_layers(model):
    """A model's layers in Keras' order (for a functional model, the order Keras gives its rebuilt graph)."""
    if type(model).__name__ == "Functional":
        from .graph import keras_layers

        return keras_layers(model)
    return list(model.layers)


def _is_model(layer):
    return type(layer).__name__ in ("Sequential", "Functional")


def flat_weights(model):
    """The model's variables in Keras' layer order (nested models flattened depth first; shared layers once)."""
    out, seen = [], set()
    for layer in model_layers(model):
        for v in (flat_weights(layer) if _is_model(layer) else layer.weights):
            if id(v) not in seen:
                seen.add(id(v))
                out.append(v)
    return out


def plan_built(model):
    """The plan of an existing built model: its layers' weights, Keras 3 paths and Keras 2 names."""
    plans = []

    def walk(layers, prefix, top):
        for layer, path in zip(layers, keras_paths(layers, prefix)):
            own_top = top or layer.name
            if _is_model(layer):
                walk(model_layers(layer), path + "/layers", own_top)
                continue
            weights = [(v.name, tuple(v.shape)) for v in layer.weights]
            if weights:
                plans.append(layer_plan(layer, own_top, path, weights))

    walk(model_layers(model), "layers", None)
    return set_offsets(plans)
