"""Functional models in Keras files: reading Keras 3's and Keras 2's graphs, planning them, Keras' layer order.

A functional config lists its layers, each with ``inbound_nodes``: one entry
per call of the layer. Keras 3 writes a call as ``{"args": [...], "kwargs":
{...}}`` whose tensors are ``{"class_name": "__keras_tensor__", "config":
{"keras_history": [layer, node, tensor]}}``; Keras 2 as a list of ``[layer,
node, tensor, kwargs]``, one per input tensor. ``input_layers`` and
``output_layers`` hold ``[layer, node, tensor]`` references (one, a list, or a
dict by name). Layers whose Keras call differs from ferronet's one input
structure (``MultiHeadAttention``'s ``query, value, key=...``, masks, call
flags) are translated by :mod:`ferronet.formats.calls`.

A reference's node index counts the calls of that layer listed in the
config, except for nested models: Keras 2 numbers a nested model's calls from
1 (its node 0 links its own inputs to its outputs), and Keras 3 does so in
``input_layers``/``output_layers`` only. Those offsets are applied, and every
reference is checked against the calls the config lists.

As for Sequential models (:mod:`ferronet.formats.plan`), a graph is planned
before anything is allocated: its shapes are walked call by call from its
InputLayers, each layer's weights are derived from its first call, and the
model is assembled (layers called on symbolic inputs) only after the file's
arrays are read. Keras 3 stores a functional model's weights under
``layers/<class>[_n]`` in the order of its ``layers``, which is the order
Keras' graph traversal gives (:func:`keras_layers`), not the order of calls.
"""

from __future__ import annotations

from ..errors import FileFormatError
from . import calls, plan

__all__ = ["UnbuiltGraph", "keras_layers", "MERGE_LAYERS", "MULTI_INPUT", "MASK_OP"]

MERGE_LAYERS = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot")
# Layers with weights called on a list of tensors.
MULTI_INPUT = ("MultiHeadAttention", "Attention", "AdditiveAttention")
# ferronet's class name for an operation entry that computes a mask (see ferronet.formats.calls).
MASK_OP = "__mask__"
# Assembling runs every layer once on a zero sample (batch 1, or the input's fixed batch size); a config whose
# tensors would need more scalars than this is forged or not meant for a CPU library.
_MAX_ACTIVATION = 1 << 28


class _Ref(tuple):
    """``(layer name, node index, tensor index)`` as written in the file."""


def _ref(value, where, label):
    if (isinstance(value, (list, tuple)) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])):
        return _Ref(value)
    raise FileFormatError(f"A tensor reference of {where} is malformed (expected [layer, node, tensor]). "
                          f"Received: {value!r:.200} in {label}")


def _call_structure(value, where, label):
    """The inputs of one Keras 3 call: a reference, or lists/dicts of them."""
    if isinstance(value, dict):
        kind = value.get("class_name")
        if kind == "__keras_tensor__":
            config = value.get("config")
            return _ref(config.get("keras_history") if isinstance(config, dict) else None, where, label)
        if kind == "__tuple__":
            inner = value.get("config")
            return _call_structure(inner.get("value") if isinstance(inner, dict) else None, where, label)
        if kind is None:
            return {str(k): _call_structure(v, where, label) for k, v in value.items()}
    elif isinstance(value, list):
        return [_call_structure(v, where, label) for v in value]
    raise FileFormatError(f"ferronet rebuilds layer calls on tensors only; {where} is called with a constant. "
                          f"Received: {value!r:.200} in {label}")


def _training(kwargs, where, label):
    """The call's ``training`` flag; other call arguments must be absent or None (``mask``)."""
    if not isinstance(kwargs, dict):
        raise FileFormatError(f"The call arguments of {where} are malformed. Received: {kwargs!r:.200} in {label}")
    for key, value in kwargs.items():
        if key != "training" and value is not None:
            raise FileFormatError(f"ferronet does not rebuild layer calls with argument {key!r} ({where}). "
                                  f"Received: {key}={value!r:.100} in {label}")
    training = kwargs.get("training")
    if training is not None and not isinstance(training, bool):
        raise FileFormatError(f"training must be True, False or None ({where}). Received: {training!r} in {label}")
    return training


def _calls(entry, where, label):
    """``[(inputs structure, call kwargs, mask references), ...]``: one per call of the layer, in the file's order."""
    nodes = entry.get("inbound_nodes") or []
    if not isinstance(nodes, list):
        raise FileFormatError(f"inbound_nodes of {where} should be a list. Received: {nodes!r:.200} in {label}")
    out = []
    for node in nodes:
        if isinstance(node, dict):  # Keras 3
            out.append(calls.from_keras3(entry.get("class_name"), node, _call_structure, where, label))
        elif isinstance(node, list) and node:  # Keras 2: one [layer, node, tensor, kwargs] per input
            refs, kwargs = [], {}
            for item in node:
                if isinstance(item, list) and len(item) == 4:
                    item, kwargs = item[:3], item[3]
                refs.append(_ref(item, where, label))
            training = _training(kwargs or {}, where, label)
            out.append((refs[0] if len(refs) == 1 else refs, {} if training is None else {"training": training}, []))
        else:
            raise FileFormatError(f"A call of {where} is malformed. Received: {node!r:.200} in {label}")
    return out


def _mask_source(entry, where, label):
    """``(operation, the reference it is applied to, its value)`` of an operation entry computing a mask:
    ``NotEqual(x, value)`` (an Embedding's ``x != 0``, or a Masking layer's comparison), or ``Any(y, axis=-1)``
    of such a comparison (a Masking layer's mask)."""
    nodes = entry.get("inbound_nodes")
    args = nodes[0].get("args") if isinstance(nodes, list) and len(nodes) == 1 and isinstance(nodes[0], dict) else None
    op = (entry.get("config") or {}).get("op", "NotEqual")
    if op == "Any":
        config = entry["config"]
        if not isinstance(args, list) or len(args) != 1 or config.get("axis") != -1 or config.get("keepdims"):
            raise FileFormatError(f"ferronet reads {where} only as the mask of a Masking layer, "
                                  f"Any(NotEqual(inputs, mask_value), axis=-1). Received: {nodes!r:.200} in {label}")
        return op, _call_structure(args[0], where, label), None
    if not isinstance(args, list) or len(args) != 2 or isinstance(args[1], bool) or \
            not isinstance(args[1], (int, float)):
        raise FileFormatError(f"ferronet reads {where} only as the mask of an Embedding(mask_zero=True), "
                              f"NotEqual(inputs, 0), or within a Masking layer's. Received: {nodes!r:.200} in {label}")
    return op, _call_structure(args[0], where, label), float(args[1])


def _flat(structure):
    if isinstance(structure, _Ref):
        return [structure]
    if isinstance(structure, dict):
        return [r for k in sorted(structure) for r in _flat(structure[k])]
    return [r for v in structure for r in _flat(v)]


def _map(structure, fn):
    if isinstance(structure, _Ref):
        return fn(structure)
    if isinstance(structure, dict):
        return {k: _map(v, fn) for k, v in structure.items()}
    return [_map(v, fn) for v in structure]


def _io_structure(value, where, label):
    """``input_layers``/``output_layers``: one reference, a list of them (one element: unwrapped), or a dict."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return _ref(value, where, label)
    if isinstance(value, dict):
        return {str(k): _io_structure(v, where, label) for k, v in value.items()}
    if isinstance(value, list) and value:
        items = [_io_structure(v, where, label) for v in value]
        return items[0] if len(items) == 1 else items
    raise FileFormatError(f"The model's {where} is malformed. Received: {value!r:.200} in {label}")


def _merge_shape(layer, shapes, label):
    """Output shape of a merge layer for input ``shapes``, after the layer's own checks."""
    try:
        layer.build([tuple(s) for s in shapes])  # checks the count and shapes; merges have no weights
    except (ValueError, TypeError) as e:
        raise FileFormatError(f"The model config does not fit together at layer {layer.name!r} ({e}). "
                              f"Received: {label}") from None
    kind = type(layer).__name__
    if kind == "Concatenate":
        axis = layer.axis % len(shapes[0])
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return tuple(out)
    if kind == "Dot":
        a, b = layer._axes(shapes)
        if len(shapes[0]) == 2 and len(shapes[1]) == 2:
            return (None, 1)
        return tuple(d for i, d in enumerate(shapes[0]) if i != a) + tuple(
            d for i, d in enumerate(shapes[1]) if i not in (0, b))
    return tuple(shapes[0])


class UnbuiltGraph:
    """A functional model of a file: layers created (nothing allocated), shapes walked, weights planned.

    Attributes:
        name: the model's name.
        plans: :class:`~ferronet.formats.plan.Planned` entries with paths relative to the model
            (``layers/dense``) and each top-level layer as its own top.
        input_shape_struct: input shape (or list of shapes) the model takes.

    Example:
        >>> from ferronet.formats import graph, keras_config
        >>> inputs = ferronet.Input((4,))
        >>> outputs = ferronet.layers.Dense(2)(ferronet.layers.Dense(8, activation="relu")(inputs))
        >>> keras = keras_config.to_keras(ferronet.Model(inputs, outputs))  # stands for a file's config.json
        >>> unbuilt = graph.UnbuiltGraph(keras_config.from_keras(keras, "net.keras"), "net.keras", None)
        >>> unbuilt.input_shape_struct, [(p.keras_path, p.weights[0]) for p in unbuilt.plans]
        ((None, 4), [('layers/dense', ('kernel', (4, 8))), ('layers/dense_1', ('kernel', (8, 2)))])
        >>> unbuilt.assemble().output_shape  # only now are weights allocated
        (None, 2)
    """

    keras_class = "Functional"

    def __init__(self, entry, label, custom_objects):
        config = entry["config"]
        self.name, self.trainable, self.label = config.get("name"), config.get("trainable", True), label
        entries = config["layers"]
        names = [e.get("name") for e in entries]
        if any(not isinstance(n, str) for n in names) or len(set(names)) != len(names):
            raise FileFormatError(f"The layers of functional model {self.name!r} need unique names. Received: "
                                  f"{names!r:.300} in {label}")
        # Operations computing masks are not layers (Keras saves no group for them): kept aside, checked below.
        self._mask_ops = {e["name"]: _mask_source(e, f"operation {e['name']!r}", label)
                          for e in entries if e.get("class_name") == MASK_OP}
        entries = [e for e in entries if e.get("class_name") != MASK_OP]
        self.names = [e.get("name") for e in entries]
        self.objects = dict(zip(self.names, (plan._objects(e, label, custom_objects) for e in entries)))
        self.calls = {n: _calls(e, f"layer {n!r}", label) for n, e in zip(self.names, entries)}
        self._check_masks()
        keras3 = any(isinstance(node, dict) for e in entries for node in (e.get("inbound_nodes") or []))
        self._offsets = {n: self._offset(o, keras3) for n, o in self.objects.items()}
        self._inputs = _io_structure(config.get("input_layers"), "input_layers", label)
        self._outputs = _io_structure(config.get("output_layers"), "output_layers", label)
        paths = dict(zip(self.names, plan.paths_for([plan._class_name(o) for o in self.objects.values()])))
        self._walk(paths)
        self.input_shape_struct = _map(self._inputs, lambda r: self._shapes[self._resolve(r, io=True)])
        self.output_shape_struct = _map(self._outputs, lambda r: self._shapes[self._resolve(r, io=True)])
        self.plans = []
        for name in self.names:
            self.plans += self._plans.get(name, [])

    def _check_masks(self):
        """Masks given to calls must be the ones ferronet propagates: ``NotEqual(x, 0)`` of an Embedding's input,
        or ``Any(NotEqual(x, mask_value), axis=-1)`` of a Masking layer's."""
        def inputs_of(kind):
            """``(layer, the reference it is called on)`` of each call of a ``kind`` layer."""
            return [(o, call[0]) for n, o in self.objects.items() if type(o).__name__ == kind
                    for call in self.calls[n] if isinstance(call[0], _Ref)]

        embedded = {(ref, 0.0) for o, ref in inputs_of("Embedding") if o.mask_zero}
        masked = {(ref, float(o.mask_value)) for o, ref in inputs_of("Masking")}

        def rebuilt(ref):
            op = self._mask_ops.get(ref[0])
            if op is None or ref[1:] != (0, 0):
                return False
            if op[0] == "NotEqual":
                return (op[1], op[2]) in embedded
            inner = self._mask_ops.get(op[1][0]) if isinstance(op[1], _Ref) and op[1][1:] == (0, 0) else None
            return inner is not None and inner[0] == "NotEqual" and (inner[1], inner[2]) in masked

        for name, node_calls in self.calls.items():
            for _, _, masks in node_calls:
                for ref in _flat(masks):
                    if not rebuilt(ref):
                        raise FileFormatError(
                            f"Layer {name!r} is called with a mask ferronet cannot rebuild (it propagates the masks "
                            f"of Embedding(mask_zero=True) and Masking layers itself). Received: mask={list(ref)} in "
                            f"{self.label}")

    @staticmethod
    def _offset(obj, keras3):
        """``(offset in layer calls, offset in input/output_layers)`` of references to ``obj``'s calls."""
        if isinstance(obj, UnbuiltGraph):
            return (0, 1) if keras3 else (1, 1)
        if isinstance(obj, plan._Unbuilt) and not keras3:
            first = obj.layers[0] if obj.layers else None
            skip = int(type(first).__name__ == "InputLayer")
            return skip, skip
        return 0, 0

    def _resolve(self, ref, io=False):
        name, node, k = ref
        obj = self.objects.get(name)
        if obj is None:
            raise FileFormatError(f"Functional model {self.name!r} refers to a layer it does not list. Received: "
                                  f"{list(ref)} in {self.label}")
        if type(obj).__name__ == "InputLayer":
            if (node, k) != (0, 0):
                raise FileFormatError(f"Input {name!r} has one output. Received: {list(ref)} in {self.label}")
            return name, 0, 0
        node -= self._offsets[name][1 if io else 0]
        if not 0 <= node < len(self.calls[name]):
            raise FileFormatError(f"Functional model {self.name!r} refers to call {ref[1]} of layer {name!r}, "
                                  f"which has {len(self.calls[name])}. Received: {list(ref)} in {self.label}")
        return name, node, k

    # ------------------------------------------------------------ shapes
    def _walk(self, paths):
        """Shapes of every call's outputs, in an order where each call's inputs exist; weights from first calls."""
        self._shapes, self._plans, self.order = {}, {}, []
        for name, obj in self.objects.items():
            if type(obj).__name__ == "InputLayer":
                self._shapes[(name, 0, 0)] = self._bounded((obj.batch_size,) + tuple(obj.shape), name)
        pending = {n: 0 for n in self.names if self.calls[n]}
        while pending:
            progressed = False
            for name in self.names:
                while name in pending:
                    index = pending[name]
                    structure = self.calls[name][index][0]
                    keys = [self._resolve(r) for r in _flat(structure)]
                    if any(key not in self._shapes for key in keys):
                        break
                    shapes = _map(structure, lambda r: self._shapes[self._resolve(r)])
                    outs = self._call_shapes(name, paths[name], shapes, index)
                    for k, shape in enumerate(outs):
                        self._shapes[(name, index, k)] = self._bounded(shape, name)
                    self.order.append((name, index))
                    progressed = True
                    pending[name] += 1
                    if pending[name] == len(self.calls[name]):
                        del pending[name]
            if not progressed:
                raise FileFormatError(f"Functional model {self.name!r} has layer calls whose inputs never exist "
                                      f"(a cycle or a disconnected graph): {sorted(pending)}. Received: {self.label}")

    def _bounded(self, shape, name):
        """``shape`` (batch dimension None), after checking one call of the graph can hold it."""
        size = 1
        for d in shape:
            size *= 1 if d is None else d
        if size > _MAX_ACTIVATION:
            raise FileFormatError(f"The output of {name!r} would hold {size} numbers per call (shape {shape}), more "
                                  f"than ferronet builds a graph with ({_MAX_ACTIVATION}). Received: {self.label}")
        return (None,) + tuple(shape[1:])

    def _call_shapes(self, name, path, shapes, index):
        """Output shapes (a list) of one call of layer ``name`` on inputs of ``shapes``; plans its first call."""
        obj = self.objects[name]
        flat = shapes if isinstance(shapes, tuple) else _flat_shapes(shapes)
        if isinstance(obj, UnbuiltGraph):
            outs = obj.output_shape_for(shapes)
            specs = [p.moved(path, name) for p in obj.plans]
        elif isinstance(obj, plan._Unbuilt):
            single = self._single(name, shapes)
            specs = []
            outs = [plan._walk(obj.layers, single, path + "/layers", name, specs, self.label)]
            obj.first_shape = single if index == 0 else obj.first_shape
        elif type(obj).__name__ in MERGE_LAYERS:
            if isinstance(shapes, tuple):
                raise FileFormatError(f"Merge layer {name!r} is called on one tensor; it takes a list. "
                                      f"Received: {self.label}")
            outs, specs = [_merge_shape(obj, flat, self.label)], []
        else:
            kind, several = type(obj).__name__, isinstance(shapes, list)
            if several and kind in calls.STATEFUL_CALLS:  # [sequence, *initial states]: shaped by the sequence
                arg = flat[0]
            else:
                arg = list(flat) if several and kind in MULTI_INPUT else self._single(name, shapes)
            weights, out = plan.plan_layer(obj, arg, self.label)
            outs = out if isinstance(out, list) else [out]
            if self.calls[name][index][1].get("return_attention_scores"):
                outs.append(_scores_shape(obj, flat))
            specs = [plan.layer_plan(obj, name, path, weights)] if weights else []
        if index == 0:
            self._plans[name] = specs
        elif [(p.groups, p.weights) for p in specs] != [(p.groups, p.weights) for p in self._plans[name]]:
            raise FileFormatError(f"Shared layer {name!r} is called on inputs of another shape than at its first "
                                  f"call. Received: {shapes} in {self.label}")
        return [tuple(o) for o in outs]

    def _single(self, name, shapes):
        if not isinstance(shapes, tuple):
            raise FileFormatError(f"Layer {name!r} takes one tensor. Received: inputs of shapes {shapes} in "
                                  f"{self.label}")
        return shapes

    def output_shape_for(self, shapes):
        """Output shapes (a list, flattened) when this model is called on inputs of ``shapes``."""
        given, want = _flat_shapes(shapes), _flat_shapes(self.input_shape_struct)
        if len(given) != len(want) or any(
                len(g) != len(w) or any(a is not None and b is not None and a != b for a, b in zip(g[1:], w[1:]))
                for g, w in zip(given, want)):
            raise FileFormatError(f"Model {self.name!r} takes inputs of shapes {want}. Received: {given} in "
                                  f"{self.label}")
        out = self.output_shape_struct
        return [out] if isinstance(out, tuple) else _flat_shapes(out)

    # ---------------------------------------------------------- assembly
    def assemble(self):
        """The ferronet Functional model (allocates the weights by calling each layer on symbolic inputs)."""
        from ..models.functional import flatten
        from ..models.functional_model import Functional

        layers, tensors = {}, {}
        for name, obj in self.objects.items():
            if type(obj).__name__ == "InputLayer":
                tensors[(name, 0, 0)] = obj.output
            elif isinstance(obj, plan._Unbuilt):
                layers[name] = plan.assemble(obj, getattr(obj, "first_shape", None))
            elif isinstance(obj, UnbuiltGraph):
                layers[name] = obj.assemble()
            else:
                layers[name] = obj
        for name, index in self.order:
            structure, kwargs = self.calls[name][index][:2]
            args = _map(structure, lambda r: tensors[self._resolve(r)])
            out = layers[name](args, **kwargs)
            for k, t in enumerate(flatten(out)):
                tensors[(name, index, k)] = t
        inputs = _map(self._inputs, lambda r: tensors[self._resolve(r, io=True)])
        outputs = _map(self._outputs, lambda r: tensors[self._resolve(r, io=True)])
        return Functional(inputs, outputs, name=self.name, trainable=self.trainable)


def _scores_shape(layer, shapes):
    """Shape of the attention scores an attention layer also returns (``return_attention_scores=True``)."""
    query, key = shapes[0], shapes[2] if len(shapes) > 2 else shapes[1]
    if type(layer).__name__ == "MultiHeadAttention":
        return (None, layer.num_heads) + tuple(query[1:-1]) + tuple(key[1:-1])
    return (None, query[1], key[1])


def _flat_shapes(structure):
    if isinstance(structure, tuple):
        return [structure]
    if isinstance(structure, dict):
        return [s for k in sorted(structure) for s in _flat_shapes(structure[k])]
    return [s for v in structure for s in _flat_shapes(v)]


# ------------------------------------------------------------ Keras' layer order
def keras_layers(model) -> list:
    """The layers of a ferronet functional model in the order Keras gives the same graph.

    Keras walks the graph depth first from the outputs, numbering layers as it
    meets them, gives each call a depth (its distance from the outputs, the
    largest over all paths) and each layer the largest depth of its calls, then
    lists layers by decreasing depth and, within a depth, by that number.
    Inputs that no output uses come at depth 0.

    Example:
        >>> from ferronet.formats import graph
        >>> inputs = ferronet.Input((4,), name="features")
        >>> deep = ferronet.layers.Dense(8, name="deep")(inputs)
        >>> wide = ferronet.layers.Dense(8, name="wide")(inputs)
        >>> net = ferronet.Model(inputs, ferronet.layers.Add(name="sum")([deep, wide]))
        >>> [layer.name for layer in graph.keras_layers(net)]
        ['features', 'deep', 'wide', 'sum']
    """
    from ..layers.input_layer import InputLayer

    input_ids = {id(t) for t in model.inputs}
    finished, order, index = set(), [], {}

    def node_of(t):
        layer, i, _ = t._keras_history
        return layer, layer._inbound_nodes[i]

    def visit(t):
        layer, node = node_of(t)
        if id(node) in finished:
            return
        index.setdefault(id(layer), len(index))
        if not isinstance(layer, InputLayer) and id(t) not in input_ids:
            for parent in node.flat_inputs:
                visit(parent)
        finished.add(id(node))
        order.append(node)

    for t in model.outputs:
        visit(t)
    in_graph = {id(n) for n in order}
    node_depth, layer_depth, layers = {}, {}, {}
    for node in reversed(order):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        layers[id(node.layer)] = node.layer
        node_depth[id(node)] = depth
        if isinstance(node.layer, InputLayer):
            continue
        for parent in node.flat_inputs:
            _, parent_node = node_of(parent)
            if id(parent_node) in in_graph:
                node_depth[id(parent_node)] = max(depth + 1, node_depth.get(id(parent_node), 0))
    for t in model.inputs:
        layer = t._keras_history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)], index[id(layer)], layers[id(layer)] = 0, -1, layer
    return sorted(layers.values(), key=lambda layer: (-layer_depth[id(layer)], index[id(layer)]))


# ------------------------------------------------------------ writing Keras 3's config
def to_keras(model, layer_entry) -> dict:
    """Keras 3's config of a ferronet functional model: layers in Keras' order, calls in Keras 3's form.

    Args:
        model: a ferronet ``Functional``.
        layer_entry: function giving a layer's Keras 3 entry (``{"module", "class_name", "config", ...}``).
    """
    from ..models.functional import KerasTensor

    layers = keras_layers(model)
    own = {id(n) for n in model._nodes}
    own_calls = {id(layer): [n for n in getattr(layer, "_inbound_nodes", []) if id(n) in own] for layer in layers}
    position = {id(n): i for nodes in own_calls.values() for i, n in enumerate(nodes)}

    def history(t, io=False):
        layer, i, k = t._keras_history
        node = layer._inbound_nodes[i]
        index = position.get(id(node), 0) + int(io and type(layer).__name__ == "Functional")
        return [layer.name, index, k]

    def structure(s):
        if isinstance(s, KerasTensor):
            return {"class_name": "__keras_tensor__",
                    "config": {"shape": list(s.shape), "dtype": s.dtype, "keras_history": history(s)}}
        if isinstance(s, dict):
            return {k: structure(v) for k, v in s.items()}
        return [structure(v) for v in s]

    def io(s):
        if isinstance(s, KerasTensor):
            return history(s, io=True)
        if isinstance(s, dict):
            return {k: io(v) for k, v in s.items()}
        return [io(v) for v in s]

    entries = []
    for layer in layers:
        entry = layer_entry(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [calls.to_keras3(layer, n.inputs, n.kwargs, structure) for n in own_calls[id(layer)]]
        entries.append(entry)
    def io_list(s):  # one tensor as a list of one reference: Keras 3.0 reads only lists and dicts here
        return [io(s)] if isinstance(s, KerasTensor) else io(s)

    config = {"name": model.name, "trainable": model.trainable, "layers": entries,
              "input_layers": io_list(model._inputs_struct), "output_layers": io_list(model._outputs_struct)}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional", "build_config": {"input_shape": None}}
